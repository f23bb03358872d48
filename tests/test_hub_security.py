"""Attacks on a running hub (issue #5): each test is an exploit that once worked, run against a real hub.

The pre-receive hook is the hub's only guard on what lands in a collaboration, so most attacks here
push hand-made objects with git plumbing, or a hand-made receive-pack request over a raw connection.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hub_git import auth_header, git, push_repo, record
from hub_process import HubProcess, module_hub
from media import make_wav

from hitrec.store import Repo
from hitrec.store.model import Person

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
BOB = Person("Bob", "bob@example.org")
ADA = Person("Ada Tester", "ada@example.org")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    with module_hub(tmp_path_factory.mktemp("hubsec"), "ada", "bob") as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------------
def plumb(git_dir: Path, *args: str, data: str | None = None, author: Person | None = None) -> str:
    env = {}
    if author is not None:
        env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
               "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email}
    cmd = ["git", "--git-dir", str(git_dir), *args]
    done = subprocess.run(cmd, input=data, capture_output=True, text=True, check=True,
                          env={**os.environ, **env})
    return done.stdout.strip()


def tree_of(git_dir: Path, rev: str) -> str:
    return plumb(git_dir, "rev-parse", f"{rev}^{{tree}}")


def mktree(git_dir: Path, entries: list[tuple[str, str, str]]) -> str:
    """A tree from (mode, sha, name) entries."""
    lines = "".join(f"{mode} {'tree' if mode == '040000' else 'blob'} {sha}\t{name}\n"
                    for mode, sha, name in entries)
    return plumb(git_dir, "mktree", data=lines)


def ls_tree(git_dir: Path, tree: str) -> list[tuple[str, str, str]]:
    out = plumb(git_dir, "ls-tree", tree)
    entries = []
    for line in out.splitlines():
        meta, name = line.split("\t", 1)
        mode, _, sha = meta.split()
        entries.append((mode, sha, name))
    return entries


def commit_tree(git_dir: Path, tree: str, parents: list[str], message: str, author: Person) -> str:
    args = ["commit-tree", tree, "-m", message]
    for parent in parents:
        args += ["-p", parent]
    return plumb(git_dir, *args, author=author)


def raw_receive_pack(hub: HubProcess, name: str, token: str, git_dir: Path, old: str, new: str,
                     revs: list[str], *, decoy: str | None = None) -> bytes:
    """A receive-pack request made by hand: one command ``old new refs/heads/main`` and a pack of
    ``revs`` (git pack-objects --revs syntax), sent with http.client. With ``decoy`` (an old oid), the
    command travels in a push certificate whose header holds a decoy command from ``decoy``."""
    pack = subprocess.run(["git", "--git-dir", str(git_dir), "pack-objects", "--stdout", "--revs"],
                          input="".join(f"{r}\n" for r in revs).encode(), capture_output=True,
                          check=True).stdout

    def pkt(data: bytes) -> bytes:
        return f"{len(data) + 4:04x}".encode() + data

    if decoy is None:
        head = pkt(f"{old} {new} refs/heads/main\0report-status\n".encode())
    else:  # git reads the commands after the certificate's blank line; the header is not a command
        head = (pkt(b"push-cert\0report-status\n") + pkt(b"certificate version 0.1\n")
                + pkt(b"pusher ada 0 +0000\n") + pkt(f"{decoy} {new} refs/heads/main\n".encode()) + pkt(b"\n")
                + pkt(f"{old} {new} refs/heads/main\n-----BEGIN PGP SIGNATURE-----\n".encode())
                + pkt(b"-----END PGP SIGNATURE-----\n") + pkt(b"push-cert-end\n"))
    body = head + b"0000" + pack
    port = int(hub.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", f"/{name}.git/git-receive-pack", body, {
            "Content-Type": "application/x-git-receive-pack-request",
            "Authorization": auth_header("ada", token).split(": ", 1)[1]})
        return conn.getresponse().read()
    finally:
        conn.close()


def fragment_ids(hub: HubProcess, name: str) -> set[str]:
    out = git("--git-dir", str(hub.collaboration_path(name)), "ls-tree", "-r", "-d", "--name-only",
              "refs/heads/main", "--", "fragments/").stdout
    return {line.split("/")[2] for line in out.splitlines() if line.count("/") == 2}


def add_and_push(tmp_path: Path, url: str, token: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A new repo in ``tmp_path/proj`` records one WAV and runs `hitrec push URL` (a real process) with
    ``token`` in HITREC_TOKEN; returns the push."""
    full = {**os.environ, "HITREC_TOKEN": token, "HITREC_USER": "ada",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent), **env}
    project = tmp_path / "proj"
    Repo.init(project)
    make_wav(project / "a.wav", seconds=0.05)
    for args in (["add", "a.wav"], ["push", url]):
        done = subprocess.run([sys.executable, "-m", "hitrec", *args], cwd=project, env=full,
                              capture_output=True, text=True, timeout=60)
    return done


