"""Run one command: register every command module, call the app, map errors to exit codes (the one place).

``run(argv)`` returns the exit code and never exits the process, so tests can call it in-process; the
process entry point ``hitrec.cli.main`` wraps it with the Ctrl-C handling of ``hitrec.cli.signals``.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import typer

from hitrec.cli import cache as _cache  # noqa: F401  (registers commands)
from hitrec.cli import credits as _credits  # noqa: F401
from hitrec.cli import demo as _demo  # noqa: F401
from hitrec.cli import fragments as _fragments  # noqa: F401
from hitrec.cli import hub as _hub  # noqa: F401
from hitrec.cli import preview as _preview  # noqa: F401
from hitrec.cli import render as _render  # noqa: F401
from hitrec.cli import repo as _repo  # noqa: F401
from hitrec.cli import signals
from hitrec.cli import sync as _sync  # noqa: F401
from hitrec.cli import timeline as _timeline  # noqa: F401
from hitrec.cli.app import State, app
from hitrec.cli.output import error
from hitrec.errors import HitrecError

try:  # typer >= 0.20 vendors its own click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException  # type: ignore[assignment]


def run(argv: list[str] | None = None) -> int:
    """Run the app on ``argv`` (default: the process's arguments); a known error is one red line."""
    State.debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = app(args=argv, standalone_mode=False, prog_name="hitrec")
    except BaseException as exc:
        return _exit_code(exc)
    if code == signals.INTERRUPTED:  # typer turns Ctrl-C into Exit(130), returned when not standalone
        return signals.report()
    return code if isinstance(code, int) else 0


def _exit_code(exc: BaseException) -> int:
    if signals.interrupted_by(exc):  # Ctrl-C, or an error raised while it unwound: one short line
        _debug_traceback(exc)
        return signals.report()
    if isinstance(exc, HitrecError):
        _debug_traceback(exc)
        error(str(exc))
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        return signals.report()
    if isinstance(exc, ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, sqlite3.Error):  # the store translates its own; this is the net for any other
        _debug_traceback(exc)
        error(f"the repo index failed ({exc}); run `hitrec fsck` to rebuild it")
        return 1
    if isinstance(exc, BrokenPipeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    if isinstance(exc, OSError):  # a full disk, a permission problem: one readable line
        _debug_traceback(exc)
        error(_full_disk(exc) or f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}")
        return 1
    raise exc


def _debug_traceback(exc: BaseException) -> None:
    if State.debug:
        import traceback

        traceback.print_exception(exc)


def _full_disk(exc: OSError) -> str | None:
    """What to tell about a full disk: where (the folder the writer named: the media store, the object
    writer, init) and what to do. A write that named nothing is not guessed at."""
    import errno

    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    if exc.filename:
        return f"the disk is full: no space left for {exc.filename}; free some space there and run the command again"
    return f"the disk is full ({exc.strerror}); free some space and run the command again"
