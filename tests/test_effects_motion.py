"""Generated backgrounds, freeze frames, contain-blur, picture in picture, keyframes, Ken Burns and gain
automation: rendered by the ffmpeg engine, checked frame by frame, re-rendered byte-identical, verified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media import ffmpeg
from render_support import decode_audio, decode_video, make_fragments, mean_rgb, record, rms, write_timeline
from test_timeline_fuzz import IDS, RESOLVER

from hitrec.errors import TimelineError
from hitrec.render.plan import make_plan
from hitrec.store import Repo
from hitrec.timeline.yaml_codec import parse_timeline


@pytest.fixture
def media(project: Path) -> dict[str, str]:
    repo = Repo.find()
    f = {k: x.id for k, x in make_fragments(repo, project / "media").items()}
    rb = project / "media" / "rb.mp4"  # red for a second, then blue
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=160x90:r=24:d=1", "-f", "lavfi", "-i", "color=c=blue:s=160x90:r=24:d=1",
           "-filter_complex", "[0][1]concat=n=2:v=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(rb))
    halves = project / "media" / "halves.png"  # red left half, blue right half
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=80x90", "-f", "lavfi", "-i", "color=c=blue:s=80x90",
           "-filter_complex", "[0][1]hstack", "-frames:v", "1", str(halves))
    tall = project / "media" / "tall.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=lime:s=30x90", "-frames:v", "1", str(tall))
    for key, path in (("rb", rb), ("halves", halves), ("tall", tall)):
        f[key] = record(repo, path).id
    return f


def piece(f: dict[str, str]) -> dict:
    return {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [
        {"kind": "video", "name": "base", "clips": [
            {"color": "#203040", "duration": 1},
            {"gradient": {"type": "linear", "colors": ["black", "white"]}, "duration": 1},
            {"fragment": f["rb"], "freeze": 1.5, "duration": 1},
            {"fragment": f["tall"], "duration": 1, "fit": "contain-blur"},
            {"fragment": f["halves"], "duration": 1, "fit": "cover", "zoom": "in", "pan": "right", "amount": 0.5},
        ]},
        {"kind": "video", "name": "over", "clips": [
            {"fragment": f["red"], "at": 0, "to": 1, "scale": 0.25, "position": "top-right", "mute": True},
            {"fragment": f["red"], "at": 1, "to": 1, "mute": True, "keyframes": [{"t": 0, "opacity": 0},
                                                                   {"t": 1, "opacity": 1, "ease": "in"}]},
        ]},
        {"kind": "audio", "name": "music", "clips": [
            {"fragment": f["tone"], "at": 0, "keyframes": [{"t": 0, "gain": -40}, {"t": 2, "gain": 0}],
             "fade_curve": "qsin", "fade_out": 0.2}]},
    ]}


def test_effects_render_frame_by_frame_and_verify(project: Path, media: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", piece(media))
    r = cli("render", "t.yaml", "-o", "out.mp4")
    assert r.exit_code == 0, r.output
    v = decode_video(project / "out.mp4", 160, 90)
    assert len(v) == 120
    # 0-1 s: the colour, with the red picture in picture in the top-right quarter-size box
    bg = mean_rgb(v[12][60:, :80])
    assert abs(bg[0] - 0x20) < 12 and abs(bg[2] - 0x40) < 12
    pip = mean_rgb(v[12][4:18, 128:156])
    assert pip[0] > 200 and pip[2] < 60
    assert mean_rgb(v[12][30:60, 40:120])[0] < 60  # the rest is the background
    # 1-2 s: the gradient (dark top, light bottom) under the red fading in by its opacity keyframes
    early, late = v[25], v[46]
    assert mean_rgb(early[:10])[1] < 40 and mean_rgb(early[-10:])[1] > 200
    assert mean_rgb(late[40:50])[0] > 200 and mean_rgb(late[40:50])[1] < 60
    # 2-3 s: the frame of rb at 1.5 s (blue), held
    assert all(mean_rgb(v[i])[2] > 200 and mean_rgb(v[i])[0] < 40 for i in (48, 60, 71))
    # 3-4 s: the tall picture in the middle, its blurred self (not black) at the sides
    assert mean_rgb(v[84][:, 70:90])[1] > 200
    assert mean_rgb(v[84][:, :20])[1] > 60
    # 4-5 s: Ken Burns on red|blue halves: zooming in and panning right moves the red/blue edge left
    def edge(frame: np.ndarray) -> int:
        row = frame[45, :, 0].astype(int)
        return int(np.argmax(row < 128))
    start, end = edge(v[96]), edge(v[119])
    assert 70 <= start <= 90 and end < start - 10
    # sound: the tone rises from -40 dB to 0 dB over its 2 s
    s = decode_audio(project / "out.mp4")
    assert rms(s[int(0.1 * 48000):int(0.3 * 48000)]) < 0.05 * rms(s[int(1.6 * 48000):int(1.75 * 48000)])
    # the same timeline renders to the same bytes; a remix of it verifies; generators credit no fragment
    assert cli("render", "t.yaml", "-o", "again.mp4").exit_code == 0
    assert (project / "again.mp4").read_bytes() == (project / "out.mp4").read_bytes()
    r = cli("remix", "t.yaml", "--json")
    assert r.exit_code == 0, r.output
    fid = r.json()["id"]
    assert r.json()["parents"] == [media[k] for k in ("rb", "tall", "halves", "red", "tone")]
    stored = Repo.find().read_fragment_file(fid, "timeline.yaml").decode()
    for key in ("color: '#203040'", "gradient:", "freeze: 1.5", "contain-blur", "zoom: in", "keyframes:",
                "fade_curve: qsin", "scale: 0.25"):
        assert key in stored
    r = cli("verify", fid, "--json")
    assert r.exit_code == 0 and r.json()["ok"] is True


def tl(clip: str, kind: str = "video") -> str:
    return f"hitrec: 1\noutput: {{size: [160, 90]}}\ntracks:\n  - kind: {kind}\n    clips:\n      - {clip}\n"


@pytest.mark.parametrize(("clip", "kind", "message"), [
    ("{fragment: aaaa, keyframes: [{t: 1, scale: 2}, {t: 0.5, scale: 1}]}", "video",
     "t.yaml:6: tracks[0].clips[0].keyframes[1].t: keyframes out of order: t 0.5 is not after"),
    ("{fragment: aaaa, keyframes: [{t: 0, scale: 1}, {t: 5, scale: 2}]}", "video",
     "t.yaml:6: tracks[0].clips[0].keyframes[1].t: the keyframe at t 5 is outside the clip (0 to 2 s"),
    ("{fragment: aaaa, keyframes: [{t: 0, scale: 1, ease: bounce}]}", "video",
     "tracks[0].clips[0].keyframes[0].ease: must be one of linear, in, out, in-out, got 'bounce'"),
    ("{fragment: aaaa, keyframes: [{t: 0}]}", "video", "keyframes[0]: a keyframe gives at least one of"),
    ("{fragment: cccc, keyframes: [{t: 0, scale: 2}]}", "audio", "keyframes[0].scale: 'scale' does not apply to sound"),
    ("{fragment: bbbb, duration: 2, zoom: in, keyframes: [{t: 0, scale: 2}]}", "video",
     "zoom: `zoom` and keyframed scale both move the picture"),
    ("{fragment: bbbb, duration: 2, zoom: sideways}", "video", "zoom: must be one of in, out, got 'sideways'"),
    ("{fragment: bbbb, duration: 2, amount: 0.3}", "video", "`amount` belongs to a Ken Burns move"),
    ("{fragment: cccc, fade_curve: qsinn}", "audio", "fade_curve: unknown fade_curve 'qsinn'; did you mean 'qsin'?"),
    ("{color: nocolour, duration: 1}", "video", "color: must be a colour name"),
    ("{color: red}", "video", "a generated background needs `duration:`"),
    ("{color: red, duration: 1, from: 2}", "video", "'from' is not valid for a generated background"),
    ("{gradient: {type: conic, colors: [red, blue]}, duration: 1}", "video", "gradient.type: must be one of linear"),
    ("{gradient: {colors: [red]}, duration: 1}", "video", "gradient.colors: a gradient needs `colors:`, a list of 2"),
    ("{fragment: aaaa, color: red}", "video", "'color' is for a generated background"),
    ("{fragment: aaaa, freeze: 3, duration: 1}", "video", "`freeze` (3 s) is beyond the end of fragment aaaa"),
    ("{fragment: aaaa, freeze: 1}", "video", "a freeze frame needs `duration:`"),
    ("{fragment: aaaa, freeze: 1, duration: 1, speed: 2}", "video", "'speed' does not go with `freeze:`"),
    ("{fragment: aaaa, scale: 0}", "video", "scale: must be greater than 0"),
    ("{fragment: bbbb, duration: 1, keyframes: [{t: 0, gain: -3}]}", "video", "'gain' does not apply to a picture"),
])
def test_bad_effects_are_one_line_errors(clip: str, kind: str, message: str) -> None:
    clip = clip.replace("aaaa", IDS["video"][:4]).replace("bbbb", IDS["image"][:4]).replace("cccc", IDS["audio"][:4])
    with pytest.raises(TimelineError) as info:
        make_plan(parse_timeline(tl(clip, kind), "t.yaml"), RESOLVER)
    assert message in str(info.value)


def test_time_dependent_clips_and_the_normalized_form_round_trip() -> None:
    text = tl("{fragment: bbbb, duration: 2, zoom: out, pan: up}").replace("bbbb", IDS["image"][:4])
    text += f"      - {{fragment: {IDS['video'][:4]}, freeze: 0.5, duration: 1}}\n"
    text += f"      - {{fragment: {IDS['video'][:4]}, to: 1, scale: 0.5}}\n"
    text += "      - {gradient: {type: radial, colors: [white, '#000010']}, duration: 1}\n"
    plan = make_plan(parse_timeline(text, "t.yaml"), RESOLVER)
    kb, frozen, pip, gradient = plan.tracks[0].clips
    assert kb.time_dependent and frozen.time_dependent
    assert not pip.time_dependent and not gradient.time_dependent
    assert [k.scale for k in kb.keyframes] == [1.2, 1.0] and kb.keyframes[-1].t == 2
    once = plan.normalized_yaml()
    again = make_plan(parse_timeline(once.decode(), "n.yaml"), RESOLVER).normalized_yaml()
    assert once == again
    assert b"gradient:\n      type: radial\n      colors:\n      - '#ffffff'\n      - '#000010'" in once
