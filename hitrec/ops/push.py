"""`hitrec push`: send the hub what it lacks, media first, then commits and the catalog ref.

Media the hub lacks goes first (LFS batch, each object verified by hash on the hub), then commits and the
catalog ref (git smart HTTP), so the hub's ref never names absent media. A non-fast-forward means someone
else pushed first: fetch their commits, push the union of both catalogs at once, then pull (which brings
their media and merges locally), a bounded number of times. A ref update the hub refuses for any other
reason (a hook, a lock, a full disk) is reported as it is, at once.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.errors import HitrecError, RemoteError, SyncError, UsageError
from hitrec.ops.pull import PullResult, pull_in
from hitrec.progress import ProgressFn
from hitrec.sync import git
from hitrec.sync.credentials import Auth
from hitrec.sync.git import GitStats
from hitrec.sync.lfs import TransferStats
from hitrec.sync.remotes import media_on_demand
from hitrec.sync.session import Session, Totals

if TYPE_CHECKING:
    from hitrec.store import Repo

MAX_PUSH_ATTEMPTS = 40  # rejected pushes (non-fast-forward) before giving up


@dataclass
class PushResult(Totals):
    remote: str
    url: str
    head: str | None  # the catalog commit now on the hub
    fragments: int = 0  # fragments the hub did not have
    git: GitStats = field(default_factory=GitStats)
    media: TransferStats = field(default_factory=TransferStats)
    attempts: int = 0
    pulls: list[PullResult] = field(default_factory=list)  # merges needed because others pushed first
    up_to_date: bool = False
    created: bool = False  # the push created the collaboration on the hub
    received: GitStats = field(default_factory=GitStats)  # hub commits fetched to merge them
    pull_error: str | None = None  # the follow-up pull failed (the push itself landed): run `hitrec pull`

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "url": self.url,
            "up_to_date": self.up_to_date,
            "created": self.created,
            "head": self.head,
            "fragments": self.fragments,
            "sent": {"objects": self.objects, "bytes": self.bytes},
            "git": self.git.to_json(),
            "media": self.media.to_json(),
            "attempts": self.attempts,
            "merged": [p.to_json() for p in self.pulls if not p.up_to_date],
            "pull_error": self.pull_error,
        }


def push(repo: Repo, remote: str | None = None, progress: ProgressFn | None = None, *,
         auth: Auth | None = None, max_attempts: int = MAX_PUSH_ATTEMPTS) -> PushResult:
    """Send the hub what it lacks: media first, then commits and the catalog ref; merge and retry on a
    non-fast-forward."""
    with Session(repo, remote, auth) as session:
        try:
            return _push(session, progress, max_attempts)
        except HitrecError as exc:
            raise session.scrub(exc) from exc.__cause__


def _push(session: Session, progress: ProgressFn | None, max_attempts: int) -> PushResult:
    from hitrec.store.writer import union_commit

    repo = session.repo
    result = PushResult(session.name, session.url, None)
    rejected = 0
    for _ in range(max_attempts * 4):  # bounded even if the hub keeps moving between our requests
        result.attempts += 1
        head = repo.catalog_head()
        exists, hub_sha = session.hub_head()
        if head is None:
            if not exists:
                raise UsageError("nothing to push: this repo has no fragments yet. "
                                 "Record some with `hitrec add`.")
            result.up_to_date = True
            result.head = hub_sha
            return result
        if hub_sha == head:
            session.set_tracking(head)
            result.up_to_date = result.objects == 0
            result.head = head
            return result
        target, base = head, hub_sha
        if hub_sha is not None and hub_sha != session.tracking():
            # Someone pushed since we last synced: take their commits (not yet their media) and push
            # the union of both catalogs right away; the local catalog follows in the pull below.
            base, fetched = session.fetch((head, session.tracking()), progress)
            result.received.objects += fetched.objects
            result.received.bytes += fetched.bytes
            target = union_commit(repo, head, base)
            if target == base:  # the hub already holds all our fragments
                result.head = base
                result.up_to_date = result.objects == 0
                return _follow(session, result, progress)
        if not exists and not result.created:
            session.check_writable()  # before any media moves
        result.created = result.created or not exists
        new_ids = repo.fragment_ids_between(target, base)
        result.fragments = max(result.fragments, len(new_ids))
        sent = session.lfs.upload(repo.media_oids(new_ids), repo.media.local_path, progress)  # from the index
        _add_media(result.media, sent)
        if progress:
            progress(0, description="sending commits")
        outcome = git.push(repo.git_dir, session.url, session.auth, target, progress=progress)
        result.git.objects += outcome.stats.objects
        result.git.bytes += outcome.stats.bytes
        if outcome.status in ("ok", "up-to-date"):
            result.head = target
            if target == head:
                session.set_tracking(head)
                return result
            return _follow(session, result, progress)
        if outcome.status != "non-fast-forward":
            raise RemoteError(f"the hub refused the push: {outcome.reason or 'no reason given'}")
        rejected += 1  # noqa: SIM113  (counts rejections, not loop turns)
        if rejected >= max_attempts:
            break
        # Back off a random, growing while so racing pushers spread out instead of colliding again.
        time.sleep(random.uniform(0.0, min(1.5, 0.05 * 2 ** rejected)))
    raise SyncError(f"gave up after {result.attempts} attempts: others kept pushing to {session.url} "
                    "faster than this push could merge their work. Run `hitrec push` again.")


def _follow(session: Session, result: PushResult, progress: ProgressFn | None) -> PushResult:
    """After pushing a union (or finding the hub ahead), bring the local catalog up to the hub: its
    media first, then the merge. The push itself has landed even if this pull fails."""
    try:
        result.pulls.append(pull_in(session, progress, media=not media_on_demand(session.repo.git_dir, session.name)))
    except HitrecError as exc:
        result.pull_error = str(exc)
    return result


def _add_media(total: TransferStats, more: TransferStats) -> None:
    total.objects += more.objects
    total.bytes += more.bytes
    total.present += more.present