def published(hub: HubProcess, tmp_path: Path, name: str, count: int) -> tuple[str, Repo, str]:
    """A new collaboration ``name`` holding ``count`` fragments of Ada's, pushed from her repo in
    ``tmp_path/ada``: (its URL, her repo, the catalog both now hold)."""
    url = hub.collaboration_url(name)
    ada = record(tmp_path / "ada", count)
    push_repo(ada, url, hub.tokens["ada"])
    head = ada.catalog_head()
    assert head is not None and hub.catalog_head(name) == head
    return url, ada, head


# -- the pre-receive hook cannot be skipped -------------------------------------------------------------
@pytest.mark.parametrize("trick", ["upper-case", "push-cert"])
def test_a_push_that_lands_cannot_skip_the_hook(hub: HubProcess, tmp_path: Path, trick: str) -> None:
    """The hub skipped the hook for a 'stale' push (old != main) by its own reading of the request,
    trusting git to refuse it. git read it otherwise: hex in either case, and the commands of a push
    certificate after its header (where a decoy command sat). Any push then landed unchecked."""
    name = f"skip-{trick}"
    url, ada, head = published(hub, tmp_path, name, 1)
    fragment = record(tmp_path / "ada", 1, author=BOB, start=5)  # bob's fragment, pushed by ada
    new = fragment.catalog_head()
    git("lfs", "push", "--all", url, git_dir=ada.git_dir, token=hub.tokens["ada"])
    if trick == "upper-case":
        answer = raw_receive_pack(hub, name, hub.tokens["ada"], ada.git_dir, head.upper(), new, [new, f"^{head}"])
    else:
        answer = raw_receive_pack(hub, name, hub.tokens["ada"], ada.git_dir, head, new, [new, f"^{head}"],
                                  decoy="1" * 40)
    assert hub.catalog_head(name) == head, answer
    assert b"ok refs/heads/main" not in answer


# -- a push cannot drop or alter others' fragments ------------------------------------------------------
def test_a_plain_commit_on_the_catalog_cannot_drop_its_fragments(hub: HubProcess, tmp_path: Path) -> None:
    name = "wipe"
    url, ada, head = published(hub, tmp_path, name, 2)
    before = fragment_ids(hub, name)
    assert len(before) == 2
    # an empty tree on top of the catalog: a fast-forward that shows no fragment at all
    wipe = commit_tree(ada.git_dir, EMPTY_TREE, [head], "wipe", ADA)
    done = git("push", url, f"{wipe}:refs/heads/main", git_dir=ada.git_dir, token=hub.tokens["ada"],
               check=False)
    assert done.returncode != 0
    # nor in two steps: a plain commit, then a 'catalog' whose only base is that plain commit
    readme = plumb(ada.git_dir, "hash-object", "-w", "--stdin", data="hi\n")
    plain = commit_tree(ada.git_dir, mktree(ada.git_dir, [("100644", readme, "README")]), [head], "plain",
                        ADA)
    catalog = commit_tree(ada.git_dir, without_one_fragment(ada.git_dir, head), [plain], "catalog: merge",
                          ADA)
    done = git("push", url, f"{catalog}:refs/heads/main", git_dir=ada.git_dir, token=hub.tokens["ada"],
               check=False)
    assert done.returncode != 0
    assert hub.catalog_head(name) == head and fragment_ids(hub, name) == before


