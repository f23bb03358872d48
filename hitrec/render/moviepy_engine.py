"""The reference render engine: moviepy composes the picture, pydub mixes the sound.

It exists to check the ffmpeg engine against an independent implementation of the same plan (a test
renders one timeline with both and compares frames and audio levels) and as the slow baseline in
bench/. It follows the same rules — clips placed by the plan, cross-fades as the incoming clip fading
in over the outgoing one, later tracks on top, all sound summed — but is neither byte-exact with the
ffmpeg engine nor fast. It refuses, naming it, what it does not implement (:func:`unsupported`):
``duck_under``, transitions other than crossfade, fade curves, keyframes and Ken Burns moves, freeze
frames, picture in picture, contain-blur, generated backgrounds, captions, the credits roll and loudness
normalisation (docs/timeline.md lists them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hitrec.errors import RenderError
from hitrec.media.ffmpeg import ffmpeg_exe
from hitrec.media.ffmpeg import run as run_helper
from hitrec.progress import ProgressFn
from hitrec.render.ffmpeg_engine import CODECS, default_text_size, find_font
from hitrec.render.plan import Plan, PlannedClip
from hitrec.render.scratch import scratch_dir


class MoviepyEngine:
    name = "moviepy"

    def render(self, plan: Plan, out: Path, progress: ProgressFn | None = None) -> None:
        feature = unsupported(plan)
        if feature:
            raise RenderError(f"the moviepy reference engine does not implement {feature}; use --engine ffmpeg")
        if progress:
            progress(0, total=plan.length, description="rendering (moviepy)")
        try:
            with scratch_dir("moviepy") as work:
                sound = mix_sound(plan, Path(work))
                if plan.has_video:
                    wav = Path(work) / "sound.wav"
                    sound.export(str(wav), format="wav")
                    compose_picture(plan, wav, out, Path(work))
                else:
                    export_audio(plan, sound, out)
        except RenderError:
            raise
        except Exception as exc:  # moviepy and pydub raise anything from OSError to IndexError
            raise RenderError(f"the moviepy engine failed: {exc}") from exc
        if progress:
            progress(plan.length)


def unsupported(plan: Plan) -> str | None:
    """The first feature of ``plan`` this engine does not implement (named as the timeline spells it)."""
    if plan.output.loudness is not None:
        return "output.loudness (loudness normalisation)"
    for clip in plan.clips():
        if clip.duck_under:
            return "duck_under"
        if clip.transition and clip.transition_type != "fade":
            return f"the {clip.transition_type} transition (only crossfade)"
        if clip.curve_in != "tri" or clip.curve_out != "tri":
            return f"fade curve {clip.curve_in if clip.curve_in != 'tri' else clip.curve_out} (only tri)"
        for feature, used in (("keyframes (and zoom/pan)", bool(clip.keyframes or clip.gain_keyframes)),
                              ("freeze", clip.freeze is not None), ("scale (picture in picture)", clip.scale != 1),
                              ("fit: contain-blur", clip.fit == "contain-blur"),
                              ("color and gradient backgrounds", clip.kind == "generator"),
                              ("captions tracks", clip.kind == "captions"),
                              ("the credits roll", clip.kind == "credits")):
            if used:
                return feature
    return None


# --------------------------------------------------------------------------- sound (pydub)


def _pydub() -> Any:
    """pydub's AudioSegment, imported quietly (it warns about audioop and a missing ffmpeg on PATH)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg_exe()
    return AudioSegment


