"""Media the demo generates for itself with the bundled ffmpeg: no downloads, a few seconds of work."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hitrec.errors import RenderError
from hitrec.media.ffmpeg import ffmpeg_exe

CAPTIONS = """\
1
00:00:00,000 --> 00:00:01,800
Morgan, this is your date with destiny.
"""

STORY = """# Morgan M. Morgansen's Date With Destiny

Morgan had rehearsed the line forty times. On the forty-first, the cat walked across the piano.
"""


def _ffmpeg(*args: str) -> None:
    try:
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                       capture_output=True)
    except subprocess.CalledProcessError as exc:
        raise RenderError(f"ffmpeg could not generate demo media: {exc.stderr.decode(errors='replace')}") from exc


def generate(folder: Path) -> dict[str, Path]:
    """Write the demo's source media into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "voice": folder / "voice-line.wav",
        "chords": folder / "three-chords.wav",
        "shot": folder / "city-shot.mp4",
        "sky": folder / "sky-shot.mp4",
        "drawing": folder / "drawing.png",
        "story": folder / "story.md",
        "captions": folder / "captions.srt",
    }
    # a "voice": a gliding tone with a tremolo, 3 s
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=3:sample_rate=48000",
            "-af", "vibrato=f=5:d=0.4,tremolo=f=3:d=0.5,volume=0.8", "-ac", "1", str(files["voice"]))
    # "three chords": a chord of three sines, 4 s
    _ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.2*sin(2*PI*261.6*t)+0.2*sin(2*PI*329.6*t)+0.2*sin(2*PI*392*t)"
            ":s=48000:d=4", "-ac", "2", str(files["chords"]))
    for name, source in (("shot", "testsrc2"), ("sky", "smptebars")):
        _ffmpeg("-f", "lavfi", "-i", f"{source}=size=320x180:rate=24:duration=3",
                "-f", "lavfi", "-i", "anoisesrc=d=3:c=pink:a=0.05:r=48000",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                str(files[name]))
    _ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=1", "-frames:v", "1", str(files["drawing"]))
    files["story"].write_text(STORY, encoding="utf-8")
    files["captions"].write_text(CAPTIONS, encoding="utf-8")
    return files
