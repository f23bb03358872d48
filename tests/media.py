"""Tiny test media, generated on the spot with the real ffmpeg (lavfi sources) or the wave module."""

from __future__ import annotations

import math
import struct
import subprocess
import wave
from pathlib import Path

from hitrec.media.ffmpeg import ffmpeg_exe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_wav(path: Path, seconds: float = 1.0, freq: float = 440.0, rate: int = 48000,
             channels: int = 2, amplitude: float = 0.3) -> Path:
    """A sine tone as 16-bit PCM WAV, written with the wave module (fast, no subprocess)."""
    frames = int(seconds * rate)
    one = [int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / rate)) for i in range(frames)]
    data = struct.pack(f"<{frames * channels}h", *[s for s in one for _ in range(channels)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def make_audio(path: Path, seconds: float = 1.0, freq: float = 440.0) -> Path:
    """Any audio format ffmpeg can write, chosen by the file's extension (mp3, flac, ogg, ...)."""
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}:sample_rate=44100",
           "-ac", "2", str(path))
    return path


def make_video(path: Path, seconds: float = 1.0, size: str = "320x240", fps: int = 24,
               audio: bool = True, source: str = "testsrc2") -> Path:
    args = ["-f", "lavfi", "-i", f"{source}=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}:sample_rate=48000"]
    codec = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]
    if path.suffix == ".webm":
        codec = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]
    args += codec
    if audio:
        args += ["-c:a", "libopus" if path.suffix == ".webm" else "aac", "-shortest"]
    ffmpeg(*args, str(path))
    return path


def make_image(path: Path, size: str = "64x48", color: str = "red") -> Path:
    ffmpeg("-f", "lavfi", "-i", f"color=c={color}:size={size}", "-frames:v", "1", str(path))
    return path
