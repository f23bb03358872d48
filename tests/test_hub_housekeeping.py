"""The hub packs a collaboration that grew (one pack with a reachability bitmap, for fast clones) after
a push, in the background, under the collaboration's push lock; never below its threshold."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hub_process import HubProcess, wait_for
from sync_helpers import client_repo, hub_fragment_ids, record, user_env

from hitrec.hub import repos
from hitrec.hub.housekeeping import _pack_count, objects_outside_bitmap, wants_gc


def _hitrec(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "hitrec", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done


def _bitmaps(git_dir: Path) -> list[Path]:
    return sorted((git_dir / "objects" / "pack").glob("pack-*.bitmap"))


def _lock_is_free(git_dir: Path) -> bool:
    fd = repos.lock_pushes(git_dir, wait=False)
    if fd is None:
        return False
    os.close(fd)
    return True


@pytest.fixture
def packing_hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    with HubProcess(tmp_path / "hub", extra_args=["--repack-after", "40"]) as hub:
        token = hub.add_user("ada", "ada@example.org")
        yield hub, user_env("Ada", "ada@example.org", token)


def test_a_push_over_the_threshold_leaves_one_bitmapped_pack(packing_hub, tmp_path: Path) -> None:
    hub, env = packing_hub
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    ids = record(repo, tmp_path / "in", 30)  # ~120 objects
    _hitrec("push", cwd=repo.root, env=env)
    git_dir = hub.root / "film.git"
    assert wait_for(lambda: len(_bitmaps(git_dir)) == 1, timeout=60), "no bitmap after the push"
    assert wait_for(lambda: _lock_is_free(git_dir), timeout=60)  # the gc has ended
    outside, inside = objects_outside_bitmap(git_dir)
    assert outside == 0 and inside >= 4 * 30
    assert not [p for p in (git_dir / "objects" / "pack").iterdir() if p.name.startswith(".tmp-")]
    fsck = subprocess.run(["git", "--git-dir", str(git_dir), "fsck", "--no-progress"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert hub_fragment_ids(git_dir) == set(ids)
    # another push then a clone, from the packed collaboration
    more = record(repo, tmp_path / "in2", 3, prefix="g")
    _hitrec("push", cwd=repo.root, env=env)
    _hitrec("clone", "--no-media", hub.collaboration_url("film"), "copy", cwd=tmp_path, env=env)
    listed = _hitrec("log", "--json", cwd=tmp_path / "copy", env=env).stdout
    assert all(i in listed for i in [*ids, *more])
    assert "packed film" in hub.log_path.read_text()


def test_a_small_push_is_left_as_it_came(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub", extra_args=["--repack-after", "100000"]) as hub:
        env = user_env("Ada", "ada@example.org", hub.add_user("ada", "ada@example.org"))
        repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
        record(repo, tmp_path / "in", 30)
        _hitrec("push", cwd=repo.root, env=env)
        time.sleep(1.0)
        assert _bitmaps(hub.root / "film.git") == []
        assert "packed film" not in hub.log_path.read_text()


def test_what_a_killed_gc_left_is_cleared_by_the_next(packing_hub, tmp_path: Path) -> None:
    hub, env = packing_hub
    repo = client_repo(tmp_path, "a", hub.collaboration_url("film"))
    record(repo, tmp_path / "in", 5)
    _hitrec("push", cwd=repo.root, env=env)  # under the threshold: 20 objects
    git_dir = hub.root / "film.git"
    debris = git_dir / "objects" / "pack" / ".tmp-12345-pack-abc.pack"
    debris.write_bytes(b"half a pack")
    record(repo, tmp_path / "in2", 30, prefix="g")
    _hitrec("push", cwd=repo.root, env=env)
    assert wait_for(lambda: len(_bitmaps(git_dir)) == 1 and not debris.exists(), timeout=60)


def test_the_threshold_counts_loose_objects_and_packs_outside_the_bitmap(tmp_path: Path) -> None:
    git_dir = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    shas = [subprocess.run(["git", "--git-dir", str(git_dir), "hash-object", "-w", "--stdin"], input=f"blob {i}\n",
                           text=True, check=True, capture_output=True).stdout.strip() for i in range(30)]
    assert objects_outside_bitmap(git_dir) == (30, 0)
    assert wants_gc(git_dir, 30) and not wants_gc(git_dir, 31) and not wants_gc(git_dir, 0)
    subprocess.run(["git", "--git-dir", str(git_dir), "pack-objects", "-q", str(git_dir / "objects/pack/pack")],
                   input="\n".join(shas[:12]) + "\n", text=True, check=True, capture_output=True)
    idx, = (git_dir / "objects" / "pack").glob("pack-*.idx")
    assert _pack_count(idx) == 12
    assert objects_outside_bitmap(git_dir) == (42, 0)
    idx.with_suffix(".bitmap").write_bytes(b"")  # as if bitmapped: its objects count as inside
    assert objects_outside_bitmap(git_dir) == (30, 12)
    assert _pack_count(tmp_path / "nothing.idx") == 0
