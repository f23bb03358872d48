"""`hitrec remote add|list|remove`: the hubs a repo syncs with, kept in its git config."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hitrec.errors import RemoteError, SyncError, UsageError
from hitrec.sync.remotes import Remote, check_name, get_remote_url, list_remotes, split_url

if TYPE_CHECKING:
    from hitrec.store import Repo


@dataclass
class RemoteResult:
    """What a remote command did: the remotes it added, listed or removed."""

    remotes: list[Remote] = field(default_factory=list)
    dropped_token: bool = False  # `add` was given a URL with a token, which was not stored

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": r.name, "url": r.url} for r in self.remotes]


def add(repo: Repo, name: str, url: str, *, replace: bool = False) -> RemoteResult:
    """Add a remote (credentials in the URL are dropped: use `hitrec login`)."""
    from hitrec.sync.remotes import add_remote

    _, creds = split_url(url)
    with repo.lock():  # taking it clears a config.lock a killed writer left
        remote = add_remote(repo.git_dir, name, url, replace=replace)
    return RemoteResult([remote], dropped_token=bool(creds.token))


def list_(repo: Repo) -> RemoteResult:
    return RemoteResult(list_remotes(repo.git_dir))


def remove(repo: Repo, name: str) -> RemoteResult:
    """Forget a remote (its remote-tracking ref stays until the next fetch)."""
    from hitrec.sync.git import git_exe

    url = get_remote_url(repo.git_dir, check_name(name))
    if url is None:
        raise UsageError(f"no remote named {name!r}")
    config = repo.git_dir / "config"
    try:
        with repo.lock():  # taking it clears a config.lock a killed writer left
            done = subprocess.run([git_exe(), "config", "--file", str(config), "--remove-section",
                                   f"remote.{name}"], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SyncError(f"could not run git to remove remote {name!r}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"git exited {done.returncode}"
        raise RemoteError(f"could not remove remote {name!r} from {config}: {detail}")
    return RemoteResult([Remote(name, url)])
