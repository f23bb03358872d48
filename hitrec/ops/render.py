"""`hitrec render`: a timeline to a finished file, recording nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import UsageError
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
    draft: bool = False
    segments: int = 0  # picture segments in all (0: a sound-only piece, or the moviepy engine)
    reused: int = 0  # of them, taken from the segment cache
    sound_reused: bool = False  # the encoded sound was taken from the cache
    warnings: list[str] = field(default_factory=list)  # cache entries found damaged (and encoded again)

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "engine": self.engine, "length": round(self.plan.length, 6),
                "format": self.plan.format, "fragments": list(self.plan.fragment_ids),
                "captions": str(self.captions) if self.captions else None, "draft": self.draft,
                "segments": self.segments, "reused": self.reused, "sound_reused": self.sound_reused,
                "warnings": self.warnings}


def render(repo: Repo, timeline_path: Path, out: Path, progress: ProgressFn | None = None,
           engine: str = "ffmpeg", captions: Path | None = None, draft: bool = False) -> RenderResult:
    """Render a timeline to ``out`` without recording anything; with ``captions`` (an .srt or .vtt path) its
    captions go to that file and into a subtitle stream instead of the picture; ``draft``: a quarter of the
    picture's area, fast decoding and the fastest encoder settings, the same timing and sound. Picture
    segments and the encoded sound come from and go to the repo's render cache (a render's bytes are the
    same either way)."""
    from hitrec.credits.roll import fill_credits
    from hitrec.render.captions import check_sidecar, write_sidecar
    from hitrec.render.draft import draft_plan
    from hitrec.render.segment_cache import SegmentCache
    from hitrec.render.segmented import RenderOptions

    if draft and engine != "ffmpeg":
        raise UsageError("--draft renders with the ffmpeg engine; drop --engine or --draft")
    if captions is not None:
        check_sidecar(Path(captions))
    timeline = load_timeline(timeline_path)
    options = RenderOptions(cache=SegmentCache.of_repo(repo), draft=draft)
    with fetching_resolver(repo, progress) as resolver:
        plan = plan_timeline(resolver, timeline, Path(out))
        if captions is not None:
            plan.captions_burned = False
            check_sidecar(Path(captions), plan)
        fill_credits(plan, repo, timeline.title or Path(timeline_path).stem, repo.identity())
        if draft:
            plan = draft_plan(plan)
        render_plan(plan, Path(out), progress, engine, options)
        if captions is not None:
            write_sidecar(plan, Path(captions))
    stats = options.stats
    return RenderResult(Path(out), plan, engine, Path(captions) if captions is not None else None, draft,
                        stats.segments, stats.reused, stats.sound_reused, stats.warnings)
