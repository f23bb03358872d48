"""Loudness: EBU R128 normalisation of a finished mix (``output: {loudness: -16}``) and the integrated
loudness of a fragment (``hitrec show``).

Normalising is two ffmpeg passes over the sound alone (the whole mix, never a window of it): the first
runs the plan's audio graph into ``loudnorm`` in measuring mode; the second is the real render, its mix
through ``loudnorm`` given those measurements (``linear=true``: one gain for the whole piece where the
true-peak limit allows it). Both passes are pure functions of the plan, so re-renders stay
byte-identical. A fragment's loudness is measured with ``ebur128`` and cached by media oid.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitrec.errors import RenderError
from hitrec.media.ffmpeg import ffmpeg_exe, popen

if TYPE_CHECKING:
    from hitrec.store import Fragment, Repo

TRUE_PEAK = -1.5  # dBTP
RANGE = 11.0  # LU, loudnorm's target loudness range
LOUDNESS_MIN, LOUDNESS_MAX = -70.0, -5.0  # what loudnorm accepts
_SUMMARY = re.compile(r"^\s*I:\s+(-?[\d.]+|-inf) LUFS", re.MULTILINE)


@dataclass(frozen=True)
class Measured:
    """What loudnorm's first pass measured."""

    i: str
    tp: str
    lra: str
    thresh: str
    offset: str


def _run(cmd: list[str]) -> str:
    """Run ffmpeg for its stderr (where loudnorm and ebur128 report); RenderError on failure."""
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
        raise RenderError(f"ffmpeg failed measuring loudness: {'; '.join(lines[-3:]) or proc.returncode}")
    return text


def measure_mix(inputs: list[str], lines: list[str], mix: str, target: float, work: Path) -> Measured:
    """Pass 1: a mix (the label ``mix`` of the audio graph ``lines`` over ``inputs``) through loudnorm in
    measuring mode."""
    script = work / "loudness.txt"
    lines = [*lines, f"[{mix}]{_loudnorm(target)}:print_format=json[measured]"]
    script.write_text(";\n".join(lines) + "\n", encoding="utf-8")
    text = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "info", *inputs, "-/filter_complex",
                 str(script), "-map", "[measured]", "-f", "null", "-"])
    start = text.rfind("{")
    try:
        data: dict[str, Any] = json.loads(text[start:text.index("}", start) + 1])
        return Measured(data["input_i"], data["input_tp"], data["input_lra"], data["input_thresh"],
                        data["target_offset"])
    except (ValueError, KeyError) as exc:
        raise RenderError("ffmpeg's loudnorm reported no measurement") from exc


def _loudnorm(target: float) -> str:
    return f"loudnorm=I={target:g}:TP={TRUE_PEAK:g}:LRA={RANGE:g}"


def normalise_filter(target: float, measured: Measured, rate: int) -> str:
    """Pass 2: the filters that bring the mix to ``target`` LUFS (and back to the output's rate)."""
    if measured.i in ("-inf", "inf") or measured.thresh in ("-inf", "inf"):
        return "anull"  # silence stays silence
    return (f"{_loudnorm(target)}:measured_I={measured.i}:measured_TP={measured.tp}:measured_LRA={measured.lra}"
            f":measured_thresh={measured.thresh}:offset={measured.offset}:linear=true,aresample={rate}")


# --------------------------------------------------------------------------- a fragment's loudness


def integrated_loudness(path: Path) -> float | None:
    """The integrated loudness (LUFS) of a media file's first sound stream; None for silence."""
    text = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "info", "-nostats", "-i", str(path),
                 "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"])
    found = _SUMMARY.findall(text)
    if not found:
        raise RenderError(f"ffmpeg's ebur128 gave no loudness for {path.name}")
    return None if found[-1] == "-inf" else float(found[-1])


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
        tmp.unlink(missing_ok=True)
    return value
