"""`hitrec timeline export` and `hitrec timeline import`: a timeline to and from OpenTimelineIO (docs/otio.md).

Export plans the timeline (a file, or the normalized timeline a remix stores) against the repo, so every
clip is placed and every fragment's media is at hand, and writes it with the OTIO codec
(:mod:`hitrec.timeline.otio_codec`) in the format ``-o``'s extension names (:mod:`hitrec.timeline.otio_formats`).
Import reads an OTIO file, finds each clip's fragment (the fragment id in hitrec's metadata; else the
media's SHA-256, from the object name a hitrec export wrote or by hashing the file; else its file name
against the names the fragments were recorded under), plans the result against the repo and writes its
normalized YAML. Both write the output last, atomically: on any error the output is not created (or is
left as it was).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import FragmentError, HitrecError, TimelineError, UnknownFragmentError, UsageError
from hitrec.ops.verify import stored_timeline
from hitrec.render.engine import plan_timeline
from hitrec.render.plan import Plan, make_plan
from hitrec.render.scratch import part_file, scratch_dir
from hitrec.store import Repo
from hitrec.store.media_store import sha256_file
from hitrec.sync.fetch import fetching_resolver
from hitrec.timeline import load_timeline, parse_timeline
from hitrec.timeline.model import Timeline
from hitrec.timeline.otio_codec import ClipMedia, Match, MediaSource, explain, from_otio, load_otio, to_otio
from hitrec.timeline.otio_formats import format_of, not_carried, prepare, read_file, write_file

_OID = re.compile(r"^[0-9a-f]{64}$")
_REF = re.compile(r"^[0-9a-fA-F]{4,40}$")


@dataclass
class ExportResult:
    output: Path
    format: str  # the extension: otio, otioz, xml, edl, aaf, fcpxml, kdenlive
    label: str
    source: str  # the timeline file, or the piece whose stored timeline was exported
    length: float
    tracks: int  # OTIO tracks written
    clips: int
    transitions: int
    fragments: tuple[str, ...]
    bundled: int = 0  # media files inside an .otioz
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"output": str(self.output), "format": self.format, "source": self.source,
                "length": round(self.length, 6), "tracks": self.tracks, "clips": self.clips,
                "transitions": self.transitions, "fragments": list(self.fragments), "bundled": self.bundled,
                "warnings": list(self.warnings)}


@dataclass
class ImportResult:
    source: Path
    output: Path
    length: float
    tracks: int
    clips: int
    fragments: tuple[str, ...]
    matched: dict[str, int]  # how the clips' fragments were found: metadata, hash, name
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"source": str(self.source), "output": str(self.output), "length": round(self.length, 6),
                "tracks": self.tracks, "clips": self.clips, "fragments": list(self.fragments),
                "matched": dict(self.matched), "warnings": list(self.warnings)}


# --------------------------------------------------------------------------- export


def export(repo: Repo, source: str, out: Path) -> ExportResult:
    """Write a timeline file, or a remix's stored timeline (``source`` a fragment id), as ``out``."""
    out = Path(out)
    fmt = format_of(out, writing=True)
    _check_output(out)
    timeline, label = _source_timeline(repo, source)
    with fetching_resolver(repo) as resolver:  # a metadata-only clone fetches what it names
        plan = plan_timeline(resolver, timeline)
        normalized = plan.normalized()
        hub = _hub_url(repo)
        media = {i.id: MediaSource(i.id, i.kind, i.path, i.media.filename, i.media.oid, i.media.duration, i.title,
                                   f"{hub}/info/lfs/objects/{i.media.oid}" if hub else None)
                 for i in plan.inputs.values()}
        otl = to_otio(normalized, media)
        warnings = not_carried(normalized, fmt) + prepare(otl, fmt)
        with scratch_dir("timeline") as work:
            bundled = _bundle_names(otl, media, work) if fmt.suffix == "otioz" else 0
            written = work / f"timeline.{fmt.suffix}"
            _writing(out, lambda: write_file(otl, fmt, written))
            _place(written, out)
    otio = load_otio()
    items = [i for t in otl.tracks for i in t]
    return ExportResult(out, fmt.suffix, fmt.label, label, plan.length, len(otl.tracks),
                        sum(isinstance(i, otio.schema.Clip) for i in items),
                        sum(isinstance(i, otio.schema.Transition) for i in items), plan.fragment_ids, bundled,
                        warnings)


def _source_timeline(repo: Repo, source: str) -> tuple[Timeline, str]:
    path = Path(source)
    if path.exists() or not _REF.match(source):
        return load_timeline(path), str(path)
    try:
        fragment = repo.fragment(source)
    except UnknownFragmentError as exc:
        raise UsageError(f"{source!r} is neither a timeline file nor a fragment id in this repo") from exc
    data = stored_timeline(repo, fragment)
    if data is None:
        raise FragmentError(f"fragment {fragment.short_id} is not a remix (it has no stored timeline); export a "
                            "piece made by `hitrec remix`, or a timeline file")
    return parse_timeline(data.decode("utf-8", "replace"), f"{fragment.short_id}:timeline.yaml"), fragment.id


def _hub_url(repo: Repo) -> str | None:
    from hitrec.sync.remotes import get_remote_url

    try:
        return get_remote_url(repo.git_dir, "origin")
    except HitrecError:
        return None


