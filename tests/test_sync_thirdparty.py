"""The client against a third-party Git LFS host (nginx + git http-backend + giftless, tests/thirdparty_host.py):
it must behave as git and git-lfs do there (redirects, object storage, expiring addresses, rate limits,
lfs.url, credentials), not only against hitrec's own hub."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_hitrec
from sync_helpers import noise_wav
from thirdparty_host import ThirdPartyHost, available, thirdparty  # noqa: F401 - the module's host

from hitrec.errors import AuthError, RemoteError
from hitrec.sync.credentials import Auth
from hitrec.sync.lfs import LfsClient


@pytest.fixture
def host(thirdparty: ThirdPartyHost) -> Iterator[ThirdPartyHost]:  # noqa: F811
    thirdparty.configure()  # plain behaviour unless a test asks for more
    yield thirdparty


def project(tmp_path: Path, name: str, url: str, count: int = 2, size: int = 30_000, seed: int = 0) -> Path:
    root = tmp_path / name
    run_hitrec("init", str(root), cwd=tmp_path, check=True)
    paths = [noise_wav(root / f"take{i}.wav", size, seed=seed * 1000 + i).name for i in range(count)]
    run_hitrec("add", *paths, cwd=root, check=True)
    run_hitrec("remote", "add", "origin", url, cwd=root, check=True)
    return root


def login_env(host: ThirdPartyHost, user: bool = True) -> dict[str, str]:
    env = {"HITREC_TOKEN": host.password}
    if user:
        env["HITREC_USER"] = host.user
    return env


def test_push_and_clone_through_nginx_git_http_backend_and_giftless(host: ThirdPartyHost, tmp_path: Path) -> None:
    host.create_repo("team/basic")
    root = project(tmp_path, "a", host.url("team/basic"))
    pushed = run_hitrec("push", cwd=root, env=login_env(host))
    assert pushed.returncode == 0, pushed.stderr
    assert len(host.lfs_objects("team/basic")) == 2
    cloned = run_hitrec("clone", host.url("team/basic"), "b", cwd=tmp_path, env=login_env(host))
    assert cloned.returncode == 0, cloned.stderr
    assert "2 fragments" in cloned.stdout


def test_a_token_without_a_user_uses_the_urls_user_or_bearer_never_a_made_up_name(
        host: ThirdPartyHost, tmp_path: Path) -> None:
    """HITREC_TOKEN without HITREC_USER sent Basic with the user name 'hitrec', which a Git host refuses."""
    host.create_repo("team/who")
    root = project(tmp_path, "a", host.url("team/who", with_user=True))  # http://alice@host/...
    done = run_hitrec("push", cwd=root, env=login_env(host, user=False))
    assert done.returncode == 0, done.stderr
    assert host.url("team/who") in run_hitrec("remote", "list", cwd=root).stdout  # printed without the user
    users = {line.split(" user=")[1].split(" ")[0] for line in host.access_log() if "/team/who.git/" in line}
    assert "hitrec" not in users and host.user in users
    # no user anywhere: the token goes as a bearer token (nginx's Basic auth refuses it, and says so)
    bare = project(tmp_path, "b", host.url("team/who"), seed=2)
    refused = run_hitrec("push", cwd=bare, env=login_env(host, user=False))
    assert refused.returncode != 0 and "401" in refused.stderr and host.password not in refused.stderr
    assert any("/team/who.git/info/refs" in line and "auth=Bearer " in line for line in host.access_log())


def test_a_renamed_repo_answering_301_is_followed_for_refs_and_media(host: ThirdPartyHost, tmp_path: Path) -> None:
    host.create_repo("team/film")
    host.configure(rename={"team/old-name": "team/film"})
    root = project(tmp_path, "a", host.url("team/old-name"))
    done = run_hitrec("push", cwd=root, env=login_env(host))
    assert done.returncode == 0, done.stderr
    assert len(host.lfs_objects("team/film")) == 2
    log = host.access_log()
    assert any(line.startswith("GET /team/old-name.git/info/refs 301") for line in log)
    assert any(line.startswith("POST /team/film.git/git-receive-pack 200") for line in log)
    cloned = run_hitrec("clone", host.url("team/old-name"), "b", cwd=tmp_path, env=login_env(host))
    assert cloned.returncode == 0 and "2 fragments" in cloned.stdout, cloned.stderr


def test_downloads_follow_302_to_object_storage_without_our_credentials(host: ThirdPartyHost, tmp_path: Path) -> None:
    host.create_repo("team/cdn")
    root = project(tmp_path, "a", host.url("team/cdn"), count=3, size=200_000)
    assert run_hitrec("push", cwd=root, env=login_env(host)).returncode == 0
    host.configure(cdn=True)
    cloned = run_hitrec("clone", host.url("team/cdn"), "b", cwd=tmp_path, env=login_env(host))
    assert cloned.returncode == 0, cloned.stderr
    assert "3 media" in cloned.stdout
    storage = host.cdn_log()
    assert len([line for line in storage if line.startswith("GET /objects/team/cdn/")]) == 3
    assert all(" 200 " in line and line.endswith("auth=-") for line in storage), storage  # nothing sent there
    assert run_hitrec("fsck", cwd=tmp_path / "b").returncode == 0


@pytest.mark.slow
def test_429_and_5xx_are_retried_and_the_push_goes_through(host: ThirdPartyHost, tmp_path: Path) -> None:
    host.create_repo("team/busy")
    host.configure(faults="rate")
    root = project(tmp_path, "a", host.url("team/busy"), count=16, size=3000)
    done = run_hitrec("push", cwd=root, env=login_env(host))
    assert done.returncode == 0, done.stderr
    assert len(host.lfs_objects("team/busy")) == 16
    assert any(" 429 " in line for line in host.access_log())
    host.configure(faults="errors")
    cloned = run_hitrec("clone", host.url("team/busy"), "b", cwd=tmp_path, env=login_env(host))
    assert cloned.returncode == 0, cloned.stderr
    assert "16 media" in cloned.stdout
    assert any(" 503 " in line for line in host.access_log())


def test_batch_404_for_objects_the_server_lacks_is_not_called_a_missing_collaboration(
        host: ThirdPartyHost) -> None:
    host.create_repo("team/empty")
    oid = hashlib.sha256(b"never uploaded").hexdigest()
    with LfsClient(host.url("team/empty"), Auth(host.user, host.password)) as lfs, \
            pytest.raises(Exception) as failure:
        lfs.download({oid: 14}, lambda chunks, o, s: None)
    message = str(failure.value)
    assert "no collaboration" not in message
    assert "none of the 1 object(s)" in message and "404" in message


def test_a_push_to_a_repo_the_host_lacks_sends_no_media_and_says_how_to_create_it(
        host: ThirdPartyHost, tmp_path: Path) -> None:
    root = project(tmp_path, "a", host.url("team/absent"))
    done = run_hitrec("push", cwd=root, env=login_env(host))
    assert done.returncode == 1
    assert "no repository at" in done.stderr and "Create it there first" in done.stderr
    assert host.lfs_objects("team/absent") == set()
    assert not any("/team/absent.git/info/lfs/" in line for line in host.access_log())


def test_git_credential_helpers_are_used_approved_and_rejected(host: ThirdPartyHost, tmp_path: Path) -> None:
    """No hitrec credentials: git's `credential.helper store` answers, as for git and git-lfs."""
    host.create_repo("team/helper")
    home = Path(os.environ["HOME"])
    gitconfig = os.environ.get("GIT_CONFIG_GLOBAL") or str(home / ".gitconfig")
    subprocess.run(["git", "config", "--file", gitconfig, "credential.helper", "store"], check=True)
    store = home / ".git-credentials"
    store.write_text(f"http://{host.user}:{host.password}@127.0.0.1:{host.port}\n")
    root = project(tmp_path, "a", host.url("team/helper"))
    done = run_hitrec("push", cwd=root)
    assert done.returncode == 0, done.stderr
    assert f"user={host.user}" in "\n".join(line for line in host.access_log() if "team/helper" in line)
    # a wrong password: 401, and git's helper is told to forget it (git credential reject)
    store.write_text(f"http://{host.user}:not-the-password@127.0.0.1:{host.port}\n")
    refused = run_hitrec("pull", cwd=root)
    assert refused.returncode != 0 and "401" in refused.stderr and "not-the-password" not in refused.stderr
    assert "not-the-password" not in store.read_text()


