"""Git lock files left by killed writers: ``refs/heads/main.lock``, ``refs/remotes/<r>/main.lock``,
``packed-refs.lock``, a loose object's ``.lock``.

git and dulwich take a lock by creating ``<file>.lock`` (O_EXCL) and keep it open while they write; a
writer killed with SIGKILL leaves it behind, and every later update of that file fails. A lock file that
no process holds open is a dead writer's, whatever its age: removed. One that a process holds open is a
live writer's: waited for a moment, then reported with the process that holds it. (Where /proc cannot
tell, only a lock file older than ``UNKNOWN_AGE`` is taken for a dead writer's.)

The same goes for the temp packs a killed ``git fetch`` (index-pack), dulwich or hitrec's own pack writer
leaves in ``objects/pack/`` (``tmp_pack_*``, ``tmp_idx_*``, dulwich's ``tmp*.pack``), in ``objects/``
(dulwich's ``tmp_pack_*``) and in ``objects/ab/`` (git's ``tmp_obj_*``): each writer keeps its temp file
open while it writes, so one that no process holds open is debris (``clear_dead_pack_temps``).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from hitrec.errors import LockTimeoutError

UNKNOWN_AGE = 600.0
LIVE_WAIT = 5.0  # seconds a live writer's lock file is given to go before it is reported
_TOP_LEVEL = ("HEAD.lock", "packed-refs.lock", "config.lock", "shallow.lock", "FETCH_HEAD.lock")


def ref_lock_files(git_dir: Path) -> list[Path]:
    """Lock files of refs and of the repo's top-level files (cheap: the refs tree is small)."""
    found = [git_dir / name for name in _TOP_LEVEL if (git_dir / name).exists()]
    for folder, _, names in os.walk(git_dir / "refs"):
        found.extend(Path(folder) / name for name in names if name.endswith(".lock"))
    return found


def holders(paths: list[Path]) -> dict[Path, int] | None:
    """Which of ``paths`` some process holds open, and its pid; None where /proc cannot tell."""
    wanted = {os.path.realpath(p): p for p in paths}
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    held: dict[Path, int] = {}
    for pid in pids:
        folder = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(folder)
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                target = os.readlink(f"{folder}/{fd}")
            except OSError:
                continue
            if target in wanted:
                held[wanted[target]] = int(pid)
    return held


def remove_dead(paths: list[Path], *, wait: float | None = None) -> list[Path]:
    """Remove the lock files among ``paths`` that no live writer holds. A held one is waited for up to
    ``wait`` seconds (``LIVE_WAIT``: a writer finishing), then LockTimeoutError names it and its process."""
    removed: list[Path] = []
    deadline = time.monotonic() + (LIVE_WAIT if wait is None else wait)
    pending = [p for p in paths if p.exists()]
    while pending:
        held = holders(pending)
        removed += _remove_unheld(pending, held)
        pending = [p for p in pending if p.exists()]
        if not pending:
            break
        if time.monotonic() > deadline:
            path = pending[0]
            who = f"process {held[path]}" if held and path in held else "another process"
            raise LockTimeoutError(f"{who} is writing {path} (its lock file); wait for it to finish and try "
                                   "again, or end that process")
        time.sleep(0.05)
    return removed


def clear_stale_locks(git_dir: Path) -> list[Path]:
    """Remove the ref lock files of dead writers in ``git_dir`` (callers hold the repo lock)."""
    found = ref_lock_files(git_dir)
    return remove_dead(found) if found else []


def pack_temp_files(git_dir: Path) -> list[Path]:
    """Temp packs, pack indexes and loose objects being written, or left by killed or failed writers
    (git's ``objects/ab/tmp_obj_*`` stays when ``unpack-objects`` finds the disk full)."""
    objects = git_dir / "objects"
    found: list[Path] = []
    try:
        entries = list(os.scandir(objects))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith("tmp_pack_"):
            found.append(Path(entry.path))
        elif name == "pack" or (len(name) == 2 and entry.is_dir(follow_symlinks=False)):
            prefix = "tmp" if name == "pack" else "tmp_obj_"
            with contextlib.suppress(OSError), os.scandir(entry.path) as inner:
                found.extend(Path(e.path) for e in inner if e.name.startswith(prefix))
    return sorted(p for p in found if p.is_file())


def clear_dead_pack_temps(git_dir: Path) -> list[Path]:
    """Remove the temp packs of writers that died (callers hold the repo lock); a live writer's stay."""
    found = pack_temp_files(git_dir)
    return _remove_unheld(found, holders(found)) if found else []


def _remove_unheld(paths: list[Path], held: dict[Path, int] | None) -> list[Path]:
    """Remove the files among ``paths`` no process holds (``held``; None: who holds what is unknown, so
    only files older than ``UNKNOWN_AGE`` go). Returns what was removed."""
    removed = []
    for path in paths:
        if held is None:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime < UNKNOWN_AGE:
                    continue
        elif path in held:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
