"""`hitrec render` of a 20 s 720p edit against a hand-written ffmpeg command and against moviepy.

    python bench/render_edit.py [--rounds 3] [--skip-moviepy]

The edit: three 1280x720 24 fps video clips cut with two 1 s cross-fades, a title with fades, and two
audio tracks (voice, music) with gain and fades, 20 s in all. Three ways to make it, same encoder
settings (libx264 medium crf 20, AAC 192k):

- hitrec: `hitrec render timeline.yaml -o out.mp4` in a real repo (a whole CLI process: Python start,
  timeline validation, one ffmpeg run);
- ffmpeg: the same edit as one ffmpeg command written by hand (what an expert would type);
- moviepy: `hitrec render --engine moviepy` (moviepy 2 composes the frames in Python, pydub mixes).

Limits: hitrec <= 1.2x the hand-written command; moviepy >= 4x hitrec. Wall time, median of --rounds.
"""

from __future__ import annotations

import argparse
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
from hitrec.render.ffmpeg_engine import find_font

ENV = {**os.environ, "HITREC_AUTHOR_NAME": "Bench", "HITREC_AUTHOR_EMAIL": "bench@example.org"}
TITLE = "Morgan M. Morgansen's Date With Destiny"
ENCODE = ["-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k"]


def make_media(folder: Path) -> dict[str, Path]:
    media = {}
    for name, source in (("c1", "testsrc2"), ("c2", "smptehdbars"), ("c3", "testsrc")):
        path = folder / f"{name}.mp4"
        ffmpeg("-f", "lavfi", "-i", f"{source}=size=1280x720:rate=24:duration=8", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
        media[name] = path
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=12:sample_rate=48000", "-ac", "2",
           str(folder / "voice.wav"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=660:duration=20:sample_rate=48000", "-ac", "2",
           str(folder / "music.wav"))
    media["voice"], media["music"] = folder / "voice.wav", folder / "music.wav"
    return media


def timeline(ids: dict[str, str]) -> str:
    return f"""hitrec: 1
title: Bench edit
output: {{size: [1280, 720], fps: 24, sample_rate: 48000, format: mp4}}
tracks:
  - kind: video
    name: picture
    clips:
      - {{fragment: {ids['c1']}, to: 7.5}}
      - {{fragment: {ids['c2']}, to: 7.5, transition: {{type: crossfade, duration: 1}}}}
      - {{fragment: {ids['c3']}, to: 7, transition: {{type: crossfade, duration: 1}}}}
  - kind: text
    clips:
      - {{text: "{TITLE}", at: 1, duration: 4, size: 56, fade_in: 0.5, fade_out: 0.5}}
  - kind: audio
    name: voice
    clips:
      - {{fragment: {ids['voice']}, at: 2, gain: -3, fade_in: 0.5, fade_out: 0.5}}
  - kind: audio
    name: music
    clips:
      - {{fragment: {ids['music']}, at: 0, duration: 20, gain: -12, fade_in: 1, fade_out: 2}}
"""


def hand_written(media: dict[str, Path], folder: Path, out: Path) -> list[str]:
    """The same edit as one ffmpeg command, the way a person would write it."""
    (folder / "title.txt").write_text(TITLE)
    font = find_font(None)
    graph = (
        "[0:v][1:v]xfade=transition=fade:duration=1:offset=6.5[x1];"
        "[x1][2:v]xfade=transition=fade:duration=1:offset=13,"
        f"drawtext=fontfile={font}:textfile={folder / 'title.txt'}:fontsize=56:fontcolor=white:"
        "x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,1,5)':"
        "alpha='min(1,min((t-1)/0.5,(5-t)/0.5))'[v];"
        "[3:a]volume=-3dB,afade=t=in:d=0.5,afade=t=out:st=11.5:d=0.5,adelay=2000:all=1[a1];"
        "[4:a]volume=-12dB,afade=t=in:d=1,afade=t=out:st=18:d=2[a2];"
        "[a1][a2]amix=inputs=2:normalize=0:duration=longest[a]"
    )
    return [ffmpeg_exe(), "-v", "error", "-y", "-t", "7.5", "-i", str(media["c1"]), "-t", "7.5",
            "-i", str(media["c2"]), "-t", "7", "-i", str(media["c3"]), "-i", str(media["voice"]),
            "-i", str(media["music"]), "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *ENCODE, str(out)]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-moviepy", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hitrec-bench-render-") as tmp:
        folder = Path(tmp)
        (folder / "media").mkdir()
        media = make_media(folder / "media")
        project = folder / "project"
        hitrec = [sys.executable, "-m", "hitrec"]
        subprocess.run([*hitrec, "init", str(project)], check=True, env=ENV, stdout=subprocess.DEVNULL)
        ids = {}
        for key, path in media.items():
            out = subprocess.run([*hitrec, "add", str(path), "--json"], cwd=project, env=ENV, check=True,
                                 capture_output=True, text=True).stdout
            import json

            ids[key] = json.loads(out)["added"][0]["id"]
        (project / "timeline.yaml").write_text(timeline(ids))
        ours, theirs, movie = [], [], []
        for _ in range(args.rounds):  # interleaved, so a noisy neighbour hits all three alike
            theirs.append(timed(hand_written(media, folder, folder / "hand.mp4"), project))
            # a full render each time: the segment cache (which would make every round after the first a
            # no-op re-render) is emptied first, untimed
            subprocess.run([*hitrec, "cache", "clear"], cwd=project, env=ENV, check=True, stdout=subprocess.DEVNULL)
            ours.append(timed([*hitrec, "render", "timeline.yaml", "-o", "out.mp4"], project))
            if not args.skip_moviepy:
                movie.append(timed([*hitrec, "render", "timeline.yaml", "-o", "moviepy.mp4", "--engine", "moviepy"],
                                   project))
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"20 s 720p edit: hitrec {o:.2f} s   hand-written ffmpeg {t:.2f} s   "
              f"ratio hitrec/ffmpeg {o / t:.2f} (limit 1.2)")
        if movie:
            m = statistics.median(movie)
            print(f"                moviepy {m:.2f} s   ratio moviepy/hitrec {m / o:.2f} (limit >= 4)   "
                  f"moviepy/ffmpeg {m / t:.2f}")


if __name__ == "__main__":
    main()
