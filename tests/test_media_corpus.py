"""Issue 12: every file people bring is recorded with the facts the renderer's ffmpeg decodes, or refused
in one line that names it; then each accepted file is rendered in one short timeline.

The corpus (tests/media_corpus.py) is made here: phone photos (HEIC, AVIF), other stills the renderer
decodes, animated GIF/APNG/WebP, a portrait phone clip with a display matrix, fragmented MP4, a browser's
duration-less WebM, a raw H.264 stream, halves of downloads, a piped WavPack, an encrypted MP4,
zero-sample audio, a corrupt FLAC, an AIFF with an absurd rate, a TIFF Pillow reads and ffmpeg cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import run_hitrec
from media_corpus import ACCEPTED, REFUSED, Case, build, decoded_seconds
from render_support import decode_video

from hitrec.media.ffmpeg import ffmpeg_exe

DURATION_SLACK = 0.15  # seconds: a packet's length either way, as the last packet's end is measured


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    build(folder)
    return folder


def _add(project: Path, *paths: Path) -> Any:
    return run_hitrec("add", "--json", *map(str, paths), cwd=project)


def _added(corpus: Path, project: Path) -> dict[str, dict[str, Any]]:
    done = _add(project, *(corpus / case.name for case in ACCEPTED))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" or "Warning" not in done.stderr
    added = json.loads(done.stdout)["added"]
    return {Path(f["media"]["filename"]).name: f for f in added}


def test_every_accepted_file_is_recorded_with_what_ffmpeg_decodes(corpus: Path, project: Path) -> None:
    recorded = _added(corpus, project)
    for case in ACCEPTED:
        media = recorded[case.name]["media"]
        for key, want in case.facts.items():
            got = media.get(key)
            if isinstance(want, float):
                assert got == pytest.approx(want, abs=0.02), (case.name, key, media)
            else:
                assert got == want, (case.name, key, media)
        if case.decoded:
            assert media["duration"] == pytest.approx(decoded_seconds(corpus / case.name), abs=DURATION_SLACK), \
                (case.name, media)
        assert recorded[case.name]["kind"] == case.facts["kind"]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_refused_in_one_line_that_says_what_it_is(corpus: Path, project: Path, case: Case) -> None:
    done = _add(project, corpus / case.name)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no warnings, no libtiff lines, no traceback before it
    for word in case.refused:
        assert word in lines[0], lines[0]
    for foreign in ("Error:", "Warning", "Traceback", "OverflowError", "site-packages"):
        assert foreign not in lines[0]
    assert run_hitrec("fsck", cwd=project).returncode == 0


def _frame_at(frames: np.ndarray, seconds: float, fps: int) -> np.ndarray:
    return frames[min(len(frames) - 1, round(seconds * fps))]


def _colour(pixel: np.ndarray) -> str:
    r, _, b = (int(v) for v in pixel)
    return "red" if r > 150 and b < 100 else "blue" if b > 150 and r < 100 else "other"


@pytest.mark.slow
def test_each_accepted_file_renders_animations_move_and_portrait_is_upright(corpus: Path,
                                                                             project: Path) -> None:
    recorded = _added(corpus, project)
    fps, clip = 10, 0.6
    visual = [c for c in ACCEPTED if c.facts["kind"] in ("video", "image")]
    sounds = [c for c in ACCEPTED if c.facts["kind"] == "audio"]
    timeline = {
        "hitrec": 1, "title": "corpus",
        "output": {"size": [64, 48], "fps": fps, "sample_rate": 48000, "format": "mp4"},
        "tracks": [
            {"kind": "video", "clips": [_clip(recorded[c.name], _length(recorded[c.name], clip))
                                        for c in visual]},
            {"kind": "audio", "clips": [_clip(recorded[c.name], 0.3) for c in sounds]},
        ],
    }
    (project / "corpus.yaml").write_text(yaml.safe_dump(timeline, sort_keys=False), encoding="utf-8")
    done = run_hitrec("render", "corpus.yaml", "-o", "corpus.mp4", cwd=project, timeout=300)
    assert done.returncode == 0, done.stderr
    frames = decode_video(project / "corpus.mp4", 64, 48)
    lengths = [_length(recorded[c.name], clip) for c in visual]
    assert len(frames) == pytest.approx(sum(lengths) * fps, abs=2)
    for case in visual:
        start = sum(lengths[:visual.index(case)])
        if case.name.startswith("anim."):  # red for 0.5 s, then blue: it moves
            assert _colour(_frame_at(frames, start + 0.1, fps)[24, 32]) == "red", case.name
            # the clip's last frame (t = 0.5 s at 10 fps), not 0.55 s: that is half a frame, where an ulp
            # in ``start`` (Python 3.12's sum() adds floats more exactly than 3.11's) picked the frame before
            assert _colour(_frame_at(frames, start + 0.5, fps)[24, 32]) == "blue", case.name
        if case.name == "portrait.mp4":  # stored red above blue, turned 90°: side by side on screen
            upright = _upright(corpus / case.name)
            frame = _frame_at(frames, start + 0.2, fps)
            left, right = _colour(frame[24, 24]), _colour(frame[24, 40])
            assert {left, right} == {"red", "blue"}, (left, right)
            assert (left, right) == upright


def _clip(fragment: dict[str, Any], seconds: float) -> dict[str, Any]:
    return {"fragment": fragment["id"], "duration": seconds}


def _length(fragment: dict[str, Any], clip: float) -> float:
    """The clip's length: ``clip`` seconds, or a little less than a shorter source."""
    duration = fragment["media"].get("duration")
    return clip if duration is None else min(clip, round(duration - 0.05, 2))


def _upright(path: Path) -> tuple[str, str]:
    """The left and right colours of the portrait clip as ffmpeg (a player) shows it."""
    import subprocess

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frame = np.frombuffer(raw, np.uint8).reshape(32, 24, 3)
    return _colour(frame[16, 4]), _colour(frame[16, 20])


def _bytes_read() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar"))


@pytest.mark.slow
def test_a_gigabyte_file_is_measured_without_reading_it_whole(tmp_path: Path) -> None:
    """4 s of MP3 followed by a 1 GiB hole (sparse: no disk used): its header and bit rate claim hours;
    the probe finds the last packet by seeking, reading a bounded amount, never the whole file."""
    from media import make_audio

    from hitrec.media.measure import BYTES_PER_SEEK, MAX_SEEKS
    from hitrec.media.probe import probe

    path = make_audio(tmp_path / "long.mp3", seconds=4.0)
    with open(path, "r+b") as f:
        f.truncate(1 << 30)
    before = _bytes_read()
    result = probe(path)
    spent = _bytes_read() - before
    assert result.duration == pytest.approx(4.0, abs=0.1)
    assert spent < (MAX_SEEKS + 4) * BYTES_PER_SEEK < (1 << 30) // 4
