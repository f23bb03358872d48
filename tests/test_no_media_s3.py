"""A metadata-only clone of an S3 hub: media fetched on demand comes straight from the object store
(presigned addresses), and prune asks the hub, which answers from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_hitrec
from s3_hub import S3Hub, s3_hub
from seaweed import Seaweed
from sync_helpers import ADA, noise_wav, user_env


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, seaweed: Seaweed):
    with s3_hub(tmp_path_factory.mktemp("s3hub-lazy"), seaweed, "ada") as running:
        yield running


def _objects(repo_dir: Path) -> set[str]:
    return {p.name for p in (repo_dir / ".hitrec" / "lfs" / "objects").rglob("*") if p.is_file()}


def test_no_media_clone_fetch_on_demand_and_prune_through_an_s3_hub(hub: S3Hub, tmp_path: Path) -> None:
    env = user_env(*ADA, hub.tokens["ada"])
    url = hub.collaboration_url("lazy")
    a = tmp_path / "a"
    assert run_hitrec("init", str(a), cwd=tmp_path, env=env).returncode == 0
    for i in range(3):
        added = run_hitrec("add", str(noise_wav(tmp_path / f"v{i}.wav", 20_000, seed=40 + i)), cwd=a, env=env)
        assert added.returncode == 0, added.stderr
    assert run_hitrec("remote", "add", "origin", url, cwd=a, env=env).returncode == 0
    assert run_hitrec("push", cwd=a, env=env).returncode == 0
    ids = [f["id"] for f in json.loads(run_hitrec("log", "--json", cwd=a, env=env).stdout)]

    cloned = run_hitrec("clone", "--no-media", url, str(tmp_path / "b"), "--json", cwd=tmp_path, env=env)
    assert cloned.returncode == 0, cloned.stderr
    assert json.loads(cloned.stdout)["media"]["objects"] == 0 and _objects(tmp_path / "b") == set()
    shown = run_hitrec("cat", ids[1], cwd=tmp_path / "b", env=env, text=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout in {(tmp_path / f"v{i}.wav").read_bytes() for i in range(3)}
    assert len(_objects(tmp_path / "b")) == 1
    checked = json.loads(run_hitrec("fsck", "--json", cwd=tmp_path / "b", env=env).stdout)
    assert checked["ok"] and checked["not_fetched"] == 2

    pruned = run_hitrec("prune", "--json", cwd=a, env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["removed"] == 3 and _objects(a) == set()
    fetched = run_hitrec("fetch", "--all", "--json", cwd=a, env=env)
    assert fetched.returncode == 0 and json.loads(fetched.stdout)["fetched"]["objects"] == 3, fetched.stderr
    assert json.loads(run_hitrec("fsck", "--json", cwd=a, env=env).stdout)["media_checked"] == 3
    assert hub.object_route_lines() == []  # every byte came from the object store directly
