"""DRM-protected MP4/MOV (Common Encryption: cenc, cbcs, ...), found from the box structure.

ffmpeg demuxes an encrypted MP4 happily and, without the key, decodes garbage or fails on the first
frame; either way nothing a render can use. Its marks are in ``moov``: a sample entry ``encv``/``enca``
(the real codec named in ``sinf/frma``), a ``tenc`` track-encryption box, a ``pssh`` DRM system box.
Only ``moov`` (and the boxes leading to the sample descriptions) is read, at most :data:`MAX_MOOV` bytes.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

MAX_MOOV = 64 << 20
_CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex", b"moof", b"traf"}
_PROTECTED_ENTRIES = {b"encv", b"enca", b"enct", b"encs"}


def encryption_scheme(f: BinaryIO, size: int) -> str | None:
    """The protection scheme (``cenc``, ``cbcs``, ...) or ``"DRM"`` of an encrypted MP4; None if clear."""
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            return None
        box_size, box_type = struct.unpack(">I4s", head[:8])
        header = 8
        if box_size == 1 and len(head) >= 16:
            box_size, header = struct.unpack(">Q", head[8:16])[0], 16
        elif box_size == 0:
            box_size = size - pos
        if box_size < header:
            return None
        if box_type in (b"moov", b"moof"):
            body = _read(f, pos + header, min(box_size - header, MAX_MOOV))
            found = _walk(body)
            if found is not None or box_type == b"moov":
                return found
        pos += box_size
    return None


def _read(f: BinaryIO, at: int, n: int) -> bytes:
    f.seek(at)
    return f.read(n)


def _walk(body: bytes) -> str | None:
    pos = 0
    while pos + 8 <= len(body):
        box_size, box_type = struct.unpack_from(">I4s", body, pos)
        if box_size < 8:
            return None
        inner = body[pos + 8:pos + box_size]
        if box_type in (b"pssh", b"tenc", b"senc"):
            return "DRM"
        if box_type in _CONTAINERS:
            found = _walk(inner)
            if found is not None:
                return found
        elif box_type == b"stsd" and len(inner) >= 8:
            for entry_type, entry in _entries(inner[8:]):
                if entry_type in _PROTECTED_ENTRIES:
                    return _scheme(entry) or "DRM"
        pos += box_size
    return None


def _entries(body: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 0
    while pos + 8 <= len(body):
        size, kind = struct.unpack_from(">I4s", body, pos)
        if size < 8:
            break
        out.append((kind, body[pos:pos + size]))
        pos += size
    return out


def _scheme(entry: bytes) -> str | None:
    at = entry.find(b"schm")
    if at < 0 or at + 12 > len(entry):
        return None
    return entry[at + 8:at + 12].decode("ascii", "replace").strip() or None
