"""Start-up paths: `hitrec --help`, and `hitrec log --json` over a repo of 10,000 fragments.

    python bench/startup.py [--fragments 10000] [--runs 7]

Prints the best-of-N wall time of each command as a subprocess, its ratio to the goal (--help under
0.25 s, log --json under 0.5 s), and `python -c pass` for scale (the interpreter's own start-up). Also
checks that neither path imports moviepy, numpy, pydub or av.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import make_wav

ENV = {**os.environ, "HITREC_AUTHOR_NAME": "Bench", "HITREC_AUTHOR_EMAIL": "bench@example.org"}
HEAVY = ("moviepy", "numpy", "pydub", "av")


def best(cmd: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def heavy_imports(args: list[str], cwd: Path) -> list[str]:
    code = ("import sys; from hitrec.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    return eval(out.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fragments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from hitrec.store import FragmentSpec, Repo

        repo = Repo.init(root / "repo")
        os.environ.update(HITREC_AUTHOR_NAME="Bench", HITREC_AUTHOR_EMAIL="bench@example.org")
        batch = 2000
        for start in range(0, args.fragments, batch):
            files = [make_wav(root / "media" / f"{i}.wav", seconds=0.01, freq=20 + i * 0.5, rate=8000,
                              channels=1) for i in range(start, min(start + batch, args.fragments))]
            repo.record([FragmentSpec(f) for f in files])
            for f in files:
                f.unlink()
        repo.close()
        python = best([sys.executable, "-c", "pass"], root, args.runs)
        help_time = best([sys.executable, "-m", "hitrec", "--help"], root, args.runs)
        log_time = best([sys.executable, "-m", "hitrec", "log", "--json"], root / "repo", args.runs)
        print(f"python -c pass:                          {python:.3f} s")
        print(f"hitrec --help:                           {help_time:.3f} s   ratio to goal 0.25 s: "
              f"{help_time / 0.25:.2f}")
        print(f"hitrec log --json ({args.fragments} fragments):    {log_time:.3f} s   ratio to goal 0.5 s: "
              f"{log_time / 0.5:.2f}")
        print(f"heavy modules imported by --help: {heavy_imports(['--help'], root) or 'none'}; "
              f"by log --json: {heavy_imports(['log', '--json'], root / 'repo') or 'none'}")


if __name__ == "__main__":
    main()
