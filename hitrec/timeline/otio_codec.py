"""The OTIO codec: the timeline model <-> OpenTimelineIO objects (the mapping table: docs/otio.md).

The timeline's second codec, beside ``yaml_codec``. It never touches the repo: an export is given the
media of every fragment (:class:`MediaSource`), an import is given a function that finds the fragment a
clip's media is (:data:`Matcher`).

- :func:`to_otio` writes a *normalized* timeline (every clip has explicit ``at`` and ``duration``,
  :mod:`hitrec.timeline.normalize`): each hitrec track becomes one OTIO track, or several ("lanes") where
  its clips overlap (sound and text may; an OTIO track may not); clips with source ranges at the
  timeline's frame rate, gaps, ``speed`` as a LinearTimeWarp, cross-fades as Transitions (in_offset 0,
  out_offset the cross-fade: the outgoing clip is cut where the incoming one starts, as CMX 3600 does),
  text clips as GeneratorReferences, media as ExternalReferences. Everything the timeline says is also
  kept in each object's ``metadata["hitrec"]`` (the clip's keys in order, the fragment ids, weights,
  credits and output settings), so nothing of the lineage is lost and an import gives the same timeline.
- :func:`from_otio` reads an OTIO timeline back: OTIO's own structure (placement, source ranges, speed,
  transitions) is authoritative; hitrec's metadata adds what OTIO cannot say (gain, fades, fit...) and is
  used as written when the structure still agrees with it (a file another tool changed keeps its edits).
  What hitrec does not model (nested stacks, other effects, generators it does not know, markers) is
  skipped with a warning. The result is checked by the YAML codec's own parser, so every rule of the
  format applies, with the problem named by its OTIO clip.

``opentimelineio`` is imported lazily (it costs 60 ms): only the functions here that need it load it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import TimelineError
from hitrec.timeline.model import (
    DEFAULT_FPS,
    DEFAULT_SAMPLE_RATE,
    MARKER_COLORS,
    TRACK_KINDS,
    TRANSITIONS,
    VERSION,
    Clip,
    Timeline,
)
from hitrec.timeline.normalize import seconds
from hitrec.timeline.yaml_codec import parse_timeline, to_data

NS = "hitrec"  # the metadata namespace
TEXT_GENERATOR = "hitrec.text"
COLOR_GENERATOR = "SolidColor"  # a `color:` background (the kind name OTIO's own examples use)
GENERATOR = "hitrec.generator"  # any other clip with no fragment (a gradient): its keys are the parameters
GENERATORS = (TEXT_GENERATOR, COLOR_GENERATOR, GENERATOR)
DISSOLVES = ("crossfade", "fade", "dissolve")  # hitrec names OTIO's SMPTE_Dissolve stands for
EPS = 1e-6
PLACEMENT = ("fragment", "text", "at", "duration", "from", "to", "speed", "transition")  # OTIO's own

_WHERE = re.compile(r"^tracks\[(\d+)\]\.clips\[(\d+)\]")


def load_otio() -> Any:
    import opentimelineio

    return opentimelineio


@dataclass(frozen=True)
class MediaSource:
    """A fragment's media as an export references it."""

    id: str
    kind: str  # video | image | audio
    path: Path  # a local file holding the media
    filename: str  # the file name it was recorded under
    oid: str
    duration: float | None = None
    title: str = ""
    hub_url: str | None = None


@dataclass(frozen=True)
class ClipMedia:
    """What an import knows about a clip's media, for the matcher."""

    where: str  # e.g. "clip 'take 3' on track 'V1' at 12.5 s"
    fragment: str | None  # the fragment id hitrec's metadata names
    oid: str | None  # the media's SHA-256 hitrec's metadata names
    path: Path | None  # the file the reference points at (it may not exist)
    name: str | None  # the media's file name


@dataclass(frozen=True)
class Match:
    id: str
    kind: str
    size: tuple[int, int] | None = None  # a video or image's picture size
    duration: float | None = None  # a video or sound's length


