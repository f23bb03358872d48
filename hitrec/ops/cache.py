"""`hitrec cache` and `hitrec cache clear`: the render's cache (picture segments and sounds), its size and
its limit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.render.segment_cache import SOUND, SegmentCache
from hitrec.store import Repo


@dataclass
class CacheResult:
    folder: Path
    entries: int
    size: int  # bytes
    limit: int  # bytes (cache.max-size)
    cleared: bool = False  # `cache clear`: entries and size are what was removed
    sounds: int = 0  # of the entries, rendered sounds (the others are picture segments)

    def to_json(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "entries": self.entries, "segments": self.entries - self.sounds,
                "sounds": self.sounds, "size": self.size, "limit": self.limit, "cleared": self.cleared}


def cache(repo: Repo, clear: bool = False) -> CacheResult:
    """What the render cache holds; with ``clear``, empty it and say what went."""
    store = SegmentCache.of_repo(repo)
    found = store.entries()
    sounds = sum(1 for e in found if e.kind == SOUND)
    if clear:
        entries, size = store.clear()
        return CacheResult(store.folder, entries, size, store.max_size, cleared=True,
                           sounds=sounds)
    return CacheResult(store.folder, len(found), sum(e.size for e in found), store.max_size, sounds=sounds)
