"""Making writes durable: fsync a folder (so a rename in it survives a crash), sync a whole file system."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a new or renamed file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    try:
        import ctypes

        syncfs: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
        return syncfs
    except (OSError, AttributeError):  # not Linux
        return None


def sync_filesystem(folder: Path) -> None:
    """Flush the file system holding ``folder``: syncfs(2) on Linux, sync(2) where that is missing.
    One call makes a whole batch of writes durable, instead of an fsync per file."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})  # a full disk, a quota, a file-size limit


@contextlib.contextmanager
def naming_full_disk(folder: Path) -> Iterator[None]:
    """A write that finds the disk full (``os.write`` says no more than "No space left on device") is
    re-raised as the same OSError naming ``folder``, so the one line a user reads says what is full."""
    try:
        yield
    except OSError as exc:
        if exc.errno in FULL and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(folder)) from exc
        raise
