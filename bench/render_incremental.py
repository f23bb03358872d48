"""Incremental re-renders, drafts and previews of `hitrec render`, against a hand-written ffmpeg command and MLT.

    python bench/render_incremental.py [--rounds 1] [--skip-peers]

The edit: a 5-minute 1280x720 24 fps timeline of 30 clips of 10 s (hard cuts, cut from six generated
sources) over one music track; the change: the middle clip (the 16th) starts 2 s later in its source.
Media is generated with the bundled ffmpeg (testsrc2 and friends, libx264 ultrafast with a key frame every
2 s, as camera footage has; a sine for the music). Measured, each as a whole process:

- full: `hitrec render` with an empty segment cache (`hitrec cache clear` first);
- ffmpeg: the same edit as one hand-written ffmpeg command (30 inputs trimmed with -ss/-t, concat, the same
  encoder settings: libx264 medium crf 20, AAC 192k); MLT's `melt` (Debian's) on the same edit, same
  settings (its command is in :func:`melt_command`);
- nothing changed: `hitrec render` again; changed: `hitrec render` of the changed timeline, then the same
  from an empty cache (a fresh render) — the two files must be byte-identical;
- draft: `hitrec render --draft` from an empty cache (`hitrec cache clear` first: neither its segments nor
  its sound come from an earlier render), then again with nothing changed (warm);
- preview: `hitrec preview` of the frame at 15 s of a 20 s 720p timeline (two of the clips), median of 5.

Limits: changed <= 0.25x full and byte-identical to fresh; nothing changed < 0.1x full; draft at least 5x
faster than full (cold); preview < 0.5 s; full <= 1.2x the hand-written command. melt is a peer (no limit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hitrec.media.ffmpeg import ffmpeg_exe

ENV = {**os.environ, "HITREC_AUTHOR_NAME": "Bench", "HITREC_AUTHOR_EMAIL": "bench@example.org"}
HITREC = [sys.executable, "-m", "hitrec"]
SOURCES = ("testsrc2", "smptehdbars", "testsrc", "rgbtestsrc", "yuvtestsrc", "pal100bars")  # one busy, five calm
CLIPS, CLIP_SECONDS, SOURCE_SECONDS, FPS = 30, 10, 24, 24
MIDDLE = 15
ENCODE = ["-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k"]


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def make_media(folder: Path) -> dict[str, Path]:
    media = {}
    for i, source in enumerate(SOURCES):
        path = folder / f"s{i}.mp4"
        ff("-f", "lavfi", "-i", f"{source}=size=1280x720:rate={FPS}:duration={SOURCE_SECONDS}", "-c:v", "libx264",
           "-preset", "ultrafast", "-g", str(2 * FPS), "-pix_fmt", "yuv420p", str(path))
        media[f"s{i}"] = path
    seconds = CLIPS * CLIP_SECONDS
    ff("-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}:sample_rate=48000", "-ac", "2",
       str(folder / "music.wav"))
    media["music"] = folder / "music.wav"
    return media


def cuts(changed: bool) -> list[tuple[int, int]]:
    """(source index, from) of each clip."""
    out = []
    for i in range(CLIPS):
        start = (i * 3) % (SOURCE_SECONDS - CLIP_SECONDS - 2)
        out.append((i % len(SOURCES), start + (2 if changed and i == MIDDLE else 0)))
    return out


def timeline(ids: dict[str, str], changed: bool) -> str:
    clips = "\n".join(f"      - {{fragment: {ids[f's{s}']}, from: {a}, to: {a + CLIP_SECONDS}}}"
                      for s, a in cuts(changed))
    return f"""hitrec: 1
output: {{size: [1280, 720], fps: {FPS}, sample_rate: 48000, format: mp4}}
tracks:
  - kind: video
    name: picture
    clips:
{clips}
  - kind: audio
    name: music
    clips:
      - {{fragment: {ids['music']}, at: 0}}
