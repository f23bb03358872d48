"""`hitrec remix`: render a timeline and record the result as a fragment remixing the fragments it uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec import licenses
from hitrec.errors import DuplicateMediaError, FragmentError
from hitrec.progress import ProgressFn
from hitrec.render.engine import plan_timeline, render_plan
from hitrec.render.plan import Plan, Resolver, make_plan
from hitrec.render.scratch import scratch_dir
from hitrec.store import Fragment, FragmentSpec, Repo
from hitrec.store.format import TIMELINE_YAML
from hitrec.store.model import Person
from hitrec.sync.fetch import fetching_resolver
from hitrec.timeline import load_timeline, parse_timeline


@dataclass
class RemixResult:
    plan: Plan
    title: str
    license: str
    parents: tuple[str, ...]
    normalized: bytes  # the timeline.yaml stored in the remix commit
    fragment: Fragment | None = None  # the recorded fragment; None for a dry run
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "dry_run": self.dry_run,
            "title": self.title,
            "license": self.license,
            "parents": list(self.parents),
            "plan": self.plan.describe(),
        }
        if self.fragment is not None:
            data["fragment"] = self.fragment.to_json()
            data["id"] = self.fragment.id
        return data


def prepare_remix(resolver: Resolver, timeline_path: Path, title: str | None = None) -> RemixResult:
    """Validate, resolve and normalize a timeline and work out the remix's licence; renders nothing."""
    timeline = load_timeline(timeline_path)
    first = plan_timeline(resolver, timeline)
    license = licenses.combine((i.id, i.license) for i in first.inputs.values())
    normalized = first.normalized_yaml()
    # Plan again from the normalized text: exactly what `verify` will re-render later.
    plan = make_plan(parse_timeline(normalized.decode("utf-8"), str(timeline_path)), resolver, first.format)
    name = title or timeline.title or Path(timeline_path).stem
    return RemixResult(plan, name, license, plan.fragment_ids, normalized, dry_run=True)


def remix(repo: Repo, timeline_path: Path, title: str | None = None, dry_run: bool = False,
          progress: ProgressFn | None = None, engine: str = "ffmpeg", author: Person | None = None) -> RemixResult:
    """Render a timeline and record the result as a fragment whose parents are the fragments it uses.

    ``author`` defaults to the repo's identity: the editor who made the remix.
    """
    from hitrec.render.segment_cache import SegmentCache
    from hitrec.render.segmented import RenderOptions

    with fetching_resolver(repo, progress) as resolver:
        result = prepare_remix(resolver, timeline_path, title)
        if result.plan.clips("credits"):
            from hitrec.credits.roll import fill_credits

            fill_credits(result.plan, repo, result.title, author or repo.identity())
        if dry_run:
            return result
        with scratch_dir("remix") as work:
            media = work / f"{slugify(result.title)}.{result.plan.format}"
            render_plan(result.plan, media, progress, engine, RenderOptions(cache=SegmentCache.of_repo(repo)))
            resolver.close()  # the sources are rendered: recording reads only the result
            spec = FragmentSpec(path=media, title=result.title, parents=result.parents, license=result.license,
                                extra_files={TIMELINE_YAML: result.normalized}, author=author)
            try:
                (fragment,) = repo.record([spec])
            except DuplicateMediaError as exc:
                raise FragmentError(f"this remix renders to exactly the media of fragment "
                                    f"{exc.fragment_id[:12]}; it is already recorded (change the timeline "
                                    "to make a new remix)") from exc
    result.fragment = fragment
    result.dry_run = False
    return result


def slugify(title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()
    return slug[:60] or "remix"
