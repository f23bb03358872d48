"""`hitrec render` mixing eight 60 s stereo tracks to WAV against one hand-written ffmpeg `amix` command.

    python bench/render_mix.py [--rounds 5] [--seconds 60]

Each track has its own gain and a fade in and out; all eight start at 0 and are summed (amix
normalize=0) to 16-bit WAV at 48 kHz. Limit: hitrec <= 1.2x the hand-written command. Two figures for
hitrec, wall time, median of --rounds:

- render(): the library call `hitrec.ops.render.render(repo, ...)` in this process (open the repo,
  validate and plan the timeline, run ffmpeg) — the rendering itself;
- CLI: `hitrec render mix.yaml -o mix.wav` as a new process, which adds Python and CLI start-up
  (a constant, about 0.3 s on the dev machine, independent of the media).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import ffmpeg

from hitrec.media.ffmpeg import ffmpeg_exe

ENV = {**os.environ, "HITREC_AUTHOR_NAME": "Bench", "HITREC_AUTHOR_EMAIL": "bench@example.org"}
TRACKS = 8


def gain(i: int) -> int:
    return -3 - 2 * i


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=60, help="length of each track")
    args = parser.parse_args()
    seconds = args.seconds
    with tempfile.TemporaryDirectory(prefix="hitrec-bench-mix-") as tmp:
        folder = Path(tmp)
        project = folder / "project"
        hitrec = [sys.executable, "-m", "hitrec"]
        subprocess.run([*hitrec, "init", str(project)], check=True, env=ENV, stdout=subprocess.DEVNULL)
        files = []
        for i in range(TRACKS):
            path = folder / f"track{i}.wav"
            ffmpeg("-f", "lavfi", "-i", f"sine=frequency={110 * (i + 1)}:duration={seconds}:sample_rate=48000",
                   "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:r=48000:a=0.05:seed={i}",
                   "-filter_complex", "[0][1]amerge=inputs=2", "-c:a", "pcm_s16le", str(path))
            files.append(path)
        out = subprocess.run([*hitrec, "add", *map(str, files), "--json"], cwd=project, env=ENV, check=True,
                             capture_output=True, text=True).stdout
        ids = [f["id"] for f in json.loads(out)["added"]]
        lines = ["hitrec: 1", "output: {sample_rate: 48000, format: wav}", "tracks:"]
        for i, fid in enumerate(ids):
            lines.append(f"  - {{kind: audio, name: t{i}, clips: [{{fragment: {fid}, gain: {gain(i)}, "
                         "fade_in: 2, fade_out: 3}]}")
        (project / "mix.yaml").write_text("\n".join(lines) + "\n")
        inputs = [a for f in files for a in ("-i", str(f))]
        chains = ";".join(f"[{i}:a]volume={gain(i)}dB,afade=t=in:d=2,afade=t=out:st={seconds - 3}:d=3[a{i}]"
                          for i in range(TRACKS))
        mix = "".join(f"[a{i}]" for i in range(TRACKS)) + f"amix=inputs={TRACKS}:normalize=0[a]"
        hand = [ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex", f"{chains};{mix}", "-map", "[a]",
                "-c:a", "pcm_s16le", str(folder / "hand.wav")]
        from hitrec.ops.render import render
        from hitrec.store import Repo

        repo = Repo(project)
        ours, cli, theirs = [], [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            subprocess.run(hand, check=True)
            theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            render(repo, project / "mix.yaml", project / "lib.wav")
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([*hitrec, "render", "mix.yaml", "-o", "mix.wav"], cwd=project, env=ENV, check=True,
                           stdout=subprocess.DEVNULL)
            cli.append(time.perf_counter() - start)
        o, c, t = statistics.median(ours), statistics.median(cli), statistics.median(theirs)
        print(f"8 x {seconds} s stereo mix to WAV: ffmpeg amix {t:.2f} s   hitrec render() {o:.2f} s   "
              f"ratio {o / t:.2f} (limit 1.2)   hitrec CLI {c:.2f} s   ratio {c / t:.2f}")


if __name__ == "__main__":
    main()
