"""`hitrec fetch`: bring the media of fragments (or of every fragment) from the hubs that hold it, ahead
of the commands that would fetch it on demand (a metadata-only clone: `hitrec clone --no-media`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.errors import UsageError
from hitrec.progress import ProgressFn

if TYPE_CHECKING:
    from hitrec.store import Fragment, Repo
    from hitrec.sync.credentials import Auth


@dataclass
class FetchResult:
    fragments: int  # fragments asked about
    present: int  # of their media objects, already here
    objects: int  # fetched
    bytes: int
    fetched: list[str] = field(default_factory=list)  # oids fetched

    def to_json(self) -> dict[str, Any]:
        return {"fragments": self.fragments, "present": self.present,
                "fetched": {"objects": self.objects, "bytes": self.bytes, "oids": self.fetched}}


def fetch(repo: Repo, refs: list[str], *, every: bool = False, sources: bool = False,
          progress: ProgressFn | None = None, auth: Auth | None = None) -> FetchResult:
    """Fetch the absent media of the fragments ``refs`` names (``sources``: and of what each was made
    from), or of every fragment in the catalog (``every``)."""
    from hitrec.sync.fetch import MediaFetcher

    if every == bool(refs):
        raise UsageError("name the fragments to fetch, or use --all for every fragment (not both)")
    fragments = _chosen(repo, refs, every=every, sources=sources)
    unique: dict[str, Fragment] = {}
    for fragment in fragments:
        unique.setdefault(fragment.media.oid, fragment)
    with MediaFetcher(repo, progress, auth) as fetcher:
        stats = fetcher.ensure(unique.values())
    return FetchResult(len(fragments), stats.present, stats.objects, stats.bytes, stats.fetched_oids)


def _chosen(repo: Repo, refs: list[str], *, every: bool, sources: bool) -> list[Fragment]:
    if every:
        return repo.fragments()
    chosen = [repo.fragment(ref) for ref in refs]
    if sources:
        chosen += [repo.fragment(parent) for fragment in chosen for parent in fragment.parents]
    return chosen