Matcher = Callable[[ClipMedia], Match]


@dataclass
class Imported:
    timeline: Timeline
    warnings: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # "tracks[i].clips[j]" -> the OTIO clip


# --------------------------------------------------------------------------- export


def to_otio(timeline: Timeline, media: Mapping[str, MediaSource]) -> Any:
    """An ``opentimelineio.schema.Timeline`` of a normalized timeline (``media``: by full fragment id)."""
    otio = load_otio()
    for track in timeline.tracks:
        for clip in track.clips:
            if "\x00" in (clip.text or ""):
                raise timeline.error("OTIO cannot hold a NUL character in a text; remove it", line=clip.line,
                                     where=f"{clip.where}.text")
    data = to_data(timeline)
    rate = float(timeline.output.fps if timeline.output.has_video else DEFAULT_FPS)
    used = list(dict.fromkeys(c.fragment for t in timeline.tracks for c in t.clips if c.fragment))
    top: dict[str, Any] = {key: data[key] for key in ("title", "output", "credits") if key in data}
    head: dict[str, Any] = {"hitrec": VERSION, **top, "fragments": used,
                            "tracks": [t.name for t in timeline.tracks]}
    result = otio.schema.Timeline(name=timeline.title or "", metadata={NS: head})
    for marker in timeline.markers:
        result.tracks.markers.append(otio.schema.Marker(
            name=marker.name, marked_range=_range(otio, float(marker.at), float(marker.duration), rate),
            color=(marker.color or "red").upper(), comment=marker.note or "",
            metadata={NS: {"given": list(marker.given)}}))
    for ti, (track, tdata) in enumerate(zip(timeline.tracks, data["tracks"], strict=True)):
        for lane_no, lane in enumerate(_lanes(track.clips)):
            name = track.name if lane_no == 0 else f"{track.name} ({lane_no + 1})"
            kind = otio.schema.TrackKind.Audio if track.kind == "audio" else otio.schema.TrackKind.Video
            out = otio.schema.Track(name=name, kind=kind, metadata={NS: {
                "track": track.name, "kind": track.kind, "index": ti, "lane": lane_no}})
            cursor = 0.0
            for pos, ci in enumerate(lane):
                clip = track.clips[ci]
                assert clip.at is not None and clip.duration is not None, "export a normalized timeline"
                following = track.clips[lane[pos + 1]] if pos + 1 < len(lane) else None
                tail = (following.transition.duration if following is not None and following.transition
                        and lane[pos + 1] == ci + 1 else 0.0)
                if clip.transition is not None and pos > 0 and lane[pos - 1] == ci - 1:
                    out.append(_transition(otio, clip, rate))
                elif clip.at - cursor > EPS:
                    out.append(otio.schema.Gap(source_range=_range(otio, 0.0, clip.at - cursor, rate)))
                cdata = tdata["clips"][ci]
                meta = {NS: {"index": ci, "given": list(clip.given), "clip": cdata, "order": key_order(cdata)}}
                length = clip.duration - tail
                if clip.fragment is not None:
                    out.append(_media_clip(otio, clip, media[clip.fragment], meta, length, rate))
                else:
                    out.append(_generator_clip(otio, clip, tdata["clips"][ci], meta, length, rate))
                cursor = clip.at + length
            result.tracks.append(out)
    return result


def _lanes(clips: list[Clip]) -> list[list[int]]:
    """The clips of one hitrec track split into tracks without overlaps, in time order: a clip that
    cross-fades from the clip before it stays on its lane."""
    lanes: list[list[int]] = []
    ends: list[float] = []
    for i in sorted(range(len(clips)), key=lambda i: (clips[i].at or 0.0, i)):
        clip = clips[i]
        at = clip.at or 0.0
        lane = None
        if clip.transition is not None:
            lane = next((n for n, lane_ in enumerate(lanes) if lane_[-1] == i - 1), None)
        if lane is None:
            lane = next((n for n, end in enumerate(ends) if end <= at + EPS), None)
        if lane is None:
            lanes.append([])
            ends.append(0.0)
            lane = len(lanes) - 1
        lanes[lane].append(i)
        ends[lane] = at + (clip.duration or 0.0)
    return lanes


