"""The lineage a piece's value flows down: nodes (fragments) and the uses that link them.

``LineageGraph`` is the small protocol the credits computation reads; ``MemoryGraph`` holds nodes in a
dict (tests, benchmarks), ``RepoGraph`` reads them from a hitrec repo: a fragment's commit gives its
author and parents ("remix-of"), the ``timeline.yaml`` stored in a remix's commit gives its clips.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from hitrec.errors import AmbiguousFragmentError, CorruptRepoError, CreditsError, UnknownFragmentError
from hitrec.store.model import Person

if TYPE_CHECKING:
    from hitrec.store import Repo

DEFAULT_EDITOR_SHARE = Fraction(1, 5)
DEFAULT_DERIVATIVE_SHARE = Fraction(1, 2)


@dataclass(frozen=True, slots=True)
class ClipUse:
    """One clip of a remix's timeline as credits sees it."""

    fragment: str | None  # full fragment id; None for a text clip (it belongs to the editor)
    use: Fraction  # the clip's weight if given, else its duration: exact, it decides shares
    seconds: float  # how long it lasts on the output timeline: for display only
    at: float = 0.0
    track: str = ""
    weighted: bool = False  # True when ``use`` came from an explicit weight


@dataclass(frozen=True, slots=True)
class Timeline:
    """What credits needs from a remix's timeline: its clips and an optional editor share."""

    clips: tuple[ClipUse, ...]
    editor_share: Fraction | None = None  # ``credits: {editor_share: x}``; None = the repo default

    @property
    def length(self) -> float:
        """The output's length in seconds: the end of its last clip."""
        return max((c.at + c.seconds for c in self.clips), default=0.0)


@dataclass(frozen=True, slots=True)
class Node:
    """One fragment in the lineage."""

    id: str
    author: Person
    title: str = ""
    kind: str = "audio"
    parents: tuple[str, ...] = ()
    timeline: Timeline | None = None
    duration: float | None = None  # the media's own length in seconds, if it has one

    @property
    def role(self) -> str:
        """``original`` (no parents), ``remix`` (has a timeline) or ``derivative`` (parents, no timeline)."""
        if self.timeline is not None:
            return "remix"
        return "derivative" if self.parents else "original"

    @property
    def sources(self) -> list[str]:
        """The fragments this one passes value on to, each once, in order of first use."""
        if self.timeline is not None:
            seen: dict[str, None] = {}
            for clip in self.timeline.clips:
                if clip.fragment is not None:
                    seen[clip.fragment] = None
            return list(seen)
        return list(dict.fromkeys(self.parents))


