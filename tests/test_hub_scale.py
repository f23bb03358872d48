"""Several hub processes over one root (docs/scale.md): `hub serve --workers N`, separate hubs sharing a
root, and nginx in front of three hubs routing each collaboration by consistent hashing of its name."""

from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import multiprocessing
import os
import re
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hub_git import commit_file, git, lfs_work_tree
from hub_process import HubProcess, wait_for
from nginx_front import NginxFront, front_conf
from scale_load import clone_ids, collect, made_by_url, prepare_clients, start_clients
from seaweed import Seaweed
from sync_helpers import hub_fragment_ids

from hitrec.hub import repos
from hitrec.hub.gallery import sessions
from hitrec.hub.users import USERS_FILE, UserStore

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
_SERVED_BY = re.compile(r"\[(\d+)\]: \S+ \S+ \"")


def children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return set()
    return {int(p) for p in text.split()}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Two separate hub processes serving one root (each test uses collaborations of its own)."""
    root = tmp_path_factory.mktemp("two-hubs") / "root"
    with HubProcess(root, log_name="hub-a") as a, HubProcess(root, log_name="hub-b") as b:
        a.add_user("ada", "ada@example.org")
        b.tokens = a.tokens
        yield a, b


# -- hub serve --workers N ----------------------------------------------------------------------------

@pytest.mark.slow
def test_workers_serve_concurrent_pushes_and_pulls_and_replace_a_dead_one(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "root", extra_args=["--workers", "2"]).start()
    try:
        assert hub.proc is not None
        supervisor = hub.proc.pid
        assert wait_for(lambda: len(children(supervisor)) == 2)
        workers = children(supervisor)
        urls = [hub.collaboration_url("film"), hub.collaboration_url("poem")]
        prepared = prepare_clients(tmp_path, hub.root, urls, clients=4)
        results = collect(start_clients(tmp_path, prepared, rounds=2, seconds=20), timeout=240)
        assert [e for r in results.values() for e in r["errors"]] == []  # type: ignore[attr-defined]
        for url, made in made_by_url(prepared, results).items():
            assert hub_fragment_ids(hub.collaboration_path(url.rsplit("/", 1)[1][:-4])) == made
        served = set(map(int, _SERVED_BY.findall(hub.log_text())))
        assert served == workers  # both workers answered requests (one socket, two processes)
        assert hub.log_text().count("hitrec hub serving") == 1  # the address is printed once

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: len(children(supervisor) - {victim}) == 2)
        replacement = children(supervisor) - workers
        assert len(replacement) == 1
        assert f"hub worker {victim} was killed by SIGKILL" in hub.log_text()
        for _ in range(8):  # the survivors serve meanwhile, and then the new one too
            assert httpx.get(hub.url + "/", timeout=10).status_code == 200
        workers = children(supervisor)
    finally:
        hub.stop()
    assert hub.proc.returncode == 0  # stopped by SIGTERM: every worker was stopped and reaped
    assert not any(alive(pid) for pid in workers)  # no orphan


def test_workers_stop_with_the_supervisor_even_when_it_is_killed(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "root", extra_args=["--workers", "2"]).start()
    assert hub.proc is not None
    assert wait_for(lambda: len(children(hub.proc.pid)) == 2)  # type: ignore[union-attr]
    workers = children(hub.proc.pid)
    hub.proc.kill()  # SIGKILL: no chance to stop them itself
    hub.proc.wait()
    hub.stop()
    assert wait_for(lambda: not any(alive(pid) for pid in workers))  # PR_SET_PDEATHSIG


# -- two hub processes over one root -------------------------------------------------------------------

def test_a_push_through_one_hub_waits_for_the_push_lock_another_process_holds(
        two_hubs: tuple[HubProcess, HubProcess], tmp_path: Path) -> None:
    """The push lock is an flock on the collaboration's folder: whoever holds it, in whatever process,
    a push through another hub waits for it (and only then clears push debris, so never a live push's)."""
    a, b = two_hubs
    token = a.tokens["ada"]
    work = lfs_work_tree(tmp_path / "work")
    commit_file(work, "a.txt", b"one")
    git("push", a.collaboration_url("film"), "main", cwd=work, token=token)
    git_dir = a.collaboration_path("film")
    fd = repos.lock_pushes(git_dir)  # as a push in a third process would hold it
    assert fd is not None
    try:
        (git_dir / "refs/heads/main.lock").write_text("a live push's ref lock\n")
        commit_file(work, "b.txt", b"two")
        push = subprocess.Popen(["git", "-c", f"http.extraHeader=Authorization: Bearer {token}", "push", "-q",
                                 b.collaboration_url("film"), "main"], cwd=work, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(1.5)
        assert push.poll() is None  # waiting, and the other push's main.lock is untouched
        assert (git_dir / "refs/heads/main.lock").exists()
        assert wait_for(lambda: "waits for an earlier git receive-pack" in b.log_text())
    finally:
        (git_dir / "refs/heads/main.lock").unlink(missing_ok=True)
        os.close(fd)
    _, err = push.communicate(timeout=60)
    assert push.returncode == 0, err
    assert a.catalog_head("film") == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_racing_plain_pushes_through_two_hubs_one_wins_the_other_is_told_to_fetch(
        two_hubs: tuple[HubProcess, HubProcess], tmp_path: Path) -> None:
    a, b = two_hubs
    token = a.tokens["ada"]
    first = lfs_work_tree(tmp_path / "first")
    commit_file(first, "base.txt", b"base")
    git("push", a.collaboration_url("race"), "main", cwd=first, token=token)
    second = tmp_path / "second"
    git("clone", "-q", a.collaboration_url("race"), str(second), token=token)
    for round_ in range(4):
        git("pull", "-q", "--ff-only", a.collaboration_url("race"), "main", cwd=first, token=token)
        git("pull", "-q", "--ff-only", a.collaboration_url("race"), "main", cwd=second, token=token)
        heads = [commit_file(first, f"a{round_}.txt", b"a"), commit_file(second, f"b{round_}.txt", b"b")]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda args: git("push", args[0], "main", cwd=args[1], token=token, check=False),
                                 [(a.collaboration_url("race"), first), (b.collaboration_url("race"), second)]))
        won = [head for head, d in zip(heads, done, strict=True) if d.returncode == 0]
        lost = [d for d in done if d.returncode != 0]
        assert len(won) == 1 and len(lost) == 1, [d.stderr for d in done]
        assert re.search(r"fetch first|non-fast-forward|fetch first|expected", lost[0].stderr), lost[0].stderr
        assert a.catalog_head("race") == won[0]
        for wd in (first, second):  # the loser rebases on the winner for the next round
            git("fetch", "-q", a.collaboration_url("race"), "main", cwd=wd, token=token)
            git("reset", "-q", "--hard", "FETCH_HEAD", cwd=wd)
    fsck = subprocess.run(["git", "--git-dir", str(a.collaboration_path("race")), "fsck", "--full"],
                          capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    for hub in (a, b):
        assert "failed to update ref" not in hub.log_text() and "cannot lock ref" not in hub.log_text()


@pytest.mark.slow
def test_hitrec_clients_pushing_through_two_hubs_lose_nothing(
        two_hubs: tuple[HubProcess, HubProcess], tmp_path: Path) -> None:
    """Four clients, two through each hub, all pushing to one collaboration at once: each push lands
    (merging what the others pushed first), and the hub holds every fragment."""
    a, b = two_hubs
    urls = [a.collaboration_url("swarm"), b.collaboration_url("swarm")]
    prepared = prepare_clients(tmp_path, a.root, urls, clients=4)
    results = collect(start_clients(tmp_path, prepared, rounds=2, seconds=30), timeout=300)
    assert [e for r in results.values() for e in r["errors"]] == []  # type: ignore[attr-defined]
    made = set().union(*made_by_url(prepared, results).values())
    assert hub_fragment_ids(a.collaboration_path("swarm")) == made
    served = [sum(1 for line in hub.log_text().splitlines() if "git-receive-pack\" 200" in line) for hub in (a, b)]
    assert all(served), served  # both hubs took pushes
    fsck = subprocess.run(["git", "--git-dir", str(a.collaboration_path("swarm")), "fsck", "--full"],
                          capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    ids, missing = clone_ids(b.collaboration_url("swarm"), tmp_path / "check", prepared["user00"][1])
    assert ids == made and missing == []


def test_first_pushes_of_one_collaboration_through_two_hubs_create_it_once(
        two_hubs: tuple[HubProcess, HubProcess], tmp_path: Path) -> None:
    a, b = two_hubs
    token = a.tokens["ada"]
    names = [f"new{i}" for i in range(4)]

    def first_contact(args: tuple[HubProcess, str]) -> int:
        hub, name = args
        return httpx.get(hub.collaboration_url(name) + "/info/refs", params={"service": "git-receive-pack"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(first_contact, [(hub, name) for name in names for hub in (a, b, a, b)]))
    assert set(codes) == {200}
    assert set(names) <= set(repos.list_collaborations(a.root))
    assert [p.name for p in a.root.iterdir() if p.name.startswith(".new-")] == []
    work = lfs_work_tree(tmp_path / "work")
    commit_file(work, "a.bin", b"media")
    for name in names[:1]:  # a working collaboration
        git("push", b.collaboration_url(name), "main", cwd=work, token=token)
        assert a.catalog_head(name) == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_the_same_media_uploaded_through_two_hubs_at_once_is_stored_once_whole(
        two_hubs: tuple[HubProcess, HubProcess]) -> None:
    a, b = two_hubs
    token = a.tokens["ada"]
    a.create("media")
    data = os.urandom(3 << 20)
    oid = hashlib.sha256(data).hexdigest()

    def put(hub: HubProcess) -> int:
        return httpx.put(f"{hub.collaboration_url('media')}/info/lfs/objects/{oid}", content=data,
                         headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, [a, b] * 4)) == {200}
    assert hashlib.sha256(a.media_path("media", oid).read_bytes()).hexdigest() == oid
    assert list((a.collaboration_path("media") / "lfs" / "tmp").iterdir()) == []


def test_a_token_revoked_or_replaced_through_one_process_is_refused_by_every_hub_at_once(
        two_hubs: tuple[HubProcess, HubProcess]) -> None:
    """users.json is re-read by every process when it changes; action tokens minted by one hub are good
    on the other (one action key, made atomically by whichever started first) and die with the user."""
    a, b = two_hubs
    a.create("tokens")
    data = b"media bytes"
    oid = hashlib.sha256(data).hexdigest()
    bob = a.add_user("bob", "bob@example.org")
    auth = {"Authorization": f"Bearer {bob}"}
    for hub in (a, b):  # added through the root: both know bob at once
        assert httpx.get(hub.collaboration_url("tokens") + "/info/refs", params={"service": "git-upload-pack"},
                         headers=auth).status_code == 200
    assert httpx.put(f"{a.collaboration_url('tokens')}/info/lfs/objects/{oid}", content=data,
                     headers=auth).status_code == 200
    batch = httpx.post(a.collaboration_url("tokens") + "/info/lfs/objects/batch", headers={**LFS, **auth},
                       json={"operation": "download", "objects": [{"oid": oid, "size": len(data)}]}).json()
    action = batch["objects"][0]["actions"]["download"]
    href_on_b = action["href"].replace(a.url, b.url)
    assert httpx.get(href_on_b, headers=action["header"]).content == data  # minted by a, good on b

    fresh = UserStore(a.root).new_token("bob")  # the old token ends everywhere ...
    for hub in (a, b):
        assert httpx.get(hub.collaboration_url("tokens") + "/info/refs", params={"service": "git-upload-pack"},
                         headers=auth).status_code == 401
        assert httpx.get(href_on_b.replace(b.url, hub.url), headers=action["header"]).status_code == 401
    auth = {"Authorization": f"Bearer {fresh}"}
    assert httpx.get(b.collaboration_url("tokens") + "/info/refs", params={"service": "git-upload-pack"},
                     headers=auth).status_code == 200
    subprocess.run([sys.executable, "-m", "hitrec", "hub", "user", "revoke", "bob", "--root", str(a.root)],
                   check=True, capture_output=True)
    for hub in (b, a):  # ... and so does a revoked user, with no pause
        assert httpx.get(hub.collaboration_url("tokens") + "/info/refs", params={"service": "git-upload-pack"},
                         headers=auth).status_code == 401


def test_a_gallery_session_made_by_one_hub_works_on_the_other_and_a_revoke_ends_it_on_both(
        two_hubs: tuple[HubProcess, HubProcess]) -> None:
    a, b = two_hubs
    a.create("pages")
    cleo = a.add_user("cleo", "cleo@example.org")
    answer = httpx.post(a.url + "/-/login", data={"user": "cleo", "token": cleo, "next": "/-/c/pages"},
                        headers={"origin": a.url}, timeout=30)
    assert answer.status_code == 303
    jar = {sessions.COOKIE: answer.headers["set-cookie"].split(";")[0].split("=", 1)[1]}
    json_page = {"accept": "application/json"}
    for hub in (a, b):
        assert httpx.get(hub.url + "/-/c/pages", headers=json_page, cookies=jar, timeout=30).status_code == 200
    UserStore(a.root).revoke("cleo")
    for hub in (b, a):
        assert httpx.get(hub.url + "/-/c/pages", headers=json_page, cookies=jar, timeout=30).status_code == 401


def test_every_write_of_the_users_file_changes_its_stamp(tmp_path: Path) -> None:
    """Hubs re-read users.json when (inode, mtime, size) changes. The file clock ticks every few ms,
    inodes are reused and another machine's clock may be ahead, so each write makes its mtime later
    than the last one's, whatever this machine's clock says."""
    store = UserStore(tmp_path)
    store.add("ada", "ada@example.org")
    ahead = time.time_ns() + 3600 * 10**9  # written from a machine whose clock is an hour ahead
    os.utime(tmp_path / USERS_FILE, ns=(ahead, ahead))
    mtimes = [ahead]
    for _ in range(30):  # same size each time: only the mtime can tell them apart
        store.new_token("ada")
        mtimes.append((tmp_path / USERS_FILE).stat().st_mtime_ns)
    assert all(later > earlier for earlier, later in itertools.pairwise(mtimes))


def _install_hooks(git_dir: str, rounds: int) -> None:
    hook = Path(git_dir) / "hooks" / "pre-receive"
    for _ in range(rounds):
        hook.unlink(missing_ok=True)  # as after an upgrade that changed the hook
        repos.install_hook(Path(git_dir))


def test_hubs_starting_together_install_hooks_without_tripping_on_each_other(tmp_path: Path) -> None:
    git_dir = repos.create(tmp_path, "film")
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_install_hooks, args=(str(git_dir), 200)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    assert (git_dir / "hooks" / "pre-receive").read_text() == repos.HOOK
    assert sorted(p.name for p in (git_dir / "hooks").iterdir() if p.name.startswith(".pre-receive")) == []


def test_forwarded_headers_count_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    oid = "a" * 64
    body = {"operation": "upload", "objects": [{"oid": oid, "size": 1}]}
    headers = {**LFS, "Host": "front.example.org", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    for args, scheme, client in ((["--trusted-proxy", "none"], "http", "127.0.0.1"),
                                 (["--trusted-proxy", "127.0.0.1"], "https", "203.0.113.9")):
        with HubProcess(tmp_path / "root", extra_args=args, log_name=scheme) as hub:
            token = hub.add_user("ada", "ada@example.org")
            answer = httpx.post(hub.collaboration_url("film") + "/info/lfs/objects/batch", headers=headers,
                                auth=("ada", token), json=body).json()
            href = answer["objects"][0]["actions"]["upload"]["href"]
            assert href == f"{scheme}://front.example.org/film.git/info/lfs/objects/{oid}"
            assert wait_for(lambda hub=hub: "objects/batch" in hub.log_text())
            assert f"{client} ada \"POST /film.git/info/lfs/objects/batch\"" in hub.log_text()
        UserStore(tmp_path / "root").revoke("ada")


# -- nginx in front of three hubs -----------------------------------------------------------------------

class Front:
    """Three hubs over one root and nginx routing collaborations among them. ``weed``: media in that
    SeaweedFS (``--media s3://...``) instead of the root; ``workers``: each hub's ``--workers``."""

    def __init__(self, base: Path, count: int = 3, *, weed: Seaweed | None = None,
                 workers: tuple[int, ...] = ()) -> None:
        self.root = base / "root"
        media: list[str] = []
        env: dict[str, str] = {}
        if weed is not None:
            media = ["--media", weed.media_url(f"scale-{secrets.token_hex(4)}"), "--s3-endpoint", weed.endpoint]
            env = {**weed.env(), "HOME": str(base)}
        self.hubs = [HubProcess(self.root, log_name=f"hub{i}", env=env,
                                extra_args=[*media, "--workers", str(workers[i] if i < len(workers) else 1)])
                     for i in range(count)]
        self.base = base
        self.nginx: NginxFront | None = None

    def __enter__(self) -> Front:
        for hub in self.hubs:
            hub.start()
        self.nginx = NginxFront(self.base / "nginx", [hub.url.split("//")[1] for hub in self.hubs]).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for hub in self.hubs:
            hub.stop()

    def served_by(self) -> dict[str, set[int]]:
        """Which hubs' logs show requests for each collaboration."""
        route = re.compile(r"\"\w+ /([^/]+)\.git/")
        seen: dict[str, set[int]] = {}
        for i, hub in enumerate(self.hubs):
            for name in route.findall(hub.log_text()):
                seen.setdefault(name, set()).add(i)
        return seen


@pytest.mark.slow
def test_nginx_routes_each_collaboration_to_one_hub_and_16_clients_lose_nothing(tmp_path: Path) -> None:
    with Front(tmp_path) as front:
        assert front.nginx is not None
        names = [f"collab{i}" for i in range(8)]
        prepared = prepare_clients(tmp_path, front.root, [front.nginx.url(n) for n in names], clients=16)
        started = time.monotonic()
        results = collect(start_clients(tmp_path, prepared, rounds=2, seconds=40), timeout=400)
        assert time.monotonic() - started < 300
        assert [e for r in results.values() for e in r["errors"]] == []  # type: ignore[attr-defined]
        made = made_by_url(prepared, results)
        env = prepared["user00"][1]
        for url, fragments in made.items():  # every fragment everywhere: on the hub, and in a clone
            name = url.rsplit("/", 1)[1][:-4]
            assert hub_fragment_ids(front.hubs[0].collaboration_path(name)) == fragments
            ids, missing = clone_ids(url, tmp_path / "clones" / name, env)
            assert ids == fragments and missing == []
        served = front.served_by()
        assert set(served) == set(names)
        assert all(len(hubs) == 1 for hubs in served.values()), served  # one hub per collaboration
        assert len(set().union(*served.values())) >= 2  # and the collaborations spread over the hubs
        upstreams: dict[str, set[str]] = {}
        for collab, upstream, *_ in front.nginx.access_log():
            upstreams.setdefault(collab, set()).add(upstream)
        assert all(len(ups) == 1 for name, ups in upstreams.items() if name in names), upstreams
        for path in ("/", "/-/health", "/-/login", "/-/c/collab0"):  # the gallery: all on one hub
            assert httpx.get(front.nginx.origin + path, timeout=30).status_code < 500
        gallery = {upstream for collab, upstream, *_ in front.nginx.access_log() if collab == "-"}
        assert len(gallery) == 1, gallery
        # the batch answers' addresses name nginx, where the client came in, not the hub behind it
        _, token = UserStore(front.root).add("probe", "probe@example.org")
        oid = "b" * 64
        answer = httpx.post(front.nginx.url(names[0]) + "/info/lfs/objects/batch", auth=("probe", token),
                            headers=LFS, json={"operation": "upload", "objects": [{"oid": oid, "size": 1}]})
        assert answer.json()["objects"][0]["actions"]["upload"]["href"].startswith(front.nginx.origin + "/")


@pytest.mark.slow
def test_a_killed_hub_behind_nginx_fails_its_requests_cleanly_and_its_collaborations_move_on(
        tmp_path: Path) -> None:
    """nginx skips a hub it cannot reach (max_fails=1, fail_timeout=5s) and sends its collaborations to
    the next hub on the hash ring; the hubs share the root, so that hub serves them as well. A request
    in flight on the killed hub fails (the client says so, nothing half-made stays); a re-run works."""
    with Front(tmp_path) as front:
        assert front.nginx is not None
        names = [f"collab{i}" for i in range(6)]
        prepared = prepare_clients(tmp_path, front.root, [front.nginx.url(n) for n in names], clients=6)
        results = collect(start_clients(tmp_path, prepared, rounds=1, seconds=30), timeout=300)
        assert [e for r in results.values() for e in r["errors"]] == []  # type: ignore[attr-defined]
        served = front.served_by()
        victim_index = next(iter(served["collab0"]))
        victim = front.hubs[victim_index]
        moved = sorted(n for n, hubs in served.items() if hubs == {victim_index})
        # a big upload to one of its collaborations, killed mid-way with its hub
        _, token = UserStore(front.root).add("probe", "probe@example.org")
        data = os.urandom(48 << 20)
        oid = hashlib.sha256(data).hexdigest()
        outcome: dict[str, object] = {}

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(data), 1 << 20):
                yield data[start:start + (1 << 20)]
                time.sleep(0.02)

        def upload() -> None:
            try:
                outcome["status"] = httpx.put(f"{front.nginx.url('collab0')}/info/lfs/objects/{oid}",  # type: ignore[union-attr]
                                              content=chunks(), auth=("probe", token), timeout=60,
                                              headers={"Content-Length": str(len(data))}).status_code
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        uploader = threading.Thread(target=upload)
        uploader.start()
        temp = front.hubs[0].collaboration_path("collab0") / "lfs" / "tmp"
        assert wait_for(lambda: any(temp.iterdir()), timeout=20)
        assert victim.proc is not None
        victim.proc.kill()
        uploader.join(60)
        assert outcome.get("status", 0) != 200  # failed, visibly: a 502 or a dropped connection
        assert not front.hubs[0].media_path("collab0", oid).exists()
        # every collaboration keeps working through nginx: the victim's on another hub
        later = dict(prepared)
        results = collect(start_clients(tmp_path, later, rounds=1, seconds=30, tag="later"), timeout=300)
        assert [e for r in results.values() for e in r["errors"]] == []  # type: ignore[attr-defined]
        for url, fragments in made_by_url(later, results).items():
            name = url.rsplit("/", 1)[1][:-4]
            assert fragments <= hub_fragment_ids(front.hubs[0].collaboration_path(name))
        status = httpx.put(f"{front.nginx.url('collab0')}/info/lfs/objects/{oid}", content=data,
                           auth=("probe", token), timeout=60).status_code
        assert status == 200  # the re-run completes, through another hub
        assert list(temp.iterdir()) == []  # and that hub swept the killed upload's temp file (its lock is free)
        after = front.served_by()
        for name in moved:
            assert after[name] - {victim_index}, name  # now served by a survivor


def test_docs_show_the_nginx_front_the_tests_run() -> None:
    conf = front_conf("443", ["10.0.0.11:8642", "10.0.0.12:8642", "10.0.0.13:8642"],
                      access_log="/var/log/nginx/hitrec.log", server_name="hub.example.org",
                      tls=(Path("/etc/ssl/hub.example.org.pem"), Path("/etc/ssl/hub.example.org.key")))
    page = (Path(__file__).resolve().parent.parent / "docs" / "scale.md").read_text()
    assert f"```nginx\n{conf}```" in page


@pytest.mark.slow
def test_three_hubs_with_media_in_the_object_store_behind_nginx(tmp_path: Path, seaweed: Seaweed) -> None:
    """The layout for several machines: the root holds git and users only, media goes straight between
    clients and SeaweedFS; one hub also forks workers (each with its own S3 client, none shared)."""
    with Front(tmp_path, weed=seaweed, workers=(2, 1, 1)) as front:
        assert front.nginx is not None
        names = [f"s3collab{i}" for i in range(4)]
        prepared = prepare_clients(tmp_path, front.root, [front.nginx.url(n) for n in names], clients=8)
        results = collect(start_clients(tmp_path, prepared, rounds=2, seconds=40), timeout=400)
        assert [e for r in results.values() for e in r["errors"]] == []  # type: ignore[attr-defined]
        env = prepared["user00"][1]
        for url, fragments in made_by_url(prepared, results).items():
            name = url.rsplit("/", 1)[1][:-4]
            assert hub_fragment_ids(front.hubs[0].collaboration_path(name)) == fragments
            ids, missing = clone_ids(url, tmp_path / "clones" / name, env)
            assert ids == fragments and missing == []
            objects = front.hubs[0].collaboration_path(name) / "lfs" / "objects"
            assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))  # none in the root
        served = front.served_by()
        assert set(served) == set(names) and all(len(hubs) == 1 for hubs in served.values()), served
        for hub in front.hubs:  # no media bytes through any hub
            assert not re.search(r'"(PUT|GET) /[^ ]+/info/lfs/objects/[0-9a-f]{64}"', hub.log_text())
            assert seaweed.secret_key not in hub.log_text()


def test_behind_a_tls_nginx_batch_answers_name_the_https_front(tmp_path: Path) -> None:
    """nginx ends TLS and says so in X-Forwarded-Proto, which the hub believes from a trusted proxy
    (loopback by default): the addresses a batch answer gives are https:// addresses of the front."""
    cert, key = tmp_path / "front.pem", tmp_path / "front.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    with HubProcess(tmp_path / "root") as hub, \
            NginxFront(tmp_path / "nginx", [hub.url.split("//")[1]], tls=(cert, key)) as front:
        token = hub.add_user("ada", "ada@example.org")
        answer = httpx.post(front.url("film") + "/info/lfs/objects/batch", auth=("ada", token), headers=LFS,
                            json={"operation": "upload", "objects": [{"oid": "c" * 64, "size": 1}]},
                            verify=ssl.create_default_context(cafile=str(cert)), timeout=30)
        href = answer.json()["objects"][0]["actions"]["upload"]["href"]
        assert href == f"{front.origin}/film.git/info/lfs/objects/{'c' * 64}"
        assert front.origin.startswith("https://")