def decode_segment(clip: PlannedClip, rate: int, channels: int, work: Path) -> Any:
    """The clip's source range as a pydub AudioSegment at the output rate (decoded by ffmpeg to WAV)."""
    AudioSegment = _pydub()

    assert clip.input is not None
    wav = work / f"src-{id(clip)}.wav"
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-ss", f"{clip.src_from:.6f}", "-t", f"{clip.src_len:.6f}",
           "-i", str(clip.input.path), "-vn", "-ac", str(channels), "-ar", str(rate), "-c:a", "pcm_s16le",
           str(wav)]
    result = run_helper(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RenderError(f"cannot decode {clip.input.id[:10]}: {result.stderr.strip()[-200:]}")
    return AudioSegment.from_wav(str(wav))


def clip_sound(clip: PlannedClip, rate: int, channels: int, work: Path) -> Any:
    AudioSegment = _pydub()

    seg = decode_segment(clip, rate, channels, work)
    if clip.speed != 1:  # resample: the level is kept, the pitch is not (the ffmpeg engine keeps pitch)
        seg = seg._spawn(seg.raw_data, overrides={"frame_rate": round(rate * clip.speed)}).set_frame_rate(rate)
    ms = round(clip.duration * 1000)
    if clip.loop and len(seg) > 0:
        seg = seg * (ms // len(seg) + 1)
    seg = seg[:ms]
    if len(seg) < ms:
        seg += AudioSegment.silent(ms - len(seg), frame_rate=rate).set_channels(channels)
    if clip.mute:
        return AudioSegment.silent(ms, frame_rate=rate).set_channels(channels)
    if clip.gain:
        seg = seg.apply_gain(clip.gain)
    if clip.audio_fade_in:
        seg = seg.fade_in(round(clip.audio_fade_in * 1000))
    if clip.audio_fade_out:
        seg = seg.fade_out(round(clip.audio_fade_out * 1000))
    return seg


def mix_sound(plan: Plan, work: Path) -> Any:
    AudioSegment = _pydub()

    rate, channels = plan.output.sample_rate, plan.output.channels
    total = AudioSegment.silent(round(plan.length * 1000), frame_rate=rate).set_channels(channels)
    for clip in plan.clips():
        if clip.has_sound:
            total = total.overlay(clip_sound(clip, rate, channels, work), position=round(clip.at * 1000))
    return total


def export_audio(plan: Plan, sound: Any, out: Path) -> None:
    _pydub()
    codec = CODECS[plan.format]
    sound.export(str(out), format=plan.format, parameters=codec[2:] if plan.format == "mp3" else [])


# --------------------------------------------------------------------------- picture (moviepy)


def linked(clip: PlannedClip, work: Path) -> str:
    """The clip's media under a name with its extension (moviepy and imageio guess formats from it)."""
    assert clip.input is not None
    suffix = Path(clip.input.media.filename).suffix or Path(clip.input.path).suffix
    link = work / f"{clip.input.id}{suffix}"
    if not link.exists():
        link.symlink_to(Path(clip.input.path).resolve())
    return str(link)


def compose_picture(plan: Plan, wav: Path, out: Path, work: Path) -> None:
    from moviepy import AudioFileClip, ColorClip, CompositeVideoClip

    assert plan.output.size is not None
    w, h = plan.output.size
    layers: list[Any] = [ColorClip((w, h), color=(0, 0, 0), duration=plan.length)]
    opened: list[Any] = []
    first_video = next((t.index for t in plan.tracks if t.kind == "video"), None)
    for track in plan.tracks:
        for clip in track.clips:
            if track.kind == "text":
                layers.append(text_layer(clip, w, h))
            elif track.kind == "video":
                layers.append(video_layer(clip, w, h, opaque=track.index == first_video, opened=opened,
                                          path=linked(clip, work)))
    audio = AudioFileClip(str(wav))
    video = CompositeVideoClip(layers, size=(w, h)).with_duration(plan.length).with_audio(audio)
    codec = "libx264" if plan.format == "mp4" else "libvpx-vp9"
    audio_codec = "aac" if plan.format == "mp4" else "libopus"
    try:
        video.write_videofile(str(out), fps=float(plan.output.fps), codec=codec, audio_codec=audio_codec,
                              audio_fps=plan.output.sample_rate, preset="medium", logger=None,
                              pixel_format="yuv420p", ffmpeg_params=["-crf", "20", "-f", plan.format],
                              temp_audiofile=str(work / ("audio.m4a" if plan.format == "mp4" else "audio.ogg")))
    finally:
        video.close()
        audio.close()
        for clip in opened:
            clip.close()


def video_layer(clip: PlannedClip, w: int, h: int, opaque: bool, opened: list[Any], path: str) -> Any:
    from moviepy import ImageClip, VideoFileClip, vfx

    assert clip.input is not None
    if clip.kind == "image":
        layer = ImageClip(path).with_duration(clip.duration)
    else:
        src = VideoFileClip(path, audio=False)
        opened.append(src)
        end = min(clip.src_from + clip.src_len, src.duration)
        layer = src.subclipped(clip.src_from, end)
        if clip.speed != 1:
            layer = layer.with_effects([vfx.MultiplySpeed(clip.speed)])
        if clip.loop:
            layer = layer.with_effects([vfx.Loop(duration=clip.duration)])
        elif layer.duration < clip.duration:
            layer = layer.with_effects([vfx.Freeze(t="end", freeze_duration=clip.duration - layer.duration + 0.1)])
        layer = layer.with_duration(clip.duration)
    layer = fit(layer, clip, w, h)
    effects = []
    if clip.transition:
        effects.append(vfx.CrossFadeIn(clip.transition))
    if opaque and not clip.transition:
        effects += _fades(clip, vfx.FadeIn, vfx.FadeOut)
    else:
        effects += _fades(clip, vfx.CrossFadeIn, vfx.CrossFadeOut)
    if effects:
        layer = layer.with_effects(effects)
    return layer.with_start(clip.at)


def fit(layer: Any, clip: PlannedClip, w: int, h: int) -> Any:
    iw, ih = layer.size
    if clip.fit == "stretch":
        return layer.resized(new_size=(w, h)).with_position((0, 0))
    scale = max(w / iw, h / ih) if clip.fit == "cover" else min(w / iw, h / ih)
    nw, nh = round(iw * scale), round(ih * scale)
    if clip.fit == "contain":
        nw, nh = nw - nw % 2, nh - nh % 2
    layer = layer.resized(new_size=(nw, nh))
    x, y = place(clip.position, w - nw, h - nh)
    if clip.fit == "cover":
        return layer.cropped(x1=-x, y1=-y, width=w, height=h).with_position((0, 0))
    return layer.with_position((x, y))


def place(position: str | tuple[float, float], free_x: int, free_y: int) -> tuple[int, int]:
    if isinstance(position, tuple):
        lo_x, hi_x = sorted((0, free_x))
        lo_y, hi_y = sorted((0, free_y))
        return int(min(max(position[0], lo_x), hi_x)), int(min(max(position[1], lo_y), hi_y))
    x, y = free_x // 2, free_y // 2
    if "left" in position:
        x = 0
    if "right" in position:
        x = free_x
    if "top" in position:
        y = 0
    if "bottom" in position:
        y = free_y
    return x, y


def text_layer(clip: PlannedClip, w: int, h: int) -> Any:
    from moviepy import TextClip, vfx

    size = clip.size or default_text_size(h)
    layer = TextClip(font=find_font(clip.font), text=clip.text or " ", font_size=size,
                     color=clip.color or "#ffffff", margin=(0, size // 4), duration=clip.duration)
    tw, th = layer.size
    if isinstance(clip.position, tuple):
        pos = (int(clip.position[0]), int(clip.position[1]))
    else:
        mx, my = round(w * 0.05), round(h * 0.08)
        x, y = (w - tw) // 2, (h - th) // 2
        if "left" in clip.position:
            x = mx
        if "right" in clip.position:
            x = w - tw - mx
        if "top" in clip.position:
            y = my
        if "bottom" in clip.position:
            y = h - th - my
        pos = (x, y)
    effects = _fades(clip, vfx.CrossFadeIn, vfx.CrossFadeOut)
    if effects:
        layer = layer.with_effects(effects)
    return layer.with_position(pos).with_start(clip.at)


def _fades(clip: Any, fade_in: Any, fade_out: Any) -> list[Any]:
    """The clip's fade-in and fade-out as the given moviepy effects (none where a length is 0)."""
    return [effect(seconds) for effect, seconds in ((fade_in, clip.fade_in), (fade_out, clip.fade_out)) if seconds]
