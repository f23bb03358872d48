"""Several hub processes on one listening socket: ``hitrec hub serve --workers N``.

The supervisor (the process the user started) binds the socket and builds the app (so start-up sweeps
run once and a bad root fails before anything forks), then forks N workers. Each worker inherits the
socket and runs its own uvicorn server on it, with the hub's own HTTP protocol; the kernel hands each
new connection to one worker that is waiting in accept. The supervisor itself only waits for signals:

- a worker that dies (a crash, the OOM killer, a stray SIGKILL) is replaced at once; one that dies
  within ``_QUICK`` seconds of its start is replaced after a pause that doubles up to ``_MAX_PAUSE``,
  so a worker that cannot start does not become a fork loop;
- SIGTERM or SIGINT: every worker gets SIGTERM (uvicorn finishes the requests in flight, up to its
  graceful timeout), a worker still alive after ``grace`` seconds gets SIGKILL, all are reaped, and the
  supervisor returns; nothing outlives it;
- if the supervisor itself is SIGKILLed, each worker gets SIGTERM from the kernel (PR_SET_PDEATHSIG).

What the workers share is only the root on disk, as separate hub processes do: pushes are serialised by
the collaboration's push flock, users.json and the action key are files every process re-reads
(docs/scale.md lists it all).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("hitrec.hub")

_STOP = (signal.SIGTERM, signal.SIGINT)
_WATCHED = {*_STOP, signal.SIGCHLD}
_QUICK = 2.0  # a worker that dies this soon after its start is "crashing at start"
_FIRST_PAUSE = 0.5
_MAX_PAUSE = 10.0
_PR_SET_PDEATHSIG = 1


@dataclass
class _Pool:
    run_worker: Callable[[], None]
    size: int
    old_mask: set[int | signal.Signals]
    started: dict[int, float] = field(default_factory=dict)  # pid -> monotonic start
    pause: float = 0.0  # before the next replacement (after quick deaths)
    due: float = 0.0  # when the missing workers may be started again

    def spawn(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            _run_child(self.run_worker, self.old_mask, parent)
        self.started[pid] = time.monotonic()

    def fill(self) -> None:
        while len(self.started) < self.size and time.monotonic() >= self.due:
            self.spawn()

    def reap(self) -> None:
        """Collect dead workers, and decide when to replace them."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            began = self.started.pop(pid, None)
            if began is None:
                continue
            lived = time.monotonic() - began
            log.warning("hub worker %d %s after %.1f s; starting another", pid, _how(status), lived)
            if lived < _QUICK:
                self.pause = min(_MAX_PAUSE, self.pause * 2 if self.pause else _FIRST_PAUSE)
                self.due = time.monotonic() + self.pause
            else:
                self.pause = 0.0

    def stop(self, grace: float) -> None:
        for pid in list(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.started and time.monotonic() < deadline:
            self._collect()
            if self.started:
                signal.sigtimedwait({signal.SIGCHLD}, min(0.2, max(0.0, deadline - time.monotonic())))
        for pid in list(self.started):
            log.warning("hub worker %d did not stop within %.0f s: killed", pid, grace)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while self.started:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.started.pop(pid, None)

    def _collect(self) -> None:
        while self.started:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.started.clear()
                return
            if pid == 0:
                return
            self.started.pop(pid, None)


def supervise(run_worker: Callable[[], None], count: int, *, on_ready: Callable[[], None] | None = None,
              grace: float = 10.0) -> None:
    """Run ``run_worker`` in ``count`` forked processes until SIGTERM or SIGINT (see the module doc).
    ``on_ready`` is called once, after the first workers were started."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    pool = _Pool(run_worker, count, old_mask)
    try:
        pool.fill()
        log.info("hub supervisor %d started %d workers: %s", os.getpid(), count,
                 " ".join(map(str, sorted(pool.started))))
        if on_ready is not None:
            on_ready()
        while True:
            wait = max(0.05, pool.due - time.monotonic()) if len(pool.started) < count else None
            info = signal.sigtimedwait(_WATCHED, wait) if wait is not None else signal.sigwaitinfo(_WATCHED)
            if info is not None and info.si_signo in _STOP:
                log.info("hub supervisor: %s, stopping %d workers", signal.Signals(info.si_signo).name,
                         len(pool.started))
                break
            pool.reap()
            pool.fill()
    finally:
        pool.stop(grace)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _run_child(run_worker: Callable[[], None], old_mask: set[int | signal.Signals], parent: int) -> None:
    code = 0
    try:
        _die_with_parent()
        if os.getppid() != parent:  # the supervisor died between fork and prctl
            os._exit(0)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        run_worker()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        log.exception("hub worker %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)  # never run the supervisor's own clean-up (atexit, the CLI's finally blocks)


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when the supervisor dies (a no-op elsewhere)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with {os.waitstatus_to_exitcode(status)}"
