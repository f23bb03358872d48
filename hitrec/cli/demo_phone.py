"""`hitrec demo`'s phone-media step: what a phone and a browser make is recorded as a render can use it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hitrec.cli.demo_state import CONTRIBUTORS, DemoState, describe, step
from hitrec.cli.output import console, escape


def phone_media(state: DemoState) -> None:
    """An iPhone photo (HEIC), a portrait phone clip, a GIF and a cut-short FLAC, added to a scratch repo."""
    from hitrec.errors import MediaError
    from hitrec.ops.add import add
    from hitrec.store import Repo
    from hitrec.store import config as cfg

    step(state, "Phone and browser media: hitrec add photo.heic portrait.mp4 wave.gif")
    folder = state.folder / "phone"
    files = _make(folder)
    repo = Repo.init(folder / "repo")
    try:
        sam = CONTRIBUTORS["sam"]  # the demo needs no identity of the person running it
        cfg.write_value(repo.config_path, "user.name", sam.name)
        cfg.write_value(repo.config_path, "user.email", sam.email)
        result = add(repo, files[:3])
        for fragment in result.added:
            console.print(f"  {CONTRIBUTORS['sam'].name:<12} {escape(fragment.media.filename):<14} -> "
                          f"{fragment.kind} {describe(fragment)}", soft_wrap=True)
        try:
            add(repo, files[3:])
        except MediaError as exc:
            console.print(f"  {'':<12} hitrec add {files[3].name}: {escape(str(exc).split(': ', 1)[1])}",
                          soft_wrap=True)
    finally:
        repo.close()


def _make(folder: Path) -> list[Path]:
    from PIL import Image

    from hitrec.media.ffmpeg import ffmpeg_exe, run

    folder.mkdir(parents=True, exist_ok=True)
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        photo = folder / "photo.heic"
    except ImportError:  # pragma: no cover - pillow-heif is a dependency
        photo = folder / "photo.png"
    Image.new("RGB", (64, 48), "orange").save(photo)
    frames = [Image.new("RGB", (32, 24), c) for c in ("red", "yellow", "blue")]
    frames[0].save(folder / "wave.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)
    ffmpeg = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-nostdin"]
    run([*ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=10:duration=1", "-c:v", "libx264", "-preset",
         "ultrafast", "-pix_fmt", "yuv420p", str(folder / "landscape.mp4")], check=True, stdout=subprocess.DEVNULL)
    run([*ffmpeg, "-display_rotation", "90", "-i", str(folder / "landscape.mp4"), "-c", "copy",
         str(folder / "portrait.mp4")], check=True, stdout=subprocess.DEVNULL)
    run([*ffmpeg, "-f", "lavfi", "-i", "sine=duration=2", str(folder / "whole.flac")], check=True,
        stdout=subprocess.DEVNULL)
    whole = (folder / "whole.flac").read_bytes()
    (folder / "download.flac").write_bytes(whole[: len(whole) // 2])
    return [photo, folder / "portrait.mp4", folder / "wave.gif", folder / "download.flac"]
