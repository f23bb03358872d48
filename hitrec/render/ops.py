"""Render operations: ``render`` (a timeline to a file), ``remix`` (render and record), ``verify``.

Each takes a repo and returns a result dataclass; progress goes to the callback it is given.
Output is written to a temporary file next to the target and renamed into place only when the
engine finished, so an interrupted render (Ctrl-C) leaves nothing behind and records nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hitrec import licenses
from hitrec.errors import DuplicateMediaError, FragmentError, RenderError, UsageError
from hitrec.render.plan import Plan, RepoResolver, Resolver, make_plan, resolve_format
from hitrec.render.timeline import Timeline, load_timeline, parse_timeline
from hitrec.store.media_store import sha256_file

ProgressFn = Callable[..., None]
ENGINES = ("ffmpeg", "moviepy")


class Engine(Protocol):
    name: str

    def render(self, plan: Plan, out: Path, progress: ProgressFn | None = None) -> None: ...


def get_engine(name: str = "ffmpeg") -> Engine:
    if name == "ffmpeg":
        from hitrec.render.ffmpeg_engine import FfmpegEngine

        return FfmpegEngine()
    if name == "moviepy":
        from hitrec.render.moviepy_engine import MoviepyEngine

        return MoviepyEngine()
    raise UsageError(f"unknown render engine {name!r}: use one of {', '.join(ENGINES)}")


@dataclass
class RenderResult:
    output: Path
    plan: Plan
    engine: str

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "engine": self.engine, "length": round(self.plan.length, 6),
                "format": self.plan.format, "fragments": list(self.plan.fragment_ids)}


@dataclass
class RemixResult:
    plan: Plan
    title: str
    license: str
    parents: tuple[str, ...]
    normalized: bytes  # the timeline.yaml stored in the remix commit
    fragment: Any = None  # the recorded Fragment; None for a dry run
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


@dataclass
class VerifyResult:
    id: str
    ok: bool
    expected_oid: str
    actual_oid: str
    parents_ok: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "expected": self.expected_oid, "actual": self.actual_oid,
                "parents_ok": self.parents_ok}


def plan_timeline(resolver: Resolver, timeline: Timeline, out: Path | None = None) -> Plan:
    """The plan for a timeline, with output settings from the timeline (format: or the file's extension)."""
    return make_plan(timeline, resolver, resolve_format(timeline, out))


def render_plan(plan: Plan, out: Path, progress: ProgressFn | None = None, engine: str = "ffmpeg") -> Path:
    """Render ``plan`` into ``out`` atomically: a temporary sibling file renamed into place at the end."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give a file name, e.g. {out / ('piece.' + plan.format)}")
    if not out.parent.exists():
        raise UsageError(f"folder {out.parent} does not exist; create it first")
    renderer = get_engine(engine)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        raise UsageError(f"cannot write into {out.parent}: {exc.strerror}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        renderer.render(plan, tmp, progress)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RenderError(f"the {engine} engine produced no output")
        try:
            os.replace(tmp, out)
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def render(repo: Any, timeline_path: Path, out: Path, progress: ProgressFn | None = None,
           engine: str = "ffmpeg") -> RenderResult:
    """Render a timeline to ``out`` without recording anything."""
    timeline = load_timeline(timeline_path)
    plan = plan_timeline(RepoResolver(repo), timeline, Path(out))
    render_plan(plan, Path(out), progress, engine)
    return RenderResult(Path(out), plan, engine)


def prepare_remix(resolver: Resolver, timeline_path: Path, title: str | None = None) -> RemixResult:
    """Validate, resolve and normalize a timeline and work out the remix's licence; renders nothing."""
    timeline = load_timeline(timeline_path)
    first = plan_timeline(resolver, timeline)
    license = licenses.combine((s.id, s.license) for s in first.sources.values())
    normalized = first.normalized_yaml()
    # Plan again from the normalized text: exactly what `verify` will re-render later.
    plan = make_plan(parse_timeline(normalized.decode("utf-8"), str(timeline_path)), resolver, first.format)
    name = title or timeline.title or Path(timeline_path).stem
    return RemixResult(plan, name, license, plan.fragment_ids, normalized, dry_run=True)


def remix(repo: Any, timeline_path: Path, title: str | None = None, dry_run: bool = False,
          progress: ProgressFn | None = None, engine: str = "ffmpeg", author: Any = None) -> RemixResult:
    """Render a timeline and record the result as a fragment whose parents are the fragments it uses.

    ``author`` (a Person) defaults to the repo's identity: the editor who made the remix.
    """
    from hitrec.store import FragmentSpec

    result = prepare_remix(RepoResolver(repo), timeline_path, title)
    if dry_run:
        return result
    with tempfile.TemporaryDirectory(prefix="hitrec-remix-") as work:
        media = Path(work) / f"{slugify(result.title)}.{result.plan.format}"
        render_plan(result.plan, media, progress, engine)
        spec = FragmentSpec(path=media, title=result.title, parents=result.parents, license=result.license,
                            extra_files={"timeline.yaml": result.normalized}, author=author)
        try:
            (fragment,) = repo.record([spec])
        except DuplicateMediaError as exc:
            raise FragmentError(f"this remix renders to exactly the media of fragment {exc.fragment_id[:12]}; "
                                "it is already recorded (change the timeline to make a new remix)") from exc
    result.fragment = fragment
    result.dry_run = False
    return result


def verify(repo: Any, ref: str, progress: ProgressFn | None = None) -> VerifyResult:
    """Re-render a remix from its stored timeline and compare it byte for byte with its media."""
    fragment = repo.fragment(ref)
    data = repo.read_fragment_file(fragment.id, "timeline.yaml")
    if data is None:
        raise FragmentError(f"fragment {fragment.id[:10]} is not a remix (it has no timeline.yaml); only "
                            "remixes recorded by `hitrec remix` can be verified")
    timeline = parse_timeline(data.decode("utf-8"), f"{fragment.id[:10]}:timeline.yaml")
    plan = make_plan(timeline, RepoResolver(repo), timeline.output.format)
    with tempfile.TemporaryDirectory(prefix="hitrec-verify-") as work:
        out = render_plan(plan, Path(work) / f"verify.{plan.format}", progress)
        actual = sha256_file(out)
    return VerifyResult(fragment.id, actual == fragment.media.oid, fragment.media.oid, actual,
                        tuple(fragment.parents) == plan.fragment_ids)


def slugify(title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()
    return slug[:60] or "remix"
