"""A corpus of the files people really bring, made on the spot (the bundled ffmpeg, Pillow, pillow-heif,
a few bytes written by hand), each with what `hitrec add` must record or why it must refuse it."""

from __future__ import annotations

import struct
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media import ffmpeg

from hitrec.media.ffmpeg import ffmpeg_exe

SIZE = "32x24"


@dataclass
class Case:
    name: str  # the file's name in the corpus folder
    facts: dict[str, Any] = field(default_factory=dict)  # media fields `add` must record
    refused: tuple[str, ...] = ()  # words the one refusal line must hold
    decoded: bool = False  # its duration must match what the bundled ffmpeg decodes

    @property
    def accepted(self) -> bool:
        return not self.refused


def _still(name: str, w: int = 32, h: int = 24, **extra: Any) -> Case:
    return Case(name, {"kind": "image", "width": w, "height": h, **extra})


ACCEPTED = [
    _still("photo.heic", mime="image/heic", codec="hevc"),
    _still("photo.avif", mime="image/avif", codec="av1"),
    _still("photo.jxl", mime="image/jxl", codec="jpegxl"),
    _still("layers.psd", 16, 12, mime="image/vnd.adobe.photoshop", codec="psd"),
    _still("icon.xpm", 8, 4, codec="xpm"),
    *[_still(f"still.{ext}", codec=codec) for ext, codec in (
        ("ppm", "ppm"), ("pgm", "pgm"), ("pam", "pam"), ("qoi", "qoi"), ("sgi", "sgi"), ("exr", "exr"),
        ("hdr", "hdr"), ("pcx", "pcx"), ("xbm", "xbm"), ("tga", "targa"))],
    *[Case(f"anim.{ext}", {"kind": "video", "frames": 2, "duration": 1.0, "fps": 2.0, "width": 32,
                           "height": 24, "codec": codec, "mime": mime})
      for ext, codec, mime in (("gif", "gif", "image/gif"), ("png", "apng", "image/png"),
                               ("webp", "webp_anim", "image/webp"))],
    Case("portrait.mp4", {"kind": "video", "width": 24, "height": 32, "rotation": 90, "duration": 1.0}),
    Case("fragmented.mp4", {"kind": "video", "width": 32, "height": 24, "duration": 1.0}),
    Case("browser.webm", {"kind": "video", "has_audio": True}, decoded=True),
    Case("raw.h264", {"kind": "video", "width": 32, "height": 24, "fps": 10.0}, decoded=True),
    Case("half.mp3", {"kind": "audio"}, decoded=True),
    Case("half.opus", {"kind": "audio"}, decoded=True),
    Case("half.webm", {"kind": "video"}, decoded=True),
    Case("half.mp4", {"kind": "video"}, decoded=True),
    Case("piped.wv", {"kind": "audio", "mime": "audio/x-wavpack", "codec": "wavpack"}, decoded=True),
]
REFUSED = [
    Case("drm.mp4", refused=("encrypted", "DRM", "cenc")),
    Case("zero.wav", refused=("zero-length WAV",)),
    Case("zero.aiff", refused=("zero-length AIFF",)),
    Case("half.flac", refused=("truncated or corrupt FLAC", "2.00 s")),
    Case("corrupt.flac", refused=("corrupt FLAC",)),
    Case("absurd-rate.aiff", refused=("broken AIFF header", "impossible sample rate")),
    Case("float.tif", refused=("TIFF", "cannot decode")),
    Case("camera.dng", refused=("camera raw", "DNG")),
    Case("cut.jpg", refused=("JPEG", "truncated")),
]


