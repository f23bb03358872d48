"""The local repo: ``.hitrec/`` in a project folder, a bare git repo plus media in the Git LFS layout.

Writers hold the repo lock; readers never block. Media is stored before the objects that point at it,
and objects before the ref that reaches them, so a crash at any point leaves a valid repo.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitrec.errors import (
    AmbiguousFragmentError,
    CorruptRepoError,
    DuplicateMediaError,
    NotARepoError,
    RepoExistsError,
    UnknownFragmentError,
    UsageError,
)
from hitrec.progress import ProgressFn
from hitrec.store import config as config_mod
from hitrec.store.durable import fsync_dir
from hitrec.store.format import CATALOG_REF, FRAGMENT_YAML, TIMELINE_YAML, is_oid, read_ref
from hitrec.store.index import Index, IndexDamaged, IndexRow, IndexUnavailable
from hitrec.store.local_media import LocalMediaStore
from hitrec.store.lock import write_lock
from hitrec.store.model import KINDS, Fragment, FragmentSpec, MediaInfo, Person, RecordResult
from hitrec.store.stale import clear_dead_pack_temps, clear_stale_locks

if TYPE_CHECKING:
    import dulwich.repo


_FRAGMENT_YAML, _TIMELINE_YAML = FRAGMENT_YAML.encode(), TIMELINE_YAML.encode()


@lru_cache(maxsize=256)
def _zone(offset_seconds: int) -> timezone:
    """One tzinfo per offset: a metadata-only clone of 10,000 fragments made 10,000 equal ones."""
    return timezone(timedelta(seconds=offset_seconds))


REPO_DIR = ".hitrec"
INDEX_FILE = "index.sqlite"
LOUDNESS_CACHE = "loudness.json"  # media oid -> integrated LUFS (hitrec show), a cache
MIN_PREFIX = 4
HEX = set("0123456789abcdef")
__all__ = ["REPO_DIR", "FragmentSpec", "RecordResult", "Repo"]


def _check_record(record: dict[str, Any], media: dict[str, Any], where: str) -> None:
    """fragment.yaml may come from anyone through a hub: check every field before trusting it."""
    from hitrec.store.records import safe_filename

    def bad(field: str) -> CorruptRepoError:
        return CorruptRepoError(f"{where}: fragment.yaml has a malformed {field}; run `hitrec fsck`")

    if record.get("kind") not in KINDS:
        raise bad("kind")
    if not isinstance(record.get("title", ""), str) or not isinstance(record.get("license", ""), str):
        raise bad("title or license")
    tags = record.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad("tags")
    if record.get("project") is not None and not isinstance(record["project"], str):
        raise bad("project")
    if not isinstance(media.get("oid"), str) or not is_oid(media["oid"]):
        raise bad("media oid")
    if not isinstance(media.get("size"), int) or isinstance(media["size"], bool) or media["size"] < 0:
        raise bad("media size")
    name = media.get("filename")
    if not isinstance(name, str) or safe_filename(name) != name:
        raise bad("media filename")
    for key in ("duration", "fps"):
        if media.get(key) is not None and not isinstance(media[key], int | float):
            raise bad(f"media {key}")
    for key in ("sample_rate", "channels", "width", "height"):
        if media.get(key) is not None and not isinstance(media[key], int):
            raise bad(f"media {key}")


class Repo:
    """A collaboration: a project folder's ``.hitrec/`` (``Repo.find``, ``Repo(root)``) or a bare
    ``name.git`` as a hub keeps it (``Repo.open``); both are a bare git repo with ``lfs/`` inside."""

    def __init__(self, root: Path, git_dir: Path | None = None) -> None:
        self.root = root  # the project folder; for a bare collaboration, its git folder
        self.git_dir = root / REPO_DIR if git_dir is None else git_dir
        self.media = LocalMediaStore.of_repo(self.git_dir)
        self.config_path = self.git_dir / "config"
        self.lock_path = self.git_dir / "hitrec.lock"
        self.index_stale = False  # the index on disk could not be used: reads go to an in-memory copy
        self._remembered: dict[bytes, Any] | None = None  # see remembering_objects()
        self._between: tuple[tuple[str | None, str | None], tuple[str, ...]] | None = None

    # --- git objects -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def remembering_objects(self) -> Iterator[None]:
        """Within the block, ``git_object`` keeps what it read: a pull reads each new fragment's commit,
        tree and LFS pointer twice (to find its media, then to merge it), and an object read from a pack
        costs ~40 us here."""
        outer, self._remembered = self._remembered, self._remembered if self._remembered is not None else {}
        try:
            yield
        finally:
            self._remembered = outer

    def git_object(self, sha: bytes) -> Any:
        """The parsed git object ``sha`` (KeyError if absent)."""
        remembered = self._remembered
        found = remembered.get(sha) if remembered is not None else None
        if found is None:
            from dulwich.objects import ObjectID  # loaded with dulwich.repo already: a dict lookup

            found = self.dulwich.object_store[ObjectID(sha)]
            if remembered is not None:
                remembered[sha] = found
        return found

    def preload_fragments(self, fragment_ids: Sequence[str], *, pointers: bool = True) -> None:
        """Within ``remembering_objects``: read the commits, trees and files of many fragments in three
        batched reads (hitrec.store.catfile: one git process each) instead of four dulwich reads each;
        ``pointers=False`` reads only each tree's ``fragment.yaml`` of its files. Below ``PRELOAD_MIN``
        fragments, or without git, the objects are read one by one as before."""
        if self._remembered is None or len(fragment_ids) < PRELOAD_MIN:
            return
        commits = self._preload([i.encode() for i in fragment_ids])
        trees = self._preload([c.tree for c in commits if getattr(c, "tree", None)])
        if pointers:
            self._preload([e.sha for t in trees if hasattr(t, "items") for e in t.items()
                           if not e.mode & 0o040000])
        else:
            self._preload([t[_FRAGMENT_YAML][1] for t in trees if _FRAGMENT_YAML in t])

    def _preload(self, shas: list[bytes]) -> list[Any]:
        from hitrec.store.catfile import CatFileError, read_objects
        from hitrec.store.raw_objects import parse_raw

        remembered = self._remembered
        assert remembered is not None
        wanted = [sha for sha in dict.fromkeys(shas) if sha not in remembered]
        try:
            for sha, kind, data in read_objects(self.git_dir, wanted):
                if kind is None:
                    continue
                try:
                    view = parse_raw(sha, kind, data)
                except ValueError:
                    continue  # left to dulwich, whose error says what is wrong with it
                if view is not None:
                    remembered[sha] = view
        except CatFileError:
            pass  # what was not read is read by dulwich when asked for
        return [remembered[sha] for sha in dict.fromkeys(shas) if sha in remembered]

    # --- finding and creating ------------------------------------------------------------------
    @classmethod
    def find(cls, start: Path | None = None) -> Repo:
        start = (start or Path.cwd()).resolve()
        for folder in (start, *start.parents):
            if (folder / REPO_DIR / "HEAD").is_file():
                return cls(folder)
        raise NotARepoError(start)

    @classmethod
    def open(cls, git_dir: Path) -> Repo:
        """Open a collaboration by its git folder: a project's ``.hitrec`` or a hub's bare ``name.git``."""
        git_dir = Path(git_dir).resolve()
        if not (git_dir / "HEAD").is_file() or not (git_dir / "objects").is_dir():
            raise NotARepoError(git_dir)
        return cls(git_dir.parent if git_dir.name == REPO_DIR else git_dir, git_dir)

    @classmethod
    def init(cls, root: Path) -> Repo:
        """Create an empty repo in ``root``. It is built aside (``.hitrec-init-<pid>`` beside it) and
        renamed into place, so a full disk or a crash never leaves a half-made ``.hitrec`` that a re-run
        takes for a repo; what a failed init wrote is removed, what a killed one wrote goes at the next."""
        root = root.resolve()
        git_dir = root / REPO_DIR
        if git_dir.exists():
            raise RepoExistsError(git_dir)
        root.mkdir(parents=True, exist_ok=True)
        _remove_dead_inits(root)
        aside = root / f"{INIT_PREFIX}{os.getpid()}"
        try:
            with _quiet_unraisable_os_errors():
                _init_bare(aside)
            try:
                os.rename(aside, git_dir)
            except OSError as exc:
                if git_dir.exists():
                    raise RepoExistsError(git_dir) from exc
                raise
            fsync_dir(root)
        except BaseException as exc:
            shutil.rmtree(aside, ignore_errors=True)
            if isinstance(exc, OSError) and exc.filename is None:  # say where: a full disk, a read-only one
                raise OSError(exc.errno, exc.strerror, str(git_dir)) from exc
            raise
        return cls(root)

    # --- raw access --------------------------------------------------------------------------
    @cached_property
    def dulwich(self) -> dulwich.repo.Repo:
        from dulwich.repo import Repo as GitRepo

        return GitRepo(str(self.git_dir))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The writer lock. Taking it clears what killed writers left: their media temp files, their
        temp packs and the git lock files no live process holds (see ``clear_stale_locks``)."""
        with write_lock(self.lock_path):
            self.clear_stale_locks()
            clear_dead_pack_temps(self.git_dir)
            self.media.remove_stale_temp_files()
            yield

    def clear_stale_locks(self) -> list[Path]:
        """Remove the git lock files (``<ref>.lock``, ``packed-refs.lock``, ...) of writers that died;
        LockTimeoutError, naming the process, for one a live process holds too long. Returns what was
        removed. Callers hold the repo lock (``lock()`` calls this)."""
        return clear_stale_locks(self.git_dir)

    def catalog_head(self) -> str | None:
        """The catalog commit, read straight from the ref files (no dulwich import on this path)."""
        return read_ref(self.git_dir, CATALOG_REF)

    def set_catalog_head(self, sha: str) -> None:
        """Move the catalog ref atomically. Callers hold the repo lock. The temp file is git's own
        ``main.lock`` name, which git and dulwich skip when listing refs, so a crash leaves no bad ref."""
        ref = self.git_dir / CATALOG_REF
        ref.parent.mkdir(parents=True, exist_ok=True)
        tmp = ref.with_name("main.lock")
        try:
            with open(tmp, "w") as f:
                f.write(sha + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, ref)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(ref.parent)

    # --- settings ----------------------------------------------------------------------------
    def config_get(self, key: str, default: str | None = None) -> str | None:
        value = config_mod.lookup(key, self.config_path)
        return default if value is None else value

    def identity(self) -> Person:
        return config_mod.identity(self.config_path)

    # --- the index ---------------------------------------------------------------------------
    @cached_property
    def _index(self) -> Index:
        path = self.git_dir / INDEX_FILE
        try:
            return Index(path)
        except IndexUnavailable:
            return self._memory_index()  # a full disk or a read-only folder: read git into memory
        except IndexDamaged:
            self._set_aside_index()  # the index is only a cache of git: a damaged one is rebuilt
            try:
                return Index(path)
            except IndexUnavailable:
                return self._memory_index()
            except IndexDamaged as exc:
                raise CorruptRepoError(f"cannot open the index {path}: {exc.__cause__}") from exc

    def _set_aside_index(self) -> None:
        path = self.git_dir / INDEX_FILE
        for suffix in ("", "-wal", "-shm"):
            damaged = path.with_name(path.name + suffix)
            if damaged.exists():
                os.replace(damaged, damaged.with_name(damaged.name + ".damaged"))

    def replace_damaged_index(self) -> int:
        """Set a damaged index aside (``index.sqlite.damaged``) and build a new one from git, under the
        writer lock. Returns how many fragments it holds."""
        with self.lock():
            index = self.__dict__.pop("_index", None)
            if index is not None:
                index.close()
            self._set_aside_index()
            self.index_stale = False
            return self.index.count()

    def _memory_index(self) -> Index:
        """An index in memory, rebuilt from git, for when the one on disk cannot be written."""
        self.index_stale = True
        index = Index(None)
        self.__dict__["_index"] = index
        return index

    @property
    def index(self) -> Index:
        """The index, brought up to date with the catalog first. Where the index on disk cannot be
        brought up to date (a full disk), an in-memory one is, from git: reads always work."""
        index = self._index
        head = self.catalog_head()
        if index.indexed_catalog() != (head or ""):
            try:
                self._refresh_index(index)
            except IndexUnavailable:
                if index.path is None:
                    raise
                index = self._memory_index()
                self._refresh_index(index)
        return index

    def update_index(self, rows: Sequence[IndexRow], catalog: str) -> bool:
        """Add the index rows (``index.fragment_row``) of just-recorded or merged fragments (the catalog
        ref has already moved to ``catalog``). False when the index could not be written (a full disk):
        the fragments are recorded all the same, and the index, a cache, catches up from git on the next
        read that can write it."""
        index = self._index
        try:
            with index.transaction():
                index.insert_rows(rows)
                index.set_catalog(catalog)
        except IndexUnavailable:
            return False
        return not self.index_stale

    def _refresh_index(self, index: Index) -> None:
        with index.transaction():
            head = self.catalog_head()  # read inside the transaction: a writer may have moved it
            indexed = index.indexed_catalog()
            if indexed == (head or ""):
                index.rollback()  # nothing to write
                return
            known_catalog = indexed if indexed and self._has_object(indexed) else None
            if known_catalog is None:
                index.reset()
            new_ids = self.fragment_ids_between(head, known_catalog) if head else []
            index.insert(self.load_fragment(i) for i in new_ids)
            index.set_catalog(head)

    def rebuild_index(self) -> int:
        """Rebuild the index from git in one transaction, under the writer lock."""
        with self.lock():
            index = self._index
            with index.transaction():
                index.reset()
                head = self.catalog_head()
                index.insert(self.load_fragment(i) for i in self.fragment_ids_between(head, None))
                index.set_catalog(head)
            return index.count()

    # --- reading fragments ------------------------------------------------------------------
    def _has_object(self, sha: str) -> bool:
        from dulwich.objects import ObjectID

        return ObjectID(sha.encode()) in self.dulwich.object_store

    def _catalog_tree(self, catalog: str | None) -> bytes | None:
        if catalog is None:
            return None
        from hitrec.store.records import read_commit

        return read_commit(self.dulwich.object_store, catalog.encode()).tree

    def fragment_ids_between(self, new: str | None, old: str | None) -> list[str]:
        """Fragments in catalog ``new`` and not in catalog ``old``, by comparing shard trees. Catalog
        commits never change, so the answer is kept for the last pair asked (a pull asks twice: to find
        the new media, then to merge)."""
        key = (new, old)
        if self._between is not None and self._between[0] == key:
            return list(self._between[1])
        out = self._fragment_ids_between(new, old)
        self._between = (key, tuple(out))
        return out

    def _fragment_ids_between(self, new: str | None, old: str | None) -> list[str]:
        from hitrec.store.records import catalog_entries

        store = self.dulwich.object_store
        new_shards = catalog_entries(store, self._catalog_tree(new))
        old_shards = catalog_entries(store, self._catalog_tree(old))
        out: list[str] = []
        for key, shard in new_shards.items():
            old_shard = old_shards.get(key)
            if old_shard is not None and old_shard.id == shard.id:
                continue
            old_names = {e.path for e in old_shard.items()} if old_shard is not None else set()
            out.extend(e.path.decode() for e in shard.items() if e.path not in old_names)
        return out

    def load_fragment(self, fragment_id: str) -> Fragment:
        """Read a fragment from git (the index is only a cache of this)."""
        return self._load_fragment(fragment_id)[0]

    def load_checked_fragment(self, fragment_id: str) -> Fragment:
        """The fragment, after checking that its media's LFS pointer file says what fragment.yaml says
        (CorruptRepoError if not). The pointer is read only when it is not byte for byte the one hitrec
        writes for that media, which its blob id in the tree tells (``format.pointer_blob_id``)."""
        from hitrec.store.format import parse_pointer, pointer_blob_id

        fragment, (mode, pointer_id) = self._load_fragment(fragment_id)
        media = fragment.media
        # the id vouches for the bytes of a file only: a submodule entry needs no object behind it
        if not stat.S_ISREG(mode) or pointer_id != pointer_blob_id(media.oid, media.size):
            try:
                pointer = self.git_object(pointer_id).data
                matches = parse_pointer(pointer) == (media.oid, media.size)
            except (KeyError, AttributeError, CorruptRepoError):
                matches = False
            if not matches:
                raise CorruptRepoError(f"fragment {fragment_id[:12]}: its LFS pointer and fragment.yaml disagree")
        return fragment

    def _load_fragment(self, fragment_id: str) -> tuple[Fragment, tuple[int, bytes]]:
        """The fragment and the tree entry (mode, git id) of its media's LFS pointer file."""
        from hitrec.store.records import of_kind, parse_fragment_yaml

        try:
            commit = of_kind(self.git_object(fragment_id.encode()), b"commit", fragment_id.encode())
            tree = of_kind(self.git_object(commit.tree), b"tree", commit.tree)
            _, yaml_id = tree[_FRAGMENT_YAML]
            blob = of_kind(self.git_object(yaml_id), b"blob", yaml_id)
            record = parse_fragment_yaml(blob.data, f"fragment {fragment_id[:12]}")
        except KeyError as exc:
            raise CorruptRepoError(f"fragment {fragment_id[:12]} is missing from the git objects; "
                                   "run `hitrec fsck`") from exc
        where = f"fragment {fragment_id[:12]}"
        media = dict(record["media"])
        media["kind"] = record.get("kind")
        _check_record(record, media, where)
        try:
            pointer_entry = tree[media["filename"].encode()]
        except KeyError as exc:
            raise CorruptRepoError(f"{where}: its media file {media['filename']!r} is not in its tree") from exc
        tz = _zone(commit.author_timezone)
        fragment = Fragment(
            id=fragment_id,
            kind=str(record.get("kind")),
            title=str(record.get("title") or ""),
            author=Person.parse(commit.author.decode("utf-8", "replace")),
            created=datetime.fromtimestamp(commit.author_time, tz),
            parents=tuple(p.decode() for p in commit.parents),
            tags=tuple(record.get("tags") or ()),
            license=str(record.get("license") or ""),
            project=record.get("project"),
            media=MediaInfo.from_json(media),
            has_timeline=_TIMELINE_YAML in tree,
        )
        return fragment, pointer_entry

    def resolve(self, ref: str) -> str:
        """The full id of a fragment named by its id or a unique prefix of 4+ hex characters."""
        ref = ref.strip().lower()
        if len(ref) < MIN_PREFIX or not set(ref) <= HEX:
            raise UnknownFragmentError(ref, f"a fragment id is {MIN_PREFIX} to 40 hex characters")
        matches = self.index.ids_with_prefix(ref)
        if not matches:
            raise UnknownFragmentError(ref)
        if len(matches) > 1:
            raise AmbiguousFragmentError(ref, matches)
        return matches[0]

    def fragment(self, ref: str) -> Fragment:
        found = self.index.get(self.resolve(ref))
        assert found is not None
        return found

    def fragments(self, *, author: str | None = None, kind: str | None = None, tag: str | None = None,
                  project: str | None = None, limit: int | None = None) -> list[Fragment]:
        if kind is not None and kind not in KINDS:
            raise UsageError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        return self.index.query(author=author, kind=kind, tag=tag, project=project, limit=limit)

    def fragments_json(self, *, author: str | None = None, kind: str | None = None, tag: str | None = None,
                       project: str | None = None, limit: int | None = None) -> list[str]:
        """``fragments()`` as JSON documents, one string each: listing 10,000 takes milliseconds."""
        if kind is not None and kind not in KINDS:
            raise UsageError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        return self.index.query_json(author=author, kind=kind, tag=tag, project=project, limit=limit)

    def children(self, fragment_id: str) -> list[str]:
        return self.index.children(fragment_id)

    def read_fragment_file(self, fragment_id: str, name: str) -> bytes | None:
        from hitrec.store.records import read_blob, read_commit, read_tree

        store = self.dulwich.object_store
        try:
            tree = read_tree(store, read_commit(store, fragment_id.encode()).tree)
        except KeyError as exc:
            raise CorruptRepoError(f"fragment {fragment_id[:12]} is missing from the git objects; "
                                   "run `hitrec fsck`") from exc
        try:
            _, blob_id = tree[name.encode()]
        except KeyError:
            return None
        return read_blob(store, blob_id).data

    def media_path(self, oid: str) -> Path:
        """Where the local store keeps an object: for hitrec.store and the tests. Everything else reads
        media through ``self.media`` (``open_read``, or ``local_path`` for a file ffmpeg reads), so any
        MediaStore can back it (tests/test_architecture.py holds that)."""
        return self.media.path(oid)

    def has_media(self, oid: str) -> bool:
        return self.media.has(oid)

    def media_oids(self, fragment_ids: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for fid in fragment_ids:
            fragment = self._index.get(fid) or self.load_fragment(fid)
            out[fragment.media.oid] = fragment.media.size
        return out

    # --- writing -------------------------------------------------------------------------------
    def record(self, specs: Sequence[FragmentSpec], progress: ProgressFn | None = None) -> list[Fragment]:
        """Record fragments; DuplicateMediaError if one's media is already recorded."""
        result = self.record_batch(specs, progress)
        if result.existing:
            spec, existing = result.existing[0]
            raise DuplicateMediaError(spec.path, existing.id, str(existing.author))
        return result.recorded

    def record_batch(self, specs: Sequence[FragmentSpec], progress: ProgressFn | None = None) -> RecordResult:
        """Record fragments, skipping those whose media is already recorded (reported back)."""
        from hitrec.store.writer import record_batch

        return record_batch(self, specs, progress)

    def merge_catalog(self, other: str, *, require_media: bool = True) -> str:
        from hitrec.store.writer import merge_catalog

        return merge_catalog(self, other, require_media=require_media)

    def close(self) -> None:
        if "_index" in self.__dict__:
            self._index.close()
        if "dulwich" in self.__dict__:
            self.dulwich.close()


INIT_PREFIX = ".hitrec-init-"
PRELOAD_MIN = 64  # fragments: below this, starting a git process costs more than it saves
def _init_bare(git_dir: Path) -> None:
    from dulwich.refs import Ref
    from dulwich.repo import Repo as GitRepo

    git_dir.mkdir()
    repo = GitRepo.init_bare(str(git_dir))
    try:
        repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(CATALOG_REF.encode()))
        (git_dir / "description").write_text("hitrec fragments\n")
        LocalMediaStore.init_of_repo(git_dir)
    finally:
        repo.close()


def _remove_dead_inits(root: Path) -> None:
    """Remove the folders aside of inits killed in ``root`` (their process is gone)."""
    for aside in root.glob(f"{INIT_PREFIX}*"):
        pid = aside.name[len(INIT_PREFIX):]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(aside, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _quiet_unraisable_os_errors() -> Iterator[None]:
    """dulwich's lock files retry their close in ``__del__`` after a write failed (a full disk), which
    prints "Exception ignored in: <function _GitFile.__del__ ...>" and a traceback: the write's own error
    says it already. The frames of a failure are cleared here, so those objects go while this holds."""
    import gc
    import sys
    import traceback

    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, OSError):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    except BaseException as exc:
        traceback.clear_frames(exc.__traceback__)
        gc.collect()
        raise
    finally:
        sys.unraisablehook = previous
