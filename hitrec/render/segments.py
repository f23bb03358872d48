"""A plan's picture cut into segments: windows on the output's frame grid, chosen from the plan alone.

Every render of a picture encodes it window by window (:mod:`hitrec.render.segmented`), so where the
windows fall must depend on nothing but the timeline: the same plan always gives the same windows,
whatever is cached. A window edge goes where a picture clip starts or ends (so changing one clip changes
only the windows it covers), never inside what makes a clip's look depend on time across the edge — a
fade, a cross-fade, a loop, or a clip the engine marks ``time_dependent`` (keyframes, moves, effects) —
and windows longer than :data:`MAX_SECONDS` are split where that is allowed.

:func:`slice_plan` is the plan a window renders: the picture clips that show in it, cut to it, with
times counted from the window's start (a clip cut at the front reads its source from the later point,
and keeps only the fades and cross-fades that lie inside the window). Sound is not sliced: it is
rendered whole.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from fractions import Fraction

from hitrec.render.plan import Plan, PlannedClip, PlannedTrack

MAX_SECONDS = 20.0  # a window longer than this is split where a cut is allowed (each window costs an ffmpeg start
# and, cut mid-clip, a seek that decodes from the key frame before: 8 s windows cost 1.23x a single command)
MIN_SECONDS = 1.0  # clip edges closer than this to the previous window edge make no window of their own
NEAR_SOURCE_END = 1.0  # seconds before its source's end a video clip is never cut (its picture may end early)


@dataclass(frozen=True)
class Window:
    """Frames ``start`` (included) to ``end`` (excluded) of the output."""

    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


def fps_of(plan: Plan) -> Fraction:
    return Fraction(plan.output.fps).limit_denominator(1001)


def frame_of(seconds: float, fps: Fraction) -> int:
    """The frame a time falls on, rounded as the engine rounds it."""
    return round(Fraction(seconds).limit_denominator(10**9) * fps)


CUTTABLE_KINDS = ("video", "image", "text", "generator", "captions")  # any other kind of clip is kept whole


def picture_tracks(plan: Plan) -> list[PlannedTrack]:
    return [t for t in plan.tracks if t.kind != "audio"]


def is_time_dependent(clip: PlannedClip) -> bool:
    """True when the clip cannot be cut anywhere inside it: it loops, the engine says its rendering depends
    on time (``PlannedClip.time_dependent``: transitions, keyframes, moves, freezes), or it is of a kind
    this module does not know how to cut."""
    return clip.loop or bool(getattr(clip, "time_dependent", False)) or clip.kind not in CUTTABLE_KINDS


def _span(clip: PlannedClip, fps: Fraction) -> tuple[int, int]:
    start = frame_of(clip.at, fps)
    return start, max(start + 1, frame_of(clip.end, fps))


def unsafe_spans(plan: Plan) -> list[tuple[int, int]]:
    """Open frame intervals ``(lo, hi)``: a window edge ``e`` with ``lo < e < hi`` would cut a clip where
    its look depends on time."""
    fps = fps_of(plan)
    spans = []
    for track in picture_tracks(plan):
        for clip in track.clips:
            start, end = _span(clip, fps)
            if is_time_dependent(clip):
                spans.append((start, end))
                continue
            if clip.transition > 0:  # the cross-fade needs a frame of the previous clip before it
                spans.append((start - 1, start + math.ceil(clip.transition * fps) + 1))
            if clip.fade_in > 0:
                spans.append((start, start + math.ceil(clip.fade_in * fps) + 1))
            if clip.fade_out > 0:
                spans.append((end - math.ceil(clip.fade_out * fps) - 1, end))
            known = clip.input.media.duration if clip.input is not None else None
            if clip.kind == "video" and (known is None or
                                         clip.src_from + clip.duration * clip.speed > known - NEAR_SOURCE_END):
                near = math.ceil(NEAR_SOURCE_END / clip.speed * fps)
                spans.append((end - near - 1, end))
    return spans


def allowed(edge: int, spans: list[tuple[int, int]]) -> bool:
    return not any(lo < edge < hi for lo, hi in spans)


def windows(plan: Plan) -> list[Window]:
    """The windows a render encodes, in order, covering every frame once."""
    fps = fps_of(plan)
    total = frame_of(plan.length, fps)
    spans = unsafe_spans(plan)
    min_frames = max(1, round(MIN_SECONDS * fps))
    max_frames = max(min_frames, round(MAX_SECONDS * fps))
    cuts = sorted({e for t in picture_tracks(plan) for c in t.clips for e in _span(c, fps) if 0 < e < total})
    edges = [0]
    for cut in cuts:
        if cut - edges[-1] >= min_frames and total - cut >= min_frames and allowed(cut, spans):
            edges.append(cut)
    edges.append(total)
    result: list[Window] = []
    for a, b in itertools.pairwise(edges):
        pieces = math.ceil((b - a) / max_frames)
        start = a
        for k in range(1, pieces):
            target = a + round(k * (b - a) / pieces)
            edge = next((e for e in range(max(target, start + 1), b) if allowed(e, spans)), None)
            if edge is None:
                break
            result.append(Window(start, edge))
            start = edge
        result.append(Window(start, b))
    return result


def window_around(plan: Plan, frame: int) -> Window:
    """The shortest window holding ``frame`` whose edges are allowed cuts (what a preview renders): the
    frame alone, or the whole fade, cross-fade or time-dependent clip it falls in."""
    spans = unsafe_spans(plan)
    total = frame_of(plan.length, fps_of(plan))
    start, end = frame, frame + 1
    while start > 0 and not allowed(start, spans):
        start -= 1
    while end < total and not allowed(end, spans):
        end += 1
    return Window(start, end)


def slice_plan(plan: Plan, window: Window) -> Plan:
    """The picture of ``plan`` in ``window``, as a plan of its own starting at 0 (no sound tracks)."""
    fps = fps_of(plan)
    tracks = []
    for track in picture_tracks(plan):
        clips = [c for c in (_cut(clip, window, fps) for clip in track.clips) if c is not None]
        if clips:
            tracks.append(PlannedTrack(track.index, track.kind, track.name, clips))
    return replace(plan, tracks=tracks, length=float(Fraction(window.frames) / fps))


def _cut(clip: PlannedClip, window: Window, fps: Fraction) -> PlannedClip | None:
    start, end = _span(clip, fps)
    if end <= window.start or start >= window.end:
        return None
    origin = Fraction(window.start) / fps
    changes: dict[str, object] = {}
    if start < window.start:  # cut at the front: it reads its source from the window's first frame on
        head = Fraction(window.start - start) / fps
        at = Fraction(0)
        changes.update(fade_in=0.0, transition=0.0)
        if clip.kind == "video":
            changes.update(src_from=clip.src_from + float(head) * clip.speed,
                           src_len=max(1e-3, clip.src_len - float(head) * clip.speed))
        if clip.kind == "captions":  # cues are in clip time: the window's clip starts ``head`` later
            changes["cues"] = tuple(replace(cue, start=max(0.0, cue.start - float(head)), end=cue.end - float(head))
                                    for cue in clip.cues if cue.end - float(head) > 1e-6)
    else:
        at = max(Fraction(0), Fraction(clip.at).limit_denominator(10**9) - origin)
    if end > window.end:  # cut at the back
        stop = Fraction(window.frames) / fps
        changes["fade_out"] = 0.0
    else:
        stop = Fraction(clip.end).limit_denominator(10**9) - origin
    return replace(clip, at=float(at), duration=float(stop - at), **changes)  # type: ignore[arg-type]
