"""`hitrec cache` and `hitrec cache clear`: the render's segment cache, its size and its limit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.render.segment_cache import SegmentCache
from hitrec.store import Repo


@dataclass
class CacheResult:
    folder: Path
    entries: int
    size: int  # bytes
    limit: int  # bytes (cache.max-size)
    cleared: bool = False  # `cache clear`: entries and size are what was removed

    def to_json(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "entries": self.entries, "size": self.size, "limit": self.limit,
                "cleared": self.cleared}


def cache(repo: Repo, clear: bool = False) -> CacheResult:
    """What the segment cache holds; with ``clear``, empty it and say what went."""
    segments = SegmentCache.of_repo(repo)
    if clear:
        entries, size = segments.clear()
        return CacheResult(segments.folder, entries, size, segments.max_size, cleared=True)
    found = segments.entries()
    return CacheResult(segments.folder, len(found), sum(e.size for e in found), segments.max_size)
