"""`hitrec cat`: a fragment's media bytes, for the CLI to write to standard output."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hitrec.ops.checkout import check_media_present
from hitrec.progress import ProgressFn
from hitrec.store import Fragment, Repo
from hitrec.store.media_store import MediaStore


@dataclass
class CatResult:
    fragment: Fragment
    media: MediaStore  # the store holding the fragment's media

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        with self.media.open_read(self.fragment.media.oid) as f:
            while block := f.read(size):
                yield block

    def to_json(self) -> dict[str, Any]:
        return {"fragment": self.fragment.id, "oid": self.fragment.media.oid, "bytes": self.fragment.media.size}


def cat(repo: Repo, ref: str, progress: ProgressFn | None = None) -> CatResult:
    """The fragment ``ref`` names, its media present in the repo's store (fetched from its hub if need
    be; a CorruptRepoError if no copy is known)."""
    fragment = repo.fragment(ref)
    check_media_present(repo, fragment, progress)
    return CatResult(fragment, repo.media)
