"""Previews: one frame (or a contact sheet of several) and a stretch of sound, without rendering the piece.

A frame at time ``t`` is the frame the full render shows there: the plan is sliced to a window that ends
with that frame (:func:`hitrec.render.segments.slice_plan`), so the graph holds only the clips visible
then, each source read from just before the moment it shows (ffmpeg seeks the input). The window is
the frame itself unless a fade, a cross-fade or a time-dependent clip runs through ``t``; then it is the
whole of that (:func:`~hitrec.render.segments.window_around`), so the frame is the one a segment of the
full render draws. Sound is rendered from the clips that sound in the range (and a second before it, for
ducking's release), cut to the range sample-exactly.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

from hitrec.errors import UsageError
from hitrec.render.ffmpeg_engine import AUDIO_CODECS, BITEXACT, MUXERS, _dec, build_graph
from hitrec.render.plan import Plan, PlannedTrack
from hitrec.render.scratch import part_file, scratch_dir
from hitrec.render.segmented import run_parallel
from hitrec.render.segments import fps_of, slice_plan, window_around

FRAME_FORMATS = {"png": ["-c:v", "png", "-pix_fmt", "rgb24"], "jpg": ["-c:v", "mjpeg", "-q:v", "2"],
                 "jpeg": ["-c:v", "mjpeg", "-q:v", "2"]}
SOUND_FORMATS = ("wav", "flac", "mp3")
DUCK_RELEASE = 1.0  # seconds of sound before the range kept, so a compressor's release sounds as in the piece
SHEET_WIDTH = 1920  # a contact sheet is at most this wide; its tiles are scaled down to fit


def frame_index(plan: Plan, at: float) -> int:
    """The frame shown at ``at`` seconds; UsageError outside the piece."""
    if not plan.has_video:
        raise UsageError("the timeline has no picture (no output.size); preview its sound with --from/--to")
    fps = fps_of(plan)
    total = round(plan.length * fps)
    index = math.floor(at * fps + 1e-9)
    if at < 0 or index >= total:
        raise UsageError(f"--at {at:g} is outside the timeline, which lasts {plan.length:.3f} s (frames at 0 to "
                         f"{float((total - 1) / fps):.3f} s)")
    return index


def _frame_args(plan: Plan, index: int, out: Path, work: Path) -> list[str]:
    window = window_around(plan, index)
    start = window.start
    sub = slice_plan(plan, window)
    inputs, script, video_out, _ = build_graph(sub, work, sound=False)
    with open(script, "a", encoding="utf-8") as f:  # the one frame wanted, by its number in the window
        f.write(f";\n[{video_out}]trim=start_frame={index - start}[preview]\n")
    codec = FRAME_FORMATS[_suffix(out)] if _suffix(out) in FRAME_FORMATS else FRAME_FORMATS["png"]
    return [*inputs, "-/filter_complex", str(script), "-map", "[preview]", "-frames:v", "1",
            *codec, *BITEXACT, "-f", "image2", "-update", "1", "-y", str(out)]


def _suffix(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def check_output(out: Path, sound: bool) -> None:
    allowed = SOUND_FORMATS if sound else tuple(FRAME_FORMATS)
    if _suffix(out) not in allowed:
        what = "a sound preview" if sound else "a frame preview"
        raise UsageError(f"{what} is written as {', '.join('.' + a for a in allowed)}; name the output so "
                         f"(not {out.name})")
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give a file name")
    if not out.parent.exists():
        raise UsageError(f"folder {out.parent} does not exist; create it first")


def preview_frames(plan: Plan, times: list[float], out: Path, sheet: bool = False) -> None:
    """Write the frame at each time (one time, or several as a contact sheet) to ``out``, atomically."""
    check_output(out, sound=False)
    indexes = [frame_index(plan, t) for t in times]
    if len(indexes) > 1 and not sheet:
        raise UsageError("several --at times make a contact sheet: add --sheet")
    with scratch_dir("render") as work, part_file(out) as tmp:
        jobs = []
        files = []
        for n, index in enumerate(indexes):
            folder = work / f"frame-{n}"
            folder.mkdir()
            target = tmp if not sheet else folder / "frame.png"
            files.append(target)
            jobs.append((_frame_args(plan, index, target, folder), 0.0))
        run_parallel(jobs, None, 2, writes=(out.parent, work))
        if sheet:
            _contact_sheet(files, tmp, _suffix(out))
        os.replace(tmp, out)


def _contact_sheet(frames: list[Path], out: Path, fmt: str) -> None:
    from PIL import Image

    images = [Image.open(f).convert("RGB") for f in frames]
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    w, h = images[0].size
    scale = min(1.0, SHEET_WIDTH / (cols * w))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    sheet = Image.new("RGB", (cols * tw, rows * th), "black")
    for i, image in enumerate(images):
        tile = image if scale == 1.0 else image.resize((tw, th), Image.Resampling.BICUBIC)
        sheet.paste(tile, ((i % cols) * tw, (i // cols) * th))
    sheet.save(out, format="PNG" if fmt == "png" else "JPEG", quality=92)


def sound_range(plan: Plan, start: float, end: float) -> Plan:
    """The plan's sound up to ``end``, only the clips that sound after ``start`` minus the release."""
    if not 0 <= start < end <= plan.length + 1e-6:
        raise UsageError(f"--from {start:g} --to {end:g} is not a range inside the timeline, which lasts "
                         f"{plan.length:.3f} s; give 0 <= --from < --to <= {plan.length:.3f}")
    keep = start - DUCK_RELEASE
    tracks = [PlannedTrack(t.index, t.kind, t.name, [c for c in t.clips if c.end > keep and c.at < end])
              for t in plan.tracks if t.kind in ("video", "audio")]
    return replace(plan, output=replace(plan.output, size=None), tracks=tracks, length=min(end, plan.length))


def preview_sound(plan: Plan, start: float, end: float, out: Path) -> None:
    """Write the piece's sound from ``start`` to ``end`` seconds to ``out`` (wav, flac or mp3), atomically."""
    check_output(out, sound=True)
    sub = sound_range(plan, start, end)
    fmt = _suffix(out)
    with scratch_dir("render") as work, part_file(out) as tmp:
        inputs, script, _, audio_out = build_graph(sub, work, picture=False)
        args = [*inputs, "-/filter_complex", str(script), "-map", f"[{audio_out}]", "-ss", _dec(start),
                *AUDIO_CODECS[fmt], *BITEXACT, "-ar", str(plan.output.sample_rate), "-f", MUXERS[fmt], "-y",
                str(tmp)]
        run_parallel([(args, 0.0)], None, 1, writes=(out.parent, work))
        os.replace(tmp, out)
