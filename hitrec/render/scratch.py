"""Scratch space of a render that a killed hitrec cannot leave behind for good.

A render writes into two kinds of scratch: folders in ``$TMPDIR`` (``hitrec-render-*``, ``hitrec-remix-*``,
``hitrec-verify-*``, ``hitrec-moviepy-*``: ffmpeg's work files, a remix's media before it is recorded;
``hitrec-timeline-*``: a timeline export's adapter output) and
a ``.<name>.<random>.hitrec.part`` file beside the output, renamed into place when the engine finishes.
Each is held under an exclusive ``flock`` for as long as its writer lives (the kernel drops the lock
when the process dies, SIGKILL included), so the next render or remix tells a dead writer's leftovers
(lock free: removed) from a live writer's (lock held: left alone), whatever their age. A writer that
took its lock checks its file is still the one at its path: a sweeper may have removed it in the
instant between creating and locking, and then the writer makes another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hitrec.errors import RenderError, UsageError

DIR_KINDS = ("render", "remix", "verify", "moviepy", "timeline")
PART_SUFFIX = ".hitrec.part"
_ATTEMPTS = 5


def _lock_fresh(path: Path, fd: int) -> bool:
    """Lock ``fd`` (the object just made at ``path``); False if a sweeper removed it meanwhile."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def scratch_dir(kind: str) -> Iterator[Path]:
    """A fresh folder ``$TMPDIR/hitrec-<kind>-*``, locked while in use, removed afterwards."""
    assert kind in DIR_KINDS
    sweep_tmp()
    for _ in range(_ATTEMPTS):
        try:
            path = Path(tempfile.mkdtemp(prefix=f"hitrec-{kind}-"))
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:  # another render's sweep took it before it was opened: make another
                continue
        except OSError as exc:
            raise RenderError(f"cannot make a scratch folder in {tempfile.gettempdir()} ($TMPDIR): "
                               f"{exc.strerror}; free space there or set TMPDIR to another folder") from exc
        if _lock_fresh(path, fd):
            break
        os.close(fd)
    else:  # pragma: no cover - five sweeps in a row between mkdtemp and flock
        raise RenderError(f"cannot hold a scratch folder in {tempfile.gettempdir()}")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


@contextlib.contextmanager
def part_file(out: Path) -> Iterator[Path]:
    """A locked ``.<name>.*.hitrec.part`` file beside ``out`` for an engine to write; removed on exit
    unless it was renamed into place (the lock goes with the file and is dropped on exit)."""
    sweep_parts(out.parent)
    for _ in range(_ATTEMPTS):
        try:
            fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=PART_SUFFIX, dir=out.parent)
        except OSError as exc:
            raise UsageError(f"cannot write into {out.parent}: {exc.strerror}") from exc
        tmp = Path(name)
        if _lock_fresh(tmp, fd):
            break
        os.close(fd)
    else:  # pragma: no cover
        raise RenderError(f"cannot hold a temporary file in {out.parent}")
    try:
        yield tmp
    finally:
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                tmp.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


def _try_remove(path: str, *, folder: bool) -> bool:
    """Remove ``path`` if no live writer holds its lock; True if removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if folder else 0))
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its writer is alive
            return False
        if folder:
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return True
    finally:
        os.close(fd)


def sweep_tmp(folder: Path | None = None) -> int:
    """Remove dead renders' scratch folders from ``folder`` (default ``$TMPDIR``); how many went."""
    folder = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    prefixes = tuple(f"hitrec-{kind}-" for kind in DIR_KINDS)
    removed = 0
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.startswith(prefixes) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    for name in names:
        removed += _try_remove(os.path.join(folder, name), folder=True)
    return removed


def sweep_parts(folder: Path) -> int:
    """Remove dead renders' ``.*.hitrec.part`` files from an output folder; how many went."""
    removed = 0
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.startswith(".") and e.name.endswith(PART_SUFFIX)
                     and e.is_file(follow_symlinks=False)]
    except OSError:
        return 0
    for name in names:
        removed += _try_remove(os.path.join(folder, name), folder=False)
    return removed
