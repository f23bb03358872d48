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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

FULL_SCAN_BYTES = 16 << 20
MAX_SEEKS = 24
PACKETS_PER_SEEK = 400
WINDOW = 10.0  # seconds before the claimed end where the tail is looked for


def end_time(path: Path, size: int, stream_indexes: Sequence[int], claimed: float | None) -> float | None:
    """Seconds from the start to the end of the last packet of the given streams; None if none."""
    import av

    from hitrec.media.pyav import open_av

    with open_av(av, path) as container:
        streams = [container.streams[i] for i in stream_indexes]
        start = _start(container, streams)
        if size <= FULL_SCAN_BYTES:
            return _scan(container, streams, start, None, size)
        if claimed is None or not container.streams[stream_indexes[0]].container.format.seekable:
            return _scan(container, streams, start, FULL_SCAN_BYTES, size)
        found = _tail(container, streams, start, max(0.0, claimed - WINDOW))
        if found is not None:
            return found
        low, high, best = 0.0, claimed, None
        for _ in range(MAX_SEEKS):
            if high - low < 0.5:
                break
            middle = (low + high) / 2
            found = _tail(container, streams, start, middle)
            if found is None or found < middle - WINDOW:
                high = middle
            else:
                best, low = max(best or 0.0, found), middle
        return best if best is not None else _scan(container, streams, start, FULL_SCAN_BYTES, size)


def _start(container: Any, streams: list[Any]) -> float:
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


def _tail(container: Any, streams: list[Any], start: float, at: float) -> float | None:
    """The last packet end found demuxing from ``at`` seconds (a seek) for a bounded number of packets."""
    import av

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
