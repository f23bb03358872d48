"""Resolving a timeline against a real repo: fragment ids, kinds, source ranges, placement, normalizing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from render_support import make_fragments

from hitrec.errors import TimelineError
from hitrec.render.plan import InputsResolver, RepoResolver, make_plan
from hitrec.store import Fragment, Person, Repo
from hitrec.timeline.yaml_codec import parse_timeline


@pytest.fixture(scope="module")
def repo_and_fragments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, dict[str, Fragment]]:
    root = tmp_path_factory.mktemp("plan")
    repo = Repo.init(root / "project")
    fragments = make_fragments(repo, root / "media")
    assert all(isinstance(f.author, Person) for f in fragments.values())
    return repo, fragments


@pytest.fixture
def frags(repo_and_fragments: tuple[Repo, dict[str, Fragment]]) -> dict[str, str]:
    return {k: f.id for k, f in repo_and_fragments[1].items()}


def plan_of(repo_and_fragments: tuple[Repo, dict[str, Fragment]], text: str):  # type: ignore[no-untyped-def]
    return make_plan(parse_timeline(text, "t.yaml"), RepoResolver(repo_and_fragments[0]))


def video(clips: str, extra: str = "") -> str:
    return f"hitrec: 1\noutput: {{size: [160, 90], fps: 24}}\ntracks:\n  - kind: video\n    clips:\n{clips}{extra}"


def audio(clips: str) -> str:
    return f"hitrec: 1\ntracks:\n  - kind: audio\n    name: a\n    clips:\n{clips}"


def error_of(rf, text: str) -> TimelineError:  # type: ignore[no-untyped-def]
    with pytest.raises(TimelineError) as info:
        plan_of(rf, text)
    return info.value


def test_placement_defaults_and_crossfades(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    plan = plan_of(repo_and_fragments, video(
        f"      - {{fragment: {frags['red'][:8]}, from: 0.5}}\n"
        f"      - {{fragment: {frags['green'][:6]}, duration: 1, transition: {{type: crossfade, duration: 0.5}}}}\n"
        f"      - {{fragment: {frags['blue'][:8]}, to: 1, speed: 2}}\n"
        f"      - {{fragment: {frags['red'][:8]}, at: 4, duration: 3, loop: true, to: 0.5}}\n"))
    clips = plan.tracks[0].clips
    assert [(c.at, c.duration) for c in clips] == [(0, 1.5), (1.0, 1), (2.0, 0.5), (4, 3)]
    assert clips[0].audio_fade_out == 0.5 and clips[1].transition == 0.5
    assert plan.length == 7
    assert plan.fragment_ids == (frags["red"], frags["green"], frags["blue"])


def test_normalized_timeline_has_full_ids_and_explicit_times(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    text = (f"hitrec: 1\ntitle: T\noutput: {{size: [160, 90]}}\ncredits: {{editor_share: 0.3}}\ntracks:\n"
            f"  - kind: video\n    clips:\n"
            f"      - {{fragment: {frags['red'][:6]}, from: 0.25, weight: 2}}\n"
            f"      - {{fragment: {frags['blue'][:6]}, speed: 0.5, to: 0.5, transition: {{duration: 0.25}}}}\n"
            f"  - kind: text\n    clips:\n      - {{text: hi, duration: 1, at: 0.5}}\n")
    plan = plan_of(repo_and_fragments, text)
    data = yaml.safe_load(plan.normalized_yaml())
    assert data["output"] == {"size": [160, 90], "fps": 24, "sample_rate": 48000, "channels": 2, "format": "mp4"}
    assert data["credits"] == {"editor_share": 0.3}
    c0, c1 = data["tracks"][0]["clips"]
    assert c0 == {"fragment": frags["red"], "at": 0, "duration": 1.75, "from": 0.25, "weight": 2}
    assert c1 == {"fragment": frags["blue"], "at": 1.5, "duration": 1, "speed": 0.5, "to": 0.5,
                  "transition": {"duration": 0.25}}
    assert data["tracks"][1]["clips"] == [{"text": "hi", "at": 0.5, "duration": 1}]
    # normalizing is idempotent, and the normalized timeline plans to the same clips
    again = make_plan(parse_timeline(plan.normalized_yaml().decode(), "n.yaml"), RepoResolver(repo_and_fragments[0]))
    assert again.normalized_yaml() == plan.normalized_yaml()
    assert [(c.at, c.duration) for c in again.clips()] == [(c.at, c.duration) for c in plan.clips()]


def test_unknown_fragment_names_line_and_field(repo_and_fragments) -> None:  # type: ignore[no-untyped-def]
    err = error_of(repo_and_fragments, audio("      - {fragment: ffff0000, at: 0}\n"))
    assert (err.line, err.field) == (6, "tracks[0].clips[0].fragment")
    assert "unknown fragment 'ffff0000'" in str(err) and str(err).startswith("t.yaml:6: ")


def test_ambiguous_fragment_lists_candidates(frags) -> None:  # type: ignore[no-untyped-def]
    # Two fragments sharing a prefix: a resolver over fixed sources shows the same error path as the repo.
    from hitrec.render.plan import Input
    from hitrec.store.model import MediaInfo

    info = MediaInfo("x", 1, "a.wav", "audio", "audio/wav", duration=1.0)
    resolver = InputsResolver([Input("abcd" + "1" * 36, "audio", "CC0-1.0", info, Path("a.wav")),
                                Input("abcd" + "2" * 36, "audio", "CC0-1.0", info, Path("b.wav"))])
    with pytest.raises(TimelineError) as info_:
        make_plan(parse_timeline(audio("      - {fragment: abcd}\n"), "t.yaml"), resolver)
    assert info_.value.field == "tracks[0].clips[0].fragment" and "ambiguous" in str(info_.value)
    assert "abcd1111" in str(info_.value) and "abcd2222" in str(info_.value)


@pytest.mark.parametrize(("track", "key", "words"), [
    ("video", "tone", "an audio fragment; a video track takes video fragments and images"),
    ("video", "story", "a text fragment"),
    ("audio", "red", "a video fragment; an audio track takes audio"),
    ("audio", "green", "an image fragment"),
])
def test_fragment_of_the_wrong_kind(repo_and_fragments, frags, track, key, words) -> None:  # type: ignore[no-untyped-def]
    clip = f"      - {{fragment: {frags[key]}, duration: 1}}\n"
    err = error_of(repo_and_fragments, video(clip) if track == "video" else audio(clip))
    assert err.field == "tracks[0].clips[0].fragment" and words in err.problem


def test_picture_keys_on_sound_are_refused(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    err = error_of(repo_and_fragments, audio(f"      - {{fragment: {frags['tone']}, fit: cover}}\n"))
    assert err.field == "tracks[0].clips[0].fit" and "does not apply to sound" in err.problem


def test_image_without_duration(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    err = error_of(repo_and_fragments, video(f"      - {{fragment: {frags['green']}}}\n"))
    assert err.field == "tracks[0].clips[0].duration" and "still image needs `duration:`" in err.problem
    assert err.line == 6
    err = error_of(repo_and_fragments, video(f"      - {{fragment: {frags['green']}, duration: 1, from: 1}}\n"))
    assert err.field == "tracks[0].clips[0].from" and "still image" in err.problem


@pytest.mark.parametrize(("clip", "field", "words"), [
    ("from: 2.5", "from", "beyond the end"),
    ("from: 2", "from", "beyond the end"),
    ("to: 3", "to", "beyond the end"),
    ("from: 0, to: 2.5", "to", "beyond the end"),
    ("duration: 3", "duration", "longer than the source allows"),
    ("from: 1.5, duration: 1", "duration", "set `loop: true`"),
    ("speed: 0.5, duration: 4.5", "duration", "longer than the source"),
    ("loop: true", "loop", "needs `duration:`"),
    ("fade_in: 1.5, fade_out: 1", "fade_out", "longer than the clip"),
])
def test_source_ranges(repo_and_fragments, frags, clip, field, words) -> None:  # type: ignore[no-untyped-def]
    err = error_of(repo_and_fragments, audio(f"      - {{fragment: {frags['tone']}, {clip}}}\n"))
    assert err.field == f"tracks[0].clips[0].{field}" and words in err.problem, str(err)


def test_video_clips_may_not_overlap_without_a_transition(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    err = error_of(repo_and_fragments, video(f"      - {{fragment: {frags['red']}}}\n"
                                             f"      - {{fragment: {frags['blue']}, at: 1}}\n"))
    assert err.field == "tracks[0].clips[1].at" and "overlaps" in err.problem
    err = error_of(repo_and_fragments, video(f"      - {{fragment: {frags['red']}}}\n"
                                             f"      - {{fragment: {frags['blue']}, at: 1, "
                                             "transition: {duration: 0.5}}\n"))
    assert err.field == "tracks[0].clips[1].at" and "starts at 1.5" in err.problem
    err = error_of(repo_and_fragments, video(f"      - {{fragment: {frags['red']}, to: 0.5}}\n"
                                             f"      - {{fragment: {frags['blue']}, transition: {{duration: 1}}}}\n"))
    assert err.field == "tracks[0].clips[1].transition" and "longer than the clips" in err.problem


def test_duck_under_needs_a_track_with_sound(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    text = (f"hitrec: 1\noutput: {{size: [160, 90]}}\ntracks:\n"
            f"  - {{kind: video, name: pic, clips: [{{fragment: {frags['silent']}}}]}}\n"
            f"  - {{kind: audio, name: music, clips: [{{fragment: {frags['tone']}, duck_under: pic}}]}}\n")
    err = error_of(repo_and_fragments, text)
    assert err.field == "tracks[1].clips[0].duck_under" and "no sound" in err.problem


def test_json_description(repo_and_fragments, frags) -> None:  # type: ignore[no-untyped-def]
    plan = plan_of(repo_and_fragments, audio(f"      - {{fragment: {frags['tone']}, at: 1}}\n"))
    d = plan.describe()
    assert d["length"] == 3 and d["output"]["size"] is None and d["output"]["format"] == "wav"
    assert d["fragments"][0]["id"] == frags["tone"]
    assert d["tracks"][0]["clips"][0]["at"] == 1
