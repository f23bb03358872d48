"""`hitrec init`: create an empty repo (``.hitrec/``) in a project folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class InitResult:
    root: Path  # the project folder
    git_dir: Path  # its .hitrec/

    def to_json(self) -> dict[str, Any]:
        return {"root": str(self.root), "git_dir": str(self.git_dir)}


def init(directory: Path) -> InitResult:
    """Create the folder if missing and an empty repo in it (refused if one is there already)."""
    from hitrec.store import Repo

    repo = Repo.init(directory)
    try:
        return InitResult(repo.root, repo.git_dir)
    finally:
        repo.close()
