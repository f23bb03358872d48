"""Build real hitrec repos with a lineage for credits tests: tiny WAVs, real fragment commits, timelines."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from media import make_wav

from hitrec.store import FragmentSpec, Repo
from hitrec.store.model import Person

_tone = itertools.count()


def person(name: str) -> Person:
    return Person(name.capitalize(), f"{name.lower()}@example.org")


class LineageBuilder:
    """Records fragments into a real repo; every media file is a distinct tone so none is a duplicate."""

    def __init__(self, repo: Repo, folder: Path) -> None:
        self.repo = repo
        self.folder = folder

    def _wav(self, seconds: float = 0.2) -> Path:
        n = next(_tone)
        return make_wav(self.folder / f"tone{n}.wav", seconds=seconds, freq=200 + 7 * n, rate=8000, channels=1)

    def original(self, author: str | Person, title: str = "", seconds: float = 0.2) -> str:
        who = author if isinstance(author, Person) else person(author)
        fragment, = self.repo.record([FragmentSpec(self._wav(seconds), title=title or None, author=who)])
        return fragment.id

    def derivative(self, author: str | Person, parents: list[str], title: str = "") -> str:
        who = author if isinstance(author, Person) else person(author)
        fragment, = self.repo.record([FragmentSpec(self._wav(), title=title or None, author=who,
                                                   parents=tuple(parents))])
        return fragment.id

    def remix(self, author: str | Person, clips: list[dict[str, Any]], title: str = "",
              editor_share: float | None = None, parents: list[str] | None = None) -> str:
        """A remix whose stored timeline has ``clips`` (each gets ``at`` 0 unless given) on one track."""
        who = author if isinstance(author, Person) else person(author)
        tracks: dict[str, list[dict[str, Any]]] = {}
        for clip in clips:
            clip = {"at": 0, **clip}
            kind = "text" if "text" in clip else clip.pop("track", "audio")
            tracks.setdefault(kind, []).append(clip)
        # a text clip needs a picture: such a remix renders video (a valid timeline, as a real remix stores)
        output: dict[str, Any] = ({"size": [160, 90], "sample_rate": 8000, "channels": 1} if "text" in tracks
                                  else {"sample_rate": 8000, "channels": 1, "format": "wav"})
        data: dict[str, Any] = {"hitrec": 1, "title": title or "remix", "output": output}
        if editor_share is not None:
            data["credits"] = {"editor_share": editor_share}
        data["tracks"] = [{"kind": kind, "name": kind, "clips": cs} for kind, cs in tracks.items()]
        used = parents if parents is not None else list(dict.fromkeys(
            c["fragment"] for c in clips if "fragment" in c))
        body = yaml.safe_dump(data, sort_keys=False).encode()
        fragment, = self.repo.record([FragmentSpec(self._wav(), title=title or None, author=who,
                                                   parents=tuple(used),
                                                   extra_files={"timeline.yaml": body})])
        return fragment.id
