"""How long `probe()` takes per file, against reading the same WAV header with the stdlib `wave` module.

    python bench/probe_speed.py [--repeat N]

Prints microseconds per call (best of 5 rounds) and the ratio probe / wave for WAV; the claim is that
probing a WAV costs about what `wave.open` does (ratio near 1) and stays under 100 µs. Other formats are
shown for scale: AIFF and FLAC are header reads too (FLAC also finds its last frame), images are decoded
by the renderer's ffmpeg (one process), mp3/mp4/webm through PyAV (first frame, then the last packet's end).
Each header format's figure is also given against `wave` on the WAV in the same run (load-independent).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from media import ffmpeg, make_audio, make_image, make_video, make_wav

from hitrec.media.probe import probe

LIMIT_US = 100.0


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best * 1e6


def read_with_wave(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path)) as w:
        return w.getnchannels(), w.getframerate(), w.getnframes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5000, help="calls per round for header formats")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wav = make_wav(root / "tone.wav", seconds=10.0, rate=48000, channels=2)
        ext = root / "ext.wav"
        ffmpeg("-f", "lavfi", "-i", "sine=duration=10:sample_rate=48000", "-ac", "6", "-c:a", "pcm_s24le",
               str(ext))
        probe_us = per_call_us(lambda: probe(wav), args.repeat)
        wave_us = per_call_us(lambda: read_with_wave(wav), args.repeat)
        print(f"WAV 16-bit stereo 10 s: probe {probe_us:6.1f} µs   wave {wave_us:6.1f} µs   "
              f"ratio probe/wave {probe_us / wave_us:.2f}   ratio probe/limit({LIMIT_US:.0f} µs) "
              f"{probe_us / LIMIT_US:.2f}")
        ext_us = per_call_us(lambda: probe(ext), args.repeat)
        try:
            read_with_wave(ext)
            ext_peer = f"wave {per_call_us(lambda: read_with_wave(ext), args.repeat):6.1f} µs"
        except wave.Error as exc:
            ext_peer = f"wave cannot read it ({exc})"
        print(f"WAV extensible 24-bit 6ch: probe {ext_us:6.1f} µs   {ext_peer}")
        others = {
            "AIFF": make_audio(root / "tone.aiff", seconds=10.0),
            "FLAC": make_audio(root / "tone.flac", seconds=10.0),
            "PNG 1280x720": make_image(root / "still.png", size="1280x720"),
            "JPEG 1280x720": make_image(root / "still.jpg", size="1280x720"),
            "MP3 (PyAV)": make_audio(root / "tone.mp3", seconds=10.0),
            "MP4 720p (PyAV)": make_video(root / "clip.mp4", seconds=2.0, size="1280x720"),
        }
        others.update(_phone_and_browser(root))
        for name, path in others.items():
            repeat = args.repeat if name in ("AIFF", "FLAC") else max(1, args.repeat // 50)
            if name.startswith(("HEIC", "GIF", "WebM")):
                repeat = 5
            spent = per_call_us(lambda p=path: probe(p), repeat)
            vs_wave = f"   ratio to wave {spent / wave_us:.2f}" if name in ("AIFF", "FLAC") else ""
            print(f"{name:>26}: probe {spent:8.1f} µs{vs_wave}")


def _phone_and_browser(root: Path) -> dict[str, Path]:
    """An iPhone-style photo, an animation and a browser recording (issue 12), for scale."""
    from PIL import Image

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        Image.new("RGB", (1280, 720), "red").save(root / "photo.heic", quality=60)
        heic = {"HEIC 1280x720": root / "photo.heic"}
    except ImportError:
        heic = {}
    frames = [Image.new("RGB", (320, 240), c) for c in ("red", "blue", "green", "white")]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=10", "-c:v", "libvpx-vp9", "-deadline",
           "realtime", "-cpu-used", "8", "-live", "1", "-f", "webm", str(root / "browser.webm"))
    return {**heic, "GIF 4 frames": root / "anim.gif", "WebM no Duration 10 s": root / "browser.webm"}


if __name__ == "__main__":
    main()
