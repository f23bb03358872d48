"""SIGKILL during a push to an S3 hub: of the client, of the hub, of SeaweedFS's volume server. Each
time nothing half-made is visible (every object the store shows hashes to its oid by its stored checksum;
the hub's catalog points only at verified media), the client's repo is fsck-clean, and running the same
push again completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_hitrec
from s3_hub import S3Hub, s3_hub
from seaweed import Seaweed
from sync_helpers import ADA, noise_wav, user_env

pytestmark = pytest.mark.slow
BIG = 48 << 20


def _volume_bytes(weed: Seaweed) -> int:
    return sum(p.stat().st_size for p in (weed.data_dir / "volume").rglob("*.dat") if p.exists())


def _push_until_bytes_flow(repo: Path, env: dict[str, str], weed: Seaweed, url: str) -> subprocess.Popen[bytes]:
    """Start `hitrec push`; return once SeaweedFS has taken 8 MiB of its media (the PUT is under way)."""
    before = _volume_bytes(weed)
    proc = subprocess.Popen([sys.executable, "-m", "hitrec", "push", url], cwd=repo, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _volume_bytes(weed) - before >= 8 << 20:
            return proc
        time.sleep(0.003)
    _, err = proc.communicate()
    raise AssertionError(f"the push ended ({proc.returncode}) before its bytes could be caught: {err.decode()}")


def _repo_with_big_take(tmp_path: Path, env: dict[str, str]) -> tuple[Path, dict[str, int]]:
    repo = tmp_path / "a"
    assert run_hitrec("init", str(repo), cwd=tmp_path, env=env).returncode == 0
    takes = [noise_wav(tmp_path / "small.wav", 40_000, seed=5), noise_wav(tmp_path / "big.wav", BIG, seed=6)]
    for take in takes:
        assert run_hitrec("add", str(take), cwd=repo, env=env).returncode == 0
    import hashlib

    return repo, {hashlib.sha256(t.read_bytes()).hexdigest(): t.stat().st_size for t in takes}


def _consistent(hub: S3Hub, name: str, repo: Path, env: dict[str, str], *, rehash: bool = False) -> None:
    """``rehash``: read every object back and hash it, not only its stored checksum."""
    store = hub.media_store(name)
    for oid in store.oids():  # nothing half-made is visible as present
        assert store.check(oid) is None, oid
        assert not rehash or store.verify(oid) is None, oid
    assert store.temp_files() == []
    if hub.catalog_head(name) is not None:
        listed = subprocess.run(["git", "--git-dir", str(hub.collaboration_path(name)), "grep", "-h", "^oid sha256:",
                                 "main", "--", "*"], capture_output=True, text=True, check=False).stdout
        assert "oid sha256:" in listed  # the catalog's pointers, each to media the store holds verified
        for line in listed.split():
            if len(line) == 64 + len("sha256:") and line.startswith("sha256:"):
                assert store.check(line[len("sha256:"):]) is None
    checked = run_hitrec("fsck", "--json", cwd=repo, env=env)
    assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], checked.stdout


def _completes(hub: S3Hub, name: str, repo: Path, env: dict[str, str], oids: dict[str, int], *,
               rehash: bool = False) -> None:
    again = run_hitrec("push", hub.collaboration_url(name), cwd=repo, env=env)
    assert again.returncode == 0, again.stderr
    store = hub.media_store(name)
    assert all(store.check(oid, size) is None for oid, size in oids.items())
    assert hub.catalog_head(name) is not None
    _consistent(hub, name, repo, env, rehash=rehash)


def test_a_killed_client_leaves_nothing_half_made_and_the_push_completes(tmp_path: Path, seaweed: Seaweed) -> None:
    with s3_hub(tmp_path, seaweed, "ada") as hub:
        env = user_env(*ADA, hub.tokens["ada"])
        repo, oids = _repo_with_big_take(tmp_path, env)
        proc = _push_until_bytes_flow(repo, env, seaweed, hub.collaboration_url("film"))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert hub.catalog_head("film") is None
        _consistent(hub, "film", repo, env)
        _completes(hub, "film", repo, env, oids)


def test_a_killed_hub_leaves_nothing_half_made_and_the_push_completes(tmp_path: Path, seaweed: Seaweed) -> None:
    with s3_hub(tmp_path, seaweed, "ada") as hub:
        env = user_env(*ADA, hub.tokens["ada"])
        repo, oids = _repo_with_big_take(tmp_path, env)
        proc = _push_until_bytes_flow(repo, env, seaweed, hub.collaboration_url("film"))
        assert hub.proc is not None
        hub.proc.kill()  # the bytes do not pass through it: the PUT goes on, the verify finds no hub
        hub.proc.wait()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode != 0 and b"cannot reach" in err, err
        hub.stop()
        hub.start()
        assert hub.catalog_head("film") is None
        _consistent(hub, "film", repo, env)
        _completes(hub, "film", repo, env, oids)


def test_a_killed_volume_server_leaves_nothing_half_made_and_the_push_completes(tmp_path: Path,
                                                                                seaweed: Seaweed) -> None:
    with s3_hub(tmp_path, seaweed, "ada") as hub:
        env = user_env(*ADA, hub.tokens["ada"])
        repo, oids = _repo_with_big_take(tmp_path, env)
        proc = _push_until_bytes_flow(repo, env, seaweed, hub.collaboration_url("film"))
        seaweed.kill_volume()
        try:
            time.sleep(2)  # the store stalls the PUT (it does not fail it): bring the volume back
        finally:
            seaweed.start_volume()
        _, err = proc.communicate(timeout=240)  # it may fail or finish: either way, nothing is half-made
        assert seaweed.secret_key.encode() not in err
        _consistent(hub, "film", repo, env, rehash=True)
        _completes(hub, "film", repo, env, oids, rehash=True)
