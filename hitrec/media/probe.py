"""Probe a media file in-process: what kind it is, how long, how big, which codec.

``probe(path)`` is called by ``hitrec add`` for every file, so the common cases are cheap:

- WAV (PCM, float, A-law/µ-law, WAVE_FORMAT_EXTENSIBLE, RF64), AIFF/AIFC and FLAC are read from
  their headers by :mod:`hitrec.media.headers` (stdlib only, a few reads, no samples);
- images go through Pillow (``verify()`` plus a cheap reduced decode), text is checked to be UTF-8;
- everything else (mp4, mov, m4a, webm, mkv, mp3, ogg, opus, ...) through PyAV, imported lazily, which
  decodes one frame so a corrupt file is caught here rather than at render time.

Every problem is a :class:`hitrec.errors.MediaError`; no foreign exception escapes.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hitrec.errors import MediaError
from hitrec.media import headers

KINDS = ("audio", "video", "image", "text")


@dataclass(frozen=True)
class Probe:
    """What a media file is; ``None`` where a field does not apply to its kind."""

    kind: str  # audio | video | image | text
    mime: str
    duration: float | None = None  # seconds
    sample_rate: int | None = None  # Hz, of the (first) audio stream
    channels: int | None = None
    width: int | None = None  # pixels, of the video stream or image
    height: int | None = None
    fps: float | None = None  # average frame rate of the video stream
    codec: str | None = None  # ffmpeg's name: pcm_s16le, flac, h264, aac, png, ...; "utf-8" for text
    has_audio: bool | None = None  # video only: does it carry a sound track


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
    ".flac": ("audio/flac", "audio/flac"),
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
                    "asf": ".wmv", "aac": ".aac", "mpeg": ".mpg"}
_READERS = {"wav": headers.read_wav, "aiff": headers.read_aiff, "flac": headers.read_flac}
_IMAGE_CODECS = {"mjpeg", "png", "bmp", "gif", "tiff", "webp", "jpeg2000", "jpegls"}


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
    if (head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00",
                         b"MM\x00*")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")):
        return "image"
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
    head = f.read(16)
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
    if fmt == "image" or suffix in _IMAGE_MIMES:
        return _probe_image(path)
    if suffix in _TEXT_MIMES:
        return _probe_text(path, f, suffix)
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


def _probe_image(path: Path) -> Probe:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            fmt, (width, height) = im.format or "", im.size
            mime = im.get_format_mimetype() or guess_mime(path)
            im.verify()  # structure and checksums (PNG CRCs); leaves the image unusable
        if fmt != "PNG":  # PNG's verify() already read every chunk and checked its CRC
            with Image.open(path) as im:
                if fmt == "JPEG":
                    im.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decode at 1/8 scale
                im.load()  # catches truncated pixel data that verify() does not read
    except UnidentifiedImageError as exc:
        raise MediaError(path, "not an image Pillow can read (unknown or corrupt format)") from exc
    except Image.DecompressionBombError as exc:
        raise MediaError(path, f"image too large to check safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's errors for broken files
        raise MediaError(path, f"corrupt or truncated image: {exc}") from exc
    if width <= 0 or height <= 0:
        raise MediaError(path, f"image has no pixels ({width}x{height})")
    return Probe("image", mime, width=width, height=height, codec=fmt.lower() or None)


def _is_cover(stream: Any, has_audio: bool) -> bool:
    """A still picture carried with audio (mp3 APIC, m4a covr, FLAC PICTURE): not a video."""
    from av.stream import Disposition

    if stream.disposition & Disposition.attached_pic:
        return True
    return has_audio and stream.codec_context.name in _IMAGE_CODECS and stream.frames <= 1


def _open_av(av: Any, path: Path) -> Any:
    """Open ``path`` with PyAV, whatever bytes its tags hold: PyAV before 19 decodes them strictly
    unless told to ignore errors; 19 dropped that option and decodes them leniently itself."""
    try:
        return av.open(str(path), metadata_errors="ignore")
    except TypeError:
        return av.open(str(path))


def _probe_av(path: Path) -> Probe:
    import av

    try:
        container = _open_av(av, path)
    except av.FFmpegError as exc:
        suffix = path.suffix.lower()
        if suffix in _AV_MIMES:
            problem = (f"not a media file ffmpeg can read: corrupt, truncated or not really "
                       f"{suffix[1:].upper()} ({_av_reason(exc)})")
        else:
            problem = f"not a media file: ffmpeg does not recognise its format ({_av_reason(exc)})"
        raise MediaError(path, problem) from exc
    with container:
        audio = list(container.streams.audio)
        pictures = list(container.streams.video)
        videos = [s for s in pictures if not _is_cover(s, bool(audio))]
        if not videos and not audio:
            if pictures:  # a lone image in a container (e.g. a .mjpeg still)
                videos = pictures
            else:
                raise MediaError(path, "not a media file: ffmpeg found no audio or video stream in it")
        main = videos[0] if videos else audio[0]
        try:
            frame = next(iter(container.decode(main)), None)
        except av.FFmpegError as exc:
            raise MediaError(path, f"corrupt media: decoding the first {main.type} frame failed: "
                                   f"{_av_reason(exc)}") from exc
        if frame is None:
            raise MediaError(path, f"corrupt or truncated media: no {main.type} frame could be decoded")
        duration = _duration(container, main)
        named = path.name
        if path.suffix.lower() not in _AV_MIMES or path.suffix.lower() in _HEADER_SUFFIXES:
            named = "x" + _FORMAT_SUFFIXES.get(container.format.name.split(",")[0], path.suffix)
        first_audio = audio[0] if audio else None
        rate = first_audio.codec_context.sample_rate if first_audio is not None else None
        channels = first_audio.codec_context.channels if first_audio is not None else None
        if not videos:
            return Probe("audio", guess_mime(named, "audio"), duration, rate or None, channels or None,
                         codec=main.codec_context.codec.canonical_name)
        video = main.codec_context
        if not audio and video.name in _IMAGE_CODECS and main.frames <= 1 and (duration or 0) <= 0.1:
            return Probe("image", guess_mime(named), width=video.width or frame.width,
                         height=video.height or frame.height, codec=video.codec.canonical_name)
        fps = main.average_rate or main.guessed_rate
        return Probe("video", guess_mime(named, "video"), duration, rate or None, channels or None,
                     video.width or frame.width, video.height or frame.height,
                     float(fps) if fps else None, video.codec.canonical_name, bool(audio))


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
