"""`hitrec cat`: a fragment's media bytes, for the CLI to write to standard output."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.ops.checkout import present_media
from hitrec.store import Fragment, Repo


@dataclass
class CatResult:
    fragment: Fragment
    path: Path  # the media object in the repo's store

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while block := f.read(size):
                yield block

    def to_json(self) -> dict[str, Any]:
        return {"fragment": self.fragment.id, "oid": self.fragment.media.oid, "bytes": self.fragment.media.size}


def cat(repo: Repo, ref: str) -> CatResult:
    """The fragment ``ref`` names and where its media is (present, or a CorruptRepoError)."""
    fragment = repo.fragment(ref)
    return CatResult(fragment, present_media(repo, fragment))
