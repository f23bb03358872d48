"""Folders for secrets (the hub's users.json, a client's credentials), private whatever the umask."""

from __future__ import annotations

import contextlib
from pathlib import Path


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700. ``mkdir(parents=True)`` gives the parents the
    umask's mode: under umask 000 a world-writable hub root let any local user swap users.json, and a
    new ~/.config was open to a planted git config."""
    missing = []
    path = Path(path)
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
