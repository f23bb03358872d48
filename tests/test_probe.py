"""probe(): real files made by the real ffmpeg (or the wave module), probed in-process."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import ffmpeg, make_audio, make_image, make_video, make_wav

import hitrec
from hitrec.errors import MediaError
from hitrec.media.probe import Probe, guess_mime, probe

REPO_ROOT = Path(hitrec.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("probe-media")


def _sine(path: Path, *args: str, seconds: float = 0.5, rate: int = 44100) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate={rate}", *args, str(path))
    return path


def test_probe_is_a_frozen_dataclass_with_the_documented_fields(media_dir: Path) -> None:
    result = probe(make_wav(media_dir / "fields.wav", seconds=0.1))
    assert [f.name for f in dataclasses.fields(Probe)] == [
        "kind", "mime", "duration", "sample_rate", "channels", "width", "height", "fps", "codec", "has_audio",
        "rotation", "frames"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.kind = "video"  # type: ignore[misc]


# --- audio read from headers -------------------------------------------------------------------------


@pytest.mark.parametrize(("channels", "rate", "seconds"), [(1, 8000, 0.25), (2, 48000, 1.0), (1, 22050, 0.5)])
def test_pcm_wav(media_dir: Path, channels: int, rate: int, seconds: float) -> None:
    path = make_wav(media_dir / f"pcm-{channels}-{rate}.wav", seconds=seconds, rate=rate, channels=channels)
    assert probe(path) == Probe("audio", "audio/wav", duration=seconds, sample_rate=rate, channels=channels,
                                codec="pcm_s16le")


def test_extensible_wav_24_bit_six_channels(media_dir: Path) -> None:
    path = _sine(media_dir / "ext.wav", "-ac", "6", "-c:a", "pcm_s24le")
    assert path.read_bytes()[20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE really was written
    result = probe(path)
    assert (result.kind, result.codec, result.channels) == ("audio", "pcm_s24le", 6)
    assert result.sample_rate == 44100
    assert result.duration == pytest.approx(0.5)


def test_float_wav_and_rf64(media_dir: Path) -> None:
    flt = probe(_sine(media_dir / "float.wav", "-c:a", "pcm_f32le", rate=96000))
    assert (flt.codec, flt.sample_rate, flt.duration) == ("pcm_f32le", 96000, pytest.approx(0.5))
    rf64 = media_dir / "rf64.wav"
    _sine(rf64, "-rf64", "always")
    assert rf64.read_bytes()[:4] == b"RF64"
    assert probe(rf64).duration == pytest.approx(0.5)


def test_streamed_wav_with_unknown_sizes_reads_to_the_end(media_dir: Path) -> None:
    path = media_dir / "piped.wav"
    out = subprocess.run([*_ffmpeg_sine(), "-c:a", "pcm_s16le", "-f", "wav", "-"], capture_output=True,
                         check=True).stdout
    path.write_bytes(out)
    assert out[40:44] == b"\xff\xff\xff\xff" or out[4:8] == b"\xff\xff\xff\xff"
    assert probe(path).duration == pytest.approx(0.5)


def _ffmpeg_sine() -> list[str]:
    from hitrec.media.ffmpeg import ffmpeg_exe

    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=0.5:sample_rate=44100"]


def test_aiff_and_aifc(media_dir: Path) -> None:
    aiff = probe(make_audio(media_dir / "tone.aiff", seconds=1.0))
    assert aiff == Probe("audio", "audio/aiff", 1.0, 44100, 2, codec="pcm_s16be")
    aifc = probe(_sine(media_dir / "tone.aifc", "-c:a", "pcm_s16le", "-f", "aiff"))  # 'sowt' AIFC
    assert (aifc.codec, aifc.duration) == ("pcm_s16le", pytest.approx(0.5))


def test_flac_from_streaminfo(media_dir: Path) -> None:
    assert probe(make_audio(media_dir / "tone.flac", seconds=1.0)) == Probe(
        "audio", "audio/flac", 1.0, 44100, 2, codec="flac")


def test_adpcm_wav_falls_back_to_pyav(media_dir: Path) -> None:
    result = probe(_sine(media_dir / "adpcm.wav", "-c:a", "adpcm_ms"))
    assert (result.kind, result.mime, result.codec) == ("audio", "audio/wav", "adpcm_ms")
    assert result.duration == pytest.approx(0.5, abs=0.05)


def test_misnamed_mp3_is_probed_by_its_content(media_dir: Path) -> None:
    path = media_dir / "actually-mp3.wav"
    path.write_bytes(make_audio(media_dir / "real.mp3").read_bytes())
    result = probe(path)
    assert (result.kind, result.mime, result.codec) == ("audio", "audio/mpeg", "mp3")


# --- audio and video through PyAV ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "mime", "codec"), [
    ("tone.mp3", "audio/mpeg", "mp3"), ("tone.ogg", "audio/ogg", "vorbis"),
    ("tone.opus", "audio/ogg", "opus"), ("tone.m4a", "audio/mp4", "aac")])
def test_compressed_audio(media_dir: Path, name: str, mime: str, codec: str) -> None:
    result = probe(make_audio(media_dir / name, seconds=1.0))
    assert (result.kind, result.mime, result.codec) == ("audio", mime, codec)
    assert (result.sample_rate, result.channels) == (48000 if codec == "opus" else 44100, 2)
    assert result.duration == pytest.approx(1.0, abs=0.06)
    assert result.width is None and result.has_audio is None


def test_mp3_with_cover_art_stays_audio(media_dir: Path) -> None:
    mp3 = make_audio(media_dir / "plain.mp3")
    cover = make_image(media_dir / "cover.jpg")
    tagged = media_dir / "tagged.mp3"
    ffmpeg("-i", str(mp3), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy", "-id3v2_version", "3",
           str(tagged))
    result = probe(tagged)
    assert (result.kind, result.codec, result.width) == ("audio", "mp3", None)


def test_mp4_with_audio(media_dir: Path) -> None:
    result = probe(make_video(media_dir / "clip.mp4", seconds=1.0, size="320x240", fps=24))
    assert (result.kind, result.mime, result.codec) == ("video", "video/mp4", "h264")
    assert (result.width, result.height, result.fps, result.has_audio) == (320, 240, 24.0, True)
    assert result.duration == pytest.approx(1.0, abs=0.05)
    assert result.sample_rate == 48000


def test_mp4_without_audio(media_dir: Path) -> None:
    result = probe(make_video(media_dir / "silent.mp4", seconds=0.5, size="160x90", fps=25, audio=False))
    assert (result.kind, result.width, result.height, result.fps) == ("video", 160, 90, 25.0)
    assert result.has_audio is False
    assert result.sample_rate is None and result.channels is None


def test_webm(media_dir: Path) -> None:
    result = probe(make_video(media_dir / "clip.webm", seconds=0.5, size="160x120", fps=30))
    assert (result.kind, result.mime, result.codec, result.has_audio) == ("video", "video/webm", "vp9", True)
    assert (result.width, result.height, result.fps) == (160, 120, 30.0)
    assert result.duration == pytest.approx(0.5, abs=0.05)


# --- images and text -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "mime", "codec"), [
    ("pic.png", "image/png", "png"), ("pic.jpg", "image/jpeg", "jpeg"), ("pic.gif", "image/gif", "gif"),
    ("pic.webp", "image/webp", "webp")])
def test_images(media_dir: Path, name: str, mime: str, codec: str) -> None:
    assert probe(make_image(media_dir / name, size="64x48")) == Probe(
        "image", mime, width=64, height=48, codec=codec)


@pytest.mark.parametrize(("name", "mime"), [("story.txt", "text/plain"), ("notes.md", "text/markdown")])
def test_text(tmp_path: Path, name: str, mime: str) -> None:
    path = tmp_path / name
    path.write_text("Once upon a time — a café.\n", encoding="utf-8")
    assert probe(path) == Probe("text", mime, codec="utf-8")


def test_guess_mime() -> None:
    assert guess_mime("a.WAV") == "audio/wav"
    assert guess_mime("a.mp4", "video") == "video/mp4"
    assert guess_mime("a.mp4", "audio") == "audio/mp4"
    assert guess_mime("a.md") == "text/markdown"
    assert guess_mime("no-suffix") == "application/octet-stream"


# --- errors --------------------------------------------------------------------------------------


def _problem(path: Path) -> str:
    with pytest.raises(MediaError) as info:
        probe(path)
    assert info.value.path == path
    return info.value.problem


def test_missing_path(tmp_path: Path) -> None:
    assert "no such file" in _problem(tmp_path / "nope.wav")


def test_folder(tmp_path: Path) -> None:
    assert "folder" in _problem(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp3").touch()
    assert "empty" in _problem(tmp_path / "empty.mp3")


@pytest.mark.parametrize("name", ["noise", "noise.mp4", "noise.mp3", "noise.bin"])
def test_random_bytes_are_not_media(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(os.urandom(20_000))
    assert "not a media file" in _problem(path)


def test_text_named_wav_is_not_media(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    path.write_text("this is not audio\n")
    assert "not a media file" in _problem(path)


def test_truncated_wav_says_how_many_bytes_are_missing(tmp_path: Path) -> None:
    full = make_wav(tmp_path / "full.wav", seconds=1.0, rate=8000, channels=1).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full[:10_044])  # 44-byte header + 10,000 of the 16,000 data bytes
    problem = _problem(cut)
    assert "truncated" in problem and "6000 bytes missing" in problem


def test_wav_cut_inside_its_header(tmp_path: Path) -> None:
    path = tmp_path / "stub.wav"
    path.write_bytes(make_wav(tmp_path / "whole.wav", seconds=0.1).read_bytes()[:30])
    assert "truncated" in _problem(path)


def test_truncated_aiff_and_flac(tmp_path: Path) -> None:
    aiff = make_audio(tmp_path / "whole.aiff")
    (tmp_path / "cut.aiff").write_bytes(aiff.read_bytes()[:2000])
    assert "bytes missing" in _problem(tmp_path / "cut.aiff")
    flac = make_audio(tmp_path / "whole.flac")
    (tmp_path / "cut.flac").write_bytes(flac.read_bytes()[:200])
    assert "truncated" in _problem(tmp_path / "cut.flac")


def test_corrupt_video(tmp_path: Path) -> None:
    data = make_video(tmp_path / "ok.mp4", seconds=0.5, audio=False).read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])  # the moov atom is at the end: gone
    assert "corrupt" in _problem(truncated)
    garbled = bytearray(data)
    start = data.index(b"mdat") + 8
    garbled[start:start + len(data) // 3] = os.urandom(len(data) // 3)
    (tmp_path / "garbled.mp4").write_bytes(bytes(garbled))
    assert "corrupt" in _problem(tmp_path / "garbled.mp4")


def test_broken_images_and_text(tmp_path: Path) -> None:
    png = make_image(tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[:60])
    _problem(tmp_path / "cut.png")
    jpg = make_image(tmp_path / "ok.jpg", size="320x240").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpg[: len(jpg) // 2])
    assert "truncated" in _problem(tmp_path / "cut.jpg")
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert "UTF-8" in _problem(tmp_path / "latin1.txt")


def test_probing_a_wav_does_not_import_av_or_pillow(tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "light.wav", seconds=0.1)
    code = (f"from hitrec.media.probe import probe; p = probe({str(wav)!r}); import sys; "
            "assert p.kind == 'audio', p; "
            "heavy = [m for m in ('av', 'PIL', 'numpy', 'pydub') if m in sys.modules]; "
            "assert not heavy, heavy")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def header_samples(media_dir: Path) -> dict[str, bytes]:
    return {
        ".wav": _sine(media_dir / "fuzz.wav", "-ac", "6", "-c:a", "pcm_s24le", seconds=0.05).read_bytes(),
        ".aiff": _sine(media_dir / "fuzz.aiff", seconds=0.05).read_bytes(),
        ".flac": _sine(media_dir / "fuzz.flac", seconds=0.05).read_bytes(),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from([".wav", ".aiff", ".flac"]), cut=st.integers(0, 200),
       edits=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=4))
def test_damaged_headers_raise_only_media_error(media_dir: Path, header_samples: dict[str, bytes],
                                                suffix: str, cut: int, edits: list[tuple[int, int]]) -> None:
    data = bytearray(header_samples[suffix])
    for where, value in edits:
        data[where] = value
    path = media_dir / f"damaged{suffix}"
    path.write_bytes(bytes(data[: len(data) - cut * 37]))
    try:
        result = probe(path)
    except MediaError:
        return
    assert result.kind == "audio"


def test_tags_that_are_not_utf8_do_not_stop_a_probe(media_dir: Path) -> None:
    """An mp3 whose title is latin-1 bytes: PyAV before 19 refused it unless told to ignore decoding
    errors, and 19 no longer takes that option (hitrec.media.pyav.open_av works with both)."""
    path = _sine(media_dir / "latin1-title.mp3", "-metadata", "title=caf\udce9 \udcff")
    result = probe(path)
    assert result.kind == "audio" and result.mime == "audio/mpeg" and result.duration == pytest.approx(0.5, abs=0.1)
