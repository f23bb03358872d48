"""push / pull / clone over git smart HTTP (commits) and the Git LFS batch API (media).

    remotes.py      remotes in the repo's git config; credentials stripped from URLs
    credentials.py  ~/.config/hitrec/credentials (0600); HITREC_TOKEN
    git.py          ref listing (httpx) and packs (the git binary, credentials via the environment)
    lfs.py          the LFS batch client: set differences, streamed and verified transfers
    ops.py          push(), pull(), clone(): one function each, returning a result
"""

from __future__ import annotations

import sys


def _import_httpcore_without_trio() -> None:
    """httpcore imports trio when it is installed (~100 ms) only to support async code under trio. hitrec's
    client is synchronous, so trio is hidden while httpcore loads; it stays importable afterwards."""
    if "httpcore" in sys.modules or "trio" in sys.modules:
        return
    sys.modules["trio"] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
    except ImportError:  # httpx reports a missing httpcore itself
        pass
    finally:
        del sys.modules["trio"]


_import_httpcore_without_trio()
