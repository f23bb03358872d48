"""The OTIO codec on its own: hitrec -> OTIO -> hitrec gives the same normalized timeline (hypothesis, over
the generator the loader's fuzzing uses), and what a file made by hand with OTIO's API imports as."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_timeline_fuzz import IDS, RESOLVER, valid_timelines

from hitrec.errors import HitrecError, TimelineError
from hitrec.render.plan import make_plan
from hitrec.timeline.otio_codec import ClipMedia, Match, MediaSource, from_otio, to_otio
from hitrec.timeline.yaml_codec import dump_timeline, parse_timeline

otio = pytest.importorskip("opentimelineio")  # a dependency (pyproject): present wherever tests run


def media_sources() -> dict[str, MediaSource]:
    return {i.id: MediaSource(i.id, i.kind, Path("/media") / i.media.filename, i.media.filename, i.id * 0 + "0" * 64,
                              i.media.duration, i.title) for i in RESOLVER.inputs.values()}


def match(media: ClipMedia) -> Match:
    if media.fragment is None:
        raise LookupError("no fragment id")
    found = RESOLVER.resolve(media.fragment)
    m = found.media
    return Match(found.id, found.kind, (m.width, m.height) if m.width and m.height else None, m.duration)


def round_trip(text: str) -> tuple[bytes, bytes, list[str]]:
    """(the normalized timeline, the same after OTIO JSON and back, the import's warnings)."""
    normalized = make_plan(parse_timeline(text, "t.yaml"), RESOLVER).normalized()
    written = otio.adapters.write_to_string(to_otio(normalized, media_sources()), "otio_json")
    imported = from_otio(otio.adapters.read_from_string(written, "otio_json"), "t.otio", match)
    again = make_plan(imported.timeline, RESOLVER, normalized.output.format).normalized()
    return dump_timeline(normalized), dump_timeline(again), imported.warnings


markers = st.lists(st.fixed_dictionaries({"at": st.sampled_from([0, 0.5, 1.25, 3])}, optional={
    "duration": st.sampled_from([0, 0.5]), "name": st.text(max_size=8), "color": st.sampled_from(["red", "blue"]),
    "note": st.text(max_size=8)}), max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_timelines(), markers)
def test_hitrec_to_otio_to_hitrec_gives_the_same_normalized_timeline(data: dict[str, Any],
                                                                     marks: list[dict[str, Any]]) -> None:
    if marks:
        data = {**data, "markers": marks}
    text = yaml.safe_dump(data, sort_keys=False)
    if "\\0" in text:
        return  # OTIO's strings cannot hold NUL: an export says so (test below)
    try:
        make_plan(parse_timeline(text, "t.yaml"), RESOLVER)
    except HitrecError:
        return  # the generator also makes timelines the planner refuses: nothing to export
    before, after, warnings = round_trip(text)
    assert after == before
    assert warnings == []


OVERLAPS = f"""\
hitrec: 1
title: lanes
output: {{size: [160, 90], fps: 25}}
credits: {{editor_share: 0.3}}
tracks:
  - kind: video
    name: picture
    clips:
      - {{fragment: {IDS['video']}, from: 0.5, to: 2, speed: 2, weight: 3}}
      - {{fragment: {IDS['image']}, duration: 1, transition: {{duration: 0.25}}}}
      - {{fragment: {IDS['silent']}, at: 4, mute: true}}
  - kind: audio
    name: voice
    clips:
      - {{fragment: {IDS['audio']}, at: 0, gain: -3}}
      - {{fragment: {IDS['audio']}, at: 1, fade_in: 0.5}}
      - {{fragment: {IDS['audio']}, at: 1.5, duration: 6, loop: true}}
  - kind: text
    clips:
      - {{text: "Hello", at: 0, duration: 2, color: gold, size: 12}}
      - {{text: "World", at: 1, duration: 2, position: [10, 20]}}
"""


def test_overlapping_clips_become_lanes_and_come_back_as_one_track() -> None:
    normalized = make_plan(parse_timeline(OVERLAPS, "t.yaml"), RESOLVER).normalized()
    otl = to_otio(normalized, media_sources())
    names = [t.name for t in otl.tracks]
    assert names == ["picture", "voice", "voice (2)", "voice (3)", "text2", "text2 (2)"]
    picture = otl.tracks[0]
    kinds = [type(i).__name__ for i in picture]
    assert kinds == ["Clip", "Transition", "Clip", "Gap", "Clip"]
    first, transition = picture[0], picture[1]
    assert first.effects[0].time_scalar == 2
    assert transition.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
    assert transition.in_offset.to_seconds() == 0 and transition.out_offset.to_seconds() == 0.25
    assert first.source_range.duration.rate == 25  # the timeline's fps
    assert first.source_range.start_time.to_seconds() == 0.5
    assert first.trimmed_range().duration.to_seconds() == pytest.approx(0.75 - 0.25)  # cut where the next starts
    text = otl.tracks[4][0]
    assert text.media_reference.generator_kind == "hitrec.text"
    assert text.media_reference.parameters["text"] == "Hello"
    meta = otl.metadata["hitrec"]
    assert meta["credits"]["editor_share"] == 0.3 and list(meta["fragments"]) == [
        IDS["video"], IDS["image"], IDS["silent"], IDS["audio"]]
    assert first.metadata["hitrec"]["clip"]["weight"] == 3
    before, after, _ = round_trip(OVERLAPS)
    assert after == before


def test_a_file_edited_elsewhere_keeps_its_edits_and_hitrecs_keys() -> None:
    normalized = make_plan(parse_timeline(OVERLAPS, "t.yaml"), RESOLVER).normalized()
    otl = to_otio(normalized, media_sources())
    voice = otl.tracks[1][0]  # trimmed by an editor: 0.5 s later into the source, 0.5 s shorter
    rt = otio.opentime.RationalTime
    voice.source_range = otio.opentime.TimeRange(rt.from_seconds(0.5, 25), rt.from_seconds(1.5, 25))
    imported = from_otio(otl, "t.otio", match)
    clip = imported.timeline.tracks[1].clips[0]
    assert (clip.from_, clip.duration, clip.gain) == (0.5, 1.5, -3)
    assert any("changed in the other tool" in w for w in imported.warnings)


def rng(start: float, duration: float, rate: float = 24) -> Any:
    rt = otio.opentime.RationalTime
    return otio.opentime.TimeRange(rt.from_seconds(start, rate), rt.from_seconds(duration, rate))


def foreign_clip(name: str, fragment: str, start: float, duration: float) -> Any:
    ref = otio.schema.ExternalReference(target_url=f"file:///elsewhere/{name}", available_range=rng(0, 2))
    return otio.schema.Clip(name=name, media_reference=ref, source_range=rng(start, duration),
                            metadata={"hitrec": {"fragment": fragment}})


def test_a_centred_dissolve_markers_nested_stacks_and_effects_from_another_tool() -> None:
    """In and out offsets both set (FCP, Premiere), a nested stack, an unknown effect, a freeze frame, markers."""
    tl = otio.schema.Timeline(name="foreign")
    video = otio.schema.Track(name="V1")
    a = foreign_clip("a.mp4", IDS["video"], 0, 1.5)
    a.markers.append(otio.schema.Marker(name="note", marked_range=rng(0.5, 0)))
    a.effects.append(otio.schema.Effect(name="blur", effect_name="Blur"))
    b = foreign_clip("s.mp4", IDS["silent"], 0.25, 0.5)
    b.effects.append(otio.schema.FreezeFrame())
    video.extend([a, otio.schema.Transition(in_offset=rng(0, 0.25).duration, out_offset=rng(0, 0.25).duration), b])
    nested = otio.schema.Stack(name="compound")
    nested.append(otio.schema.Track())
    video.append(nested)
    tl.tracks.append(video)
    imported = from_otio(tl, "f.otio", match)
    clips = imported.timeline.tracks[0].clips
    assert (clips[0].at, clips[0].duration) == (0, 1.75)  # plays 0.25 s of handle into the dissolve
    assert (clips[1].at, clips[1].freeze, clips[1].duration) == (1.25, 0.25, 0.75)  # the frame its range starts at
    assert clips[1].transition is not None and clips[1].transition.duration == 0.5
    text = "\n".join(imported.warnings)
    for expected in ("'Blur' is not modelled", "nested stack"):
        assert expected in text, (expected, text)
    (marker,) = imported.timeline.markers  # 0.5 s into clip a's source, which plays from 0 at 0
    assert (marker.at, marker.name) == (0.5, "note")
    assert imported.timeline.output.size == (160, 90)  # the first picture's size
    make_plan(imported.timeline, RESOLVER)  # and it plans


def test_unmatched_media_is_one_error_naming_every_clip() -> None:
    tl = otio.schema.Timeline()
    track = otio.schema.Track(name="V1")
    for name in ("lost1.mov", "lost2.mov"):
        track.append(otio.schema.Clip(name=name, media_reference=otio.schema.ExternalReference(
            target_url=f"file:///nowhere/{name}"), source_range=rng(0, 1)))
    tl.tracks.append(track)
    with pytest.raises(TimelineError) as caught:
        from_otio(tl, "f.otio", match)
    message = str(caught.value)
    assert "clip 'lost1.mov' on track 'V1' at 0.000 s" in message and "lost2.mov" in message
    assert "hitrec add" in message


def test_nothing_importable_is_an_error() -> None:
    tl = otio.schema.Timeline()
    track = otio.schema.Track()
    track.append(otio.schema.Clip(name="bars", media_reference=otio.schema.GeneratorReference(
        generator_kind="SMPTEBars"), source_range=rng(0, 1)))
    tl.tracks.append(track)
    with pytest.raises(TimelineError, match="no clip hitrec can import"):
        from_otio(tl, "f.otio", match)


def test_a_nul_in_a_text_is_refused_by_name() -> None:
    text = 'hitrec: 1\noutput: {size: [160, 90]}\ntracks: [{kind: text, clips: [{text: "a\\0b", duration: 1}]}]\n'
    normalized = make_plan(parse_timeline(text, "t.yaml"), RESOLVER).normalized()
    with pytest.raises(TimelineError, match=r"tracks\[0\]\.clips\[0\]\.text: OTIO cannot hold a NUL"):
        to_otio(normalized, media_sources())
