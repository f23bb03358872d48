"""The collaborations a hub hosts: ``<root>/<name>.git``, each a bare git repo with the Git LFS layout.

A hosted collaboration is a plain bare repository (so ``git`` and ``git-lfs`` can serve from it too):

    <root>/<name>.git/             git init --bare, branch main
        hooks/pre-receive          runs ``python -m hitrec.hub.hook`` (authors, media present)
        lfs/objects/ab/cd/<oid>    media, content-addressed by SHA-256
        lfs/tmp/                   uploads in flight (renamed into objects/ once verified)
        hitrec-push.flock          held by the hub and the receive-pack of a push (see lock_pushes)

Pushes may only move ``refs/heads/main`` forward; nothing is ever deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from hitrec.errors import HubError
from hitrec.hub.names import check_collaboration_name, is_collaboration_name
from hitrec.private import make_private_dirs
from hitrec.store.format import CATALOG_REF
from hitrec.store.local_media import LocalMediaStore

HOOK = """#!/bin/sh
# Installed by hitrec hub: refuses fragments whose author is not the pusher, and media the hub lacks.
# One update of main from a commit main no longer is would fail git's compare-and-set: it is refused
# here at once, unchecked (no Python start) and with nothing kept (a yes would keep its objects, which
# upload-pack serves by id). git's own reading of the updates (stdin) decides; the hub passes main.
set -f
updates=$(cat)
case "$updates" in
*"
"*) ;;
*)  set -- $updates
    if [ $# = 3 ] && [ "$3" = @CATALOG_REF@ ] && [ -n "$HITREC_HUB_MAIN" ] && [ "$1" != "$HITREC_HUB_MAIN" ]; then
        echo "hitrec hub: main is at $HITREC_HUB_MAIN but expected $1: fetch first" >&2
        exit 1
    fi ;;
esac
printf '%s\n' "$updates" | "${HITREC_HUB_PYTHON:-python3}" -S -m hitrec.hub.hook
""".replace("@CATALOG_REF@", CATALOG_REF)

_CONFIG = """[core]
\tfsync = committed
[receive]
\tdenyNonFastForwards = true
\tdenyDeletes = true
\tfsckObjects = true
\tkeepAlive = 5
[uploadpack]
\tallowFilter = true
[hitrec]
\tauthorCheck = {author_check}
"""


def collaboration_path(root: Path, name: str) -> Path:
    """The folder of collaboration ``name`` (validated: it can never leave ``root``)."""
    check_collaboration_name(name)
    return Path(root) / f"{name}.git"


def exists(root: Path, name: str) -> bool:
    return (collaboration_path(root, name) / "HEAD").is_file()


def create(root: Path, name: str, *, author_check: bool = True, exist_ok: bool = False) -> Path:
    """Create collaboration ``name`` atomically (built in a temp folder, then renamed into place)."""
    path = collaboration_path(root, name)
    if (path / "HEAD").is_file():
        if exist_ok:
            return path
        raise HubError(f"collaboration {name!r} already exists at {path}")
    root = Path(root)
    make_private_dirs(root)
    tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
    try:
        _git("init", "--bare", "--quiet", "--initial-branch=main", str(tmp))
        with open(tmp / "config", "a", encoding="utf-8") as fh:
            fh.write(_CONFIG.format(author_check="true" if author_check else "false"))
        (tmp / "description").write_text(f"hitrec collaboration {name}\n", encoding="utf-8")
        install_hook(tmp)
        LocalMediaStore.init_of_repo(tmp)
        try:
            os.rename(tmp, path)
        except OSError:
            if (path / "HEAD").is_file() and exist_ok:
                return path  # created meanwhile by a concurrent first push
            if (path / "HEAD").is_file():
                raise HubError(f"collaboration {name!r} already exists at {path}") from None
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def install_hook(git_dir: Path) -> None:
    hook = git_dir / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if hook.read_text(encoding="utf-8") == HOOK:
            return
    # a name of its own: several hubs starting on one root (or --workers) may install it at once
    tmp = hook.with_name(f".pre-receive.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        tmp.write_text(HOOK, encoding="utf-8")
        tmp.chmod(0o755)
        os.replace(tmp, hook)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temp_files(folder: Path, older_than: float = 3600) -> int:
    """Remove what a killed hub left in a temp folder (files untouched for an hour: no live upload)."""
    import time

    removed = 0
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than
    for entry in folder.iterdir():
        if entry.name.startswith(".nfs"):  # NFS's name for a file still open on some machine
            continue
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except OSError:
            pass
    return removed


PUSH_LOCK = "hitrec-push.flock"
_QUARANTINE_PREFIXES = ("tmp_objdir-incoming-", "incoming-")  # git >= 2.11 quarantines; older names

log = logging.getLogger("hitrec.hub")


def lock_pushes(git_dir: Path, *, wait: bool = True) -> int | None:
    """Take the collaboration's push lock: an open file with ``flock(LOCK_EX)``; returns its fd, or
    None if ``wait`` is false and someone holds it.

    The hub passes the fd on to the push's ``git receive-pack`` (and so to its hooks), so the lock is
    held while *any* of them lives: a receive-pack that outlived a killed hub still holds it. Whoever
    holds the lock knows every earlier receive-pack is gone, so their ref locks and quarantine folders
    are debris (``clear_dead_push_state``). Closing the fd releases it once those processes are gone."""
    fd = os.open(git_dir / PUSH_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def clear_dead_push_state(git_dir: Path) -> list[str]:
    """Remove what killed receive-packs left: ref lock files (``refs/heads/main.lock``, after which
    every push failed "failed to update ref") and quarantine folders (``objects/tmp_objdir-incoming-*``).
    Call only while holding ``lock_pushes``: then no receive-pack that could own them is alive.
    Returns what was removed (relative paths), for the log."""
    removed: list[str] = []
    candidates = [p for p in (git_dir / "refs").rglob("*.lock") if p.is_file()]
    candidates += [git_dir / name for name in ("packed-refs.lock", "HEAD.lock") if (git_dir / name).is_file()]
    for path in candidates:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(str(path.relative_to(git_dir)))
    objects = git_dir / "objects"
    with contextlib.suppress(FileNotFoundError):
        for entry in objects.iterdir():
            if entry.name.startswith(_QUARANTINE_PREFIXES) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(str(entry.relative_to(git_dir)))
    if removed:
        log.warning("removed what a killed push left in %s: %s", git_dir.name, ", ".join(sorted(removed)[:20]))
    return removed


def clear_dead_push_state_now(git_dir: Path) -> list[str]:
    """At start: clear a collaboration's push debris if no receive-pack holds its push lock (one
    still running, say under another hub on this root, keeps its files; the next push clears them)."""
    fd = lock_pushes(git_dir, wait=False)
    if fd is None:
        return []
    try:
        return clear_dead_push_state(git_dir)
    finally:
        os.close(fd)


def list_collaborations(root: Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        return []
    names = []
    for entry in sorted(root.iterdir()):
        name = entry.name[: -len(".git")]
        if entry.name.endswith(".git") and is_collaboration_name(name) and (entry / "HEAD").is_file():
            names.append(name)
    return names


def author_check(git_dir: Path) -> bool:
    """Whether pushed fragments must be authored by the pusher (``hitrec.authorCheck``, default on)."""
    out = _git("config", "--file", str(git_dir / "config"), "--type=bool", "--get", "hitrec.authorcheck",
               check=False)
    return out.strip() != "false"


def set_author_check(root: Path, name: str, value: bool) -> None:
    git_dir = collaboration_path(root, name)
    if not (git_dir / "HEAD").is_file():
        raise HubError(f"no collaboration named {name!r}. Create it with `hitrec hub create {name}`.")
    _git("config", "--file", str(git_dir / "config"), "hitrec.authorCheck", "true" if value else "false")


def _git(*args: str, check: bool = True) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise HubError(f"cannot run git ({exc}). Install git: the hub serves with it.") from exc
    if check and done.returncode != 0:
        raise HubError(f"git {args[0]} failed: {done.stderr.strip()}")
    return done.stdout
