"""Rendering a picture as segments: each window encoded on its own, joined by stream copy, muxed with the sound.

Every render with a picture goes this way, fresh or not, so a render that reuses cached segments and one
that encodes them all write the same bytes by construction:

1. the windows come from the plan alone (:func:`hitrec.render.segments.windows`);
2. each window's picture is its own plan (:func:`~hitrec.render.segments.slice_plan`), rendered by the
   engine's filter graph and encoded by its own ffmpeg with the same settings for every window (the
   encoder starts each one with a key frame, so nothing refers across windows); a window's **key** is
   the SHA-256 of everything that decides its bytes: the ffmpeg arguments with every source named by its
   media oid, the filter script, the text files it draws, the ffmpeg binary and :data:`ENGINE_VERSION`;
3. the sound is rendered whole from the engine's sound graph into a file of its own; its key is the
   SHA-256 of that graph as planned and its arguments (sources by media oid), the ``output.loudness``
   target, the ffmpeg binary and :data:`SOUND_VERSION`, so nothing of the picture is in it;
4. a window or the sound found in the cache (:mod:`hitrec.render.segment_cache`) is reused, the others
   are encoded, two at a time (the sound first);
5. one last ffmpeg joins the windows with the concat demuxer and the sound file, both by stream copy,
   bit-exact: the same bytes whether they were encoded now or taken from the cache.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hitrec.errors import RenderError
from hitrec.media.ffmpeg import ffmpeg_exe, popen
from hitrec.progress import ProgressFn
from hitrec.render.ffmpeg_engine import (
    AUDIO_CODECS,
    BITEXACT,
    ENCODER_THREADS,
    MUX_FLAGS,
    MUXERS,
    VIDEO_CODECS,
    FfmpegEngine,
    _Tail,
    build_graph,
    ffmpeg_failure,
    measure_sound,
    subtitle_input,
    subtitle_map,
)
from hitrec.render.plan import Plan
from hitrec.render.scratch import scratch_dir
from hitrec.render.segment_cache import SOUND, SegmentCache
from hitrec.render.segments import Window, fps_of, slice_plan, windows

ENGINE_VERSION = "segments-1"  # change it when anything that decides a segment's bytes changes outside the key
SOUND_VERSION = "sound-1"  # the same for the encoded sound
SOUND_MUXER = {"mp4": "mp4", "webm": "webm"}  # the sound is encoded into a file of its own, then stream-copied
JOBS = 2  # segments encoded at once
DRAFT_ENCODER_THREADS = 1  # two segments and the sound run side by side: more threads cost more CPU than they save
# (and so the draft's filter graph runs on one thread too)
SEGMENT_MUXER = {"mp4": "mp4", "webm": "webm"}
DRAFT_VIDEO_CODECS = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p"],
    "webm": ["-c:v", "libvpx-vp9", "-crf", "40", "-b:v", "0", "-deadline", "realtime", "-cpu-used", "8",
             "-row-mt", "1", "-pix_fmt", "yuv420p"],
}
# A draft's sound: the same mix, sample for sample in place, encoded as MP3 in the mp4 (VBR -q:a 2, as an
# mp3 render is: a third of AAC's CPU, 1.8 s against 5.5 s for five minutes, which was a third of a cold
# draft's work; a 128k CBR MP3 came out 0.4 dB quieter); webm keeps Opus
DRAFT_AUDIO_CODECS = {"mp4": AUDIO_CODECS["mp3"], "webm": AUDIO_CODECS["webm"]}


@dataclass
class RenderStats:
    """What a segmented render did: windows in all, reused from the cache, encoded; cache warnings."""

    segments: int = 0
    reused: int = 0
    encoded: int = 0
    sound_reused: bool = False  # the encoded sound came from the cache
    warnings: list[str] = field(default_factory=list)


@dataclass
class RenderOptions:
    cache: SegmentCache | None = None
    draft: bool = False  # the fast encoder settings (the plan is made small by hitrec.render.draft)
    jobs: int = JOBS
    stats: RenderStats = field(default_factory=RenderStats)


@dataclass
class _Sound:
    folder: Path  # its graph, its loudness pass
    file: Path
    key: str = ""


@dataclass
class _Segment:
    index: int
    window: Window
    seconds: float
    args: list[str]
    file: Path
    key: str = ""


class SegmentedEngine:
    """The default engine ("ffmpeg"): a picture in segments (this module), a sound-only plan in one
    ffmpeg run (:class:`~hitrec.render.ffmpeg_engine.FfmpegEngine`)."""

    name = "ffmpeg"

    def __init__(self, options: RenderOptions | None = None) -> None:
        self.options = options or RenderOptions()

    def render(self, plan: Plan, out: Path, progress: ProgressFn | None = None) -> None:
        if plan.has_video:
            render_segmented(plan, out, progress, self.options)
        else:
            FfmpegEngine().render(plan, out, progress)


def video_codec(fmt: str, draft: bool) -> list[str]:
    return (DRAFT_VIDEO_CODECS if draft else VIDEO_CODECS)[fmt]


def render_segmented(plan: Plan, out: Path, progress: ProgressFn | None, options: RenderOptions) -> None:
    stats = options.stats
    cache = options.cache
    if progress:
        progress(0, total=plan.length, description="rendering")
    with scratch_dir("render") as work:
        segments = [_prepare(plan, i, w, work, options.draft) for i, w in enumerate(windows(plan))]
        sound = _prepare_sound(plan, work)
        stats.segments = len(segments)
        todo = []
        for seg in segments:
            found = cache.get(seg.key, seg.file, stats.warnings) if cache else False
            if found:
                stats.reused += 1
                if progress:
                    progress(seg.seconds)
            else:
                todo.append(seg)
        stats.sound_reused = bool(cache and cache.get(sound.key, sound.file, stats.warnings, SOUND))
        jobs = [] if stats.sound_reused else [(_sound_args(plan, sound), 0.0)]  # the longest job: first
        run_parallel([*jobs, *((s.args, s.seconds) for s in todo)], progress, options.jobs, writes=(work,))
        stats.encoded = len(todo)
        if cache is not None:
            for seg in todo:
                cache.put(seg.key, seg.file)
            if not stats.sound_reused:
                cache.put(sound.key, sound.file, SOUND)
            cache.evict()
        listing = work / "segments.txt"
        listing.write_text("".join(_concat_line(s.file) for s in segments), encoding="utf-8")
        run_parallel([(_mux_args(plan, listing, sound.file, work, out), 0.0)], None, 1, writes=(out.parent, work))


def _prepare(plan: Plan, index: int, window: Window, work: Path, draft: bool) -> _Segment:
    folder = work / f"segment-{index:05d}"
    folder.mkdir()
    sub = slice_plan(plan, window)
    inputs, script, video_out, _ = build_graph(sub, folder, sound=False)
    fmt = plan.format
    file = folder / f"picture.{SEGMENT_MUXER[fmt]}"
    threads = DRAFT_ENCODER_THREADS if draft else ENCODER_THREADS
    graph_threads = ["-filter_complex_threads", "1"] if draft else []  # 8-10% less CPU for a draft, as above
    args = [*inputs, *graph_threads, "-/filter_complex", str(script), "-map", f"[{video_out}]",
            "-threads", str(threads), *video_codec(fmt, draft), *BITEXACT, "-an", "-f", SEGMENT_MUXER[fmt], "-y",
            str(file)]
    seg = _Segment(index, window, float(window.frames / fps_of(plan)), args, file)
    seg.key = segment_key(plan, seg.args, folder)
    return seg


def segment_key(plan: Plan, args: list[str], folder: Path, kind: str = "segment") -> str:
    """SHA-256 over everything that decides the bytes ffmpeg writes for ``args`` (sources by media oid, not
    path; the files in ``folder`` it reads: filter scripts, texts it draws; the last argument, the output
    file, left out); a sound's key is of another ``kind``."""
    names = {str(i.path): (f"media:{i.media.oid}" if i.media.oid else _file_identity(i.path))
             for i in plan.inputs.values()}
    h = hashlib.sha256()
    head = ENGINE_VERSION if kind == "segment" else f"sound {SOUND_VERSION}\0loudness={plan.output.loudness!r}"
    h.update(f"hitrec {head}\0{_ffmpeg_identity()}\0".encode())
    for arg in args[:-1]:  # the last argument is the output file
        h.update(names.get(arg, arg.replace(str(folder), "<segment>")).encode() + b"\0")
    for path in sorted(folder.iterdir()):  # the filter script and the text files it draws
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes().replace(str(folder).encode(), b"<segment>") + b"\0")
    return h.hexdigest()


