"""Writing to the repo: recording fragments and merging catalogs, always under the repo lock.

Order of writes, so that a crash at any point leaves a valid repo: media objects (fsynced), then git
objects, then the catalog ref (fsynced, atomic rename), then the index (a cache, rebuilt if stale). Once
the ref has moved the fragments are recorded: an index that cannot be updated then (a full disk) is
reported in ``RecordResult.index_stale``, not as a failure.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dulwich.objects import ShaFile

from hitrec.errors import CorruptRepoError, FragmentError
from hitrec.progress import ProgressFn
from hitrec.store.faults import crash_point
from hitrec.store.format import CATALOG_MESSAGE_PREFIX, TIMELINE_YAML, is_catalog_tree
from hitrec.store.halves import map_in_halves
from hitrec.store.index import IndexRow, fragment_row
from hitrec.store.model import Fragment, FragmentSpec, MediaInfo, Person, RecordResult
from hitrec.store.records import (
    BuiltFragment,
    build_catalog_commit,
    build_fragment,
    catalog_tree_with,
    fragment_yaml,
    now_and_tz,
    read_commit,
    read_tree,
    safe_filename,
)

if TYPE_CHECKING:
    from hitrec.store.repo import Repo

DEFAULT_LICENSE = "CC-BY-4.0"
PACK_THRESHOLD = 16  # a batch of this many fragments or more is written as one pack


def record_batch(repo: Repo, specs: Sequence[FragmentSpec], progress: ProgressFn | None) -> RecordResult:
    if not specs:
        return RecordResult([], [], repo.catalog_head())
    default_author = None
    if any(spec.author is None for spec in specs):
        default_author = repo.identity()
    default_license = repo.config_get("fragment.license", DEFAULT_LICENSE) or DEFAULT_LICENSE
    probes = [spec.media if spec.media is not None else _probe(spec.path) for spec in specs]

    # Media first, outside the lock: the slow part, and harmless if we die (unreferenced objects).
    # Each fragment's git objects are built as soon as its media is stored (they need its oid), so with
    # many files the Python work overlaps the media threads' file-system calls.
    total = sum(spec.path.stat().st_size for spec in specs)
    if progress:
        progress(0, total=total)
    when, tz = now_and_tz()
    built: list[tuple[FragmentSpec, BuiltFragment]] = []
    if len(specs) < PACK_THRESHOLD:
        for spec, probe in zip(specs, probes, strict=True):
            stored = repo.media.put_file(spec.path, progress)
            built.append((spec, _build(spec, probe, stored, default_author, default_license, when, tz)))
    else:
        # Many files: one file-system sync for the batch instead of an fsync per object (measured 10x
        # faster for 1,000 small files). Nothing refers to these objects until after the sync.
        from concurrent.futures import ThreadPoolExecutor

        with repo.media.batch() as batch:
            pool = ThreadPoolExecutor(4)
            try:
                stored_all = pool.map(lambda spec: batch.put_file(spec.path, progress), specs)
                for spec, probe, stored in zip(specs, probes, stored_all, strict=True):
                    built.append((spec, _build(spec, probe, stored, default_author, default_license, when, tz)))
            finally:  # on Ctrl-C or an error, drop the files not yet started instead of copying them all
                pool.shutdown(wait=True, cancel_futures=True)
    crash_point("media-stored")

    with repo.lock():
        index = repo.index  # up to date with the catalog, under the lock
        recorded: dict[str, BuiltFragment] = {}
        existing: list[tuple[FragmentSpec, Any]] = []
        for spec, fragment in built:
            oid = fragment.fragment.media.oid
            holder = index.by_oid(oid) or recorded.get(oid)
            if holder is not None:
                existing.append((spec, holder))
                continue
            for parent in spec.parents:
                if index.get(parent) is None:
                    raise FragmentError(f"cannot record {spec.path.name}: its source {parent[:12]} is not "
                                        "a fragment of this repo")
            recorded[oid] = fragment
        built = [(spec, b) for spec, b in built if recorded.get(b.fragment.media.oid) is b]
        if not built:
            return RecordResult([], existing, repo.catalog_head())
        built_fragments = [b for _, b in built]

        head = repo.catalog_head()
        store = repo.dulwich.object_store
        base_tree = read_commit(store, head.encode()).tree if head else None
        tree_id, catalog_objects = catalog_tree_with(store, base_tree,
                                                     {b.id: b.commit.tree for b in built_fragments})
        catalog = build_catalog_commit(
            tree_id=tree_id,
            parents=([head.encode()] if head else []) + [b.commit.id for b in built_fragments],
            author=_author_of(default_author, specs), when=when, tz=tz,
            message=f"{CATALOG_MESSAGE_PREFIX} record {len(built)} fragment{'s' if len(built) != 1 else ''}\n",
        )
        objects: list[ShaFile] = [obj for b in built_fragments for obj in b.objects] + catalog_objects + [catalog]
        _write_objects(repo, objects)
        crash_point("objects-written")
        repo.set_catalog_head(catalog.id.decode())
        crash_point("ref-updated")
        fragments = [b.fragment for b in built_fragments]
        indexed = repo.update_index([fragment_row(f) for f in fragments], catalog.id.decode())
        held = [(spec, e.fragment if isinstance(e, BuiltFragment) else e) for spec, e in existing]
        return RecordResult(fragments, held, catalog.id.decode(), index_stale=not indexed)


def _build(spec: FragmentSpec, probe: Any, stored: tuple[str, int], default_author: Person | None,
           default_license: str, when: int, tz: int) -> BuiltFragment:
    """A fragment's git objects and its record, from its spec, probe and stored media."""
    oid, size = stored
    filename = safe_filename(spec.filename or spec.path.name)
    media = MediaInfo(
        oid=oid, size=size, filename=filename, kind=probe.kind, mime=probe.mime, duration=probe.duration,
        sample_rate=probe.sample_rate, channels=probe.channels, width=probe.width, height=probe.height,
        fps=probe.fps, codec=probe.codec, has_audio=probe.has_audio,
        rotation=getattr(probe, "rotation", None), frames=getattr(probe, "frames", None),
    )
    title = (spec.title or Path(filename).stem).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    author = spec.author or default_author
    assert author is not None
    license_ = spec.license or default_license
    built = build_fragment(
        yaml_bytes=fragment_yaml(kind=probe.kind, title=title, tags=spec.tags, license=license_,
                                 project=spec.project, media=media),
        media=media, filename=filename, title=title, parents=spec.parents, author=author, when=when, tz=tz,
        extra_files=spec.extra_files,
    )
    built.fragment = Fragment(
        id=built.id, kind=probe.kind, title=title, author=author,
        created=datetime.fromtimestamp(when, timezone(timedelta(seconds=tz))), parents=tuple(spec.parents),
        tags=tuple(spec.tags), license=license_, project=spec.project, media=media,
        has_timeline=TIMELINE_YAML in spec.extra_files,
    )
    return built