def without_one_fragment(git_dir: Path, catalog: str) -> str:
    """The tree of ``catalog`` with its first fragment folder left out."""
    (_, fragments, _), = [e for e in ls_tree(git_dir, tree_of(git_dir, catalog)) if e[2] == "fragments"]
    shards = ls_tree(git_dir, fragments)
    mode, shard, key = shards[0]
    rest = ls_tree(git_dir, shard)[1:]
    shards = ([(mode, mktree(git_dir, rest), key)] if rest else []) + shards[1:]
    return mktree(git_dir, [("040000", mktree(git_dir, shards), "fragments")])


def test_a_fragment_that_is_also_a_catalog_is_checked_as_one(hub: HubProcess, tmp_path: Path) -> None:
    """A commit with both fragment.yaml and fragments/ was checked only as a fragment (its author),
    so its fragments/ could drop everyone else's."""
    name = "hybrid"
    url, ada, head = published(hub, tmp_path, name, 2)
    before = fragment_ids(hub, name)
    fragment = next(iter(before))
    fragment_entries = ls_tree(ada.git_dir, tree_of(ada.git_dir, fragment))
    hybrid = mktree(ada.git_dir, [*fragment_entries, ("040000", mktree(ada.git_dir, []), "fragments")])
    commit = commit_tree(ada.git_dir, hybrid, [head], "catalog: hybrid", ADA)
    done = git("push", url, f"{commit}:refs/heads/main", git_dir=ada.git_dir, token=hub.tokens["ada"],
               check=False)
    assert done.returncode != 0
    assert hub.catalog_head(name) == head and fragment_ids(hub, name) == before


def test_a_catalog_cannot_list_a_fragment_that_was_never_checked(hub: HubProcess, tmp_path: Path) -> None:
    """A catalog adding a fragment commit that is not among the pushed history (sent along in the pack,
    unreachable) escaped the author check: only commits reachable from the new tip were checked."""
    name = "smuggle"
    url, ada, head = published(hub, tmp_path, name, 1)
    # bob's fragment, made in ada's repo (a second catalog on top; we use only its fragment commit)
    record(tmp_path / "ada", 1, author=BOB, start=7)
    bobs = next(f for f in ada.fragments() if f.author.email == BOB.email).id
    git("lfs", "push", "--all", url, git_dir=ada.git_dir, token=hub.tokens["ada"])
    # a catalog by ada: her catalog + bob's fragment folder, but bob's commit is not a parent
    catalog_tree = tree_of(ada.git_dir, ada.catalog_head())
    smuggler = commit_tree(ada.git_dir, catalog_tree, [head], "catalog: record 1 fragment",
                           ADA)
    answer = raw_receive_pack(hub, name, hub.tokens["ada"], ada.git_dir, head, smuggler,
                                      [smuggler, bobs, f"^{head}"])
    assert hub.catalog_head(name) == head, answer
    assert bobs not in fragment_ids(hub, name)


# -- LFS pointers the hook must read as the clients do ----------------------------------------------
def _reordered(pointer: bytes) -> bytes:
    version, oid, size = pointer.decode().splitlines()
    return f"{size}\n{oid}\n{version}\n".encode()


DISGUISES = {
    "reordered": _reordered,
    "crlf": lambda pointer: pointer.replace(b"\n", b"\r\n"),
    "padded": lambda pointer: pointer + b"padding " + b"x" * 1100 + b"\n",
    "plus-size": lambda pointer: pointer.replace(b"size ", b"size +"),
}


