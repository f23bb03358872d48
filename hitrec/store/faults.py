"""Fault injection for the crash tests: ``HITREC_CRASH_AT=<name>`` kills the process at that point.

Points: ``media-temp`` (a media temp file was just created), ``media-stored``, ``objects-written``,
``ref-updated`` (hitrec.store.writer).
"""

from __future__ import annotations

import os


def crash_point(name: str) -> None:
    """SIGKILL this process right here when HITREC_CRASH_AT names this point."""
    if os.environ.get("HITREC_CRASH_AT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