def _author_of(default: Person | None, specs: Sequence[FragmentSpec]) -> Person:
    author = default or specs[0].author
    assert author is not None  # record_batch reads the identity when any spec has no author
    return author


def merge_catalog(repo: Repo, other: str, *, require_media: bool = True) -> str:
    """Bring the fetched catalog ``other`` into ours: fast-forward or a union merge commit.

    Every new fragment must be readable and (unless ``require_media`` is off, for a metadata-only copy)
    have its media here, or nothing is merged."""
    with repo.lock():
        repo.index  # noqa: B018 - bring the index up to date first: below we only add what `other` brings
        ours = repo.catalog_head()
        if ours == other:
            return ours
        new_head = other if ours is None else union_commit(repo, ours, other)
        if new_head == ours:
            return ours
        new_ids = repo.fragment_ids_between(new_head, ours)
        # The ref only ever points at complete fragments: readable records whose media is here.
        def check(ids: Sequence[str]) -> list[IndexRow]:
            repo.preload_fragments(ids, pointers=False)  # what a pull read already is remembered
            return [fragment_row(_checked_fragment(repo, i, require_media)) for i in ids]

        with repo.remembering_objects():
            rows = map_in_halves(check, new_ids)  # on two CPUs for a big pull or clone, reads and all
        repo.set_catalog_head(new_head)
        repo.update_index(rows, new_head)
        return new_head


