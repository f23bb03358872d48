"""The normalized form: the timeline a remix stores, so `hitrec verify` and credits need nothing else.

Normalized, every ``fragment:`` is a full 40-character id, every clip has explicit numeric ``at`` and
``duration`` (placed by the render plan, rounded to the microsecond), and ``output`` is explicit
(size and fps for video, sample rate, channels, the format rendered). Everything else stays as
written. Normalizing a normalized timeline changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from hitrec.timeline.model import Clip, Number, Output, Timeline

# where a planned clip landed: (full fragment id or None for text, at, duration)
Placement = tuple[str | None, float, float]


def seconds(value: float) -> Number:
    """A time as the normalized form writes it: microseconds, whole numbers without a fraction."""
    value = round(float(value), 6)
    return int(value) if value == int(value) and abs(value) < 2**53 else value


def normalize(timeline: Timeline, output: Output, placements: Sequence[Sequence[Placement]]) -> Timeline:
    """``timeline`` with each clip's full id and place from ``placements`` (one list per track)."""
    if len(placements) != len(timeline.tracks):
        raise ValueError("one list of placements per track")
    tracks = []
    for track, placed in zip(timeline.tracks, placements, strict=True):
        clips = [_normal_clip(clip, p) for clip, p in zip(track.clips, placed, strict=True)]
        tracks.append(dataclasses.replace(track, clips=clips))
    return dataclasses.replace(timeline, output=output, tracks=tracks)


def _normal_clip(clip: Clip, placement: Placement) -> Clip:
    fragment, at, duration = placement
    head = ("fragment",) if fragment is not None else ("text",) if clip.text is not None else (
        ("credits",) if clip.has("credits") else ())
    rest = tuple(k for k in clip.given if k not in (*head, "at", "duration"))
    return dataclasses.replace(clip, fragment=fragment if fragment is not None else clip.fragment,
                               at=seconds(at), duration=seconds(duration), given=(*head, "at", "duration", *rest))
