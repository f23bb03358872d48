"""Export and import of a 100-clip timeline through OpenTimelineIO, as whole processes.

    python bench/otio_io.py [--clips 100] [--runs 5]

A repo of 10 one-second sound fragments and 10 images, and a timeline of --clips clips over them (a
picture track with cross-fades, a sound track, a text track). Prints the best-of-N wall time of
`hitrec timeline export t.yaml -o cut.otio` and `hitrec timeline import cut.otio -o back.yaml` as
subprocesses (and the CPU time each used), their ratio to the goal (1 s each), and two peers run
alternately in the same loop: OTIO itself reading and writing the same file (`python -c` with
opentimelineio: the floor any OTIO tool pays) and `python -c pass` (the interpreter's start-up). The
machine is shared: ratios matter, not the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import make_image, make_wav

# as on a user's machine: Python caches bytecode (this machine's agents run with PYTHONDONTWRITEBYTECODE=1,
# which makes every process compile hitrec's sources again: +0.3 s)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV.update(HITREC_AUTHOR_NAME="Bench", HITREC_AUTHOR_EMAIL="bench@example.org")
GOAL = 1.0
PEER = ("import opentimelineio as otio; t = otio.adapters.read_from_file('cut.otio'); "
        "otio.adapters.write_to_file(t, 'peer.otio')")


def timed(cmd: list[str], cwd: Path, before: list[str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process: user + system)."""
    for path in before or []:
        (cwd / path).unlink(missing_ok=True)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime


def timeline(sounds: list[str], images: list[str], clips: int) -> dict:
    picture = []
    for i in range(clips // 2):
        clip: dict = {"fragment": images[i % len(images)], "duration": 1.5, "fit": "cover"}
        if i % 3 == 1:
            clip["transition"] = {"duration": 0.25}
        picture.append(clip)
    sound = [{"fragment": sounds[i % len(sounds)], "gain": -3} for i in range(clips - len(picture) - 2)]
    text = [{"text": f"Title {i}", "at": i * 5, "duration": 2} for i in range(2)]
    return {"hitrec": 1, "output": {"size": [320, 180], "fps": 24}, "tracks": [
        {"kind": "video", "name": "picture", "clips": picture},
        {"kind": "audio", "name": "sound", "clips": sound},
        {"kind": "text", "name": "titles", "clips": text}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hitrec.store import FragmentSpec, Repo

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        repo = Repo.init(root)
        os.environ.update(HITREC_AUTHOR_NAME="Bench", HITREC_AUTHOR_EMAIL="bench@example.org")
        files = [make_wav(Path(tmp) / "m" / f"s{i}.wav", seconds=1.0, freq=200 + 50 * i, rate=8000, channels=1)
                 for i in range(10)]
        files += [make_image(Path(tmp) / "m" / f"i{i}.png", color=c)
                  for i, c in enumerate(["red", "blue", "green", "white", "black", "gray", "yellow", "cyan",
                                         "magenta", "orange"])]
        fragments = repo.record([FragmentSpec(f) for f in files])
        repo.close()
        ids = [f.id[:12] for f in fragments]
        (root / "t.yaml").write_text(yaml.safe_dump(timeline(ids[:10], ids[10:], args.clips), sort_keys=False))
        hitrec = [sys.executable, "-m", "hitrec", "timeline"]
        export = [*hitrec, "export", "t.yaml", "-o", "cut.otio"]
        imp = [*hitrec, "import", "cut.otio", "-o", "back.yaml"]
        timed(export, root, ["cut.otio"])  # warm the page cache
        times: dict[str, list[tuple[float, float]]] = {"export": [], "import": [], "otio": [], "python": []}
        for _ in range(args.runs):  # alternate ours and the peers, so load hits all alike
            times["export"].append(timed(export, root, ["cut.otio"]))
            times["otio"].append(timed([sys.executable, "-c", PEER], root, ["peer.otio"]))
            times["import"].append(timed(imp, root))
            times["python"].append(timed([sys.executable, "-c", "pass"], root))
        best = {k: min(w for w, _ in v) for k, v in times.items()}
        cpu = {k: min(c for _, c in v) for k, v in times.items()}
        print(f"{args.clips}-clip timeline, best of {args.runs}, whole processes (wall; CPU = user + system):")
        for key, label in (("export", "hitrec timeline export -o cut.otio"),
                           ("import", "hitrec timeline import cut.otio")):
            print(f"  {label:<38} {best[key]:.3f} s (CPU {cpu[key]:.3f} s)   ratio to goal {GOAL:g} s: "
                  f"{best[key] / GOAL:.2f}   to OTIO's own read+write: {best[key] / best['otio']:.2f} "
                  f"(CPU {cpu[key] / cpu['otio']:.2f})")
        print(f"  {'peer: OTIO read + write (python -c)':<38} {best['otio']:.3f} s (CPU {cpu['otio']:.3f} s)")
        print(f"  {'python -c pass':<38} {best['python']:.3f} s (CPU {cpu['python']:.3f} s)")
        in_process(root, args.runs)


def in_process(root: Path, runs: int) -> None:
    """The operations alone (OTIO and hitrec already imported): CPU seconds, best of ``runs``."""
    import opentimelineio  # noqa: F401 - imported once, as a long-lived tool would

    from hitrec.ops.timeline_io import export, import_
    from hitrec.store import Repo

    repo = Repo.open(root / ".hitrec")
    try:
        spent: dict[str, list[float]] = {"export": [], "import": []}
        for _ in range(runs):
            (root / "ip.otio").unlink(missing_ok=True)
            start = time.process_time()
            export(repo, str(root / "t.yaml"), root / "ip.otio")
            spent["export"].append(time.process_time() - start)
            start = time.process_time()
            import_(repo, root / "ip.otio", root / "ip.yaml")
            spent["import"].append(time.process_time() - start)
    finally:
        repo.close()
    print(f"  in-process CPU: export {min(spent['export']) * 1000:.0f} ms, import {min(spent['import']) * 1000:.0f} ms")

if __name__ == "__main__":
    main()
