"""The default render engine: the whole plan compiled into one ffmpeg filter graph, one ffmpeg run.

Picture: each video track becomes one stream — its clips trimmed, retimed (``fps``), fitted to the
output size, joined with ``concat`` (cuts, gaps filled with black or transparency) and ``xfade``
(cross-fades). The first video track is the opaque base (black where it has no clip); later tracks
are transparent where empty and ``overlay`` the base from their first clip on. Text tracks are
``drawtext`` filters applied in track order. Sound: every clip with sound is cut, retimed
(``atempo``), looped (``aloop``), faded and delayed to its place, then all are summed with
``amix=normalize=0``; ``duck_under`` runs a clip through ``sidechaincompress`` keyed by the other
track's mix. Times are snapped to the output's frame and sample grid so the result is exact.

Output is deterministic on one machine: bitexact muxing and encoding flags, no metadata, a fixed
encoder thread count.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from io import BufferedReader
from pathlib import Path

from hitrec.errors import RenderError
from hitrec.media.ffmpeg import EFBIG_EXIT, ENOSPC_EXIT, ffmpeg_exe, popen
from hitrec.media.formats import input_options
from hitrec.progress import ProgressFn
from hitrec.render.captions import burn_filter, placed_cues, sidecar_text
from hitrec.render.credits_roll import credits_filters
from hitrec.render.generators import generator_source
from hitrec.render.loudness import Measured, measure_mix, normalise_filter
from hitrec.render.motion import box, contain_blur, gain_filter, motion_filters
from hitrec.render.plan import Plan, PlannedClip, PlannedTrack
from hitrec.render.scratch import scratch_dir

FULL_BELOW = 1 << 20  # a disk with less free than this after an ENOSPC is the full one

ENCODER_THREADS = 4
DUCK = "threshold=0.03:ratio=8:attack=20:release=400:makeup=1"
MUXERS = {"mp4": "mp4", "webm": "webm", "wav": "wav", "mp3": "mp3", "flac": "flac"}
VIDEO_CODECS = {
    "mp4": ["-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p"],
    "webm": ["-c:v", "libvpx-vp9", "-crf", "32", "-b:v", "0", "-deadline", "good", "-cpu-used", "4",
             "-row-mt", "1", "-pix_fmt", "yuv420p"],
}
AUDIO_CODECS = {
    "mp4": ["-c:a", "aac", "-b:a", "192k"],
    "webm": ["-c:a", "libopus", "-b:a", "128k"],
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "2"],
    "flac": ["-c:a", "flac"],
}
MUX_FLAGS = {"mp4": ["-movflags", "+faststart"]}
CODECS = {fmt: [*VIDEO_CODECS.get(fmt, []), *AUDIO_CODECS[fmt], *MUX_FLAGS.get(fmt, [])] for fmt in AUDIO_CODECS}
# A draft's video sources (hitrec.render.draft): one decoder thread (two segments and the sound run side by
# side on a small machine, where a decoder's frame threads cost more than they bring), H.264's deblocking
# skipped and its non-conforming speed-ups allowed; scaled with the cheapest scaler
DRAFT_DECODE = ["-threads", "1", "-skip_loop_filter", "all", "-flags2", "+fast"]
DRAFT_SCALER = "fast_bilinear"
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1", "-map_chapters", "-1"]


_NOISE = ("Task finished", "Terminating thread", "Nothing was written", "Conversion failed", "Error while filtering",
          "Could not open encoder before EOF", "Error sending frames")


def fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


class FfmpegEngine:
    """Render a plan with one ffmpeg process (the segmented engine, :mod:`hitrec.render.segmented`, renders
    a picture with it window by window, and sound-only plans with it whole)."""

    name = "ffmpeg"

    def render(self, plan: Plan, out: Path, progress: ProgressFn | None = None) -> None:
        with scratch_dir("render") as work:
            args = build_command(plan, out, work, measure_sound(plan, work))
            run_ffmpeg(args, plan.length, progress, writes=(out.parent, work))


def run_ffmpeg(args: list[str], seconds: float, progress: ProgressFn | None = None, *,
               writes: tuple[Path, ...] = ()) -> None:
    """Run ffmpeg, turning its ``-progress`` output into progress callbacks; RenderError on failure.

    ffmpeg dies with hitrec (see :func:`hitrec.media.ffmpeg.popen`); on any interruption (Ctrl-C
    included) it is stopped before the exception travels on. ``writes`` are the folders ffmpeg writes
    into: when a disk fills up, the error names the full one. Its stderr is kept in memory (a full
    ``$TMPDIR`` must not swallow the reason it failed).
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
           "-nostats", *args]
    if progress:
        progress(0, total=seconds, description="rendering")
    try:
        proc = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise RenderError(f"cannot run ffmpeg ({cmd[0]}): {exc.strerror}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    assert isinstance(proc.stderr, BufferedReader)
    err = _Tail(proc.stderr)
    done = 0.0
    try:
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit() and progress:
                now = min(seconds, max(0.0, int(value) / 1e6))
                if now > done:
                    progress(now - done)
                    done = now
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        err.join()
        proc.stdout.close()
    if code != 0:
        raise ffmpeg_failure(code, err.text(), writes)
    if progress and done < seconds:
        progress(seconds - done)


def ffmpeg_failure(code: int, stderr: str, writes: tuple[Path, ...]) -> RenderError:
    """The one-line RenderError for an ffmpeg that exited with ``code`` (given its stderr's tail)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if code == ENOSPC_EXIT or any("No space left on device" in line for line in lines):
        return RenderError(disk_full_message(writes))
    if code == -signal.SIGXFSZ or code == EFBIG_EXIT or any("File too large" in line for line in lines):
        return RenderError("the output is too large for the file size limit (`ulimit -f`) or the file system "
                           f"of {' or '.join(str(f) for f in writes) or 'the output'}; raise the limit or "
                           "write elsewhere")
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return RenderError(f"ffmpeg was stopped by signal {name}")
    useful = [line for line in lines if not any(noise in line for noise in _NOISE)]
    detail = "; ".join((useful or lines)[:3]) if lines else f"exit code {code}"
    return RenderError(f"ffmpeg failed: {detail}")


@dataclass
class _Span:
    """A video clip on the frame grid: where it starts, how many frames, how many cross-fade in."""

    clip: PlannedClip
    start: int
    frames: int
    xfade: int = 0


class _Tail:
    """The last 64 KiB of a pipe, read by a thread (so ffmpeg never blocks on a full stderr pipe)."""

    LIMIT = 1 << 16

    def __init__(self, pipe: BufferedReader) -> None:
        self._pipe = pipe
        self._data = bytearray()
        self._thread = threading.Thread(target=self._read, name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with self._pipe:
            while block := self._pipe.read1(1 << 14):
                self._data += block
                if len(self._data) > 2 * self.LIMIT:
                    del self._data[: -self.LIMIT]

    def join(self) -> None:
        self._thread.join()

    def text(self) -> str:
        return bytes(self._data[-self.LIMIT:]).decode("utf-8", "replace")


def disk_full_message(folders: tuple[Path, ...]) -> str:
    """Which folder's disk is full, and what to do about it."""
    tmp = Path(tempfile.gettempdir()).resolve()
    full = []
    for folder in folders:
        try:
            if shutil.disk_usage(folder).free < FULL_BELOW:
                full.append(folder)
        except OSError:
            continue
    for folder in full or folders[:1]:
        resolved = Path(folder).resolve()
        if resolved.parent == tmp and resolved.name.startswith("hitrec-"):  # a scratch folder of ours
            return (f"the disk is full: no space left in {tmp} (the temporary folder, $TMPDIR, where hitrec "
                    "renders); free space there or set TMPDIR to a folder on a disk with room")
        return (f"the disk is full: no space left in {folder} (where the output goes); free space there or "
                "write the output to another disk")
    return "the disk is full: ffmpeg could not write its output; free some space"


# --------------------------------------------------------------------------- the command


def subtitle_input(plan: Plan, work: Path) -> list[str]:
    """The input arguments of the captions as a subtitle stream (an SRT file written into ``work``)."""
    sub = work / "captions.srt"
    sub.write_text(sidecar_text([c[:3] for c in placed_cues(plan.clips("captions"))], "srt"), encoding="utf-8")
    return ["-i", str(sub)]


def subtitle_map(plan: Plan, index: int) -> list[str]:
    """Map input ``index`` (from :func:`subtitle_input`) as the piece's subtitle stream."""
    return ["-map", f"{index}:s:0", "-c:s", "mov_text" if plan.format == "mp4" else "webvtt"]


def measure_sound(plan: Plan, work: Path) -> Measured | None:
    """The loudness of the plan's mix when ``output.loudness`` asks for it to be normalised (else None)."""
    if plan.output.loudness is None:
        return None
    sound = _Graph(plan, work)
    sound.build_sound()
    return measure_mix(sound.inputs, sound.lines, sound.audio_out, plan.output.loudness, work)


def build_graph(plan: Plan, work: Path, *, picture: bool = True, sound: bool = True, script: str = "graph.txt",
                measured: Measured | None = None) -> tuple[list[str], Path, str, str]:
    """The input arguments, the filter script written into ``work``, and the picture's and the sound's
    output labels ("" for what was not asked for) of ``plan``'s graph (``measured``: see build_command)."""
    graph = _Graph(plan, work)
    graph.measured = measured
    if picture and sound:
        graph.build()
    elif picture and plan.has_video:
        graph.build_picture()
    elif sound:
        graph.build_sound()
    path = work / script
    path.write_text(";\n".join(graph.lines) + "\n", encoding="utf-8")
    return graph.inputs, path, graph.video_out, graph.audio_out


def build_command(plan: Plan, out: Path, work: Path, measured: Measured | None = None) -> list[str]:
    """The ffmpeg arguments (after the global ones) that render ``plan`` into ``out`` in one run (``measured``:
    the loudness of its mix, when ``output.loudness`` asks for it to be normalised)."""
    inputs, script, video_out, audio_out = build_graph(plan, work, measured=measured)
    args = [*inputs, "-/filter_complex", str(script)]
    if plan.has_video:
        args += ["-map", f"[{video_out}]"]
    args += ["-map", f"[{audio_out}]"]
    if not plan.captions_burned and plan.clips("captions"):  # a subtitle stream instead of burned-in captions
        args[len(inputs):len(inputs)] = subtitle_input(plan, work)
        args += subtitle_map(plan, inputs.count("-i"))
    args += ["-threads", str(ENCODER_THREADS), *CODECS[plan.format], *BITEXACT,
             "-ar", str(plan.output.sample_rate), "-f", MUXERS[plan.format], "-y", str(out)]
    return args


class _Graph:
    def __init__(self, plan: Plan, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.inputs: list[str] = []
        self.lines: list[str] = []
        self.n_inputs = 0
        self.n_labels = 0
        o = plan.output
        self.fps = fps_fraction(o.fps)
        self.rate = o.sample_rate
        self.total_frames = self.frame(plan.length)
        self.total_samples = self.sample(plan.length)
        self.layout = "stereo" if o.channels == 2 else "mono"
        self.input_of: dict[int, int] = {}  # id(clip) -> input index
        self.video_out = ""
        self.audio_out = ""
        self.measured: Measured | None = None

    # ---- helpers

    def frame(self, seconds: float) -> int:
        return round(Fraction(seconds).limit_denominator(10**9) * self.fps)

    def sample(self, seconds: float) -> int:
        return round(seconds * self.rate)

    def seconds_of_frames(self, frames: int) -> str:
        return _dec(Fraction(frames) / self.fps)

    def label(self, prefix: str) -> str:
        self.n_labels += 1
        return f"{prefix}{self.n_labels}"

    def add(self, line: str) -> None:
        self.lines.append(line)

    def input_for(self, clip: PlannedClip, picture: bool = False) -> int:
        if id(clip) in self.input_of:
            return self.input_of[id(clip)]
        assert clip.input is not None
        args: list[str] = [*DRAFT_DECODE] if picture and self.plan.draft and clip.kind == "video" else []
        if clip.kind != "image":
            if clip.src_from > 0:
                args += ["-ss", _dec(clip.src_from)]
            # read a little past the segment end so frame snapping never runs short
            args += ["-t", _dec(clip.src_len)]
        args += [*input_options(clip.input.media.mime), "-i", str(clip.input.path)]
        self.inputs += args
        self.input_of[id(clip)] = self.n_inputs
        self.n_inputs += 1
        return self.n_inputs - 1

    # ---- building

    def build(self) -> None:
        if self.plan.has_video:
            self.build_picture()
        self.build_sound()

    def build_picture(self) -> None:
        assert self.plan.output.size is not None
        w, h = self.plan.output.size
        self.size = (w, h)
        video_tracks = [t for t in self.plan.tracks if t.kind != "audio"]
        current = None
        first_video = next((t for t in video_tracks if t.kind == "video"), None)
        if first_video is None or video_tracks[0].kind != "video":
            current = self.label("base")
            self.add(f"color=c=black:s={w}x{h}:r={self.fps},trim=end_frame={self.total_frames},"
                     f"setsar=1,format=yuv420p[{current}]")
        for track in video_tracks:
            if track.kind in ("text", "credits"):
                current = self.draw_text(track, current)
            elif track.kind == "captions":
                if self.plan.captions_burned:
                    out = self.label("cap")
                    script = self.work / f"captions-{track.index}.ass"
                    self.add(f"[{current}]{burn_filter(track.clips, self.size, script)}[{out}]")
                    current = out
            elif current is None:
                current = self.video_track(track, opaque=True)
            else:
                layer = self.video_track(track, opaque=False)
                out = self.label("comp")
                self.add(f"[{current}][{layer}]overlay=x=0:y=0:eof_action=pass:format=auto,format=yuv420p[{out}]")
                current = out
        final = self.label("vout")
        self.add(f"[{current}]format=yuv420p[{final}]")
        self.video_out = final

    def video_track(self, track: PlannedTrack, opaque: bool) -> str:
        """One stream for a video track: from 0 (opaque base) or from its first clip (a layer)."""
        clips = sorted(track.clips, key=lambda c: c.at)
        spans: list[_Span] = []
        for clip in clips:
            start = self.frame(clip.at)
            end = self.frame(clip.end)
            spans.append(_Span(clip, start, max(1, end - start)))
        for prev, cur in itertools.pairwise(spans):
            prev_end = prev.start + prev.frames
            if cur.clip.transition > 0:
                cur.xfade = max(0, min(prev_end - cur.start, prev.frames - 1, cur.frames - 1))
                cur.start = prev_end - cur.xfade
            elif cur.start < prev_end:  # a sub-millisecond overlap: cut the previous clip short
                prev.frames = max(1, cur.start - prev.start)
        fmt = "yuv420p" if opaque else "yuva420p"
        chain: str | None = None
        chain_frames = 0
        pending: list[str] = []
        first_start = spans[0].start
        if opaque and first_start > 0:
            pending.append(self.filler(first_start, fmt))
            chain_frames = first_start
            first_start = 0
        origin = first_start
        for i, span in enumerate(spans):
            clip, start, frames, xfade = span.clip, span.start, span.frames, span.xfade
            if i and xfade == 0:
                gap = start - (origin + chain_frames)
                if gap > 0:
                    pending.append(self.filler(gap, fmt))
                    chain_frames += gap
            seg = self.video_segment(clip, frames, fmt)
            if xfade > 0:
                chain = self.concat(chain, pending, settb=True)  # xfade needs both inputs on one time base
                pending = []
                out = self.label("xf")
                offset = self.seconds_of_frames(chain_frames - xfade)
                self.add(f"[{chain}][{seg}]xfade=transition={clip.transition_type}:duration={self.seconds_of_frames(xfade)}"
                         f":offset={offset}[{out}]")
                chain = out
                chain_frames += frames - xfade
            else:
                pending.append(seg)
                chain_frames += frames
        chain = self.concat(chain, pending)
        out = self.label("trk")
        if opaque:
            rest = self.total_frames - chain_frames
            pad = f"tpad=stop_mode=add:stop={rest}:color=black," if rest > 0 else ""
            self.add(f"[{chain}]{pad}trim=end_frame={self.total_frames}[{out}]")
        else:
            self.add(f"[{chain}]settb={1 / self.fps},setpts=PTS+{origin}[{out}]")
        return out

    def concat(self, chain: str | None, pending: list[str], settb: bool = False) -> str:
        labels = ([chain] if chain else []) + pending
        if len(labels) == 1:
            return labels[0]
        out = self.label("cat")
        tb = f",settb=1/{self.fps}" if settb else ""  # concat's output counts in microseconds
        self.add("".join(f"[{x}]" for x in labels) + f"concat=n={len(labels)}:v=1:a=0{tb}[{out}]")
        return out

    def filler(self, frames: int, fmt: str) -> str:
        w, h = self.size
        color = "black" if fmt == "yuv420p" else "black@0"
        out = self.label("gap")
        self.add(f"color=c={color}:s={w}x{h}:r={self.fps},format={fmt},trim=end_frame={frames},setsar=1[{out}]")
        return out

    def video_segment(self, clip: PlannedClip, frames: int, fmt: str) -> str:
        parts: list[str]
        head = f"[{self.input_for(clip, picture=True)}:v:0]" if clip.input is not None else ""
        if clip.kind == "generator":
            parts = [generator_source(clip.color, clip.gradient, self.size, self.fps), f"fps={self.fps}", "setsar=1",
                     self.fit_filters(clip, fmt)]
        elif clip.kind == "image" or clip.freeze is not None:
            hold = ["trim=end_frame=1", "setpts=PTS-STARTPTS"] if clip.freeze is not None else []
            parts = [*hold, self.fit_filters(clip, fmt), "loop=loop=-1:size=1:start=0", f"setpts=N/({self.fps}*TB)",
                     f"fps={self.fps}"]
        else:
            speed = f"/{_dec(clip.speed)}" if clip.speed != 1 else ""
            parts = [f"setpts=(PTS-STARTPTS){speed}", f"fps={self.fps}", self.fit_filters(clip, fmt)]
            if clip.loop:
                period = max(1, self.frame(clip.src_len / clip.speed))
                parts += ["tpad=stop_mode=clone:stop=-1", f"trim=end_frame={period}",
                          f"loop=loop=-1:size={period}:start=0"]
            # a source whose picture ends before its probed duration (container duration is the longest
            # stream) holds its last frame, so the clip keeps its planned length and later clips their place
            parts.append("tpad=stop_mode=clone:stop=-1")
        parts.append(f"trim=end_frame={frames}")
        if clip.keyframes:
            parts.append(motion_filters(clip.keyframes, self.size, str(self.fps), frames, fmt, self.label))
        alpha = "" if fmt == "yuv420p" else ":alpha=1"
        seconds = Fraction(frames) / self.fps
        if clip.fade_in > 0:
            parts.append(f"fade=t=in:st=0:d={_dec(clip.fade_in)}{alpha}")
        if clip.fade_out > 0:
            st = _dec(max(0.0, float(seconds) - clip.fade_out))
            parts.append(f"fade=t=out:st={st}:d={_dec(clip.fade_out)}{alpha}")
        out = self.label("seg")
        self.add(head + ",".join(parts) + f"[{out}]")
        return out

    def fit_filters(self, clip: PlannedClip, fmt: str) -> str:
        """Fit the picture to the frame (or, for a picture in picture, to its box placed in the frame)."""
        w, h = self.size
        pad_color = "black" if fmt == "yuv420p" else "black@0"
        scaler = DRAFT_SCALER if self.plan.draft else "bicubic"
        x, y = _place_expr(clip.position, "ow-iw", "oh-ih")
        bw, bh = box(self.size, clip.scale)
        place = f",pad={w}:{h}:{x}:{y}:color={pad_color}" if (bw, bh) != (w, h) else ""
        if clip.fit == "contain-blur":
            return contain_blur((bw, bh), fmt, self.label) + place
        if clip.fit == "stretch":
            return f"scale={bw}:{bh}:flags={scaler},setsar=1,format={fmt}{place}"
        if clip.fit == "cover":
            cx, cy = _place_expr(clip.position, "iw-ow", "ih-oh") if not place else ("(iw-ow)/2", "(ih-oh)/2")
            return (f"scale={bw}:{bh}:force_original_aspect_ratio=increase:flags={scaler},"
                    f"crop={bw}:{bh}:{cx}:{cy},setsar=1,format={fmt}{place}")
        return (f"scale={bw}:{bh}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags={scaler},"
                f"setsar=1,format={fmt},pad={w}:{h}:{x}:{y}:color={pad_color}")

    def draw_text(self, track: PlannedTrack, current: str | None) -> str:
        assert current is not None
        w, h = self.size
        filters = []
        half = Fraction(1, 2) / self.fps
        for i, clip in enumerate(track.clips):
            text_file = self.work / f"text-{track.index}-{i}.txt"
            text_file.write_text(clip.text or "", encoding="utf-8")
            start = Fraction(self.frame(clip.at)) / self.fps
            end = Fraction(self.frame(clip.end)) / self.fps
            a, b = _dec(start), _dec(end)
            if clip.kind == "credits":
                font = find_font(clip.font)
                font_opt = f"fontfile={_esc(font)}" if font else f"font={_esc(clip.font or 'Sans')}"
                filters += credits_filters(clip, (w, h), start, end, half, self.work / f"credits-{track.index}-{i}",
                                           font_opt, _dec, _esc)
                continue
            alpha = "1"
            if clip.fade_in > 0:
                alpha = f"min({alpha}\\,(t-{a})/{_dec(clip.fade_in)})"
            if clip.fade_out > 0:
                alpha = f"min({alpha}\\,({b}-t)/{_dec(clip.fade_out)})"
            size = clip.size or default_text_size(h)
            color = (clip.color or "#ffffff").lstrip("#")
            x, y = text_position(clip.position, w, h)
            font = find_font(clip.font)
            font_opt = f"fontfile={_esc(font)}" if font else f"font={_esc(clip.font or 'Sans')}"
            filters.append(
                f"drawtext={font_opt}:textfile={_esc(str(text_file))}:expansion=none:fontsize={size}"
                f":fontcolor=0x{color}:x={x}:y={y}"
                f":enable='gte(t\\,{_dec(start - half)})*lt(t\\,{_dec(end - half)})'"
                f":alpha='max(0\\,{alpha})'"
            )
        out = self.label("txt")
        self.add(f"[{current}]" + ",".join(filters) + f"[{out}]")
        return out

    def build_sound(self) -> None:
        if self.measured is not None and self.plan.output.loudness is not None:  # pass 2 of output.loudness
            self.normalised_sound(self.plan.output.loudness, self.measured)
            return
        plan = self.plan
        targets = {c.duck_under for c in plan.clips() if c.duck_under}
        target_mix: dict[str, list[str]] = {}
        for name in targets:
            track = next(t for t in plan.tracks if t.name == name)
            streams = [self.audio_clip(c) for c in track.clips if c.has_sound]
            mix = self.mix(streams, pad=True)
            uses = sum(1 for c in plan.clips() if c.duck_under == name) + 1
            outs = [self.label("sc") for _ in range(uses)]
            self.add(f"[{mix}]asplit={uses}" + "".join(f"[{x}]" for x in outs))
            target_mix[name] = outs
        final: list[str] = []
        for track in plan.tracks:
            if track.name in target_mix:
                final.append(target_mix[track.name].pop())
                continue
            for clip in track.clips:
                if not clip.has_sound:
                    continue
                stream = self.audio_clip(clip)
                if clip.duck_under:
                    ducked = self.label("duck")
                    key = target_mix[clip.duck_under].pop()
                    self.add(f"[{stream}]apad=whole_len={self.total_samples}[{ducked}p];"
                             f"[{ducked}p][{key}]sidechaincompress={DUCK}[{ducked}]")
                    stream = ducked
                final.append(stream)
        mixed = self.mix(final, pad=True)
        out = self.label("aout")
        # Timestamps from the sample count: amix may cut its output into frames differently from run to run
        # (it emits what its inputs have delivered), which moved AAC packet times in ~1 of 6 loaded runs.
        self.add(f"[{mixed}]atrim=end_sample={self.total_samples},asetpts=N/SR/TB[{out}]")
        self.audio_out = out

    def normalised_sound(self, target: float, measured: Measured) -> None:
        """The sound as the mix the loudness pass wrote, brought to ``target`` LUFS."""
        index = self.n_inputs
        self.inputs += ["-i", str(measured.mix)]
        self.n_inputs += 1
        out = self.label("aout")
        self.add(f"[{index}:a:0]{normalise_filter(target, measured, self.rate)},"
                 f"atrim=end_sample={self.total_samples},asetpts=N/SR/TB[{out}]")
        self.audio_out = out

    def mix(self, streams: list[str], pad: bool) -> str:
        out = self.label("mix")
        tail = f"apad=whole_len={self.total_samples}" if pad else "anull"
        if not streams:
            self.add(f"anullsrc=r={self.rate}:cl={self.layout},atrim=end_sample={self.total_samples}[{out}]")
        elif len(streams) == 1:
            self.add(f"[{streams[0]}]{tail}[{out}]")
        else:
            self.add("".join(f"[{s}]" for s in streams)
                     + f"amix=inputs={len(streams)}:normalize=0:duration=longest:dropout_transition=0,"
                     + f"{tail}[{out}]")
        return out

    def audio_clip(self, clip: PlannedClip) -> str:
        index = self.input_for(clip)
        rate = self.rate
        start = self.sample(clip.at)
        samples = max(1, self.sample(clip.end) - start)
        # aformat makes ffmpeg insert a resampler only where the source's rate or layout differs
        parts = ["asetpts=PTS-STARTPTS",
                 f"aformat=sample_fmts=fltp:sample_rates={rate}:channel_layouts={self.layout}"]
        if clip.loop:
            period = max(1, self.sample(clip.src_len))
            parts += [f"atrim=end_sample={period}", f"apad=whole_len={period}",
                      f"aloop=loop=-1:size={period}:start=0"]
        if clip.speed != 1:
            parts += atempo_chain(clip.speed)
        parts.append(f"atrim=end_sample={samples}")
        assert clip.input is not None
        known = clip.input.media.duration
        if clip.loop or known is None or clip.src_from + clip.duration * clip.speed > known - 0.1:
            parts.append(f"apad=whole_len={samples}")  # the source may end a little early: pad to length
        if clip.loop or clip.speed != 1:
            parts.append("asetpts=N/SR/TB")  # afade counts from timestamp 0
        if clip.mute:
            parts.append("volume=0")
        elif clip.gain:
            parts.append(f"volume={_dec(clip.gain)}dB")
        if clip.gain_keyframes and not clip.mute:
            parts.append(gain_filter(clip.gain_keyframes))
        fade_in = min(samples, self.sample(clip.audio_fade_in))
        fade_out = min(samples, self.sample(clip.audio_fade_out))
        if fade_in > 0:
            parts.append(f"afade=t=in:ss=0:ns={fade_in}:curve={clip.curve_in}")
        if fade_out > 0:
            parts.append(f"afade=t=out:ss={samples - fade_out}:ns={fade_out}:curve={clip.curve_out}")
        if start > 0:
            parts.append(f"adelay=delays={start}S:all=1")
        out = self.label("a")
        self.add(f"[{index}:a:0]" + ",".join(parts) + f"[{out}]")
        return out


def atempo_chain(speed: float) -> list[str]:
    """atempo filters whose product is ``speed`` (each one within atempo's 0.5 to 100)."""
    parts = []
    while speed < 0.5:
        parts.append("atempo=0.5")
        speed /= 0.5
    parts.append(f"atempo={_dec(speed)}")
    return parts


def default_text_size(height: int) -> int:
    return max(8, round(height * 0.08))


def text_position(position: str | tuple[float, float], w: int, h: int) -> tuple[str, str]:
    """drawtext x/y expressions for a named position or [x, y] pixels (top-left of the text)."""
    if isinstance(position, tuple):
        return _dec(position[0]), _dec(position[1])
    mx, my = round(w * 0.05), round(h * 0.08)
    x = "(w-text_w)/2"
    y = "(h-text_h)/2"
    if "left" in position:
        x = str(mx)
    if "right" in position:
        x = f"w-text_w-{mx}"
    if "top" in position:
        y = str(my)
    if "bottom" in position:
        y = f"h-text_h-{my}"
    return x, y


def _place_expr(position: str | tuple[float, float], free_x: str, free_y: str) -> tuple[str, str]:
    """x/y for pad (free = ow-iw) or crop (free = iw-ow): where the picture sits in the free space."""
    if isinstance(position, tuple):
        return (f"'max(0\\,min({_dec(position[0])}\\,{free_x}))'",
                f"'max(0\\,min({_dec(position[1])}\\,{free_y}))'")
    x = f"({free_x})/2"
    y = f"({free_y})/2"
    if "left" in position:
        x = "0"
    if "right" in position:
        x = free_x
    if "top" in position:
        y = "0"
    if "bottom" in position:
        y = free_y
    return x, y


_FONT_CACHE: dict[str | None, str | None] = {}


def find_font(family: str | None) -> str | None:
    """A font file for ``family`` (default DejaVu Sans) via fontconfig; None when fc-match is missing."""
    if family in _FONT_CACHE:
        return _FONT_CACHE[family]
    found = None
    try:
        result = subprocess.run(["fc-match", "-f", "%{file}", family or "DejaVu Sans"],
                                capture_output=True, text=True, timeout=10)
        if result.returncode == 0 and result.stdout and os.path.exists(result.stdout):
            found = result.stdout
    except (OSError, subprocess.SubprocessError):
        found = None
    _FONT_CACHE[family] = found
    return found


def _dec(value: float | Fraction) -> str:
    """A number as ffmpeg reads it: plain decimal, no exponent."""
    text = f"{float(value):.9f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _esc(value: str) -> str:
    """Escape a filter option value for both levels of filter-graph parsing."""
    level1 = "".join("\\" + ch if ch in "\\':" else ch for ch in value)
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in level1)
