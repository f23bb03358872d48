"""Placing a clip's effects (docs/timeline.md, "Effects"): checks that need the clip's placed length or
its fragment, and the Ken Burns shorthand turned into keyframes.

Called by :func:`hitrec.render.plan._place` for every clip; the result lives on the
:class:`~hitrec.render.plan.PlannedClip` (``keyframes``, ``gain_keyframes``, ``freeze``, ``scale``,
``gradient``, the fade curves), all in clip-local time (0 is the clip's first frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hitrec.errors import TimelineError
from hitrec.timeline.model import Clip, Keyframe

if TYPE_CHECKING:
    from hitrec.render.plan import Input, PlannedClip

EPS = 1e-6
KEN_BURNS_AMOUNT = 0.2
Fail = Callable[..., TimelineError]


def place_freeze(clip: Clip, pc: PlannedClip, source: Input, fail: Fail) -> None:
    """A freeze frame: the source's frame at ``freeze`` seconds, held for ``duration``."""
    assert clip.freeze is not None
    for key in ("from", "to", "speed", "loop"):
        if clip.has(key):
            raise fail(f"{key!r} does not go with `freeze:` (a freeze frame holds one frame)", key)
    total = source.media.duration
    if total is None or total <= 0:
        raise fail(f"fragment {source.id[:10]} has no known duration; re-add its media", "fragment")
    if clip.freeze >= total:
        raise fail(f"`freeze` ({clip.freeze:g} s) is beyond the end of fragment {source.id[:10]} "
                   f"({total:g} s long)", "freeze")
    if clip.duration is None:
        raise fail("a freeze frame needs `duration:` (how long to hold the frame)", "duration")
    pc.freeze = float(clip.freeze)
    pc.src_from = float(clip.freeze)
    pc.src_len = min(1.0, total - clip.freeze)
    pc.duration = clip.duration
    pc.mute = True  # a held frame has no sound


def place_captions(clip: Clip, pc: PlannedClip, source: Input, fail: Fail) -> None:
    """A captions clip: the cues of its text fragment (SRT or WebVTT), cut to the clip's duration."""
    from hitrec.render.captions import CaptionsSyntaxError, parse_captions

    name = f"{source.media.filename or 'captions'} (fragment {source.id[:10]})"
    if source.kind != "text":
        raise fail(f"fragment {source.id[:10]} is {source.kind}; a captions track takes text fragments holding SRT "
                   "or WebVTT", "fragment")
    try:
        text = source.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the captions of {name}: {exc}", "fragment") from exc
    try:
        cues = parse_captions(text)
    except CaptionsSyntaxError as exc:
        raise fail(f"{name} line {exc.line}: {exc.problem}", "fragment") from exc
    pc.kind = "captions"
    pc.input = source
    pc.duration = float(clip.duration) if clip.duration is not None else max(c.end for c in cues)
    pc.cues = tuple(c for c in cues if c.start < pc.duration - EPS)
    pc.size, pc.color, pc.font, pc.outline = clip.size, clip.color, clip.font, clip.outline


def place_effects(clip: Clip, pc: PlannedClip, fail: Fail) -> None:
    """Keyframes (in the clip), the Ken Burns move, picture in picture and the fade curve of ``pc``."""
    if pc.kind == "captions":
        return
    if clip.fade_curve is not None:
        pc.curve_in = pc.curve_out = clip.fade_curve
    pc.scale = float(clip.scale) if clip.scale is not None else 1.0
    pc.gradient = clip.gradient
    if pc.kind == "generator":
        pc.color = clip.color
    frames = list(clip.keyframes)
    for kf in frames:
        if kf.t > pc.duration + EPS:
            raise fail(f"the keyframe at t {kf.t:g} is outside the clip (0 to {pc.duration:g} s; t counts from "
                       "the clip's start)", None, line=kf.line, where=f"{kf.where}.t")
        if kf.gain is not None and pc.kind in ("image", "generator"):
            raise fail("'gain' does not apply to a picture with no sound", None, line=kf.line, where=f"{kf.where}.gain")
    if clip.zoom or clip.pan:
        frames = _merge(frames, ken_burns(clip.zoom, clip.pan, float(clip.amount or KEN_BURNS_AMOUNT), pc.duration,
                                          clip.line_of("zoom" if clip.zoom else "pan"), clip.where))
    pc.keyframes = tuple(k for k in frames if any(v is not None for v in (k.scale, k.position, k.opacity)))
    pc.gain_keyframes = tuple(k for k in frames if k.gain is not None)


def ken_burns(zoom: str | None, pan: str | None, amount: float, duration: float, line: int,
              where: str) -> list[Keyframe]:
    """The two keyframes of a Ken Burns move: the picture zooms by ``amount`` and/or the view pans across the
    room the zoom gives (a pan with no zoom is drawn ``1 + amount`` times the frame throughout)."""
    big = 1.0 + amount
    start_scale, end_scale = (1.0, big) if zoom == "in" else (big, 1.0) if zoom == "out" else (big, big)
    shift = amount / 2  # how far the centre may move at ``big`` before an edge shows
    dx, dy = {"left": (shift, 0.0), "right": (-shift, 0.0), "up": (0.0, shift), "down": (0.0, -shift),
              None: (0.0, 0.0)}[pan]
    if zoom == "in":  # start centred (no room at scale 1), end shifted
        start, end = (0.5, 0.5), (0.5 + dx, 0.5 + dy)
    elif zoom == "out":
        start, end = (0.5 - dx, 0.5 - dy), (0.5, 0.5)
    else:
        start, end = (0.5 - dx, 0.5 - dy), (0.5 + dx, 0.5 + dy)
    given = ("t", "scale", "position")
    return [Keyframe(0.0, line, where, given, start_scale, start),
            Keyframe(duration, line, where, given, end_scale, end)]


def _merge(frames: list[Keyframe], moves: list[Keyframe]) -> list[Keyframe]:
    return sorted([*frames, *moves], key=lambda k: k.t)
