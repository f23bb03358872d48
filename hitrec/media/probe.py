"""Probe a media file in-process: what kind it is, how long, how big, which codec.

``probe(path)`` is called by ``hitrec add`` for every file, so the common cases are cheap:

- WAV (PCM, float, A-law/µ-law, WAVE_FORMAT_EXTENSIBLE, RF64), AIFF/AIFC and FLAC are read from
  their headers by :mod:`hitrec.media.headers` (stdlib only, a few reads, no samples; FLAC also finds its
  last intact frame, so a truncated file is refused);
- formats refused by name (camera raw, PDF) are named by :mod:`hitrec.media.formats`;
- images, still and animated, are decoded once by the renderer's own ffmpeg (:mod:`hitrec.media.still`):
  what it cannot decode is refused, an animation is kind ``video`` with ``frames``;
- text is checked to be UTF-8;
- everything else (mp4, mov, m4a, webm, mkv, mp3, ogg, opus, wv, raw h264, ...) through PyAV, imported
  lazily, which decodes one frame so a corrupt file is caught here rather than at render time; the
  duration is where the last packet ends (:mod:`hitrec.media.measure`) when the header's claim disagrees
  or is missing; a rotated video records its displayed size; DRM-encrypted MP4 is refused
  (:mod:`hitrec.media.protected`). docs/media.md says what is accepted and refused.

Every problem is a :class:`hitrec.errors.MediaError`; no foreign exception escapes.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Any, BinaryIO

from hitrec.errors import MediaError
from hitrec.media import formats, headers
from hitrec.media.facts import Probe
from hitrec.media.pyav import open_av

KINDS = ("audio", "video", "image", "text")


# suffix -> (mime as audio, mime as video); also used for images and text.
_AV_MIMES: dict[str, tuple[str, str]] = {
    ".mp4": ("audio/mp4", "video/mp4"), ".m4a": ("audio/mp4", "video/mp4"),
    ".m4v": ("audio/mp4", "video/mp4"), ".mov": ("audio/quicktime", "video/quicktime"),
    ".webm": ("audio/webm", "video/webm"), ".mkv": ("audio/x-matroska", "video/x-matroska"),
    ".mka": ("audio/x-matroska", "video/x-matroska"), ".ogg": ("audio/ogg", "video/ogg"),
    ".oga": ("audio/ogg", "video/ogg"), ".ogv": ("audio/ogg", "video/ogg"),
    ".opus": ("audio/ogg", "video/ogg"), ".mp3": ("audio/mpeg", "video/mpeg"),
    ".aac": ("audio/aac", "video/mp4"), ".avi": ("audio/x-msvideo", "video/x-msvideo"),
    ".mpg": ("audio/mpeg", "video/mpeg"), ".mpeg": ("audio/mpeg", "video/mpeg"),
    ".ts": ("audio/mp2t", "video/mp2t"), ".3gp": ("audio/3gpp", "video/3gpp"),
    ".wma": ("audio/x-ms-wma", "video/x-ms-asf"), ".wmv": ("audio/x-ms-wma", "video/x-ms-wmv"),
    ".flv": ("audio/x-flv", "video/x-flv"),
    ".wav": ("audio/wav", "audio/wav"), ".aif": ("audio/aiff", "audio/aiff"),
    ".aiff": ("audio/aiff", "audio/aiff"), ".aifc": ("audio/aiff", "audio/aiff"),
    ".flac": ("audio/flac", "audio/flac"), ".wv": ("audio/x-wavpack", "audio/x-wavpack"),
    ".h264": ("video/h264", "video/h264"), ".264": ("video/h264", "video/h264"),
    ".h265": ("video/h265", "video/h265"), ".hevc": ("video/h265", "video/h265"),
}
_IMAGE_MIMES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".webp": "image/webp", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
                ".ico": "image/vnd.microsoft.icon", ".tga": "image/x-tga"}
# Text fragments: prose, lyrics, scripts, subtitles. All plain UTF-8.
_TEXT_MIMES = {".txt": "text/plain", ".text": "text/plain", ".md": "text/markdown",
               ".markdown": "text/markdown", ".rst": "text/plain", ".fountain": "text/plain",
               ".lrc": "text/plain", ".srt": "text/plain", ".vtt": "text/plain"}
_HEADER_MIMES = {"wav": "audio/wav", "aiff": "audio/aiff", "flac": "audio/flac"}
_HEADER_SUFFIXES = (".wav", ".aif", ".aiff", ".aifc", ".flac")
# ffmpeg's demuxer -> a suffix to take the MIME type from when the file's own suffix is unknown or wrong.
_FORMAT_SUFFIXES = {"mp3": ".mp3", "ogg": ".ogg", "wav": ".wav", "flac": ".flac", "aiff": ".aiff",
                    "matroska": ".mkv", "mov": ".mp4", "avi": ".avi", "mpegts": ".ts", "flv": ".flv",
                    "asf": ".wmv", "aac": ".aac", "mpeg": ".mpg", "wv": ".wv", "h264": ".h264",
                    "hevc": ".h265"}
_READERS = {"wav": headers.read_wav, "aiff": headers.read_aiff, "flac": headers.read_flac}
_IMAGE_CODECS = {"mjpeg", "png", "bmp", "gif", "tiff", "webp", "jpeg2000", "jpegls", "apng", "qoi", "psd", "exr",
                 "hdr", "sgi", "pcx", "xbm", "xpm", "ppm", "pgm", "pam", "pbm", "targa", "jpegxl", "webp_anim",
                 "pgx", "dpx", "sunrast", "photocd"}
_RAW_VIDEO = {"h264", "hevc", "m4v", "mpegvideo", "vvc", "obu", "cavsvideo", "avs2", "avs3"}
# Image formats whose files are text: a .txt that starts like one is still text.
_TEXTUAL_IMAGES = {"XPM", "XBM", "PBM", "PGM", "PPM", "Radiance HDR"}


def guess_mime(filename: str | os.PathLike[str], kind: str | None = None) -> str:
    """The MIME type hitrec records for a file name (by suffix); ``kind`` picks audio/ or video/."""
    suffix = Path(filename).suffix.lower()
    if suffix in _TEXT_MIMES:
        return _TEXT_MIMES[suffix]
    if suffix in _IMAGE_MIMES:
        return _IMAGE_MIMES[suffix]
    if suffix in _AV_MIMES:
        return _AV_MIMES[suffix][kind == "video"]
    import mimetypes

    guessed = mimetypes.guess_type(f"x{suffix}")[0]
    if guessed:
        return guessed
    return {"audio": "audio/octet-stream", "video": "video/octet-stream"}.get(kind or "",
                                                                              "application/octet-stream")


def _sniff(head: bytes) -> str | None:
    """The format the first bytes announce, for the formats probed without PyAV."""
    if head[8:12] == b"WAVE" and head[:4] in (b"RIFF", b"RF64"):
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    return None


def probe(path: Path) -> Probe:
    """Tell what ``path`` is, or raise :class:`MediaError` saying why it is not usable media."""
    if not isinstance(path, Path):
        path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; open() first so a missing path costs no stat
    except FileNotFoundError as exc:
        raise MediaError(path, "no such file. Check the path.") from exc
    except IsADirectoryError as exc:
        raise MediaError(path, "is a folder, not a file. Give the media files inside it.") from exc
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    try:
        with f:
            return _probe_open(path, f)
    except MediaError:
        raise
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:  # a library's bug or surprise must still reach the user as a MediaError
        raise MediaError(path, f"cannot probe this file ({type(exc).__name__}: {exc})") from exc


def _probe_open(path: Path, f: BinaryIO) -> Probe:
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        raise MediaError(path, "empty file (0 bytes): nothing to record")
    head = f.read(64)
    fmt = _sniff(head)
    if fmt is None and head[:3] == b"ID3":  # an ID3 tag may sit in front of FLAC (and MP3) audio
        f.seek(headers.skip_id3(f))
        fmt = "flac" if f.read(4) == b"fLaC" else None
    if fmt in _HEADER_MIMES:
        found = _READERS[fmt](f, size, path)
        if found is not None:
            return Probe("audio", _HEADER_MIMES[fmt], found.duration, found.sample_rate, found.channels,
                         codec=found.codec)
        return _probe_av(path)  # an encoding the header readers leave to ffmpeg (ADPCM, ima4, ...)
    suffix = path.suffix.lower()
    refusal = formats.refused(head, suffix)
    if refusal is not None:
        raise MediaError(path, f"not supported: {refusal}")
    image = formats.sniff_image(head)
    if suffix in _TEXT_MIMES and (image is None or image.name in _TEXTUAL_IMAGES):
        return _probe_text(path, f, suffix)
    if image is None and head[4:8] != b"ftyp":
        image = formats.SUFFIX_IMAGES.get(suffix)
    if image is not None:
        from hitrec.media.still import probe_picture

        return probe_picture(path, image)
    return _probe_av(path)  # also a misnamed file (an MP3 called .wav): ffmpeg reads the content


def _probe_text(path: Path, f: BinaryIO, suffix: str) -> Probe:
    f.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while True:
        chunk = f.read(1 << 20)
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise MediaError(path, f"not UTF-8 text (bad byte at offset {offset + exc.start}). "
                                   "Save it as UTF-8.") from exc
        if b"\x00" in chunk:
            raise MediaError(path, f"not text: NUL byte at offset {offset + chunk.index(0)}")
        if not chunk:
            return Probe("text", _TEXT_MIMES[suffix], codec="utf-8")
        offset += len(chunk)


def _is_cover(stream: Any, has_audio: bool) -> bool:
    """A still picture carried with audio (mp3 APIC, m4a covr, FLAC PICTURE): not a video."""
    from av.stream import Disposition

    if stream.disposition & Disposition.attached_pic:
        return True
    return has_audio and stream.codec_context.name in _IMAGE_CODECS and stream.frames <= 1


def _probe_av(path: Path) -> Probe:
    import av

    try:
        container = open_av(av, path)
    except av.FFmpegError as exc:
        suffix = path.suffix.lower()
        if suffix in _AV_MIMES:
            problem = (f"not a media file ffmpeg can read: corrupt, truncated or not really "
                       f"{suffix[1:].upper()} ({_av_reason(exc)})")
        else:
            problem = f"not a media file: ffmpeg does not recognise its format ({_av_reason(exc)})"
        raise MediaError(path, problem) from exc
    with container:
        fmt_name = container.format.name.split(",")[0]
        if fmt_name == "mov":
            _refuse_protected(path)
        audio = list(container.streams.audio)
        pictures = list(container.streams.video)
        videos = [s for s in pictures if not _is_cover(s, bool(audio))]
        if not videos and not audio:
            if pictures:  # a lone image in a container (e.g. a .mjpeg still)
                videos = pictures
            else:
                raise MediaError(path, "not a media file: ffmpeg found no audio or video stream in it")
        main = videos[0] if videos else audio[0]
        if not audio and main.codec_context.name in _IMAGE_CODECS and main.frames <= 1:
            from hitrec.media.still import probe_picture

            image = formats.ImageFormat(main.codec_context.name.upper(), guess_mime(path))
            return probe_picture(path, image)  # decoded by the renderer's ffmpeg, as every image is
        try:
            frame = next(iter(container.decode(main)), None)
        except av.FFmpegError as exc:
            raise MediaError(path, f"corrupt media: decoding the first {main.type} frame failed: "
                                   f"{_av_reason(exc)}") from exc
        if frame is None:
            raise MediaError(path, f"corrupt or truncated media: no {main.type} frame could be decoded")
        claimed = _duration(container, main)
        used = [main.index] + ([audio[0].index] if videos and audio else [])
        duration = _measured(path, used, claimed)
        named = path.name
        if path.suffix.lower() not in _AV_MIMES or path.suffix.lower() in _HEADER_SUFFIXES:
            named = "x" + _FORMAT_SUFFIXES.get(fmt_name, path.suffix)
        first_audio = audio[0] if audio else None
        rate = first_audio.codec_context.sample_rate if first_audio is not None else None
        channels = first_audio.codec_context.channels if first_audio is not None else None
        if not videos:
            return Probe("audio", guess_mime(named, "audio"), duration, rate or None, channels or None,
                         codec=main.codec_context.codec.canonical_name)
        video = main.codec_context
        width, height = video.width or frame.width, video.height or frame.height
        turn = round(getattr(frame, "rotation", 0) or 0) % 360
        if turn in (90, 270):
            width, height = height, width
        if fmt_name in _RAW_VIDEO:  # no container timestamps: the codec's timing is the rate
            from hitrec.media.measure import raw_rate

            fps = raw_rate(main)
        else:
            fps = main.average_rate or main.guessed_rate
        return Probe("video", guess_mime(named, "video"), duration, rate or None, channels or None,
                     width, height, float(fps) if fps else None, video.codec.canonical_name, bool(audio),
                     rotation=turn or None)


TOLERANCE = 0.1  # seconds a header's duration may differ from the last packet's end and still be kept


def _measured(path: Path, streams: list[int], claimed: float | None) -> float:
    """The duration to record: the header's, unless the packets end elsewhere (truncated, no header)."""
    import av

    from hitrec.media.measure import end_time

    try:
        end = end_time(path, path.stat().st_size, streams, claimed)
    except av.FFmpegError:
        end = None
    if end is None or end <= 0:
        if claimed is None or claimed <= 0 or end is not None:
            raise MediaError(path, "zero-length media: no audio or video packet holds any time. "
                                   "Export or record it again.")
        return claimed
    if claimed is None or abs(end - claimed) > TOLERANCE:
        return round(end, 6)
    return claimed


def _refuse_protected(path: Path) -> None:
    from hitrec.media.protected import encryption_scheme

    with open(path, "rb") as f:
        scheme = encryption_scheme(f, os.fstat(f.fileno()).st_size)
    if scheme is not None:
        named = "DRM" if scheme == "DRM" else f"DRM, {scheme}"
        raise MediaError(path, f"not supported: an encrypted ({named}) MP4 that only a licensed player can "
                               "decode. Add the unprotected original.")


def _duration(container: Any, stream: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000  # AV_TIME_BASE
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _av_reason(exc: Exception) -> str:
    """ffmpeg's message without the errno and file name PyAV adds."""
    if isinstance(exc, EOFError):
        return "the file ends too early"
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).rstrip(".").lower()
