"""Timeline loading: syntax, keys, types and ranges, each error naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitrec.errors import TimelineError
from hitrec.timeline.yaml_codec import load_timeline, parse_timeline

GOOD = """\
hitrec: 1
title: A piece
output: {size: [320, 180], fps: 24, sample_rate: 48000, format: mp4}
credits: {editor_share: 0.25}
tracks:
  - kind: video
    name: picture
    clips:
      - {fragment: 3fa2c1, at: 0, from: 1.5, to: 6.5}
      - {fragment: 9b01de, duration: 4, fit: contain,
         transition: {type: crossfade, duration: 0.5}}
  - kind: audio
    name: voice
    clips:
      - {fragment: ab12cd, at: 0.5, gain: -3, fade_in: 0.2, fade_out: 0.5}
  - kind: audio
    name: music
    clips:
      - {fragment: cd34ef, at: 0, duration: 20, loop: true, gain: -12, duck_under: voice}
  - kind: text
    clips:
      - {text: "Title", at: 0, duration: 3, size: 48, position: center, color: gold}
"""


def parse(text: str) -> object:
    return parse_timeline(text, "piece.yaml")


def error_of(text: str) -> TimelineError:
    with pytest.raises(TimelineError) as info:
        parse(text)
    return info.value


def test_good_timeline_loads() -> None:
    t = parse_timeline(GOOD, "piece.yaml")
    assert t.title == "A piece"
    assert t.output.size == (320, 180) and t.output.fps == 24 and t.output.format == "mp4"
    assert t.credits == {"editor_share": 0.25}
    assert [tr.kind for tr in t.tracks] == ["video", "audio", "audio", "text"]
    assert t.tracks[3].name == "text3"
    first, second = t.tracks[0].clips
    assert (first.fragment, first.at, first.from_, first.to) == ("3fa2c1", 0, 1.5, 6.5)
    assert second.transition is not None and second.transition.duration == 0.5
    assert second.line == 10 and second.line_of("transition") == 11
    assert t.tracks[2].clips[0].duck_under == "voice"
    assert t.tracks[3].clips[0].color == "#ffd700"


def test_load_from_file_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(GOOD)
    assert load_timeline(path).file == str(path)
    with pytest.raises(TimelineError, match="no such file"):
        load_timeline(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_the_line() -> None:
    err = error_of("hitrec: 1\ntracks:\n  - kind: video\n    clips: [ {fragment: abcd\n")
    assert err.file == "piece.yaml" and err.line is not None and err.line >= 4
    assert "YAML syntax error" in str(err)
    assert str(err).startswith(f"piece.yaml:{err.line}: ")


@pytest.mark.parametrize(("text", "line", "field", "hint"), [
    ("hitrec: 1\ntitel: x\ntracks: []\n", 2, "titel", "'title'"),
    (GOOD.replace("fade_in: 0.2", "fadein: 0.2"), 15, "tracks[1].clips[0].fadein", "'fade_in'"),
    (GOOD.replace("sample_rate: 48000", "samplerate: 48000"), 3, "output.samplerate", "'sample_rate'"),
    (GOOD.replace("    name: voice", "    nmae: voice"), 13, "tracks[1].nmae", "'name'"),
    (GOOD.replace("{type: crossfade", "{tpye: crossfade"), 11, "tracks[0].clips[1].transition.tpye", "'type'"),
    (GOOD.replace("credits: {editor_share", "credits: {editor_shar"), 4, "credits.editor_shar", "'editor_share'"),
])
def test_unknown_key_suggests_the_nearest(text: str, line: int, field: str, hint: str) -> None:
    err = error_of(text)
    assert (err.line, err.field) == (line, field)
    assert f"did you mean {hint}?" in str(err)


def test_unknown_key_without_a_near_match_lists_the_valid_ones() -> None:
    err = error_of("hitrec: 1\nzzzzzz: 1\ntracks: []\n")
    assert "valid keys" in str(err) and "tracks" in str(err)


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("at: 0.5, gain", "at: soon, gain", "tracks[1].clips[0].at", "must be a number"),
    ("gain: -3", "gain: loud", "tracks[1].clips[0].gain", "must be a number"),
    ("loop: true", "loop: 3", "tracks[2].clips[0].loop", "true or false"),
    ("at: 0.5, gain", "at: true, gain", "tracks[1].clips[0].at", "must be a number"),
    ("size: 48", "size: big", "tracks[3].clips[0].size", "whole number"),
    ("fit: contain", "fit: fill", "tracks[0].clips[1].fit", "contain, cover, stretch"),
    ("position: center", "position: middle", "tracks[3].clips[0].position", "must be one of center"),
    ("position: center", "position: [1, two]", "tracks[3].clips[0].position", "[x, y]"),
    ("color: gold", "color: notacolour", "tracks[3].clips[0].color", "colour"),
    ("size: [320, 180]", "size: 320x180", "output.size", "[width, height]"),
    ("size: [320, 180]", "size: [321, 180]", "output.size", "even"),
    ("format: mp4", "format: avi", "output.format", "must be one of"),
    ("fps: 24", "fps: 0", "output.fps", "greater than 0"),
    ("sample_rate: 48000", "sample_rate: 44.1", "output.sample_rate", "whole number"),
    ("editor_share: 0.25", "editor_share: 2", "credits.editor_share", "at most 1"),
    ("kind: video", "kind: picture", "tracks[0].kind", "video, audio, text"),
    ("duration: 20, loop", "duration: '20', loop", "tracks[2].clips[0].duration", "must be a number"),
])
def test_wrong_types_name_the_field(old: str, new: str, field: str, words: str) -> None:
    assert old in GOOD
    err = error_of(GOOD.replace(old, new, 1))
    assert err.field == field
    assert words in err.problem
    assert err.line == next(i for i, line in enumerate(GOOD.replace(old, new, 1).splitlines(), 1) if new in line)


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("at: 0.5, gain", "at: -1, gain", "tracks[1].clips[0].at", "negative"),
    ("from: 1.5", "from: -0.5", "tracks[0].clips[0].from", "negative"),
    ("fade_in: 0.2", "fade_in: -0.2", "tracks[1].clips[0].fade_in", "negative"),
    ("duration: 4", "duration: 0", "tracks[0].clips[1].duration", "greater than 0"),
    ("duration: 4", "duration: -4", "tracks[0].clips[1].duration", "greater than 0"),
    ("to: 6.5", "to: 1.0", "tracks[0].clips[0].to", "must be after `from`"),
    ("to: 6.5", "to: 1.5", "tracks[0].clips[0].to", "must be after `from`"),
    ("crossfade, duration: 0.5", "crossfade, duration: -0.5", "tracks[0].clips[1].transition.duration",
     "greater than 0"),
    ("at: 0, duration: 20", "at: 0, duration: .inf", "tracks[2].clips[0].duration", "finite"),
])
def test_negative_or_inverted_times(old: str, new: str, field: str, words: str) -> None:
    assert old in GOOD
    err = error_of(GOOD.replace(old, new, 1))
    assert err.field == field and words in err.problem


def test_timelines_are_parsed_safely_no_tags() -> None:
    evil = "hitrec: 1\ntracks: !!python/object/apply:os.system ['touch /tmp/hitrec-pwned']\n"
    err = error_of(evil)
    assert err.line == 2 and "tag" in str(err)
    assert not Path("/tmp/hitrec-pwned").exists()
    err = error_of("hitrec: 1\ntracks:\n  - !!set {a, b}\n")
    assert "tag" in str(err) or "mapping" in str(err)


@pytest.mark.parametrize("ref", ["clips/red.mp4", "/etc/passwd", "../media/voice.wav", "xyz", "abc"])
def test_fragments_are_ids_never_paths(ref: str) -> None:
    err = error_of(GOOD.replace("fragment: 3fa2c1", f"fragment: '{ref}'"))
    assert err.field == "tracks[0].clips[0].fragment" and "never by file path" in err.problem


def test_numeric_looking_ids_are_read_as_ids() -> None:
    t = parse(GOOD.replace("fragment: 3fa2c1", "fragment: 123456"))
    assert t.tracks[0].clips[0].fragment == "123456"


@pytest.mark.parametrize(("text", "field", "words"), [
    ("", None, "empty timeline"),
    ("- a\n- b\n", None, "must be a mapping"),
    ("tracks: []\n", "hitrec", "missing `hitrec: 1`"),
    ("hitrec: 2\ntracks: []\n", "hitrec", "unsupported timeline version 2"),
    ("hitrec: 1\n", "tracks", "missing `tracks:`"),
    ("hitrec: 1\ntracks: []\n", "tracks", "non-empty list"),
    ("hitrec: 1\ntracks: [{kind: audio}]\n", "tracks[0].clips", "non-empty list"),
    ("hitrec: 1\ntracks: [{clips: [{fragment: abcd}]}]\n", "tracks[0].kind", "missing `kind:`"),
    ("hitrec: 1\ntracks: [{kind: audio, clips: [{at: 1}]}]\n", "tracks[0].clips[0].fragment", "needs `fragment:`"),
    ("hitrec: 1\ntracks: [{kind: audio, clips: [abcd]}]\n", "tracks[0].clips[0]", "must be a mapping"),
    ("hitrec: 1\ntracks: [{kind: audio, clips: [{fragment: abcd, text: hi}]}]\n", "tracks[0].clips[0].text",
     "not valid for a clip on a audio track"),
    ("hitrec: 1\noutput: {size: [64, 48]}\ntracks: [{kind: text, clips: [{text: hi}]}]\n",
     "tracks[0].clips[0].duration", "needs `duration:`"),
    ("hitrec: 1\noutput: {size: [64, 48]}\ntracks: [{kind: text, clips: [{text: hi, duration: 1, gain: 2}]}]\n",
     "tracks[0].clips[0].gain", "not valid for a text clip"),
    ("hitrec: 1\ntracks: [{kind: video, clips: [{fragment: abcd, duration: 1}]}]\n", "tracks[0]",
     "give output.size"),
    ("hitrec: 1\noutput: {format: mp4}\ntracks: [{kind: audio, clips: [{fragment: abcd}]}]\n", "output.format",
     "video format"),
    ("hitrec: 1\noutput: {size: [64, 48], format: wav}\ntracks: [{kind: audio, clips: [{fragment: abcd}]}]\n",
     "output.format", "audio format"),
    ("hitrec: 1\ntracks: [{kind: audio, clips: [{fragment: abcd, duck_under: voice}]}]\n",
     "tracks[0].clips[0].duck_under", "no track named 'voice'"),
    ("hitrec: 1\ntracks: [{kind: audio, name: a, clips: [{fragment: abcd, duck_under: a}]}]\n",
     "tracks[0].clips[0].duck_under", "its own track"),
    ("hitrec: 1\ntracks: [{kind: audio, clips: [{fragment: abcd, transition: {duration: 1}}]}]\n",
     "tracks[0].clips[0].transition", "first clip"),
    ("hitrec: 1\ntracks: [{kind: audio, name: x, clips: [{fragment: abcd}]}, {kind: audio, name: x, "
     "clips: [{fragment: abcd}]}]\n", "tracks[1].name", "unique"),
    ("hitrec: 1\ntracks: [{kind: audio, clips: [{fragment: abcd, at: 1, at: 2}]}]\n", None, "duplicate key"),
])
def test_structural_errors(text: str, field: str | None, words: str) -> None:
    err = error_of(text)
    assert words in err.problem
    if field is not None:
        assert err.field == field
    assert err.line is not None


def test_error_message_format() -> None:
    err = error_of(GOOD.replace("gain: -3", "gain: loud"))
    assert str(err) == "piece.yaml:15: tracks[1].clips[0].gain: must be a number, got a string ('loud')"


def test_cli_reports_one_line_and_renders_nothing(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (project / "t.yaml").write_text(GOOD.replace("fade_in: 0.2", "fadein: 0.2"))
    r = cli("render", "t.yaml", "-o", "out.mp4")
    assert r.exit_code == 1
    assert "t.yaml:15: tracks[1].clips[0].fadein: unknown key 'fadein'; did you mean 'fade_in'?" in r.stderr
    assert not (project / "out.mp4").exists()
    assert list(project.iterdir()) == [project / ".hitrec", project / "t.yaml"] or sorted(
        p.name for p in project.iterdir()) == [".hitrec", "t.yaml"]
    r = cli("remix", "t.yaml")
    assert r.exit_code == 1 and "did you mean 'fade_in'?" in r.stderr
    assert cli("log", "--json").json() == []
