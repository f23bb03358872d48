"""The ffmpeg binary hitrec uses (the static build imageio-ffmpeg ships; it has no ffprobe), and starting it
so that it never outlives hitrec.

On Linux every ffmpeg hitrec starts asks the kernel for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, set between fork and exec), so a killed render or remix does not leave
ffmpeg rendering to the end. The kernel sends that signal when the *thread* that forked exits, so the
setting is made only when ffmpeg is started from the main thread (which lives as long as the process);
from another thread ffmpeg starts without it, unless the caller says it *waits* for the child in the
thread that starts it (``waited=True``): that thread cannot end before the child does, except with the
whole process, which is exactly when the child should die. Such a waited child can also be given a CPU
time limit (``RLIMIT_CPU``) and a lower priority (``nice``), for work a server does in the background.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from hitrec.errors import RenderError

PR_SET_PDEATHSIG = 1
ENOSPC_EXIT = 228  # ffmpeg exits with AVERROR(ENOSPC) & 0xff when a write finds the disk full
EFBIG_EXIT = 229  # AVERROR(EFBIG) & 0xff: a write beyond the file size limit


@functools.cache
def ffmpeg_exe() -> str:
    """Path of ffmpeg: $HITREC_FFMPEG, else imageio-ffmpeg's bundled binary, else one on PATH."""
    override = os.environ.get("HITREC_FFMPEG")
    if override:
        return override
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg raises RuntimeError when its binary is missing
        found = shutil.which("ffmpeg")
        if found:
            return found
        raise RenderError(
            "no ffmpeg found: reinstall hitrec (`pip install .`) so imageio-ffmpeg brings its binary"
        ) from exc


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up once in the parent (never between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent(*, waited: bool = False, cpu_seconds: int | None = None,
                    nice: int = 0) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies; None where that is not
    possible (not Linux, or not the main thread: the signal follows the forking thread's death) and
    nothing else is asked. ``waited``: the calling thread waits for the child (see the module's
    docstring), so any thread may ask. ``cpu_seconds``: the child is killed after that much CPU time.
    ``nice``: added to the child's nice value.

    The function runs in the child between fork and exec: it only calls the already-resolved ``prctl``,
    ``getppid``, ``setrlimit`` and ``nice`` (no imports, no locks), which is what makes it safe beside
    other threads."""
    prctl = _prctl()
    if not waited and threading.current_thread() is not threading.main_thread():
        prctl = None
    if prctl is None and cpu_seconds is None and not nice:
        return None
    parent = os.getpid()
    kill = int(signal.SIGKILL)
    cpu = (cpu_seconds, cpu_seconds + 1) if cpu_seconds is not None else None  # soft: SIGXCPU, hard: KILL

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), kill)
        if cpu is not None:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would otherwise dump core
            resource.setrlimit(resource.RLIMIT_CPU, cpu)
        if nice:
            os.nice(nice)

    return preexec


def popen(cmd: Sequence[str], *, waited: bool = False, cpu_seconds: int | None = None, nice: int = 0,
          **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` for ffmpeg (or any helper of a render): dies with hitrec on Linux. With
    ``waited`` (the caller waits for it in this thread), also when started from another thread; the
    other options as for :func:`die_with_parent`."""
    preexec = die_with_parent(waited=waited, cpu_seconds=cpu_seconds, nice=nice)
    return subprocess.Popen(list(cmd), preexec_fn=preexec, **kwargs)


def run(cmd: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` with :func:`popen`'s parent-death signal."""
    return subprocess.run(list(cmd), preexec_fn=die_with_parent(), **kwargs)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a helper started with ``process_group=0`` and whatever it started, then reap it."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.kill()
    proc.communicate()
