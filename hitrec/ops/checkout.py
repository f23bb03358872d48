"""`hitrec checkout` and `hitrec cat`: get a fragment's media back out."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hitrec.errors import CorruptRepoError, HitrecError
from hitrec.store import Fragment, Repo


def media_chunks(repo: Repo, fragment: Fragment, chunk: int = 1 << 20) -> Iterator[bytes]:
    path = _present(repo, fragment)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            yield block


def checkout(repo: Repo, ref: str, dest: Path | None = None, *, force: bool = False) -> tuple[Fragment, Path]:
    """Copy a fragment's media to ``dest`` (default: its file name in the current folder)."""
    fragment = repo.fragment(ref)
    source = _present(repo, fragment)
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
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return fragment, target


def _present(repo: Repo, fragment: Fragment) -> Path:
    path = repo.media_path(fragment.media.oid)
    if not path.is_file():
        raise CorruptRepoError(
            f"the media of fragment {fragment.short_id} ({fragment.media.oid[:12]}) is not in this repo; "
            "`hitrec pull` fetches it from a hub"
        )
    return path
