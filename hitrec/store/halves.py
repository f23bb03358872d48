"""Work over many fragments on two CPUs: the second half in a forked child.

Why: a metadata-only clone of 10,000 fragments spends about 0.75 s of one CPU checking the fetched
records and making their index rows, all in Python (bench/sync_no_media.py). The GIL keeps threads from
sharing that, and a spawned process would spend more on starting and importing than it saves; a fork
shares everything already read (the batched objects of ``Repo.preload_fragments``) for nothing.
Measured on a quiet 2-CPU machine: 0.49-0.52 s for the two halves against 0.71-0.77 s in one process.

Only where it is safe and pays: ``os.fork`` exists, this process may run on two CPUs, no other thread
is alive (a fork beside threads can deadlock in the child, and Python 3.12+ warns about it), and there
are at least ``MIN_ITEMS`` items. The child gets SIGKILL when the parent dies, sends back its pickled
results (plain tuples) or the message of a CorruptRepoError, and leaves through ``os._exit`` (nothing of
the parent's open files, connections or buffered output is closed or flushed twice). Anything else
(an error of another kind, a signal, a short answer) makes the parent do that half itself, so that the
parent's own error says what went wrong. A parent interrupted (Ctrl-C) or failing kills the child.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from hitrec.errors import CorruptRepoError

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 1000  # below this a fork (a few ms for a process of ~100 MB) saves too little


def map_in_halves(work: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> list[R]:
    """``work(items)``, the second half computed in a forked child where that is safe and pays. The
    results must pickle; ``work`` may read (start git, say) but must not write files or print (the child's
    output is thrown away)."""
    if not _can_fork(len(items)):
        return work(items)
    from hitrec.media.ffmpeg import die_with_parent  # the same SIGKILL-on-parent-death as ffmpeg's

    half = len(items) // 2
    first, second = items[:half], items[half:]
    bind = die_with_parent(waited=True)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no room for another process: one does it all
        os.close(read_end)
        os.close(write_end)
        return work(items)
    if pid == 0:  # the child: compute, send, leave without running the parent's cleanups
        status = 1
        try:
            os.close(read_end)
            if bind is not None:
                bind()
            try:
                answer: tuple[str, object] = ("ok", work(second))
            except CorruptRepoError as exc:
                answer = ("corrupt", str(exc))
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        except BaseException:  # anything at all: the parent does this half itself
            pass
        finally:
            os._exit(status)
    os.close(write_end)
    reaped = False
    try:
        mine = work(first)
        with os.fdopen(read_end, "rb") as source:
            read_end = -1
            data = source.read()
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        if read_end >= 0:
            os.close(read_end)
        if not reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    kind, value = _answer(data) if status == 0 else ("", None)
    if kind == "ok":
        return mine + value  # type: ignore[operator]
    if kind == "corrupt":
        raise CorruptRepoError(str(value))
    return mine + work(second)


def _answer(data: bytes) -> tuple[str, object]:
    try:
        kind, value = pickle.loads(data)  # our own child's bytes, through our own pipe
    except Exception:  # a short or damaged answer: the parent does the half
        return "", None
    return str(kind), value


def _can_fork(count: int) -> bool:
    if count < MIN_ITEMS or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus >= 2
