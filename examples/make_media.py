"""Generate the example's media (a few seconds of sound, two short shots, a drawing, a story page) with the
ffmpeg that hitrec bundles: nothing to download, nothing large checked in.

    python examples/make_media.py FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

from hitrec.demo_media import _ffmpeg, generate


def main(folder: Path) -> None:
    files = generate(folder)  # voice-line.wav, three-chords.wav, city-shot.mp4, sky-shot.mp4, drawing.png, story.md
    # a one-second drum-like pulse: short enough that the timelines loop it
    _ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.6*sin(2*PI*60*t)*exp(-12*mod(t\\,0.5)):s=48000:d=1", "-ac", "2",
            str(folder / "pulse.wav"))
    for path in [*files.values(), folder / "pulse.wav"]:
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("media"))
