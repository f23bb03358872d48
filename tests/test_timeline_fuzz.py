"""Property-based: every generated timeline is either accepted or rejected with a HitrecError."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitrec.errors import HitrecError
from hitrec.render.ffmpeg_engine import build_command
from hitrec.render.plan import Input, InputsResolver, make_plan
from hitrec.store.model import MediaInfo
from hitrec.timeline.model import CLIP_KEYS, OUTPUT_KEYS, POSITIONS, TOP_KEYS, TRACK_KEYS
from hitrec.timeline.yaml_codec import parse_timeline

IDS = {"video": "aaaa" + "1" * 36, "image": "bbbb" + "2" * 36, "audio": "cccc" + "3" * 36,
       "text": "dddd" + "4" * 36, "silent": "eeee" + "5" * 36}
RESOLVER = InputsResolver([
    Input(IDS["video"], "video", "CC-BY-4.0",
           MediaInfo("o", 1, "v.mp4", "video", "video/mp4", duration=2.0, width=160, height=90, fps=24,
                     has_audio=True), Path("v.mp4")),
    Input(IDS["silent"], "video", "CC-BY-4.0",
           MediaInfo("o", 1, "s.mp4", "video", "video/mp4", duration=1.0, width=160, height=90, fps=25,
                     has_audio=False), Path("s.mp4")),
    Input(IDS["image"], "image", "CC0-1.0", MediaInfo("o", 1, "i.png", "image", "image/png", width=64, height=48),
           Path("i.png")),
    Input(IDS["audio"], "audio", "CC-BY-SA-4.0",
           MediaInfo("o", 1, "a.wav", "audio", "audio/wav", duration=2.0, sample_rate=48000, channels=2),
           Path("a.wav")),
    Input(IDS["text"], "text", "CC-BY-4.0", MediaInfo("o", 1, "t.txt", "text", "text/plain"), Path("t.txt")),
])

numbers = st.one_of(st.integers(-3, 30), st.floats(-1, 30, allow_nan=False),
                    st.sampled_from([0, 0.5, 1, 1.5, 2, 2.5, 1e308, float("nan"), float("inf")]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=6),
                    st.sampled_from([*IDS.values(), "aaaa", "bbbb", "cccc", "aaaa1", "ffff", "a", "../x.wav",
                                     *POSITIONS, "contain", "cover", "crossfade", "video", "audio", "text",
                                     "mp4", "wav", "webm", "flac", "gold", "#ff0000", "voice", "music"]))
anything = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)

clip_values: dict[str, Any] = {
    "fragment": st.sampled_from([*IDS.values(), "aaaa", "bbbb", "cccc", "dddd", "eeee", "ffff0000", "a.wav"]),
    "at": numbers, "from": numbers, "to": numbers, "duration": numbers, "speed": numbers, "gain": numbers,
    "fade_in": numbers, "fade_out": numbers, "loop": st.booleans(), "mute": st.booleans(),
    "fit": st.sampled_from(["contain", "cover", "stretch", "fill"]),
    "position": st.one_of(st.sampled_from(POSITIONS), st.lists(numbers, min_size=2, max_size=2)),
    "transition": st.one_of(st.fixed_dictionaries({"duration": numbers}),
                            st.fixed_dictionaries({"type": st.sampled_from(["crossfade", "wipeleft", "zoomin",
                                                                            "wipe", "revealdown"]),
                                                   "duration": numbers}),
                            st.fixed_dictionaries({"duration": numbers,
                                                   "curve": st.sampled_from(["qsin", "exp", "nofade", 3])})),
    "duck_under": st.sampled_from(["voice", "music", "picture", "nope"]),
    "weight": numbers, "text": st.text(max_size=10), "size": st.integers(-1, 80),
    "color": st.sampled_from(["white", "gold", "#00ff00", "nocolour"]), "font": st.sampled_from(["DejaVu Sans", ""]),
    "keyframes": st.one_of(st.lists(st.fixed_dictionaries({"t": numbers}, optional={
        "scale": numbers, "position": st.lists(numbers, min_size=1, max_size=3), "opacity": numbers,
        "gain": numbers, "ease": st.sampled_from(["linear", "in", "out", "in-out", "bounce"]),
        "x": numbers}), max_size=3), anything),
    "zoom": st.sampled_from(["in", "out", "sideways", 1]), "pan": st.sampled_from(["left", "up", "down", "north"]),
    "amount": numbers, "scale": numbers, "freeze": numbers,
    "gradient": st.one_of(st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["linear", "radial", "conic"]), "direction": st.sampled_from(["up", "left", "x"]),
        "colors": st.lists(st.sampled_from(["red", "#000000", "nocolour", 3]), max_size=9)}), anything),
    "fade_curve": st.sampled_from(["tri", "qsin", "exp", "nofade", ""]),
    "outline": numbers, "credits": st.sampled_from(["roll", "cards", "spiral", 1]),
}


@st.composite
def clips(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(CLIP_KEYS), max_size=6, unique=True))
    clip = {k: draw(clip_values[k]) for k in keys}
    if draw(st.booleans()):
        clip[draw(st.sampled_from(["fragment", "text"]))] = draw(
            st.sampled_from([*IDS.values(), "aaaa", "cccc", "hello"]))
    if draw(st.integers(0, 9)) == 0:
        clip[draw(st.text(max_size=6))] = draw(anything)
    return clip


@st.composite
def timelines(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {"hitrec": draw(st.sampled_from([1, 1, 1, 1, 2, "1"]))}
    if draw(st.booleans()):
        output: dict[str, Any] = {}
        if draw(st.booleans()):
            output["size"] = draw(st.sampled_from([[160, 90], [64, 48], [0, 0], [161, 90], "160x90"]))
        for key in draw(st.lists(st.sampled_from(OUTPUT_KEYS), max_size=3, unique=True)):
            output[key] = draw(st.one_of(
                st.sampled_from([24, 25, 29.97, 48000, 44100, 1, 2, "mp4", "wav", "webm", "mp3", [160, 90]]),
                scalars))
        data["output"] = output
    tracks = []
    for i in range(draw(st.integers(0, 3))):
        track: dict[str, Any] = {"kind": draw(st.sampled_from(["video", "audio", "text", "video", "audio", "x",
                                                                "captions", "credits"])),
                                 "name": draw(st.sampled_from(["voice", "music", "picture", f"t{i}"])),
                                 "clips": draw(st.lists(clips(), max_size=3))}
        if draw(st.integers(0, 9)) == 0:
            track[draw(st.sampled_from([*TRACK_KEYS, "clip", "knd"]))] = draw(anything)
        tracks.append(track)
    data["tracks"] = tracks
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.sampled_from([*TOP_KEYS, "titel", "output", "credits"]))] = draw(anything)
    return data


small = st.sampled_from([0, 0.25, 0.5, 1, 1.5, 2])


@st.composite
def valid_clip(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A clip built from sensible values, so many generated timelines get through to planning."""
    if kind == "credits":
        clip: dict[str, Any] = {"duration": draw(st.sampled_from([0.5, 1, 2])),
                                "credits": draw(st.sampled_from(["roll", "cards"]))}
        optional = {"at": small, "fade_in": small, "size": st.integers(8, 40)}
    elif kind == "text":
        clip = {"text": draw(st.text(max_size=12)), "duration": draw(st.sampled_from([0.5, 1, 2]))}
        optional = {"at": small, "fade_in": small, "fade_out": small, "size": st.integers(8, 40),
                    "color": st.sampled_from(["white", "gold", "#00ff00"]), "position": st.sampled_from(POSITIONS)}
    else:
        pool = {"video": ["aaaa", "bbbb", "eeee"], "audio": ["cccc"]}[kind]
        clip = {"fragment": draw(st.sampled_from(pool))}
        optional = {"at": small, "from": st.sampled_from([0, 0.25, 0.5]), "to": st.sampled_from([0.75, 1, 2]),
                    "duration": st.sampled_from([0.5, 1, 3]), "speed": st.sampled_from([0.5, 1, 2]),
                    "gain": st.sampled_from([-6, 0, 3]), "fade_in": st.sampled_from([0, 0.1]),
                    "fade_out": st.sampled_from([0, 0.2]), "loop": st.booleans(), "mute": st.booleans(),
                    "fit": st.sampled_from(["contain", "cover", "stretch"]),
                    "position": st.one_of(st.sampled_from(POSITIONS), st.just([10, 5])),
                    "transition": st.fixed_dictionaries({"duration": st.sampled_from([0.25, 0.5]),
                                                         "type": st.sampled_from(["crossfade", "wipeleft",
                                                                                  "circleopen"]),
                                                         "curve": st.sampled_from(["tri", "qsin", "log"])}),
                    "duck_under": st.sampled_from(["voice", "music"]), "weight": st.sampled_from([1, 2.5]),
                    "fade_curve": st.sampled_from(["qsin", "exp"]),
                    "keyframes": st.just([{"t": 0, "gain": -12}, {"t": 0.4, "gain": 0}])}
        if kind == "video":
            optional.update({
                "zoom": st.sampled_from(["in", "out"]), "pan": st.sampled_from(["left", "right", "up"]),
                "scale": st.sampled_from([0.25, 0.5]), "freeze": st.sampled_from([0, 0.5]),
                "keyframes": st.sampled_from([[{"t": 0, "scale": 1}, {"t": 0.5, "scale": 1.5, "ease": "in"}],
                                              [{"t": 0.1, "opacity": 0.5, "position": [0.3, 0.6]}]])})
        if kind == "video" and draw(st.integers(0, 4)) == 0:
            clip = {"color": "#102030"} if draw(st.booleans()) else {
                "gradient": {"type": draw(st.sampled_from(["linear", "radial"])), "colors": ["red", "blue"]}}
            clip["duration"] = draw(st.sampled_from([0.5, 1]))
            optional = {"at": small, "fade_in": st.sampled_from([0, 0.1]), "scale": st.sampled_from([0.5, 1]),
                        "zoom": st.sampled_from(["in", "out"]),
                        "transition": st.fixed_dictionaries({"duration": st.sampled_from([0.25]),
                                                             "type": st.sampled_from(["dissolve"])})}
    for key in draw(st.lists(st.sampled_from(sorted(optional)), max_size=4, unique=True)):
        clip[key] = draw(optional[key])
    return clip


