"""push, pull and clone: one function each, taking a repo and returning a result (nothing printed).

Order keeps both sides consistent at every step, so an interrupted run is simply run again:
- push: media the hub lacks (LFS batch, each verified by hash on the hub), then commits and the catalog
  ref (git smart HTTP). A non-fast-forward means someone else pushed: pull (which merges the catalogs by
  union), then push again, a bounded number of times.
- pull: commits into the local object store (a private ref), then the media those fragments reference
  that is missing here (each hash verified before it enters the store), and only then the catalog merge,
  so the local catalog never points at a fragment whose media is absent.
The remote-tracking ref ``refs/remotes/<name>/main`` moves only after a push or merge completed, so it
always names a catalog both sides hold in full.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitrec.errors import HitrecError, RemoteError, SyncError, UsageError
from hitrec.store.format import CATALOG_REF, SIDE_FILES, incoming_ref, read_ref, tracking_ref
from hitrec.sync import credentials, git
from hitrec.sync.credentials import Auth
from hitrec.sync.git import GitStats
from hitrec.sync.http import Http
from hitrec.sync.lfs import LfsClient, TransferStats
from hitrec.sync.remotes import add_remote, name_from_url, resolve_remote, split_url

if TYPE_CHECKING:
    from hitrec.store import Repo

ProgressFn = Callable[..., None]
MAX_PUSH_ATTEMPTS = 40  # rejected pushes (non-fast-forward) before giving up
BATCH_SYNC_MIN = 16  # downloading this many objects: small ones share one file-system sync
SMALL_MEDIA = 4 << 20


class _Totals:
    """Objects and bytes moved, git and media together (what the --json summaries report)."""

    git: git.GitStats
    media: TransferStats

    @property
    def objects(self) -> int:
        return self.git.objects + self.media.objects

    @property
    def bytes(self) -> int:
        return self.git.bytes + self.media.bytes


@dataclass
class PullResult(_Totals):
    remote: str
    url: str
    before: str | None  # local catalog head before
    head: str | None  # local catalog head after
    fetched: str | None  # the hub's catalog commit that was merged
    fragments: int = 0  # fragments new to this repo
    git: git.GitStats = field(default_factory=git.GitStats)
    media: TransferStats = field(default_factory=TransferStats)
    up_to_date: bool = False

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
        }


@dataclass
class PushResult(_Totals):
    remote: str
    url: str
    head: str | None  # the catalog commit now on the hub
    fragments: int = 0  # fragments the hub did not have
    git: git.GitStats = field(default_factory=git.GitStats)
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


class _Session:
    """One hub conversation: the remote, its credentials, one keep-alive HTTP client."""

    def __init__(self, repo: Repo, remote: str | None, auth: Auth | None = None) -> None:
        self.repo = repo
        self.name, self.url, url_creds = resolve_remote(repo.git_dir, remote)
        self.auth = auth or credentials.lookup(self.url, url_creds)
        self.http = Http()
        self.lfs = LfsClient(self.url, self.auth, http=self.http)

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    @property
    def tracking_ref(self) -> bytes:
        return tracking_ref(self.name).encode()

    @property
    def incoming_ref(self) -> str:
        return incoming_ref(self.name)

    def tracking(self) -> str | None:
        """The remote-tracking ref, read from its file (no dulwich import on the no-op pull path)."""
        return read_ref(self.repo.git_dir, self.tracking_ref.decode())

    def set_tracking(self, sha: str) -> None:
        if self.tracking() != sha:
            self.repo.dulwich.refs[self.tracking_ref] = sha.encode()

    def hub_head(self) -> tuple[bool, str | None]:
        """(collaboration exists, its catalog commit)."""
        refs = git.list_refs(self.http, self.url, self.auth)
        if refs is None:
            return False, None
        return True, refs.get(CATALOG_REF)

    def scrub(self, exc: HitrecError) -> HitrecError:
        if self.auth:
            exc.message = self.auth.scrub(exc.message)
            exc.args = (exc.message,)
        return exc


def _pull(session: _Session, progress: ProgressFn | None) -> PullResult:
    with session.repo.remembering_objects():  # the new fragments are read to find media, then to merge
        return _pull_remembering(session, progress)


def _pull_remembering(session: _Session, progress: ProgressFn | None) -> PullResult:
    repo = session.repo
    before = repo.catalog_head()
    result = PullResult(session.name, session.url, before, before, None)
    exists, hub_sha = session.hub_head()
    if not exists:
        raise RemoteError(f"no collaboration at {session.url}. Check the name, or push to create it.")
    if hub_sha is None or hub_sha in (before, session.tracking()):
        result.up_to_date = True
        result.fetched = hub_sha
        if hub_sha is not None and hub_sha == before:
            session.set_tracking(hub_sha)
        return result
    if progress:
        progress(0, description="receiving commits")
    result.git = git.fetch(repo.git_dir, session.url, session.auth, session.incoming_ref,
                           have=(before, session.tracking()), progress=progress)
    fetched = repo.dulwich.refs[session.incoming_ref.encode()].decode()
    result.fetched = fetched
    new_ids = repo.fragment_ids_between(fetched, before)
    result.fragments = len(new_ids)
    wanted = {oid: size for oid, size in media_of(repo, new_ids).items() if not repo.has_media(oid)}
    # Every object is hashed and verified before it is renamed into the store, and on disk before the
    # catalog merge below can point at it: big ones are fsynced one by one (written back as they arrive),
    # many small ones share one file-system sync, as `Repo.record` does for a batch (an fsync costs
    # ~9 ms here whatever the size).
    batch = len(wanted) >= BATCH_SYNC_MIN
    result.media = session.lfs.download(wanted, _ingest(repo, batch), progress)
    if batch and result.media.objects:
        from hitrec.store.durable import sync_filesystem

        sync_filesystem(repo.media.objects_dir)
    result.head = repo.merge_catalog(fetched)
    session.set_tracking(fetched)
    return result


RESERVED = {name.encode() for name in SIDE_FILES}


def media_of(repo: Repo, fragment_ids: list[str]) -> dict[str, int]:
    """oid -> size of the media fetched fragments point to, read from their LFS pointer files: they are
    not in the index yet, and this is a third of the cost of loading each record (``Repo.media_oids``
    is the fallback for anything unusual)."""
    from hitrec.store.format import parse_pointer

    read = repo.git_object
    out: dict[str, int] = {}
    try:
        for fid in fragment_ids:
            tree = read(read(fid.encode()).tree)
            for entry in tree.items():
                if entry.path not in RESERVED and not entry.mode & 0o040000:
                    oid, size = parse_pointer(read(entry.sha).data)
                    out[oid] = size
    except Exception:  # an unusual tree: let the store decide what the media is
        return repo.media_oids(fragment_ids)
    return out


def _ingest(repo: Repo, batch: bool) -> Callable[..., Any]:
    if not batch:
        return repo.ingest_media_stream

    def ingest(chunks: Any, oid: str, size: int) -> Any:
        return repo.media.ingest_stream(chunks, oid, size, sync=size >= SMALL_MEDIA)

    return ingest


def pull(repo: Repo, remote: str | None = None, progress: ProgressFn | None = None, *,
         auth: Auth | None = None) -> PullResult:
    """Fetch the hub's catalog, download the media it references that is missing, then merge."""
    with _Session(repo, remote, auth) as session:
        try:
            return _pull(session, progress)
        except HitrecError as exc:
            raise session.scrub(exc) from exc.__cause__


