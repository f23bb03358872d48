"""hitrec's command line. The only package that prints; it maps errors to exit codes in one place."""

from __future__ import annotations

import sqlite3
import sys

from hitrec.cli import credits as _credits  # noqa: F401  (registers commands)
from hitrec.cli import demo as _demo  # noqa: F401
from hitrec.cli import fragments as _fragments  # noqa: F401
from hitrec.cli import hub as _hub  # noqa: F401
from hitrec.cli import render as _render  # noqa: F401
from hitrec.cli import repo as _repo  # noqa: F401
from hitrec.cli import sync as _sync  # noqa: F401
from hitrec.cli.app import State, app
from hitrec.cli.output import error
from hitrec.errors import HitrecError


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning known errors into one red line and an exit code."""
    import typer

    try:  # typer >= 0.20 vendors its own click
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click.exceptions import ClickException

    State.debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = app(args=argv, standalone_mode=False, prog_name="hitrec")
        if code == 130:  # typer turns Ctrl-C into Exit(130), returned when not standalone
            sys.stderr.write("interrupted\n")
        if isinstance(code, int) and code:
            sys.exit(code)
    except HitrecError as exc:
        if State.debug:
            import traceback

            traceback.print_exc()
        error(str(exc))
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C: one short line, no traceback
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except sqlite3.Error as exc:  # the index is a cache; fsck rebuilds it
        error(f"the repo index failed ({exc}); run `hitrec fsck` to rebuild it")
        sys.exit(1)
    except BrokenPipeError:
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except OSError as exc:  # a full disk, a permission problem: one readable line
        if State.debug:
            import traceback

            traceback.print_exc()
        error(f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}")
        sys.exit(1)