def build(folder: Path) -> list[Case]:
    """Write every corpus file into ``folder``; return the cases."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    red, blue = Image.new("RGB", (32, 24), "red"), Image.new("RGB", (32, 24), "blue")
    _pillow_images(folder, red, blue)
    lavfi = ["-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=10:duration=1"]
    for ext in ("ppm", "pgm", "pam", "qoi", "sgi", "exr", "hdr", "pcx", "tga", "jxl"):
        name = "photo.jxl" if ext == "jxl" else f"still.{ext}"
        ffmpeg(*lavfi, "-frames:v", "1", str(folder / name))
    ffmpeg(*lavfi, "-frames:v", "1", "-pix_fmt", "monow", str(folder / "still.xbm"))
    _psd(folder / "layers.psd", 16, 12)
    (folder / "icon.xpm").write_text('/* XPM */\nstatic char *icon[] = {\n"8 4 2 1",\n"a c #FF0000",\n'
                                     '"b c #0000FF",\n' + ",\n".join(['"aaaabbbb"'] * 4) + "};\n")
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    split = ["-f", "lavfi", "-i", "color=red:size=32x12:rate=10:duration=1", "-f", "lavfi", "-i",
             "color=blue:size=32x12:rate=10:duration=1", "-filter_complex", "[0][1]vstack"]
    ffmpeg(*split, *x264, str(folder / "upright.mp4"))  # red above blue, as stored
    ffmpeg("-display_rotation", "90", "-i", str(folder / "upright.mp4"), "-c", "copy",
           str(folder / "portrait.mp4"))
    (folder / "upright.mp4").unlink()
    ffmpeg(*lavfi, *x264, "-movflags", "frag_keyframe+empty_moov", str(folder / "fragmented.mp4"))
    ffmpeg(*lavfi, "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libvpx-vp9", "-deadline", "realtime",
           "-cpu-used", "8", "-c:a", "libopus", "-live", "1", "-f", "webm", str(folder / "browser.webm"))
    ffmpeg(*lavfi, *x264, "-f", "h264", str(folder / "raw.h264"))
    _halves(folder, x264)
    wv = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-f", "wv", "-"],
                        capture_output=True, check=True).stdout
    (folder / "piped.wv").write_bytes(wv)
    ffmpeg(*lavfi, *x264, "-encryption_scheme", "cenc-aes-ctr", "-encryption_key",
           "00112233445566778899aabbccddeeff", "-encryption_kid", "00112233445566778899aabbccddeeff",
           str(folder / "drm.mp4"))
    with wave.open(str(folder / "zero.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(44100)
    ffmpeg("-f", "lavfi", "-i", "anullsrc", "-frames:a", "0", str(folder / "zero.aiff"))
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", str(folder / "whole.flac"))
    whole = (folder / "whole.flac").read_bytes()
    (folder / "whole.flac").unlink()
    (folder / "half.flac").write_bytes(whole[: len(whole) // 2])
    (folder / "corrupt.flac").write_bytes(whole[: len(whole) // 2] + bytes(len(whole) - len(whole) // 2))
    ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", str(folder / "absurd-rate.aiff"))
    aiff = bytearray((folder / "absurd-rate.aiff").read_bytes())
    comm = aiff.index(b"COMM")
    aiff[comm + 16:comm + 18] = b"\x7f\xf0"  # the 80-bit sample rate's exponent: about 2^16000 Hz
    (folder / "absurd-rate.aiff").write_bytes(bytes(aiff))
    Image.new("F", (32, 24), 0.5).save(folder / "float.tif")  # Pillow reads it; ffmpeg cannot
    red.save(folder / "camera.dng", format="TIFF")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(folder / "whole.jpg"))
    jpg = (folder / "whole.jpg").read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "cut.jpg").write_bytes(jpg[: len(jpg) // 2])
    return ACCEPTED + REFUSED


def _pillow_images(folder: Path, red: Any, blue: Any) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    red.save(folder / "photo.heic", quality=60)
    red.save(folder / "photo.avif")
    red.save(folder / "anim.gif", save_all=True, append_images=[blue], duration=500, loop=0)
    red.save(folder / "anim.png", save_all=True, append_images=[blue], duration=500, loop=0)
    red.save(folder / "anim.webp", save_all=True, append_images=[blue], duration=500, loop=0, lossless=True)


def _halves(folder: Path, x264: list[str]) -> None:
    """The first half of 4-second files (a download cut short); their headers still say 4 s."""
    video = ["-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=10:duration=4"]
    sources = {"half.mp3": ["-f", "lavfi", "-i", "sine=duration=4", "-b:a", "64k"],
               "half.opus": ["-f", "lavfi", "-i", "sine=duration=4"],
               "half.webm": [*video, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
               "half.mp4": [*video, *x264, "-movflags", "+faststart"]}
    for name, args in sources.items():
        whole = folder / f"whole-{name}"
        ffmpeg(*args, str(whole))
        data = whole.read_bytes()
        whole.unlink()
        (folder / name).write_bytes(data[: len(data) // 2])


def _psd(path: Path, width: int, height: int) -> None:
    """A flat RGB Photoshop file, uncompressed: red."""
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    planes = bytes([255]) * (width * height) + bytes(width * height) * 2
    path.write_bytes(head + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + planes)


def decoded_seconds(path: Path) -> float:
    """How long the bundled ffmpeg decodes ``path`` to (its last out_time)."""
    done = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-f", "null", "-progress",
                           "pipe:1", "-nostats", "-"], capture_output=True, text=True, check=True)
    times = [int(line.split("=")[1]) for line in done.stdout.splitlines()
             if line.startswith("out_time_us=") and line.split("=")[1].isdigit()]
    return max(times) / 1e6
