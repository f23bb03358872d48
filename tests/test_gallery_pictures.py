"""The gallery's pictures (hitrec.hub.gallery.pictures): real media made by the bundled ffmpeg, real
ffmpeg and Pillow making the pictures, a real child process killed to show its ffmpeg dies with it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from media import make_audio, make_image, make_video
from PIL import Image

from hitrec.errors import MissingMediaError
from hitrec.hub.gallery.pictures import KINDS, MIME, WAVE_HEIGHT, WIDTH, PictureMaker
from hitrec.media.ffmpeg import popen


def oid_of(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class Opener:
    """open_media for a file, counting how often it is opened and how many are open at once."""

    def __init__(self, path: Path, hold: float = 0.0) -> None:
        self.path = path
        self.hold = hold  # seconds each open takes (a media store fetching from far away)
        self.opened = 0
        self.open_now = 0
        self.most_open = 0
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[Path]:
        with self.lock:
            self.opened += 1
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            if self.hold:
                time.sleep(self.hold)
            yield self.path
        finally:
            with self.lock:
                self.open_now -= 1


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    files = {
        "video": make_video(folder / "clip.mp4", seconds=2, size="640x360"),
        "short": make_video(folder / "short.mp4", seconds=0.4, size="160x120", audio=False),
        "webm": make_video(folder / "clip.webm", seconds=1.5, size="320x240", audio=False),
        "audio": make_audio(folder / "tone.mp3", seconds=2),
        "wav": make_audio(folder / "tone.wav", seconds=1),
        "png": make_image(folder / "still.png", size="1280x720", color="green"),
        "small": make_image(folder / "small.png", size="64x48"),
        "dpx": make_image(folder / "scan.dpx", size="400x200", color="blue"),  # Pillow cannot: ffmpeg
    }
    gradient = Image.linear_gradient("L").resize((800, 600)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to show": a phone held upright
    gradient.save(folder / "phone.jpg", exif=exif.tobytes())
    files["phone"] = folder / "phone.jpg"
    Image.new("RGBA", (500, 250), (200, 0, 0, 100)).save(folder / "clear.png")
    files["clear"] = folder / "clear.png"
    import pillow_heif

    pillow_heif.register_heif_opener()
    gradient.resize((480, 360)).save(folder / "photo.heic")
    files["heic"] = folder / "photo.heic"
    gradient.resize((480, 360)).save(folder / "photo.avif")
    files["avif"] = folder / "photo.avif"
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(files["video"].read_bytes()[:400])  # the header of a video, then nothing
    files["corrupt"] = corrupt
    (folder / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    files["badpng"] = folder / "noise.png"
    return files


def make_all(maker: PictureMaker, wanted: dict[str, tuple[str, Opener]]) -> None:
    for name, (kind, opener) in wanted.items():
        maker.want(oid_of(name), kind, opener)
    assert maker.wait_idle(60)


@pytest.mark.parametrize(("name", "kind", "size"), [
    ("video", "video", (WIDTH, 180)),
    ("short", "video", (160, 120)),  # shorter than the poster's second: its first frame, never enlarged
    ("webm", "video", (WIDTH, 240)),
    ("audio", "audio", (WIDTH, WAVE_HEIGHT)),
    ("wav", "audio", (WIDTH, WAVE_HEIGHT)),
    ("png", "image", (WIDTH, 180)),
    ("small", "image", (64, 48)),
    ("phone", "image", (WIDTH, 427)),  # 800x600 turned upright by its EXIF
    ("clear", "image", (WIDTH, 160)),
    ("heic", "image", (WIDTH, 240)),
    ("avif", "image", (WIDTH, 240)),
    ("dpx", "image", (WIDTH, 160)),
])
def test_each_kind_gets_a_small_picture_that_decodes(tmp_path: Path, media: dict[str, Path], name: str,
                                                      kind: str, size: tuple[int, int]) -> None:
    with PictureMaker(tmp_path / "cache") as maker:
        assert maker.ready(oid_of(name), kind) is None
        make_all(maker, {name: (kind, Opener(media[name]))})
        picture = maker.ready(oid_of(name), kind)
        assert picture is not None and picture.parent == tmp_path / "cache"
        assert oid_of(name) in picture.name and kind in picture.name
        with Image.open(picture) as image:
            image.load()
            assert image.format == "WEBP" and MIME == "image/webp"
            assert image.size == size
            if name == "clear":
                assert image.mode == "RGBA"
            if name == "audio":  # a waveform has ink, not only its transparent ground
                assert image.getchannel("A").getbbox() is not None
        assert picture.stat().st_size < 40_000
        assert maker.stats.made == 1 and maker.stats.failed == 0


def test_a_picture_is_made_once_per_media_object(tmp_path: Path, media: dict[str, Path]) -> None:
    video, image = Opener(media["video"], hold=0.2), Opener(media["png"])
    with PictureMaker(tmp_path / "cache") as maker:
        for _ in range(5):  # wanted again and again while it is being made
            maker.want(oid_of("v"), "video", video)
            maker.want(oid_of("i"), "image", image)
        assert maker.wait_idle(60)
        for _ in range(5):  # and after
            maker.want(oid_of("v"), "video", video)
            maker.want(oid_of("i"), "image", image)
        assert maker.wait_idle(60)
        assert (video.opened, image.opened, maker.stats.made) == (1, 1, 2)
        made = maker.ready(oid_of("v"), "video")
        assert made is not None
        stamp = made.stat().st_mtime_ns
        # the same object as another kind is another picture
        maker.want(oid_of("v"), "image", image)
        assert maker.wait_idle(60) and image.opened == 2
    with PictureMaker(tmp_path / "cache") as again:  # a restarted hub finds them in the cache
        assert again.ready(oid_of("v"), "video") == made
        again.want(oid_of("v"), "video", video)
        assert again.wait_idle(10)
        assert video.opened == 1 and again.stats.made == 0 and made.stat().st_mtime_ns == stamp
        made.unlink()  # the cache cleared by hand: made again when next wanted
        assert again.ready(oid_of("v"), "video") is None
        again.want(oid_of("v"), "video", video)
        assert again.wait_idle(30) and video.opened == 2 and again.ready(oid_of("v"), "video") == made
    assert sorted(p.name for p in (tmp_path / "cache" / "tmp").iterdir()) == []  # no temp file left


def test_no_more_than_concurrency_are_made_at_once(tmp_path: Path, media: dict[str, Path]) -> None:
    opener = Opener(media["short"], hold=0.15)
    with PictureMaker(tmp_path / "cache", concurrency=2) as maker:
        for i in range(6):
            maker.want(oid_of(f"v{i}"), "video", opener)
        assert maker.wait_idle(60)
        assert opener.opened == 6 and maker.stats.made == 6
        assert opener.most_open == 2 and maker.stats.max_running == 2
    opener = Opener(media["small"], hold=0.1)
    with PictureMaker(tmp_path / "one", concurrency=1) as maker:
        for i in range(4):
            maker.want(oid_of(f"i{i}"), "image", opener)
        assert maker.wait_idle(60)
        assert opener.opened == 4 and opener.most_open == 1


def test_corrupt_media_caches_no_picture_and_is_not_tried_again(tmp_path: Path, media: dict[str, Path]) -> None:
    wanted = {"corrupt": ("video", Opener(media["corrupt"])), "badpng": ("image", Opener(media["badpng"])),
              "silent": ("audio", Opener(media["short"])),  # a video without sound as audio: no waveform
              "good": ("image", Opener(media["png"]))}
    with PictureMaker(tmp_path / "cache") as maker:
        make_all(maker, wanted)
        for name in ("corrupt", "badpng", "silent"):
            kind = wanted[name][0]
            assert maker.ready(oid_of(name), kind) is None and maker.failed(oid_of(name), kind)
        assert maker.ready(oid_of("good"), "image") is not None and not maker.failed(oid_of("good"), "image")
        assert maker.stats.failed == 3 and maker.stats.made == 1
        make_all(maker, wanted)  # wanted again: not tried again
        assert [opener.opened for _, opener in wanted.values()] == [1, 1, 1, 1]
    with PictureMaker(tmp_path / "cache") as again:  # nor by the next hub
        make_all(again, wanted)
        assert [opener.opened for _, opener in wanted.values()] == [1, 1, 1, 1]
        assert again.failed(oid_of("corrupt"), "video")


def test_a_failure_that_may_pass_is_not_cached(tmp_path: Path, media: dict[str, Path]) -> None:
    @contextlib.contextmanager
    def missing() -> Iterator[Path]:
        raise MissingMediaError(oid_of("later"))
        yield Path()  # pragma: no cover

    slow = Opener(media["video"])
    with PictureMaker(tmp_path / "cache", timeout=0.001) as maker:
        maker.want(oid_of("later"), "video", missing)
        maker.want(oid_of("slow"), "video", slow)  # ffmpeg is killed at the (tiny) wall-time limit
        assert maker.wait_idle(30)
        assert maker.stats.deferred == 2 and maker.stats.failed == 0
        for name in ("later", "slow"):
            assert maker.ready(oid_of(name), "video") is None and not maker.failed(oid_of(name), "video")
        maker.want(oid_of("slow"), "video", slow)  # not again at once
        assert maker.wait_idle(10) and slow.opened == 1
    assert not (tmp_path / "cache").exists()  # nothing cached
    with PictureMaker(tmp_path / "cache") as later:  # a hub that starts later makes it
        later.want(oid_of("slow"), "video", slow)
        assert later.wait_idle(30) and later.ready(oid_of("slow"), "video") is not None


def test_bad_names_and_kinds_without_pictures_are_ignored(tmp_path: Path, media: dict[str, Path]) -> None:
    opener = Opener(media["png"])
    with PictureMaker(tmp_path / "cache") as maker:
        maker.want("../../etc/passwd", "image", opener)
        maker.want(oid_of("t"), "text", opener)
        maker.want(oid_of("t"), "../x", opener)
        assert maker.wait_idle(5) and opener.opened == 0
        assert maker.ready("../../etc/passwd", "image") is None and maker.ready(oid_of("t"), "text") is None
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("kind", [*KINDS, "text", "other"])
def test_the_placeholder_is_an_svg_per_kind(kind: str) -> None:
    data = PictureMaker(Path("/nonexistent")).placeholder(kind)
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img" and root.get("aria-label")
    assert (kind if kind != "other" else "media") in root.get("aria-label", "")
    assert not [e for e in root.iter() if e.tag.endswith("script") or any(a.startswith("on") for a in e.attrib)]


def test_the_event_loop_keeps_ticking_while_pictures_are_made(tmp_path: Path, media: dict[str, Path]) -> None:
    big = tmp_path / "big.png"
    Image.effect_noise((2000, 1500), 80).convert("RGB").save(big, compress_level=1)  # a slow decode
    # each picture takes at least 0.4 s (the media store's fetch, then the decode or ffmpeg): made on
    # the loop, any one of them would stall it longer than the limit below
    openers = {f"big{i}": ("image", Opener(big, hold=0.4)) for i in range(2)}
    openers.update({f"v{i}": ("video", Opener(media["short"], hold=0.4)) for i in range(2)})

    async def main() -> tuple[float, float, float]:
        gaps: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.05)
        maker = PictureMaker(tmp_path / "cache", concurrency=2)
        start = time.perf_counter()
        for name, (kind, opener) in openers.items():
            maker.want(oid_of(name), kind, opener)
        wanting = time.perf_counter() - start
        while maker.stats.made < len(openers):
            await asyncio.sleep(0.01)
        took = time.perf_counter() - start
        stop.set()
        await beat
        maker.close()
        return wanting, took, max(gaps)

    wanting, took, worst_gap = asyncio.run(main())
    assert took > 0.8  # there was real work to wait on
    assert wanting < 0.2  # want() only queues (and starts the worker threads)
    # 0.3 s: a loaded machine delays a 5 ms sleep by up to ~50 ms even with nothing else running
    assert worst_gap < 0.3, f"the loop stalled {worst_gap:.3f} s while pictures took {took:.2f} s"


def _children_of(pid: int, media: Path) -> list[int]:
    """The processes ``pid`` started that read ``media`` (so they run ffmpeg: not between fork and exec,
    nor imageio-ffmpeg's ``ffmpeg -version``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if (int(stat.rsplit(")", 1)[1].split()[1]) == pid
                        and str(media).encode() in (entry / "cmdline").read_bytes().split(b"\0")):
                    found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


