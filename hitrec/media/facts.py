"""What probing a media file tells (:class:`Probe`), apart from how it is found out."""

from __future__ import annotations

from dataclasses import dataclass


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
    rotation: int | None = None  # degrees the picture is turned for display (90, 180, 270); width and
    #                              height are the displayed size, after the turn
    frames: int | None = None  # an animated image (GIF, APNG, WebP, JPEG XL) recorded as video: its frames
