"""Helpers shared by command modules: opening the repo, formatting fragments."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hitrec.store import Fragment, Repo


@contextmanager
def open_repo(start: Path | None = None) -> Iterator[Repo]:
    repo = Repo.find(start)
    try:
        yield repo
    except BaseException as exc:
        # The frames the error passed through may hold views of the repo's pack mappings (dulwich reads
        # packs through memoryviews): closing a mapping under a live view raises BufferError, which would
        # replace the real error (a Ctrl-C during `fsck`). The frames are done; drop their locals first.
        traceback.clear_frames(exc.__traceback__)
        raise
    finally:
        repo.close()


def describe_media(fragment: Fragment) -> str:
    m = fragment.media
    parts = []
    if m.duration is not None:
        parts.append(f"{m.duration:.2f}s")
    if m.width and m.height:
        parts.append(f"{m.width}x{m.height}")
    if m.rotation:
        parts.append(f"turned {m.rotation}°")
    if m.frames:
        parts.append(f"{m.frames} frames")
    if m.fps:
        parts.append(f"{m.fps:g}fps")
    if m.sample_rate:
        parts.append(f"{m.sample_rate}Hz")
    if m.channels:
        parts.append(f"{m.channels}ch")
    if m.codec:
        parts.append(m.codec)
    parts.append(human_size(m.size))
    return " ".join(parts)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
