"""OTIO files: which format an extension means, what each carries, reading and writing through OTIO's adapters.

``.otio`` (OTIO's JSON) and ``.otioz`` (the JSON with the media bundled) carry everything, hitrec's
metadata included. The editors' formats go through the adapters of ``opentimelineio-plugins``
(``.xml`` FCP 7 XML, ``.edl`` CMX 3600, ``.aaf``), ``otio-fcpx-xml-adapter`` (``.fcpxml``) and
``otio-kdenlive-adapter`` (``.kdenlive``): :func:`prepare` removes what an adapter cannot write (each
adapter fails on some of it: measured, see docs/otio.md) and says what went; :func:`not_carried` lists the
timeline's keys a format does not carry, per key with the clips that use it. Adapters are foreign code:
every error they raise becomes a :class:`~hitrec.errors.TimelineError` here, and their prints are caught.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitrec.errors import TimelineError, UsageError
from hitrec.timeline.model import Timeline
from hitrec.timeline.otio_codec import PLACEMENT, TEXT_GENERATOR, load_otio, what_a


@dataclass(frozen=True)
class Format:
    suffix: str
    adapter: str  # OTIO's adapter name
    package: str  # where the adapter comes from
    label: str
    lineage: bool = False  # hitrec's metadata survives (fragment ids, weights, credits, every key)
    transitions: bool = True
    speed: bool = True
    generators: bool = False  # text clips as generators
    one_video_track: bool = False
    audio: bool = True
    quotes: bool = True  # names may hold ' (the FCP X adapter builds XPath queries from them)
    leading_gap: bool = True  # a gap before a track's first clip reads back
    markers: bool = True  # the piece's markers (on OTIO's top stack) read back
    write_options: dict[str, Any] = field(default_factory=dict)


FORMATS = {f.suffix: f for f in (
    Format("otio", "otio_json", "opentimelineio", "OpenTimelineIO", lineage=True, generators=True),
    Format("otioz", "otioz", "opentimelineio", "OpenTimelineIO with the media bundled", lineage=True,
           generators=True),
    Format("xml", "fcp_xml", "opentimelineio-plugins", "FCP 7 XML (Premiere, Resolve)", speed=False),
    Format("edl", "cmx_3600", "opentimelineio-plugins", "CMX 3600 EDL", one_video_track=True, audio=False,
           leading_gap=False, markers=False),
    Format("aaf", "AAF", "opentimelineio-plugins", "AAF (Avid)", transitions=False, speed=False, markers=False,
           write_options={"use_empty_mob_ids": True}),
    Format("fcpxml", "fcpx_xml", "otio-fcpx-xml-adapter", "FCP X XML (Final Cut Pro)", transitions=False,
           speed=False, quotes=False, markers=False),
    Format("kdenlive", "kdenlive", "otio-kdenlive-adapter", "Kdenlive (MLT)", transitions=False, speed=False),
)}


def installed(fmt: Format) -> bool:
    if fmt.package == "opentimelineio":
        return True  # OTIO's own adapters: no plugin to look for (which costs 0.2 s)
    otio = load_otio()
    try:
        with _quiet():
            otio.adapters.from_name(fmt.adapter).module()
    except Exception:  # an adapter missing, or one whose own imports fail
        return False
    return True


def format_of(path: Path, *, writing: bool) -> Format:
    """The format ``path``'s extension names; a clear error listing the supported ones otherwise."""
    suffix = path.suffix.lower().lstrip(".")
    fmt = FORMATS.get(suffix)
    if fmt is None or not installed(fmt):
        listed = ", ".join(f".{f.suffix} ({f.label})" for f in FORMATS.values() if installed(f))
        missing = [f for f in FORMATS.values() if not installed(f)]
        extra = ("; not installed: " + ", ".join(f".{f.suffix} (pip package {f.package})" for f in missing)
                 if missing else "")
        verb = "write" if writing else "read"
        what = f"the .{suffix} adapter is not installed" if fmt is not None else (
            f"hitrec cannot {verb} {'.' + suffix if suffix else 'a file without an extension'}")
        raise UsageError(f"{path.name}: {what}; the extension names the format: {listed}{extra}")
    return fmt