def _prepare_sound(plan: Plan, work: Path) -> _Sound:
    """The piece's sound, keyed by its graph as planned (before any loudness measurement: what is measured
    follows from it and ``output.loudness``, which is in the key)."""
    folder = work / "sound"
    folder.mkdir()
    sound = _Sound(folder, folder / f"sound.{SOUND_MUXER[plan.format]}")
    sound.key = segment_key(plan, _sound_args(plan, sound, measure=False), folder, kind="sound")
    return sound


def _sound_args(plan: Plan, sound: _Sound, measure: bool = True) -> list[str]:
    """The ffmpeg arguments that render and encode the whole sound into ``sound.file`` (with
    ``output.loudness``, the mix is measured first, unless ``measure`` is False: the key's arguments)."""
    measured = measure_sound(plan, sound.folder) if measure else None
    inputs, script, _, audio_out = build_graph(plan, sound.folder, picture=False, script="sound.txt",
                                               measured=measured)
    fmt = plan.format
    codec = (DRAFT_AUDIO_CODECS if plan.draft else AUDIO_CODECS)[fmt]
    return [*inputs, "-/filter_complex", str(script), "-map", f"[{audio_out}]", *codec, *BITEXACT,
            "-ar", str(plan.output.sample_rate), "-vn", "-f", SOUND_MUXER[fmt], "-y", str(sound.file)]


