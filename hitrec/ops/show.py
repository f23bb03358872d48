"""`hitrec show`: one fragment's record, with the fragments made from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hitrec.store import Fragment, Repo


@dataclass
class ShowResult:
    fragment: Fragment
    remixed_by: list[str]  # ids of the fragments that name it as a source
    loudness: float | None = None  # integrated loudness (LUFS) of a fragment with sound

    def to_json(self) -> dict[str, Any]:
        return {**self.fragment.to_json(), "remixed_by": self.remixed_by, "loudness": self.loudness}


def show(repo: Repo, ref: str) -> ShowResult:
    """The fragment ``ref`` names (a full id or a unique prefix of 4+ characters), with the integrated
    loudness of its sound (measured on the first show, cached by media)."""
    fragment = repo.fragment(ref)
    loudness = None
    if fragment.kind == "audio" or (fragment.kind == "video" and fragment.media.has_audio):
        from hitrec.render.loudness import fragment_loudness

        loudness = fragment_loudness(repo, fragment)
    return ShowResult(fragment, repo.children(fragment.id), loudness)
