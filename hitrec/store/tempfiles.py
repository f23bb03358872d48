"""Temp files that say whether their writer is alive: each is held under an ``flock`` while it is written.

A writer killed with SIGKILL cannot remove its temp file, but the kernel drops its lock with its last
descriptor, so a sweeper can tell exactly, whatever the file's age and across pid reuse, which temp files
are debris (lockable) and which are being written (locked). The sweeper unlinks a file while holding its
lock; a writer that created a file and then finds it unlinked once it holds the lock (the sweeper got
there between its ``open`` and its ``flock``) simply starts another one.

Descriptors are close-on-exec (Python's default), so a child such as ffmpeg never keeps a lock alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_counter = itertools.count()
_TOKEN = secrets.token_hex(4)


@dataclass
class TempFile:
    """A temp file open for writing as ``fd``, locked by this process until ``fd`` is closed."""

    path: Path
    fd: int

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        """Close and remove (after a failure, or once its bytes are somewhere else)."""
        with contextlib.suppress(OSError):
            self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> TempFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """Closed when the block ends (after the block renamed it into place); discarded on an error."""
        if exc_type is None:
            self.close()
        else:
            self.discard()


def create(folder: Path, prefix: str, *, mode: int = 0o444, direct: bool = False) -> TempFile | None:
    """A new, locked temp file in ``folder`` (which must exist). With ``direct``, opened with O_DIRECT;
    None when the file system refuses that (the caller then asks again without it)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    if direct:
        flag = getattr(os, "O_DIRECT", 0)
        if not flag:
            return None
        flags |= flag
    while True:
        path = folder / f"{prefix}-{os.getpid()}-{_TOKEN}-{next(_counter)}"
        try:
            fd = os.open(path, flags, mode)
        except OSError:
            if direct:  # refused (EINVAL on tmpfs); the ordinary open reports any other trouble
                path.unlink(missing_ok=True)
                return None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits only while a sweeper is removing this very file
            if os.fstat(fd).st_nlink:
                return TempFile(path, fd)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        os.close(fd)  # a sweeper took it for a dead writer's before we locked it: try another name


def is_live(path: Path) -> bool:
    """Whether some process holds ``path``'s lock (a writer is still writing it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def sweep(folder: Path) -> int:
    """Remove every file in ``folder`` whose writer is gone; a live writer's files stay. Returns how many
    were removed."""
    removed = 0
    for path in _files(folder):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone already, or not ours to open
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # under the lock: see the module's docstring
                removed += 1
        finally:
            os.close(fd)
    return removed


def _files(folder: Path) -> Iterator[Path]:
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                yield Path(entry.path)
