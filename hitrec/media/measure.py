"""How long a compressed file really is: the end of its last packet, found with bounded work.

A header's duration is a claim (an MP3's Xing frame count, a WebM's Duration element, an MP4's sample
table); a truncated download, a trailing tag or a browser that never wrote the element makes it wrong or
absent. :func:`end_time` demuxes packets (no decoding) and returns where the last one ends:

- a file up to :data:`FULL_SCAN_BYTES` is demuxed to its end (a few milliseconds for minutes of audio);
- a bigger file is sought near its claimed end and demuxed from there; when nothing is found there (the
  data ends earlier), the last second that still holds packets is found by bisection, at most
  :data:`MAX_SEEKS` seeks of :data:`PACKETS_PER_SEEK` packets each: a 1 GiB file is never read whole;
- a big stream with no timestamps and no index (a raw ``.h264``) is measured by its packets' mean size
  over the first :data:`FULL_SCAN_BYTES`, scaled to the file's size (an estimate, said so in
  docs/media.md).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FULL_SCAN_BYTES = 16 << 20
MAX_SEEKS = 24
PACKETS_PER_SEEK = 200
BYTES_PER_SEEK = 4 << 20
UNLIMITED = 1 << 62
WINDOW = 10.0  # seconds before the claimed end where the tail is looked for


def end_time(path: Path, size: int, stream_indexes: Sequence[int], claimed: float | None) -> float | None:
    """Seconds from the start to the end of the last packet of the given streams; None if none."""
    import av

    from hitrec.media.pyav import open_av

    with open(path, "rb") as raw:
        source = Budgeted(raw)
        with open_av(av, source) as container:  # type: ignore[arg-type]  # a RawIOBase reads like a file
            return _measure(container, source, size, stream_indexes, claimed)


def _measure(container: Any, source: Budgeted, size: int, stream_indexes: Sequence[int],
             claimed: float | None) -> float | None:
    streams = [container.streams[i] for i in stream_indexes]
    start = _start(container)
    if size <= FULL_SCAN_BYTES:
        source.allow(UNLIMITED)
        return _scan(container, streams, start, None, size)
    source.allow(FULL_SCAN_BYTES)
    if claimed is None:
        return _scan(container, streams, start, FULL_SCAN_BYTES, size)
    found = _tail(container, source, streams, start, max(0.0, claimed - WINDOW))
    if found is not None:
        return found
    low, high, best = 0.0, claimed, None
    for _ in range(MAX_SEEKS):
        if high - low < 0.5:
            break
        middle = (low + high) / 2
        found = _tail(container, source, streams, start, middle)
        if found is None or found < middle - WINDOW:
            high = middle
        else:
            best, low = max(best or 0.0, found), middle
    return best


class Budgeted(io.RawIOBase):
    """A file PyAV reads through that ends (reads return nothing) once ``allow``'s byte budget is spent:
    a demuxer looking for the next packet through a gigabyte of junk gives up instead."""

    def __init__(self, raw: io.BufferedReader) -> None:
        super().__init__()
        self.raw = raw
        self.left = FULL_SCAN_BYTES

    def allow(self, budget: int) -> None:
        self.left = budget

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            return 0
        view = memoryview(buffer)[: self.left]
        n = self.raw.readinto(view) or 0
        self.left -= n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


def _start(container: Any) -> float:
    if container.start_time is not None:
        return max(0.0, container.start_time / 1_000_000)
    return 0.0


def _scan(container: Any, streams: list[Any], start: float, limit: int | None, size: int) -> float | None:
    """Demux from where the container stands; with ``limit``, stop after that many bytes and scale."""
    import av

    end: float | None = None
    count, read = 0, 0
    first = streams[0]
    try:
        for packet in container.demux(*streams):
            if packet.size == 0 and packet.pts is None:
                continue  # the flush packet at the end of each stream
            count += packet.stream is first
            read += packet.size
            stamp = _packet_end(packet)
            if stamp is not None:
                end = stamp if end is None else max(end, stamp)
            if limit is not None and read >= limit:
                break
    except (av.FFmpegError, EOFError):  # the data stops mid-packet: what was read so far is what there is
        pass
    rate = raw_rate(first) if first.type == "video" else None
    if (end is None or end <= start) and count and rate:  # a raw stream without timestamps
        seconds = count / float(rate)
        if limit is not None and read >= limit:
            seconds *= size / read
        return seconds
    if end is None:
        return None
    if limit is not None and read >= limit:
        return None
    return end - start


def _tail(container: Any, source: Budgeted, streams: list[Any], start: float, at: float) -> float | None:
    """The last packet end found demuxing from ``at`` seconds (a seek) for a bounded number of packets
    and bytes (junk after the last packet is scanned for a packet only up to :data:`BYTES_PER_SEEK`)."""
    import av

    source.allow(BYTES_PER_SEEK)
    try:
        container.seek(int((start + at) * 1_000_000), backward=True, any_frame=False)
    except (av.FFmpegError, OverflowError):
        return None
    end: float | None = None
    try:
        for n, packet in enumerate(container.demux(*streams)):
            stamp = _packet_end(packet)
            if stamp is not None:
                end = stamp if end is None else max(end, stamp)
            if n >= PACKETS_PER_SEEK:
                break  # still far from the end (the header claims too little): the end seen is a floor
    except (av.FFmpegError, EOFError):
        pass
    return None if end is None else end - start


def raw_rate(stream: Any) -> Any:
    """The frame rate of a stream without timestamps, as ffmpeg plays it (the codec's own timing)."""
    return stream.codec_context.framerate or stream.guessed_rate or stream.average_rate


def _packet_end(packet: Any) -> float | None:
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or packet.time_base is None:
        return None
    return float((stamp + (packet.duration or 0)) * packet.time_base)
