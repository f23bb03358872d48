"""What hitrec pushes is plain git + Git LFS: `git clone` then `git lfs pull` (the real tools) yields every
fragment's metadata and media, with matching SHA-256."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hub_process import HubProcess
from sync_helpers import record, set_env, sha256_file, user_env

from hitrec.ops.push import push
from hitrec.store import FragmentSpec, Repo
from hitrec.sync.remotes import add_remote

pytestmark = pytest.mark.skipif(shutil.which("git-lfs") is None, reason="needs git-lfs")


def _git(*args: str, cwd: Path, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    if token:  # credentials through the environment, as a CI job would pass them
        basic = base64.b64encode(f"ada:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("public", [False, True])
def test_git_clone_and_git_lfs_pull_get_every_fragment(tmp_path: Path, monkeypatch, public: bool) -> None:
    from sync_helpers import noise_wav

    with HubProcess(tmp_path / "hub", public_read=public) as hub:
        token = hub.add_user("ada", "ada@example.org")
        set_env(monkeypatch, user_env("Ada Tester", "ada@example.org", token))
        repo = Repo.init(tmp_path / "a")
        add_remote(repo.git_dir, "origin", hub.collaboration_url("film"))
        record(repo, tmp_path / "in", 3, size=30_000)
        big = noise_wav(tmp_path / "in" / "long take.wav", 3_000_000, seed=7)
        [remix] = repo.record([FragmentSpec(big, parents=(repo.fragments()[0].id,))])
        push(repo)
        expected = {f.id: f.media for f in repo.fragments()}
        repo.close()

        assert _git("lfs", "install", "--skip-repo", cwd=tmp_path, token=None).returncode == 0
        done = _git("clone", hub.collaboration_url("film"), "plain", cwd=tmp_path,
                    token=None if public else token)
        assert done.returncode == 0, done.stderr
        plain = tmp_path / "plain"
        done = _git("lfs", "pull", cwd=plain, token=None if public else token)
        assert done.returncode == 0, done.stderr
        assert token not in done.stdout + done.stderr

        seen = {}
        for meta in plain.glob("fragments/*/*/fragment.yaml"):
            record_ = yaml.safe_load(meta.read_text())
            media = record_["media"]
            path = meta.parent / media["filename"]
            assert path.stat().st_size == media["size"]
            assert sha256_file(path) == media["oid"]
            seen[meta.parent.name] = media["oid"]
        assert seen == {fid: m.oid for fid, m in expected.items()}
        # lineage shows in plain git: the remix's commit has its source as a parent
        parents = _git("log", "-1", "--format=%P", remix.id, cwd=plain, token=None).stdout.split()
        assert parents == [remix.parents[0]]
        assert _git("fsck", "--strict", cwd=plain, token=None).returncode == 0
