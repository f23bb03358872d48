"""The lineage a piece's value flows down: nodes (fragments) and the uses that link them.

``LineageGraph`` is the small protocol the credits computation reads; ``MemoryGraph`` holds nodes in a
dict (tests, benchmarks), ``RepoGraph`` reads them from a hitrec repo: a fragment's commit gives its
author and parents ("remix-of"), the normalized ``timeline.yaml`` stored in a remix's commit (read by the
timeline codec, :mod:`hitrec.timeline`) gives the clips it uses: their fragments, weights and durations.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Literal, Protocol

from hitrec.credits.numbers import parse_share, to_fraction
from hitrec.errors import AmbiguousFragmentError, CorruptRepoError, CreditsError, UnknownFragmentError
from hitrec.store.format import TIMELINE_YAML
from hitrec.store.model import Person

if TYPE_CHECKING:
    from subprocess import Popen

    from hitrec.store import Repo
    from hitrec.store.index import Index
    from hitrec.timeline import Timeline

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
class RemixUses:
    """What credits needs from a remix's timeline: the clips it uses and an optional editor share."""

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
    timeline: RemixUses | None = None  # a remix's: read from its stored timeline
    duration: float | None = None  # the media's own length in seconds, if it has one

    @property
    def role(self) -> str:
        """``original`` (no parents), ``remix`` (has a timeline) or ``derivative`` (parents, no timeline)."""
        if self.timeline is not None:
            return "remix"
        return "derivative" if self.parents else "original"

    @property
    def upstream(self) -> list[str]:
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

    get: Callable[[str], Node | None]  # the dict's own lookup (no Python frame): it is called per step

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self._nodes: dict[str, Node] = {}
        self._sorted: list[str] | None = None
        self.get = self._nodes.get
        for node in nodes:
            self.add(node)

    def add(self, node: Node) -> None:
        self._nodes[node.id] = node
        self._sorted = None

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

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


def uses_of(timeline: Timeline, where: str) -> RemixUses:
    """Credits' view of a stored (normalized) timeline: every clip has an explicit numeric ``duration``."""
    editor_share = None
    if timeline.credits and timeline.credits.get("editor_share") is not None:
        editor_share = parse_share(timeline.credits["editor_share"], f"{where}: credits.editor_share",
                                   CreditsError)
    clips: list[ClipUse] = []
    for t, track in enumerate(timeline.tracks):
        for c, clip in enumerate(track.clips):
            field = f"{where}: tracks[{t}].clips[{c}]"
            if clip.duration is None:
                raise CreditsError(f"{field}: a stored clip needs a numeric duration; re-record the remix")
            seconds = to_fraction(clip.duration, f"{field}.duration")
            weighted = clip.weight is not None
            use = to_fraction(clip.weight, f"{field}.weight") if weighted else seconds
            clips.append(ClipUse(clip.fragment, use, float(seconds), float(clip.at or 0), track.name, weighted))
    return RemixUses(tuple(clips), editor_share)


def read_stored_timeline(data: bytes, where: str) -> RemixUses:
    """A remix's stored ``timeline.yaml`` through the timeline codec (its errors name file, line, field)."""
    from hitrec.timeline import parse_timeline

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CreditsError(f"{where}: the stored timeline is not UTF-8 text") from exc
    return uses_of(parse_timeline(text, where), where)


def rules_from_config(repo: Repo) -> CreditRules:
    """``credits.editor_share`` and ``credits.derivative_share`` from the repo config, else the defaults."""
    values = {}
    for name, default in (("editor_share", DEFAULT_EDITOR_SHARE),
                          ("derivative_share", DEFAULT_DERIVATIVE_SHARE)):
        raw = repo.config_get(f"credits.{name}")
        values[name] = (default if raw in (None, "")
                        else parse_share(raw, f"config credits.{name}", CreditsError))
    return CreditRules(**values)


class RepoGraph:
    """The lineage stored in a hitrec repo, read lazily and cached: fragment commits and their timelines.

    Timelines are read through one ``git cat-file --batch`` process when git is installed (faster than
    three dulwich object reads per remix), else through dulwich. ``close()`` (or ``with``) ends it.
    """

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._cache: dict[str, Node | None] = {}
        self._index: Index | None = None
        self._batch: Popen[bytes] | Literal[False] | None = None  # cat-file; None: not started, False: none

    def __enter__(self) -> RepoGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        batch, self._batch = self._batch, False
        if batch:
            try:
                assert batch.stdin is not None
                batch.stdin.close()
                batch.wait(timeout=5)
            except Exception:  # a process that will not end on EOF
                batch.kill()
                batch.wait()

    def _timeline_bytes(self, fragment_id: str) -> bytes:
        if self._batch is None:
            self._batch = self._start_batch() or False
        data: bytes | None
        if self._batch:
            try:
                data = self._read_batch(self._batch, fragment_id)
            except (OSError, ValueError):
                self.close()  # fall back to dulwich from here on
            else:
                if data is not None:
                    return data
        try:
            data = self.repo.read_fragment_file(fragment_id, TIMELINE_YAML)
        except KeyError as exc:  # dulwich: an object is missing
            data = None
            cause: BaseException | None = exc
        else:
            cause = None
        if data is None:
            raise CorruptRepoError(f"the timeline of remix {fragment_id[:12]} is missing from the git objects; "
                                   "run `hitrec fsck`, and `hitrec pull` to fetch it again") from cause
        return data

    def _start_batch(self) -> Popen[bytes] | None:
        import shutil
        import subprocess

        git = shutil.which("git")
        if git is None:
            return None
        try:
            return subprocess.Popen([git, "--git-dir", str(self.repo.git_dir), "cat-file", "--batch"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            return None

    @staticmethod
    def _read_batch(batch: Popen[bytes], fragment_id: str) -> bytes | None:
        assert batch.stdin is not None and batch.stdout is not None
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
            timeline = read_stored_timeline(self._timeline_bytes(fragment.id), f"timeline.yaml of {fragment.id[:10]}")
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
