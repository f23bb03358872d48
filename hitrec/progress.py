"""The progress callback core code is given (only the CLI draws it; see hitrec.cli.output.Progress).

Called as ``progress(advance)`` with bytes or items done since the last call, and once as
``progress(0, total=N)`` when the total becomes known; core code never prints.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[..., None]
