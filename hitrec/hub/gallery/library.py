"""The collaborations the gallery reads: one open ``Repo`` each and its current ``Snapshot``.

All of it runs on one worker thread of its own (SQLite connections belong to the thread that opened
them, and the event loop must never wait on git or the disk): ``Library.run(fn, ...)`` hands work to
it. A snapshot is rebuilt when the collaboration's catalog ref moves (a push), read straight from the
ref file on each request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hitrec.hub import repos
from hitrec.hub.gallery.catalog import Snapshot
from hitrec.hub.gallery.views import Excerpts, NotFound
from hitrec.hub.names import is_collaboration_name
from hitrec.store import Repo
from hitrec.store.format import read_ref

T = TypeVar("T")


class Library:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._repos: dict[str, Repo] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._dirs: dict[str, tuple[Path, str]] = {}
        self.excerpts = Excerpts()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hitrec-gallery")
        self._thread: threading.Thread | None = None

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def names(self) -> list[str]:
        return repos.list_collaborations(self.root)

    def git_dir(self, name: str) -> Path:
        """The git folder of collaboration ``name`` (NotFound if there is none: a bad name included).
        Every request asks: the paths are remembered, the folder's ``HEAD`` is looked at each time."""
        found = self._dirs.get(name)
        if found is None:
            if not is_collaboration_name(name):
                raise NotFound(f"no collaboration named {name!r} on this hub")
            path = repos.collaboration_path(self.root, name)
            found = (path, os.path.join(path, "HEAD"))
            if len(self._dirs) < 10000:
                self._dirs[name] = found
        if not os.path.isfile(found[1]):
            raise NotFound(f"no collaboration named {name!r} on this hub")
        return found[0]

    # -- on the worker thread ------------------------------------------------------------------
    def repo(self, name: str) -> Repo:
        found = self._repos.get(name)
        if found is None:
            found = self._repos[name] = Repo.open(self.git_dir(name))
        return found

    def snapshot(self, name: str) -> Snapshot:
        git_dir = self.git_dir(name)
        head = read_ref(git_dir)
        snap = self._snapshots.get(name)
        if snap is not None and snap.head == head:
            return snap
        repo = self.repo(name)
        fragments = repo.fragments() if head else []
        snap = self._snapshots[name] = Snapshot.build(name, head, fragments)
        return snap

    def close(self) -> None:
        def close_all() -> None:
            for repo in self._repos.values():
                repo.close()
            self._repos.clear()

        self._executor.submit(close_all).result()
        self._executor.shutdown()