@dataclass(frozen=True, slots=True)
class CreditRules:
    """The shares an editor (of a remix) and an author (of a derivative) keep before passing value on."""

    editor_share: Fraction = DEFAULT_EDITOR_SHARE
    derivative_share: Fraction = DEFAULT_DERIVATIVE_SHARE

    def __post_init__(self) -> None:
        for name in ("editor_share", "derivative_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise CreditsError(f"credits.{name} must be between 0 and 1, got {value}")


class LineageGraph(Protocol):
    """What the credits computation reads. ``get`` returns None for a fragment the graph lacks."""

    def resolve(self, ref: str) -> str: ...

    def get(self, fragment_id: str) -> Node | None: ...


class MemoryGraph:
    """A lineage held in memory: for tests, benchmarks, and lineages built by other tools."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[str, Node] = {}
        self._sorted: list[str] | None = None
        self.get = self._nodes.get  # type: ignore[method-assign]  # the dict's own lookup: no Python frame
        for node in nodes:
            self.add(node)

    def add(self, node: Node) -> None:
        self._nodes[node.id] = node
        self._sorted = None

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._nodes.values())

    def get(self, fragment_id: str) -> Node | None:
        return self._nodes.get(fragment_id)

    def resolve(self, ref: str) -> str:
        if ref in self._nodes:
            return ref
        if self._sorted is None:
            self._sorted = sorted(self._nodes)
        ids = self._sorted
        start = bisect.bisect_left(ids, ref)
        matches = []
        for fid in ids[start:]:
            if not fid.startswith(ref):
                break
            matches.append(fid)
        if not matches:
            raise UnknownFragmentError(ref)
        if len(matches) > 1:
            raise AmbiguousFragmentError(ref, matches)
        return matches[0]


# --- reading a repo -------------------------------------------------------------------------------


def to_fraction(value: Any, where: str) -> Fraction:
    """An exact number from YAML: ints as is, floats by their shortest decimal form (0.1 is 1/10)."""
    if isinstance(value, bool) or value is None:
        raise CreditsError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    try:
        if isinstance(value, float):
            return Fraction(repr(value))
        if isinstance(value, str):
            return Fraction(value.strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise CreditsError(f"{where}: expected a number, got {value!r}") from exc
    raise CreditsError(f"{where}: expected a number, got {value!r}")


def parse_share(value: Any, where: str) -> Fraction:
    share = to_fraction(value, where)
    if not 0 <= share <= 1:
        raise CreditsError(f"{where}: a share must be between 0 and 1, got {value!r}")
    return share


def timeline_from_data(data: Any, where: str) -> Timeline:
    """Credits' view of a stored (normalized) timeline: every clip has numeric ``at`` and ``duration``."""
    if not isinstance(data, dict):
        raise CreditsError(f"{where}: a timeline must be a mapping")
    editor_share = None
    credits = data.get("credits")
    if isinstance(credits, dict) and credits.get("editor_share") is not None:
        editor_share = parse_share(credits["editor_share"], f"{where}: credits.editor_share")
    clips: list[ClipUse] = []
    tracks = data.get("tracks") or []
    if not isinstance(tracks, list):
        raise CreditsError(f"{where}: tracks must be a list")
    for t, track in enumerate(tracks):
        if not isinstance(track, dict):
            raise CreditsError(f"{where}: tracks[{t}] must be a mapping")
        name = str(track.get("name") or track.get("kind") or f"track {t + 1}")
        for c, clip in enumerate(track.get("clips") or []):
            field = f"{where}: tracks[{t}].clips[{c}]"
            if not isinstance(clip, dict):
                raise CreditsError(f"{field} must be a mapping")
            clips.append(_clip_from_data(clip, field, name))
    return Timeline(tuple(clips), editor_share)


def _clip_from_data(clip: dict[str, Any], field: str, track: str) -> ClipUse:
    at = to_fraction(clip.get("at", 0), f"{field}.at")
    if clip.get("duration") is not None:
        seconds = to_fraction(clip["duration"], f"{field}.duration")
    elif clip.get("to") is not None:  # tolerate an un-normalized clip: its length from from/to/speed
        speed = to_fraction(clip.get("speed", 1), f"{field}.speed") or Fraction(1)
        seconds = (to_fraction(clip["to"], f"{field}.to") - to_fraction(clip.get("from", 0), f"{field}.from"))
        seconds /= speed
    else:
        raise CreditsError(f"{field}: a stored clip needs a numeric duration; re-record the remix")
    if seconds < 0:
        raise CreditsError(f"{field}.duration: must not be negative, got {seconds}")
    weighted = clip.get("weight") is not None
    use = to_fraction(clip["weight"], f"{field}.weight") if weighted else seconds
    if use < 0:
        raise CreditsError(f"{field}.weight: must not be negative, got {clip['weight']!r}")
    fragment = clip.get("fragment")
    return ClipUse(str(fragment) if fragment is not None else None, use, float(seconds), float(at), track,
                   weighted)


def load_yaml(data: bytes, where: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        raise CreditsError(f"{where}: the stored timeline is not valid YAML: {exc}") from exc


def rules_from_config(repo: Repo) -> CreditRules:
    """``credits.editor_share`` and ``credits.derivative_share`` from the repo config, else the defaults."""
    values = {}
    for name, default in (("editor_share", DEFAULT_EDITOR_SHARE),
                          ("derivative_share", DEFAULT_DERIVATIVE_SHARE)):
        raw = repo.config_get(f"credits.{name}")
        values[name] = default if raw in (None, "") else parse_share(raw, f"config credits.{name}")
    return CreditRules(**values)


class RepoGraph:
    """The lineage stored in a hitrec repo, read lazily and cached: fragment commits and their timelines.

    Timelines are read through one ``git cat-file --batch`` process when git is installed (faster than
    three dulwich object reads per remix), else through dulwich. ``close()`` (or ``with``) ends it.
    """

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._cache: dict[str, Node | None] = {}
        self._index: Any = None
        self._batch: Any = None  # the cat-file process; False once it is known to be unavailable

    def __enter__(self) -> RepoGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        batch, self._batch = self._batch, False
        if batch:
            try:
                batch.stdin.close()
                batch.wait(timeout=5)
            except Exception:  # a process that will not end on EOF
                batch.kill()
                batch.wait()

    def _timeline_bytes(self, fragment_id: str) -> bytes | None:
        if self._batch is None:
            self._batch = self._start_batch()
        if self._batch:
            try:
                return self._read_batch(fragment_id)
            except (OSError, ValueError):
                self.close()  # fall back to dulwich from here on
        return self.repo.read_fragment_file(fragment_id, "timeline.yaml")

    def _start_batch(self) -> Any:
        import shutil
        import subprocess

        git = shutil.which("git")
        if git is None:
            return False
        try:
            return subprocess.Popen([git, "--git-dir", str(self.repo.git_dir), "cat-file", "--batch"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            return False

    def _read_batch(self, fragment_id: str) -> bytes | None:
        batch = self._batch
        batch.stdin.write(f"{fragment_id}:timeline.yaml\n".encode())
        batch.stdin.flush()
        header = batch.stdout.readline().split()
        if len(header) != 3:  # "<name> missing" (or git is gone: ValueError below)
            if len(header) == 2 and header[1] == b"missing":
                return None
            raise ValueError(f"unexpected git cat-file answer {header!r}")
        size = int(header[2])
        data = batch.stdout.read(size + 1)  # the content and a newline
        if len(data) != size + 1:
            raise ValueError("git cat-file ended early")
        return data[:size]

    def resolve(self, ref: str) -> str:
        return self.repo.resolve(ref)

    def get(self, fragment_id: str) -> Node | None:
        if fragment_id in self._cache:
            return self._cache[fragment_id]
        node = self._load(fragment_id)
        self._cache[fragment_id] = node
        return node

    def _load(self, fragment_id: str) -> Node | None:
        if len(fragment_id) != 40 or not set(fragment_id) <= _HEX:
            return None
        if self._index is None:
            self._index = self.repo.index  # brought up to date with the catalog once, then reused
        try:
            fragment = self._index.get(fragment_id) or self.repo.load_fragment(fragment_id)
        except (UnknownFragmentError, CorruptRepoError):
            return None
        timeline = None
        if fragment.has_timeline:
            raw = self._timeline_bytes(fragment.id)
            if raw is not None:
                where = f"timeline.yaml of {fragment.id[:10]}"
                timeline = timeline_from_data(load_yaml(raw, where), where)
        duration = fragment.media.duration
        return Node(
            id=fragment.id,
            author=fragment.author,
            title=fragment.title,
            kind=fragment.kind,
            parents=tuple(fragment.parents),
            timeline=timeline,
            duration=float(duration) if duration is not None else None,
        )


_HEX = frozenset("0123456789abcdef")
