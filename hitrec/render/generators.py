"""Generated backgrounds for the ffmpeg engine: a solid colour (``color``) or a gradient (``gradient``).

A generator clip has no fragment: its picture is an ffmpeg source filter (``color``, ``gradients`` with
speed 0 and every colour and point given, so nothing about it is random), sized to the output.
"""

from __future__ import annotations

from fractions import Fraction

from hitrec.timeline.model import Gradient


def generator_source(color: str | None, gradient: Gradient | None, size: tuple[int, int], fps: Fraction) -> str:
    """The source filter that draws the background (endless; the caller trims it)."""
    w, h = size
    if gradient is None:
        return f"color=c=0x{(color or '#000000').lstrip('#')}:s={w}x{h}:r={fps}"
    colors = ":".join(f"c{i}=0x{c.lstrip('#')}" for i, c in enumerate(gradient.colors))
    if gradient.type == "radial":
        points = (w // 2, h // 2, 0, 0)  # the first colour at the centre, the last at the corners
    else:
        points = {"down": (w // 2, 0, w // 2, h - 1), "up": (w // 2, h - 1, w // 2, 0),
                  "right": (0, h // 2, w - 1, h // 2), "left": (w - 1, h // 2, 0, h // 2)}[gradient.direction]
    x0, y0, x1, y1 = points
    return (f"gradients=s={w}x{h}:r={fps}:{colors}:n={len(gradient.colors)}:x0={x0}:y0={y0}:x1={x1}:y1={y1}"
            f":speed=0:seed=0:type={gradient.type},format=rgb24")
