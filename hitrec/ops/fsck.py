"""`hitrec fsck`: check git objects, every fragment record, every media hash, and the index."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.errors import HitrecError
from hitrec.progress import ProgressFn
from hitrec.store.format import parse_pointer
from hitrec.store.index import IndexDamaged

if TYPE_CHECKING:
    from hitrec.store import Repo


@dataclass
class Problem:
    what: str
    fragment: str | None = None
    oid: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"fragment": self.fragment, "oid": self.oid, "problem": self.what}


@dataclass
class FsckResult:
    fragments: int = 0
    media_checked: int = 0
    not_fetched: int = 0  # media objects absent here that a hub holds (a metadata-only clone, or pruned)
    git_objects: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "fragments": self.fragments, "media_checked": self.media_checked,
                "not_fetched": self.not_fetched, "git_objects": self.git_objects,
                "problems": [p.to_json() for p in self.problems], "notes": self.notes}


def fsck(repo: Repo, *, hash_media: bool = True, progress: ProgressFn | None = None) -> FsckResult:
    from hitrec.store.records import catalog_fragment_trees

    result = FsckResult()
    store: Any = repo.dulwich.object_store  # dulwich's objects are read by kind below
    result.git_objects = _check_git_objects(store, result)
    head = repo.catalog_head()
    if head is None:
        result.notes.append("the repo has no fragments yet")
        return result
    try:
        catalog = store[head.encode()]
        fragment_trees = catalog_fragment_trees(store, catalog.tree)
    except KeyError:
        result.problems.append(Problem(f"the catalog commit {head[:12]} or its tree is missing"))
        return result
    result.fragments = len(fragment_trees)
    from hitrec.sync.fetch import Catalogs

    hubs = Catalogs(repo)
    referenced: set[str] = set()
    checked: set[str] = set()
    if progress:
        progress(0, total=len(fragment_trees))
    for fragment_id, tree_id in sorted(fragment_trees.items()):
        checked_media = _check_fragment(repo, fragment_id, tree_id, result)
        if checked_media is not None:
            oid, size = checked_media
            referenced.add(oid)
            if oid not in checked:
                checked.add(oid)
                if not repo.media.has(oid) and hubs.remote_of(fragment_id) is not None:
                    result.not_fetched += 1  # not fetched (yet): its hub holds it, commands fetch it
                    if progress:
                        progress(1)
                    continue
                problem = repo.media.verify(oid) if hash_media else _quick_check(repo, oid, size)
                result.media_checked += 1
                if problem:
                    result.problems.append(Problem(f"media {oid[:12]} is {problem}", fragment_id, oid))
        if progress:
            progress(1)
    _check_index(repo, fragment_trees, result)
    if result.not_fetched:
        result.notes.append(f"{result.not_fetched} media object(s) not fetched: the hub holds them, and the "
                            "commands that read them fetch them (`hitrec fetch --all` gets them all now)")
    unreferenced = [oid for oid in repo.media.oids() if oid not in referenced]
    if unreferenced:
        result.notes.append(f"{len(unreferenced)} media object(s) no fragment refers to (left by an "
                            "interrupted add or pull; harmless)")
    leftovers = repo.media.temp_files()
    if leftovers:
        result.notes.append(f"{len(leftovers)} temporary file(s) in {leftovers[0].parent} from interrupted "
                            "writes (harmless)")
    return result


def _quick_check(repo: Repo, oid: str, size: int) -> str | None:
    if not repo.media.has(oid):
        return "missing"
    if repo.media.size(oid) != size:
        return f"truncated or damaged ({repo.media.size(oid)} bytes, expected {size})"
    return None


def _check_git_objects(store: Any, result: FsckResult) -> int:
    count = 0
    for sha in store:
        count += 1
        try:
            store[sha].check()
        except Exception as exc:  # dulwich raises several kinds (ObjectFormatException, zlib, checksum)
            result.problems.append(Problem(f"git object {sha.decode()[:12]} is damaged: {exc}"))
    return count


def _check_fragment(repo: Repo, fragment_id: str, tree_id: bytes, result: FsckResult) -> tuple[str, int] | None:
    store: Any = repo.dulwich.object_store
    try:
        commit = store[fragment_id.encode()]
        if commit.tree != tree_id:
            result.problems.append(Problem("the catalog lists a tree that is not the fragment's", fragment_id))
        fragment = repo.load_fragment(fragment_id)
        tree = store[commit.tree]
        _, pointer_id = tree[fragment.media.filename.encode()]
        oid, size = parse_pointer(store[pointer_id].data)
    except KeyError as exc:
        result.problems.append(Problem(f"part of the fragment's record is missing ({exc})", fragment_id))
        return None
    except HitrecError as exc:
        result.problems.append(Problem(str(exc), fragment_id))
        return None
    if oid != fragment.media.oid or size != fragment.media.size:
        result.problems.append(Problem("fragment.yaml and the LFS pointer disagree on the media", fragment_id))
    for parent in commit.parents:
        if parent not in store:
            result.problems.append(Problem(f"its source {parent.decode()[:12]} is missing", fragment_id))
    return oid, size


def _check_index(repo: Repo, fragment_trees: dict[str, bytes], result: FsckResult) -> None:
    try:
        indexed = set(repo.index.all_ids())
    except IndexDamaged as exc:
        count = repo.replace_damaged_index()
        result.notes.append(f"the index was damaged ({exc.__cause__}); set it aside as index.sqlite.damaged "
                            f"and rebuilt it from git ({count} fragments)")
        return
    except HitrecError as exc:
        result.problems.append(Problem(f"the index cannot be brought up to date: {exc}"))
        return
    if indexed != set(fragment_trees):
        count = repo.rebuild_index()
        result.notes.append(f"the index disagreed with git; rebuilt it ({count} fragments)")
