"""`hitrec pull`: fetch the hub's catalog, download the media it references that is missing, then merge.

Order keeps the repo consistent at every step, so an interrupted pull is simply run again: commits go
into the local object store (the private incoming ref), then the media those fragments reference that is
missing here (each hash verified before it enters the store), and only then the catalog merge, so the
local catalog never points at a fragment whose media is absent. The remote-tracking ref
``refs/remotes/<name>/main`` moves only after the merge, so it always names a catalog both sides hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.errors import HitrecError, RemoteError
from hitrec.progress import ProgressFn
from hitrec.sync.credentials import Auth
from hitrec.sync.git import GitStats
from hitrec.sync.lfs import TransferStats
from hitrec.sync.session import Session, Totals, download_media

if TYPE_CHECKING:
    from hitrec.store import Repo


@dataclass
class PullResult(Totals):
    remote: str
    url: str
    before: str | None  # local catalog head before
    head: str | None  # local catalog head after
    fetched: str | None  # the hub's catalog commit that was merged
    fragments: int = 0  # fragments new to this repo
    git: GitStats = field(default_factory=GitStats)
    media: TransferStats = field(default_factory=TransferStats)
    up_to_date: bool = False
    media_on_demand: bool = False  # records only: media is fetched when a command needs it


    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "url": self.url,
            "up_to_date": self.up_to_date,
            "before": self.before,
            "head": self.head,
            "fragments": self.fragments,
            "received": {"objects": self.objects, "bytes": self.bytes},
            "git": self.git.to_json(),
            "media": self.media.to_json(),
            "media_on_demand": self.media_on_demand,
        }


def pull(repo: Repo, remote: str | None = None, progress: ProgressFn | None = None, *,
         auth: Auth | None = None, media: bool | None = None) -> PullResult:
    """Fetch the hub's catalog, download the media it references that is missing, then merge.

    ``media=False`` (``--no-media``) fetches records, lineage and timelines only and remembers that for
    the remote (its later pulls do the same; ``media=True`` turns it back); None: as the remote says."""
    from hitrec.sync.remotes import media_on_demand, set_media_on_demand

    with Session(repo, remote, auth) as session:
        try:
            if media is not None:
                set_media_on_demand(repo.git_dir, session.name, not media)
            on_demand = media_on_demand(repo.git_dir, session.name) if media is None else not media
            return pull_in(session, progress, media=not on_demand)
        except HitrecError as exc:
            raise session.scrub(exc) from exc.__cause__


def pull_in(session: Session, progress: ProgressFn | None, *, media: bool = True) -> PullResult:
    """A pull within an open session (push and clone call this too)."""
    with session.repo.remembering_objects():  # the new fragments are read to find media, then to merge
        return _pull(session, progress, media)


def _pull(session: Session, progress: ProgressFn | None, media: bool) -> PullResult:
    repo = session.repo
    before = repo.catalog_head()
    result = PullResult(session.name, session.url, before, before, None, media_on_demand=not media)
    exists, hub_sha = session.hub_head()
    if not exists:
        raise RemoteError(f"no collaboration at {session.url}. Check the name, or push to create it.")
    if hub_sha is None or hub_sha in (before, session.tracking()):
        result.up_to_date = True
        result.fetched = hub_sha
        if hub_sha is not None and hub_sha == before:
            session.set_tracking(hub_sha)
        return result
    fetched, result.git = session.fetch((before, session.tracking()), progress)
    from hitrec.store.writer import crash_point

    crash_point("pull-fetched")
    result.fetched = fetched
    new_ids = repo.fragment_ids_between(fetched, before)
    result.fragments = len(new_ids)
    if media:
        result.media = download_media(session, new_ids, progress)
    crash_point("pull-media-fetched")
    result.head = repo.merge_catalog(fetched, require_media=media)
    crash_point("pull-merged")
    session.set_tracking(fetched)
    return result
