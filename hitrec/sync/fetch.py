"""Media on demand: what a metadata-only repo (``hitrec clone --no-media``) fetches when it needs it.

A fragment that came from a hub, or went to one, is in that remote's tracking catalog
(``refs/remotes/<name>/main``), and a hub holds the media of every fragment in its catalog (its
pre-receive check refuses a push otherwise). So a fragment whose media is absent here is one of two
things, told apart without asking anyone:

- **not fetched**: it is in some remote's tracking catalog, so that hub has its media, and
  ``MediaFetcher`` brings it (``cat``, ``checkout``, ``render``, ``remix`` and ``verify`` do this for
  what they read; ``hitrec fetch`` for what it is told), hash-verified on the way in like any pull;
- **missing**: it is in no hub's catalog this repo knows of, so no copy is known to exist (``hitrec
  fsck`` reports it as a problem).

``hitrec prune`` frees only media of the first kind, and only after the hub confirms it holds each
object (a batch answer with a download address for it), so it never removes the only copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.errors import CorruptRepoError
from hitrec.progress import ProgressFn
from hitrec.store.format import read_ref, tracking_ref

if TYPE_CHECKING:
    from hitrec.render.plan import RepoResolver
    from hitrec.store import Fragment, Repo
    from hitrec.sync.credentials import Auth
    from hitrec.sync.session import Session


def hub_catalogs(repo: Repo) -> list[tuple[str, str]]:
    """(remote name, its tracking catalog commit) for every remote this repo has synced with."""
    from hitrec.sync.remotes import list_remotes

    out = []
    for remote in list_remotes(repo.git_dir):
        sha = read_ref(repo.git_dir, tracking_ref(remote.name))
        if sha:
            out.append((remote.name, sha))
    return out


class CatalogLookup:
    """Whether fragments are in a catalog commit, reading only the shard trees asked about."""

    def __init__(self, repo: Repo, catalog: str) -> None:
        from hitrec.store.records import catalog_entries

        store: Any = repo.dulwich.object_store  # dulwich's objects are read by kind
        try:
            self._shards = catalog_entries(store, store[catalog.encode()].tree)
        except KeyError:
            self._shards = {}

    def __contains__(self, fragment_id: str) -> bool:
        shard = self._shards.get(fragment_id[:2].encode())
        if shard is None:
            return False
        try:
            shard[fragment_id.encode()]
        except KeyError:
            return False
        return True


class Catalogs:
    """Which remote's catalog holds a fragment (the first, in remote order), for many lookups."""

    def __init__(self, repo: Repo) -> None:
        self._lookups = [(name, CatalogLookup(repo, sha)) for name, sha in hub_catalogs(repo)]

    def remote_of(self, fragment_id: str) -> str | None:
        for name, lookup in self._lookups:
            if fragment_id in lookup:
                return name
        return None


def missing_media_error(fragment: Fragment) -> CorruptRepoError:
    return CorruptRepoError(
        f"the media of fragment {fragment.short_id} ({fragment.media.oid[:12]}) is missing from this repo, "
        "and no hub this repo knows has the fragment (it was never pushed), so no copy can be fetched; "
        "`hitrec fsck` lists what is missing")


@dataclass
class FetchStats:
    """What a fetch moved, and what it found already here."""

    objects: int = 0  # fetched
    bytes: int = 0
    present: int = 0  # objects already in the repo
    fetched_oids: list[str] = field(default_factory=list)


class MediaFetcher:
    """Fetches the absent media of fragments from the hubs whose catalogs hold them, one session per
    remote kept open across calls (a render fetching its sources one by one reuses the connection)."""

    def __init__(self, repo: Repo, progress: ProgressFn | None = None, auth: Auth | None = None) -> None:
        self.repo = repo
        self.progress = progress
        self.auth = auth  # default: each remote's own credentials, found as for a pull
        self._catalogs: Catalogs | None = None
        self._sessions: dict[str, Session] = {}
        self.stats = FetchStats()

    @property
    def catalogs(self) -> Catalogs:
        if self._catalogs is None:
            self._catalogs = Catalogs(self.repo)
        return self._catalogs

    def __enter__(self) -> MediaFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.__exit__(None, None, None)

    def ensure(self, fragments: Iterable[Fragment]) -> FetchStats:
        """Every one of ``fragments`` has its media here when this returns: the absent ones are
        fetched (a ``CorruptRepoError`` names one that no known hub has)."""
        wanted: dict[str, dict[str, int]] = {}  # remote -> oid -> size
        for fragment in fragments:
            oid = fragment.media.oid
            if self.repo.media.has(oid):
                self.stats.present += 1
                continue
            remote = self.catalogs.remote_of(fragment.id)
            if remote is None:
                raise missing_media_error(fragment)
            wanted.setdefault(remote, {})[oid] = fragment.media.size
        for remote, objects in wanted.items():
            self._download(remote, objects)
        return self.stats

    def ensure_one(self, fragment: Fragment) -> None:
        self.ensure([fragment])

    def _download(self, remote: str, objects: dict[str, int]) -> None:
        from hitrec.errors import HitrecError
        from hitrec.sync.session import Session, download_objects

        session = self._sessions.get(remote)
        if session is None:
            session = self._sessions[remote] = Session(self.repo, remote, self.auth)
        if self.progress:
            self.progress(0, description=f"fetching {len(objects)} media object(s) from {remote}")
        try:
            stats = download_objects(session, objects, self.progress)
        except HitrecError as exc:
            raise session.scrub(exc) from exc.__cause__
        self.stats.objects += stats.objects
        self.stats.bytes += stats.bytes
        self.stats.fetched_oids.extend(sorted(objects))


@contextlib.contextmanager
def fetching_resolver(repo: Repo, progress: ProgressFn | None = None) -> Iterator[RepoResolver]:
    """A ``RepoResolver`` that fetches a source's absent media from its hub when a timeline uses it (what
    render, remix, verify and preview plan with), hash-verified, with a progress bar."""
    from hitrec.render.plan import RepoResolver

    with MediaFetcher(repo, progress) as fetcher, RepoResolver(repo, fetcher.ensure_one) as resolver:
        yield resolver


def ensure_media(repo: Repo, fragments: Sequence[Fragment], progress: ProgressFn | None = None) -> FetchStats:
    """The media of ``fragments`` here, fetched from their hubs where absent (cat, checkout)."""
    with MediaFetcher(repo, progress) as fetcher:
        return fetcher.ensure(fragments)