@contextlib.contextmanager
def _quiet() -> Any:
    """Adapters print banners and warn: none of it reaches the terminal (only the CLI prints)."""
    with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
          warnings.catch_warnings()):
        warnings.simplefilter("ignore")
        yield


def read_file(path: Path, unpack_to: Path | None = None) -> Any:
    """Read an OTIO file (any supported format) into OTIO objects; every failure a TimelineError.
    ``unpack_to``: an empty folder an .otioz's media are unpacked into (its references are relative)."""
    fmt = format_of(path, writing=False)
    options = {"extract_to_directory": str(unpack_to)} if unpack_to is not None and fmt.adapter == "otioz" else {}
    if not path.exists():
        raise TimelineError(str(path), "no such file")
    if path.is_dir():
        raise TimelineError(str(path), "is a folder, not an OTIO file")
    otio = load_otio()
    try:
        with _quiet():
            result = otio.adapters.read_from_file(str(path), adapter_name=fmt.adapter, **options)
    except RecursionError as exc:
        raise TimelineError(str(path), "nests too deeply to be a timeline") from exc
    except Exception as exc:  # foreign code: JSON, XML and zip errors, OTIO's own, KeyError...
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise TimelineError(str(path), f"not a readable {fmt.label} file ({detail})") from exc
    if not isinstance(result, otio.schema.Timeline):
        collection = getattr(otio.schema, "SerializableCollection", None)
        if collection is not None and isinstance(result, collection):
            timelines = [t for t in result if isinstance(t, otio.schema.Timeline)]
            if len(timelines) == 1:
                return timelines[0]
        what = type(result).__name__
        if what == "UnknownSchema":
            what = f"an object of an unknown schema ({getattr(result, 'original_schema_name', '?')})"
        elif what in ("AnyDictionary", "AnyVector"):
            what = "JSON that is not OTIO (no OTIO_SCHEMA)"
        else:
            what = what_a(what)
        raise TimelineError(str(path), f"holds {what}, not an OTIO timeline")
    return result


def write_file(otl: Any, fmt: Format, out: Path) -> None:
    """Write OTIO objects to ``out`` (a path the caller renames into place) with ``fmt``'s adapter."""
    otio = load_otio()
    try:
        with _quiet():
            otio.adapters.write_to_file(otl, str(out), adapter_name=fmt.adapter, **fmt.write_options)
    except OSError:
        raise
    except Exception as exc:  # an adapter that cannot write something it was given
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise TimelineError(out.name, f"OTIO's {fmt.adapter} adapter could not write the timeline ({detail})") from exc