HUB = """
import contextlib, sys, time
from pathlib import Path
from hitrec.hub.gallery.pictures import PictureMaker
maker = PictureMaker(Path(sys.argv[1]), concurrency=2)
@contextlib.contextmanager
def fifo():
    yield Path(sys.argv[2])
maker.want("%s", "video", fifo)
maker.want("%s", "audio", fifo)
print("wanted", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_ffmpeg_dies_with_the_hub(tmp_path: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)  # ffmpeg waits on it for ever: a picture that never finishes
    hub = subprocess.Popen([sys.executable, "-c", HUB % (oid_of("a"), oid_of("b")), str(tmp_path / "cache"),
                            str(fifo)], stdout=subprocess.PIPE)
    try:
        assert hub.stdout is not None and hub.stdout.readline() == b"wanted\n"
        deadline = time.monotonic() + 20
        while len(children := _children_of(hub.pid, fifo)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(children) == 2, "two ffmpeg processes (the concurrency) wait on the media"
        niced = {child: int((Path("/proc") / str(child) / "stat").read_text().rsplit(")", 1)[1].split()[16])
                 for child in children}
        assert all(nice >= 10 for nice in niced.values()), niced
    finally:
        hub.kill()
        hub.wait()
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [c for c in children if _alive(c)], "ffmpeg outlived the hub"


def test_close_kills_the_ffmpeg_running(tmp_path: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    maker = PictureMaker(tmp_path / "cache")
    maker.want(oid_of("a"), "video", Opener(fifo))
    deadline = time.monotonic() + 20
    while not (children := _children_of(os.getpid(), fifo)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children
    start = time.monotonic()
    maker.close()
    assert time.monotonic() - start < 5
    assert not [c for c in children if _alive(c)]
    assert maker.stats.failed == 0 and not maker.failed(oid_of("a"), "video")  # stopping is not a failure


def test_a_waited_helper_has_a_cpu_time_limit_and_a_lower_priority() -> None:
    """The bounds ffmpeg runs under (hitrec.media.ffmpeg.popen(waited=True, cpu_seconds=, nice=)),
    shown on a busy loop started from a worker thread."""
    result: dict[str, object] = {}

    def run() -> None:
        start = time.monotonic()
        proc = popen([sys.executable, "-c", "import os\nprint(os.nice(0), flush=True)\nwhile True: pass"],
                     waited=True, cpu_seconds=1, nice=7, stdout=subprocess.PIPE)
        out, _ = proc.communicate(timeout=30)
        result.update(code=proc.returncode, nice=int(out), took=time.monotonic() - start)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(40)
    assert result["code"] == -signal.SIGXCPU
    assert result["nice"] == os.nice(0) + 7
    assert isinstance(result["took"], float) and result["took"] < 20


WITHOUT_HEIF = """
import contextlib, sys
from pathlib import Path
sys.modules["pillow_heif"] = None  # as on a machine without pillow-heif: importing it fails
from hitrec.hub.gallery.pictures import PictureMaker
from PIL import Image
@contextlib.contextmanager
def media():
    yield Path(sys.argv[2])
with PictureMaker(Path(sys.argv[1])) as maker:
    maker.want("%s", "image", media)
    assert maker.wait_idle(60)
    picture = maker.ready("%s", "image")
    assert "pillow_heif" not in sys.modules or sys.modules["pillow_heif"] is None
    print(Image.open(picture).size if picture else None)
"""


def test_heic_without_pillow_heif_goes_to_ffmpeg(tmp_path: Path, media: dict[str, Path]) -> None:
    oid = oid_of("heic")
    done = subprocess.run([sys.executable, "-c", WITHOUT_HEIF % (oid, oid), str(tmp_path / "cache"),
                           str(media["heic"])], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(320, 240)"
