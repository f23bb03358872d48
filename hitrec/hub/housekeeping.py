"""Keeping a collaboration's git objects quick to serve: one pack with a reachability bitmap.

A clone asks ``git upload-pack`` for everything. Without a bitmap git walks every commit and tree to
find what to send (a collaboration of 10,000 fragments: 0.10 s of the hub's CPU per clone, on the
clone's critical path); with one it reads the answer off the bitmap (0.01 s; bench/sync_no_media.py,
docs/benchmarks.md). receive-pack keeps each push as a pack of its own, or as loose objects below
``transfer.unpackLimit``, and git's automatic gc waits for 50 packs or 6,700 loose objects, so a
collaboration that grew by a few big pushes would never get a bitmap.

So after a push the hub looks at how many objects lie outside the bitmapped pack: when they are at
least ``HubConfig.repack_after`` and a tenth of those inside it, it runs ``git gc`` in the background
(one pack with a bitmap, a commit-graph, packed refs; what is unreachable is kept loose for git's two
weeks, never dropped at once). The gc holds the collaboration's push lock (``repos.lock_pushes``,
passed to git so that it lasts as long as git runs, even past a killed hub): no push lands while it
packs, across every hub process on the root, and a push that arrives waits for it as for an earlier
push. If the lock is busy the gc is skipped: the next push looks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from pathlib import Path

from hitrec.hub import repos

log = logging.getLogger("hitrec.hub")

_IDX_V2 = b"\xfftOc"


def objects_outside_bitmap(git_dir: Path) -> tuple[int, int]:
    """(objects in packs without a bitmap plus loose objects, objects in bitmapped packs)."""
    pack_dir = git_dir / "objects" / "pack"
    inside = outside = 0
    with contextlib.suppress(FileNotFoundError):
        for idx in pack_dir.glob("pack-*.idx"):
            count = _pack_count(idx)
            if idx.with_suffix(".bitmap").exists():
                inside += count
            else:
                outside += count
    objects = git_dir / "objects"
    with contextlib.suppress(FileNotFoundError):
        for folder in objects.iterdir():
            if len(folder.name) == 2 and folder.is_dir():
                outside += sum(1 for _ in folder.iterdir())
    return outside, inside


def _pack_count(idx: Path) -> int:
    """The number of objects a pack index lists: the last entry of its fan-out table (git's
    Documentation/gitformat-pack.txt, index versions 1 and 2); 0 for what is not an index."""
    try:
        with idx.open("rb") as f:
            head = f.read(8 + 256 * 4)
    except OSError:
        return 0
    fanout = head[8:] if head[:4] == _IDX_V2 else head
    if len(fanout) < 256 * 4:
        return 0
    return int(struct.unpack(">I", fanout[255 * 4:256 * 4])[0])


def wants_gc(git_dir: Path, repack_after: int) -> bool:
    if repack_after <= 0:
        return False
    outside, inside = objects_outside_bitmap(git_dir)
    return outside >= repack_after and outside * 10 >= inside


def clear_dead_gc_files(git_dir: Path) -> None:
    """Remove what a killed ``git gc`` left in ``objects/pack`` (``.tmp-*`` packs being written, a
    ``gc.pid`` of a dead gc is git's own to judge). Call only while holding the push lock: every gc
    the hub starts holds it, so none is alive."""
    pack_dir = git_dir / "objects" / "pack"
    with contextlib.suppress(FileNotFoundError):
        for path in pack_dir.iterdir():
            if path.name.startswith(".tmp-") and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


class Housekeeper:
    """Starts at most one gc per collaboration from this process (see the module's docstring)."""

    def __init__(self, repack_after: int) -> None:
        self.repack_after = repack_after
        self._running: dict[Path, asyncio.Task[None]] = {}

    def after_push(self, git_dir: Path) -> None:
        if self.repack_after <= 0 or git_dir in self._running:
            return
        task = asyncio.get_running_loop().create_task(self._maybe_gc(git_dir))
        self._running[git_dir] = task
        task.add_done_callback(lambda _: self._running.pop(git_dir, None))

    async def _maybe_gc(self, git_dir: Path) -> None:
        try:
            if not await asyncio.to_thread(wants_gc, git_dir, self.repack_after):
                return
            fd = repos.lock_pushes(git_dir, wait=False)
            if fd is None:
                return  # a push is landing, or another hub process packs: the next push looks again
            try:
                if not await asyncio.to_thread(wants_gc, git_dir, self.repack_after):
                    return  # another hub process packed it meanwhile
                await asyncio.to_thread(clear_dead_gc_files, git_dir)
                proc = await asyncio.create_subprocess_exec(
                    "git", "--git-dir", str(git_dir), "-c", "repack.writeBitmaps=true", "gc", "--quiet",
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE, pass_fds=(fd,))
                _, err = await proc.communicate()
            finally:
                os.close(fd)
            if proc.returncode != 0:
                log.warning("git gc of %s exited %s: %s", git_dir.name, proc.returncode,
                            err.decode("utf-8", "replace").strip()[:500])
            else:
                log.info("packed %s (one pack with a bitmap: faster clones)", git_dir.name)
        except OSError as exc:  # no git, a full disk: the collaboration is served as it is
            log.warning("could not pack %s: %s", git_dir.name, exc)
