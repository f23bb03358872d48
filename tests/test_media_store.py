"""The media store contract, run over every store (as dulwich's ObjectStoreTests runs over its object
stores), then what only the local store does: O_DIRECT, locked temp files and their sweep after SIGKILL."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hitrec.errors import DamagedMediaError, MediaError, MissingMediaError
from hitrec.store.local_media import LocalMediaStore
from hitrec.store.media_store import MediaStore
from hitrec.store.memory_media import MemoryMediaStore


def _oid(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "local-tmpfs", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MediaStore]:
    """Every implementation; "local-tmpfs" is a local store where O_DIRECT is refused (the fallback);
    "s3" is the object store on the session's real SeaweedFS, under a key prefix of its own."""
    if request.param == "memory":
        yield MemoryMediaStore()
        return
    if request.param == "s3":
        yield _s3_store(request.getfixturevalue("seaweed"))
        return
    if request.param == "local":
        yield LocalMediaStore.init(tmp_path / "lfs")
        return
    import tempfile

    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path))
    try:
        yield LocalMediaStore.init(base / "lfs")
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def _s3_store(weed) -> MediaStore:
    import secrets

    from hitrec.store.s3_media import S3Location, S3MediaStore

    location = S3Location.parse(weed.media_url(f"contract-{secrets.token_hex(6)}"), weed.endpoint)
    return S3MediaStore(location, weed.client())


# --- the contract: every store -------------------------------------------------------------------------
def test_put_verified_then_read_back(store: MediaStore) -> None:
    data = os.urandom(70_000)
    oid = _oid(data)
    assert not store.has(oid)
    store.put_verified([data[:1000], data[1000:]], oid, len(data))
    assert store.has(oid) and store.size(oid) == len(data)
    with store.open_read(oid) as reader:
        assert reader.read() == data and reader.size == len(data)
    assert list(store.oids()) == [oid]
    assert store.verify(oid) is None


def test_put_verified_takes_a_readable_stream(store: MediaStore) -> None:
    data = os.urandom(5000)
    store.put_verified(io.BytesIO(data), _oid(data), len(data))
    with store.open_read(_oid(data)) as reader:
        assert reader.read() == data


@pytest.mark.parametrize("fault", ["flipped", "short", "long"])
def test_damaged_bytes_are_refused_and_nothing_is_kept(store: MediaStore, fault: str) -> None:
    data = os.urandom(20_000)
    oid = _oid(data)
    sent = {"flipped": data[:100] + bytes([data[100] ^ 1]) + data[101:], "short": data[:-1],
            "long": data + b"x"}[fault]
    with pytest.raises(DamagedMediaError) as info:
        store.put_verified([sent], oid, len(data))
    assert info.value.oid == oid and "damaged" in str(info.value)
    assert not store.has(oid) and list(store.oids()) == [] and store.temp_files() == []


def test_put_file_names_bytes_by_their_hash(store: MediaStore, tmp_path: Path) -> None:
    source = tmp_path / "take.wav"
    source.write_bytes(os.urandom(3000))
    seen: list[int] = []
    oid, size = store.put_file(source, lambda n, **_: seen.append(n))
    assert (oid, size) == (_oid(source.read_bytes()), 3000) and sum(seen) == 3000
    assert store.put_file(source) == (oid, size)  # the same bytes again: the same object
    assert list(store.oids()) == [oid]


