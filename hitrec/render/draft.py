"""Draft renders: the same timing and sound, a quarter of the picture's area, fast decoding and encoding.

:func:`draft_plan` halves the output's width and height (kept even) and scales what is given in pixels
(``[x, y]`` positions, text sizes) with it; the clips' times and the sound's graph are untouched. It marks
the plan ``draft``: the engine then decodes video sources with
:data:`hitrec.render.ffmpeg_engine.DRAFT_DECODE` and scales with ``DRAFT_SCALER``, the segments are
encoded with :data:`hitrec.render.segmented.DRAFT_VIDEO_CODECS` and an mp4's sound with
``DRAFT_AUDIO_CODECS`` (MP3), all part of the cache keys, so a draft never stands in for a full render's
segment or sound. Drafts are never recorded.
"""

from __future__ import annotations

from dataclasses import replace

from hitrec.render.plan import Plan, PlannedTrack

SCALE = 0.5


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def draft_plan(plan: Plan) -> Plan:
    if plan.output.size is None:
        return plan
    w, h = plan.output.size
    output = replace(plan.output, size=(_even(w * SCALE), _even(h * SCALE)))
    tracks = []
    for track in plan.tracks:
        clips = []
        for clip in track.clips:
            changes: dict[str, object] = {}
            if isinstance(clip.position, tuple):
                changes["position"] = (clip.position[0] * SCALE, clip.position[1] * SCALE)
            if clip.size is not None:
                changes["size"] = max(1, round(clip.size * SCALE))
            clips.append(replace(clip, **changes) if changes else clip)  # type: ignore[arg-type]
        tracks.append(PlannedTrack(track.index, track.kind, track.name, clips))
    return replace(plan, output=output, tracks=tracks, draft=True)
