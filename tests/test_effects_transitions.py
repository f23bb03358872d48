"""Transitions by name (every xfade transition of the bundled ffmpeg) and the sound's cross-fade curves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from render_support import decode_audio, decode_video, make_fragments, mean_rgb, rms, write_timeline

from hitrec.errors import TimelineError
from hitrec.media.ffmpeg import ffmpeg_exe
from hitrec.store import Repo
from hitrec.timeline.model import CURVES, XFADE_TRANSITIONS
from hitrec.timeline.yaml_codec import parse_timeline


def _options(filter_name: str, option: str) -> list[str]:
    """The named values of one option as ``ffmpeg -h filter=NAME`` lists them."""
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-h", f"filter={filter_name}"], capture_output=True,
                          text=True, check=True).stdout
    names: list[str] = []
    inside = False
    for line in text.splitlines():
        if re.match(rf"^\s+{option}\s+<int>", line):
            inside = True
            continue
        if inside:
            m = re.match(r"^\s{5,}(\w+)\s+-?\d+\s", line)
            if not m:
                break
            names.append(m.group(1))
    return names


def test_the_transition_names_are_the_bundled_ffmpegs() -> None:
    names = [n for n in _options("xfade", "transition") if n != "custom"]
    assert len(names) == 58
    assert list(XFADE_TRANSITIONS) == names


def test_the_curve_names_are_afades() -> None:
    assert list(CURVES) == [n for n in _options("afade", "curve") if n != "nofade"]


def tl(transition: str) -> str:
    return ("hitrec: 1\noutput: {size: [160, 90]}\ntracks:\n  - kind: video\n    clips:\n"
            "      - {fragment: aaaa, to: 1}\n"
            f"      - {{fragment: bbbb, to: 1, transition: {transition}}}\n")


def test_unknown_transition_and_curve_are_one_line_errors() -> None:
    with pytest.raises(TimelineError) as info:
        parse_timeline(tl("{type: wipeleftt, duration: 0.5}"), "t.yaml")
    assert str(info.value).startswith("t.yaml:7: tracks[0].clips[1].transition.type: unknown type 'wipeleftt'")
    assert "did you mean 'wipeleft'?" in str(info.value)
    with pytest.raises(TimelineError) as info:
        parse_timeline(tl("{type: zzzz, duration: 0.5}"), "t.yaml")
    assert "docs/timeline.md" in str(info.value)
    with pytest.raises(TimelineError) as info:
        parse_timeline(tl("{type: wipeleft, duration: 0.5, curve: qsine}"), "t.yaml")
    assert str(info.value).startswith("t.yaml:7: tracks[0].clips[1].transition.curve: unknown curve 'qsine'")
    assert "did you mean 'qsin'?" in str(info.value)
    ok = parse_timeline(tl("{type: wipeleft, duration: 0.5, curve: exp}"), "t.yaml")
    t = ok.tracks[0].clips[1].transition
    assert t is not None and (t.type, t.xfade, t.curve) == ("wipeleft", "wipeleft", "exp")


def test_a_wipe_renders_by_name_with_its_sound_curve_and_verifies(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    f = {k: x.id for k, x in make_fragments(Repo.find(), project / "media").items()}

    def timeline(transition: dict) -> dict:
        return {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [{"kind": "video", "clips": [
            {"fragment": f["red"], "to": 1}, {"fragment": f["blue"], "to": 1, "transition": transition}]}]}

    write_timeline(project / "wipe.yaml", timeline({"type": "wipeleft", "duration": 0.5, "curve": "exp"}))
    write_timeline(project / "fade.yaml", timeline({"duration": 0.5}))
    assert cli("render", "wipe.yaml", "-o", "wipe.mp4").exit_code == 0
    assert cli("render", "fade.yaml", "-o", "fade.mp4").exit_code == 0
    wipe, fade = decode_video(project / "wipe.mp4", 160, 90), decode_video(project / "fade.mp4", 160, 90)
    assert len(wipe) == 36
    mid = wipe[18]  # half way through: wipeleft has blue on one side, red on the other (no mixing)
    left, right = mean_rgb(mid[:, :60]), mean_rgb(mid[:, 100:])
    assert {left[0] > 200, right[0] > 200} == {True, False}
    assert {left[2] > 200, right[2] > 200} == {True, False}
    blend = mean_rgb(fade[18][:, :60])  # a cross-fade mixes everywhere
    assert 60 < blend[0] < 200 and 60 < blend[2] < 200
    a, b = decode_audio(project / "wipe.mp4"), decode_audio(project / "fade.mp4")
    window = slice(int(0.55 * 48000), int(0.7 * 48000))  # the exp curve keeps the outgoing sound lower
    assert abs(rms(a[window]) - rms(b[window])) > 0.01
    assert cli("render", "wipe.yaml", "-o", "again.mp4").exit_code == 0
    assert (project / "again.mp4").read_bytes() == (project / "wipe.mp4").read_bytes()
    r = cli("remix", "wipe.yaml", "--json")
    assert r.exit_code == 0, r.output
    stored = Repo.find().read_fragment_file(r.json()["id"], "timeline.yaml").decode()
    assert "type: wipeleft" in stored and "curve: exp" in stored
    r = cli("verify", r.json()["id"], "--json")
    assert r.exit_code == 0 and r.json()["ok"] is True


def test_time_dependent_marks_the_clips_a_transition_joins() -> None:
    from test_timeline_fuzz import RESOLVER

    from hitrec.render.plan import make_plan

    text = tl("{type: slideup, duration: 0.5}").replace("bbbb, to: 1", "eeee, to: 1")
    text += "      - {fragment: aaaa, to: 1}\n"
    plan = make_plan(parse_timeline(text, "t.yaml"), RESOLVER)
    first, second, third = plan.tracks[0].clips
    assert (first.time_dependent, second.time_dependent, third.time_dependent) == (True, True, False)
    assert second.transition_type == "slideup"
