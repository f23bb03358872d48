"""`hitrec checkout`: write a fragment's media to a file."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.errors import CorruptRepoError, HitrecError
from hitrec.progress import ProgressFn
from hitrec.render.scratch import part_file
from hitrec.store import Fragment, Repo


@dataclass
class CheckoutResult:
    fragment: Fragment
    path: Path  # the file written

    def to_json(self) -> dict[str, Any]:
        return {"fragment": self.fragment.id, "path": str(self.path), "bytes": self.fragment.media.size}


def checkout(repo: Repo, ref: str, dest: Path | None = None, *, force: bool = False,
             progress: ProgressFn | None = None) -> CheckoutResult:
    """Copy a fragment's media to ``dest`` (default: its file name in the current folder)."""
    fragment = repo.fragment(ref)
    check_media_present(repo, fragment, progress)
    name = fragment.media.filename
    if not name or Path(name).name != name or name in (".", ".."):  # never let a record pick the folder
        raise CorruptRepoError(f"fragment {fragment.short_id} names its media {name!r}, which is not a plain "
                               "file name; give a PATH to write it to")
    target = dest if dest is not None else Path(name)
    if target.is_dir():
        target = target / name
    if target.exists() and not force:
        raise HitrecError(f"{target} already exists; use --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    # A locked ``.<name>.*.hitrec.part`` beside the target: a checkout killed mid-copy leaves it, and the
    # next checkout or render into that folder removes it (its lock is free), never a live writer's.
    with part_file(target) as tmp:
        with open(tmp, "wb") as out, repo.media.open_read(fragment.media.oid) as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    return CheckoutResult(fragment, target)


def check_media_present(repo: Repo, fragment: Fragment, progress: ProgressFn | None = None) -> None:
    """The fragment's media in the repo's store: fetched from the hub whose catalog has it when it is not
    here (a metadata-only clone), else a CorruptRepoError saying it is missing."""
    from hitrec.sync.fetch import ensure_media

    ensure_media(repo, [fragment], progress)
