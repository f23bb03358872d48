"""`hitrec render`: a timeline to a finished file, recording nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.progress import ProgressFn
from hitrec.render.engine import plan_timeline, render_plan
from hitrec.render.plan import Plan
from hitrec.store import Repo
from hitrec.sync.fetch import fetching_resolver
from hitrec.timeline import load_timeline


@dataclass
class RenderResult:
    output: Path
    plan: Plan
    engine: str
    captions: Path | None = None  # the sidecar captions file written beside it

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "engine": self.engine, "length": round(self.plan.length, 6),
                "format": self.plan.format, "fragments": list(self.plan.fragment_ids),
                "captions": str(self.captions) if self.captions else None}


def render(repo: Repo, timeline_path: Path, out: Path, progress: ProgressFn | None = None,
           engine: str = "ffmpeg", captions: Path | None = None) -> RenderResult:
    """Render a timeline to ``out`` without recording anything; with ``captions`` (an .srt or .vtt path) its
    captions go to that file and into a subtitle stream instead of the picture."""
    from hitrec.render.captions import check_sidecar, write_sidecar

    if captions is not None:
        check_sidecar(Path(captions))
    timeline = load_timeline(timeline_path)
    with fetching_resolver(repo, progress) as resolver:
        plan = plan_timeline(resolver, timeline, Path(out))
        if captions is not None:
            plan.captions_burned = False
            check_sidecar(Path(captions), plan)
        render_plan(plan, Path(out), progress, engine)
        if captions is not None:
            write_sidecar(plan, Path(captions))
    return RenderResult(Path(out), plan, engine, Path(captions) if captions is not None else None)
