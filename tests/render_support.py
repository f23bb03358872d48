"""Helpers for the render tests: a repo holding tiny media fragments, decoding rendered output."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from media import ffmpeg, make_image, make_wav

from hitrec.media.ffmpeg import ffmpeg_exe
from hitrec.store import Fragment, FragmentSpec, Repo


def make_color_video(path: Path, color: str, seconds: float = 2.0, size: str = "160x90", fps: int = 24,
                     freq: float | None = 330.0) -> Path:
    """A solid-colour clip (easy to check frame by frame), with a sine tone unless freq is None."""
    args = ["-f", "lavfi", "-i", f"color=c={color}:size={size}:rate={fps}:duration={seconds}"]
    if freq is not None:
        args += ["-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}:sample_rate=48000"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"]
    if freq is not None:
        args += ["-c:a", "aac", "-shortest"]
    ffmpeg(*args, str(path))
    return path


def make_fragments(repo: Repo, folder: Path) -> dict[str, Fragment]:
    """Record the standard tiny media set; keys: red, blue, silent, tone, tone2, green, story."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "red": make_color_video(folder / "red.mp4", "red"),
        "blue": make_color_video(folder / "blue.mp4", "blue", freq=440.0),
        "silent": make_color_video(folder / "silent.mp4", "white", seconds=1.0, freq=None),
        "tone": make_wav(folder / "tone.wav", seconds=2.0, freq=440.0, amplitude=0.3),
        "tone2": make_wav(folder / "tone2.wav", seconds=1.0, freq=880.0, amplitude=0.3),
        "green": make_image(folder / "green.png", size="64x48", color="lime"),
        "story": _write(folder / "story.txt", "Once upon a time.\n"),
    }
    specs = [FragmentSpec(path, title=key) for key, path in files.items()]
    return dict(zip(files, repo.record(specs), strict=True))


def record(repo: Repo, path: Path, **kwargs: Any) -> Fragment:
    (fragment,) = repo.record([FragmentSpec(path, **kwargs)])
    return fragment


def write_timeline(path: Path, data: dict[str, Any] | str) -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def decode_video(path: Path, width: int, height: int) -> np.ndarray:
    """All frames as an array (frames, height, width, 3) of RGB bytes."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def decode_audio(path: Path, rate: int = 48000, channels: int = 2) -> np.ndarray:
    """All samples as float32 (samples, channels)."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-f", "f32le", "-ac", str(channels),
                          "-ar", str(rate), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).reshape(-1, channels)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def mean_rgb(frame: np.ndarray) -> tuple[float, float, float]:
    r, g, b = frame.reshape(-1, 3).mean(axis=0)
    return float(r), float(g), float(b)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
