"""Loudness: EBU R128 normalisation of a finished mix (``output: {loudness: -16}``) and the integrated
loudness of a fragment (``hitrec show``).

Normalising is two ffmpeg passes over the sound alone (the whole mix, never a window of it): the first
renders the plan's mix once, whole, to a float WAV in the scratch folder and measures it on the way
(``ebur128``: integrated loudness and sample peak); the second is the real render, which reads that WAV
back through one gain to the target (EBU R128 linear normalisation, what ``loudnorm`` does in its linear
mode) and a limiter at -1.5 dBFS only where the gain would push the peak past it. ``loudnorm`` itself
is not used: it resamples to 192 kHz and costs ~2x a mix's own render in each pass (bench/render_effects.py
allows normalisation 0.3x). Both passes are pure functions of the plan, so re-renders stay
byte-identical. A fragment's loudness is measured with ``ebur128`` and cached by media oid.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hitrec.errors import RenderError
from hitrec.media.ffmpeg import ffmpeg_exe, popen

if TYPE_CHECKING:
    from hitrec.store import Fragment, Repo

TRUE_PEAK = -1.5  # dBFS: the ceiling the gain may not push the peak past (a limiter holds it there)
SILENCE = -70.0  # LUFS: ebur128's floor; a mix this quiet is left alone
BITEXACT_AUDIO = ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]
_SUMMARY = re.compile(r"^\s*I:\s+(-?[\d.]+|-inf) LUFS", re.MULTILINE)
_PEAK = re.compile(r"^\s*Peak:\s+(-?[\d.]+|-inf) dBFS", re.MULTILINE)


@dataclass(frozen=True)
class Measured:
    """What the first pass measured, and the mix it wrote (the second pass reads it back)."""

    integrated: float | None  # LUFS; None: silence
    peak: float  # the sample peak, dBFS
    mix: Path  # the whole mix as 32-bit float WAV


def _run(cmd: list[str]) -> str:
    """Run ffmpeg for its stderr (where ebur128 reports); RenderError on failure."""
    try:
        proc = popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise RenderError(f"cannot run ffmpeg ({cmd[0]}): {exc.strerror}") from exc
    try:
        _, err = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    text = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [line for line in text.splitlines() if line.strip()]
        if any("No space left on device" in line for line in lines):
            raise RenderError("the disk is full: no space left for the mix hitrec measures the loudness of "
                              "(in $TMPDIR); free space there or set TMPDIR to a folder on a disk with room")
        raise RenderError(f"ffmpeg failed measuring loudness: {'; '.join(lines[-3:]) or proc.returncode}")
    return text


def _summary(text: str, what: str) -> tuple[float | None, float]:
    found = _SUMMARY.findall(text)
    peaks = _PEAK.findall(text)
    if not found:
        raise RenderError(f"ffmpeg's ebur128 gave no loudness for {what}")
    i = None if found[-1] == "-inf" or float(found[-1]) <= SILENCE else float(found[-1])
    peak = float(peaks[-1]) if peaks and peaks[-1] != "-inf" else -200.0
    return i, peak


def measure_mix(inputs: list[str], lines: list[str], mix: str, target: float, work: Path) -> Measured:
    """Pass 1: the mix (label ``mix`` of the audio graph ``lines`` over ``inputs``) written whole to a float
    WAV and measured on the way (EBU R128 integrated loudness, sample peak)."""
    script = work / "loudness.txt"
    lines = [*lines, f"[{mix}]asplit=2[tofile][tomeasure]", "[tomeasure]ebur128=peak=sample[measured]"]
    script.write_text(";\n".join(lines) + "\n", encoding="utf-8")
    wav = work / "mix.wav"
    text = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", *inputs,
                 "-/filter_complex", str(script), "-map", "[measured]", "-f", "null", "-",
                 "-map", "[tofile]", "-c:a", "pcm_f32le", *BITEXACT_AUDIO, "-f", "wav", "-y", str(wav)])
    integrated, peak = _summary(text, "the mix")
    return Measured(integrated, peak, wav)


def normalise_filter(target: float, measured: Measured, rate: int) -> str:
    """Pass 2: the filters that bring the measured mix to ``target`` LUFS: one gain for the whole piece
    (EBU R128 linear normalisation), and a limiter at the true-peak ceiling only where that gain would
    push the sample peak past it."""
    if measured.integrated is None:
        return "anull"  # silence stays silence
    gain = target - measured.integrated
    parts = [f"volume={gain:.2f}dB"]
    if measured.peak + gain > TRUE_PEAK:
        parts.append(f"alimiter=limit={10 ** (TRUE_PEAK / 20):.4f}:level=0:attack=5:release=50")
    return ",".join(parts)


# --------------------------------------------------------------------------- a fragment's loudness


def integrated_loudness(path: Path) -> float | None:
    """The integrated loudness (LUFS) of a media file's first sound stream; None for silence."""
    text = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "info", "-nostats", "-i", str(path),
                 "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"])
    return _summary(text, path.name)[0]


def fragment_loudness(repo: Repo, fragment: Fragment) -> float | None:
    """A sounding fragment's integrated loudness, measured once per media and cached in the repo."""
    from hitrec.store.repo import LOUDNESS_CACHE

    cache_path = repo.git_dir / LOUDNESS_CACHE
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    oid = fragment.media.oid
    if oid in cache and (cache[oid] is None or isinstance(cache[oid], (int, float))):
        return cache[oid]
    if not repo.media.has(oid):
        return None
    with repo.media.local_path(oid) as path:
        value = integrated_loudness(path)
    cache[oid] = value
    tmp = cache_path.with_name(f"{cache_path.name}.{os.getpid()}.tmp")
    try:  # a cache: a write that fails only means measuring again next time
        tmp.write_text(json.dumps(cache, sort_keys=True), encoding="utf-8")
        os.replace(tmp, cache_path)
    except OSError:
        with contextlib.suppress(OSError):  # a read-only repo refuses even this
            tmp.unlink(missing_ok=True)
    return value
