"""The gallery's pictures: a poster frame per video, a waveform per audio, a thumbnail per image.

A picture is made once per media object and kept in a cache folder, named by the object's oid, the
fragment kind and :data:`VERSION` (raise it when the pictures change: old files are then simply never
asked for). ``PictureMaker.want`` only queues the work and returns; ``concurrency`` worker threads make
the pictures, each running one ffmpeg (posters, waveforms, images Pillow cannot read) or one Pillow
thumbnail (Pillow releases the interpreter lock while it decodes and resizes) at a time, so the hub's
event loop, and the git and LFS traffic it serves, never waits on them. Until a picture exists the
gallery shows :meth:`PictureMaker.placeholder`.

Bounds on the work, so a hostile or broken upload cannot hold the hub:

- ffmpeg runs niced, single-threaded, with a CPU-time limit (``RLIMIT_CPU``) and a wall-time limit,
  and gets SIGKILL when the hub dies (``PR_SET_PDEATHSIG``: the worker thread that starts it waits for
  it, see :mod:`hitrec.media.ffmpeg`); ``close()`` kills the ones running;
- media that gives no picture (corrupt, no video stream, the CPU limit) leaves a "no picture" marker in
  the cache, so it is not tried again; a failure that may pass (the media is not in the store yet, the
  store is unreachable, the wall-time limit on a loaded machine, a full cache disk) is remembered in
  memory only and tried again after :data:`RETRY_DELAY`;
- each picture is written to a temp file in the cache's ``tmp`` folder and renamed into place, so a
  reader never sees half a picture; temp files of a hub that died are swept when the next one starts.
  Pictures are not fsynced: a power cut may leave one torn, and deleting the cache folder remakes all.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.media.ffmpeg import ffmpeg_exe, kill_group, popen
from hitrec.store import tempfiles
from hitrec.store.format import is_oid

log = logging.getLogger("hitrec.hub.gallery")

VERSION = 1
WIDTH = 320  # pixels: a picture is at most this wide (never enlarged)
MAX_HEIGHT = 3 * WIDTH  # and at most this tall
WAVE_HEIGHT = 80
WAVE_COLOR = "0x2f5f8f"
WAVE_RATE = 8000  # the waveform is drawn from audio resampled to this: showwavespic keeps every sample
POSTER_AT = 1.0  # seconds into a video (a video shorter than that gives its first frame)
KINDS = ("video", "audio", "image")  # the kinds that get a picture (text shows an excerpt)
TIMEOUT = 60.0  # wall seconds one picture may take
CPU_SECONDS = 30  # CPU seconds one ffmpeg may use
NICE = 10
RETRY_DELAY = 60.0  # seconds before a failure that may pass is tried again
MIME = "image/webp"
SUFFIX = ".webp"
MARKER_SUFFIX = ".none"

OpenMedia = Callable[[], AbstractContextManager[Path]]


class NoPicture(Exception):
    """This media gives no picture (corrupt, no video stream, too costly): cached as a marker."""


class TryLater(Exception):
    """Making the picture failed for a reason that may pass: not cached, tried again later."""


@dataclass(frozen=True)
class _Job:
    oid: str
    kind: str
    open_media: OpenMedia

    @property
    def key(self) -> tuple[str, str]:
        return (self.oid, self.kind)


@dataclass
class PictureStats:
    """What a maker did since it started (for tests, benchmarks and the hub's log)."""

    made: int = 0
    failed: int = 0  # "no picture" markers written
    deferred: int = 0  # failures that may pass
    running: int = 0
    max_running: int = 0
    queued: int = 0


class PictureMaker:
    """Makes and caches the gallery's pictures. Every method is safe to call from the event loop: none
    blocks on making a picture (``ready`` and ``want`` look at memory and, at most, stat a file)."""

    def __init__(self, cache_dir: Path, *, concurrency: int = 2, timeout: float = TIMEOUT,
                 cpu_seconds: int = CPU_SECONDS) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.cache_dir = Path(cache_dir)
        self.concurrency = concurrency
        self.timeout = timeout
        self.cpu_seconds = cpu_seconds
        self.stats = PictureStats()
        self._cond = threading.Condition()
        self._queue: list[_Job] = []  # newest last: workers take the newest want first (the page in view)
        self._pending: set[tuple[str, str]] = set()  # queued or being made
        self._known: dict[tuple[str, str], bool] = {}  # made (True) or no picture (False): small, for 10,000s
        self._later: dict[tuple[str, str], float] = {}  # failed for now: not before this monotonic time
        self._workers: list[threading.Thread] = []
        self._children: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        self._swept = False

    # --- what the gallery asks ---------------------------------------------------------------------
    def path(self, oid: str, kind: str) -> Path:
        """Where the picture of ``oid`` as ``kind`` is (or will be) cached."""
        return self.cache_dir / f"{oid}.{kind}.v{VERSION}{SUFFIX}"

    def _marker(self, oid: str, kind: str) -> Path:
        return self.cache_dir / f"{oid}.{kind}.v{VERSION}{MARKER_SUFFIX}"

    def _look(self, key: tuple[str, str]) -> tuple[bool, Path | None]:
        """(settled, picture): from memory, else from the cache folder (remembered once found). A
        picture removed from the cache since (the folder cleared by hand) is forgotten, to be made again."""
        picture = self.path(*key)
        known = self._known.get(key)
        if known is not None:
            if not known:
                return True, None
            if picture.is_file():
                return True, picture
            del self._known[key]
        if picture.is_file():
            self._known[key] = True
            return True, picture
        if self._marker(*key).is_file():
            self._known[key] = False
            return True, None
        return False, None

    def ready(self, oid: str, kind: str) -> Path | None:
        """The cached picture of ``oid`` as ``kind`` (a WebP file, :data:`MIME`), or None: not made
        (yet), or this media gives none (see :meth:`failed`)."""
        if kind not in KINDS or not is_oid(oid):
            return None
        return self._look((oid, kind))[1]

    def failed(self, oid: str, kind: str) -> bool:
        """Whether this media was found to give no picture: its placeholder stays for good."""
        if kind not in KINDS or not is_oid(oid):
            return False
        settled, picture = self._look((oid, kind))
        return settled and picture is None

    def want(self, oid: str, kind: str, open_media: OpenMedia) -> None:
        """Have the picture made if it is not already: queued once however often it is wanted, made
        by a worker thread (``open_media()`` is entered there). Returns at once."""
        if kind not in KINDS or not is_oid(oid):
            return
        key = (oid, kind)
        with self._cond:
            if self._closed or key in self._pending or key in self._known:
                return
            if self._later.get(key, 0.0) > time.monotonic():
                return
        if self._look(key)[0]:  # made by an earlier hub
            return
        with self._cond:
            if self._closed or key in self._pending:
                return
            self._pending.add(key)
            self._queue.append(_Job(oid, kind, open_media))
            self.stats.queued = len(self._queue)
            if len(self._workers) < self.concurrency and len(self._workers) < len(self._pending):
                worker = threading.Thread(target=self._work, name=f"hitrec-pictures-{len(self._workers)}",
                                          daemon=True)
                self._workers.append(worker)
                worker.start()
            self._cond.notify()

    def placeholder(self, kind: str) -> bytes:
        """An SVG to show while a picture is being made (or when there is none), per kind."""
        return _placeholder(kind)

    # --- life -----------------------------------------------------------------------------------------
    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being made; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop: drop what is queued, kill the ffmpeg processes running, wait for the workers."""
        with self._cond:
            self._closed = True
            for job in self._queue:
                self._pending.discard(job.key)
            self._queue.clear()
            for child in list(self._children):
                with contextlib.suppress(OSError):
                    os.killpg(child.pid, signal.SIGKILL)
            self._cond.notify_all()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(timeout)

    def __enter__(self) -> PictureMaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the workers ----------------------------------------------------------------------------------
    def _work(self) -> None:
        self._sweep()
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._queue.pop()
                self.stats.queued = len(self._queue)
                self.stats.running += 1
                self.stats.max_running = max(self.stats.max_running, self.stats.running)
            outcome: Path | TryLater | None
            try:
                outcome = self._make(job)
            except Exception as exc:  # a bug of ours must not end the worker, nor reach the hub
                log.exception("making the %s picture of %s failed", job.kind, job.oid[:12])
                outcome = TryLater(str(exc))
            with self._cond:
                self.stats.running -= 1
                self._pending.discard(job.key)
                if isinstance(outcome, TryLater):
                    self.stats.deferred += 1
                    self._later[job.key] = time.monotonic() + RETRY_DELAY
                else:
                    self._later.pop(job.key, None)
                    self._known[job.key] = outcome is not None
                    if outcome is None:
                        self.stats.failed += 1
                    else:
                        self.stats.made += 1
                self._cond.notify_all()

    def _sweep(self) -> None:
        with self._cond:
            if self._swept:
                return
            self._swept = True
        with contextlib.suppress(OSError):
            tempfiles.sweep(self.cache_dir / "tmp")

    def _make(self, job: _Job) -> Path | TryLater | None:
        """The picture's path, None for "no picture" (marker written), or TryLater."""
        try:
            with contextlib.ExitStack() as stack:
                try:
                    media = stack.enter_context(job.open_media())
                except Exception as exc:  # not in the store (yet), a store that cannot be reached
                    log.info("no %s picture of %s for now: %s", job.kind, job.oid[:12], exc)
                    return TryLater(str(exc))
                try:
                    data = self._picture(job.kind, Path(media))
                except NoPicture as exc:
                    reason = str(exc)
                else:
                    return self._store(self.path(job.oid, job.kind), data)
        except TryLater as exc:
            log.info("no %s picture of %s for now: %s", job.kind, job.oid[:12], exc)
            return exc
        except OSError as exc:  # the cache folder cannot be written (a full disk)
            log.warning("cannot cache the %s picture of %s: %s", job.kind, job.oid[:12], exc)
            return TryLater(str(exc))
        log.warning("no %s picture of %s: %s", job.kind, job.oid[:12], reason)
        try:
            self._store(self._marker(job.oid, job.kind), (reason[:500] + "\n").encode("utf-8", "replace"))
        except OSError as exc:
            return TryLater(str(exc))
        return None

    def _store(self, target: Path, data: bytes) -> Path:
        folder = self.cache_dir / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        temp = tempfiles.create(folder, "picture")
        assert temp is not None
        with temp:
            view = memoryview(data)
            while view:
                view = view[os.write(temp.fd, view):]
            os.replace(temp.path, target)
        return target

    def _picture(self, kind: str, media: Path) -> bytes:
        if self._closed:
            raise TryLater("the hub is stopping")
        if kind == "image":
            try:
                return thumbnail(media)
            except _NotForPillow:
                return self._ffmpeg(poster_args(media, 0.0))
        if kind == "audio":
            return self._ffmpeg(waveform_args(media))
        data = self._ffmpeg(poster_args(media, POSTER_AT))
        return data if data else self._ffmpeg(poster_args(media, 0.0))  # shorter than POSTER_AT

    def _ffmpeg(self, args: list[str]) -> bytes:
        """Run ffmpeg with ``args`` (which write a WebP to stdout) under the bounds; its stdout."""
        proc = popen([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *args], waited=True,
                     cpu_seconds=self.cpu_seconds, nice=NICE, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
        with self._cond:
            self._children.add(proc)
            closed = self._closed
        if closed:
            proc.kill()
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            kill_group(proc)
            raise TryLater(f"ffmpeg took longer than {self.timeout:g} s") from exc
        finally:
            with self._cond:
                self._children.discard(proc)
        code = proc.returncode
        if code in (-signal.SIGXCPU, -signal.SIGKILL) and not self._closed:
            raise NoPicture(f"ffmpeg used more than {self.cpu_seconds} s of CPU time")
        if code < 0:
            raise TryLater(f"ffmpeg was stopped (signal {-code})")
        if code != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            raise NoPicture(f"ffmpeg could not read it ({lines[-1] if lines else f'exit {code}'})")
        if out and not (out[:4] == b"RIFF" and out[8:12] == b"WEBP"):
            raise NoPicture("ffmpeg wrote something that is not a WebP picture")
        return out


# --- the commands ------------------------------------------------------------------------------------
_SCALE = f"scale=w='min({WIDTH},iw)':h='min({MAX_HEIGHT},ih)':force_original_aspect_ratio=decrease"
_WEBP = ["-c:v", "libwebp", "-quality", "75", "-f", "image2pipe", "pipe:1"]


def poster_args(media: Path, at: float) -> list[str]:
    """ffmpeg arguments for a video's frame at ``at`` seconds, at most WIDTH wide, as WebP on stdout.
    Nothing on stdout when the video is shorter than ``at``."""
    return ["-threads", "1", "-filter_threads", "1", "-ss", f"{at:g}", "-i", str(media), "-map", "0:v:0",
            "-an", "-sn", "-dn", "-frames:v", "1", "-vf", _SCALE, *_WEBP]


def waveform_args(media: Path) -> list[str]:
    """ffmpeg arguments for a sound's waveform, WIDTH x WAVE_HEIGHT (transparent ground), as WebP."""
    graph = (f"[0:a:0]aformat=channel_layouts=mono,aresample={WAVE_RATE},"
             f"showwavespic=s={WIDTH}x{WAVE_HEIGHT}:colors={WAVE_COLOR}:scale=sqrt[w]")
    return ["-threads", "1", "-filter_threads", "1", "-i", str(media), "-filter_complex", graph,
            "-map", "[w]", "-frames:v", "1", "-lossless", "1", *_WEBP]


class _NotForPillow(Exception):
    """Pillow does not know this image format: ffmpeg is tried."""


_heif_lock = threading.Lock()
_heif_tried = False


def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF (iPhone photos) when pillow-heif is installed; once, lazily."""
    global _heif_tried
    with _heif_lock:
        if _heif_tried:
            return
        _heif_tried = True
        try:
            import pillow_heif
        except ImportError:
            return
        with contextlib.suppress(Exception):
            pillow_heif.register_heif_opener()


_TURNED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def thumbnail(media: Path) -> bytes:
    """An image's thumbnail with Pillow (EXIF orientation applied, at most WIDTH wide and MAX_HEIGHT
    tall, never enlarged; the first frame of an animation) as WebP bytes."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _register_heif()
    try:
        image: Any = Image.open(media)
    except UnidentifiedImageError as exc:
        raise _NotForPillow(str(exc)) from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NoPicture(f"Pillow could not read it ({exc})") from exc
    try:
        with image:
            turned = image.getexif().get(0x0112) in _TURNED
            box = (MAX_HEIGHT, WIDTH) if turned else (WIDTH, MAX_HEIGHT)
            image.thumbnail(box)  # draft-decodes JPEG at a reduced scale; keeps the aspect ratio
            image = ImageOps.exif_transpose(image)
            alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
            image = image.convert("RGBA" if alpha else "RGB")
            out = io.BytesIO()
            image.save(out, "WEBP", quality=80, method=4)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise NoPicture(f"Pillow could not read it ({exc})") from exc
    return out.getvalue()


# --- placeholders ------------------------------------------------------------------------------------
_GLYPHS = {
    "video": '<path d="M142 66 L142 114 L184 90 Z" fill="#5b6b7b"/>',
    "audio": "".join(f'<rect x="{118 + 12 * i}" y="{90 - h}" width="7" height="{2 * h}" rx="3" fill="#5b6b7b"/>'
                     for i, h in enumerate((8, 18, 28, 14, 24, 10, 4))),
    "image": ('<circle cx="190" cy="70" r="10" fill="#5b6b7b"/>'
              '<path d="M120 116 L150 76 L172 102 L184 90 L204 116 Z" fill="#5b6b7b"/>'),
    "text": "".join(f'<rect x="120" y="{66 + 12 * i}" width="{w}" height="5" rx="2" fill="#5b6b7b"/>'
                    for i, w in enumerate((80, 72, 80, 50))),
}
_placeholders: dict[str, bytes] = {}


def _placeholder(kind: str) -> bytes:
    found = _placeholders.get(kind)
    if found is None:
        label = kind if kind in _GLYPHS else "media"
        glyph = _GLYPHS.get(kind, _GLYPHS["image"])
        found = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="180" viewBox="0 0 320 180" '
                 f'role="img" aria-label="{label}: no picture yet"><title>{label}</title>'
                 f'<rect width="320" height="180" fill="#e8ecf0"/>{glyph}'
                 f'<text x="160" y="150" text-anchor="middle" font-family="sans-serif" font-size="14" '
                 f'fill="#3d4a57">{label}</text></svg>').encode()
        _placeholders[kind] = found
    return found
