"""HTTP byte ranges (RFC 9110 14): what the hub's media downloads and the gallery's players ask for."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")  # longer numbers: ignored (int refuses 4300 digits)


def byte_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The ``[start, end)`` a ``Range`` header asks of ``size`` bytes (RFC 9110 14.1.2): ``bytes=N-M``,
    ``bytes=N-`` or the last S bytes ``bytes=-S``; ``"unsatisfiable"`` (a 416) when none of it is
    there; None to send the whole: no header, one we do not parse (RFC 9110: a server may ignore
    it), or several ranges (which a server may answer whole rather than as multipart)."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # a suffix: the last S bytes
        if not last:
            return None
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        return "unsatisfiable"
    end = min(size, int(last) + 1) if last else size
    return start, end


class RangedAnswer(NamedTuple):
    """How to answer a download of ``size`` bytes: the status, the ``[start, end)`` sent, and the
    headers that say so (``content-range`` for a 206, ``content-length``)."""

    status: int
    start: int
    end: int
    headers: list[tuple[bytes, bytes]]


def ranged_answer(header: str | None, size: int) -> RangedAnswer | None:
    """The answer to a ``Range`` header (``byte_range``) for ``size`` bytes; None for a 416, whose
    message and header are ``unsatisfiable_message`` and ``unsatisfiable_header``."""
    ranged = byte_range(header, size)
    if ranged == "unsatisfiable":
        return None
    if ranged is None:
        return RangedAnswer(200, 0, size, [(b"content-length", str(size).encode())])
    start, end = ranged
    return RangedAnswer(206, start, end, [(b"content-range", f"bytes {start}-{end - 1}/{size}".encode()),
                                          (b"content-length", str(end - start).encode())])


def unsatisfiable_message(size: int) -> str:
    return f"the range asked for is not within this media's {size} bytes"


def unsatisfiable_header(size: int) -> tuple[bytes, bytes]:
    return b"content-range", f"bytes */{size}".encode()
