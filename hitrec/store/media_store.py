"""The media store seam: content-addressed media bytes behind a few methods, for the client and the hub.

``MediaStore`` is the protocol every store implements (``LocalMediaStore`` in hitrec.store.local_media:
the Git LFS layout on a local disk, O_DIRECT and all; ``MemoryMediaStore`` in hitrec.store.memory_media;
an object-storage store later). tests/test_media_store.py runs one contract suite over each, as dulwich's
``ObjectStoreTests`` does for its object stores.

The rules every store keeps:

- an object is named by the SHA-256 of its bytes (``oid``) and is immutable; ``put_verified`` keeps
  nothing unless the bytes hash to the oid and have the size (``DamagedMediaError``); ``put_file`` names
  a file's bytes by their hash;
- a reader never sees a partial object: bytes go to a temp file (or an upload in flight) first and
  become the object in one step; the temp files of a writer that died are removed by
  ``remove_stale_temp_files``, a live writer's never (hitrec.store.tempfiles);
- a put is durable when it returns, unless it is made with ``durable=False``; then ``sync()`` makes
  every such put durable at once, which is what ``batch()`` does when its block ends (many puts, one
  file-system sync);
- the store's failures are ``MediaStoreError``s (``MissingMediaError``, ``DamagedMediaError``), its
  callers' context (a sync, a hub request) is theirs to add; a full disk stays the ``OSError`` it is.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from types import TracebackType

    from hitrec.progress import ProgressFn

CHUNK = 1 << 20


@runtime_checkable
class Readable(Protocol):
    """A byte stream the store can read into its own buffers."""

    def readinto(self, buffer: Any) -> int: ...

    def read(self, size: int) -> bytes: ...


class MediaReader(Protocol):
    """An open object (or a range of it): a binary stream with its object's whole ``size``."""

    size: int

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: Any, /) -> int | None: ...

    def close(self) -> None: ...

    def __enter__(self) -> MediaReader: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> None: ...


class MediaStore(Protocol):
    def has(self, oid: str) -> bool:
        """Whether the object is stored."""
        ...

    def size(self, oid: str) -> int:
        """The object's size in bytes; ``MissingMediaError`` when it is not stored."""
        ...

    def oids(self) -> Iterator[str]:
        """Every stored oid, in order."""
        ...

    def open_read(self, oid: str, start: int = 0, end: int | None = None) -> MediaReader:
        """Read bytes ``start`` to ``end`` (exclusive; None: to the end) of an object."""
        ...

    def put_verified(self, stream: Iterable[bytes] | Readable, oid: str, size: int, *,
                     durable: bool = True) -> None:
        """Store bytes that must hash to ``oid`` and be ``size`` long; nothing is kept otherwise."""
        ...

    def put_file(self, path: Path, progress: ProgressFn | None = None, *,
                 durable: bool = True) -> tuple[str, int]:
        """Store a file's bytes, hashed on the way. Returns (oid, size)."""
        ...

    def local_path(self, oid: str) -> contextlib.AbstractContextManager[Path]:
        """A file holding the object's bytes for the block's length (ffmpeg reads files)."""
        ...

    def batch(self) -> contextlib.AbstractContextManager[MediaBatch]:
        """Many puts, made durable by one sync when the block ends without an error."""
        ...

    def sync(self) -> None:
        """Make every put made with ``durable=False`` durable."""
        ...

    def verify(self, oid: str) -> str | None:
        """None when the object is present and hashes to its oid, else what is wrong."""
        ...

    def remove(self, oid: str) -> bool:
        """Delete an object (``hitrec prune``, once another copy is confirmed); False if it was absent.
        A reader that already opened it keeps reading the whole object."""
        ...

    def temp_files(self) -> list[Path]:
        """Temp files in the store now (writers' in flight and dead writers' debris)."""
        ...

    def remove_stale_temp_files(self) -> int:
        """Remove the temp files of writers that are gone (never a live one's). Returns how many."""
        ...


class MediaBatch:
    """The puts of a ``MediaStore.batch()``: not durable one by one; the batch syncs once at its end.
    Thread-safe as its store's puts are (the writer stores a batch's files from four threads)."""

    def __init__(self, store: MediaStore) -> None:
        self.store = store
        self.count = 0

    def put_verified(self, stream: Iterable[bytes] | Readable, oid: str, size: int) -> None:
        self.store.put_verified(stream, oid, size, durable=False)
        self.count += 1

    def put_file(self, path: Path, progress: ProgressFn | None = None) -> tuple[str, int]:
        stored = self.store.put_file(path, progress, durable=False)
        self.count += 1
        return stored


@contextlib.contextmanager
def durable_batch(store: MediaStore) -> Iterator[MediaBatch]:
    """The ``batch()`` of any store: its puts, then one ``sync()`` if anything was put and no error
    ended the block (after an error, what was stored is harmless: nothing refers to it yet)."""
    batch = MediaBatch(store)
    yield batch
    if batch.count:
        store.sync()


def sha256_file(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_range(oid: str, size: int, start: int, end: int | None) -> int:
    """The end of a valid byte range of an object of ``size`` bytes (ValueError for a bad one)."""
    stop = size if end is None else min(end, size)
    if start < 0 or start > stop:
        raise ValueError(f"bad byte range {start}-{end} of media {oid[:12]} ({size} bytes)")
    return stop
