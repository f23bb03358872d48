"""A ``MediaStore`` in memory: for tests, and the model an object-storage store follows (no paths, no
temp files; a put is whole or absent)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hitrec.errors import DamagedMediaError, MediaError, MissingMediaError
from hitrec.progress import ProgressFn
from hitrec.store.format import is_oid
from hitrec.store.media_store import CHUNK, MediaBatch, MediaStore, Readable, check_range, durable_batch


class MemoryMediaStore:
    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def has(self, oid: str) -> bool:
        return oid in self._objects

    def size(self, oid: str) -> int:
        return len(self._get(oid))

    def oids(self) -> Iterator[str]:
        yield from sorted(self._objects)

    def open_read(self, oid: str, start: int = 0, end: int | None = None) -> BytesRange:
        data = self._get(oid)
        return BytesRange(data[start:check_range(oid, len(data), start, end)], len(data))

    def remove(self, oid: str) -> bool:
        with self._lock:
            return self._objects.pop(oid, None) is not None

    def put_verified(self, stream: Iterable[bytes] | Readable, oid: str, size: int, *,
                     durable: bool = True) -> None:
        if not is_oid(oid):
            raise ValueError(f"not a sha256 oid: {oid!r}")
        if isinstance(stream, Readable):
            readable = stream
            stream = iter(lambda: readable.read(CHUNK), b"")
        data = b"".join(bytes(chunk) for chunk in stream)
        actual = hashlib.sha256(data).hexdigest()
        if actual != oid or len(data) != size:
            raise DamagedMediaError(oid, actual, len(data), size)
        with self._lock:
            self._objects[oid] = data

    def put_file(self, path: Path, progress: ProgressFn | None = None, *,
                 durable: bool = True) -> tuple[str, int]:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
        if progress:
            progress(len(data))
        oid = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._objects[oid] = data
        return oid, len(data)

    @contextlib.contextmanager
    def local_path(self, oid: str) -> Iterator[Path]:
        """A temp file holding a copy, removed after the block."""
        data = self._get(oid)
        fd, name = tempfile.mkstemp(prefix="hitrec-media-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            yield Path(name)
        finally:
            os.unlink(name)

    def batch(self) -> contextlib.AbstractContextManager[MediaBatch]:
        return durable_batch(self)

    def sync(self) -> None:
        pass  # nothing outlives the process anyway

    def verify(self, oid: str) -> str | None:
        data = self._objects.get(oid)
        if data is None:
            return "missing"
        actual = hashlib.sha256(data).hexdigest()
        return None if actual == oid else f"corrupt (its bytes hash to {actual[:12]})"

    def temp_files(self) -> list[Path]:
        return []

    def remove_stale_temp_files(self) -> int:
        return 0

    def _get(self, oid: str) -> bytes:
        try:
            return self._objects[oid]
        except KeyError:
            raise MissingMediaError(oid) from None


class BytesRange(io.BytesIO):
    """A range of an object's bytes, with the object's whole ``size``."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size


if TYPE_CHECKING:
    _is_a_store: type[MediaStore] = MemoryMediaStore  # mypy checks that it keeps the protocol
