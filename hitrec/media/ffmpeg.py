"""The ffmpeg binary hitrec uses: the static build imageio-ffmpeg ships (it has no ffprobe)."""

from __future__ import annotations

import functools
import os
import shutil

from hitrec.errors import RenderError


@functools.cache
def ffmpeg_exe() -> str:
    """Path of ffmpeg: $HITREC_FFMPEG, else imageio-ffmpeg's bundled binary, else one on PATH."""
    override = os.environ.get("HITREC_FFMPEG")
    if override:
        return override
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg raises RuntimeError when its binary is missing
        found = shutil.which("ffmpeg")
        if found:
            return found
        raise RenderError(
            "no ffmpeg found: reinstall hitrec (`pip install .`) so imageio-ffmpeg brings its binary"
        ) from exc
