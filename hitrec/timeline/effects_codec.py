"""Reading and writing the effects keys of a clip (docs/timeline.md, "Effects"), for :mod:`yaml_codec`.

Keyframes (``keyframes: [{t: 0, scale: 1}, {t: 4, scale: 1.2, position: [0.4, 0.5], ease: in-out}]``),
the Ken Burns shorthand (``zoom``, ``pan``, ``amount``), picture in picture (``scale``), freeze frames
(``freeze``), generated backgrounds (``color``, ``gradient``) and fade curves (``fade_curve``). What needs
the clip's placed length (a keyframe beyond the clip's end) is checked by the render plan.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hitrec.timeline.model import (
    CURVES,
    DIRECTIONS,
    EASES,
    GRADIENT_KEYS,
    GRADIENTS,
    KEYFRAME_KEYS,
    PANS,
    ZOOMS,
    Clip,
    Gradient,
    Keyframe,
)

if TYPE_CHECKING:
    from hitrec.timeline.yaml_codec import _MarkedDict, _Parser

PICTURE_KEYS = ("keyframes", "zoom", "pan", "amount", "scale", "freeze")
MOTION_PROPERTIES = ("scale", "position", "opacity")


def read_effects(p: _Parser, c: _MarkedDict, clip: Clip, kind: str, where: str) -> None:
    """Fill ``clip``'s effects fields from the clip mapping ``c`` on a ``kind`` track."""
    if kind == "audio":
        for key in (*PICTURE_KEYS, "color", "gradient"):
            if key in c and key != "keyframes":
                raise p.fail(f"{key!r} does not apply to sound (an audio track's clips play audio fragments)",
                             c.key_lines[key], _join(where, key))
    clip.fade_curve = p.string(c, "fade_curve", where, choices=CURVES)
    clip.zoom = p.string(c, "zoom", where, choices=ZOOMS)
    clip.pan = p.string(c, "pan", where, choices=PANS)
    clip.amount = p.number(c, "amount", where, positive=True, maximum=1.0)
    if clip.amount is not None and clip.zoom is None and clip.pan is None:
        raise p.fail("`amount` belongs to a Ken Burns move: give `zoom: in|out` or `pan: left|right|up|down`",
                     c.key_lines["amount"], _join(where, "amount"))
    scale = p.number(c, "scale", where, positive=True, maximum=1.0)
    if scale is not None and scale < 0.01:
        raise p.fail(f"must be at least 0.01, got {scale}", c.key_lines["scale"], _join(where, "scale"))
    clip.scale = scale
    clip.freeze = p.number(c, "freeze", where)
    if "keyframes" in c:
        clip.keyframes = keyframes(p, c["keyframes"], kind, _join(where, "keyframes"), c.key_lines["keyframes"])
        moving = [k for kf in clip.keyframes for k in kf.given if k in ("scale", "position")]
        if moving and (clip.zoom or clip.pan):
            key = "zoom" if clip.zoom else "pan"
            raise p.fail(f"`{key}` and keyframed {moving[0]} both move the picture; use one of them",
                         c.key_lines[key], _join(where, key))
    if "gradient" in c:
        clip.gradient = gradient(p, c["gradient"], _join(where, "gradient"), c.key_lines["gradient"])


def keyframes(p: _Parser, value: Any, kind: str, where: str, line: int) -> tuple[Keyframe, ...]:
    if not _is_list(value) or not value:
        raise p.fail("must be a non-empty list of keyframes, e.g. [{t: 0, scale: 1}, {t: 4, scale: 1.2}]", line,
                     where)
    allowed = ("t", "gain", "ease") if kind == "audio" else KEYFRAME_KEYS
    out: list[Keyframe] = []
    for i, raw in enumerate(value):
        at = f"{where}[{i}]"
        k = p.mapping(raw, at, value.item_lines[i], KEYFRAME_KEYS, "a keyframe")
        for key in k:
            if key not in allowed:
                raise p.fail(f"{key!r} does not apply to sound (keyframes on an audio track give `gain`)",
                             k.key_lines[key], _join(at, key))
        t = p.number(k, "t", at)
        if t is None:
            raise p.fail("a keyframe needs `t:` (seconds into the clip)", k.line, _join(at, "t"))
        if out and t <= out[-1].t:
            raise p.fail(f"keyframes out of order: t {t:g} is not after the previous keyframe's {out[-1].t:g}",
                         k.key_lines["t"], _join(at, "t"))
        scale = p.number(k, "scale", at, positive=True, maximum=10.0)
        opacity = p.number(k, "opacity", at, maximum=1.0)
        gain = p.number(k, "gain", at, minimum=-120, maximum=60)
        ease = p.string(k, "ease", at, choices=EASES) or "linear"
        position = None
        if "position" in k:
            pv = k["position"]
            if not (isinstance(pv, list) and len(pv) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and -10 <= v <= 10
                    for v in pv)):
                raise p.fail(f"must be [x, y]: the picture's centre in fractions of the frame ([0.5, 0.5] is the "
                             f"middle), got {pv!r}", k.key_lines["position"], _join(at, "position"))
            position = (pv[0], pv[1])
        if not any(key in k for key in ("scale", "position", "opacity", "gain")):
            raise p.fail("a keyframe gives at least one of scale, position, opacity or gain", k.line, at)
        out.append(Keyframe(t, k.line, at, tuple(str(key) for key in k), scale, position, opacity, gain, ease))
    return tuple(out)


def gradient(p: _Parser, value: Any, where: str, line: int) -> Gradient:
    g = p.mapping(value, where, line, GRADIENT_KEYS, "a gradient")
    kind = p.string(g, "type", where, choices=GRADIENTS) or "linear"
    direction = p.string(g, "direction", where, choices=DIRECTIONS) or "down"
    raw: Any = g.get("colors")
    cline = g.key_lines.get("colors", g.line)
    if not _is_list(raw) or not 2 <= len(raw) <= 8:
        raise p.fail("a gradient needs `colors:`, a list of 2 to 8 colours", cline, _join(where, "colors"))
    colors = tuple(rgb_hex(p, v, cline, f"{_join(where, 'colors')}[{i}]") for i, v in enumerate(raw))
    return Gradient(kind, colors, direction, tuple(str(k) for k in g))


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_list(value: Any) -> bool:
    """A YAML list as the codec's loader reads it (it remembers each item's line)."""
    return isinstance(value, list) and hasattr(value, "item_lines")


def rgb_hex(p: _Parser, value: Any, line: int | None, where: str) -> str:
    try:
        from PIL import ImageColor

        if not isinstance(value, str):
            raise ValueError
        rgb = ImageColor.getrgb(value)
    except ValueError as exc:
        raise p.fail(f"must be a colour name (white, gold, ...) or #rrggbb, got {value!r}", line, where) from exc
    return "#" + "".join(f"{v:02x}" for v in rgb[:3])


def write_value(clip: Clip, key: str) -> Any:
    """The YAML value of an effects key as the timeline gave it (None: not an effects key)."""
    if key == "keyframes":
        return [{k: (list(v) if isinstance(v := getattr(kf, k), tuple) else v) for k in kf.given}
                for kf in clip.keyframes]
    if key == "gradient":
        g = clip.gradient
        if g is None:
            return None
        values = {"type": g.type, "colors": list(g.colors), "direction": g.direction}
        return {k: values[k] for k in g.given}
    return None
