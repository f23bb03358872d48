"""One conversation with a hub, shared by push, pull and clone (hitrec.ops.push/pull/clone).

A ``Session`` holds the remote's name and URL, its credentials and one keep-alive HTTP client, and does
the few things every operation needs: list the hub's catalog ref, fetch its commits into the private
incoming ref, and move the remote-tracking ref. Every local ref it writes is written under the repo
lock, after clearing lock files that dead writers left behind (see ``write_refs``), so a push or pull
killed at any moment never blocks the next one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hitrec.errors import DamagedMediaError, HitrecError, LockTimeoutError, RemoteError, SyncError
from hitrec.progress import ProgressFn
from hitrec.store.format import CATALOG_REF, SIDE_FILES, incoming_ref, is_catalog_tree, read_ref, tracking_ref
from hitrec.sync import credentials, git
from hitrec.sync.credentials import Auth
from hitrec.sync.http import Http
from hitrec.sync.lfs import LfsClient, TransferStats
from hitrec.sync.remotes import lfs_url, origin_of, resolve_remote

if TYPE_CHECKING:
    from hitrec.store import Repo

BATCH_SYNC_MIN = 16  # downloading this many objects: small ones share one file-system sync
RESERVED = {name.encode() for name in SIDE_FILES}


class Totals:
    """Objects and bytes moved, git and media together (what the --json summaries report)."""

    git: git.GitStats
    media: TransferStats

    @property
    def objects(self) -> int:
        return self.git.objects + self.media.objects

    @property
    def bytes(self) -> int:
        return self.git.bytes + self.media.bytes


class Session:
    """One hub conversation: the remote, its credentials, one keep-alive HTTP client."""

    def __init__(self, repo: Repo, remote: str | None, auth: Auth | None = None) -> None:
        self.repo = repo
        self.name, self.url, url_creds = resolve_remote(repo.git_dir, remote)
        self.auth = auth or credentials.lookup(self.url, url_creds, git_dir=repo.git_dir)
        self.http = Http()
        self.lfs = LfsClient(self.url, self.auth, http=self.http)
        self._lfs_commit: str | None = None  # the catalog whose .lfsconfig counts (None: the local one)
        self.lfs.locate = self._lfs_url

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.http.close()
        if exc is not None:
            release_frames(exc)

    @property
    def tracking_ref(self) -> str:
        return tracking_ref(self.name)

    @property
    def incoming_ref(self) -> str:
        return incoming_ref(self.name)

    def tracking(self) -> str | None:
        """The remote-tracking ref, read from its file (no dulwich import on the no-op pull path)."""
        return read_ref(self.repo.git_dir, self.tracking_ref)

    def set_tracking(self, sha: str) -> None:
        if self.tracking() != sha:
            with write_refs(self.repo):
                set_ref(self.repo, self.tracking_ref, sha)

    def _lfs_url(self) -> str | None:
        """The LFS server the git config or the catalog's ``.lfsconfig`` names (lfs.url), if any (asked
        by the LFS client when media first moves); its credentials are its own (a hub token goes to
        the hub's origin only)."""
        commit = self._lfs_commit or self.repo.catalog_head()
        found = lfs_url(self.repo.git_dir, self.name, _lfsconfig(self.repo, commit))
        if found and origin_of(found) != origin_of(self.url):
            self.lfs.auth = credentials.lookup(found, git_dir=self.repo.git_dir)
        return found

    def hub_head(self) -> tuple[bool, str | None]:
        """(collaboration exists, its catalog commit). A collaboration that moved on the same host (a
        renamed repo answering 301) is used at its new URL from then on, as git does."""
        refs = git.list_refs(self.http, self.url, self.auth, git_dir=self.repo.git_dir)
        if refs is None:
            return False, None
        if refs.url and refs.url != self.url:
            self.url = refs.url
            self.lfs.move_to(refs.url)
        return True, refs.get(CATALOG_REF)

    def check_writable(self) -> None:
        """Before any media moves to a collaboration that does not exist yet: check the host will create
        it on this push (a hitrec hub does; a Git host answers 404 and wants it created first)."""
        if git.list_refs(self.http, self.url, self.auth, service="git-receive-pack",
                         git_dir=self.repo.git_dir) is None:
            raise RemoteError(f"no repository at {self.url}, and this host does not create one on push. "
                              "Create it there first (on the host's web page, or `git init --bare` on its "
                              "server), then run `hitrec push` again; nothing was sent.")

    def fetch(self, have: tuple[str | None, ...], progress: ProgressFn | None) -> tuple[str, git.GitStats]:
        """The hub's catalog commits into the local object store, at the private incoming ref; the
        fetched commit must be a catalog (else this is no hitrec collaboration)."""
        if progress:
            progress(0, description="receiving commits")
        with write_refs(self.repo):  # git writes the incoming ref: under the lock, no stale lock left
            stats = git.fetch(self.repo.git_dir, self.url, self.auth, self.incoming_ref, have=have,
                              progress=progress)
        fetched = read_ref(self.repo.git_dir, self.incoming_ref)
        if fetched is None:
            raise RemoteError(f"fetching from {self.url} left no commit at {self.incoming_ref}")
        if not is_catalog_commit(self.repo, fetched):
            with write_refs(self.repo):  # keep no ref to what is not a catalog
                (self.repo.git_dir / self.incoming_ref).unlink(missing_ok=True)
            raise NotACollaborationError(self.url, f"its main branch ({fetched[:12]}) has no fragments/ catalog")
        if fetched != self._lfs_commit:
            self._lfs_commit = fetched  # its .lfsconfig, if any, names the LFS server from now on
            self.lfs.move_to(self.url)
        return fetched, stats

    def scrub(self, exc: HitrecError) -> HitrecError:
        if self.auth:
            exc.message = self.auth.scrub(exc.message)
            exc.args = (exc.message,)
        return exc


class NotACollaborationError(RemoteError):
    """The hub's main branch holds commits that are not a hitrec catalog (a plain git repository)."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{url} is not a hitrec collaboration: {detail} (a plain git repository?). "
                         "Use `git clone` for it, or push hitrec fragments to a new collaboration.")
        self.url = url


def _lfsconfig(repo: Repo, commit: str | None) -> bytes | None:
    """The ``.lfsconfig`` file at the top of a catalog commit's tree, if it has one."""
    if not commit:
        return None
    try:
        tree = repo.git_object(repo.git_object(commit.encode()).tree)
        _, sha = tree[b".lfsconfig"]
        return bytes(repo.git_object(sha).data)
    except Exception:  # no such file (or an unusual tree): git-lfs then derives the URL
        return None


def release_frames(exc: BaseException) -> None:
    """Drop the local variables of the finished frames an exception passed through (its chain's too).

    dulwich reads packs through ``mmap`` and hands out ``memoryview``s of it: interrupted mid-read (Ctrl-C
    in a merge of a few hundred fragments), those views stay alive in the traceback's frames, and closing
    the repo on the way out fails with ``BufferError: cannot close exported pointers exist`` and a hundred
    lines of traceback. With the frames cleared the views go, the pack closes, and the interrupt stays one
    line. The traceback itself (files and lines, for --debug) is kept."""
    import traceback

    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        todo += [current.__cause__, current.__context__]


def is_catalog_commit(repo: Repo, sha: str) -> bool:
    import stat

    try:
        commit = repo.git_object(sha.encode())
        tree = repo.git_object(commit.tree)
    except (KeyError, AttributeError):
        return False
    return is_catalog_tree((e.path, stat.S_ISDIR(e.mode)) for e in tree.items())


# -- local refs --------------------------------------------------------------------------------------


@contextlib.contextmanager
def write_refs(repo: Repo) -> Iterator[None]:
    """Hold the repo lock to write refs; taking it removes the lock files dead writers left behind
    (``Repo.clear_stale_locks``: only those no live process holds open)."""
    with repo.lock():
        yield


def set_ref(repo: Repo, name: str, sha: str) -> None:
    """Point ref ``name`` at ``sha`` (callers hold ``write_refs``); a lock file held by a live process
    outside hitrec (a git command run by hand) is a clear error, not dulwich's FileLocked."""
    from dulwich.file import FileLocked
    from dulwich.refs import ObjectID, Ref

    try:
        repo.dulwich.refs[Ref(name.encode())] = ObjectID(sha.encode())
    except FileLocked as exc:
        raise LockTimeoutError(f"{name} in {repo.git_dir} is locked by another process ({name}.lock): "
                               "wait for it to finish (a git command run by hand?) and try again") from exc


# -- media --------------------------------------------------------------------------------------------


def media_of(repo: Repo, fragment_ids: list[str]) -> dict[str, int]:
    """oid -> size of the media fetched fragments point to, read from their LFS pointer files: they are
    not in the index yet, and this is a third of the cost of loading each record (``Repo.media_oids``
    is the fallback for anything unusual)."""
    from hitrec.store.format import parse_pointer

    read = repo.git_object
    out: dict[str, int] = {}
    repo.preload_fragments(fragment_ids)  # within the pull's remembering_objects: kept for the merge
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


def download_media(session: Session, fragment_ids: list[str], progress: ProgressFn | None) -> TransferStats:
    """The media of ``fragment_ids`` that is missing here, each verified and on disk when this returns.

    Big objects are fsynced one by one (written back as they arrive), many small ones share one
    file-system sync, as `Repo.record` does for a batch (an fsync costs ~9 ms here whatever the size)."""
    repo = session.repo
    wanted = {oid: size for oid, size in media_of(repo, fragment_ids).items() if not repo.has_media(oid)}
    return download_objects(session, wanted, progress)


def download_objects(session: Session, wanted: dict[str, int], progress: ProgressFn | None) -> TransferStats:
    """Download ``wanted`` (oid -> size) into the repo's store, each hash-verified on the way in."""
    repo = session.repo
    with repo.media.batch() as media_batch:
        put = media_batch.put_verified if len(wanted) >= BATCH_SYNC_MIN else repo.media.put_verified
        return session.lfs.download(wanted, _ingest(put), progress)


def _ingest(put: Callable[[Any, str, int], None]) -> Callable[[Any, str, int], None]:
    """The store's put, with damaged bytes reported as the sync failure they are here."""
    def ingest(chunks: Any, oid: str, size: int) -> None:
        try:
            put(chunks, oid, size)
        except DamagedMediaError as exc:
            raise SyncError(exc.message) from exc

    return ingest
