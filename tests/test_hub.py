"""The hub with real clients: git smart HTTP and Git LFS through real git + git-lfs, users and tokens."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
from pathlib import Path

import httpx
import pytest
import yaml
from hub_git import commit_file, git, lfs_clone, lfs_work_tree, push_repo, record, sha256_file
from hub_process import HubProcess, module_hub

from hitrec.errors import HubError
from hitrec.hub import files, names, repos
from hitrec.hub.users import UserStore
from hitrec.store.model import Person

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    with module_hub(tmp_path_factory.mktemp("hubmod"), "ada", "bob") as running:
        yield running


# -- names and users ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["film", "team-film_2", "film.v2", "A1"])
def test_good_collaboration_names(name: str) -> None:
    assert names.is_collaboration_name(name)


@pytest.mark.parametrize("name", ["", "..", ".", "../x", "a/b", ".hidden", "x.git", "a..b", "-x", "a b",
                                  "a\\b", "x" * 65, "%2e%2e", "a.", "é", "a\x00b"])
def test_bad_collaboration_names(name: str) -> None:
    assert not names.is_collaboration_name(name)
    with pytest.raises(HubError, match="invalid collaboration name"):
        repos.collaboration_path(Path("/hub"), name)


def test_collaboration_path_never_leaves_root(tmp_path: Path) -> None:
    for name in ["film", "users.json", "a.b.c"]:
        path = repos.collaboration_path(tmp_path, name)
        assert path.parent == tmp_path and path.name.endswith(".git")


def test_user_tokens_are_stored_hashed_with_0600(tmp_path: Path) -> None:
    store = UserStore(tmp_path)
    user, token = store.add("ada", "ada@example.org")
    assert token.startswith("hrt_") and len(token) > 40
    text = (tmp_path / "users.json").read_text()
    assert token not in text
    assert hashlib.sha256(token.encode()).hexdigest() in text
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert store.authenticate(token) == user
    assert store.authenticate(token + "x") is None
    new = store.new_token("ada")
    assert store.authenticate(token) is None and store.authenticate(new).name == "ada"
    store.revoke("ada")
    assert store.authenticate(new) is None
    assert store.list()[0].revoked


def test_user_cli(tmp_path: Path, cli) -> None:
    root = str(tmp_path / "hubroot")
    r = cli("hub", "user", "add", "ada", "--email", "ada@example.org", "--root", root, "--json")
    assert r.exit_code == 0, r.output
    token = r.json()["token"]
    r = cli("hub", "user", "list", "--root", root)
    assert "ada" in r.stdout and token not in r.output
    listed = cli("hub", "user", "list", "--root", root, "--json").json()
    assert listed == [{"name": "ada", "email": "ada@example.org", "created": listed[0]["created"],
                       "revoked": False}]
    r = cli("hub", "user", "add", "ada", "--email", "ada@example.org", "--root", root)
    assert r.exit_code == 1 and "already exists" in r.stderr
    r = cli("hub", "user", "add", "../x", "--email", "x@example.org", "--root", root)
    assert r.exit_code == 1 and "invalid user name" in r.stderr
    r = cli("hub", "user", "add", "eve", "--email", "not-an-email", "--root", root)
    assert r.exit_code == 1 and "invalid e-mail" in r.stderr
    assert cli("hub", "user", "revoke", "ada", "--root", root).exit_code == 0
    assert cli("hub", "user", "list", "--root", root, "--json").json()[0]["revoked"] is True
    r = cli("hub", "user", "revoke", "zed", "--root", root)
    assert r.exit_code == 1 and "no hub user named 'zed'" in r.stderr


def test_create_and_list_cli(tmp_path: Path, cli) -> None:
    root = str(tmp_path / "hubroot")
    assert cli("hub", "create", "film", "--root", root).exit_code == 0
    assert cli("hub", "create", "open", "--no-author-check", "--root", root).exit_code == 0
    r = cli("hub", "create", "film", "--root", root)
    assert r.exit_code == 1 and "already exists" in r.stderr
    r = cli("hub", "create", "../escape", "--root", root)
    assert r.exit_code == 1 and "invalid collaboration name" in r.stderr
    assert not (tmp_path / "escape.git").exists()
    assert cli("hub", "list", "--root", root, "--json").json() == [
        {"name": "film", "author_check": True}, {"name": "open", "author_check": False}]
    assert cli("hub", "set", "open", "--author-check", "--root", root).exit_code == 0
    assert repos.author_check(Path(root) / "open.git")
    bare = Path(root) / "film.git"
    assert (bare / "hooks" / "pre-receive").stat().st_mode & 0o111
    assert (bare / "lfs" / "objects").is_dir()
    assert git("--git-dir", str(bare), "symbolic-ref", "HEAD").stdout.strip() == "refs/heads/main"


# -- interop with the real git and git-lfs ---------------------------------------------------------
def test_plain_git_lfs_push_clone_pull(hub: HubProcess, tmp_path: Path) -> None:
    work = lfs_work_tree(tmp_path / "work")
    media = os.urandom(300_000)
    commit_file(work, "take.bin", media)
    url = hub.collaboration_url("plain")
    git("push", url, "main", cwd=work, token=hub.tokens["ada"])
    oid = hashlib.sha256(media).hexdigest()
    assert hub.media_path("plain", oid).read_bytes() == media
    clone = lfs_clone(url, tmp_path / "clone", token=hub.tokens["bob"], user="bob")
    assert (clone / "take.bin").read_bytes() == media


def test_git_clone_and_lfs_pull_of_a_hitrec_collaboration(hub: HubProcess, tmp_path: Path) -> None:
    """The issue's interop check: every fragment's metadata and media, matching SHA-256."""
    repo = record(tmp_path / "proj", 4)
    url = hub.collaboration_url("interop")
    push_repo(repo, url, hub.tokens["ada"])
    assert hub.catalog_head("interop") == repo.catalog_head()
    clone = lfs_clone(url, tmp_path / "clone", token=hub.tokens["bob"], user="bob")
    fragments = repo.fragments()
    assert len(fragments) == 4
    for fragment in fragments:
        folder = clone / "fragments" / fragment.id[:2] / fragment.id
        meta = yaml.safe_load((folder / "fragment.yaml").read_text())
        assert meta  # the metadata is there and parses
        assert sha256_file(folder / fragment.media.filename) == fragment.media.oid
    assert git("fsck", "--strict", cwd=clone).returncode == 0


def test_credentials_through_askpass(hub: HubProcess, tmp_path: Path) -> None:
    """git asks for credentials after a 401 challenge; the token never appears in the URL."""
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\ncase \"$1\" in Username*) echo ada;; *) echo {hub.tokens['ada']};; esac\n")
    askpass.chmod(0o700)
    work = lfs_work_tree(tmp_path / "work")
    commit_file(work, "a.bin", b"askpass media")
    env = {"GIT_ASKPASS": str(askpass)}
    done = git("-c", "core.askPass=" + str(askpass), "push", hub.collaboration_url("askpass"), "main",
               cwd=work, env=env)
    assert done.returncode == 0
    assert hub.catalog_head("askpass") == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_pull_with_nothing_new_moves_nothing(hub: HubProcess, tmp_path: Path) -> None:
    repo = record(tmp_path / "proj", 2)
    url = hub.collaboration_url("again")
    push_repo(repo, url, hub.tokens["ada"])
    again = push_repo(repo, url, hub.tokens["ada"])
    assert "Everything up-to-date" in again.stderr
    batch = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=("ada", hub.tokens["ada"]), json={
        "operation": "upload", "objects": [{"oid": f.media.oid, "size": f.media.size} for f in repo.fragments()]})
    assert batch.status_code == 200
    assert all("actions" not in o and "error" not in o for o in batch.json()["objects"])


# -- auth ---------------------------------------------------------------------------------------
def test_reads_and_writes_need_a_token(hub: HubProcess, tmp_path: Path) -> None:
    repo = record(tmp_path / "proj", 1)
    url = hub.collaboration_url("private")
    push_repo(repo, url, hub.tokens["ada"])
    refs = url + "/info/refs?service=git-upload-pack"
    assert httpx.get(refs).status_code == 401
    assert "Basic" in httpx.get(refs).headers["www-authenticate"]
    assert httpx.get(refs, auth=("ada", "hrt_wrong")).status_code == 401
    assert httpx.get(refs, auth=("ada", hub.tokens["ada"])).status_code == 200
    assert httpx.get(refs, headers={"Authorization": f"Bearer {hub.tokens['bob']}"}).status_code == 200
    oid = repo.fragments()[0].media.oid
    assert httpx.get(f"{url}/info/lfs/objects/{oid}").status_code == 401
    assert httpx.get(f"{url}/info/lfs/objects/{oid}", auth=("bob", hub.tokens["bob"])).status_code == 200
    clone = git("clone", url, str(tmp_path / "c"), check=False)
    assert clone.returncode != 0
    assert httpx.post(url + "/info/lfs/objects/batch", headers=LFS,
                      json={"operation": "download", "objects": []}).status_code == 401


def test_revoked_token_stops_at_once(hub: HubProcess, tmp_path: Path) -> None:
    token = hub.add_user("carol", "carol@example.org")
    url = hub.collaboration_url("revoke")
    refs = url + "/info/refs?service=git-receive-pack"
    with httpx.Client(auth=("carol", token)) as client:  # one keep-alive connection throughout
        assert client.get(refs).status_code == 200
        hub.revoke("carol")
        denied = client.get(refs)
        assert denied.status_code == 401 and token not in denied.text
        assert client.get(url + "/info/refs?service=git-upload-pack").status_code == 401
    new = hub.new_token("carol")
    assert httpx.get(refs, auth=("carol", new)).status_code == 200
    assert httpx.get(refs, auth=("carol", token)).status_code == 401


def test_public_read_hub(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub", public_read=True) as public:
        token = public.add_user("ada", "ada@example.org")
        repo = record(tmp_path / "proj", 2)
        url = public.collaboration_url("open")
        push_repo(repo, url, token)
        clone = tmp_path / "clone"
        git("clone", url, str(clone))  # no credentials at all
        assert (clone / "fragments").is_dir()
        oid = repo.fragments()[0].media.oid
        assert httpx.get(f"{url}/info/lfs/objects/{oid}").status_code == 200
        # writes still need a token
        work = lfs_work_tree(tmp_path / "work")
        commit_file(work, "x.bin", b"anonymous")
        assert git("push", url, "main", cwd=work, check=False).returncode != 0
        assert httpx.get(url + "/info/refs?service=git-receive-pack").status_code == 401
        up = httpx.post(url + "/info/lfs/objects/batch", headers=LFS,
                        json={"operation": "upload", "objects": [{"oid": "a" * 64, "size": 1}]})
        assert up.status_code == 401
        assert httpx.put(f"{url}/info/lfs/objects/{'a' * 64}", content=b"x").status_code == 401
        assert httpx.get(public.collaboration_url("missing") + "/info/refs?service=git-upload-pack"
                         ).status_code == 404


# -- what the hub refuses ----------------------------------------------------------------------------
def test_refuses_a_fragment_by_someone_else(hub: HubProcess, tmp_path: Path) -> None:
    eve = Person("Eve", "eve@example.org")
    repo = record(tmp_path / "proj", 1, author=eve)
    url = hub.collaboration_url("authors")
    done = push_repo(repo, url, hub.tokens["ada"], check=False)
    assert done.returncode != 0
    assert "authored by <eve@example.org>" in done.stderr and "ada@example.org" in done.stderr
    assert hub.catalog_head("authors") is None
    # nothing of the refused push stays in the hub's object store (git quarantines it)
    frag = repo.fragments()[0].id
    assert git("--git-dir", str(hub.collaboration_path("authors")), "cat-file", "-e", frag,
               check=False).returncode != 0


def test_catalog_merges_by_others_are_fine(hub: HubProcess, tmp_path: Path) -> None:
    url = hub.collaboration_url("merges")
    ada = record(tmp_path / "ada", 2)
    push_repo(ada, url, hub.tokens["ada"])
    # bob fetches ada's catalog, records his own fragment, merges (a catalog commit with ada's
    # fragments in its tree), and pushes: only his own fragment is checked against his e-mail
    bob = record(tmp_path / "bob", 1, author=Person("Bob", "bob@example.org"), start=10)
    git("fetch", url, "main:refs/remotes/hub/main", git_dir=bob.git_dir, token=hub.tokens["bob"])
    theirs = git("rev-parse", "refs/remotes/hub/main", git_dir=bob.git_dir).stdout.strip()
    merged = bob.merge_catalog(theirs, require_media=False)  # this test is about commits, not media
    push_repo(bob, url, hub.tokens["bob"], user="bob")
    assert hub.catalog_head("merges") == merged
    # ada cannot publish bob's next fragment for him
    more = record(tmp_path / "ada", 1, author=Person("Bob", "bob@example.org"), start=20)
    git("fetch", url, "main:refs/remotes/hub/main", git_dir=more.git_dir, token=hub.tokens["ada"])
    more.merge_catalog(git("rev-parse", "refs/remotes/hub/main", git_dir=more.git_dir).stdout.strip(),
                       require_media=False)
    refused = push_repo(more, url, hub.tokens["ada"], check=False)
    assert refused.returncode != 0 and "only its author may publish" in refused.stderr


def test_author_check_can_be_turned_off(hub: HubProcess, tmp_path: Path) -> None:
    hub.create("archive", author_check=False)
    repo = record(tmp_path / "proj", 1, author=Person("Eve", "eve@example.org"))
    push_repo(repo, hub.collaboration_url("archive"), hub.tokens["ada"])
    assert hub.catalog_head("archive") == repo.catalog_head()


def test_refuses_fragments_whose_media_the_hub_lacks(hub: HubProcess, tmp_path: Path) -> None:
    repo = record(tmp_path / "proj", 1)
    url = hub.collaboration_url("nomedia")
    done = git("push", url, "main", git_dir=repo.git_dir, token=hub.tokens["ada"], check=False)
    assert done.returncode != 0 and "the hub does not have" in done.stderr
    assert hub.catalog_head("nomedia") is None
    push_repo(repo, url, hub.tokens["ada"])  # media first, then it lands
    assert hub.catalog_head("nomedia") == repo.catalog_head()


def test_refuses_other_refs_force_pushes_and_deletes(hub: HubProcess, tmp_path: Path) -> None:
    work = lfs_work_tree(tmp_path / "work")
    first = commit_file(work, "a.bin", b"one")
    url = hub.collaboration_url("refs")
    token = hub.tokens["ada"]
    git("push", url, "main", cwd=work, token=token)
    other = git("push", url, "main:refs/heads/feature", cwd=work, token=token, check=False)
    assert other.returncode != 0 and "accepts pushes to refs/heads/main only" in other.stderr
    git("commit", "-q", "--amend", "-m", "rewritten", cwd=work)
    forced = git("push", "--force", url, "main", cwd=work, token=token, check=False)
    assert forced.returncode != 0
    deleted = git("push", url, ":main", cwd=work, token=token, check=False)
    assert deleted.returncode != 0
    assert hub.catalog_head("refs") == first


def test_lfs_upload_must_hash_to_its_oid(hub: HubProcess, tmp_path: Path) -> None:
    url = hub.collaboration_url("hashes")
    auth = ("ada", hub.tokens["ada"])
    good = b"good media bytes"
    oid = hashlib.sha256(good).hexdigest()
    bad = httpx.put(f"{url}/info/lfs/objects/{oid}", content=b"evil media bytes", auth=auth)
    assert bad.status_code == 422 and "hash" in bad.json()["message"]
    assert not hub.media_path("hashes", oid).exists()
    assert list((hub.collaboration_path("hashes") / "lfs" / "tmp").iterdir()) == []
    ok = httpx.put(f"{url}/info/lfs/objects/{oid}", content=good, auth=auth)
    assert ok.status_code == 200 and hub.media_path("hashes", oid).read_bytes() == good
    # a batch claiming another size for media the hub has is refused for that object
    batch = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=auth, json={
        "operation": "download", "objects": [{"oid": oid, "size": len(good) + 1}, {"oid": oid, "size": len(good)}]})
    first, second = batch.json()["objects"]
    assert first["error"]["code"] == 422 and "download" in second["actions"]
    assert second["actions"]["download"]["href"] == f"{url}/info/lfs/objects/{oid}"
    assert second["actions"]["download"]["header"]["Authorization"].startswith("Basic ")


def test_batch_answers_only_what_is_needed(hub: HubProcess) -> None:
    url = hub.collaboration_url("batch")
    auth = ("ada", hub.tokens["ada"])
    have = b"present"
    have_oid = hashlib.sha256(have).hexdigest()
    httpx.put(f"{url}/info/lfs/objects/{have_oid}", content=have, auth=auth).raise_for_status()
    missing = "0" * 64
    answer = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=auth, json={
        "operation": "upload", "transfers": ["basic"],
        "objects": [{"oid": have_oid, "size": len(have)}, {"oid": missing, "size": 5},
                    {"oid": "../../etc/passwd", "size": 1}, {"oid": missing, "size": -1}]})
    assert answer.headers["content-type"].startswith("application/vnd.git-lfs+json")
    body = answer.json()
    assert body["transfer"] == "basic"
    present, absent, evil, negative = body["objects"]
    assert "actions" not in present and "error" not in present
    assert absent["actions"]["upload"]["href"].endswith(f"/batch.git/info/lfs/objects/{missing}")
    assert "authenticated" not in absent
    assert evil["error"]["code"] == 422 and negative["error"]["code"] == 422
    down = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=auth, json={
        "operation": "download", "objects": [{"oid": missing, "size": 5}]}).json()
    assert down["objects"][0]["error"]["code"] == 404
    bad = httpx.post(url + "/info/lfs/objects/batch", headers=LFS, auth=auth, content=b"{not json")
    assert bad.status_code == 422
    locks = httpx.post(url + "/info/lfs/locks/verify", headers=LFS, auth=auth, json={})
    # no locks on this hub: a 404 per the locking spec (a 200 made git-lfs advise lock verification)
    assert locks.status_code == 404 and "locks" in locks.json()["message"]


def test_download_resumes_with_range(hub: HubProcess) -> None:
    url = hub.collaboration_url("ranges")
    auth = ("ada", hub.tokens["ada"])
    data = os.urandom(100_000)
    oid = hashlib.sha256(data).hexdigest()
    httpx.put(f"{url}/info/lfs/objects/{oid}", content=data, auth=auth).raise_for_status()
    part = httpx.get(f"{url}/info/lfs/objects/{oid}", auth=auth, headers={"Range": "bytes=60000-"})
    assert part.status_code == 206 and part.content == data[60000:]
    assert part.headers["content-range"] == f"bytes 60000-99999/{len(data)}"


def test_health_and_unknown_routes(hub: HubProcess) -> None:
    assert httpx.get(hub.url + "/").text == "hitrec hub\n"
    assert httpx.get(hub.url + "/nothing").status_code == 404
    dumb = httpx.get(hub.collaboration_url("x") + "/info/refs", auth=("ada", hub.tokens["ada"]))
    assert dumb.status_code == 403 and "smart HTTP" in dumb.text
    assert json.loads(httpx.get(hub.collaboration_url("x") + "/info/lfs/locks",
                                auth=("ada", hub.tokens["ada"])).text)["message"]


@pytest.mark.parametrize("size", [8 << 20, (9 << 20) + 123])
def test_large_uploads_verified_and_whole(hub: HubProcess, size: int) -> None:
    """Large media takes the O_DIRECT path: aligned blocks plus an unaligned tail."""
    url = hub.collaboration_url("large")
    auth = ("ada", hub.tokens["ada"])
    data = os.urandom(size)
    oid = hashlib.sha256(data).hexdigest()
    corrupt = bytearray(data)
    corrupt[-1] ^= 1
    assert httpx.put(f"{url}/info/lfs/objects/{oid}", content=bytes(corrupt), auth=auth).status_code == 422
    assert not hub.media_path("large", oid).exists()
    pieces = [data[i:i + 700_001] for i in range(0, size, 700_001)]
    put = httpx.put(f"{url}/info/lfs/objects/{oid}", content=iter(pieces), auth=auth,
                    headers={"Content-Length": str(size)})
    assert put.status_code == 200
    assert sha256_file(hub.media_path("large", oid)) == oid
    got = httpx.get(f"{url}/info/lfs/objects/{oid}", auth=auth)
    assert got.content == data


def test_large_downloads_and_ranges_at_any_offset(hub: HubProcess) -> None:
    """Big media is read with O_DIRECT in aligned blocks; a resume may start anywhere."""
    url = hub.collaboration_url("large")
    auth = ("ada", hub.tokens["ada"])
    data = os.urandom((9 << 20) + 123)
    oid = hashlib.sha256(data).hexdigest()
    httpx.put(f"{url}/info/lfs/objects/{oid}", content=data, auth=auth).raise_for_status()
    with httpx.Client(auth=auth, timeout=60) as http:
        for start in (1, 4095, 4096, (4 << 20) + 17, len(data) - (1 << 20) - 1, len(data) - 1):
            got = http.get(f"{url}/info/lfs/objects/{oid}", headers={"Range": f"bytes={start}-"})
            assert got.status_code == 206 and got.content == data[start:], start


@pytest.mark.parametrize("folder", ["disk", "tmpfs"])
def test_read_blocks_matches_the_file(tmp_path: Path, folder: str) -> None:
    """The download reader on a file system with O_DIRECT and on one without (tmpfs)."""
    base = tmp_path if folder == "disk" else Path("/dev/shm")
    if not base.is_dir():
        pytest.skip("no /dev/shm on this machine")
    path = base / f"hitrec-read-blocks-{os.getpid()}"
    data = os.urandom((files.BLOCK * 5) + 4097)
    path.write_bytes(data)

    async def read(start: int, end: int) -> bytes:
        fd = os.open(path, os.O_RDONLY)
        try:
            return b"".join([block async for block in files.read_blocks(fd, start, end)])
        finally:
            os.close(fd)

    try:
        for start in (0, 1, 4096, files.BLOCK - 1, files.BLOCK * 3 + 5, len(data) - 1):
            assert asyncio.run(read(start, len(data))) == data[start:], start
        path.write_bytes(data[:files.BLOCK])  # the file shrank under a download: an error, not garbage
        with pytest.raises(OSError, match="early"):
            asyncio.run(read(0, len(data)))
    finally:
        path.unlink(missing_ok=True)


def test_quiet_hub_logs_no_requests(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub", extra_args=["--quiet"]) as quiet:
        token = quiet.add_user("ada", "ada@example.org")
        assert httpx.get(quiet.collaboration_url("q") + "/info/refs?service=git-receive-pack",
                         auth=("ada", token)).status_code == 200
        assert "hitrec hub serving" in quiet.log_text()
        assert "info/refs" not in quiet.log_text()


def test_interrupted_large_upload_leaves_nothing(hub: HubProcess) -> None:
    import socket
    import time

    from hub_git import auth_header

    data = os.urandom(12 << 20)
    oid = hashlib.sha256(data).hexdigest()
    port = int(hub.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"PUT /dropped.git/info/lfs/objects/{oid} HTTP/1.1\r\nHost: x\r\n"
                     f"{auth_header('ada', hub.tokens['ada'])}\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        sock.sendall(data[: 9 << 20])  # past two full 4 MiB buffers, then the connection drops
    tmp = hub.collaboration_path("dropped") / "lfs" / "tmp"
    deadline = time.monotonic() + 10
    while (not tmp.is_dir() or list(tmp.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp.iterdir()) == []
    assert not hub.media_path("dropped", oid).exists()
    ok = httpx.put(f"{hub.collaboration_url('dropped')}/info/lfs/objects/{oid}", content=data,
                   auth=("ada", hub.tokens["ada"]))
    assert ok.status_code == 200 and sha256_file(hub.media_path("dropped", oid)) == oid


def test_serve_on_a_busy_port_says_so(tmp_path: Path) -> None:
    import socket

    from conftest import run_hitrec

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = run_hitrec("hub", "serve", "--root", str(tmp_path / "hub"), "--port", str(port), cwd=tmp_path,
                          timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr


@pytest.mark.parametrize("tamper", ["drop", "edit", "forge"])
def test_catalog_commits_may_only_add_real_fragments(hub: HubProcess, tmp_path: Path, tamper: str) -> None:
    """Nobody can remove or alter a fragment in what `git clone` shows, or invent one."""
    name = f"catalog-{tamper}"
    url = hub.collaboration_url(name)
    repo = record(tmp_path / "proj", 2)
    push_repo(repo, url, hub.tokens["ada"])
    before = hub.catalog_head(name)
    work = tmp_path / "work"
    git("clone", "-q", url, str(work), token=hub.tokens["bob"], user="bob")
    victim = repo.fragments()[0].id
    folder = work / "fragments" / victim[:2] / victim
    if tamper == "drop":
        git("rm", "-q", "-r", str(folder), cwd=work)
    elif tamper == "edit":
        (folder / "fragment.yaml").write_text((folder / "fragment.yaml").read_text() + "# edited\n")
        git("add", "-A", cwd=work)
    else:
        fake = "ab" + "c" * 38
        (work / "fragments" / "ab" / fake).mkdir(parents=True)
        (work / "fragments" / "ab" / fake / "fragment.yaml").write_text("title: forged\n")
        git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "catalog", cwd=work)
    refused = git("push", url, "main", cwd=work, token=hub.tokens["bob"], user="bob", check=False)
    assert refused.returncode != 0
    expected = "a catalog may only add fragments" if tamper != "forge" else "is not the tree of fragment commit"
    assert expected in refused.stderr
    assert hub.catalog_head(name) == before


def test_lfs_addresses_follow_the_host_and_a_local_tls_proxy(hub: HubProcess) -> None:
    oid = "a" * 64
    answer = httpx.post(hub.collaboration_url("proxied") + "/info/lfs/objects/batch", auth=("ada", hub.tokens["ada"]),
                        headers={**LFS, "Host": "hub.example.org", "X-Forwarded-Proto": "https"},
                        json={"operation": "upload", "objects": [{"oid": oid, "size": 1}]})
    href = answer.json()["objects"][0]["actions"]["upload"]["href"]
    assert href == f"https://hub.example.org/proxied.git/info/lfs/objects/{oid}"
    bad_host = httpx.post(hub.collaboration_url("proxied") + "/info/lfs/objects/batch",
                          auth=("ada", hub.tokens["ada"]), headers={**LFS, "Host": "evil/../x@y"},
                          json={"operation": "upload", "objects": [{"oid": oid, "size": 1}]})
    assert bad_host.json()["objects"][0]["actions"]["upload"]["href"].startswith("http://127.0.0.1:")


def test_hub_commands_print_their_operation_results_as_json(tmp_path: Path, cli) -> None:
    """`hub create`, `hub user token` and `hub user revoke` print what hitrec.ops.hub returns, in the JSON
    the CLI has always printed."""
    root = tmp_path / "hubroot"
    created = cli("hub", "create", "film", "--no-author-check", "--root", str(root), "--json").json()
    assert created == {"name": "film", "path": str(root / "film.git"), "author_check": False}
    cli("hub", "user", "add", "ada", "--email", "ada@example.org", "--root", str(root))
    token = cli("hub", "user", "token", "ada", "--root", str(root), "--json").json()
    assert set(token) == {"name", "token"} and token["name"] == "ada"
    assert UserStore(root).authenticate(token["token"]).name == "ada"
    revoked = cli("hub", "user", "revoke", "ada", "--root", str(root), "--json").json()
    assert revoked["name"] == "ada" and revoked["revoked"] is True and "token" not in revoked
