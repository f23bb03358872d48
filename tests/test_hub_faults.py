"""The hub under faults: path traversal, size limits, dropped connections, token hygiene, concurrency."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hub_git import auth_header, commit_file, git, lfs_clone, lfs_work_tree
from hub_process import HubProcess, module_hub

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    with module_hub(tmp_path_factory.mktemp("hubfaults"), "ada", "bob", collaborations=("film",),
                    extra_args=["--max-object-size", "200K", "--max-push-size", "300K"]) as running:
        yield running  # after every test of this module: no token ever reached the hub's log


def raw_request(hub: HubProcess, head: str, body: bytes = b"", *, close_after: int | None = None) -> bytes:
    """Send bytes as they are (no client-side path normalisation); returns the raw response."""
    port = int(hub.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body[:close_after])
        if close_after is not None:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


# -- paths ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [
    "/../users.json",
    "/..%2fusers.json",
    "/%2e%2e.git/info/refs?service=git-upload-pack",
    "/..%2F..%2Fetc.git/info/refs?service=git-upload-pack",
    "/film.git/../../users.json",
    "/film.git/info/lfs/objects/..%2f..%2f..%2fusers.json",
    "/film.git/info/lfs/objects/" + "A" * 64,
    "/film.git/info/lfs/objects/%2e%2e",
    "/.new-x.git/info/refs?service=git-upload-pack",
    "/film.git/HEAD",
    "/film.git/objects/info/packs",
    "/film.git/config",
])
def test_paths_cannot_leave_the_root_or_reach_files(hub: HubProcess, target: str) -> None:
    auth = auth_header("ada", hub.tokens["ada"])
    response = raw_request(hub, f"GET {target} HTTP/1.1\r\nHost: x\r\n{auth}\r\nConnection: close\r\n")
    assert 400 <= status_of(response) < 500
    assert b"token_sha256" not in response and b"denyNonFastForwards" not in response
    assert b"ref: refs/heads/main" not in response


def test_put_with_a_traversing_oid_writes_nothing(hub: HubProcess) -> None:
    before = sorted(p.name for p in hub.root.parent.iterdir())
    for oid in ["..%2f..%2fescape", "../escape", "0" * 63 + "g"]:
        r = httpx.put(f"{hub.url}/film.git/info/lfs/objects/{oid}", content=b"x", auth=("ada", hub.tokens["ada"]))
        assert 400 <= r.status_code < 500
    assert sorted(p.name for p in hub.root.parent.iterdir()) == before
    assert not list(hub.root.rglob("escape*"))


# -- size limits --------------------------------------------------------------------------------
def test_media_over_the_limit_is_refused(hub: HubProcess) -> None:
    url = hub.collaboration_url("film")
    auth = ("ada", hub.tokens["ada"])
    big = os.urandom(250_000)
    oid = hashlib.sha256(big).hexdigest()
    batch = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=auth,
                       json={"operation": "upload", "objects": [{"oid": oid, "size": len(big)}]})
    assert batch.json()["objects"][0]["error"]["code"] == 413
    put = httpx.put(f"{url}/info/lfs/objects/{oid}", content=big, auth=auth)
    assert put.status_code == 413
    # without a Content-Length (chunked), the hub counts as it goes
    chunked = httpx.put(f"{url}/info/lfs/objects/{oid}", content=iter([big[:100_000], big[100_000:]]),
                        auth=auth)
    assert chunked.status_code == 413
    assert not hub.media_path("film", oid).exists()
    assert list((hub.collaboration_path("film") / "lfs" / "tmp").iterdir()) == []


def test_git_push_over_the_limit_is_refused(hub: HubProcess, tmp_path: Path) -> None:
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    commit_file(work, "blob.dat", os.urandom(400_000))  # in git itself, not LFS: a big pack
    url = hub.collaboration_url("bigpack")
    done = git("push", url, "main", cwd=work, token=hub.tokens["ada"], check=False)
    assert done.returncode != 0
    assert hub.catalog_head("bigpack") is None


# -- dropped connections ------------------------------------------------------------------------
def test_interrupted_upload_leaves_nothing_and_retry_works(hub: HubProcess) -> None:
    data = os.urandom(150_000)
    oid = hashlib.sha256(data).hexdigest()
    auth = auth_header("ada", hub.tokens["ada"])
    raw_request(hub, f"PUT /film.git/info/lfs/objects/{oid} HTTP/1.1\r\nHost: x\r\n{auth}\r\n"
                     f"Content-Length: {len(data)}\r\n", data, close_after=60_000)
    tmp = hub.collaboration_path("film") / "lfs" / "tmp"
    deadline = time.monotonic() + 5
    while list(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp.iterdir()) == []
    assert not hub.media_path("film", oid).exists()
    # the client asks again: the hub still wants it, and takes it whole
    url = hub.collaboration_url("film")
    batch = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=("ada", hub.tokens["ada"]),
                       json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]})
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    assert httpx.put(href, content=data, auth=("ada", hub.tokens["ada"])).status_code == 200
    assert hub.media_path("film", oid).read_bytes() == data


@pytest.mark.parametrize("size", [(12 << 20) + 5, (40 << 20) + 5, 300_000])
def test_a_full_hub_disk_is_a_507_and_keeps_nothing(tmp_path: Path, size: int) -> None:
    """A file-size limit on the hub process stands in for its disk filling up mid-upload (big: O_DIRECT
    writes; small: plain ones)."""
    import resource

    from hitrec.errors import RemoteError
    from hitrec.sync.credentials import Auth
    from hitrec.sync.lfs import LfsClient

    with HubProcess(tmp_path / "hub") as full:
        full.add_user("ada", "ada@example.org")
        full.create("film")
        limit = (8 << 20) + 1000 if size > (8 << 20) else 100_000
        resource.prlimit(full.proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
        media = tmp_path / "media"
        media.write_bytes(os.urandom(size))
        oid = hashlib.sha256(media.read_bytes()).hexdigest()
        client = LfsClient(full.collaboration_url("film"), Auth("ada", full.tokens["ada"]), workers=1)
        with client, pytest.raises(RemoteError, match="out of space") as info:
            client.upload({oid: size}, lambda _: contextlib.nullcontext(media))
        assert "507" in str(info.value)
        assert not full.media_path("film", oid).exists()
        assert list((full.collaboration_path("film") / "lfs" / "tmp").iterdir()) == []


def test_interrupted_git_push_leaves_the_hub_as_it_was(hub: HubProcess, tmp_path: Path) -> None:
    work = lfs_work_tree(tmp_path / "work")
    url = hub.collaboration_url("dropped")
    token = hub.tokens["ada"]
    base = commit_file(work, "a.bin", b"first")
    git("push", url, "main", cwd=work, token=token)
    git("lfs", "push", url, "main", cwd=work, token=token)
    new = commit_file(work, "notes.txt", os.urandom(120_000).hex().encode()[:200_000])
    pack = subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"], cwd=work, capture_output=True,
                          input=f"{new}\n^{base}\n".encode(), check=True).stdout
    command = f"{base} {new} refs/heads/main\0report-status\n".encode()
    body = f"{len(command) + 4:04x}".encode() + command + b"0000" + pack
    auth = auth_header("ada", token)
    raw_request(hub, f"POST /dropped.git/git-receive-pack HTTP/1.1\r\nHost: x\r\n{auth}\r\n"
                     "Content-Type: application/x-git-receive-pack-request\r\n"
                     f"Content-Length: {len(body)}\r\n", body, close_after=len(body) // 2)
    time.sleep(0.5)
    bare = hub.collaboration_path("dropped")
    assert hub.catalog_head("dropped") == base
    assert git("--git-dir", str(bare), "cat-file", "-e", new, check=False).returncode != 0
    assert not [p for p in (bare / "objects").iterdir() if p.name.startswith("tmp_objdir")]
    git("push", url, "main", cwd=work, token=token)  # run again: it lands
    assert hub.catalog_head("dropped") == new


# -- tokens stay secret -------------------------------------------------------------------------
def test_tokens_never_reach_logs_or_messages(hub: HubProcess, tmp_path: Path) -> None:
    token = hub.tokens["ada"]
    port = hub.url.rsplit(":", 1)[1]
    # an absolute-form target carrying userinfo, and a token in a query string
    raw_request(hub, f"GET http://ada:{token}@127.0.0.1:{port}/film.git/info/refs?service=git-upload-pack "
                     "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
    raw_request(hub, f"GET /film.git/info/refs?service=git-upload-pack&token={token} HTTP/1.1\r\n"
                     "Host: x\r\nConnection: close\r\n")
    wrong = httpx.get(hub.collaboration_url("film") + "/info/refs?service=git-upload-pack",
                      auth=("ada", token + "nope"))
    assert wrong.status_code == 401 and token not in wrong.text
    work = lfs_work_tree(tmp_path / "work")
    commit_file(work, "x.bin", b"x", env={"GIT_AUTHOR_EMAIL": "mallory@example.org"})
    refused = git("push", hub.collaboration_url("film"), "main", cwd=work, token=token, check=False)
    assert token not in refused.stderr + refused.stdout
    log = hub.log_text()
    assert token not in log and "hrt_" not in log


# -- concurrency --------------------------------------------------------------------------------
def test_concurrent_first_pushes_create_one_collaboration(hub: HubProcess) -> None:
    url = hub.collaboration_url("racing")

    def upload(i: int) -> int:
        data = f"media {i}".encode()
        oid = hashlib.sha256(data).hexdigest()
        return httpx.put(f"{url}/info/lfs/objects/{oid}", content=data,
                         auth=("ada", hub.tokens["ada"])).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(upload, range(16))) == {200}
    assert [p.name for p in hub.root.iterdir() if p.name.startswith("racing")] == ["racing.git"]
    assert not [p for p in hub.root.iterdir() if p.name.startswith(".new-")]


@pytest.mark.slow
def test_small_load_many_git_lfs_clients(hub: HubProcess, tmp_path: Path) -> None:
    """6 clients commit LFS media and push at once for a bounded time; every file lands everywhere."""
    url = hub.collaboration_url("load")
    hub.create("load")
    names = [f"user{i}" for i in range(6)]
    tokens = {n: hub.add_user(n, f"{n}@example.org") for n in names}
    seed = lfs_work_tree(tmp_path / "seed")
    commit_file(seed, "seed.bin", b"seed")
    git("push", url, "main", cwd=seed, token=tokens[names[0]], user=names[0])
    errors: list[str] = []
    written: dict[str, bytes] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + 4

    def client(name: str) -> None:
        work = tmp_path / name
        git("clone", "-q", url, str(work), token=tokens[name], user=name, env={"GIT_LFS_SKIP_SMUDGE": "1"})
        git("lfs", "install", "--local", cwd=work)
        env = {"GIT_AUTHOR_EMAIL": f"{name}@example.org", "GIT_COMMITTER_EMAIL": f"{name}@example.org"}
        i = 0
        while time.monotonic() < deadline:
            data = os.urandom(2000 + i)
            file = f"{name}-{i}.bin"
            commit_file(work, file, data, env=env)
            for _ in range(30):
                pushed = git("push", "-q", url, "main", cwd=work, token=tokens[name], user=name, check=False)
                if pushed.returncode == 0:
                    break
                if "rejected" not in pushed.stderr and "fetch first" not in pushed.stderr:
                    with lock:
                        errors.append(pushed.stderr)
                    return
                git("pull", "-q", "--no-rebase", "--no-edit", url, "main", cwd=work, token=tokens[name],
                    user=name, env={**env, "GIT_LFS_SKIP_SMUDGE": "1"})
            else:
                with lock:
                    errors.append(f"{name}: gave up pushing {file}")
                return
            with lock:
                written[file] = data
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(written) >= len(names)
    final = lfs_clone(url, tmp_path / "final", token=tokens[names[0]], user=names[0])
    for file, data in written.items():
        assert (final / file).read_bytes() == data
    assert " 500 " not in hub.log_text()


def test_a_push_based_on_an_old_catalog_is_refused_the_standard_way(hub: HubProcess, tmp_path: Path) -> None:
    """git's own "fetch first" answer (clients retry on it), not a hook refusal; nothing lands."""
    url = hub.collaboration_url("stale")
    token = hub.tokens["ada"]
    first = lfs_work_tree(tmp_path / "first")
    commit_file(first, "a.bin", b"a")
    git("push", url, "main", cwd=first, token=token)
    second = tmp_path / "second"
    git("clone", "-q", url, str(second), token=token, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git("lfs", "install", "--local", cwd=second)
    landed = commit_file(first, "b.bin", b"b")
    git("push", url, "main", cwd=first, token=token)
    # a stale push, even one the hook would refuse (someone else's e-mail), gets git's own answer
    stale = commit_file(second, "c.bin", b"c", env={"GIT_AUTHOR_EMAIL": "mallory@example.org"})
    refused = git("push", url, "main", cwd=second, token=token, check=False)
    assert refused.returncode != 0
    assert "fetch first" in refused.stderr and "hook declined" not in refused.stderr
    assert hub.catalog_head("stale") == landed
    assert git("--git-dir", str(hub.collaboration_path("stale")), "merge-base", "--is-ancestor", stale,
               "main", check=False).returncode != 0


def _pkt(text: str) -> bytes:
    return f"{len(text) + 4:04x}".encode() + text.encode()


def test_gzip_request_bodies_are_understood_and_limited(hub: HubProcess, tmp_path: Path) -> None:
    import gzip

    work = lfs_work_tree(tmp_path / "work")
    head = commit_file(work, "a.bin", b"gz")
    url = hub.collaboration_url("gz")
    git("push", url, "main", cwd=work, token=hub.tokens["ada"])
    headers = {"Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip",
               "Git-Protocol": "version=2"}
    body = _pkt("command=ls-refs\n") + b"0001" + _pkt("ref-prefix refs/heads/\n") + b"0000"
    listed = httpx.post(url + "/git-upload-pack", content=gzip.compress(body), headers=headers,
                        auth=("ada", hub.tokens["ada"]))
    assert listed.status_code == 200 and f"{head} refs/heads/main".encode() in listed.content
    bomb = gzip.compress(body + b"0" * 2_000_000)  # ~2 KB compressed, 2 MB inflated: over the limit
    refused = httpx.post(url + "/git-upload-pack", content=bomb, headers=headers,
                         auth=("ada", hub.tokens["ada"]))
    assert refused.status_code == 413


def test_a_killed_hub_restarts_consistent(tmp_path: Path) -> None:
    """SIGKILL the hub in the middle of an upload: after a restart nothing half-written is served,
    the stale temp file is swept once old, and the upload simply runs again."""
    from hitrec.hub import repos

    data = os.urandom(12 << 20)
    oid = hashlib.sha256(data).hexdigest()
    hub = HubProcess(tmp_path / "hub").start()
    try:
        token = hub.add_user("ada", "ada@example.org")
        port = int(hub.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"PUT /crash.git/info/lfs/objects/{oid} HTTP/1.1\r\nHost: x\r\n"
                         f"{auth_header('ada', token)}\r\nContent-Length: {len(data)}\r\n\r\n".encode())
            sock.sendall(data[: 9 << 20])
            time.sleep(0.3)
            assert hub.proc is not None
            hub.proc.kill()
            hub.proc.wait()
    finally:
        hub.stop()
    tmp = hub.collaboration_path("crash") / "lfs" / "tmp"
    leftovers = list(tmp.iterdir())
    assert not hub.media_path("crash", oid).exists()
    for leftover in leftovers:  # age them past the sweep threshold
        os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    with HubProcess(tmp_path / "hub") as again:
        again.tokens["ada"] = token
        assert list(tmp.iterdir()) == []
        url = again.collaboration_url("crash")
        batch = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=("ada", token),
                           json={"operation": "download", "objects": [{"oid": oid, "size": len(data)}]})
        assert batch.json()["objects"][0]["error"]["code"] == 404
        assert httpx.put(f"{url}/info/lfs/objects/{oid}", content=data, auth=("ada", token)).status_code == 200
        assert hashlib.sha256(again.media_path("crash", oid).read_bytes()).hexdigest() == oid
    assert repos.remove_stale_temp_files(tmp) == 0