def prepare(otl: Any, fmt: Format) -> list[str]:
    """Remove from ``otl`` (in place) what ``fmt``'s adapter cannot write; what went, one line each."""
    otio = load_otio()
    lost: list[str] = []
    if not fmt.lineage:
        lost.append(f"hitrec's metadata (fragment ids, weights, credits settings, every clip key): {fmt.label} "
                    "does not carry it; `hitrec timeline import` finds the fragments again by media file")
    stack = otl.tracks
    if not fmt.markers and len(stack.markers):
        lost.append(f"{len(stack.markers)} marker(s) of the piece ({', '.join(repr(m.name) for m in stack.markers[:3])}"
                    f"{' ...' if len(stack.markers) > 3 else ''}): {fmt.label} does not carry them")
        stack.markers[:] = []
    for track in list(stack):
        if not fmt.lineage and track.metadata.get("hitrec", {}).get("kind") == "captions":
            lost.append(f"captions track {track.name!r}: {fmt.label} has no captions (`hitrec render --captions "
                        "cut.srt` writes them beside the piece)")
            stack.remove(track)
            continue
        kind = track.kind
        if not fmt.audio and kind == otio.schema.TrackKind.Audio:
            lost.append(f"audio track {track.name!r}: {fmt.label} carries one picture track")
            stack.remove(track)
    if fmt.one_video_track:
        video = [t for t in stack if t.kind == otio.schema.TrackKind.Video and any(
            isinstance(c.media_reference, otio.schema.ExternalReference) for c in t.find_clips())]
        for track in [t for t in stack if t not in video[:1]]:
            lost.append(f"track {track.name!r}: {fmt.label} carries one picture track (the first is kept)")
            stack.remove(track)
    for track in stack:
        if not fmt.leading_gap and len(track) and isinstance(track[0], otio.schema.Gap):
            lost.append(f"the {track[0].duration().to_seconds():g} s before the first clip of track {track.name!r}: "
                        f"{fmt.label} starts at its first event")
        for i, item in enumerate(list(track)):
            if isinstance(item, otio.schema.Clip) and isinstance(item.media_reference, otio.schema.GeneratorReference):
                if not fmt.generators:
                    what = "text clip" if item.media_reference.generator_kind == TEXT_GENERATOR else "generated clip"
                    lost.append(f"{what} {item.name!r} on track {track.name!r}: {fmt.label} has no generators "
                                "(it is a gap there)")
                    track[i] = otio.schema.Gap(source_range=item.trimmed_range())
            elif isinstance(item, otio.schema.Clip) and not fmt.speed and item.effects:
                lost.append(f"speed of clip {item.name!r} on track {track.name!r}: {fmt.label} does not carry it "
                            "(the clip keeps its length)")
                item.effects[:] = []
        transitions = [t for t in track if isinstance(t, otio.schema.Transition)]
        if transitions and not fmt.transitions:
            lost.append(f"{len(transitions)} transition(s) on track {track.name!r}: {fmt.label} does not carry "
                        "transitions (they are cuts there)")
            for transition in transitions:
                track.remove(transition)
        custom = [t for t in transitions if t.transition_type != otio.schema.TransitionTypes.SMPTE_Dissolve]
        if fmt.transitions and custom and not fmt.lineage:
            lost.append(f"{', '.join(sorted({t.name for t in custom}))} transition(s) on track {track.name!r}: "
                        f"{fmt.label} has dissolves only")
            for transition in custom:
                transition.transition_type = otio.schema.TransitionTypes.SMPTE_Dissolve
    if not fmt.quotes:
        for obj in [otl, *stack, *otl.find_clips()]:
            obj.name = obj.name.replace("'", "\u2019")
            ref = getattr(obj, "media_reference", None)
            if ref is not None:
                ref.name = ref.name.replace("'", "\u2019")
    return lost


def not_carried(timeline: Timeline, fmt: Format) -> list[str]:
    """The timeline's keys ``fmt`` does not carry as OTIO: one line per key with the clips using it."""
    native = set(PLACEMENT) | {"weight"}  # weights are lineage: the metadata line says where they go
    # speed and transitions a format lacks: prepare() names the clips and says what becomes of them
    users: dict[str, list[str]] = {}
    for track in timeline.tracks:
        for clip in track.clips:
            if clip.fragment is None and not fmt.generators:
                continue  # prepare() names the text clips a format cannot hold
            for key in clip.given:
                if key not in native:
                    users.setdefault(key, []).append(clip.where)
    if not users:
        return []
    listed = "; ".join(f"{key} ({', '.join(w[:3])}{f' and {len(w) - 3} more' if len(w) > 3 else ''})"
                       for key, w in users.items())
    if fmt.lineage:
        return [f"other editors will not apply these (kept in the file's hitrec metadata, which a hitrec import "
                f"restores): {listed}"]
    return [f"{fmt.label} cannot carry these, lost: {listed}"]
