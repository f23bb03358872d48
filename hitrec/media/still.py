"""Images, still and animated, probed by decoding them with the renderer's own ffmpeg.

What a render can use is what that ffmpeg decodes, so it is asked directly: one ``ffmpeg -i <file>
-vf showinfo -f null -`` run (about 20 ms for a photo) gives the codec, every frame's size after the
display rotation (EXIF orientation, HEIF ``irot``) and its time. The file is read through a name
without a suffix, as the renderer reads it from the media store, so a format ffmpeg only recognises by
its suffix is caught here rather than at render time (TGA and PAM get a demuxer hint instead, see
:func:`hitrec.media.formats.input_options`).

A picture of one frame is kind ``image``; more than one frame (GIF, APNG, animated WebP, animated
JPEG XL) is kind ``video`` with its duration, average frame rate and ``frames``, so it is placed and
rendered like a clip. Nothing here imports Pillow: no Pillow warnings, no libtiff lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from hitrec.errors import MediaError
from hitrec.media.facts import Probe
from hitrec.media.formats import ImageFormat, input_options

MAX_FRAMES = 100_000  # an animation longer than this is measured to here
TIMEOUT = 120.0
_STREAM = re.compile(r"Stream #0:\d+\S*: Video: (\w+)")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_FRAME = re.compile(r"n: *(\d+) pts: *\S+ pts_time:(\S+) +duration: *\S+ duration_time:(\S+) .* s:(\d+)x(\d+)")
_LEVEL = re.compile(r"\[(?:error|fatal|panic)\] (.*)")
_CODEC_NAMES = {"mjpeg": "jpeg"}  # what hitrec has always recorded for JPEG
_IGNORED = ("deprecated pixel format", "No accelerated colorspace")


def probe_picture(path: Path, fmt: ImageFormat) -> Probe:
    """Probe an image file of format ``fmt`` (as :func:`hitrec.media.formats.sniff_image` named it)."""
    found = _decode(path, fmt)
    codec, rotation, frames, errors = found
    if not frames:
        reason = errors[0] if errors else "no picture could be decoded"
        raise MediaError(path, f"corrupt, truncated or unsupported {fmt.name} image: the renderer's ffmpeg "
                               f"cannot decode it ({reason}). Export it again as PNG or JPEG.")
    if errors:
        raise MediaError(path, f"corrupt or truncated {fmt.name} image: the renderer's ffmpeg reports "
                               f"'{errors[0]}'. Export it again as PNG or JPEG.")
    width, height = frames[0][2], frames[0][3]
    if width <= 0 or height <= 0:
        raise MediaError(path, f"image has no pixels ({width}x{height})")
    codec = _CODEC_NAMES.get(codec, codec)
    turn = round(rotation) % 360 or None
    if len(frames) == 1:
        return Probe("image", fmt.mime, width=width, height=height, codec=codec, rotation=turn)
    start = frames[0][0]
    duration = frames[-1][0] + frames[-1][1] - start
    if duration <= 0:
        raise MediaError(path, f"an animated {fmt.name} whose {len(frames)} frames take no time: "
                               "export it again with frame delays")
    return Probe("video", fmt.mime, round(duration, 6), width=width, height=height,
                 fps=round(len(frames) / duration, 6), codec=codec, has_audio=False, rotation=turn,
                 frames=len(frames))


def _decode(path: Path, fmt: ImageFormat) -> tuple[str, float, list[tuple[float, float, int, int]], list[str]]:
    from hitrec.media.ffmpeg import ffmpeg_exe, run

    with tempfile.TemporaryDirectory(prefix="hitrec-probe-") as tmp:
        plain = Path(tmp) / "media"  # the store's file names have no suffix: read it the same way
        os.symlink(path.resolve(), plain)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "level+info",
               *input_options(fmt.mime), "-i", str(plain), "-map", "0:V:0?", "-an", "-sn", "-dn",
               "-frames:v", str(MAX_FRAMES), "-vf", "showinfo", "-f", "null", "-"]
        try:
            done = run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise MediaError(path, f"decoding this {fmt.name} image took over {TIMEOUT:g} s; "
                                   "export it smaller") from exc
        except OSError as exc:
            raise MediaError(path, f"cannot start the renderer's ffmpeg: {exc.strerror or exc}") from exc
    text = done.stderr.decode("utf-8", "replace")
    codec, rotation = "", 0.0
    frames: list[tuple[float, float, int, int]] = []
    errors: list[str] = []
    for line in text.splitlines():
        level = _LEVEL.search(line)
        if not codec and (m := _STREAM.search(line)):
            codec = m.group(1)
        elif not frames and (m := _ROTATION.search(line)):
            rotation = float(m.group(1))
        elif (m := _FRAME.search(line)) and "showinfo" in line:
            frames.append((_seconds(m.group(2)), _seconds(m.group(3)), int(m.group(4)), int(m.group(5))))
        elif level is not None:
            message = _message(level.group(1))
            if message and not any(skip in message for skip in _IGNORED):
                errors.append(message)
    if done.returncode != 0 and not errors:
        errors.append(f"ffmpeg exited with status {done.returncode}")
    return codec, rotation, frames, errors


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _message(rest: str) -> str:
    """An ffmpeg error message without the file name."""
    rest = rest.strip().rstrip(".")
    return re.sub(r"\S*/media\b:? ?", "", rest).strip() or rest