def test_lfs_url_and_lfsconfig_name_a_separate_lfs_server(host: ThirdPartyHost, tmp_path: Path) -> None:
    """The git host has no LFS for this repo; its media lives on another server (giftless's own origin)."""
    bare = host.create_repo("team/split")
    host.configure(no_lfs=["team/split"])
    separate = f"{host.giftless_origin}/team/split.git/info/lfs"
    root = project(tmp_path, "a", host.url("team/split"))
    refused = run_hitrec("push", cwd=root, env=login_env(host))
    assert refused.returncode != 0 and "lfs.url" in refused.stderr  # says where to set it
    subprocess.run(["git", "config", "--file", str(root / ".hitrec" / "config"), "lfs.url", separate], check=True)
    done = run_hitrec("push", cwd=root, env=login_env(host))
    assert done.returncode == 0, done.stderr
    assert len(host.lfs_objects("team/split")) == 2
    # .lfsconfig committed to the collaboration names the server for everyone who clones it
    git = ["git", "--git-dir", str(bare)]
    blob = subprocess.run([*git, "hash-object", "-w", "--stdin"], input=f"[lfs]\n\turl = {separate}\n",
                          capture_output=True, text=True, check=True).stdout.strip()
    tree = subprocess.run([*git, "ls-tree", "main"], capture_output=True, text=True, check=True).stdout
    tree += f"100644 blob {blob}\t.lfsconfig\n"
    new_tree = subprocess.run([*git, "mktree"], input=tree, capture_output=True, text=True, check=True).stdout.strip()
    env = {**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "A",
           "GIT_COMMITTER_EMAIL": "a@x"}
    commit = subprocess.run([*git, "commit-tree", new_tree, "-p", "main", "-m", "lfs.url"], env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([*git, "update-ref", "refs/heads/main", commit], check=True)
    cloned = run_hitrec("clone", host.url("team/split"), "b", cwd=tmp_path, env=login_env(host))
    assert cloned.returncode == 0, cloned.stderr
    assert "2 media" in cloned.stdout


@pytest.mark.slow
def test_expiring_addresses_are_asked_for_again_before_use(tmp_path: Path) -> None:
    """giftless's addresses live 2 s here; the downloads take ~3 s in all: hitrec asked for every address up
    front and used them stale (401, with a 'log in' hint); git-lfs asks again before an address expires."""
    reason = available()
    if reason:
        pytest.fail(reason)
    with ThirdPartyHost(tmp_path / "host", lifetime=2) as host:
        host.create_repo("team/short")
        url = host.url("team/short")
        blobs = {}
        for i in range(6):
            data = os.urandom(300_000)
            path = tmp_path / f"o{i}"
            path.write_bytes(data)
            blobs[hashlib.sha256(data).hexdigest()] = path
        auth = Auth(host.user, host.password)
        with LfsClient(url, auth, workers=4) as lfs:
            sent = lfs.upload({oid: 300_000 for oid in blobs}, lambda oid: contextlib.nullcontext(blobs[oid]))
        assert sent.objects == 6
        host.configure(slow=300_000)  # 300 KB in ~1 s each, 2 at a time: ~3 s in all
        got: dict[str, str] = {}

        def ingest(chunks, oid: str, size: int) -> None:  # type: ignore[no-untyped-def]
            got[oid] = hashlib.sha256(b"".join(bytes(c) for c in chunks)).hexdigest()

        started = time.monotonic()
        with LfsClient(url, auth, workers=2) as lfs:
            stats = lfs.download({oid: 300_000 for oid in blobs}, ingest)
        assert time.monotonic() - started > 2.5  # longer than an address lives
        assert stats.objects == 6 and got == {oid: oid for oid in blobs}
        batches = [line for line in host.access_log() if "objects/batch" in line]
        assert len(batches) > 2  # asked again as addresses neared their end
        # an address used after it expired: said so, with no "log in" hint (the login was fine)
        from hitrec.sync.lfs import ADAPTERS, _Reporter

        with LfsClient(url, auth) as lfs:
            stale = lfs.compare("download", [(next(iter(blobs)), 300_000)]).missing[0]
            time.sleep(2.5)
            with pytest.raises(RemoteError) as refused:
                ADAPTERS["basic"].download(lfs, stale, ingest, _Reporter(None, "downloading", 1, 0))
        assert "may have expired" in str(refused.value) and "login" not in str(refused.value)
        assert not isinstance(refused.value, AuthError)


def test_retry_after_is_honoured_and_bounded() -> None:
    from hitrec.sync.http import Retries

    retries = Retries(max_delay=10)
    assert 3 <= retries.delay(429, {"retry-after": "3"}, 0) <= 4.5
    assert retries.delay(429, {"retry-after": "3600"}, 0) == 10
    assert 0 < retries.delay(503, {}, 0) <= 0.25 * 1.25
    assert retries.delay(503, {}, 10) == 10
    assert sys.modules["hitrec.sync.http"].MAX_RETRIES == 8


def test_one_object_refused_for_good_does_not_stop_the_others(host: ThirdPartyHost, tmp_path: Path) -> None:
    """git-lfs pushes every object it can and reports the ones refused; hitrec aborted on the first."""
    from hitrec.sync.http import Http, Retries

    host.create_repo("team/partial")
    blobs = {}
    for i in range(6):
        data = os.urandom(5000)
        (tmp_path / f"o{i}").write_bytes(data)
        blobs[hashlib.sha256(data).hexdigest()] = tmp_path / f"o{i}"
    refused = sorted(blobs)[0]
    host.configure(refuse=[refused])
    quick = Http(retries=Retries(first_backoff=0.01, max_delay=0.05))
    with LfsClient(host.url("team/partial"), Auth(host.user, host.password), http=quick) as lfs, \
            pytest.raises(RemoteError) as failure:
        lfs.upload({oid: 5000 for oid in blobs}, lambda oid: contextlib.nullcontext(blobs[oid]))
    quick.close()
    assert "1 object(s) failed" in str(failure.value) and refused in str(failure.value)
    assert host.lfs_objects("team/partial") == set(blobs) - {refused}
    path = f"PUT /team/partial.git/info/lfs/objects/storage/{refused}"
    tries = [line for line in host.access_log() if line.startswith(path)]
    assert len(tries) == 9  # the first try and 8 retries, as git-lfs's lfs.transfer.maxretries
