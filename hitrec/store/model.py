"""The records hitrec keeps: a fragment, its author, its media."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

KINDS = ("audio", "video", "image", "text")
FRAGMENT_FORMAT = 1


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @classmethod
    def parse(cls, text: str) -> Person:
        """Parse ``Name <email>`` as git writes it."""
        name, _, rest = text.partition("<")
        return cls(name.strip(), rest.rstrip(">").strip())


@dataclass(frozen=True)
class MediaInfo:
    """What probing a media file tells; ``None`` where it does not apply."""

    oid: str  # SHA-256 hex of the bytes
    size: int
    filename: str
    kind: str  # audio | video | image | text
    mime: str
    duration: float | None = None  # seconds
    sample_rate: int | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    codec: str | None = None
    has_audio: bool | None = None  # a video with a sound track
    rotation: int | None = None  # degrees the picture turns for display; width/height are after the turn
    frames: int | None = None  # an animated image (GIF, APNG, WebP) recorded as video: its frame count

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _MEDIA_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaInfo:
        if data.keys() <= _MEDIA_FIELD_SET:
            return cls(**data)
        return cls(**{k: v for k, v in data.items() if k in _MEDIA_FIELD_SET})  # a newer hitrec's fields


_MEDIA_FIELDS = tuple(MediaInfo.__dataclass_fields__)
_MEDIA_FIELD_SET = frozenset(_MEDIA_FIELDS)


@dataclass(frozen=True)
class Fragment:
    """One recorded fragment: a git commit whose parents are the fragments it remixes."""

    id: str
    kind: str
    title: str
    author: Person
    created: datetime
    parents: tuple[str, ...]
    tags: tuple[str, ...]
    license: str
    project: str | None
    media: MediaInfo
    has_timeline: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:10]

    def to_json(self, *, media: bool = True) -> dict[str, Any]:
        """The fragment as JSON; ``media=False`` leaves out the ``media`` entry (always the last)."""
        doc = {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "author": {"name": self.author.name, "email": self.author.email},
            "created": self.created.isoformat(),
            "parents": list(self.parents),
            "tags": list(self.tags),
            "license": self.license,
            "project": self.project,
            "has_timeline": self.has_timeline,
        }
        if media:
            doc["media"] = self.media.to_json()
        return doc


@dataclass
class FragmentSpec:
    """What to record: a media file and what to say about it."""

    path: Path
    title: str | None = None
    tags: tuple[str, ...] = ()
    license: str | None = None
    project: str | None = None
    parents: tuple[str, ...] = ()
    extra_files: dict[str, bytes] = field(default_factory=dict)
    author: Person | None = None
    filename: str | None = None
    media: Any = None  # a probe result (kind, mime, duration, ...) when the caller already has one


@dataclass
class RecordResult:
    recorded: list[Fragment]
    existing: list[tuple[FragmentSpec, Fragment]]  # the spec, and the fragment already holding its media
    catalog: str | None
    index_stale: bool = False  # the fragments are recorded; the index (a cache) could not be updated
    #                            (a full disk?) and is rebuilt from git on the next read that can