"""


def preview_timeline(ids: dict[str, str]) -> str:
    return f"""hitrec: 1
output: {{size: [1280, 720], fps: {FPS}, sample_rate: 48000, format: mp4}}
tracks:
  - kind: video
    clips:
      - {{fragment: {ids['s0']}, from: 0, to: 10}}
      - {{fragment: {ids['s1']}, from: 3, to: 13}}
"""


def hand_written(media: dict[str, Path], out: Path) -> list[str]:
    """The same edit as one ffmpeg command, as a person would write it."""
    args: list[str] = [ffmpeg_exe(), "-v", "error", "-y"]
    for s, a in cuts(False):
        args += ["-ss", str(a), "-t", str(CLIP_SECONDS), "-i", str(media[f"s{s}"])]
    args += ["-i", str(media["music"])]
    graph = "".join(f"[{i}:v]" for i in range(CLIPS)) + f"concat=n={CLIPS}:v=1:a=0[v]"
    return [*args, "-filter_complex", graph, "-map", "[v]", "-map", f"{CLIPS}:a", *ENCODE, str(out)]


def melt_command(media: dict[str, Path], out: Path) -> list[str]:
    """The same edit in MLT: the 30 cuts on one track (in/out in frames, out inclusive), the music on a
    second, mixed; the same encoder settings through its avformat consumer."""
    args = ["melt", "-silent", "-profile", "atsc_720p_24"]
    for s, a in cuts(False):
        args += [str(media[f"s{s}"]), f"in={a * FPS}", f"out={(a + CLIP_SECONDS) * FPS - 1}"]
    last = CLIPS * CLIP_SECONDS * FPS - 1
    args += ["-track", str(media["music"]), "in=0", f"out={last}",
             "-transition", "mix", "a_track=0", "b_track=1", "in=0", f"out={last}", "always_active=1",
             "-consumer", f"avformat:{out}", "vcodec=libx264", "preset=medium", "crf=20", "pix_fmt=yuv420p",
             "acodec=aac", "ab=192k", "frequency=48000", "channels=2", "real_time=-2", "threads=2"]
    return args


CPU: dict[int, float] = {}  # id of a result list -> CPU seconds (user + system of the process and its children)


def timed(cmd: list[str], cwd: Path, into: list[float]) -> float:
    """Run ``cmd``; append its wall time to ``into`` (and its CPU time to CPU[id(into)])."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[id(into)] = CPU.get(id(into), 0.0) + (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    into.append(wall)
    return wall


