"""Motion for the ffmpeg engine: keyframed scale, position and opacity, picture in picture, contain-blur.

Every expression here is in clip-local time: ``t`` is 0 on the clip's first frame (its segment starts at
timestamp 0), so a clip renders the same wherever it sits on the piece. A moving clip is its fitted
frame (the output's size) scaled by ``scale(t)``, centred at ``position(t)`` (fractions of the frame) on
a canvas of the output's size, faded by ``opacity(t)``; values between keyframes are eased
(linear, in, out, in-out), held before the first and after the last.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from hitrec.timeline.model import Keyframe

Points = list[tuple[float, float, str]]  # (t, value, ease)


def _dec(value: float) -> str:
    text = f"{float(value):.9f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def eased(p: str, ease: str) -> str:
    """``p`` (0..1) through an easing."""
    if ease == "in":
        return f"({p})*({p})"
    if ease == "out":
        return f"({p})*(2-({p}))"
    if ease == "in-out":
        return f"({p})*({p})*(3-2*({p}))"
    return p


def ramp(points: Points, var: str = "t") -> str:
    """A piecewise expression of ``var`` through ``points``: held outside, eased between them."""
    if len(points) == 1:
        return _dec(points[0][1])
    expr = _dec(points[-1][1])
    for (t0, v0, _), (t1, v1, ease) in reversed(list(itertools.pairwise(points))):
        p = f"({var}-{_dec(t0)})/{_dec(t1 - t0)}"
        seg = f"{_dec(v0)}+{_dec(v1 - v0)}*{eased(p, ease)}" if v1 != v0 else _dec(v0)
        expr = f"if(lt({var}\\,{_dec(t1)})\\,{seg}\\,{expr})"
    return f"if(lt({var}\\,{_dec(points[0][0])})\\,{_dec(points[0][1])}\\,{expr})"


def points_of(keyframes: Sequence[Keyframe], get: Callable[[Keyframe], float | None]) -> Points:
    return [(k.t, v, k.ease) for k in keyframes if (v := get(k)) is not None]


def motion_filters(keyframes: Sequence[Keyframe], size: tuple[int, int], fps: str, frames: int, fmt: str,
                   label: Callable[[str], str]) -> str:
    """Filters (to splice into a chain after the clip is trimmed) that move the fitted frame."""
    w, h = size
    scale = points_of(keyframes, lambda k: k.scale)
    xs = points_of(keyframes, lambda k: k.position[0] if k.position else None)
    ys = points_of(keyframes, lambda k: k.position[1] if k.position else None)
    opacity = points_of(keyframes, lambda k: k.opacity)
    parts = ["format=yuva420p"]
    if opacity:  # before the scale: geq works on frames of one size
        a = ramp(opacity, "T")
        parts.append(f"geq=lum='lum(X\\,Y)':cb='cb(X\\,Y)':cr='cr(X\\,Y)':a='alpha(X\\,Y)*({a})'")
    if scale:  # frames of a changing size, which overlay places one by one
        s = ramp(scale)
        parts.append(f"scale=w='max(2\\,2*trunc({w}*({s})/2))':h='max(2\\,2*trunc({h}*({s})/2))':eval=frame"
                     ":flags=bicubic")
    x = f"{w}*({ramp(xs)})-w/2" if xs else "(W-w)/2"
    y = f"{h}*({ramp(ys)})-h/2" if ys else "(H-h)/2"
    moved, canvas = label("mv"), label("cv")
    background = "black" if fmt == "yuv420p" else "black@0"
    return (",".join(parts) + f"[{moved}];color=c={background}:s={w}x{h}:r={fps},format={fmt},"
            f"trim=end_frame={frames}[{canvas}];[{canvas}][{moved}]overlay=x='{x}':y='{y}':eval=frame"
            f":format=auto,format={fmt}")


def box(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The even-sized box a picture in picture is fitted into."""
    w, h = size
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


def contain_blur(box_size: tuple[int, int], fmt: str, label: Callable[[str], str]) -> str:
    """Fit into ``box_size`` keeping the aspect ratio, over the same picture covering the box, blurred."""
    bw, bh = box_size
    a, b, bg, fg = label("cba"), label("cbb"), label("cbbg"), label("cbfg")
    sigma = max(4, round(min(bw, bh) / 20))
    return (f"split=2[{a}][{b}];[{a}]scale={bw}:{bh}:force_original_aspect_ratio=increase:flags=bicubic,"
            f"crop={bw}:{bh},gblur=sigma={sigma},setsar=1[{bg}];"
            f"[{b}]scale={bw}:{bh}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bicubic,"
            f"setsar=1[{fg}];[{bg}][{fg}]overlay=x=(W-w)/2:y=(H-h)/2:format=auto,format={fmt}")


def gain_filter(keyframes: Sequence[Keyframe]) -> str:
    """A volume filter following keyframed ``gain`` (dB) in clip-local time (the chain starts at 0)."""
    g = ramp(points_of(keyframes, lambda k: k.gain))
    return f"asetpts=N/SR/TB,volume=volume='pow(10\\,({g})/20)':eval=frame"
