"""`hitrec prune`: free the local media that a hub is confirmed to hold, never the only copy.

An object is removed only when every fragment here that uses it is in a hub's catalog (so the hub must
hold it: its pre-receive check refuses a catalog whose media it lacks) and that hub, asked now, answers
with a download address for it. Anything only this repo has (fragments not yet pushed, or whose hub
cannot be reached) stays. What was pruned is "not fetched" from then on: the commands that read it
fetch it again on demand (hitrec.sync.fetch), and `hitrec fsck` does not count it as missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.progress import ProgressFn

if TYPE_CHECKING:
    from hitrec.store import Repo


@dataclass
class PruneResult:
    removed: int = 0  # objects freed (or, with dry_run, that would be)
    bytes: int = 0
    kept_only_copy: int = 0  # objects some fragment here uses that no hub's catalog has
    kept_unconfirmed: int = 0  # objects the hub did not confirm holding
    dry_run: bool = False
    oids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"removed": self.removed, "bytes": self.bytes, "dry_run": self.dry_run,
                "kept": {"only_copy": self.kept_only_copy, "unconfirmed": self.kept_unconfirmed},
                "oids": self.oids}


def prune(repo: Repo, refs: list[str] | None = None, *, dry_run: bool = False,
          progress: ProgressFn | None = None) -> PruneResult:
    """Remove local media the hubs hold (of the fragments ``refs`` names; default every fragment)."""
    from hitrec.sync.fetch import Catalogs

    result = PruneResult(dry_run=dry_run)
    every = repo.fragments()
    chosen = every if not refs else [repo.fragment(ref) for ref in refs]
    catalogs = Catalogs(repo)
    hub_of = {f.id: catalogs.remote_of(f.id) for f in every}
    only_here = {f.media.oid for f in every if hub_of[f.id] is None}
    by_remote: dict[str, dict[str, int]] = {}
    kept: set[str] = set()
    for fragment in chosen:
        oid = fragment.media.oid
        remote = hub_of.get(fragment.id, catalogs.remote_of(fragment.id))
        if oid in kept or not repo.media.has(oid):
            continue
        if oid in only_here or remote is None:
            kept.add(oid)
            continue
        by_remote.setdefault(remote, {})[oid] = fragment.media.size
    result.kept_only_copy = len(kept)
    for remote, objects in by_remote.items():
        confirmed = _confirmed(repo, remote, objects)
        result.kept_unconfirmed += len(objects) - len(confirmed)
        _remove(repo, sorted(confirmed), objects, result, progress)
    return result


def _confirmed(repo: Repo, remote: str, objects: dict[str, int]) -> set[str]:
    """The objects the remote's LFS server answers a download address for (it holds them, whole)."""
    from hitrec.errors import HitrecError
    from hitrec.sync.session import Session

    confirmed: set[str] = set()
    with Session(repo, remote) as session:
        items = sorted(objects.items())
        step = session.lfs.batch_size
        for start in range(0, len(items), step):
            try:
                status = session.lfs.compare("download", items[start:start + step])
            except HitrecError as exc:
                raise session.scrub(exc) from exc.__cause__
            confirmed.update(p.oid for p in status.missing)  # a download address: the hub holds it
    return confirmed


def _remove(repo: Repo, oids: list[str], sizes: dict[str, int], result: PruneResult,
            progress: ProgressFn | None) -> None:
    if progress and oids:
        progress(0, total=len(oids), description="pruning media")
    with repo.lock():  # no pull or add stores (or relies on) an object while it goes
        for oid in oids:
            if repo.media.has(oid) if result.dry_run else repo.media.remove(oid):
                result.removed += 1
                result.bytes += sizes[oid]
                result.oids.append(oid)
            if progress:
                progress(1)
