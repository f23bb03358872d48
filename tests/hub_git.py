"""Drive a hub with the real git and git-lfs clients (tests and bench share these helpers)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from hitrec.store import FragmentSpec, Repo
from hitrec.store.media_store import sha256_file  # noqa: F401 - the tests import it from here
from hitrec.store.model import Person


def auth_header(user: str, token: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def git(*args: str, cwd: Path | None = None, token: str | None = None, user: str = "ada",
        check: bool = True, env: dict[str, str] | None = None, git_dir: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run git (or ``git lfs``) with the token sent as an HTTP header (never in a URL)."""
    cmd = ["git"]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    if token is not None:
        cmd += ["-c", f"http.extraHeader={auth_header(user, token)}"]
    cmd += ["-c", "credential.helper=", "-c", "core.askPass=/bin/false", *args]
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "Ada Tester",
                "GIT_AUTHOR_EMAIL": "ada@example.org", "GIT_COMMITTER_NAME": "Ada Tester",
                "GIT_COMMITTER_EMAIL": "ada@example.org", **(env or {})}
    done = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def lfs_work_tree(path: Path) -> Path:
    """A plain git repo whose *.bin files are tracked by Git LFS."""
    git("init", "-q", "-b", "main", str(path))
    git("lfs", "install", "--local", cwd=path)
    git("lfs", "track", "*.bin", cwd=path)
    return path


def commit_file(work: Path, name: str, data: bytes, message: str = "add", *,
                env: dict[str, str] | None = None) -> str:
    (work / name).write_bytes(data)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work, env=env)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()



def lfs_clone(url: str, dest: Path, *, token: str | None = None, user: str = "ada") -> Path:
    """``git clone`` then ``git lfs pull``, as a plain git + git-lfs user would."""
    git("clone", "-q", url, str(dest), token=token, user=user, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    git("lfs", "install", "--local", cwd=dest)
    git("lfs", "pull", cwd=dest, token=token, user=user)
    return dest


def record(root: Path, count: int, *, author: Person | None = None, start: int = 0) -> Repo:
    """``count`` tiny WAV fragments recorded in the hitrec repo at ``root`` (created if need be)."""
    from media import make_wav

    repo = Repo(root) if (root / ".hitrec").is_dir() else Repo.init(root)
    specs = [FragmentSpec(path=make_wav(root.parent / f"{root.name}-{start + i}.wav", seconds=0.05,
                                        freq=100 + 37 * (start + i)), author=author)
             for i in range(count)]
    repo.record(specs)
    return repo


def push_repo(repo: Repo, url: str, token: str, user: str = "ada", *, ref: str = "main",
              check: bool = True) -> subprocess.CompletedProcess[str]:
    """Push a hitrec repo with the real git-lfs and git clients: media first (``git lfs push``), then
    ``ref`` to the hub's main."""
    lfs = git("lfs", "push", "--all", url, git_dir=repo.git_dir, token=token, user=user, check=check)
    if lfs.returncode != 0:
        return lfs
    return git("push", url, f"{ref}:refs/heads/main", git_dir=repo.git_dir, token=token, user=user,
               check=check)
