"""The writer lock: one writer at a time per repo; readers never take it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hitrec.errors import LockTimeoutError


@contextmanager
def write_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``. The kernel drops it if the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeoutError(
                        f"another hitrec process has held {path} for over {timeout:.0f} s; "
                        "wait for it to finish and try again"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)
