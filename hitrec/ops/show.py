"""`hitrec show`: one fragment's record, with the fragments made from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hitrec.store import Fragment, Repo


@dataclass
class ShowResult:
    fragment: Fragment
    remixed_by: list[str]  # ids of the fragments that name it as a source

    def to_json(self) -> dict[str, Any]:
        return {**self.fragment.to_json(), "remixed_by": self.remixed_by}


def show(repo: Repo, ref: str) -> ShowResult:
    """The fragment ``ref`` names (a full id or a unique prefix of 4+ characters)."""
    fragment = repo.fragment(ref)
    return ShowResult(fragment, repo.children(fragment.id))
