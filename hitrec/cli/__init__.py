"""hitrec's command line. The only package that prints; it maps errors to exit codes in one place.

``main`` is the process entry point (the ``hitrec`` console script and ``python -m hitrec``): it installs
the Ctrl-C handling before anything heavy is imported, runs ``hitrec.cli.dispatch.run`` (which registers
the commands and maps errors to exit codes) and exits. Importing this package imports nothing else.
"""

import sys

from hitrec.cli import signals  # first, and builtins only: nothing to load before Ctrl-C is handled

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def main(argv: "list[str] | None" = None) -> "NoReturn":
    """Run one command and exit with its code: 130 and one line for Ctrl-C, whenever it comes."""
    signals.install()
    try:
        from hitrec.cli.dispatch import run

        code = run(argv)
        signals.stop()  # the work is done: a Ctrl-C from here on changes nothing
    except BaseException as exc:  # a Ctrl-C while the CLI loaded, or between the work and stop()
        signals.stop()
        if isinstance(exc, SystemExit):
            raise
        if not signals.interrupted_by(exc):
            raise
        code = signals.report()
    _exit(code)


def _exit(code: int) -> "NoReturn":
    import os

    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away: like git, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = code or 141
    except (OSError, ValueError):
        pass
    if code == signals.INTERRUPTED:
        # CPython 3.11 remembers a KeyboardInterrupt raised inside any exec() of a string (dataclasses and
        # namedtuples build their methods that way) as "unhandled", even once caught, and then kills the
        # process with SIGINT after it finalizes: exit code -2 instead of 130. So an interrupted command
        # runs the exit handlers itself and leaves without finalizing (nothing is lost: files are closed
        # by the code that opened them; the OS releases the rest).
        import atexit
        import contextlib

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    if code:  # a failed command may leave open packs to the collector: let it close them while the
        import gc  # interpreter still works (at shutdown their finalizers cannot even import)

        gc.collect()
    sys.exit(code)
