"""`hitrec clone`: copy a collaboration from a hub into a new repo with remote ``origin``.

The clone is built aside, in a hidden sibling folder ``.<name>.hitrec-clone``, and moved into place only
when complete (one rename), so the destination either does not exist or holds a whole clone. A clone
killed or interrupted at any moment is finished by running the same command again: it finds the folder
aside and pulls into it, and a pull fetches only what is missing, so media that already arrived is not
downloaded again. A folder aside that is not yet a repo with the right ``origin`` is started afresh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitrec.errors import HitrecError, RemoteError, SyncError, UsageError
from hitrec.ops.pull import PullResult, pull
from hitrec.progress import ProgressFn
from hitrec.store.format import CATALOG_REF
from hitrec.store.writer import crash_point
from hitrec.sync import credentials, git
from hitrec.sync.credentials import Auth
from hitrec.sync.http import Http
from hitrec.sync.remotes import add_remote, get_remote_url, name_from_url, split_url
from hitrec.sync.session import NotACollaborationError

if TYPE_CHECKING:
    from hitrec.store import Repo

ASIDE_SUFFIX = ".hitrec-clone"


@dataclass
class CloneResult:
    path: Path  # the new repo's folder
    pull: PullResult
    resumed: bool = False  # an earlier, interrupted clone was finished

    def to_json(self) -> dict[str, Any]:
        return {**self.pull.to_json(), "path": str(self.path)}


def aside_path(dest: Path) -> Path:
    """Where the clone into ``dest`` is built before it is moved into place."""
    return dest.parent / f".{dest.name}{ASIDE_SUFFIX}"


def clone(url: str, dest: Path | None = None, progress: ProgressFn | None = None, *,
          auth: Auth | None = None, media: bool = True) -> CloneResult:
    """Create a repo at ``dest`` (default: the collaboration's name) with remote ``origin`` and pull.
    ``media=False`` (``--no-media``): records, lineage and timelines only; media comes on demand."""
    from hitrec.store.repo import REPO_DIR

    clean, url_creds = split_url(url)
    dest = Path(os.path.abspath(dest if dest is not None else Path.cwd() / name_from_url(clean)))
    aside = aside_path(dest)
    if aside.is_dir() and not (aside / REPO_DIR).exists():
        shutil.rmtree(aside, ignore_errors=True)  # a clone that died before its repo existed, or just after moving
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        if (dest / REPO_DIR).is_dir() and get_remote_url(dest / REPO_DIR, "origin") == clean:
            # a clone killed once it was in place (before it could say so), or run twice: finish it
            return _finish_in_place(dest, progress, auth or credentials.lookup(clean, url_creds), media)
        raise UsageError(f"{dest} already exists and is not empty: choose another folder.")
    auth = auth or credentials.lookup(clean, url_creds)
    # Check the collaboration exists and we may read it before creating anything.
    with Http() as http:
        try:
            refs = git.list_refs(http, clean, auth)
        except HitrecError as exc:
            if auth:
                exc.message = auth.scrub(exc.message)
                exc.args = (exc.message,)
            raise
    if refs is None:
        raise RemoteError(f"no collaboration at {clean}. Check the URL.")
    if refs and CATALOG_REF not in refs:
        shutil.rmtree(aside, ignore_errors=True)
        raise NotACollaborationError(clean, f"it has no {CATALOG_REF}")
    repo, resumed = _aside_repo(aside, clean)
    try:
        result = pull(repo, "origin", progress, auth=auth, media=media)
    except NotACollaborationError:
        repo.close()
        shutil.rmtree(aside, ignore_errors=True)
        raise
    except HitrecError as exc:
        repo.close()
        raise SyncError(f"{exc} (the clone is incomplete: run the same `hitrec clone` again to finish it; "
                        "what already arrived is not fetched again)") from exc
    except BaseException:
        repo.close()
        raise
    repo.close()
    crash_point("clone-pulled")
    _move_into_place(aside, dest)
    crash_point("clone-moved")
    return CloneResult(dest.resolve(), result, resumed)


def _finish_in_place(dest: Path, progress: ProgressFn | None, auth: Auth | None, media: bool) -> CloneResult:
    """The clone at ``dest`` is whole (it is moved there only then): a pull brings it up to date."""
    from hitrec.store import Repo

    repo = Repo(dest)
    try:
        return CloneResult(dest.resolve(), pull(repo, "origin", progress, auth=auth, media=media),
                           resumed=True)
    finally:
        repo.close()


def _aside_repo(aside: Path, url: str) -> tuple[Repo, bool]:
    """The repo being built aside: an earlier attempt's if it is one with this ``origin``, else a new one."""
    from hitrec.store import Repo
    from hitrec.store.repo import REPO_DIR

    git_dir = aside / REPO_DIR
    if (git_dir / "HEAD").is_file() and (git_dir / "lfs" / "tmp").is_dir() \
            and get_remote_url(git_dir, "origin") == url:
        return Repo(aside), True
    shutil.rmtree(aside, ignore_errors=True)  # died while being created, or a clone of another URL
    aside.mkdir(parents=True)
    repo = Repo.init(aside)
    try:
        crash_point("clone-created")
        add_remote(repo.git_dir, "origin", url)
    except BaseException:
        repo.close()
        shutil.rmtree(aside, ignore_errors=True)
        raise
    return repo, False


def _move_into_place(aside: Path, dest: Path) -> None:
    """One rename puts the whole clone at ``dest``: the folder itself, or into an empty ``dest`` its
    ``.hitrec`` (so a destination that is someone's current folder stays that folder)."""
    from hitrec.store.durable import fsync_dir
    from hitrec.store.repo import REPO_DIR

    try:
        if dest.is_dir():
            os.rename(aside / REPO_DIR, dest / REPO_DIR)
            fsync_dir(dest)
            with contextlib.suppress(OSError):
                aside.rmdir()
        else:
            os.rename(aside, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        raise SyncError(f"the clone is complete in {aside} but could not be moved to {dest} "
                        f"({exc.strerror or exc}): move it there by hand, or run the same `hitrec clone` "
                        "again") from exc
