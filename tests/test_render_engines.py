"""The ffmpeg engine against the moviepy/pydub reference engine: same timeline, frames and levels agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_support import decode_audio, decode_video, make_fragments, rms, write_timeline

from hitrec.errors import RenderError
from hitrec.ops.render import render
from hitrec.store import Repo


@pytest.mark.slow
def test_engines_agree_on_frames_and_levels(project: Path) -> None:
    repo = Repo.find()
    f = {k: x.id for k, x in make_fragments(repo, project / "media").items()}
    write_timeline(project / "t.yaml", {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [
        {"kind": "video", "name": "picture", "clips": [
            {"fragment": f["red"], "to": 1.5, "fade_in": 0.5},
            {"fragment": f["green"], "duration": 1, "fit": "stretch", "transition": {"duration": 0.5}},
            {"fragment": f["blue"], "from": 0.5, "to": 1.5, "fade_out": 0.5},
        ]},
        {"kind": "video", "name": "inset", "clips": [
            {"fragment": f["green"], "at": 0.25, "duration": 0.5, "fit": "contain", "position": "right"}]},
        {"kind": "audio", "name": "music", "clips": [
            {"fragment": f["tone"], "at": 0.5, "duration": 2, "gain": -6, "fade_in": 0.5, "fade_out": 0.5}]},
        {"kind": "text", "clips": [{"text": "Hi", "at": 2.5, "duration": 0.5, "size": 20}]},
    ]})
    render(repo, project / "t.yaml", project / "ff.mp4")
    render(repo, project / "t.yaml", project / "mp.mp4", engine="moviepy")
    a, b = decode_video(project / "ff.mp4", 160, 90), decode_video(project / "mp.mp4", 160, 90)
    assert len(a) == len(b) == 72
    for i in range(0, 60, 3):  # every eighth of a second up to the text (fonts place glyphs differently)
        diff = np.abs(a[i].astype(int) - b[i].astype(int)).mean()
        assert diff < 6, f"frame {i}: mean difference {diff:.1f}"
    sa, sb = decode_audio(project / "ff.mp4"), decode_audio(project / "mp.mp4")
    window = 4800
    for start in range(0, 3 * 48000 - window, window):
        la, lb = rms(sa[start:start + window]), rms(sb[start:start + window])
        if max(la, lb) > 0.01:
            assert 20 * np.log10(la / lb) == pytest.approx(0, abs=1.0), f"window at {start / 48000:.1f}s"
        else:
            assert max(la, lb) < 0.02


def test_audio_only_engines_agree(project: Path) -> None:
    repo = Repo.find()
    f = {k: x.id for k, x in make_fragments(repo, project / "media").items()}
    write_timeline(project / "a.yaml", {"hitrec": 1, "tracks": [
        {"kind": "audio", "clips": [{"fragment": f["tone"], "gain": -3, "fade_in": 0.3},
                                    {"fragment": f["tone2"], "at": 2.5, "duration": 2, "loop": True}]},
        {"kind": "audio", "clips": [{"fragment": f["tone2"], "at": 1, "fade_out": 0.5}]},
    ]})
    render(repo, project / "a.yaml", project / "ff.wav")
    render(repo, project / "a.yaml", project / "mp.wav", engine="moviepy")
    sa, sb = decode_audio(project / "ff.wav"), decode_audio(project / "mp.wav")
    assert len(sa) == len(sb) == int(4.5 * 48000)
    window = 2400
    for start in range(0, len(sa) - window, window):
        la, lb = rms(sa[start:start + window]), rms(sb[start:start + window])
        if max(la, lb) > 0.01:
            assert 20 * np.log10(la / lb) == pytest.approx(0, abs=0.5), f"window at {start / 48000:.2f}s"


def test_reference_engine_refuses_ducking(project: Path) -> None:
    repo = Repo.find()
    f = {k: x.id for k, x in make_fragments(repo, project / "media").items()}
    write_timeline(project / "d.yaml", {"hitrec": 1, "tracks": [
        {"kind": "audio", "name": "voice", "clips": [{"fragment": f["tone2"]}]},
        {"kind": "audio", "clips": [{"fragment": f["tone"], "duck_under": "voice"}]}]})
    with pytest.raises(RenderError, match="duck_under"):
        render(repo, project / "d.yaml", project / "x.wav", engine="moviepy")
    assert not (project / "x.wav").exists()