def _bundle_names(otl: Any, media: dict[str, MediaSource], work: Path) -> int:
    """Point an .otioz's media at links named as the fragments' files were (the bundle keeps the names)."""
    from opentimelineio import url_utils

    otio = load_otio()
    folder = work / "media"
    folder.mkdir()
    names: dict[str, Path] = {}
    taken: set[str] = set()
    for source in media.values():
        if source.kind not in ("video", "image", "audio"):
            continue
        name = Path(source.filename).name or source.oid
        if name in taken:
            name = f"{source.id[:10]}-{name}"
        taken.add(name)
        link = folder / name
        link.symlink_to(source.path)
        names[source.id] = link
    for clip in otl.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference):
            fragment = ref.metadata.get("hitrec", {}).get("fragment")
            if fragment in names:
                ref.target_url = url_utils.url_from_filepath(str(names[fragment]))
    return len(names)


# --------------------------------------------------------------------------- import


def import_(repo: Repo, source: Path, out: Path) -> ImportResult:
    """Read an OTIO file, map its clips to fragments and write the timeline as normalized YAML to ``out``."""
    source, out = Path(source), Path(out)
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"{out.name}: import writes a hitrec timeline; name the output *.yaml")
    _check_output(out)
    matcher = _RepoMatcher(repo)
    with scratch_dir("timeline") as work:  # an .otioz's media, unpacked to be matched by their hashes
        bundle = source.suffix.lower() == ".otioz"
        otl = read_file(source, unpack_to=work if bundle else None)
        imported = from_otio(otl, str(source), matcher, base=work if bundle else None)
    with fetching_resolver(repo) as resolver:  # a metadata-only clone fetches what it names
        try:
            plan: Plan = make_plan(imported.timeline, resolver)
        except TimelineError as exc:
            raise TimelineError(str(source), explain(exc, imported.origins)) from exc
        text = plan.normalized_yaml()
    _writing(out, lambda: _write_bytes(out, text))
    clips = sum(len(t.clips) for t in plan.tracks)
    return ImportResult(source, out, plan.length, len(plan.tracks), clips, plan.fragment_ids, matcher.counts,
                        imported.warnings)


class _RepoMatcher:
    """Finds the fragment a clip's media is: by the id in hitrec's metadata, by SHA-256, by file name."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.counts = {"metadata": 0, "hash": 0, "name": 0}
        self._by_name: dict[str, list[str]] | None = None
        self._hashed: dict[Path, str | None] = {}
        self._matches: dict[str, Match] = {}

    def __call__(self, media: ClipMedia) -> Match:
        repo = self.repo
        if media.fragment:
            try:
                known = media.fragment if media.fragment in self._matches else repo.fragment(media.fragment).id
                return self._found(known, "metadata")
            except FragmentError:
                pass  # a fragment this repo lacks: perhaps its media is here under another id
        oids = [o for o in (media.oid, media.path.name if media.path else None) if o and _OID.match(o)]
        if media.path is not None and media.path not in self._hashed:
            self._hashed[media.path] = sha256_file(media.path) if media.path.is_file() else None
        if media.path is not None and self._hashed.get(media.path):
            oids.append(self._hashed[media.path] or "")
        for oid in oids:
            fragment = repo.index.by_oid(oid)
            if fragment is not None:
                return self._found(fragment.id, "hash")
        if media.name:
            candidates = self._names().get(media.name, [])
            if len(candidates) == 1:
                return self._found(candidates[0], "name")
            if len(candidates) > 1:
                shown = ", ".join(c[:10] for c in candidates[:5])
                raise LookupError(f"its media {media.name!r} is the file name of several fragments ({shown}) and "
                                  "no hash decides between them")
        named = media.path or media.name or "(no file)"
        missing = f"fragment {media.fragment[:12]} is not in this repo and " if media.fragment else ""
        raise LookupError(f"{missing}its media {str(named)!r} matches no fragment in this repo (by id, SHA-256 or "
                          "file name)")

    def _found(self, fragment_id: str, how: str) -> Match:
        self.counts[how] += 1
        if fragment_id not in self._matches:
            fragment = self.repo.fragment(fragment_id)
            m = fragment.media
            size = (m.width, m.height) if m.width and m.height else None
            self._matches[fragment_id] = Match(fragment.id, fragment.kind, size, m.duration)
        return self._matches[fragment_id]

    def _names(self) -> dict[str, list[str]]:
        if self._by_name is None:
            self._by_name = {}
            for fragment in self.repo.fragments():
                self._by_name.setdefault(fragment.media.filename, []).append(fragment.id)
        return self._by_name


# --------------------------------------------------------------------------- writing the output


def _check_output(out: Path) -> None:
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give a file name")
    if not out.parent.exists():
        raise UsageError(f"folder {out.parent} does not exist; create it first")


def _writing(out: Path, write: Any) -> None:
    """Run ``write``, turning a full disk or an unwritable place into one line naming ``out``."""
    try:
        write()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise HitrecError(f"the disk is full: no space left to write {out}; free some space and run the "
                              "command again (nothing was written)") from exc
        raise HitrecError(f"cannot write {out}: {exc.strerror or exc} (nothing was written)") from exc


def _write_bytes(out: Path, data: bytes) -> None:
    with part_file(out) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)


def _place(written: Path, out: Path) -> None:
    def copy() -> None:
        with part_file(out) as tmp:
            with open(written, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, out)

    _writing(out, copy)
