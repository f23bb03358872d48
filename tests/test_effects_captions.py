"""Captions tracks: SRT and WebVTT text fragments burned in with libass, or written as a sidecar file and a
subtitle stream (`hitrec render --captions`); malformed captions name the file and the line."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from render_support import decode_video, make_color_video, record, write_timeline

from hitrec.render.captions import CaptionsSyntaxError, parse_captions
from hitrec.store import Repo

SRT = "1\n00:00:00,200 --> 00:00:00,900\nHello <i>there</i>\n\n2\n00:00:01,200 --> 00:00:01,800\nSecond\n"
VTT = "WEBVTT\n\nNOTE made by hand\n\nintro\n00:00.200 --> 00:00.900 align:start\nHello\n"


def yellow(frame: np.ndarray) -> int:
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    return int(((r > 180) & (g > 180) & (b < 90)).sum())


@pytest.fixture
def piece(project: Path) -> dict[str, str]:
    repo = Repo.find()
    (project / "media").mkdir()
    (project / "media" / "subs.srt").write_text(SRT, encoding="utf-8")
    (project / "media" / "subs.vtt").write_text(VTT, encoding="utf-8")
    ids = {k: record(repo, project / "media" / f"subs.{k}").id for k in ("srt", "vtt")}
    ids["video"] = record(repo, make_color_video(project / "media" / "blue.mp4", "blue", freq=None)).id
    return ids


def timeline(ids: dict[str, str], subs: str = "srt") -> dict:
    return {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [
        {"kind": "video", "clips": [{"fragment": ids["video"], "to": 2}]},
        {"kind": "captions", "clips": [{"fragment": ids[subs], "at": 0, "size": 22, "color": "yellow",
                                        "outline": 2, "position": "bottom"}]}]}


def test_captions_burn_in_and_verify(project: Path, piece: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", timeline(piece))
    r = cli("render", "t.yaml", "-o", "out.mp4", "--json")
    assert r.exit_code == 0, r.output
    v = decode_video(project / "out.mp4", 160, 90)
    assert len(v) == 48
    assert yellow(v[12][50:]) > 30 and yellow(v[36][50:]) > 30  # during each cue, at the bottom
    assert yellow(v[2]) == 0 and yellow(v[25]) == 0 and yellow(v[46]) == 0  # between and after
    assert yellow(v[12][:40]) == 0
    assert cli("render", "t.yaml", "-o", "again.mp4").exit_code == 0
    assert (project / "again.mp4").read_bytes() == (project / "out.mp4").read_bytes()
    r = cli("remix", "t.yaml", "--json")
    assert r.exit_code == 0, r.output
    assert piece["srt"] in r.json()["parents"]  # the captions are a fragment the piece uses: credited
    r = cli("verify", r.json()["id"], "--json")
    assert r.exit_code == 0 and r.json()["ok"] is True


@pytest.mark.parametrize(("subs", "fmt", "codec"), [("srt", "mp4", "mov_text"), ("vtt", "webm", "webvtt")])
def test_captions_sidecar_and_subtitle_stream(project: Path, piece: dict[str, str], cli, subs: str, fmt: str,  # type: ignore[no-untyped-def]
                                              codec: str) -> None:
    write_timeline(project / "t.yaml", timeline(piece, subs))
    for side in ("srt", "vtt"):
        r = cli("render", "t.yaml", "-o", f"out.{fmt}", "--captions", f"side.{side}")
        assert r.exit_code == 0, r.output
    srt, vtt = (project / "side.srt").read_text(), (project / "side.vtt").read_text()
    if subs == "srt":
        assert srt.startswith("1\n00:00:00,200 --> 00:00:00,900\nHello there\n\n2\n00:00:01,200 --> 00:00:01,800")
    assert vtt.startswith("WEBVTT\n\n00:00:00.200 --> 00:00:00.900\nHello")
    assert parse_captions(vtt)[0].text.startswith("Hello")
    with av.open(str(project / f"out.{fmt}")) as container:
        assert [s.codec_context.name for s in container.streams if s.type == "subtitle"] == [codec]
    assert yellow(decode_video(project / f"out.{fmt}", 160, 90)[12]) == 0  # not burned in
    r = cli("render", "t.yaml", "-o", f"out.{fmt}", "--captions", "side.txt")
    assert r.exit_code == 2 and "*.srt or *.vtt" in r.stderr


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("1\n00:00:01,000 -> 00:00:02,000\nx\n", 2, "expected a time range like 00:00:01,000 --> 00:00:02,000"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03.000 --> 00:00:04,000\nx\n", 6, "bad time '00:00:03.000'"),
    ("1\n00:00:02,000 --> 00:00:01,000\nx\n", 2, "the cue ends (1 s) before it starts (2 s)"),
    ("1\n00:00:01,000 --> 00:00:02,000\n", 3, "a cue needs text"),
    ("WEBVTT\n\n00:01.000 --> 00:00:02\nx\n", 3, "bad time '00:00:02'"),
    ("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", 1, "starts with the line WEBVTT"),
    ("\n\n", 3, "no cues"),
])
def test_malformed_captions_name_the_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(CaptionsSyntaxError) as info:
        parse_captions(text)
    assert info.value.line == line and problem in info.value.problem


def test_a_malformed_captions_fragment_is_one_error_and_nothing_is_rendered(project: Path, piece: dict[str, str],  # type: ignore[no-untyped-def]
                                                                           cli) -> None:
    (project / "bad.srt").write_text("1\n00:00:00,200 --> 00:00:00,900\nok\n\n2\n00:00:01 --> 00:00:02\nx\n")
    bad = record(Repo.find(), project / "bad.srt").id
    data = timeline(piece)
    data["tracks"][1]["clips"][0]["fragment"] = bad
    write_timeline(project / "t.yaml", data)
    r = cli("render", "t.yaml", "-o", "out.mp4")
    assert r.exit_code == 1
    assert r.stderr.strip().startswith("error: t.yaml:")
    assert f"tracks[1].clips[0].fragment: bad.srt (fragment {bad[:10]}) line 6: bad time '00:00:01'" in r.stderr
    assert not (project / "out.mp4").exists()
    data["tracks"][1]["clips"][0]["position"] = "left"
    write_timeline(project / "t.yaml", data)
    r = cli("render", "t.yaml", "-o", "out.mp4")
    assert r.exit_code == 1 and "tracks[1].clips[0].position: must be one of bottom, top, center" in r.stderr
    data["tracks"][1]["clips"][0] = {"fragment": piece["video"]}
    write_timeline(project / "t.yaml", data)
    r = cli("render", "t.yaml", "-o", "out.mp4")
    assert r.exit_code == 1 and "a captions track takes text fragments" in r.stderr