def _range(otio: Any, start: float, duration: float, rate: float) -> Any:
    rt = otio.opentime.RationalTime
    return otio.opentime.TimeRange(rt.from_seconds(start, rate), rt.from_seconds(duration, rate))


def _transition(otio: Any, clip: Clip, rate: float) -> Any:
    t = clip.transition
    assert t is not None
    rt = otio.opentime.RationalTime
    kind = (otio.schema.TransitionTypes.SMPTE_Dissolve if t.type in DISSOLVES
            else otio.schema.TransitionTypes.Custom)
    return otio.schema.Transition(name=t.type, transition_type=kind, in_offset=rt(0, rate),
                                  out_offset=rt.from_seconds(t.duration, rate), metadata={NS: {"type": t.type}})


def _media_clip(otio: Any, clip: Clip, source: MediaSource, meta: dict[str, Any], length: float,
                rate: float) -> Any:
    from opentimelineio import url_utils

    meta[NS]["fragment"] = source.id
    ref_meta: dict[str, Any] = {"fragment": source.id, "oid": source.oid, "filename": source.filename}
    if source.hub_url:
        ref_meta["hub_url"] = source.hub_url
    available = source.duration if source.kind != "image" and source.duration else clip.duration
    ref = otio.schema.ExternalReference(target_url=url_utils.url_from_filepath(str(source.path)),
                                        available_range=_range(otio, 0.0, available or length, rate))
    ref.name = source.filename
    ref.metadata[NS] = ref_meta
    freeze = getattr(clip, "freeze", None)
    start = 0.0 if source.kind == "image" else float(freeze if freeze is not None else clip.from_ or 0.0)
    out = otio.schema.Clip(name=source.title or source.filename, media_reference=ref,
                           source_range=_range(otio, start, length, rate), metadata=meta)
    if freeze is not None:
        out.effects.append(otio.schema.FreezeFrame(name="freeze"))
    elif clip.speed != 1:
        out.effects.append(otio.schema.LinearTimeWarp(name="speed", time_scalar=float(clip.speed)))
    return out


def _generator_clip(otio: Any, clip: Clip, cdata: dict[str, Any], meta: dict[str, Any], length: float,
                    rate: float) -> Any:
    params = {k: v for k, v in cdata.items() if k not in ("at", "duration")}
    kind = TEXT_GENERATOR if clip.text is not None else COLOR_GENERATOR if "color" in params else GENERATOR
    ref = otio.schema.GeneratorReference(name="text" if clip.text is not None else "background",
                                         generator_kind=kind, parameters=params,
                                         available_range=_range(otio, 0.0, length, rate))
    name = (clip.text or "").splitlines()[0][:60] if clip.text else f"background {params.get('color', '')}".strip()
    return otio.schema.Clip(name=name, media_reference=ref, source_range=_range(otio, 0.0, length, rate),
                            metadata=meta)


def key_order(value: Any) -> Any:
    """The order of every mapping's keys in ``value``, nested (OTIO's metadata dictionaries sort keys)."""
    if isinstance(value, dict):
        return [[k, key_order(v)] for k, v in value.items()]
    if isinstance(value, list):
        return [key_order(v) for v in value]
    return None


