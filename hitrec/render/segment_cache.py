"""The cache of encoded picture segments and rendered sounds a repo keeps (``.hitrec/cache/segments/``).

An entry is one encoded window, named ``<key>.<check>.seg``, or one piece's encoded sound, named
``<key>.<check>.snd``: ``key`` is the SHA-256 of everything that decides its bytes
(:func:`hitrec.render.segmented.segment_key`, :func:`~hitrec.render.segmented.sound_key`) and ``check``
the first 32 hex digits of the SHA-256 of the key and the bytes together. Both kinds share the folder,
the size limit and the least-recently-used order. An entry is written beside its
place as a locked ``.hitrec.part`` file and renamed into place, so a reader sees a whole entry or none;
every read checks ``check`` again, so a damaged entry, or one copied under another key's name, is found,
reported as a warning, removed and encoded again. Reading an entry marks it used (its mtime); past the
size limit (``cache.max-size``, default 2 GiB) the least recently used entries go.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hitrec.errors import UsageError
from hitrec.render.scratch import part_file

DEFAULT_MAX_SIZE = 2 << 30
SEGMENT, SOUND = "seg", "snd"  # the two kinds of entry (their file name's suffix)
_NAME = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{32})\.(seg|snd)$")
_REDONE = {SEGMENT: "not this segment's; encoding the segment again",
           SOUND: "not this sound's; rendering the sound again"}
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``2G``, ``500M``, ``64KiB``, ``1000000``: a number of bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"cache.max-size must be a size such as 2G, 500M or 1048576, not {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _check(key: str, path: Path) -> str:
    h = hashlib.sha256(key.encode() + b"\0")
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()[:32]


@dataclass
class CacheEntry:
    path: Path
    key: str
    size: int
    used: float
    kind: str = SEGMENT  # SEGMENT or SOUND


class SegmentCache:
    def __init__(self, folder: Path, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.folder = Path(folder)
        self.max_size = max_size

    @classmethod
    def of_repo(cls, repo: object) -> SegmentCache:
        """The cache of a :class:`hitrec.store.Repo`, with its ``cache.max-size``."""
        git_dir: Path = repo.git_dir  # type: ignore[attr-defined]
        value = repo.config_get("cache.max-size")  # type: ignore[attr-defined]
        return cls(git_dir / "cache" / "segments", parse_size(value) if value else DEFAULT_MAX_SIZE)

    # ---- entries

    def entries(self) -> list[CacheEntry]:
        found = []
        try:
            with os.scandir(self.folder) as listing:
                for item in listing:
                    match = _NAME.match(item.name)
                    if match and item.is_file(follow_symlinks=False):
                        st = item.stat(follow_symlinks=False)
                        found.append(CacheEntry(Path(item.path), match.group(1), st.st_size, st.st_mtime,
                                                match.group(3)))
        except FileNotFoundError:
            return []
        return found

    def get(self, key: str, dest: Path, warnings: list[str], kind: str = SEGMENT) -> bool:
        """Put the entry of ``kind`` for ``key`` at ``dest`` (a hard link, else a copy) if it is there and
        sound; a damaged or foreign entry is removed and reported in ``warnings``."""
        try:
            names = [n for n in os.listdir(self.folder) if n.startswith(key + ".") and n.endswith("." + kind)]
        except FileNotFoundError:
            return False
        for name in sorted(names):
            path = self.folder / name
            match = _NAME.match(name)
            try:
                ok = match is not None and match.group(1) == key and _check(key, path) == match.group(2)
            except OSError:
                continue
            if not ok:
                warnings.append(f"cache entry {name[:16]}... is damaged or {_REDONE[kind]}")
                with contextlib.suppress(OSError):
                    path.unlink()
                continue
            try:
                try:
                    os.link(path, dest)
                except OSError:
                    shutil.copyfile(path, dest)
                if _check(key, dest) != match.group(2):  # type: ignore[union-attr]  # changed since
                    dest.unlink()
                    continue
                now = time.time()
                with contextlib.suppress(OSError):  # a read-only cache still serves its entries
                    os.utime(path, (now, now))
            except OSError:
                with contextlib.suppress(OSError):
                    dest.unlink()
                continue
            return True
        return False

    def put(self, key: str, source: Path, kind: str = SEGMENT) -> None:
        """Store ``source`` as the entry of ``kind`` for ``key``; a cache that cannot be written is skipped."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{key}.{_check(key, source)}.{kind}"
            final = self.folder / name
            with part_file(final) as tmp:
                shutil.copyfile(source, tmp)
                os.replace(tmp, final)
        except (OSError, UsageError):
            return

    def evict(self) -> int:
        """Remove the least recently used entries until the cache fits its limit; how many went."""
        entries = sorted(self.entries(), key=lambda e: e.used)
        total = sum(e.size for e in entries)
        removed = 0
        for entry in entries:
            if total <= self.max_size:
                break
            try:
                entry.path.unlink()
            except FileNotFoundError:
                pass
            except OSError:  # a read-only cache: it stays as it is
                break
            total -= entry.size
            removed += 1
        return removed

    def clear(self) -> tuple[int, int]:
        """Remove every entry; (entries, bytes) removed."""
        entries = self.entries()
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()
        return len(entries), sum(e.size for e in entries)
