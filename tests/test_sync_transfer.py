"""LFS object transfers: the http.client path (small and big media on reused connections), the hub's
shared sync for small uploads, and its refusal of damaged ones among many good ones."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest
from hub_process import HubProcess
from sync_helpers import ADA, client_repo, noise_wav, record, set_env, sha256_file, user_env

from hitrec.hub.lfs import GroupSync
from hitrec.ops.clone import clone
from hitrec.ops.push import push
from hitrec.store import FragmentSpec, Repo
from hitrec.store.local_media import LocalMediaStore
from hitrec.sync.credentials import Auth
from hitrec.sync.lfs import LfsClient


def test_mixed_sizes_round_trip_on_reused_connections(hub: HubProcess, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Small (one read), medium (> 1 MiB, streamed) and big (>= 8 MiB, read ahead on a thread) media
    share the workers' keep-alive connections; every object arrives whole and verified."""
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("mix")
    a = client_repo(tmp_path, "a", url)
    record(a, tmp_path / "small", 30, size=3000)
    big = [noise_wav(tmp_path / "big" / f"{i}.wav", n, seed=90 + i)
           for i, n in enumerate((1_500_000, 2_200_000, 9_000_000))]
    a.record([FragmentSpec(p) for p in big])
    pushed = push(a)
    assert pushed.media.objects == 33
    cloned = clone(url, tmp_path / "b")
    b, pulled = Repo(cloned.path), cloned.pull
    assert pulled.fragments == 33 and pulled.media.objects == 33
    objects = sorted(p for p in (tmp_path / "b" / ".hitrec" / "lfs" / "objects").rglob("*") if p.is_file())
    assert len(objects) == 33
    assert all(sha256_file(p) == p.name for p in objects)
    # one worker: every object, big ones included, follows another on the same connection
    wanted = {p.name: p.stat().st_size for p in objects}
    got: dict[str, str] = {}

    def ingest(chunks, oid: str, size: int) -> None:  # type: ignore[no-untyped-def]
        digest = hashlib.sha256()
        for block in chunks:
            digest.update(block)
        got[oid] = digest.hexdigest()

    with LfsClient(url, Auth("ada", hub.tokens["ada"]), workers=1) as lfs:
        stats = lfs.download(wanted, ingest)
    assert stats.objects == 33 and got == {oid: oid for oid in wanted}
    for repo in (a, b):
        repo.close()


def test_many_small_uploads_with_one_damaged(hub: HubProcess, tmp_path: Path) -> None:
    """Concurrent small PUTs share the hub's syncs; the one whose bytes do not match its oid is refused
    and leaves nothing behind, the others are kept."""
    token = hub.tokens["ada"]
    base = hub.collaboration_url("burst")
    hub.create("burst", author_check=False)
    blobs = [hashlib.sha256(str(i).encode()).digest() * 100 for i in range(40)]
    oids = [hashlib.sha256(b).hexdigest() for b in blobs]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}

    async def put_all() -> list[int]:
        async with httpx.AsyncClient(headers=headers, timeout=60) as http:
            async def put(i: int) -> int:
                body = blobs[i] if i != 7 else blobs[i][:-1] + b"x"  # 7: damaged in transit
                r = await http.put(f"{base}/info/lfs/objects/{oids[i]}", content=body)
                return r.status_code
            return await asyncio.gather(*(put(i) for i in range(40)))

    statuses = asyncio.run(put_all())
    assert statuses[7] == 422
    assert all(s == 200 for i, s in enumerate(statuses) if i != 7)
    objects = hub.collaboration_path("burst") / "lfs" / "objects"
    kept = {p.name for p in objects.rglob("*") if p.is_file()}
    assert kept == set(oids) - {oids[7]}
    assert not any((hub.collaboration_path("burst") / "lfs" / "tmp").iterdir())


def test_group_sync_covers_every_waiter(tmp_path: Path) -> None:
    """Waiters that arrive while a sync runs get a later one; all of them return, none is lost."""
    group = GroupSync()
    store = LocalMediaStore.init(tmp_path / "lfs")

    async def main() -> int:
        await asyncio.gather(*(group.sync(store) for _ in range(50)))
        await group.sync(store)
        return len(group._waiting)

    assert asyncio.run(main()) == 0
    assert asyncio.run(main()) == 0  # a second event loop starts clean