def test_put_file_of_an_unreadable_file_is_a_media_error(store: MediaStore, tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        store.put_file(tmp_path / "absent.wav")


def test_ranges(store: MediaStore) -> None:
    data = bytes(range(256)) * 40
    oid = _oid(data)
    store.put_verified([data], oid, len(data))
    for start, end in [(0, None), (5, 10), (1000, None), (len(data), None), (10, len(data) + 99)]:
        with store.open_read(oid, start, end) as reader:
            assert reader.read() == data[start:end], (start, end)
            assert reader.size == len(data)
    with pytest.raises(ValueError):
        store.open_read(oid, len(data) + 1)


def test_a_missing_object(store: MediaStore) -> None:
    oid = _oid(b"never stored")
    assert not store.has(oid) and store.verify(oid) == "missing"
    for call in (store.size, store.open_read):
        with pytest.raises(MissingMediaError):
            call(oid)
    with pytest.raises(MissingMediaError), store.local_path(oid):
        pass


def test_remove_deletes_an_object_and_an_open_reader_keeps_its_bytes(store: MediaStore) -> None:
    data = os.urandom(5000)
    oid = _oid(data)
    store.put_verified([data], oid, len(data))
    with store.open_read(oid) as reader:
        assert store.remove(oid) is True
        assert reader.read(-1) == data
    assert not store.has(oid) and oid not in list(store.oids())
    assert store.remove(oid) is False
    store.put_verified([data], oid, len(data))  # and it can be stored again
    assert store.has(oid)


def test_local_path_holds_the_bytes(store: MediaStore) -> None:
    data = os.urandom(4000)
    store.put_verified([data], _oid(data), len(data))
    with store.local_path(_oid(data)) as path:
        assert path.read_bytes() == data


def test_a_batch_stores_everything(store: MediaStore, tmp_path: Path) -> None:
    blobs = [os.urandom(100 + i) for i in range(20)]
    files = []
    for i, blob in enumerate(blobs[10:]):
        files.append(tmp_path / f"f{i}")
        files[-1].write_bytes(blob)
    with store.batch() as batch:
        for blob in blobs[:10]:
            batch.put_verified([blob], _oid(blob), len(blob))
        stored = [batch.put_file(path) for path in files]
    assert stored == [(_oid(b), len(b)) for b in blobs[10:]]
    assert list(store.oids()) == sorted(_oid(b) for b in blobs)
    assert all(store.verify(_oid(b)) is None for b in blobs)


def test_large_objects_both_ways(store: MediaStore, tmp_path: Path) -> None:
    """Past direct.MIN_SIZE the local store writes with O_DIRECT (refused on tmpfs: the ordinary way)."""
    data = os.urandom(1 << 20) * 8 + os.urandom(4096 * 3 + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    assert store.put_file(source) == (_oid(data), len(data))
    with store.open_read(_oid(data), len(data) - 5000) as reader:
        assert reader.read() == data[-5000:]
    assert store.verify(_oid(data)) is None


def test_no_temp_files_are_left_and_none_are_stale(store: MediaStore, tmp_path: Path) -> None:
    data = os.urandom(1000)
    store.put_verified([data], _oid(data), len(data))
    assert store.temp_files() == [] and store.remove_stale_temp_files() == 0


# --- the local store -----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8 << 20, (8 << 20) + 4096 * 3 + 17, (13 << 20) + 1])
def test_large_media_is_stored_exactly(project: Path, size: int) -> None:
    """Large objects take the O_DIRECT path (aligned buffers, unaligned tail): bytes and hash exact.
    (Moved from test_store.py; the store now raises its own DamagedMediaError, not SyncError.)"""
    data = os.urandom(1 << 20) * (size >> 20) + os.urandom(size % (1 << 20))
    source = project / "big.bin"
    source.write_bytes(data)
    store = LocalMediaStore(project / "lfs")
    oid, stored = store.put_file(source)
    assert stored == size and oid == hashlib.sha256(data).hexdigest()
    assert store.path(oid).read_bytes() == data
    other = LocalMediaStore(project / "lfs2")
    chunks = [data[i:i + 65537] for i in range(0, size, 65537)]  # odd-sized network chunks
    other.put_verified(chunks, oid, size)
    assert other.path(oid).read_bytes() == data
    damaged = bytearray(data)
    damaged[size // 2] ^= 1
    with pytest.raises(DamagedMediaError):
        LocalMediaStore(project / "lfs3").put_verified([bytes(damaged)], oid, size)
    assert not list((project / "lfs3").rglob("objects/*/*/*")) and not list((project / "lfs3" / "tmp").iterdir())


_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hitrec.store.local_media import LocalMediaStore
    temp = LocalMediaStore(Path(sys.argv[1])).new_temp()
    import os
    os.write(temp.fd, b"x" * 100_000)
    print(temp.path, flush=True)
    time.sleep(60)
""")


def test_a_live_writers_temp_file_survives_a_sweep_and_a_killed_ones_goes(tmp_path: Path) -> None:
    store = LocalMediaStore.init(tmp_path / "lfs")
    mine = store.new_temp()  # this process's own live writer
    assert mine is not None
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(store.lfs_dir)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout is not None
        theirs = Path(writer.stdout.readline().strip())
        debris = store.tmp_dir / "ingest-left-by-an-old-hitrec"
        debris.write_bytes(b"partial")
        assert store.remove_stale_temp_files() == 1  # only the unlocked one
        assert theirs.exists() and mine.path.exists() and not debris.exists()
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert store.remove_stale_temp_files() == 1
        assert not theirs.exists() and mine.path.exists()
    finally:
        writer.kill()
        writer.wait()
        mine.discard()
    assert store.temp_files() == []


def test_a_temp_file_swept_before_its_writer_locked_it_is_not_used(tmp_path: Path, monkeypatch) -> None:
    """The one race of create-then-lock: a sweeper takes the new file between the writer's open and its
    flock. The writer sees the file unlinked once it holds the lock, and starts another."""
    from hitrec.store import tempfiles

    folder = tmp_path / "tmp"
    folder.mkdir()
    real_flock = tempfiles.fcntl.flock
    swept: list[int] = []
    busy = []

    def flock(fd: int, operation: int) -> None:
        if not busy:  # the writer's first lock: a sweeper gets there first
            busy.append(True)
            swept.append(tempfiles.sweep(folder))
        real_flock(fd, operation)

    monkeypatch.setattr(tempfiles.fcntl, "flock", flock)
    temp = tempfiles.create(folder, "ingest")
    monkeypatch.setattr(tempfiles.fcntl, "flock", real_flock)
    assert temp is not None and swept == [1]
    assert temp.path.exists() and [p.name for p in folder.iterdir()] == [temp.path.name]
    assert tempfiles.is_live(temp.path)
    temp.discard()


def _wait_for_temp(tmp_dir: Path, proc: subprocess.Popen, min_size: int = 1) -> None:
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        if any(p.stat().st_size >= min_size for p in tmp_dir.glob("ingest-*") if p.exists()):
            return
        time.sleep(0.002)


@pytest.mark.slow
def test_killed_adds_leave_no_temp_bytes_after_the_next_add(project: Path) -> None:
    """SIGKILL `hitrec add` with its temp file just made (a crash point) and mid-copy of a 24 MB file; the
    next writer, under its lock, removes every dead writer's temp file, whatever its age."""
    from conftest import run_hitrec
    from sync_helpers import noise_wav

    big = noise_wav(project / "big.wav", 24 << 20, seed=3)
    small = noise_wav(project / "small.wav", 300_000, seed=4)
    tmp_dir = project / ".hitrec" / "lfs" / "tmp"
    crashed = run_hitrec("add", "small.wav", cwd=project, env={"HITREC_CRASH_AT": "media-temp"})
    assert crashed.returncode == -signal.SIGKILL
    killed_mid_copy = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "hitrec", "add", big.name], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_temp(tmp_dir, proc, min_size=1 << 20)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_copy += 1
        proc.wait()
    assert killed_mid_copy >= 1
    leftovers = list(tmp_dir.iterdir())
    assert len(leftovers) >= 2 and sum(p.stat().st_size for p in leftovers) >= 1 << 20  # the debris
    done = run_hitrec("add", small.name, cwd=project)
    assert done.returncode == 0, done.stderr
    assert list(tmp_dir.iterdir()) == []


# --- the hub's uploads --------------------------------------------------------------------------------
def test_a_killed_hub_leaves_no_temp_bytes_and_a_second_hub_spares_a_live_upload(tmp_path: Path) -> None:
    """Kill the hub mid-upload: its partial temp file is removed when it starts again, whatever its age
    (it was kept for an hour before). While one hub receives an upload, a second hub starting on the same
    root sweeps the temp folder too, and the live upload's file survives it."""
    import socket

    import httpx
    from hub_git import auth_header
    from hub_process import HubProcess

    data = os.urandom(12 << 20)
    oid = _oid(data)

    def start_upload(hub: HubProcess, token: str) -> socket.socket:
        port = int(hub.url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"PUT /crash.git/info/lfs/objects/{oid} HTTP/1.1\r\nHost: x\r\n"
                     f"{auth_header('ada', token)}\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        sock.sendall(data[: 9 << 20])
        return sock

    def temp_bytes(tmp: Path, at_least: int) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            total = sum(p.stat().st_size for p in tmp.iterdir() if p.exists()) if tmp.is_dir() else 0
            if total >= at_least:
                return total
            time.sleep(0.05)
        return total

    hub = HubProcess(tmp_path / "hub").start()
    tmp = hub.collaboration_path("crash") / "lfs" / "tmp"
    try:
        token = hub.add_user("ada", "ada@example.org")
        with start_upload(hub, token):
            assert temp_bytes(tmp, 4 << 20) >= 4 << 20
            assert hub.proc is not None
            hub.proc.kill()
            hub.proc.wait()
    finally:
        hub.stop()
    assert list(tmp.iterdir())  # the killed hub's debris, fresh
    with HubProcess(tmp_path / "hub") as again:
        assert list(tmp.iterdir()) == []
        with start_upload(again, token) as live:
            assert temp_bytes(tmp, 4 << 20) >= 4 << 20
            with HubProcess(tmp_path / "hub"):  # a second hub on the same root: sweeps at start
                assert temp_bytes(tmp, 4 << 20) >= 4 << 20
            live.sendall(data[9 << 20:])
            assert b" 200 " in live.recv(4096)
        assert _oid(again.media_path("crash", oid).read_bytes()) == oid
        assert list(tmp.iterdir()) == []
        assert httpx.get(again.url + "/").status_code == 200


@pytest.mark.slow
def test_a_killed_pull_leaves_no_temp_bytes_after_the_next_pull(tmp_path: Path, monkeypatch, hub) -> None:
    from conftest import run_hitrec
    from sync_helpers import ADA, client_repo, noise_wav, set_env, user_env

    from hitrec.ops.push import push
    from hitrec.store import FragmentSpec

    env = user_env(*ADA, hub.tokens["ada"])
    set_env(monkeypatch, env)
    url = hub.collaboration_url("pulled")
    a = client_repo(tmp_path, "a", url)
    a.record([FragmentSpec(noise_wav(tmp_path / "big.wav", 40 << 20, seed=11))])
    push(a)
    a.close()
    b = client_repo(tmp_path, "b", url)
    tmp_dir = b.media.tmp_dir
    b.close()
    proc = subprocess.Popen([sys.executable, "-m", "hitrec", "pull"], cwd=tmp_path / "b",
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_temp(tmp_dir, proc, min_size=4 << 20)
    assert proc.poll() is None, "the pull finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sum(p.stat().st_size for p in tmp_dir.iterdir()) >= 4 << 20  # the killed pull's debris
    again = run_hitrec("pull", cwd=tmp_path / "b", env=env)
    assert again.returncode == 0, again.stderr
    assert list(tmp_dir.iterdir()) == []


# --- operations read media only through the store -----------------------------------------------------
def test_checkout_cat_render_and_remix_read_media_through_the_store(tmp_path: Path) -> None:
    """checkout and cat read a fragment's media with ``open_read``; render, remix and verify get a file for ffmpeg
    from ``local_path``: backed by the in-memory store (an object store later), with the local store's
    objects gone, they still work, and the materialised copies are gone once they return."""
    from media import make_wav

    from hitrec.ops.cat import cat
    from hitrec.ops.checkout import checkout
    from hitrec.ops.remix import remix
    from hitrec.ops.render import render
    from hitrec.ops.verify import verify
    from hitrec.store import FragmentSpec, Person, Repo

    repo = Repo.init(tmp_path / "project")
    me = Person("Ada", "ada@example.org")
    specs = [FragmentSpec(path=make_wav(tmp_path / f"{n}.wav", 0.5, f), title=n, license="CC0-1.0", author=me)
             for n, f in (("low", 220.0), ("high", 880.0))]
    low, high = repo.record(specs)
    memory = MemoryMediaStore()
    for f in (low, high):
        with repo.media.open_read(f.media.oid) as src:
            memory.put_verified(src, f.media.oid, f.media.size)
    for oid in list(repo.media.oids()):
        repo.media.path(oid).unlink()
    repo.media = memory
    temp_before = set(Path(tempfile.gettempdir()).glob("hitrec-media-*"))

    written = checkout(repo, low.id[:10], tmp_path / "out.wav").path
    assert _oid(written.read_bytes()) == low.media.oid
    assert _oid(b"".join(cat(repo, high.id[:10]).chunks())) == high.media.oid
    timeline = tmp_path / "t.yaml"
    timeline.write_text(f"hitrec: 1\ntitle: both\noutput: {{format: wav}}\ntracks:\n  - kind: audio\n    clips:\n"
                        f"      - {{fragment: {low.id[:10]}}}\n      - {{fragment: {high.id[:10]}, at: 0.25}}\n")
    rendered = render(repo, timeline, tmp_path / "both.wav")
    assert rendered.output.stat().st_size > 0
    made = remix(repo, timeline, author=me)
    assert made.fragment is not None and tuple(made.fragment.parents) == (low.id, high.id)
    assert memory.has(made.fragment.media.oid)
    assert verify(repo, made.fragment.id).ok
    assert set(Path(tempfile.gettempdir()).glob("hitrec-media-*")) == temp_before
    repo.close()