@pytest.mark.parametrize("kind", sorted(DISGUISES))
def test_a_disguised_pointer_to_missing_media_is_refused(hub: HubProcess, tmp_path: Path, kind: str) -> None:
    """The hook checked only pointers in git-lfs's exact layout; hitrec's clients read these too, and
    every pull of the collaboration then failed on media the hub never had."""
    name, disguise = f"pointer-{kind}", DISGUISES[kind]
    src = record(tmp_path / "src", 1)  # its media is never uploaded
    (fragment_id,) = [f.id for f in src.fragments()]
    entries = ls_tree(src.git_dir, tree_of(src.git_dir, fragment_id))
    forged = []
    for mode, sha, entry in entries:
        if entry not in ("fragment.yaml", ".gitattributes"):
            pointer = subprocess.run(["git", "--git-dir", str(src.git_dir), "cat-file", "blob", sha],
                                     capture_output=True, check=True).stdout
            sha = subprocess.run(["git", "--git-dir", str(src.git_dir), "hash-object", "-w", "--stdin"],
                                 input=disguise(pointer), capture_output=True, check=True).stdout.decode().strip()
        forged.append((mode, sha, entry))
    fragment = commit_tree(src.git_dir, mktree(src.git_dir, forged), [], "fragment\n\nhitrec-fragment: 1", ADA)
    shard = mktree(src.git_dir, [("040000", tree_of(src.git_dir, fragment), fragment)])
    catalog_tree = mktree(src.git_dir, [("040000", mktree(src.git_dir, [("040000", shard, fragment[:2])]),
                                         "fragments")])
    catalog = commit_tree(src.git_dir, catalog_tree, [fragment], "catalog: record 1 fragment", ADA)
    done = git("push", hub.collaboration_url(name), f"{catalog}:refs/heads/main", git_dir=src.git_dir,
               token=hub.tokens["ada"], check=False)
    assert done.returncode != 0, done.stderr
    assert hub.catalog_head(name) is None