def _file_identity(path: Path) -> str:
    st = path.stat()
    return f"file:{path}:{st.st_size}:{st.st_mtime_ns}"


_FFMPEG_ID: list[str] = []


def _ffmpeg_identity() -> str:
    if not _FFMPEG_ID:
        exe = ffmpeg_exe()
        try:
            st = os.stat(exe)
            _FFMPEG_ID.append(f"{exe}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            _FFMPEG_ID.append(exe)
    return _FFMPEG_ID[0]


def _mux_args(plan: Plan, listing: Path, sound: Path, work: Path, out: Path) -> list[str]:
    """The picture from the segment list (input 0) and the encoded sound (input 1), both stream-copied."""
    fmt = plan.format
    inputs = ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(sound)]
    subtitles: list[str] = []
    if not plan.captions_burned and plan.clips("captions"):  # captions as a subtitle stream (input 2)
        inputs += subtitle_input(plan, work)
        subtitles = subtitle_map(plan, 2)
    return [*inputs, "-map", "0:v:0", "-map", "1:a:0", *subtitles, "-c:v", "copy", *_copied_sound(plan),
            *MUX_FLAGS.get(fmt, []), *BITEXACT, "-f", MUXERS[fmt], "-y", str(out)]


def _copied_sound(plan: Plan) -> list[str]:
    """The sound stream-copied, described to the muxer as its encoder would (the join used to encode it, and
    remixes recorded then must still verify): the mp4 muxer writes the nominal bit rate (esds maxBitrate)
    from ``-b:a``; webm's writes Opus's 20 ms frames as DefaultDuration and the encoder's name as a tag."""
    codec = (DRAFT_AUDIO_CODECS if plan.draft else AUDIO_CODECS)[plan.format]
    assert codec[0] == "-c:a"
    args = ["-c:a", "copy", *codec[2:]]
    if codec[1] == "libopus":
        args += ["-frame_size", str(plan.output.sample_rate // 50), "-metadata:s:a:0", "encoder=Lavc libopus"]
    return args


# --------------------------------------------------------------------------- running ffmpegs side by side


class _Job:
    """One ffmpeg started from the calling (main) thread; threads read its progress and its stderr."""

    def __init__(self, args: list[str], seconds: float) -> None:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
               *args]
        try:
            self.proc = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise RenderError(f"cannot run ffmpeg ({cmd[0]}): {exc.strerror}") from exc
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.seconds = seconds
        self.done = 0.0  # seconds encoded, as ffmpeg reported them
        self.reported = 0.0
        self.err = _Tail(self.proc.stderr)  # type: ignore[arg-type]
        self._reader = threading.Thread(target=self._read, name="ffmpeg-progress", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for raw in self.proc.stdout:
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and value.lstrip("-").isdigit():
                    self.done = min(self.seconds, max(self.done, int(value) / 1e6))

    def finish(self) -> int:
        code = self.proc.wait()
        self._reader.join()
        self.err.join()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run_parallel(jobs: list[tuple[list[str], float]], progress: ProgressFn | None, limit: int, *,
                 writes: tuple[Path, ...] = (), on_done: Callable[[int], None] | None = None) -> None:
    """Run ffmpeg once per ``(args, seconds)``, at most ``limit`` at a time, reporting progress in seconds
    (the ``seconds`` of every job in all) from this thread; the first failure stops the others."""
    pending = list(enumerate(jobs))
    running: list[tuple[int, _Job]] = []

    def report(job: _Job, upto: float) -> None:
        if progress and upto > job.reported:
            progress(upto - job.reported)
            job.reported = upto

    try:
        while pending or running:
            while pending and len(running) < max(1, limit):
                i, (args, seconds) = pending.pop(0)
                running.append((i, _Job(args, seconds)))
            time.sleep(0.005)
            for i, job in list(running):
                report(job, job.done)
                if job.proc.poll() is None:
                    continue
                running.remove((i, job))
                code = job.finish()
                if code != 0:
                    raise ffmpeg_failure(code, job.err.text(), writes)
                report(job, job.seconds)
                if on_done:
                    on_done(i)
    except BaseException:
        for _, job in running:
            job.kill()
        raise


def _concat_line(path: Path) -> str:
    """A line of the concat demuxer's list (its quoting: ' closes, \\' is a quote)."""
    return "file '" + str(path).replace("'", "'\\''") + "'\n"
