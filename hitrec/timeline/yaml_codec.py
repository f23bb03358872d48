"""The ``hitrec: 1`` YAML codec: timeline YAML <-> the model, with the line of every field in errors.

The format is described in docs/timeline.md. Reading is two steps:

- :func:`load_timeline` / :func:`parse_timeline` check syntax, keys, types and ranges, without
  looking at any fragment (this module never touches the repo);
- :func:`hitrec.render.plan.make_plan` resolves fragment references through a resolver and checks
  what needs the media (``from``/``to`` beyond the source, kinds, durations).

YAML is read with a ``SafeLoader`` subclass: no arbitrary tags, every mapping remembers the line of
each key. Every problem raises :class:`~hitrec.errors.TimelineError` naming file, line and field.
:func:`dump_timeline` writes a model back (the normalized form of a remix is written this way).
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any

import yaml

from hitrec.errors import TimelineError
from hitrec.timeline.effects_codec import read_effects, write_value
from hitrec.timeline.model import (
    AUDIO_FORMATS,
    CAPTION_CLIP_KEYS,
    CAPTION_POSITIONS,
    CLIP_KEYS,
    CREDITS_CLIP_KEYS,
    CREDITS_KEYS,
    CREDITS_STYLES,
    CURVES,
    DEFAULT_FPS,
    DEFAULT_SAMPLE_RATE,
    FITS,
    GENERATOR_KEYS,
    MARKER_COLORS,
    MARKER_KEYS,
    MAX_SECONDS,
    MAX_SIZE,
    MEDIA_CLIP_KEYS,
    OUTPUT_KEYS,
    POSITIONS,
    TEXT_CLIP_KEYS,
    TOP_KEYS,
    TRACK_KEYS,
    TRACK_KINDS,
    TRANSITION_KEYS,
    TRANSITIONS,
    VERSION,
    VIDEO_FORMATS,
    Clip,
    Marker,
    Number,
    Output,
    Position,
    Timeline,
    Track,
    Transition,
)

_REF = re.compile(r"^[0-9a-fA-F]{4,40}$")


# --------------------------------------------------------------------------- YAML with lines


class _MarkedDict(dict):
    line: int = 0
    key_lines: dict[Any, int]


class _MarkedList(list):
    line: int = 0
    item_lines: list[int]


# libyaml's parser when PyYAML has it (9x faster than the pure-Python one: credits reads every remix's
# stored timeline through this codec), with the same safe constructors and the same marks.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):
    """A safe loader whose mappings and sequences remember where they are (1-based lines)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _MarkedDict:
    loader.flatten_mapping(node)
    data = _MarkedDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) or key is None:
            raise _Problem("a key must be a plain word", line)
        if key in data:
            raise _Problem(f"duplicate key {key!r}", line)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line
    return data


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _MarkedList:
    data = _MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    return data


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _refuse(loader: _Loader, node: yaml.Node) -> None:
    raise _Problem(f"the YAML tag {node.tag} is not allowed (timelines allow plain YAML only: no tags)",
                   node.start_mark.line + 1)


for _tag in ("omap", "pairs", "set", "binary"):  # only plain mappings, lists and scalars
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)
def _as_text(loader: _Loader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)  # dates stay text


class _Problem(Exception):
    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


# --------------------------------------------------------------------------- loading


def load_timeline(path: Path | str) -> Timeline:
    """Read and validate a timeline file (syntax, keys, types, ranges)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TimelineError(str(path), "no such file") from exc
    except IsADirectoryError as exc:
        raise TimelineError(str(path), "is a folder, not a timeline file") from exc
    except UnicodeDecodeError as exc:
        raise TimelineError(str(path), "not a text file (a timeline is UTF-8 YAML)") from exc
    except OSError as exc:
        raise TimelineError(str(path), f"cannot read: {exc.strerror}") from exc
    return parse_timeline(text, str(path))


def read_yaml(text: str, file: str) -> Any:
    """Parse YAML safely, keeping lines; errors become TimelineError with the line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except _Problem as exc:
        raise TimelineError(file, exc.problem, line=exc.line) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
            problem += " (timelines allow plain YAML only: no tags)"
        raise TimelineError(file, f"YAML syntax error: {problem}", line=line) from exc
    except yaml.YAMLError as exc:
        raise TimelineError(file, f"YAML error: {exc}") from exc
    except RecursionError as exc:
        raise TimelineError(file, "YAML nests too deeply") from exc


