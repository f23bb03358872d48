"""The gallery's pictures for 1,000 fragments against the bare commands that make them.

    python bench/gallery_pictures.py [--count 1000] [--rounds 4]

Limit (issue #13): pictures for 1,000 fragments made within 2x the time of the bare ffmpeg/Pillow
commands that make them. The fragments are a mix of video (2 s, 320x240 H.264), audio (2 s MP3) and
image (800x600 JPEG and PNG) media: a few files, each fragment under its own oid, so every picture is made
on its own. Peer, in the same run: the same ffmpeg commands and the same Pillow thumbnail call, run
bare (subprocess.run / a function call) by a pool of as many threads as the maker's concurrency. The
fragments are split into rounds; each round runs the peer and ours, alternating which goes first.
Ours is timed from the first want() to the last picture on disk (queueing, the bounded workers, the
temp file and rename, the no-picture bookkeeping included).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from media import make_audio, make_image, make_video

from hitrec.hub.gallery import pictures
from hitrec.media.ffmpeg import ffmpeg_exe

LIMIT = 2.0


def sources(folder: Path) -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for i, source in enumerate(("testsrc2", "smptebars", "rgbtestsrc")):
        found.append(("video", make_video(folder / f"v{i}.mp4", seconds=2, size="320x240", source=source)))
    for i, freq in enumerate((220, 440, 660)):
        found.append(("audio", make_audio(folder / f"a{i}.mp3", seconds=2, freq=freq)))
    for i, color in enumerate(("red", "green")):
        found.append(("image", make_image(folder / f"i{i}.jpg", size="800x600", color=color)))
    found.append(("image", make_image(folder / "i2.png", size="800x600", color="blue")))
    return found


def bare(kind: str, path: Path) -> None:
    """What the maker runs for one picture, without the maker."""
    if kind == "image":
        pictures.thumbnail(path)
        return
    args = pictures.waveform_args(path) if kind == "audio" else pictures.poster_args(path, pictures.POSTER_AT)
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *args],
                          capture_output=True, check=True)
    assert done.stdout[:4] == b"RIFF"


def opener(path: Path) -> Callable[[], contextlib.AbstractContextManager[Path]]:
    @contextlib.contextmanager
    def open_media() -> Iterator[Path]:
        yield path

    return open_media


def run_bare(jobs: list[tuple[str, str, Path]], concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda job: bare(job[1], job[2]), jobs))
    return time.perf_counter() - start


def run_ours(jobs: list[tuple[str, str, Path]], cache: Path, concurrency: int) -> float:
    start = time.perf_counter()
    maker = pictures.PictureMaker(cache, concurrency=concurrency)
    for oid, kind, path in jobs:
        maker.want(oid, kind, opener(path))
    assert maker.wait_idle(3600)
    took = time.perf_counter() - start
    assert maker.stats.made == len(jobs) and maker.stats.failed == 0, maker.stats
    maker.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hitrec-bench-pictures-"))
    try:
        files = sources(base / "media")
        jobs = [(hashlib.sha256(f"fragment {i}".encode()).hexdigest(), *files[i % len(files)])
                for i in range(args.count)]
        ffmpeg_exe()
        bare(*files[0])  # warm: the ffmpeg binary and Pillow's modules in the page cache
        size = -(-len(jobs) // args.rounds)
        ours_s, bare_s = 0.0, 0.0
        for r in range(args.rounds):
            chunk = jobs[r * size:(r + 1) * size]
            order = ("bare", "ours") if r % 2 == 0 else ("ours", "bare")
            for side in order:
                if side == "bare":
                    bare_s += run_bare(chunk, args.concurrency)
                else:
                    ours_s += run_ours(chunk, base / "cache", args.concurrency)
        made = list((base / "cache").glob(f"*{pictures.SUFFIX}"))
        assert len(made) == args.count
        kinds = {kind: sum(1 for _, k, _ in jobs if k == kind) for kind in pictures.KINDS}
        ratio = ours_s / bare_s
        print(f"pictures for {args.count} fragments ({kinds['video']} video, {kinds['audio']} audio, "
              f"{kinds['image']} image), concurrency {args.concurrency}, {args.rounds} alternating rounds; "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"  bare ffmpeg/Pillow commands: {bare_s:6.2f} s ({bare_s / args.count * 1000:.1f} ms each)")
        print(f"  PictureMaker:                {ours_s:6.2f} s ({ours_s / args.count * 1000:.1f} ms each)")
        print(f"  ratio {ratio:.2f}x the bare commands (limit {LIMIT:.1f}x): {'OK' if ratio <= LIMIT else 'OVER'}")
        sizes = sorted(p.stat().st_size for p in made)
        print(f"  picture sizes: median {sizes[len(sizes) // 2]} B, largest {sizes[-1]} B")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
