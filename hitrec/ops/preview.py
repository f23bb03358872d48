"""`hitrec preview`: a frame, a contact sheet or a stretch of sound of a timeline, fast, recording nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import UsageError
from hitrec.render.engine import plan_timeline
from hitrec.store import Repo
from hitrec.sync.fetch import fetching_resolver
from hitrec.timeline import load_timeline


@dataclass
class PreviewResult:
    output: Path
    kind: str  # frame | sheet | sound
    length: float  # the whole timeline's, seconds
    times: list[float] = field(default_factory=list)  # the frames' times (frame, sheet)
    range: tuple[float, float] | None = None  # the sound's (sound)

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "kind": self.kind, "length": round(self.length, 6),
                "times": self.times, "range": list(self.range) if self.range else None}


def preview(repo: Repo, timeline_path: Path, out: Path, at: list[float] | None = None, sheet: bool = False,
            start: float | None = None, end: float | None = None) -> PreviewResult:
    """The frame at ``at`` (several with ``sheet``: a contact sheet), or the sound from ``start`` to ``end``."""
    from hitrec.render.preview import preview_frames, preview_sound

    at = list(at or [])
    sound = start is not None or end is not None
    if at and sound:
        raise UsageError("preview either frames (--at) or sound (--from/--to), not both")
    if not at and not sound:
        raise UsageError("say what to preview: --at SECONDS for a frame, or --from A --to B for sound")
    if sound and (start is None or end is None):
        raise UsageError("a sound preview needs both --from and --to")
    timeline = load_timeline(timeline_path)
    with fetching_resolver(repo) as resolver:
        plan = plan_timeline(resolver, timeline)
        if sound:
            assert start is not None and end is not None
            preview_sound(plan, start, end, Path(out))
            return PreviewResult(Path(out), "sound", plan.length, range=(start, end))
        preview_frames(plan, at, Path(out), sheet)
    return PreviewResult(Path(out), "sheet" if sheet else "frame", plan.length, times=at)