def parse_timeline(text: str, file: str = "<timeline>") -> Timeline:
    data = read_yaml(text, file)
    try:
        return _Parser(file).timeline(data)
    except _Problem as exc:  # pragma: no cover - _Parser raises TimelineError itself
        raise TimelineError(file, exc.problem, line=exc.line) from exc


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, problem: str, line: int | None, where: str | None) -> TimelineError:
        return TimelineError(self.file, problem, line=line, field=where)

    # ---- generic checks

    def mapping(self, value: Any, where: str, line: int | None, known: tuple[str, ...],
                what: str) -> _MarkedDict:
        if not isinstance(value, _MarkedDict):  # every mapping _Loader reads is one
            raise self.fail(f"{what} must be a mapping (key: value), got {_type(value)}", line, where)
        for key in value:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; valid keys: {', '.join(known)}"
                raise self.fail(f"unknown key {key!r}{suggestion}", value.key_lines.get(key, line),
                                _join(where, str(key)))
        return value

    def number(self, d: _MarkedDict, key: str, where: str, *, minimum: float | None = 0.0,
               positive: bool = False, maximum: float | None = MAX_SECONDS) -> Number | None:
        if key not in d:
            return None
        value = d[key]
        line = d.key_lines.get(key, d.line)
        path = _join(where, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"must be a number, got {_type(value)}", line, path)
        if not math.isfinite(value):
            raise self.fail("must be a finite number", line, path)
        if positive and value <= 0:
            raise self.fail(f"must be greater than 0, got {value}", line, path)
        if minimum is not None and value < minimum:
            raise self.fail(f"must not be negative, got {value}" if minimum == 0
                            else f"must be at least {minimum}, got {value}", line, path)
        if maximum is not None and value > maximum:
            raise self.fail(f"must be at most {maximum:g}, got {value}", line, path)
        return float(value) if isinstance(value, float) else value

    def boolean(self, d: _MarkedDict, key: str, where: str) -> bool | None:
        if key not in d:
            return None
        if not isinstance(d[key], bool):
            raise self.fail(f"must be true or false, got {_type(d[key])}", d.key_lines[key], _join(where, key))
        return d[key]

    def string(self, d: _MarkedDict, key: str, where: str, *, choices: tuple[str, ...] | None = None,
               nonempty: bool = True) -> str | None:
        if key not in d:
            return None
        value = d[key]
        line = d.key_lines[key]
        path = _join(where, key)
        if not isinstance(value, str):
            raise self.fail(f"must be a string, got {_type(value)}", line, path)
        if nonempty and not value.strip():
            raise self.fail("must not be empty", line, path)
        if choices is not None and value not in choices:
            hint = difflib.get_close_matches(value, choices, n=1, cutoff=0.5)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            if len(choices) > 12:  # transitions and curves: too many to list in one line
                raise self.fail(f"unknown {key} {value!r}{extra or '; the names are listed in docs/timeline.md'}",
                                line, path)
            raise self.fail(f"must be one of {', '.join(choices)}, got {value!r}{extra}", line, path)
        return value

    # ---- the document

    def timeline(self, data: Any) -> Timeline:
        if data is None:
            raise self.fail("empty timeline: expected `hitrec: 1` and `tracks:`", 1, None)
        d = self.mapping(data, "", 1, TOP_KEYS, "a timeline")
        if "hitrec" not in d:
            raise self.fail("missing `hitrec: 1` (the timeline format version)", d.line, "hitrec")
        if isinstance(d["hitrec"], bool) or d["hitrec"] != VERSION:
            raise self.fail(f"unsupported timeline version {d['hitrec']!r}; this hitrec reads version "
                            f"{VERSION}", d.key_lines["hitrec"], "hitrec")
        title = d.get("title")
        if title is not None and not isinstance(title, str):
            raise self.fail(f"must be a string, got {_type(title)}", d.key_lines["title"], "title")
        output = self.output(d.get("output"), d.key_lines.get("output", d.line))
        credits = None
        if "credits" in d:
            c = self.mapping(d["credits"], "credits", d.key_lines["credits"], CREDITS_KEYS, "credits")
            share = self.number(c, "editor_share", "credits", maximum=1.0)
            credits = {} if share is None else {"editor_share": share}
        if "tracks" not in d:
            raise self.fail("missing `tracks:` (a list of video, audio and text tracks)", d.line, "tracks")
        tracks_raw = d["tracks"]
        if not isinstance(tracks_raw, _MarkedList) or not tracks_raw:
            raise self.fail("must be a non-empty list of tracks", d.key_lines["tracks"], "tracks")
        tracks = [self.track(t, i, tracks_raw.item_lines[i]) for i, t in enumerate(tracks_raw)]
        names: dict[str, Track] = {}
        for t in tracks:
            if t.name in names:
                raise self.fail(f"two tracks are named {t.name!r}; track names must be unique",
                                t.name_line or t.line, _join(t.where, "name"))
            names[t.name] = t
        markers = self.markers(d["markers"], d.key_lines["markers"]) if "markers" in d else ()
        timeline = Timeline(self.file, title, output, tracks, credits, markers=markers)
        self.cross_checks(timeline)
        return timeline

    def markers(self, value: Any, line: int) -> tuple[Marker, ...]:
        if not isinstance(value, _MarkedList):
            raise self.fail("must be a list of markers ({at: 12.5, name: ...})", line, "markers")
        out = []
        for i, raw in enumerate(value):
            where = f"markers[{i}]"
            m = self.mapping(raw, where, value.item_lines[i], MARKER_KEYS, "a marker")
            at = self.number(m, "at", where)
            if at is None:
                raise self.fail("a marker needs `at:` (seconds into the piece)", m.line, _join(where, "at"))
            name = self.string(m, "name", where, nonempty=False) or ""
            note = self.string(m, "note", where, nonempty=False)
            out.append(Marker(at, m.line, tuple(str(k) for k in m), self.number(m, "duration", where) or 0, name,
                              self.string(m, "color", where, choices=MARKER_COLORS), note))
        return tuple(out)

    def output(self, value: Any, line: int) -> Output:
        if value is None:
            return Output(None, DEFAULT_FPS, DEFAULT_SAMPLE_RATE, None, 2, line)
        o = self.mapping(value, "output", line, OUTPUT_KEYS, "output")
        size = None
        if "size" in o:
            raw = o["size"]
            sline = o.key_lines["size"]
            if (not isinstance(raw, list) or len(raw) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)):
                raise self.fail("must be [width, height] in whole pixels, e.g. [1280, 720]", sline, "output.size")
            if not all(2 <= v <= MAX_SIZE and v % 2 == 0 for v in raw):
                raise self.fail(f"width and height must be even numbers from 2 to {MAX_SIZE}, got {list(raw)}",
                                sline, "output.size")
            size = (raw[0], raw[1])
        fps = self.number(o, "fps", "output", positive=True, maximum=240)
        rate = o.get("sample_rate")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int)
                                 or not 8000 <= rate <= 192000):
            raise self.fail(f"must be a whole number of Hz from 8000 to 192000, got {rate!r}",
                            o.key_lines["sample_rate"], "output.sample_rate")
        channels = o.get("channels", 2)
        if channels not in (1, 2) or isinstance(channels, bool):
            raise self.fail(f"must be 1 or 2, got {channels!r}", o.key_lines.get("channels"), "output.channels")
        fmt = self.string(o, "format", "output", choices=VIDEO_FORMATS + AUDIO_FORMATS)
        if fmt is not None:
            if size is not None and fmt in AUDIO_FORMATS:
                raise self.fail(f"{fmt} is an audio format but output.size asks for video; use "
                                f"{' or '.join(VIDEO_FORMATS)}, or drop size", o.key_lines["format"], "output.format")
            if size is None and fmt in VIDEO_FORMATS:
                raise self.fail(f"{fmt} is a video format: give output.size (e.g. [1280, 720]) or use "
                                f"{', '.join(AUDIO_FORMATS)}", o.key_lines["format"], "output.format")
        if size is None and "fps" in o:
            raise self.fail("fps needs output.size (an audio-only timeline has no frames)",
                            o.key_lines["fps"], "output.fps")
        loudness = self.number(o, "loudness", "output", minimum=None, maximum=None)
        if loudness is not None and not -70 <= loudness <= -5:
            raise self.fail(f"must be a loudness target from -70 to -5 LUFS (e.g. -16, -23), got {loudness:g}",
                            o.key_lines["loudness"], "output.loudness")
        return Output(size, fps if fps is not None else DEFAULT_FPS, rate or DEFAULT_SAMPLE_RATE, fmt,
                      channels, line, loudness)

    def track(self, value: Any, index: int, line: int) -> Track:
        where = f"tracks[{index}]"
        t = self.mapping(value, where, line, TRACK_KEYS, "a track")
        if "kind" not in t:
            raise self.fail("missing `kind:` (video, audio, text, captions or credits)", t.line, _join(where, "kind"))
        kind = self.string(t, "kind", where, choices=TRACK_KINDS) or ""
        name = t.get("name", f"{kind}{index}")
        if "name" in t and (not isinstance(name, str) or not name.strip()):
            raise self.fail("must be a non-empty string", t.key_lines["name"], _join(where, "name"))
        clips_raw = t.get("clips")
        if not isinstance(clips_raw, _MarkedList) or not clips_raw:
            raise self.fail("must be a non-empty list of clips", t.key_lines.get("clips", t.line),
                            _join(where, "clips"))
        clips = [self.clip(c, kind, f"{where}.clips[{i}]", clips_raw.item_lines[i])
                 for i, c in enumerate(clips_raw)]
        return Track(kind, name, clips, where, t.line, t.key_lines.get("name"))

    def clip(self, value: Any, kind: str, where: str, line: int) -> Clip:
        c = self.mapping(value, where, line, CLIP_KEYS, "a clip")
        allowed = {"text": TEXT_CLIP_KEYS, "captions": CAPTION_CLIP_KEYS, "credits": CREDITS_CLIP_KEYS}.get(
            kind, MEDIA_CLIP_KEYS)
        for key in c:
            if key not in allowed:
                what = "a text clip" if kind == "text" else f"a clip on a {kind} track"
                raise self.fail(f"{key!r} is not valid for {what}", c.key_lines[key], _join(where, key))
        clip = Clip(where=where, line=c.line, lines=dict(c.key_lines), given=tuple(str(k) for k in c))
        if kind == "credits" or (kind == "text" and "credits" in c):
            if kind == "text" and "text" in c:
                raise self.fail("a text clip gives `text:` or `credits:`, not both", c.key_lines["credits"],
                                _join(where, "credits"))
            clip.credits = self.string(c, "credits", where, choices=CREDITS_STYLES) or "roll"
            if "duration" not in c:
                raise self.fail("the credits roll needs `duration:` (seconds on screen)", c.line,
                                _join(where, "duration"))
            self.text_style(c, clip, where)
        elif kind == "text":
            if "text" not in c:
                raise self.fail("a text clip needs `text:` (or `credits: roll` for the piece's credits)", c.line,
                                _join(where, "text"))
            if not isinstance(c["text"], str):
                raise self.fail(f"must be a string, got {_type(c['text'])}", c.key_lines["text"],
                                _join(where, "text"))
            clip.text = c["text"]
            if "duration" not in c:
                raise self.fail("a text clip needs `duration:` (seconds on screen)", c.line,
                                _join(where, "duration"))
            self.text_style(c, clip, where)
        elif kind == "captions":
            self.captions_clip(c, clip, where)
        elif kind == "video" and "fragment" not in c and ("color" in c or "gradient" in c):
            self.generator(c, clip, where)
        else:
            if "fragment" not in c:
                extra = ", or `color:` / `gradient:` for a generated background" if kind == "video" else ""
                raise self.fail(f"a clip on a {kind} track needs `fragment:` (a fragment id){extra}", c.line,
                                _join(where, "fragment"))
            for key in ("color", "gradient"):
                if key in c:
                    raise self.fail(f"{key!r} is for a generated background, a clip with no `fragment:`",
                                    c.key_lines[key], _join(where, key))
            clip.fragment = self.fragment_ref(c, where)
            clip.from_ = self.number(c, "from", where)
            clip.to = self.number(c, "to", where, positive=True)
            if clip.from_ is not None and clip.to is not None and clip.to <= clip.from_:
                raise self.fail(f"`to` ({clip.to}) must be after `from` ({clip.from_})", c.key_lines["to"],
                                _join(where, "to"))
            speed = self.number(c, "speed", where, positive=True, maximum=100)
            if speed is not None:
                if speed < 0.01:
                    raise self.fail(f"must be at least 0.01, got {speed}", c.key_lines["speed"],
                                    _join(where, "speed"))
                clip.speed = speed
            gain = self.number(c, "gain", where, minimum=-120, maximum=60)
            clip.gain = gain if gain is not None else 0.0
            clip.loop = bool(self.boolean(c, "loop", where))
            clip.mute = bool(self.boolean(c, "mute", where))
            clip.fit = self.string(c, "fit", where, choices=FITS) or "contain"
            clip.duck_under = self.string(c, "duck_under", where)
            if "transition" in c:
                clip.transition = self.transition(c["transition"], _join(where, "transition"),
                                                  c.key_lines["transition"])
            read_effects(self, c, clip, kind, where)
        clip.at = self.number(c, "at", where)
        clip.duration = self.number(c, "duration", where, positive=True)
        if kind == "captions":
            clip.weight = self.number(c, "weight", where, maximum=None)
            return clip
        clip.fade_in = self.number(c, "fade_in", where) or 0.0
        clip.fade_out = self.number(c, "fade_out", where) or 0.0
        clip.weight = self.number(c, "weight", where, maximum=None)
        if "position" in c:
            clip.position = self.position(c, where)
        return clip

    def text_style(self, c: _MarkedDict, clip: Clip, where: str) -> None:
        size = c.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000):
            raise self.fail(f"must be a whole number of pixels from 1 to 1000, got {size!r}",
                            c.key_lines["size"], _join(where, "size"))
        clip.size = size
        clip.color = self.color(c, where)
        clip.font = self.string(c, "font", where)

    def captions_clip(self, c: _MarkedDict, clip: Clip, where: str) -> None:
        """A clip on a captions track: a text fragment holding SRT or WebVTT, and how to draw it."""
        if "fragment" not in c:
            raise self.fail("a captions clip needs `fragment:` (a text fragment holding SRT or WebVTT)", c.line,
                            _join(where, "fragment"))
        clip.fragment = self.fragment_ref(c, where)
        size = c.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000):
            raise self.fail(f"must be a whole number of pixels from 1 to 1000, got {size!r}", c.key_lines["size"],
                            _join(where, "size"))
        clip.size = size
        clip.color = self.color(c, where)
        clip.font = self.string(c, "font", where)
        clip.outline = self.number(c, "outline", where, maximum=50)
        clip.position = self.string(c, "position", where, choices=CAPTION_POSITIONS) or "bottom"

    def fragment_ref(self, c: _MarkedDict, where: str) -> str:
        ref = c["fragment"]
        if isinstance(ref, int) and not isinstance(ref, bool):
            ref = str(ref)  # an all-digit id prefix reads as a number in YAML
        if not isinstance(ref, str) or not _REF.match(ref):
            raise self.fail(f"must be a fragment id (4 to 40 hex characters), got {ref!r}; timelines "
                            "name fragments by id, never by file path", c.key_lines["fragment"],
                            _join(where, "fragment"))
        return ref.lower()

    def generator(self, c: _MarkedDict, clip: Clip, where: str) -> None:
        """A colour or gradient background: no fragment, the editor's in credits."""
        for key in c:
            if key not in GENERATOR_KEYS:
                raise self.fail(f"{key!r} is not valid for a generated background (a `color:` or `gradient:` "
                                "clip)", c.key_lines[key], _join(where, key))
        if "color" in c and "gradient" in c:
            raise self.fail("give `color:` or `gradient:`, not both", c.key_lines["gradient"],
                            _join(where, "gradient"))
        if "duration" not in c:
            raise self.fail("a generated background needs `duration:`", c.line, _join(where, "duration"))
        clip.color = self.color(c, where)
        if "transition" in c:
            clip.transition = self.transition(c["transition"], _join(where, "transition"), c.key_lines["transition"])
        read_effects(self, c, clip, "video", where)

    def transition(self, value: Any, where: str, line: int) -> Transition:
        t = self.mapping(value, where, line, TRANSITION_KEYS, "a transition")
        kind = self.string(t, "type", where, choices=TRANSITIONS) or "crossfade"
        duration = self.number(t, "duration", where, positive=True)
        if duration is None:
            raise self.fail("a transition needs `duration:` (seconds)", t.line, _join(where, "duration"))
        curve = self.string(t, "curve", where, choices=CURVES)
        return Transition(kind, duration, type_given="type" in t, curve=curve)

    def position(self, c: _MarkedDict, where: str) -> Position:
        value = c["position"]
        line = c.key_lines["position"]
        if isinstance(value, str):
            return self.string(c, "position", where, choices=POSITIONS) or "center"
        if (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        and abs(v) <= 100000 for v in value)):
            return (value[0], value[1])
        raise self.fail(f"must be one of {', '.join(POSITIONS)} or [x, y] in pixels, got {value!r}",
                        line, _join(where, "position"))

    def color(self, c: _MarkedDict, where: str) -> str | None:
        if "color" not in c:
            return None
        value = c["color"]
        line = c.key_lines["color"]
        try:
            from PIL import ImageColor

            if not isinstance(value, str):
                raise ValueError
            rgb = ImageColor.getrgb(value)
        except ValueError as exc:
            raise self.fail(f"must be a colour name (white, gold, ...) or #rrggbb, got {value!r}", line,
                            _join(where, "color")) from exc
        return "#" + "".join(f"{v:02x}" for v in rgb[:3])

    def cross_checks(self, timeline: Timeline) -> None:
        visual = [t for t in timeline.tracks if t.kind != "audio"]
        if visual and not timeline.output.has_video:
            t = visual[0]
            raise self.fail(f"a {t.kind} track needs a picture: give output.size (e.g. [1280, 720])",
                            t.line, t.where)
        names = {t.name: t for t in timeline.tracks}
        for track in timeline.tracks:
            for i, clip in enumerate(track.clips):
                if clip.transition is not None and i == 0:
                    raise self.fail("the first clip of a track has nothing to cross-fade from",
                                    clip.line_of("transition"), _join(clip.where, "transition"))
                if clip.duck_under is not None:
                    target = names.get(clip.duck_under)
                    line = clip.line_of("duck_under")
                    path = _join(clip.where, "duck_under")
                    if target is None:
                        hint = difflib.get_close_matches(clip.duck_under, list(names), n=1, cutoff=0.5)
                        extra = f"; did you mean {hint[0]!r}?" if hint else ""
                        raise self.fail(f"no track named {clip.duck_under!r}{extra}", line, path)
                    if target is track:
                        raise self.fail("a clip cannot duck under its own track", line, path)
                    if target.kind in ("text", "captions", "credits"):
                        raise self.fail(f"track {target.name!r} is a {target.kind} track and has no sound", line, path)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --------------------------------------------------------------------------- writing