# -- memory -------------------------------------------------------------------------------------------
def _hub_peak_rss(hub: HubProcess) -> int:
    assert hub.proc is not None
    for line in Path(f"/proc/{hub.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def test_a_huge_batch_is_refused_before_it_costs_memory(hub: HubProcess) -> None:
    """One 30 MiB batch of 380,000 objects took the hub to 925 MB (its answer: 130 MB, each object
    echoed with an action and the client's Authorization header); a few at once would kill it."""
    hub.create("batch-bomb")
    url = hub.collaboration_url("batch-bomb")
    body = json.dumps({"operation": "upload", "objects": [{"oid": f"{i:064x}", "size": 1} for i in range(5000)]})
    answer = httpx.post(url + "/info/lfs/objects/batch", content=body, auth=("ada", hub.tokens["ada"]),
                        headers={"Content-Type": "application/vnd.git-lfs+json"}, timeout=60)
    assert answer.status_code == 413 and "too many objects" in answer.json()["message"]
    big = b'{"operation":"upload","objects":[],"pad":"' + b"x" * (2 << 20) + b'"}'
    answer = httpx.post(url + "/info/lfs/objects/batch", content=big, auth=("ada", hub.tokens["ada"]), timeout=60)
    assert answer.status_code == 413
    deep = b'{"operation":"upload","objects":' + b"[" * 100000 + b"]" * 100000 + b"}"
    answer = httpx.post(url + "/info/lfs/objects/batch", content=deep, auth=("ada", hub.tokens["ada"]), timeout=60)
    assert answer.status_code in (413, 422)
    assert _hub_peak_rss(hub) < 300 << 20


def test_a_gzip_bomb_does_not_inflate_in_memory(tmp_path: Path) -> None:
    """1 MiB of gzip inflated to 1 GiB in one zlib call: a stranger's POST to a public hub's
    upload-pack took it to 2.1 GB (and 1 GB stayed)."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(bytes(16 << 20)) for _ in range(64)) + packer.flush()
    with HubProcess(tmp_path / "hub", public_read=True) as public:
        public.create("film")
        for service in ("git-upload-pack", "git-receive-pack"):
            headers = {"Content-Encoding": "gzip", "Content-Type": f"application/x-{service}-request"}
            if service == "git-receive-pack":
                headers["Authorization"] = auth_header("ada", public.add_user("ada", "ada@example.org")
                                                       ).split(": ", 1)[1]
            with contextlib.suppress(httpx.HTTPError):  # git gives up on the junk: the memory is what counts
                httpx.post(public.collaboration_url("film") + "/" + service, content=bomb, headers=headers,
                           timeout=120)
        assert _hub_peak_rss(public) < 300 << 20


# -- files on disk ------------------------------------------------------------------------------------
def test_under_umask_000_no_folder_holding_tokens_is_writable_by_others(tmp_path: Path) -> None:
    """`hitrec hub user add` made a new hub root 0777 under umask 000 (anyone could swap users.json for
    one holding their token), and `hitrec login` a new ~/.config 0777."""
    import sys

    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config" / "xdg"),
           "HITREC_TOKEN": "hrt_not-a-real-token", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

    def hitrec(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "hitrec", *args], env=env, check=True, capture_output=True,
                       preexec_fn=lambda: os.umask(0))

    root = tmp_path / "srv" / "hubs" / "main"
    hitrec("hub", "user", "add", "ada", "--email", "ada@example.org", "--root", str(root))
    hitrec("hub", "create", "film", "--root", str(root))
    hitrec("login", "http://127.0.0.1:9/", "--user", "ada")
    created = [tmp_path / "srv", tmp_path / "srv" / "hubs", root, home, home / "config", home / "config" / "xdg",
               home / "config" / "xdg" / "hitrec"]
    for path in [*created, root / "users.json", home / "config" / "xdg" / "hitrec" / "credentials"]:
        assert path.stat().st_mode & 0o022 == 0, f"{path} is {oct(path.stat().st_mode)}"
    assert (root / "users.json").stat().st_mode & 0o077 == 0
    assert (home / "config" / "xdg" / "hitrec" / "credentials").stat().st_mode & 0o077 == 0


# -- what anyone who can connect may send -------------------------------------------------------------
def test_endless_headers_are_cut_off_before_any_token_is_asked_for(hub: HubProcess) -> None:
    """httptools buffers headers of any size: 300 MiB of one header took the hub to 685 MB (and
    minutes of CPU joining them), from a client that never showed a token."""
    import socket

    port = int(hub.url.rsplit(":", 1)[1])
    for head in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ", b"GET /" + b"a" * 100):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head)
            sent = 0
            with contextlib.suppress(OSError):
                while sent < 64 << 20:
                    sock.sendall(b"a" * (1 << 20))
                    sent += 1 << 20
            assert sent < 8 << 20  # the hub hung up long before
    assert _hub_peak_rss(hub) < 300 << 20
    # ordinary requests with a few KiB of headers still work, also pipelined
    auth = auth_header("ada", hub.tokens["ada"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {'b' * 8000}\r\n{auth}\r\n\r\n".encode()
        sock.sendall(request * 20)
        answer = b""
        while answer.count(b"hitrec hub\n") < 20:
            data = sock.recv(65536)
            assert data
            answer += data


def test_an_endless_chunked_trailer_is_cut_off(tmp_path: Path) -> None:
    """httptools buffers a trailer (headers after a chunked body's last chunk) as it does headers:
    50 MiB of one, sent by a stranger to a public hub's upload-pack, took it to 180 MB."""
    import socket

    with HubProcess(tmp_path / "hub", public_read=True) as public:
        token = public.add_user("ada", "ada@example.org")
        public.create("film")
        port = int(public.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /film.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n4\r\n0000\r\n0\r\nX-Pad: ")
            sent = 0
            with contextlib.suppress(OSError):
                while sent < 64 << 20:
                    sock.sendall(b"a" * (1 << 20))
                    sent += 1 << 20
            assert sent < 8 << 20
        assert _hub_peak_rss(public) < 150 << 20
        # a push in small chunks (git sends chunked bodies past http.postBuffer) still lands
        work = tmp_path / "work"
        git("init", "-q", "-b", "main", str(work))
        (work / "notes.txt").write_bytes(os.urandom(300_000))
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "notes", cwd=work)
        git("-c", "http.postBuffer=4096", "push", public.collaboration_url("film"), "main", cwd=work, token=token)
        assert public.catalog_head("film") == git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_a_percent_encoded_newline_cannot_forge_a_log_line(hub: HubProcess) -> None:
    forged = "2026-01-01 00:00:00,000 INFO hitrec.hub: 10.0.0.1 bob \"POST /film.git/git-receive-pack\" 200"
    httpx.get(hub.url + "/x%0a" + forged.replace(" ", "%20").replace('"', "%22"))
    assert not any(line.startswith("2026-01-01") for line in hub.log_text().splitlines())


def test_a_connection_that_never_finishes_a_request_is_closed(tmp_path: Path) -> None:
    """One byte every few seconds cancels uvicorn's keep-alive timeout and it has no other: such
    connections were held for ever, and enough of them use up the hub's file descriptors."""
    import hashlib
    import socket
    import time

    with HubProcess(tmp_path / "hub", env={"HITREC_HUB_HEAD_TIMEOUT": "1"}) as slow:
        token = slow.add_user("ada", "ada@example.org")
        port = int(slow.url.rsplit(":", 1)[1])
        trickle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.monotonic()
        closed = False
        with contextlib.suppress(OSError):
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                trickle.sendall(bytes([byte]))
                time.sleep(0.2)
                if time.monotonic() - started > 8:
                    break
        with contextlib.suppress(OSError):
            closed = trickle.recv(1) == b""
        assert closed or time.monotonic() - started < 8
        assert idle.recv(1) == b""  # closed by the hub, not by our timeout
        trickle.close()
        idle.close()
        # a response slower than the limit is not cut off, nor is the next request on its connection
        data = bytes(range(256)) * 40000
        oid = hashlib.sha256(data).hexdigest()
        url = f"{slow.collaboration_url('film')}/info/lfs/objects/{oid}"
        assert httpx.put(url, content=data, auth=("ada", token)).status_code == 200
        with httpx.Client(auth=("ada", token)) as client:
            got = b""
            with client.stream("GET", url) as response:
                for chunk in response.iter_bytes(1 << 16):
                    got += chunk
                    time.sleep(0.02)
            assert got == data
            assert client.get(slow.url + "/").status_code == 200


def test_a_body_trickled_slower_than_the_minimum_rate_is_cut_off(tmp_path: Path) -> None:
    """A stranger trickling a request body (a byte now and then, to a public hub's upload-pack) held
    the connection for ever; a body must bring 1 KiB a second over each HEAD_TIMEOUT window. A slow
    but honest body still lands."""
    import socket
    import time

    with HubProcess(tmp_path / "hub", env={"HITREC_HUB_HEAD_TIMEOUT": "1"}, public_read=True) as slow:
        token = slow.add_user("ada", "ada@example.org")
        slow.create("film")
        port = int(slow.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as trickle:
            trickle.sendall(b"POST /film.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/x-git-upload-pack-request\r\n"
                            b"Content-Length: 100000\r\n\r\n")
            started = time.monotonic()
            with contextlib.suppress(OSError):
                while time.monotonic() - started < 8:
                    trickle.sendall(b"0")
                    time.sleep(0.2)
            assert time.monotonic() - started < 8  # the hub closed it: sending failed
        # 6 KiB in three parts 0.4 s apart (5 KiB/s): slow, but above the minimum
        body = json.dumps({"operation": "download",
                           "objects": [{"oid": f"{i:064x}", "size": 1} for i in range(60)]}).encode()
        auth = auth_header("ada", token)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as honest:
            honest.sendall(f"POST /film.git/info/lfs/objects/batch HTTP/1.1\r\nHost: x\r\n{auth}\r\n"
                           "Content-Type: application/vnd.git-lfs+json\r\nConnection: close\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n".encode())
            third = len(body) // 3 + 1
            for start in range(0, len(body), third):
                honest.sendall(body[start:start + third])
                time.sleep(0.4)
            answer = b""
            while data := honest.recv(65536):
                answer += data
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


# -- the client ---------------------------------------------------------------------------------------
def test_a_proxy_echoing_headers_cannot_show_part_of_the_token(tmp_path: Path) -> None:
    """An error page that echoes the request's headers (some proxies' do) was cut to 300 characters
    before the token was scrubbed from it: a token cut in two was printed nearly whole."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class EchoingProxy(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # no collaboration yet, created on push: push goes on to upload media
            body = b"001f# service=git-receive-pack\n00000000" if "git-receive-pack" in self.path else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            page = ("bad gateway; your request's headers: " + "." * 190 + " Authorization: "
                    + self.headers.get("Authorization", "")).encode()
            self.send_response(502)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

    server = HTTPServer(("127.0.0.1", 0), EchoingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = "hrt_" + "Q" * 43
        done = add_and_push(tmp_path, f"http://127.0.0.1:{server.server_port}/film.git", token)
        output = done.stdout + done.stderr
        assert done.returncode != 0 and "502" in output
        encoded = base64.b64encode(f"ada:{token}".encode()).decode()
        assert encoded[:12] not in output and "Q" * 8 not in output
    finally:
        server.shutdown()


def test_a_stale_push_keeps_none_of_its_objects(hub: HubProcess, tmp_path: Path) -> None:
    """A push from a commit main no longer is skipped the hook (git refuses it anyway), but the hook's
    yes made git keep its unchecked objects, which upload-pack v2 serves to anyone by id."""
    name = "stale"
    _, ada, head = published(hub, tmp_path, name, 1)
    bobs = record(tmp_path / "ada", 1, author=BOB, start=9).catalog_head()
    answer = raw_receive_pack(hub, name, hub.tokens["ada"], ada.git_dir, "2" * 40, bobs, [bobs, f"^{head}"])
    assert b"ok refs/heads/main" not in answer
    assert hub.catalog_head(name) == head
    assert git("--git-dir", str(hub.collaboration_path(name)), "cat-file", "-e", bobs, check=False).returncode != 0


@pytest.mark.slow
def test_a_small_push_of_a_huge_blob_does_not_fill_the_hooks_memory(hub: HubProcess, tmp_path: Path) -> None:
    """100 MB of zeros travel as 100 KB; the hook read every blob whole to see if it was a pointer
    (1 GB: 964 MB of memory, from a 1 MB push), and every commit whole with its message."""
    import threading
    import time

    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    with open(work / "zeros.bin", "wb") as out:
        for _ in range(100):
            out.write(bytes(1 << 20))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "zeros", cwd=work)
    (work / "zeros.bin").unlink()
    # and 20 commits whose messages are 4 MiB each (the hook reads 1,000 commits ahead at once)
    message = tmp_path / "message.txt"
    message.write_bytes(b"x" * (4 << 20))
    tip = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    for _ in range(20):
        tip = git("commit-tree", "HEAD^{tree}", "-p", tip, "-F", str(message), cwd=work).stdout.strip()
    git("update-ref", "refs/heads/main", tip, cwd=work)
    peak = [0]
    done = threading.Event()

    root = str(hub.root.resolve())

    def watch() -> None:  # this hub's hook's own peak memory, read from /proc while it runs
        while not done.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                with contextlib.suppress(OSError):
                    # only this hub's hook (it runs in the collaboration's folder): a test running beside
                    # this one may push to its own hub, whose hook (an S3 hub's loads boto3) is bigger
                    if b"hitrec.hub.hook" in Path(f"/proc/{pid}/cmdline").read_bytes() \
                            and os.readlink(f"/proc/{pid}/cwd").startswith(root):
                        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                peak[0] = max(peak[0], int(line.split()[1]) << 10)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        git("push", hub.collaboration_url("zeros"), "main", cwd=work, token=hub.tokens["ada"])
    finally:
        done.set()
        watcher.join()
    assert 0 < peak[0] < 50 << 20


def test_the_token_never_goes_to_a_downgraded_address(tmp_path: Path) -> None:
    """Behind a TLS proxy that sets no X-Forwarded-Proto, the hub (seeing plain HTTP) answers LFS
    batches with http:// addresses and the client's own Authorization as the action's header; the
    client sent that header as given, so its token crossed the network in clear text."""
    import select
    import socket
    import ssl
    import threading

    cert, key = tmp_path / "proxy.pem", tmp_path / "proxy.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    clear_text: list[bytes] = []

    with HubProcess(tmp_path / "hub") as backend:
        token = backend.add_user("ada", "ada@example.org")
        backend_port = int(backend.url.rsplit(":", 1)[1])
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]

        def relay(client: socket.socket) -> None:
            with client:
                if client.recv(1, socket.MSG_PEEK) != b"\x16":  # not a TLS handshake: keep what came
                    client.settimeout(2)
                    with contextlib.suppress(OSError):
                        clear_text.append(client.recv(65536))
                    return
                with context.wrap_socket(client, server_side=True) as tls, \
                        socket.create_connection(("127.0.0.1", backend_port)) as upstream:
                    ends = {tls: upstream, upstream: tls}
                    while True:
                        readable = [tls] if tls.pending() else select.select(list(ends), [], [], 30)[0]
                        if not readable:
                            return
                        for end in readable:
                            data = end.recv(65536)
                            if not data:
                                return
                            ends[end].sendall(data)

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    client, _ = listener.accept()
                    threading.Thread(target=relay, args=(client,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        try:
            done = add_and_push(tmp_path, f"https://127.0.0.1:{port}/film.git", token, SSL_CERT_FILE=str(cert))
        finally:
            listener.close()
    encoded = base64_of(f"ada:{token}")
    assert not any(token.encode() in data or encoded in data for data in clear_text), clear_text
    assert not clear_text  # nor the media: the push stops and says why
    assert done.returncode != 0 and "clear text" in done.stderr and token not in done.stderr


def base64_of(text: str) -> bytes:
    import base64

    return base64.b64encode(text.encode())


# -- held sound (guards) ------------------------------------------------------------------------------
def test_a_token_revoked_mid_connection_is_refused_on_its_next_request(hub: HubProcess) -> None:
    token = hub.add_user("carol", "carol@example.org")
    hub.create("keepalive")
    port = int(hub.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": auth_header("carol", token).split(": ", 1)[1]}
    try:
        conn.request("GET", "/keepalive.git/info/refs?service=git-upload-pack", headers=headers)
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        hub.revoke("carol")
        conn.request("GET", "/keepalive.git/info/refs?service=git-upload-pack", headers=headers)
        second = conn.getresponse()
        second.read()
        assert second.status == 401
    finally:
        conn.close()


def test_a_public_hub_takes_no_write_without_a_token(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub", public_read=True) as public:
        public.create("film")
        url = public.collaboration_url("film")
        oid = "b" * 64
        attempts = [
            httpx.get(url + "/info/refs?service=git-receive-pack"),
            httpx.post(url + "/git-receive-pack", content=b"0000"),
            httpx.post(url + "/info/lfs/objects/batch", json={"operation": "upload",
                                                               "objects": [{"oid": oid, "size": 1}]}),
            httpx.put(f"{url}/info/lfs/objects/{oid}", content=b"x"),
            httpx.post(url + "/info/lfs/locks/verify", json={}),
            httpx.get(public.collaboration_url("new") + "/info/refs?service=git-receive-pack"),
        ]
        assert [a.status_code for a in attempts] == [401] * len(attempts)
        assert not public.collaboration_path("new").exists()
        assert httpx.get(url + "/info/refs?service=git-upload-pack").status_code == 200


def test_a_refused_request_cannot_hold_its_connection_by_trickling_its_body(hub: HubProcess) -> None:
    """After a 401 uvicorn read the rest of the body at the client's pace (and dropped it): one byte now
    and then kept a connection for ever, with no token at all."""
    import socket
    import time

    hub.create("trickle")
    port = int(hub.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"PUT /trickle.git/info/lfs/objects/" + b"a" * 64 + b" HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 1000000000\r\n\r\n")
        assert sock.recv(200).startswith(b"HTTP/1.1 401")
        started = time.monotonic()
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 5:
                sock.sendall(b"x")
                time.sleep(0.1)
        assert time.monotonic() - started < 5


def test_strangers_trickling_requests_to_a_public_hub_hold_no_git_process(tmp_path: Path) -> None:
    """Each upload-pack request started git before its body had arrived: 50 strangers sending a few
    bytes of one held 50 git processes (200 MB) for as long as they liked."""
    import socket
    import time

    with HubProcess(tmp_path / "hub", public_read=True) as public:
        public.create("film")
        port = int(public.url.rsplit(":", 1)[1])
        sockets = []
        try:
            for _ in range(20):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(b"POST /film.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/x-git-upload-pack-request\r\n"
                             b"Content-Length: 100000\r\n\r\n0032want ")
                sockets.append(sock)
            time.sleep(1)
            assert public.proc is not None
            children = subprocess.run(["pgrep", "-c", "-P", str(public.proc.pid)], capture_output=True,
                                      text=True).stdout.strip()
            assert int(children or 0) == 0
        finally:
            for sock in sockets:
                sock.close()
        # and a whole request is answered as before
        clone = git("ls-remote", public.collaboration_url("film"), check=False)
        assert clone.returncode == 0, clone.stderr
