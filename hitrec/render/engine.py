"""Render engines behind one protocol, and writing a plan's output atomically.

An :class:`Engine` renders a :class:`~hitrec.render.plan.Plan` into a file. :func:`render_plan` gives it a
locked ``.part`` file beside the target (see :mod:`hitrec.render.scratch`) and renames it into place only
when the engine finished, so an interrupted render leaves nothing behind (a killed one: nothing the
next render does not remove).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hitrec.errors import RenderError, UsageError
from hitrec.progress import ProgressFn
from hitrec.render.plan import Plan, Resolver, make_plan, resolve_format
from hitrec.render.scratch import part_file
from hitrec.timeline.model import Timeline

if TYPE_CHECKING:
    from hitrec.render.segmented import RenderOptions

ENGINES = ("ffmpeg", "moviepy")


class Engine(Protocol):
    name: str

    def render(self, plan: Plan, out: Path, progress: ProgressFn | None = None) -> None: ...


def get_engine(name: str = "ffmpeg", options: RenderOptions | None = None) -> Engine:
    """The engine called ``name``; ``options`` (segment cache, draft, statistics) are the ffmpeg engine's."""
    if name == "ffmpeg":
        from hitrec.render.segmented import SegmentedEngine

        return SegmentedEngine(options)
    if name == "moviepy":
        from hitrec.render.moviepy_engine import MoviepyEngine

        return MoviepyEngine()
    raise UsageError(f"unknown render engine {name!r}: use one of {', '.join(ENGINES)}")


def plan_timeline(resolver: Resolver, timeline: Timeline, out: Path | None = None) -> Plan:
    """The plan for a timeline, with output settings from the timeline (format: or the file's extension)."""
    return make_plan(timeline, resolver, resolve_format(timeline, out))


def render_plan(plan: Plan, out: Path, progress: ProgressFn | None = None, engine: str = "ffmpeg",
                options: RenderOptions | None = None) -> Path:
    """Render ``plan`` into ``out`` atomically: a temporary sibling file renamed into place at the end."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give a file name, e.g. {out / ('piece.' + plan.format)}")
    if not out.parent.exists():
        raise UsageError(f"folder {out.parent} does not exist; create it first")
    renderer = get_engine(engine, options)
    with part_file(out) as tmp:
        renderer.render(plan, tmp, progress)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RenderError(f"the {engine} engine produced no output")
        try:
            os.replace(tmp, out)
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror}") from exc
    return out
