"""Ctrl-C for the whole process: one line on stderr and exit 130, at any moment of a command.

The entry point (``hitrec.cli.main``) calls :func:`install` before it imports anything heavy, so an
interrupt while typer and the command modules load is caught like any other. The first SIGINT raises
KeyboardInterrupt; more within ``GRACE`` seconds are ignored, so the cleanup the first one set off
(finally blocks: temp files, locks, open packs) runs to the end. Once the work is done, :func:`stop`
ignores SIGINT for the rest of the process: Python restores the default action of a Python-level
handler while it shuts down, so without this a Ctrl-C in the last milliseconds killed the process with
no line. An error raised while an interrupt unwinds (dulwich's ``BufferError`` when a pack mapping is
closed under a live view) is still the interrupt: see :func:`interrupted_by`.

Builtin modules only (no module file to load): a Ctrl-C before :func:`install` gets Python's traceback,
so the path to it is kept as short as it can be.
"""

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from types import FrameType
else:
    import _signal  # the C module: `signal` itself takes a millisecond to import (its enums)

INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
GRACE = 2.0  # seconds after the first Ctrl-C during which more are ignored

_first: float | None = None
_done = False
_reported = False


def _on_sigint(signum: int, frame: "FrameType | None") -> None:
    global _first
    if _done:
        return
    now = time.monotonic()
    if _first is not None and now - _first < GRACE:
        return  # already unwinding from the first one: let its cleanup finish
    _first = now
    raise KeyboardInterrupt


def _on_unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    """A Ctrl-C that landed where Python ignores exceptions (a weakref callback such as importlib's module
    lock, a ``__del__``) printed "Exception ignored" and was lost: the command ran on to exit 0. Deliver
    it again a millisecond later, back in ordinary code (SIGALRM, so SIGINT's grace is not involved)."""
    global _first
    if not isinstance(unraisable.exc_value, KeyboardInterrupt) or _done:
        _previous_unraisable(unraisable)
        return
    _first = None  # not handled yet: the next delivery must raise
    try:
        _signal.signal(_signal.SIGALRM, _on_sigint)
        _signal.setitimer(_signal.ITIMER_REAL, 0.001)
    except (ValueError, OSError):  # not the main thread: nothing better to do than say so
        _previous_unraisable(unraisable)


_previous_unraisable = sys.unraisablehook


def install() -> None:
    """Handle Ctrl-C from now on (main thread only; an inherited SIG_IGN, as for `cmd &`, is kept)."""
    global _first, _done, _reported
    _first, _done, _reported = None, False, False
    try:
        if _signal.getsignal(_signal.SIGINT) != _signal.SIG_IGN:
            _signal.signal(_signal.SIGINT, _on_sigint)
            sys.unraisablehook = _on_unraisable
    except ValueError:  # not the main thread: leave signals to whoever owns it
        pass


def stop() -> None:
    """The work is done (or given up): ignore Ctrl-C until the process has exited."""
    global _done
    _done = True
    try:
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        _signal.setitimer(_signal.ITIMER_REAL, 0)  # a re-delivery still pending (see _on_unraisable)
    except (ValueError, OSError):
        pass


def interrupted_by(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C, or an error raised while one unwound (in its cause or context chain)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def report() -> int:
    """Say it was interrupted, once per process; returns the exit code."""
    global _reported
    if not _reported:
        _reported = True
        try:
            sys.stderr.write("interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed: nothing else to tell
            pass
    return INTERRUPTED


def reported() -> bool:
    return _reported
