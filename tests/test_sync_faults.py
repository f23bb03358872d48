"""Sync under faults: refused tokens and authors, damaged media both ways, size limits, interrupted and
killed transfers resumed, concurrent pushes from separate processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_hitrec
from hub_process import HubProcess
from sync_helpers import ADA, BOB, client_repo, hub_fragment_ids, noise_wav, record, set_env, sha256_file, user_env

from hitrec.errors import AuthError, MediaError, RemoteError, SyncError
from hitrec.ops.pull import pull
from hitrec.ops.push import push
from hitrec.store import FragmentSpec, Repo
from hitrec.sync.remotes import add_remote


def _hub_media(hub: HubProcess, name: str) -> list[Path]:
    folder = hub.collaboration_path(name) / "lfs" / "objects"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _assert_hub_media_sound(hub: HubProcess, name: str) -> None:
    for path in _hub_media(hub, name):
        assert sha256_file(path) == path.name, f"damaged media on the hub: {path}"


class Stop(Exception):
    pass


def _stop_after(nbytes: int):  # type: ignore[no-untyped-def]
    seen = [0]

    def progress(advance: float = 0, total: float | None = None, description: str | None = None) -> None:
        seen[0] += advance
        if seen[0] >= nbytes:
            raise Stop()

    return progress


def test_revoked_token_stops_working_at_once(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    record(repo, tmp_path / "in", 1, prefix="r1")
    push(repo)
    hub.revoke("ada")
    record(repo, tmp_path / "in2", 1, prefix="r2")
    with pytest.raises(AuthError) as info:
        push(repo)
    assert hub.tokens["ada"] not in str(info.value)
    with pytest.raises(AuthError):
        pull(repo)
    assert len(hub_fragment_ids(hub.collaboration_path("film"))) == 1
    assert hub.tokens["ada"] not in hub.log_text()
    repo.close()


def test_no_token_for_private_hub(tmp_path: Path, cli, monkeypatch, hub: HubProcess) -> None:
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    record(repo, tmp_path / "in", 1)
    repo.close()
    monkeypatch.chdir(tmp_path / "a")
    r = cli("push")
    assert r.exit_code == 1 and "401" in r.output and "hitrec login" in r.output
    r = cli("pull")
    assert r.exit_code == 1 and "401" in r.output


def test_hub_refuses_fragment_by_another_author(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    set_env(monkeypatch, user_env("Mallory", "mallory@example.org", hub.tokens["ada"]))
    repo = client_repo(tmp_path, "m", hub.collaboration_url("film"))
    record(repo, tmp_path / "in", 2, prefix="mal")
    with pytest.raises(RemoteError) as info:
        push(repo)
    message = str(info.value)
    assert "refused" in message and "mallory@example.org" in message
    assert hub.tokens["ada"] not in message
    assert hub.catalog_head("film") is None
    assert repo.dulwich.refs.as_dict(b"refs/remotes") == {}
    repo.close()


def test_damaged_local_media_is_refused_by_the_hub(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    fid = record(repo, tmp_path / "in", 1, size=50_000)[0]
    path = repo.media_path(repo.fragment(fid).media.oid)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SyncError) as info:
        push(repo)
    assert "hash" in str(info.value).lower() or "sha" in str(info.value).lower() or "422" in str(info.value)
    assert _hub_media(hub, "film") == []
    assert hub.catalog_head("film") is None
    repo.close()


@pytest.mark.parametrize("change", [-1000, 5000])
@pytest.mark.parametrize("size", [50_000, (9 << 20) + 7])
def test_local_media_of_the_wrong_length_is_a_clear_error_at_once(tmp_path: Path, monkeypatch, hub: HubProcess,
                                                                  size: int, change: int) -> None:
    """A stored object cut short or grown (small: sent whole; big: streamed from O_DIRECT reads) is
    refused before a byte goes out: a media error naming fsck, not a hang or a network error."""
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    fid = record(repo, tmp_path / "in", 1, size=size)[0]
    path = repo.media_path(repo.fragment(fid).media.oid)
    os.chmod(path, 0o644)
    os.truncate(path, path.stat().st_size + change)
    started = time.monotonic()
    with pytest.raises((MediaError, SyncError)) as info:
        push(repo)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "fsck" in message and "cannot reach" not in message, message
    assert _hub_media(hub, "film") == [] and hub.catalog_head("film") is None
    repo.close()


def test_damaged_hub_media_never_enters_the_store(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    a = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    record(a, tmp_path / "in", 2, size=50_000)
    push(a)
    victim = _hub_media(hub, "film")[0]
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    b = client_repo(tmp_path, "b", hub.collaboration_url("film"))
    with pytest.raises(SyncError) as info:
        pull(b)
    assert "damaged" in str(info.value)
    assert not b.has_media(victim.name)
    assert b.catalog_head() is None  # nothing merged while media is missing
    assert b.fragments() == []
    assert b.media.temp_files() == []
    a.close()
    b.close()


@pytest.mark.parametrize(("limit", "count", "size"), [
    (["--max-object-size", "100K"], 1, 300_000),  # one media object over the limit
    (["--max-push-size", "2K"], 40, 2000),  # the git request body over the limit
])
def test_bodies_over_the_hub_limits_are_refused(tmp_path: Path, monkeypatch, limit: list[str], count: int,
                                                size: int) -> None:
    with HubProcess(tmp_path / "hub", extra_args=limit) as small:
        token = small.add_user("ada", ADA[1])
        set_env(monkeypatch, user_env(*ADA, token))
        repo = client_repo(tmp_path, "a", small.collaboration_url("film"))
        record(repo, tmp_path / "in", count, size=size)
        with pytest.raises(RemoteError) as info:
            push(repo)
        assert "limit" in str(info.value) and token not in str(info.value)
        assert small.catalog_head("film") is None
        repo.close()


def test_malformed_collaboration_name(tmp_path: Path, cli, monkeypatch, hub: HubProcess) -> None:
    monkeypatch.setenv("HITREC_TOKEN", hub.tokens["ada"])
    repo = client_repo(tmp_path, "a", hub.url + "/bad%20name.git")
    record(repo, tmp_path / "in", 1)
    repo.close()
    monkeypatch.chdir(tmp_path / "a")
    r = cli("push")
    assert r.exit_code == 1
    assert hub.tokens["ada"] not in r.output
    assert "Traceback" not in r.output


def test_interrupted_push_resends_only_what_is_missing(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    ids = record(repo, tmp_path / "in", 12, size=200_000)
    with pytest.raises(Stop):
        push(repo, progress=_stop_after(5 * 200_000))
    time.sleep(0.2)  # let the hub finish or drop the upload that was cut
    arrived = len(_hub_media(hub, "film"))
    assert 1 <= arrived < 12
    _assert_hub_media_sound(hub, "film")
    assert hub.catalog_head("film") is None  # no ref before all media arrived
    result = push(repo)
    assert result.media.present == arrived
    assert result.media.objects == 12 - arrived
    assert hub_fragment_ids(hub.collaboration_path("film")) == set(ids)
    repo.close()


def test_interrupted_pull_resumes_and_never_merges_early(tmp_path: Path, monkeypatch, hub) -> None:
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    a = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    ids = record(a, tmp_path / "in", 12, size=200_000)
    push(a)
    b = client_repo(tmp_path, "b", hub.collaboration_url("film"))
    with pytest.raises(Stop):
        pull(b, progress=_stop_after(5 * 200_000))
    assert b.catalog_head() is None and b.fragments() == []
    have = [oid for oid in a.media_oids(ids) if b.has_media(oid)]
    assert 1 <= len(have) < 12
    assert all(sha256_file(b.media_path(oid)) == oid for oid in have)
    result = pull(b)
    assert result.media.objects == 12 - len(have)
    assert {f.id for f in b.fragments()} == set(ids)
    a.close()
    b.close()


def _big_client(tmp_path: Path, name: str, url: str, count: int, size: int) -> Repo:
    repo = client_repo(tmp_path, name, url)
    paths = [noise_wav(tmp_path / f"in-{name}" / f"{i}.wav", size, seed=i + 1000 * len(name)) for i in range(count)]
    repo.record([FragmentSpec(p) for p in paths])
    return repo


def _kill_when(proc: subprocess.Popen[bytes], ready, timeout: float = 60) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    return False


def _spawn(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hitrec", *args], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_killed_push_and_killed_pull_resume(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    env = user_env(*ADA, hub.tokens["ada"])
    set_env(monkeypatch, env)
    url = hub.collaboration_url("film")
    count, size = 12, 12 << 20
    a = _big_client(tmp_path, "a", url, count, size)
    ids = {f.id for f in a.fragments()}
    a.close()

    proc = _spawn(["push"], tmp_path / "a", env)
    killed = _kill_when(proc, lambda: len(_hub_media(hub, "film")) >= 2)
    assert killed, "the push finished before it could be killed"
    time.sleep(0.3)
    _assert_hub_media_sound(hub, "film")
    assert hub.catalog_head("film") is None
    arrived = len(_hub_media(hub, "film"))
    a = Repo(tmp_path / "a")
    result = push(a)
    assert result.media.present >= arrived and result.media.objects == count - result.media.present
    assert hub_fragment_ids(hub.collaboration_path("film")) == ids
    a.close()

    b = client_repo(tmp_path, "b", url)
    b.close()
    proc = _spawn(["pull"], tmp_path / "b", env)
    objects = tmp_path / "b" / ".hitrec" / "lfs" / "objects"
    killed = _kill_when(proc, lambda: sum(1 for p in objects.rglob("*") if p.is_file()) >= 2)
    assert killed, "the pull finished before it could be killed"
    b = Repo(tmp_path / "b")
    assert b.catalog_head() is None  # the catalog never points at absent media
    have = [p for p in objects.rglob("*") if p.is_file()]
    assert all(sha256_file(p) == p.name for p in have)
    result = pull(b)
    assert result.media.objects <= count - len(have)
    assert {f.id for f in b.fragments()} == ids
    assert run_hitrec("fsck", cwd=tmp_path / "b").returncode == 0
    b.close()


def test_hub_gone_mid_push_then_back(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "hub"
    first = HubProcess(root).start()
    token = first.add_user("ada", ADA[1])
    set_env(monkeypatch, user_env(*ADA, token))
    repo = client_repo(tmp_path, "a", first.collaboration_url("film"))
    ids = record(repo, tmp_path / "in", 8, size=100_000)
    stopped = [False]

    def cut(advance: float = 0, total: float | None = None, description: str | None = None) -> None:
        if advance and not stopped[0]:
            stopped[0] = True
            assert first.proc is not None
            first.proc.kill()  # the connection drops mid-upload
            first.proc.wait()

    with pytest.raises(SyncError) as info:
        push(repo, progress=cut)
    assert token not in str(info.value)
    first.stop()
    first.log_path.unlink()  # the next hub logs its own URL there
    with HubProcess(root) as second:
        add_remote(repo.git_dir, "origin", second.collaboration_url("film"), replace=True)
        result = push(repo)
        assert result.media.objects + result.media.present == 8
        assert hub_fragment_ids(second.collaboration_path("film")) == set(ids)
    repo.close()


def test_concurrent_pushes_from_two_processes_both_land(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    bob_token = hub.add_user("bob", BOB[1])
    url = hub.collaboration_url("film")
    envs = {"ada": user_env(*ADA, hub.tokens["ada"]), "bob": user_env(*BOB, bob_token)}
    ids: dict[str, set[str]] = {}
    for name, env in envs.items():
        set_env(monkeypatch, env)
        repo = client_repo(tmp_path, name, url)
        ids[name] = set(record(repo, tmp_path / f"in-{name}", 6, prefix=name))
        repo.close()
    for round_ in range(2):
        procs = {name: subprocess.Popen([sys.executable, "-m", "hitrec", "push", "--json"], cwd=tmp_path / name,
                                        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for name, env in envs.items()}
        for name, proc in procs.items():
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (name, err.decode())
        if round_ == 0:
            for name, env in envs.items():  # more work on both sides, pushed at once again
                set_env(monkeypatch, env)
                repo = Repo(tmp_path / name)
                ids[name] |= set(record(repo, tmp_path / f"in2-{name}", 3, prefix=name + "2"))
                repo.close()
    everyone = ids["ada"] | ids["bob"]
    assert hub_fragment_ids(hub.collaboration_path("film")) == everyone
    for name, env in envs.items():
        done = run_hitrec("pull", "--json", cwd=tmp_path / name, env=env)
        assert done.returncode == 0, done.stderr
        repo = Repo(tmp_path / name)
        assert {f.id for f in repo.fragments()} == everyone
        repo.close()


def _clone_env(hub: HubProcess, crash_at: str | None = None) -> dict[str, str]:
    env = {**user_env(*ADA, hub.tokens["ada"])}
    env["HITREC_CRASH_AT"] = crash_at or ""
    return env


def _assert_finished_clone(base: Path, name: str, ids: set[str]) -> None:
    """A whole clone at ``base/name``, fsck clean, and nothing left beside it or in its temp folders."""
    assert not (base / f".{name}.hitrec-clone").exists()
    assert sorted(p.name for p in base.iterdir() if p.name.startswith(".")) == []
    repo = Repo(base / name)
    assert {f.id for f in repo.fragments()} == ids
    assert repo.media.temp_files() == []
    assert list((repo.git_dir / "refs").rglob("*.lock")) == []
    repo.close()
    done = run_hitrec("fsck", cwd=base / name)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("crash_at", ["clone-created", "pull-fetched", "pull-media-fetched", "pull-merged",
                                      "clone-pulled"])
def test_killed_clone_is_finished_by_running_it_again(tmp_path: Path, monkeypatch, hub: HubProcess,
                                                      crash_at: str) -> None:
    """SIGKILLed at each step (its repo made, media arrived, catalog merged, before the move), a clone is
    finished by the same command: nothing at the destination until then, no media fetched twice."""
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    a = client_repo(tmp_path, "a", url)
    ids = set(record(a, tmp_path / "in", 6, size=20_000))
    push(a)
    a.close()
    base = tmp_path / "work"
    base.mkdir()
    killed = run_hitrec("clone", url, "c", cwd=base, env=_clone_env(hub, crash_at))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (base / "c").exists()  # nothing half-made where the user looks
    again = run_hitrec("clone", url, "c", "--json", cwd=base, env=_clone_env(hub))
    assert again.returncode == 0, again.stderr
    import json

    summary = json.loads(again.stdout)
    if crash_at in ("pull-media-fetched", "pull-merged", "clone-pulled"):
        assert summary["media"]["objects"] == 0  # every object had arrived: none fetched again
    assert summary["path"] == str((base / "c").resolve())
    _assert_finished_clone(base, "c", ids)


def test_a_clone_killed_once_in_place_is_finished_by_running_it_again(tmp_path: Path, monkeypatch,
                                                                     hub: HubProcess) -> None:
    """SIGKILLed after the clone was moved into place (before it said so), the re-run said "already holds
    a clone ... run `hitrec pull`" and exited 2 (3 of 30 random kills). It finishes it now, as a pull."""
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    a = client_repo(tmp_path, "a", url)
    ids = set(record(a, tmp_path / "in", 4, size=20_000))
    push(a)
    a.close()
    base = tmp_path / "work"
    base.mkdir()
    killed = run_hitrec("clone", url, "c", cwd=base, env=_clone_env(hub, "clone-moved"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = run_hitrec("clone", url, "c", "--json", cwd=base, env=_clone_env(hub))
    assert again.returncode == 0, again.stderr
    import json

    summary = json.loads(again.stdout)
    assert summary["path"] == str((base / "c").resolve()) and summary["media"]["objects"] == 0
    _assert_finished_clone(base, "c", ids)
    other = run_hitrec("clone", hub.collaboration_url("other"), "c", cwd=base, env=_clone_env(hub))
    assert other.returncode == 2 and "already exists" in other.stderr  # a clone of another URL: refused


def test_interrupted_clone_resumes_into_an_empty_folder(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    """Stopped halfway through its media, a clone into an existing empty folder leaves that folder empty;
    the re-run fetches only the rest."""
    from hitrec.ops.clone import clone

    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    a = client_repo(tmp_path, "a", url)
    ids = set(record(a, tmp_path / "in", 12, size=200_000))
    push(a)
    a.close()
    dest = tmp_path / "work" / "c"
    dest.mkdir(parents=True)
    with pytest.raises(Stop):
        clone(url, dest, _stop_after(5 * 200_000))
    assert list(dest.iterdir()) == []
    had = sum(1 for p in (tmp_path / "work" / ".c.hitrec-clone" / ".hitrec" / "lfs" / "objects").rglob("*")
              if p.is_file())
    assert 1 <= had < 12
    done = clone(url, dest)
    assert done.resumed and done.pull.media.objects == 12 - had
    _assert_finished_clone(tmp_path / "work", "c", ids)


@pytest.mark.slow
def test_clone_killed_at_random_moments_completes(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    """Real SIGKILLs at random moments of `hitrec clone` (in its git fetch, its media, its merge), each
    followed by the same command killed again or left to finish: it always completes, fsck clean."""
    import random

    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    a = client_repo(tmp_path, "a", url)
    ids = set(record(a, tmp_path / "in", 40, size=300_000))
    push(a)
    a.close()
    base = tmp_path / "work"
    base.mkdir()
    rng = random.Random(7)
    for _ in range(6):
        proc = _spawn(["clone", url, "c"], base, _clone_env(hub))
        time.sleep(rng.uniform(0.2, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (base / "c").exists():
            break
    if not (base / "c").exists():
        done = run_hitrec("clone", url, "c", cwd=base, env=_clone_env(hub))
        assert done.returncode == 0, done.stderr
    _assert_finished_clone(base, "c", ids)


def test_stale_ref_locks_of_a_killed_push_or_pull_are_cleared(tmp_path: Path, cli, monkeypatch,
                                                               hub: HubProcess) -> None:
    """A push killed just after the hub moved its ref leaves refs/remotes/origin/main.lock (a pull killed in
    its fetch, refs/hitrec/incoming/origin.lock): under the repo lock no writer is alive, so the next push
    and pull remove them and succeed instead of failing on dulwich's FileLocked or git's 'cannot lock ref'."""
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    a = client_repo(tmp_path, "a", url)
    record(a, tmp_path / "in", 1, prefix="one")
    push(a)
    stale = a.git_dir / "refs" / "remotes" / "origin" / "main.lock"
    stale.write_text("0" * 40 + "\n")
    record(a, tmp_path / "in2", 1, prefix="two")
    a.close()
    monkeypatch.chdir(tmp_path / "a")
    r = cli("push")
    assert r.exit_code == 0, r
    assert "Traceback" not in r.output and not stale.exists()
    a = Repo(tmp_path / "a")
    assert a.dulwich.refs[b"refs/remotes/origin/main"].decode() == hub.catalog_head("film")
    a.close()

    b = client_repo(tmp_path, "b", url)
    incoming = b.git_dir / "refs" / "hitrec" / "incoming" / "origin.lock"
    incoming.parent.mkdir(parents=True)
    incoming.write_text("")
    b.close()
    monkeypatch.chdir(tmp_path / "b")
    r = cli("pull")
    assert r.exit_code == 0, r
    assert not incoming.exists()
    assert cli("fsck").exit_code == 0


def test_a_ref_locked_by_a_live_process_is_a_clear_error(tmp_path: Path) -> None:
    """A lock file that appears while we hold the repo lock (a git command run by hand) is one clear error,
    not dulwich's FileLocked."""
    from hitrec.errors import LockTimeoutError
    from hitrec.sync.session import set_ref

    repo = Repo.init(tmp_path / "r")
    ids = record(repo, tmp_path / "in", 1)
    lock = repo.git_dir / "refs" / "remotes" / "origin" / "main.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    with pytest.raises(LockTimeoutError) as info:
        set_ref(repo, "refs/remotes/origin/main", ids[0])
    assert "refs/remotes/origin/main" in str(info.value) and "try again" in str(info.value)
    repo.close()


@contextlib.contextmanager
def _unwritable(folder: Path) -> Iterator[None]:
    """Nobody may create files in ``folder`` (as root, only the immutable attribute stops a write)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.fail("cannot make a folder unwritable as root here (chattr +i refused)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_refused_ref_update_is_reported_at_once_not_retried(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    """When the hub's git cannot move its ref for a reason other than a lost race (here it cannot create
    its refs/heads/main.lock; a leftover lock reads the same way), git says "failed to update ref": the
    push reports the hub's refusal in one line after one attempt, instead of retrying 40 times and blaming
    others for pushing faster."""
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    repo = client_repo(tmp_path, "a", url)
    record(repo, tmp_path / "in", 1, prefix="one")
    push(repo)
    record(repo, tmp_path / "in2", 1, prefix="two")
    started = time.monotonic()
    with _unwritable(hub.collaboration_path("film") / "refs" / "heads"), pytest.raises(RemoteError) as info:
        push(repo)
    message = str(info.value)
    assert time.monotonic() - started < 10
    assert "failed to update ref" in message and "main.lock" in message, message
    assert "faster" not in message and "\n" not in message
    assert len(hub_fragment_ids(hub.collaboration_path("film"))) == 1
    assert push(repo).fragments == 1  # and once the hub can, the same push lands
    repo.close()


@pytest.mark.slow
def test_ctrl_c_at_random_moments_of_a_pull_is_one_line(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    """SIGINT at random moments of a real `hitrec pull` of 300 fragments (its fetch, its media, its merge
    reading fragments from the fetched pack): always exit 130 and one line, never dulwich's
    `BufferError: cannot close exported pointers exist`; the repo stays fsck clean and a re-run finishes."""
    import random

    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    url = hub.collaboration_url("film")
    a = client_repo(tmp_path, "a", url)
    ids = set(record(a, tmp_path / "in", 300, size=2000))
    push(a)
    a.close()
    env = user_env(*ADA, hub.tokens["ada"])

    def started(root: Path) -> bool:  # past start-up: its fetch has written the incoming ref
        return (root / ".hitrec" / "refs" / "hitrec" / "incoming" / "origin").exists()

    client_repo(tmp_path, "timing", url).close()
    proc = _spawn(["pull"], tmp_path / "timing", env)
    while not started(tmp_path / "timing") and proc.poll() is None:
        time.sleep(0.002)
    began = time.monotonic()
    assert proc.wait(timeout=120) == 0
    working = time.monotonic() - began  # from the fetch to the end: media, then the merge
    rng = random.Random(11)
    interrupted = 0
    for trial in range(8):
        root = tmp_path / f"b{trial}"
        client_repo(tmp_path, root.name, url).close()
        proc = subprocess.Popen([sys.executable, "-m", "hitrec", "pull"], cwd=root, env={**os.environ, **env},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not started(root) and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.9 * working))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == 0:
            continue  # it had finished
        interrupted += 1
        assert proc.returncode == 130 and err.strip() == "interrupted", (proc.returncode, err[-3000:])
        assert run_hitrec("fsck", cwd=root).returncode == 0
        done = run_hitrec("pull", cwd=root, env=env)
        assert done.returncode == 0, done.stderr
        repo = Repo(root)
        assert {f.id for f in repo.fragments()} == ids
        repo.close()
    assert interrupted >= 4


def test_remote_remove_and_add_give_one_line_when_git_cannot_write(tmp_path: Path, cli, monkeypatch) -> None:
    """`remote remove` ran git itself and let its CalledProcessError out as a traceback; now a config git
    cannot write is one line, and a config.lock a killed writer left is cleared first."""
    repo = client_repo(tmp_path, "a", "http://127.0.0.1:9/film.git")
    repo.close()
    monkeypatch.chdir(tmp_path / "a")
    assert cli("remote", "add", "backup", "http://127.0.0.1:9/other.git").exit_code == 0
    (tmp_path / "a" / ".hitrec" / "config.lock").write_text("")  # a killed `git config`
    r = cli("remote", "remove", "backup")
    assert r.exit_code == 0, r
    with _unwritable(tmp_path / "a" / ".hitrec"):
        r = cli("remote", "remove", "origin")
        assert r.exit_code == 1 and "could not remove remote 'origin'" in r.stderr, r
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output
        r = cli("remote", "add", "up", "http://127.0.0.1:9/up.git")
        assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1, r
    assert cli("remote", "list", "--json").json() == [{"name": "origin", "url": "http://127.0.0.1:9/film.git"}]
