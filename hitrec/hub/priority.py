"""Git and LFS traffic first: while any is in flight, the gallery's requests get a bounded share.

The hub serves pushes, pulls and the gallery's pages from one event loop. A page costs the loop (and
the gallery's worker thread, which shares the interpreter lock with it) a few milliseconds; sixteen
browsers asking for pages as fast as they are answered would take most of the process's time, and a
1 GiB push beside them would crawl. So while at least one git or LFS request is being answered (and for
a second after, which covers the gaps between the requests of one push or pull), each gallery request
is admitted only after a gap: the recent cost of a gallery request (its wall time,
smoothed, capped) times ``(1 - share) / share``, so the gallery's requests take about ``share`` (10%) of
the time and the transfers the rest. With no transfer in flight, pages are admitted at once, unmetered.

Pages get slower only while transfers run; the transfers never wait for pages. Only admission is
metered (one request at a time enters; a long media stream, once admitted, runs on beside the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

SHARE = 0.10  # of the hub's time the gallery may take while transfers are in flight
MIN_GAP = 0.006  # seconds between two gallery admissions during transfers, at least: a page served
# from memory costs the hub about 1 ms outside the metered span too (parsing, sending, the log line)
MAX_GAP = 0.1  # and at most (a slow page must not stop the gallery)
COST_CAP = 0.05  # a request's cost counts up to this (a media stream is long, not costly)
SMOOTHING = 0.2  # weight of the newest cost in the running estimate
LINGER = 1.0  # seconds the meter stays on after the last transfer ended
FIRST_COST = 0.005  # the estimate before any request was measured: a page's usual cost


class Priority:
    """Counts the git and LFS requests in flight and meters gallery admissions while there are any."""

    def __init__(self, share: float = SHARE) -> None:
        if not 0 < share < 1:
            raise ValueError("share must be between 0 and 1")
        self.share = share
        self.transfers = 0
        self.cost = FIRST_COST  # the running estimate of a gallery request's cost
        self.metered = 0  # gallery requests that waited for a transfer (for the hub's log and tests)
        self._next = 0.0  # monotonic time the next gallery request may enter during transfers
        self._turn: asyncio.Lock | None = None
        self._last = float("-inf")  # monotonic time the last transfer ended

    @contextlib.contextmanager
    def transfer(self) -> Iterator[None]:
        """Around a git or LFS request."""
        self.transfers += 1
        try:
            yield
        finally:
            self.transfers -= 1
            self._last = time.monotonic()

    def busy(self) -> bool:
        """Whether transfers are in flight, or were a moment ago (LINGER: the gaps between the requests
        of one push or pull: batch, upload, verify, receive-pack)."""
        return bool(self.transfers) or time.monotonic() - self._last < LINGER

    def gap(self) -> float:
        return min(MAX_GAP, max(MIN_GAP, self.cost * (1 - self.share) / self.share))

    @contextlib.asynccontextmanager
    async def gallery(self) -> AsyncIterator[None]:
        """Around a gallery request: admitted at once unless transfers are in flight."""
        if self.busy():
            if self._turn is None:
                self._turn = asyncio.Lock()
            async with self._turn:  # one admission at a time, in arrival order
                wait = self._next - time.monotonic()
                if wait > 0 and self.busy():
                    self.metered += 1
                    await asyncio.sleep(wait)
                self._next = time.monotonic() + self.gap()
        started = time.monotonic()
        try:
            yield
        finally:
            spent = min(COST_CAP, time.monotonic() - started)
            self.cost += SMOOTHING * (spent - self.cost)
