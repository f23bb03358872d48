"""Reading a large media file for a download: O_DIRECT reads into reused buffers, several in flight.

Measured here (bench/sync_big.py and the notes in docs/benchmarks.md): a file freshly uploaded to the
hub was written with O_DIRECT, so a download reads it from the disk. Read the ordinary way, every block
needs new page-cache pages, and on these VMs memory the kernel has lately given back to the host is
slow to touch again (the balloon's free-page reporting): a buffered read of such a file ran at 385-490
MB/s with 2-2.7 s of system time per GiB. O_DIRECT reads land in the same few buffers again and again
(1.0-1.25 GB/s, 0.2-0.5 s), and a few reads in flight keep the disk busy while a block is being sent.
Where the file system refuses O_DIRECT (tmpfs) the reads are ordinary ones, into the same buffers.
"""

from __future__ import annotations

import asyncio
import collections
import mmap
from collections.abc import AsyncGenerator
from typing import Any

from hitrec.store import direct

BLOCK = direct.BUFFER  # one read; a multiple of every O_DIRECT alignment
READS_IN_FLIGHT = 4
_POOL_KEEP = 16  # buffers kept for the next download (64 MiB at most)


class _BufferPool:
    """Page-aligned buffers reused across downloads (only the event loop takes and gives them)."""

    def __init__(self) -> None:
        self._free: list[mmap.mmap] = []

    def take(self) -> mmap.mmap:
        return self._free.pop() if self._free else mmap.mmap(-1, BLOCK)

    def give(self, buffer: mmap.mmap) -> None:
        if len(self._free) < _POOL_KEEP:
            self._free.append(buffer)
        else:
            buffer.close()


_pool = _BufferPool()


async def settled(futures: list[asyncio.Future[Any]]) -> None:
    """Wait until every one of ``futures`` is done, through a cancellation too (raised again after):
    they run on threads that still use a file descriptor and buffers, which must not be closed or
    reused under them."""
    pending = [future for future in futures if not future.done()]
    cancelled = False
    while pending:
        try:
            await asyncio.wait(pending)  # never cancels what it waits for
        except asyncio.CancelledError:
            cancelled = True
        pending = [future for future in pending if not future.done()]
    if cancelled:
        raise asyncio.CancelledError


async def read_blocks(fd: int, start: int, end: int) -> AsyncGenerator[bytes, None]:
    """Yield the bytes of the file open as ``fd`` (left open, switched to O_DIRECT) from ``start`` to
    ``end`` in order, reading ahead on threads."""
    direct.try_direct(fd)
    pending: collections.deque[tuple[mmap.mmap, int, int, asyncio.Future[None]]] = collections.deque()
    offset = start - start % direct.ALIGN  # O_DIRECT reads start on an aligned offset

    def read_next() -> None:
        nonlocal offset
        skip = max(start - offset, 0)
        want = min(BLOCK, end - offset) - skip
        buffer = _pool.take()
        read = asyncio.to_thread(direct.read_exactly, fd, buffer, offset, skip + want)
        pending.append((buffer, skip, want, asyncio.ensure_future(read)))
        offset += BLOCK

    try:
        while offset < end and len(pending) < READS_IN_FLIGHT:
            read_next()
        while pending:
            buffer, skip, want, read = pending[0]
            await asyncio.shield(read)  # a cancelled download must not cancel the read under the buffer
            pending.popleft()
            # A copy, so the buffer can be reused while the bytes wait in the socket's send queue; made
            # here on the event loop, so big blocks come from one heap (not one per worker thread).
            data = buffer[skip:skip + want]
            _pool.give(buffer)
            if offset < end:
                read_next()
            yield data
    finally:
        try:  # the client went away: let the reads finish before the buffers and the file are reused
            await settled([read for _, _, _, read in pending])
        finally:
            for buffer, _, _, _ in pending:
                _pool.give(buffer)
