"""The moviepy reference engine refuses each effect it does not implement, naming it, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_timeline_fuzz import IDS, RESOLVER

from hitrec.errors import RenderError
from hitrec.render.engine import render_plan
from hitrec.render.plan import make_plan
from hitrec.timeline.yaml_codec import parse_timeline

V, IMG, A, T = (IDS[k][:4] for k in ("video", "image", "audio", "text"))


@pytest.mark.parametrize(("clips", "feature"), [
    (f"[{{fragment: {V}, to: 1}}, {{fragment: {V}, to: 1, transition: {{type: wipeleft, duration: 0.5}}}}]",
     "the wipeleft transition"),
    (f"[{{fragment: {V}, to: 1}}, {{fragment: {V}, to: 1, transition: {{duration: 0.5, curve: exp}}}}]",
     "fade curve exp"),
    (f"[{{fragment: {V}, fade_in: 0.5, fade_curve: qsin}}]", "fade curve qsin"),
    (f"[{{fragment: {IMG}, duration: 1, zoom: in}}]", "keyframes (and zoom/pan)"),
    (f"[{{fragment: {V}, keyframes: [{{t: 0, opacity: 0}}, {{t: 1, opacity: 1}}]}}]", "keyframes"),
    (f"[{{fragment: {V}, freeze: 0.5, duration: 1}}]", "freeze"),
    (f"[{{fragment: {V}, scale: 0.5}}]", "scale (picture in picture)"),
    (f"[{{fragment: {IMG}, duration: 1, fit: contain-blur}}]", "fit: contain-blur"),
    ("[{color: red, duration: 1}]", "color and gradient backgrounds"),
])
def test_moviepy_refuses_video_effects_by_name(tmp_path: Path, clips: str, feature: str) -> None:
    text = f"hitrec: 1\noutput: {{size: [160, 90]}}\ntracks:\n  - kind: video\n    clips: {clips}\n"
    plan = make_plan(parse_timeline(text, "t.yaml"), RESOLVER)
    with pytest.raises(RenderError, match="moviepy reference engine does not implement") as info:
        render_plan(plan, tmp_path / "out.mp4", engine="moviepy")
    assert feature in str(info.value) and "--engine ffmpeg" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("extra", "feature"), [
    (f"  - kind: captions\n    clips: [{{fragment: {T}}}]\n", "captions tracks"),
    ("  - kind: credits\n    clips: [{duration: 1}]\n", "the credits roll"),
    (f"  - kind: audio\n    clips: [{{fragment: {A}, keyframes: [{{t: 0, gain: -6}}]}}]\n", "keyframes"),
])
def test_moviepy_refuses_captions_credits_and_gain_automation(tmp_path: Path, extra: str, feature: str) -> None:
    text = (f"hitrec: 1\noutput: {{size: [160, 90]}}\ntracks:\n  - kind: video\n    clips: [{{fragment: {V}}}]\n"
            + extra)
    timeline = parse_timeline(text, "t.yaml")
    if "captions" in extra:  # the resolver's text fragment has no file: place the clip by hand
        from hitrec.render.plan import PlannedClip, PlannedTrack

        plan = make_plan(parse_timeline(text.split("  - kind: captions")[0], "t.yaml"), RESOLVER)
        plan.tracks.append(PlannedTrack(1, "captions", "c", [PlannedClip(1, "captions", "x", 0, 1)]))
    else:
        plan = make_plan(timeline, RESOLVER)
    with pytest.raises(RenderError, match=feature):
        render_plan(plan, tmp_path / "out.mp4", engine="moviepy")
    assert list(tmp_path.iterdir()) == []


def test_moviepy_refuses_loudness_normalisation(tmp_path: Path) -> None:
    text = f"hitrec: 1\noutput: {{loudness: -16}}\ntracks:\n  - kind: audio\n    clips: [{{fragment: {A}}}]\n"
    with pytest.raises(RenderError, match=r"output\.loudness"):
        render_plan(make_plan(parse_timeline(text, "t.yaml"), RESOLVER), tmp_path / "out.wav", engine="moviepy")
    assert list(tmp_path.iterdir()) == []