@st.composite
def valid_timelines(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(["video", "audio", "text", "credits"]), min_size=1, max_size=4))
    names = ["picture", "voice", "music", "titles"]
    tracks = [{"kind": kind, "name": names[i], "clips": draw(st.lists(valid_clip(kind), min_size=1, max_size=3))}
              for i, kind in enumerate(kinds)]
    data: dict[str, Any] = {"hitrec": 1, "tracks": tracks}
    if set(kinds) - {"audio"} or draw(st.booleans()):
        data["output"] = {"size": [160, 90], "fps": draw(st.sampled_from([24, 25, 30]))}
    return data


def check(text: str) -> None:
    try:
        timeline = parse_timeline(text, "fuzz.yaml")
        plan = make_plan(timeline, RESOLVER)
        plan.normalized_yaml()
        with tempfile.TemporaryDirectory() as work:
            build_command(plan, Path(work) / f"out.{plan.format}", Path(work))
    except HitrecError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_generated_timelines_never_traceback(data: dict[str, Any]) -> None:
    check(yaml.safe_dump(data, sort_keys=False))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_timelines())
def test_mostly_valid_timelines_never_traceback(data: dict[str, Any]) -> None:
    check(yaml.safe_dump(data, sort_keys=False))


@settings(max_examples=200, deadline=None)
@given(anything)
def test_arbitrary_yaml_documents_never_traceback(data: Any) -> None:
    check(yaml.safe_dump(data))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("hitrec: 1\n-{}[]&*!|>'\"#%@`,?tracks kind audio clips fragment "
                                              "aaaa 0.5 \t")), max_size=120))
def test_arbitrary_text_never_tracebacks(text: str) -> None:
    check(text)


def test_some_generated_timelines_are_accepted() -> None:
    text = yaml.safe_dump({"hitrec": 1, "output": {"size": [160, 90]}, "tracks": [
        {"kind": "video", "name": "picture", "clips": [{"fragment": "aaaa", "to": 1},
                                                       {"fragment": "bbbb", "duration": 1,
                                                        "transition": {"duration": 0.5}}]},
        {"kind": "audio", "name": "music", "clips": [{"fragment": "cccc", "loop": True, "duration": 3,
                                                      "duck_under": "picture"}]}]})
    plan = make_plan(parse_timeline(text, "ok.yaml"), RESOLVER)
    assert plan.length == 3