def _checked_fragment(repo: Repo, fragment_id: str, require_media: bool) -> Fragment:
    try:
        fragment = repo.load_checked_fragment(fragment_id)
    except CorruptRepoError as exc:
        raise CorruptRepoError(f"{exc}; the catalog was not merged") from exc
    if require_media and not repo.media.has(fragment.media.oid):
        raise CorruptRepoError(f"fragment {fragment_id[:12]}: its media {fragment.media.oid[:12]} is not here; "
                               "fetch it before merging (the catalog was not merged)")
    return fragment


def is_catalog_commit(repo: Repo, commit: Any) -> bool:
    """A catalog commit is one whose tree has a ``fragments/`` folder (hitrec.store.format)."""
    tree = read_tree(repo.dulwich.object_store, commit.tree)
    return is_catalog_tree((e.path, stat.S_ISDIR(e.mode)) for e in tree.items())


def is_catalog_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    """Whether catalog commit ``ancestor`` is reachable from ``descendant`` through catalog commits."""
    store = repo.dulwich.object_store
    target = ancestor.encode()
    seen: set[bytes] = set()
    todo = [descendant.encode()]
    while todo:
        sha = todo.pop()
        if sha == target:
            return True
        if sha in seen:
            continue
        seen.add(sha)
        for parent in read_commit(store, sha).parents:
            if parent not in seen and parent in store and is_catalog_commit(repo, read_commit(store, parent)):
                todo.append(parent)
    return False


def union_commit(repo: Repo, ours: str, theirs: str) -> str:
    """The catalog holding both ``ours`` and ``theirs``: ``theirs`` if it already holds ours, ``ours`` if it
    holds theirs, else a new merge commit (parents: ours, theirs) whose tree is the union. Moves no ref;
    fragments are immutable, so there is never a conflict."""
    if ours == theirs or is_catalog_ancestor(repo, ours, theirs):
        return theirs
    if is_catalog_ancestor(repo, theirs, ours):
        return ours
    store = repo.dulwich.object_store
    added = repo.fragment_ids_between(theirs, ours)
    tree_id, objects = catalog_tree_with(store, read_commit(store, ours.encode()).tree,
                                         {fid: read_commit(store, fid.encode()).tree for fid in added},
                                         beside=read_tree(store, read_commit(store, theirs.encode()).tree).items())
    when, tz = now_and_tz()
    commit = build_catalog_commit(tree_id=tree_id, parents=[ours.encode(), theirs.encode()],
                                  author=repo.identity(), when=when, tz=tz,
                                  message=f"{CATALOG_MESSAGE_PREFIX} merge {theirs[:12]}\n")
    _write_objects(repo, [*objects, commit])
    return commit.id.decode()


def _write_objects(repo: Repo, objects: list[ShaFile]) -> None:
    from hitrec.store.durable import naming_full_disk
    from hitrec.store.packs import write_loose, write_pack

    objects_dir = repo.git_dir / "objects"
    with naming_full_disk(objects_dir):
        if len(objects) >= PACK_THRESHOLD * 4:
            write_pack(objects_dir / "pack", objects)
            return
        for obj in objects:
            write_loose(objects_dir, obj)


def _probe(path: Path) -> Any:
    from hitrec.media.probe import probe

    return probe(path)
