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

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "engine": self.engine, "length": round(self.plan.length, 6),
                "format": self.plan.format, "fragments": list(self.plan.fragment_ids)}


def render(repo: Repo, timeline_path: Path, out: Path, progress: ProgressFn | None = None,
           engine: str = "ffmpeg") -> RenderResult:
    """Render a timeline to ``out`` without recording anything."""
    timeline = load_timeline(timeline_path)
    with fetching_resolver(repo, progress) as resolver:
        plan = plan_timeline(resolver, timeline, Path(out))
        render_plan(plan, Path(out), progress, engine)
    return RenderResult(Path(out), plan, engine)