def to_data(timeline: Timeline) -> dict[str, Any]:
    """The timeline as plain YAML data: ``hitrec: 1``, the title, an explicit output, the credits, and
    each clip's given keys in the order given."""
    out: dict[str, Any] = {"hitrec": VERSION}
    if timeline.title is not None:
        out["title"] = timeline.title
    o = timeline.output
    output: dict[str, Any] = {}
    if o.size is not None:
        output["size"] = list(o.size)
        output["fps"] = _plain_number(o.fps)
    output["sample_rate"] = o.sample_rate
    output["channels"] = o.channels
    if o.format is not None:
        output["format"] = o.format
    if o.loudness is not None:
        output["loudness"] = o.loudness
    out["output"] = output
    if timeline.credits is not None:
        out["credits"] = dict(timeline.credits)
    if timeline.markers:
        out["markers"] = [{k: getattr(m, k) for k in m.given} for m in timeline.markers]
    out["tracks"] = [{"kind": t.kind, "name": t.name, "clips": [_clip_data(c) for c in t.clips]}
                     for t in timeline.tracks]
    return out


def dump_timeline(timeline: Timeline) -> bytes:
    """The timeline as ``hitrec: 1`` YAML (UTF-8); :func:`parse_timeline` reads it back to the same model."""
    return yaml.safe_dump(to_data(timeline), sort_keys=False, allow_unicode=True).encode("utf-8")


def _clip_data(clip: Clip) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for key in clip.given:
        value = _clip_value(clip, key)
        if value is not None:
            d[key] = value
    return d


def _clip_value(clip: Clip, key: str) -> Any:
    if key == "transition":
        t = clip.transition
        if t is None:
            return None
        data: dict[str, Any] = {"type": t.type} if t.type_given else {}
        data["duration"] = t.duration
        if t.curve is not None:
            data["curve"] = t.curve
        return data
    if key == "position":
        return clip.position if isinstance(clip.position, str) else list(clip.position)
    if key in ("keyframes", "gradient"):
        return write_value(clip, key)
    return getattr(clip, "from_" if key == "from" else key)


def _plain_number(value: float) -> Number:
    return int(value) if float(value).is_integer() else value