def push(repo: Repo, remote: str | None = None, progress: ProgressFn | None = None, *,
         auth: Auth | None = None, max_attempts: int = MAX_PUSH_ATTEMPTS) -> PushResult:
    """Send the hub what it lacks: media first, then commits and the catalog ref; merge and retry on a
    non-fast-forward."""
    with _Session(repo, remote, auth) as session:
        try:
            return _push(session, progress, max_attempts)
        except HitrecError as exc:
            raise session.scrub(exc) from exc.__cause__


def _push(session: _Session, progress: ProgressFn | None, max_attempts: int) -> PushResult:
    from hitrec.sync.merge import union_commit

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
            if progress:
                progress(0, description="receiving commits")
            fetched = git.fetch(repo.git_dir, session.url, session.auth, session.incoming_ref,
                                have=(head, session.tracking()), progress=progress)
            result.received.objects += fetched.objects
            result.received.bytes += fetched.bytes
            base = repo.dulwich.refs[session.incoming_ref.encode()].decode()
            target = union_commit(repo, head, base)
            if target == base:  # the hub already holds all our fragments
                result.head = base
                result.up_to_date = result.objects == 0
                return _follow(session, result, progress)
        result.created = result.created or not exists
        new_ids = repo.fragment_ids_between(target, base)
        result.fragments = max(result.fragments, len(new_ids))
        sent = session.lfs.upload(repo.media_oids(new_ids), repo.media_path, progress)  # from the index
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


def _follow(session: _Session, result: PushResult, progress: ProgressFn | None) -> PushResult:
    """After pushing a union (or finding the hub ahead), bring the local catalog up to the hub: its
    media first, then the merge. The push itself has landed even if this pull fails."""
    try:
        result.pulls.append(_pull(session, progress))
    except HitrecError as exc:
        result.pull_error = str(exc)
    return result


def _add_media(total: TransferStats, more: TransferStats) -> None:
    total.objects += more.objects
    total.bytes += more.bytes
    total.present += more.present


def clone(url: str, dest: Path | None = None, progress: ProgressFn | None = None, *,
          auth: Auth | None = None) -> tuple[Repo, PullResult]:
    """Create a repo at ``dest`` (default: the collaboration's name) with remote ``origin`` and pull."""
    from hitrec.store import Repo

    clean, url_creds = split_url(url)
    dest = Path(dest) if dest is not None else Path.cwd() / name_from_url(clean)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} already exists and is not empty: choose another folder.")
    auth = auth or credentials.lookup(clean, url_creds)
    # Check the collaboration exists and we may read it before creating anything.
    with Http() as http:
        try:
            refs = git.list_refs(http, clean, auth)
        except HitrecError as exc:
            if auth:
                exc.message = auth.scrub(exc.message)
                exc.args = (exc.message,)
            raise
    if refs is None:
        raise RemoteError(f"no collaboration at {clean}. Check the URL.")
    created = not dest.exists()
    repo = Repo.init(dest)
    try:
        add_remote(repo.git_dir, "origin", clean)
    except BaseException:
        repo.close()
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    try:
        result = pull(repo, "origin", progress, auth=auth)
    except HitrecError as exc:
        repo.close()
        raise SyncError(f"{exc} (the clone in {dest} is incomplete: run `hitrec pull` inside it "
                        "to finish; what already arrived is not fetched again)") from exc
    return repo, result
