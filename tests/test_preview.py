"""`hitrec preview`: a frame matches the full render's frame at that time, contact sheets, sound ranges, and
bad input (outside the timeline, a missing fragment) writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from render_support import decode_audio, decode_video, make_fragments, rms, write_timeline

from hitrec.store import Repo


@pytest.fixture
def frags(project: Path) -> dict[str, str]:
    return {k: f.id for k, f in make_fragments(Repo.find(), project / "media").items()}


def timeline(frags: dict[str, str]) -> dict:
    return {
        "hitrec": 1,
        "output": {"size": [160, 90], "fps": 24},
        "tracks": [
            {"kind": "video", "name": "picture", "clips": [
                {"fragment": frags["red"][:8], "to": 2},
                {"fragment": frags["green"][:8], "duration": 1.5, "fit": "stretch",
                 "transition": {"type": "crossfade", "duration": 0.5}},
                {"fragment": frags["blue"][:8], "from": 0.25, "to": 2, "fade_out": 0.5},
            ]},
            {"kind": "video", "name": "inset", "clips": [
                {"fragment": frags["silent"][:8], "at": 2.5, "duration": 0.8, "fit": "contain",
                 "position": "top-left"},
            ]},
            {"kind": "text", "clips": [{"text": "Hi", "at": 0.5, "duration": 2, "size": 30, "fade_in": 0.5}]},
            {"kind": "audio", "name": "voice", "clips": [{"fragment": frags["tone"][:8], "at": 1, "gain": -6}]},
        ],
    }


def png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_a_frame_is_the_full_renders_frame_at_that_time(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", timeline(frags))
    assert cli("render", "t.yaml", "-o", "full.mp4").exit_code == 0
    full = decode_video(project / "full.mp4", 160, 90).astype(np.int16)
    assert len(full) == 114  # 4.75 s at 24 fps
    for at in (0.3, 0.7, 1.8, 2.0, 2.6, 3.1, 4.4):  # in a text fade, the cross-fade, the inset, the fade-out
        r = cli("preview", "t.yaml", "--at", str(at), "-o", f"f{at}.png", "--json")
        assert r.exit_code == 0, r.output
        assert r.json()["kind"] == "frame"
        frame = png(project / f"f{at}.png")
        assert frame.shape == (90, 160, 3)
        expected = full[int(at * 24 + 1e-9)]
        error = np.abs(frame - expected).mean()
        assert error < 4, f"frame at {at}: mean difference {error:.1f}"
        neighbours = [np.abs(frame - full[i]).mean() for i in (int(at * 24) - 6, int(at * 24) + 6) if 0 <= i < 114]
        assert error <= min(neighbours) + 0.5  # the right frame, not one nearby
    # a contact sheet tiles the frames
    r = cli("preview", "t.yaml", "--at", "0.3", "--at", "1.8", "--at", "3.1", "--sheet", "-o", "sheet.png")
    assert r.exit_code == 0, r.output and "contact sheet" in r.stdout
    sheet = png(project / "sheet.png")
    assert sheet.shape == (180, 320, 3)
    assert np.abs(sheet[:90, :160] - png(project / "f0.3.png")).mean() < 1
    assert np.abs(sheet[:90, 160:] - png(project / "f1.8.png")).mean() < 1
    assert np.abs(sheet[90:, :160] - png(project / "f3.1.png")).mean() < 1


def test_a_sound_preview_is_the_pieces_sound_in_that_range(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", timeline(frags))
    assert cli("render", "t.yaml", "-o", "full.mp4").exit_code == 0
    r = cli("preview", "t.yaml", "--from", "1.5", "--to", "2.5", "-o", "bit.wav")
    assert r.exit_code == 0, r.output
    bit = decode_audio(project / "bit.wav")
    assert len(bit) == 48000
    full = decode_audio(project / "full.mp4")[int(1.5 * 48000):int(2.5 * 48000)]
    assert rms(bit) == pytest.approx(rms(full), rel=0.1)
    assert rms(bit) > 0.05


def test_bad_previews_write_nothing(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", timeline(frags))
    for args, needle in [
        (["--at", "4.75"], "outside the timeline"),
        (["--at", "-1"], "outside the timeline"),
        (["--at", "1", "--at", "2"], "--sheet"),
        (["--from", "3", "--to", "9"], "not a range inside"),
        (["--from", "3"], "both --from and --to"),
        ([], "say what to preview"),
    ]:
        r = cli("preview", "t.yaml", *args, "-o", "out.png" if "--at" in args or not args else "out.wav")
        assert r.exit_code == 2, r.output
        assert needle in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = cli("preview", "t.yaml", "--at", "1", "-o", "frame.mp4")
    assert r.exit_code == 2 and ".png" in r.stderr
    assert sorted(p.name for p in project.iterdir()) == [".hitrec", "media", "t.yaml"]


def test_a_timeline_over_a_missing_fragment_writes_nothing(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", timeline(frags))
    repo = Repo.find()
    blue = repo.fragment(frags["blue"])
    with repo.media.local_path(blue.media.oid) as path:
        Path(path).unlink()
    for args in (["preview", "t.yaml", "--at", "1", "-o", "f.png"], ["render", "t.yaml", "-o", "out.mp4"],
                 ["render", "t.yaml", "--draft", "-o", "out.mp4"]):
        r = cli(*args)
        assert r.exit_code == 1, r.output
        assert "is missing from this repo" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert sorted(p.name for p in project.iterdir()) == [".hitrec", "media", "t.yaml"]