def cpu(runs: list[float]) -> float:
    """Mean CPU seconds per run: what a loaded machine does not change much."""
    return CPU.get(id(runs), 0.0) / max(1, len(runs))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--full-only", action="store_true", help="only the full render and the hand-written command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hitrec-bench-incremental-") as tmp:
        folder = Path(tmp)
        (folder / "media").mkdir()
        media = make_media(folder / "media")
        project = folder / "project"
        subprocess.run([*HITREC, "init", str(project)], check=True, env=ENV, stdout=subprocess.DEVNULL)
        out = subprocess.run([*HITREC, "add", *map(str, media.values()), "--json"], cwd=project, env=ENV,
                             check=True, capture_output=True, text=True).stdout
        added = {Path(a["media"]["filename"]).stem: a["id"] for a in json.loads(out)["added"]}
        ids = {key: added[Path(path).stem] for key, path in media.items()}
        (project / "a.yaml").write_text(timeline(ids, changed=False))
        (project / "b.yaml").write_text(timeline(ids, changed=True))
        (project / "p.yaml").write_text(preview_timeline(ids))
        full, hand, melt, same, changed, draft, warm, previews = [], [], [], [], [], [], [], []
        identical = True
        for _ in range(args.rounds):  # interleaved, so a noisy neighbour hits all alike
            subprocess.run([*HITREC, "cache", "clear"], cwd=project, env=ENV, check=True, stdout=subprocess.DEVNULL)
            timed([*HITREC, "render", "a.yaml", "-o", "full.mp4"], project, full)
            if not args.skip_peers:
                timed(hand_written(media, folder / "hand.mp4"), project, hand)
            if args.full_only:
                continue
            timed([*HITREC, "render", "a.yaml", "-o", "same.mp4"], project, same)
            identical &= sha(project / "same.mp4") == sha(project / "full.mp4")
            timed([*HITREC, "render", "b.yaml", "-o", "incremental.mp4"], project, changed)
            if not args.skip_peers:
                timed(melt_command(media, folder / "melt.mp4"), project, melt)
            subprocess.run([*HITREC, "cache", "clear"], cwd=project, env=ENV, check=True, stdout=subprocess.DEVNULL)
            timed([*HITREC, "render", "b.yaml", "-o", "fresh.mp4"], project, full)
            identical &= sha(project / "incremental.mp4") == sha(project / "fresh.mp4")
            subprocess.run([*HITREC, "cache", "clear"], cwd=project, env=ENV, check=True, stdout=subprocess.DEVNULL)
            timed([*HITREC, "render", "a.yaml", "--draft", "-o", "draft.mp4"], project, draft)
            timed([*HITREC, "render", "a.yaml", "--draft", "-o", "draft-warm.mp4"], project, warm)
            identical &= sha(project / "draft-warm.mp4") == sha(project / "draft.mp4")
            for _ in range(5):
                timed([*HITREC, "preview", "p.yaml", "--at", "15", "-o", "frame.png"], project, previews)
        f, fc = statistics.median(full), cpu(full)
        if args.full_only:
            h = statistics.median(hand)
            print(f"5 min 720p, 30 clips: full render {f:.1f} s wall, {fc:.1f} s CPU; hand-written ffmpeg {h:.1f} s "
                  f"wall, {cpu(hand):.1f} s CPU: hitrec/ffmpeg {f / h:.2f} wall, {fc / cpu(hand):.2f} CPU (limit 1.2)")
            return

        def line(name: str, runs: list[float], limit: str) -> None:
            w = statistics.median(runs)
            print(f"  {name:18} {w:7.2f} s wall, ratio {w / f:.3f}   {cpu(runs):7.2f} s CPU, ratio {cpu(runs) / fc:.3f}"
                  f"   {limit}")

        print(f"5 min 720p, 30 clips: full render {f:.1f} s wall (median of {len(full)}), {fc:.1f} s CPU")
        line("one clip changed", changed, f"(limit 0.25; each re-render byte-identical to a fresh one: {identical})")
        line("nothing changed", same, "(limit 0.1)")
        d = statistics.median(draft)
        print(f"  {'draft (cold)':18} {d:7.2f} s wall: {f / d:.1f}x faster   {cpu(draft):7.2f} s CPU: "
              f"{fc / cpu(draft):.1f}x less   (limit >= 5x, from an empty cache)")
        line("draft (warm)", warm, "(nothing changed since the cold draft; byte-identical to it)")
        print(f"  preview at 15 s of a 20 s 720p timeline: {statistics.median(previews):.3f} s wall (median), "
              f"{cpu(previews):.3f} s CPU (limit 0.5 s)")
        if hand:
            h = statistics.median(hand)
            print(f"  hand-written ffmpeg {h:.1f} s wall, {cpu(hand):.1f} s CPU   hitrec/ffmpeg {f / h:.2f} wall, "
                  f"{fc / cpu(hand):.2f} CPU (limit 1.2)")
        if melt:
            m = statistics.median(melt)
            print(f"  melt (MLT 7)       {m:.1f} s wall, {cpu(melt):.1f} s CPU   hitrec/melt {f / m:.2f} wall, "
                  f"{fc / cpu(melt):.2f} CPU (a peer, no limit)")

if __name__ == "__main__":
    main()
