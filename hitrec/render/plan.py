"""A validated timeline + its fragments -> a render plan: every clip placed on the output timeline.

Fragments are looked up through a :class:`Resolver` (``ref -> Input``), so the plan can be made
against the repo (:class:`RepoResolver`) or anything else that knows fragments and their media.
The plan is what both engines render and what ``remix --dry-run`` prints; :meth:`Plan.normalized`
is the timeline stored in a remix commit (every reference a full id, every clip with explicit
numeric ``at`` and ``duration``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hitrec.errors import FragmentError, TimelineError
from hitrec.render.captions import Cue
from hitrec.render.effects_plan import place_captions, place_effects, place_freeze
from hitrec.store.model import MediaInfo
from hitrec.timeline.model import (
    AUDIO_FORMATS,
    MAX_SECONDS,
    VIDEO_FORMATS,
    Clip,
    Gradient,
    Keyframe,
    Output,
    Position,
    Timeline,
)
from hitrec.timeline.normalize import normalize
from hitrec.timeline.yaml_codec import dump_timeline

if TYPE_CHECKING:
    from collections.abc import Callable

    from hitrec.store import Fragment, Repo

EPS = 1e-6
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
MP3_RATES = (48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
SOURCE_TOLERANCE = 0.05  # seconds a probed duration may be off (container vs stream duration)


@dataclass(frozen=True)
class Input:
    """A fragment as the renderer needs it: its id, kind, licence, media facts and media file."""

    id: str
    kind: str
    license: str
    media: MediaInfo
    path: Path
    title: str = ""


class Resolver(Protocol):
    def resolve(self, ref: str) -> Input:
        """The fragment a unique id prefix names; UnknownFragmentError / AmbiguousFragmentError."""
        ...


class RepoResolver:
    """Resolve fragment references in a hitrec repo. The media files it hands out (``Input.path``) come
    from the repo's media store (``MediaStore.local_path``) and stay valid until the resolver is closed:
    use it as a context manager around planning and rendering."""

    def __init__(self, repo: Repo, fetch: Callable[[Fragment], None] | None = None) -> None:
        self.repo = repo
        self.fetch = fetch  # brings a fragment's absent media (hitrec.sync.fetch), if given
        self._paths: dict[str, Path] = {}
        self._held = contextlib.ExitStack()

    def resolve(self, ref: str) -> Input:
        fragment = self.repo.fragment(ref)
        oid = fragment.media.oid
        path = self._paths.get(oid)
        if path is None:
            if not self.repo.media.has(oid) and self.fetch is not None:
                self.fetch(fragment)
            if not self.repo.media.has(oid):
                raise FragmentError(f"the media of fragment {fragment.id[:10]} is not in this repo; "
                                    "run `hitrec pull` to fetch it")
            path = self._paths[oid] = self._held.enter_context(self.repo.media.local_path(oid))
        return Input(fragment.id, fragment.kind, fragment.license, fragment.media, path, fragment.title)

    def close(self) -> None:
        self._held.close()
        self._paths.clear()

    def __enter__(self) -> RepoResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InputsResolver:
    """Resolve unique id prefixes among a fixed set of inputs (benchmarks, tools, tests)."""

    def __init__(self, inputs: list[Input]) -> None:
        self.inputs = {i.id: i for i in inputs}

    @classmethod
    def from_files(cls, files: dict[str, Path], license: str = "CC-BY-4.0") -> InputsResolver:
        """Inputs for media files, probed in-process; keys are the (hex) ids to give them."""
        from hitrec.media.probe import probe

        inputs = []
        for fid, path in files.items():
            p = probe(Path(path))
            info = MediaInfo(oid="", size=Path(path).stat().st_size, filename=Path(path).name, kind=p.kind,
                             mime=p.mime, duration=p.duration, sample_rate=p.sample_rate, channels=p.channels,
                             width=p.width, height=p.height, fps=p.fps, codec=p.codec, has_audio=p.has_audio,
                             rotation=p.rotation, frames=p.frames)
            inputs.append(Input(fid, p.kind, license, info, Path(path), Path(path).stem))
        return cls(inputs)

    def resolve(self, ref: str) -> Input:
        from hitrec.errors import AmbiguousFragmentError, UnknownFragmentError

        matches = sorted(fid for fid in self.inputs if fid.startswith(ref.lower()))
        if not matches:
            raise UnknownFragmentError(ref)
        if len(matches) > 1:
            raise AmbiguousFragmentError(ref, matches)
        return self.inputs[matches[0]]


@dataclass
class PlannedClip:
    track: int
    kind: str  # video | image | audio | text | generator | captions | credits
    where: str
    at: float
    duration: float
    input: Input | None = None  # the fragment it shows or plays; None for a text clip
    src_from: float = 0.0
    src_len: float = 0.0  # seconds of source read from src_from (before speed and loop)
    speed: float = 1.0
    loop: bool = False
    gain: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    audio_fade_in: float = 0.0  # fades plus cross-fades with the neighbours
    audio_fade_out: float = 0.0
    transition: float = 0.0  # seconds of cross-fade from the previous clip on the track
    transition_type: str = "fade"  # xfade's name for it
    transition_out: float = 0.0  # seconds of cross-fade into the next clip on the track
    curve_in: str = "tri"  # afade curves of the sound's fade in and fade out
    curve_out: str = "tri"
    mute: bool = False
    fit: str = "contain"
    position: Position = "center"
    duck_under: str | None = None
    text: str | None = None
    size: int | None = None
    color: str | None = None
    font: str | None = None
    # effects (docs/timeline.md): resolved keyframes of the picture and of the gain, a freeze frame
    keyframes: tuple[Keyframe, ...] = ()  # scale, position, opacity over the clip (clip-local t)
    gain_keyframes: tuple[Keyframe, ...] = ()
    freeze: float | None = None  # the source time of a held frame
    scale: float = 1.0  # picture in picture: drawn at this fraction of the frame
    gradient: Gradient | None = None  # a generator clip's gradient (else ``color`` is its colour)
    cues: tuple[Cue, ...] = ()  # a captions clip's cues, in clip time
    credits_style: str | None = None  # a credits clip: roll | cards
    credit_lines: tuple[str, ...] = ()  # its lines, from the lineage (hitrec.credits.roll.fill_credits)
    outline: float | None = None

    @property
    def end(self) -> float:
        return self.at + self.duration

    @property
    def time_dependent(self) -> bool:
        """Whether the clip renders differently along its length in ways a window starting part-way into it
        cannot reproduce: a transition in or out, keyframes or Ken Burns motion, gain automation, a freeze
        frame. A segmenting renderer keeps such a clip whole inside one window."""
        return bool(self.transition or self.transition_out or self.keyframes or self.gain_keyframes
                    or self.freeze is not None or self.kind == "credits")

    @property
    def has_sound(self) -> bool:
        if self.kind == "audio":
            return True
        return self.kind == "video" and not self.mute and bool(self.input and self.input.media.has_audio)


@dataclass
class PlannedTrack:
    index: int
    kind: str
    name: str
    clips: list[PlannedClip]


@dataclass
class Plan:
    timeline: Timeline
    output: Output  # format resolved
    tracks: list[PlannedTrack]
    length: float
    inputs: dict[str, Input] = field(default_factory=dict)  # the fragments it renders, first use first
    captions_burned: bool = True  # False: captions go in a subtitle stream (render --captions), not the picture
    draft: bool = False  # hitrec.render.draft: sources decoded and scaled for speed (DRAFT_DECODE, DRAFT_SCALER)

    @property
    def format(self) -> str:
        assert self.output.format is not None
        return self.output.format

    @property
    def has_video(self) -> bool:
        return self.output.has_video

    @property
    def fragment_ids(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    def clips(self, *kinds: str) -> list[PlannedClip]:
        return [c for t in self.tracks for c in t.clips if not kinds or c.kind in kinds]

    def normalized(self) -> Timeline:
        """The timeline as stored in a remix: full ids, explicit ``at``/``duration``, explicit output."""
        placements = [[(c.input.id if c.input is not None else None, c.at, c.duration) for c in t.clips]
                      for t in self.tracks]
        return normalize(self.timeline, self.output, placements)

    def normalized_yaml(self) -> bytes:
        return dump_timeline(self.normalized())

    def describe(self) -> dict[str, Any]:
        """What `remix --dry-run` shows: output, length, fragments, tracks and clips."""
        o = self.output
        return {
            "output": {"size": list(o.size) if o.size else None, "fps": o.fps if o.size else None,
                       "sample_rate": o.sample_rate, "channels": o.channels, "format": o.format},
            "length": round(self.length, 6),
            "fragments": [
                {"id": s.id, "kind": s.kind, "title": s.title, "license": s.license} for s in self.inputs.values()
            ],
            "tracks": [
                {"kind": t.kind, "name": t.name, "clips": [
                    {"fragment": c.input.id if c.input else None, "kind": c.kind, "text": c.text,
                     "at": round(c.at, 6), "duration": round(c.duration, 6), "end": round(c.end, 6),
                     "from": round(c.src_from, 6) if c.input else None}
                    for c in t.clips]}
                for t in self.tracks
            ],
        }


def resolve_format(timeline: Timeline, out: Path | None) -> str:
    """The output format: the timeline's, else the output file's extension, else mp4 / wav."""
    want = timeline.output.format
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    allowed = VIDEO_FORMATS if timeline.output.has_video else AUDIO_FORMATS
    if want is not None:
        if out is not None and suffix and suffix != want and suffix in VIDEO_FORMATS + AUDIO_FORMATS:
            raise TimelineError(timeline.file, f"the timeline renders {want} but the output file is "
                                f"{out.name}; name it *.{want} or change output.format",
                                line=timeline.output.line, field="output.format")
        return want
    if suffix in allowed:
        return suffix
    if suffix in VIDEO_FORMATS + AUDIO_FORMATS:
        what = "video" if timeline.output.has_video else "audio-only"
        raise TimelineError(timeline.file, f"a {what} timeline cannot render to .{suffix}; use "
                            f"{', '.join(allowed)}", line=timeline.output.line, field="output.format")
    return allowed[0]


def make_plan(timeline: Timeline, resolver: Resolver, fmt: str | None = None) -> Plan:
    """Resolve every fragment and place every clip; errors name the file, line and field."""
    fmt = fmt or timeline.output.format or (VIDEO_FORMATS if timeline.output.has_video else AUDIO_FORMATS)[0]
    o = timeline.output
    if fmt == "webm" and o.sample_rate not in OPUS_RATES:
        raise timeline.error(f"webm carries Opus audio, which runs at 48000 Hz (or 24000, 16000, 12000, 8000), "
                             f"not {o.sample_rate}; change output.sample_rate or render mp4",
                             line=o.line, where="output.sample_rate")
    if fmt == "mp3" and o.sample_rate not in MP3_RATES:
        raise timeline.error(f"mp3 cannot carry {o.sample_rate} Hz; use 48000, 44100, 32000, 24000, 22050, "
                             "16000, 12000, 11025 or 8000", line=o.line, where="output.sample_rate")
    output = dataclasses.replace(o, format=fmt)
    inputs: dict[str, Input] = {}
    cache: dict[str, Input] = {}
    tracks: list[PlannedTrack] = []
    for ti, track in enumerate(timeline.tracks):
        planned: list[PlannedClip] = []
        cursor = 0.0
        for ci, clip in enumerate(track.clips):
            source = None
            if clip.fragment is not None:
                source = _resolve(timeline, resolver, clip, cache)
                inputs.setdefault(source.id, source)
            pc = _place(timeline, track.kind, ti, clip, source, cursor, planned[ci - 1] if ci else None)
            planned.append(pc)
            cursor = pc.end
        if track.kind == "video":
            _check_overlaps(timeline, track.clips, planned)
        tracks.append(PlannedTrack(ti, track.kind, track.name, planned))
    sounding = {t.name for t in tracks if any(c.has_sound for c in t.clips)}
    targets = {c.duck_under for t in timeline.tracks for c in t.clips if c.duck_under}
    for track in timeline.tracks:
        for clip in track.clips:
            if clip.duck_under is None:
                continue
            if clip.duck_under not in sounding:
                raise timeline.error(f"track {clip.duck_under!r} has no sound to duck under",
                                     line=clip.line_of("duck_under"), where=f"{clip.where}.duck_under")
            if track.name in targets:
                raise timeline.error(f"track {track.name!r} is itself ducked under by other clips; a track "
                                     "is either ducked or ducks others, not both",
                                     line=clip.line_of("duck_under"), where=f"{clip.where}.duck_under")
    length = max((c.end for t in tracks for c in t.clips), default=0.0)
    if length <= EPS:
        raise timeline.error("the timeline is empty (its clips last 0 seconds)", line=timeline.line)
    if length > MAX_SECONDS:
        raise timeline.error(f"the timeline lasts {length:g} s; the limit is {MAX_SECONDS:g} s",
                             line=timeline.line)
    return Plan(timeline, output, tracks, length, inputs)


def _resolve(timeline: Timeline, resolver: Resolver, clip: Clip, cache: dict[str, Input]) -> Input:
    ref = clip.fragment
    assert ref is not None
    if ref not in cache:
        try:
            cache[ref] = resolver.resolve(ref)
        except FragmentError as exc:
            raise timeline.error(str(exc), line=clip.line_of("fragment"), where=f"{clip.where}.fragment") from exc
    return cache[ref]


def _place(timeline: Timeline, track_kind: str, ti: int, clip: Clip, source: Input | None,
           cursor: float, previous: PlannedClip | None) -> PlannedClip:
    def fail(problem: str, key: str | None = None, *, line: int | None = None, where: str | None = None
             ) -> TimelineError:
        if where is None:
            where = f"{clip.where}.{key}" if key else clip.where
        if line is None:
            line = clip.line_of(key) if key else clip.line
        return timeline.error(problem, line=line, where=where)

    pc = PlannedClip(track=ti, kind="text", where=clip.where, at=0.0, duration=0.0, fade_in=clip.fade_in,
                     fade_out=clip.fade_out, position=clip.position)
    if source is None and clip.generated:  # a colour or gradient background
        assert clip.duration is not None
        pc.kind = "generator"
        pc.duration = clip.duration
    elif source is None:  # a text clip
        assert clip.duration is not None
        pc.duration = clip.duration
        pc.text, pc.size, pc.color, pc.font = clip.text, clip.size, clip.color, clip.font
        if clip.credits is not None:
            pc.kind, pc.credits_style = "credits", clip.credits
    elif track_kind == "captions":
        place_captions(clip, pc, source, fail)
    else:
        kind = source.kind
        if track_kind == "video" and kind not in ("video", "image"):
            raise fail(f"fragment {source.id[:10]} is {_a(kind)} fragment; a video track takes video "
                       "fragments and images", "fragment")
        if track_kind == "audio" and kind != "audio":
            raise fail(f"fragment {source.id[:10]} is {_a(kind)} fragment; an audio track takes audio "
                       "fragments (put video on a video track: its sound is mixed in)", "fragment")
        pc.kind = kind
        pc.input = source
        pc.speed, pc.loop, pc.gain, pc.mute = clip.speed, clip.loop, clip.gain, clip.mute
        pc.fit, pc.duck_under = clip.fit, clip.duck_under
        if kind == "image":
            for key in ("from", "to", "speed", "loop", "gain", "mute", "duck_under"):
                if clip.has(key):
                    raise fail(f"{key!r} does not apply to a still image (fragment {source.id[:10]})", key)
            if clip.duration is None:
                raise fail(f"a still image needs `duration:` (fragment {source.id[:10]} has no length of "
                           "its own)", "duration")
            pc.duration = clip.duration
        elif clip.freeze is not None:
            place_freeze(clip, pc, source, fail)
        else:
            if kind == "audio":
                for key in ("fit", "position"):
                    if clip.has(key):
                        raise fail(f"{key!r} does not apply to sound (fragment {source.id[:10]} is audio)", key)
            total = source.media.duration
            if total is None or total <= 0:
                raise fail(f"fragment {source.id[:10]} has no known duration; re-add its media", "fragment")
            start = clip.from_ or 0.0
            if start >= total:
                raise fail(f"`from` ({start:g} s) is beyond the end of fragment {source.id[:10]} "
                           f"({total:g} s long)", "from")
            end = total if clip.to is None else clip.to
            if end > total + SOURCE_TOLERANCE:
                raise fail(f"`to` ({end:g} s) is beyond the end of fragment {source.id[:10]} "
                           f"({total:g} s long)", "to")
            end = min(end, total)
            if end - start <= EPS:
                raise fail("the clip is empty: `from` is at the end of its source", "from")
            pc.src_from, pc.src_len = start, end - start
            natural = pc.src_len / pc.speed
            if clip.duration is not None:
                if not clip.loop and clip.duration > natural + 1e-3:
                    raise fail(f"`duration` ({clip.duration:g} s) is longer than the source allows "
                               f"({natural:.3f} s from {start:g} to {end:g} at speed {pc.speed:g}); "
                               "shorten it or set `loop: true`", "duration")
                pc.duration = clip.duration
            elif clip.loop:
                raise fail("`loop: true` needs `duration:` (how long to loop for)", "loop")
            else:
                pc.duration = natural
            if clip.duck_under is not None and not pc.has_sound:
                raise fail("this clip has no sound to duck", "duck_under")
    # where it goes
    if clip.transition is not None:
        assert previous is not None
        d = clip.transition.duration
        if d > previous.duration + EPS or d > pc.duration + EPS:
            raise fail(f"the cross-fade ({d:g} s) is longer than the clips it joins "
                       f"({previous.duration:g} s and {pc.duration:g} s)", "transition")
        expected = previous.end - d
        if clip.at is not None and abs(clip.at - expected) > 1e-3:
            raise fail(f"with a {d:g} s cross-fade this clip starts at {expected:g} (the previous clip's end "
                       "minus the cross-fade); drop `at` or make it match", "at")
        pc.at = max(0.0, expected)
        pc.transition = d
        pc.transition_type = clip.transition.xfade
        previous.transition_out = d
        previous.audio_fade_out = max(previous.audio_fade_out, d)
        if clip.transition.curve is not None:
            pc.curve_in = previous.curve_out = clip.transition.curve
    else:
        pc.at = clip.at if clip.at is not None else cursor
    if pc.fade_in + pc.fade_out > pc.duration + EPS:
        raise fail(f"fade_in + fade_out ({pc.fade_in + pc.fade_out:g} s) is longer than the clip "
                   f"({pc.duration:g} s)", "fade_out" if clip.has("fade_out") else "fade_in")
    place_effects(clip, pc, fail)
    pc.audio_fade_in = max(pc.fade_in, pc.transition)
    pc.audio_fade_out = max(pc.audio_fade_out, pc.fade_out)
    return pc


def _check_overlaps(timeline: Timeline, clips: list[Clip], planned: list[PlannedClip]) -> None:
    order = sorted(range(len(planned)), key=lambda i: (planned[i].at, i))
    for prev_i, i in itertools.pairwise(order):
        prev, cur = planned[prev_i], planned[i]
        allowed = cur.transition if prev_i == i - 1 else 0.0
        if cur.at < prev.end - allowed - 1e-3:
            clip = clips[i]
            key = "at" if clip.has("at") else None
            raise timeline.error(
                f"overlaps {planned[prev_i].where} ({prev.at:g}-{prev.end:g} s) on the same video track; "
                "move it, cross-fade with `transition:`, or put it on another video track (drawn on top)",
                line=clip.line_of(key) if key else clip.line, where=f"{clip.where}.at" if key else clip.where)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