def reorder(value: Any, order: Any) -> Any:
    """``value`` with its mappings' keys in the order :func:`key_order` recorded (unknown keys last)."""
    if isinstance(value, dict):
        pairs = [p for p in order if isinstance(p, list) and len(p) == 2] if isinstance(order, list) else []
        known = {str(k): o for k, o in pairs}
        keys = [k for k in known if k in value] + [k for k in value if k not in known]
        return {k: reorder(value[k], known.get(k)) for k in keys}
    if isinstance(value, list):
        orders = order if isinstance(order, list) and len(order) == len(value) else [None] * len(value)
        return [reorder(v, o) for v, o in zip(value, orders, strict=True)]
    return value


# --------------------------------------------------------------------------- import


def plain(value: Any) -> Any:
    """OTIO's AnyDictionary / AnyVector as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [plain(v) for v in value]
    return value


class _Reader:
    def __init__(self, file: str, match: Matcher, base: Path | None = None) -> None:
        self.file = file
        self.base = base if base is not None else Path(file).parent
        self.match = match
        self.otio = load_otio()
        self.warnings: list[str] = []
        self.unmatched: list[str] = []
        self.sizes: list[tuple[int, int]] = []
        self.marker_data: list[dict[str, Any]] = []
        self.markers_sorted = False

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def fail(self, problem: str) -> TimelineError:
        return TimelineError(self.file, problem)

    def timeline(self, otl: Any) -> Imported:
        otio = self.otio
        if not isinstance(otl, otio.schema.Timeline):
            what = type(otl).__name__
            raise self.fail(f"holds {what_a(what)}, not an OTIO timeline; export a timeline (sequence) "
                            "from your editor")
        meta = plain(otl.metadata.get(NS, {}))
        meta = meta if isinstance(meta, dict) else {}
        stack = otl.tracks
        if stack.effects:
            self.warn(f"effects on the whole timeline ({_names(stack.effects)}) are not modelled by hitrec: "
                      "skipped")
        self.markers(stack.markers, 0.0, 1.0, 0.0)
        groups: dict[str, dict[str, Any]] = {}
        order = 0
        for child in stack:
            if not isinstance(child, otio.schema.Track):
                self.warn(f"a nested {type(child).__name__.lower()} {child.name!r} inside the timeline's stack "
                          "is not modelled by hitrec (timelines are flat): skipped; flatten it in your editor")
                continue
            self.track(child, groups, order)
            order += 1
        if self.unmatched:
            shown = "; ".join(self.unmatched[:5]) + (f"; and {len(self.unmatched) - 5} more"
                                                   if len(self.unmatched) > 5 else "")
            raise self.fail(f"{shown}. Record the media first (`hitrec add FILE`), or `hitrec pull` the "
                            "fragments, then import again")
        tracks, origins = self.tracks(groups)
        if not tracks:
            raise self.fail("no clip hitrec can import (no media clips or text on any track)")
        data: dict[str, Any] = {"hitrec": VERSION}
        title = meta.get("title", otl.name or None)
        if isinstance(title, str) and title:
            data["title"] = title
        data["output"] = self.output(meta.get("output"), otl, tracks)
        if isinstance(meta.get("credits"), dict):
            data["credits"] = meta["credits"]
        if self.marker_data:  # hitrec's own in the order written; others' (from clips, tracks) in time order
            data["markers"] = (sorted(self.marker_data, key=lambda m: m["at"]) if self.markers_sorted
                               else self.marker_data)
        data["tracks"] = tracks
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: 5x faster on 100 clips
        text = yaml.dump(data, Dumper=dumper, sort_keys=False)  # escaped: a raw U+0085 reads back as a space
        try:
            timeline = parse_timeline(text, self.file)
        except TimelineError as exc:
            raise self.fail(explain(exc, origins)) from exc
        return Imported(timeline, self.warnings, origins)

    def output(self, given: Any, otl: Any, tracks: list[dict[str, Any]]) -> dict[str, Any]:
        if isinstance(given, dict):
            return given
        out: dict[str, Any] = {}
        if any(t["kind"] in ("video", "text") for t in tracks):
            width, height = self.sizes[0] if self.sizes else (1280, 720)
            out["size"] = [max(2, width - width % 2), max(2, height - height % 2)]
            rate = _rate_of(otl)
            out["fps"] = _number(rate) if rate and 1 <= rate <= 240 else DEFAULT_FPS
        out["sample_rate"] = DEFAULT_SAMPLE_RATE
        return out

    def markers(self, markers: Any, at: float, speed: float, start: float) -> None:
        """Markers of an object whose time ``start`` plays at ``at`` on the piece, at ``speed``."""
        for marker in markers:
            meta = plain(marker.metadata.get(NS, {}))
            given = meta.get("given") if isinstance(meta, dict) and isinstance(meta.get("given"), list) else None
            data: dict[str, Any] = {
                "at": seconds(max(0.0, at + (marker.marked_range.start_time.to_seconds() - start) / speed)),
                "duration": seconds(marker.marked_range.duration.to_seconds() / speed), "name": marker.name,
                "color": str(marker.color).lower() if str(marker.color).lower() in MARKER_COLORS else None,
                "note": getattr(marker, "comment", "")}
            if given is None:  # another tool's marker: what it says
                self.markers_sorted = True
                given = ["at", *[k for k in ("duration", "name", "color", "note") if data[k]]]
            self.marker_data.append({k: data[k] for k in given if k in data and data[k] is not None})

    def track(self, track: Any, groups: dict[str, dict[str, Any]], order: int) -> None:
        otio = self.otio
        meta = plain(track.metadata.get(NS, {}))
        meta = meta if isinstance(meta, dict) else {}
        label = track.name or f"{'audio' if track.kind == otio.schema.TrackKind.Audio else 'video'} {order + 1}"
        if track.effects:
            self.warn(f"effects on track {label!r} ({_names(track.effects)}) are not modelled by hitrec: skipped")
        self.markers(track.markers, 0.0, 1.0, 0.0)
        if track.source_range is not None and track.source_range.start_time.to_seconds() > EPS:
            self.warn(f"track {label!r} is trimmed (its source range starts later): its clips are placed as "
                      "if it were not")
        key = str(meta.get("track") or f"#{order}")
        kind = meta.get("kind") if meta.get("kind") in TRACK_KINDS else (
            "audio" if track.kind == otio.schema.TrackKind.Audio else "video")
        group = groups.setdefault(key, {"name": meta.get("track") or track.name, "kind": kind,
                                        "index": meta.get("index", 10**6 + order), "order": order, "clips": []})
        items = list(track)
        for i, item in enumerate(items):
            if isinstance(item, (otio.schema.Gap, otio.schema.Transition)):
                continue
            span = track.range_of_child_at_index(i)
            at = span.start_time.to_seconds()
            where = f"{type(item).__name__.lower()} {item.name!r} on track {label!r} at {at:.3f} s"
            if not isinstance(item, otio.schema.Clip):
                self.warn(f"{where}: a nested {type(item).__name__.lower()} is not modelled by hitrec (timelines "
                          "are flat): skipped; flatten it in your editor")
                continue
            clip = self.clip(item, items, i, span, where)
            if clip is not None:
                group["clips"].append(clip)

    def clip(self, item: Any, items: list[Any], i: int, span: Any, where: str) -> dict[str, Any] | None:
        otio = self.otio
        meta = plain(item.metadata.get(NS, {}))
        meta = meta if isinstance(meta, dict) else {}
        written = meta.get("clip") if isinstance(meta.get("clip"), dict) else None
        if written is not None:  # OTIO's dictionaries sort their keys: put them back in the order written
            written = reorder(written, meta.get("order"))
        ref = item.media_reference
        speed = 1.0
        frozen = False
        for effect in item.effects:
            if isinstance(effect, otio.schema.FreezeFrame) or (
                    isinstance(effect, otio.schema.LinearTimeWarp) and effect.time_scalar == 0):
                frozen = True
            elif isinstance(effect, otio.schema.LinearTimeWarp) and effect.time_scalar < 0:
                self.warn(f"{where}: reverse playback is not modelled by hitrec: played forwards")
            elif isinstance(effect, otio.schema.LinearTimeWarp):
                speed *= effect.time_scalar
            else:
                self.warn(f"{where}: effect {effect.effect_name or effect.name or '?'!r} is not modelled by "
                          "hitrec: skipped")
        if not 0.01 <= speed <= 100:
            self.warn(f"{where}: speed {speed:g} is outside hitrec's 0.01 to 100: played at normal speed")
            speed = 1.0
        fragment = kind = found = None
        if isinstance(ref, otio.schema.GeneratorReference):
            if ref.generator_kind not in GENERATORS or (ref.generator_kind == COLOR_GENERATOR and not isinstance(
                    plain(ref.parameters).get("color"), str)):
                self.warn(f"{where}: generator {ref.generator_kind!r} is not one hitrec makes: skipped")
                return None
            params = plain(ref.parameters)
            written = written or ({"text": params.get("text", ""), **params} if ref.generator_kind == TEXT_GENERATOR
                                  else params)
        elif isinstance(ref, otio.schema.ExternalReference):
            found = self.find(item, ref, meta, where)
            if found is None:
                return None
            fragment, kind = found.id, found.kind
            if found.size:
                self.sizes.append(found.size)
        else:
            self.warn(f"{where}: its media reference ({type(ref).__name__}) names no file hitrec can match: "
                      "skipped")
            return None
        # placement: the trimmed range plus the handles the neighbouring transitions use
        rate = span.duration.rate
        before = items[i - 1] if i > 0 else None
        after = items[i + 1] if i + 1 < len(items) else None
        head = tail = 0.0
        fade = None
        if isinstance(before, otio.schema.Transition):
            if i > 1 and isinstance(items[i - 2], otio.schema.Clip):
                head = before.in_offset.to_seconds()
                fade = (before, head + before.out_offset.to_seconds())
            else:
                self.warn(f"{where}: a transition from nothing (a fade from black) is not modelled: skipped "
                          "(use fade_in)")
        if isinstance(after, otio.schema.Transition):
            if i + 2 < len(items) and isinstance(items[i + 2], otio.schema.Clip):
                tail = after.out_offset.to_seconds()
            else:
                self.warn(f"{where}: a transition into nothing (a fade to black) is not modelled: skipped "
                          "(use fade_out)")
        at = span.start_time.to_seconds() - head
        duration = span.duration.to_seconds() + head + tail
        start = item.trimmed_range().start_time.to_seconds()
        if isinstance(ref, otio.schema.ExternalReference) and ref.available_range is not None:
            start -= ref.available_range.start_time.to_seconds()
        if not frozen:  # a held frame stays the frame the range starts at
            start -= head * speed
        found_values: dict[str, Any] = {"at": seconds(max(at, 0.0)), "duration": seconds(duration)}
        if frozen and kind == "video":
            found_values["freeze"] = seconds(max(start, 0.0))  # the frame held: where the source range starts
        elif frozen:
            self.warn(f"{where}: a freeze frame of {what_a(kind or 'generated')} clip is not modelled: skipped")
        if kind not in (None, "image") and not (frozen and kind == "video"):
            found_values["from"] = seconds(max(start, 0.0))
            found_values["speed"] = _number(speed)
        transition: dict[str, Any] | None = None
        if fade is not None:
            transition = {"duration": seconds(fade[1])}
            name = _transition_name(fade[0], self.otio)
            if name is None:
                self.warn(f"{where}: transition {fade[0].transition_type!r} is not one hitrec knows: imported as "
                          "a crossfade")
            elif name != "crossfade":
                transition = {**(transition or {}), "type": name}
        self.markers(item.markers, span.start_time.to_seconds(), speed if not frozen else 1.0,
                     item.trimmed_range().start_time.to_seconds())
        tol = 0.5 / rate + EPS if rate else EPS
        if written is not None and _agrees(written, found_values, transition, tol):
            out = dict(written)
        else:
            out = dict(written or {})
            if written is not None:
                self.warn(f"{where}: changed in the other tool (its placement, source range or speed): taken "
                          "from the OTIO file, its hitrec keys (gain, fades...) kept")
            if fragment is not None:
                out["fragment"] = fragment
            out.update({k: v for k, v in found_values.items() if not (k == "from" and v == 0 and "from" not in out)
                        and not (k == "speed" and v == 1 and "speed" not in out)})
            if frozen and kind == "video":  # hitrec's freeze holds one frame: no source range
                for key in ("from", "to", "speed", "loop"):
                    out.pop(key, None)
            if (found is not None and found.duration and kind in ("video", "audio") and not out.get("loop")
                    and not (frozen and kind == "video")
                    and found_values["from"] + duration * speed > found.duration + 0.05):
                out["loop"] = True  # longer than its media: a format that lost hitrec's loop
                self.warn(f"{where}: lasts longer than its media: imported with loop: true")
            if "to" in out and kind not in (None, "image") and not out.get("loop") and not (frozen and kind == "video"):
                out["to"] = seconds(found_values["from"] + duration * speed)
            if transition is not None:
                previous = out.get("transition")
                out["transition"] = {**(previous if isinstance(previous, dict) else {}), **transition}
            else:
                out.pop("transition", None)
        if fragment is not None:
            out["fragment"] = fragment
        if kind == "image":
            for key in ("from", "to", "speed"):
                out.pop(key, None)
        listed = meta.get("given")
        given: list[Any] = listed if isinstance(listed, list) else []
        lead = ["fragment"] if fragment is not None else ["text"] if "text" in out else []
        keys = [*lead, "at", "duration", *[k for k in given if k in out],
                *[k for k in out if k not in given]]
        ordered = {k: out[k] for k in dict.fromkeys(keys) if k in out}
        ordered["__index"] = meta.get("index") if isinstance(meta.get("index"), int) else None
        ordered["__where"] = where
        return ordered

    def find(self, item: Any, ref: Any, meta: dict[str, Any], where: str) -> Match | None:
        from opentimelineio import url_utils

        ref_meta = plain(ref.metadata.get(NS, {}))
        ref_meta = ref_meta if isinstance(ref_meta, dict) else {}
        url = ref.target_url or ""
        path = None
        if url and (url.startswith("file:") or "://" not in url):
            try:
                path = Path(url_utils.filepath_from_url(url)) if url.startswith("file:") else Path(url)
            except Exception:
                path = None
            if path is not None and not path.is_absolute():
                path = self.base / path
        name = ref_meta.get("filename") or (Path(url).name if url else None) or ref.name or None
        fragment = meta.get("fragment") or ref_meta.get("fragment")
        media = ClipMedia(where, fragment if isinstance(fragment, str) else None,
                          ref_meta.get("oid") if isinstance(ref_meta.get("oid"), str) else None, path,
                          name if isinstance(name, str) else None)
        try:
            return self.match(media)
        except LookupError as exc:
            self.unmatched.append(f"{where}: {exc.args[0] if exc.args else 'its media matches no fragment'}")
            return None

    def tracks(self, groups: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        out: list[dict[str, Any]] = []
        origins: dict[str, str] = {}
        names: set[str] = set()
        for group in sorted(groups.values(), key=lambda g: (g["index"], g["order"])):
            clips = group["clips"]
            if not clips:
                continue
            kind = group["kind"]
            if kind == "video" and all("text" in c and "fragment" not in c for c in clips):
                kind = "text"
            keep = []
            for c in clips:
                # media on a text track, or a clip without media on a sound track, cannot be; the rest is
                # checked by the YAML codec (backgrounds, captions, a credits roll have no fragment or text)
                fits = not ((kind == "text" and "fragment" in c) or (kind == "audio" and "fragment" not in c)
                            or (kind not in ("text", "credits") and "text" in c and "fragment" not in c))
                if not fits:
                    self.warn(f"{c['__where']}: {'media' if 'fragment' in c else 'a text or generated clip'} on "
                              f"a {kind} track is not modelled: skipped")
                    continue
                keep.append(c)
            if not keep:
                continue
            keep.sort(key=lambda c: (c["__index"] is None, c["__index"] or 0, c["at"]))
            name = str(group["name"] or f"{kind}{len(out)}")
            base, n = name, 2
            while name in names:
                name, n = f"{base} {n}", n + 1
            names.add(name)
            ti = len(out)
            for ci, c in enumerate(keep):
                origins[f"tracks[{ti}].clips[{ci}]"] = c["__where"]
            out.append({"kind": kind, "name": name,
                        "clips": [{k: v for k, v in c.items() if not k.startswith("__")} for c in keep]})
        return out, origins


def explain(exc: TimelineError, origins: dict[str, str]) -> str:
    """A problem the YAML codec or the planner found in an imported timeline, named by its OTIO clip
    (``origins``: ``tracks[i].clips[j]`` -> the clip) instead of a line of a file nobody wrote."""
    where = exc.field or ""
    found = _WHERE.match(where)
    origin = origins.get(found.group(0)) if found else None
    if origin is None or found is None:
        return f"{where}: {exc.problem}" if where else exc.problem
    key = where[found.end():].lstrip(".")
    return f"{origin}{': ' + key if key else ''}: {exc.problem}"


def from_otio(otl: Any, file: str, match: Matcher, base: Path | None = None) -> Imported:
    """A hitrec timeline of an ``opentimelineio.schema.Timeline`` (``file`` names it in messages).

    ``match`` finds the fragment a clip's media is, or raises ``LookupError(what to say)``; every clip
    it cannot match is named in one TimelineError. What is skipped is in ``Imported.warnings``. Relative
    media paths are relative to ``base`` (default: the file's folder; an unpacked .otioz's folder).
    """
    return _Reader(file, match, base).timeline(otl)


def _agrees(written: dict[str, Any], found: dict[str, Any], transition: dict[str, Any] | None,
            tol: float) -> bool:
    def near(a: Any, b: Any) -> bool:
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(float(a) - float(b)) <= tol

    defaults = {"from": 0, "speed": 1}
    for key, value in found.items():
        mine = written.get(key, defaults.get(key))
        if key == "speed" and not math.isclose(float(mine or 1), float(value), rel_tol=1e-6):
            return False
        if key != "speed" and not near(mine, value):
            return False
    mine_t = written.get("transition")
    if (mine_t is None) != (transition is None):
        return False
    if transition is not None and isinstance(mine_t, dict):
        return near(mine_t.get("duration"), transition["duration"]) and (
            (transition.get("type", "crossfade") in DISSOLVES and mine_t.get("type", "crossfade") in DISSOLVES)
            or transition.get("type") == mine_t.get("type"))
    return True


def _transition_name(transition: Any, otio: Any) -> str | None:
    meta = plain(transition.metadata.get(NS, {}))
    named = meta.get("type") if isinstance(meta, dict) else None
    if isinstance(named, str) and named in TRANSITIONS:
        return named
    if transition.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve:
        return "crossfade"
    if transition.name in TRANSITIONS:
        return str(transition.name)
    return None


def _rate_of(otl: Any) -> float | None:
    for clip in otl.find_clips():
        if clip.source_range is not None:
            return float(clip.source_range.duration.rate)
    return None


def _number(value: float) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 6)


def _names(objects: Any) -> str:
    names = [getattr(o, "effect_name", "") or o.name or type(o).__name__ for o in objects]
    return ", ".join(repr(n) for n in names[:3]) + (" ..." if len(names) > 3 else "")


def what_a(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"

