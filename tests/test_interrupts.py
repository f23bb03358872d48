"""Ctrl-C at any moment of a real command: one line on stderr and exit 130 (or exit 0, silent, when the
command finished first), never a traceback, and the repo stays clean.

Each command is interrupted at random moments: in its first 100 ms (while Python and the CLI load), anywhere
in its run, and around its end (after the work is done, while the process exits).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_hitrec
from media import make_wav

from hitrec.store import FragmentSpec, Repo

SIGINT_DEATH = -signal.SIGINT


def _interrupt(args: list[str], cwd: Path, delay: float) -> tuple[int, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "hitrec", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.splitlines()


def _before_hitrec_ran(code: int, lines: list[str]) -> bool:
    """What CPython itself does with a SIGINT before it runs hitrec's entry point (no program can handle
    these): dies of the signal before installing its handler; fails to import `site` or `runpy`; or a
    traceback, or a KeyboardInterrupt "ignored" in an import-lock callback, with no hitrec code in it
    (runpy or site still at work); `site` reporting the .pth file it was running (then the command runs).
    Anything from hitrec's own files counts as hitrec's."""
    if code == SIGINT_DEATH and not lines:
        return True
    text = "\n".join(lines)
    if lines and lines[0].startswith(("Fatal Python error: init_", "Could not import runpy module")):
        return True
    if lines and lines[0].startswith("Error processing line ") and lines[0].rstrip(":").endswith(".pth"):
        return True  # `site` running a .pth file (an editable install's finder): it says so and goes on
    return "KeyboardInterrupt" in text and "/hitrec/" not in text


def _check_interrupts(args: list[str], cwd: Path, runs: int, prepare=None) -> dict[str, int]:
    if prepare:
        prepare(-1)
    start = time.perf_counter()
    full = run_hitrec(*args, cwd=cwd)
    whole = time.perf_counter() - start
    assert full.returncode == 0, full.stderr
    startup = whole / 2  # a silent death by SIGINT counts as the interpreter's only this early
    rng = random.Random(10)
    seen = {"finished": 0, "interrupted": 0, "interpreter start-up": 0}
    for i in range(runs):
        if prepare:
            prepare(i)
        delay = [rng.uniform(0, 0.1), rng.uniform(0, whole), rng.uniform(whole * 0.8, whole * 1.2)][i % 3]
        code, lines = _interrupt(args, cwd, delay)
        if _before_hitrec_ran(code, lines) and (lines or delay < startup):
            seen["interpreter start-up"] += 1
            continue
        assert (code, lines) in ((130, ["interrupted"]), (0, [])), \
            f"{args} interrupted after {delay:.3f} s: exit {code}\n" + "\n".join(lines)
        seen["finished" if code == 0 else "interrupted"] += 1
    assert seen["interrupted"] >= 1, seen  # the test really interrupted hitrec at work
    return seen


def _assert_clean(project: Path) -> None:
    r = run_hitrec("fsck", "--json", cwd=project)
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["ok"], report


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    """A repo of 300 fragments in packs."""
    root = tmp_path / "packed"
    repo = Repo.init(root)
    try:
        for batch in range(3):
            files = [make_wav(tmp_path / "m" / f"{batch}-{i}.wav", seconds=0.01, freq=30 + batch * 60 + i * 0.5,
                              rate=8000, channels=1) for i in range(100)]
            repo.record([FragmentSpec(f) for f in files])
    finally:
        repo.close()
    assert list((root / ".hitrec" / "objects" / "pack").glob("*.pack"))
    return root


@pytest.mark.slow
def test_ctrl_c_during_fsck_of_a_packed_repo(packed: Path) -> None:
    _check_interrupts(["fsck"], packed, runs=15)
    _assert_clean(packed)


@pytest.mark.slow
def test_ctrl_c_during_log(packed: Path) -> None:
    _check_interrupts(["log", "--json"], packed, runs=15)
    _check_interrupts(["log"], packed, runs=9)
    _assert_clean(packed)


@pytest.mark.slow
def test_ctrl_c_during_add(project: Path) -> None:
    made = project / "media"

    def fresh_media(run: int) -> None:  # new media each time, so a finished add says nothing on stderr
        for old in made.glob("*.wav"):
            old.unlink()
        for i in range(30):
            make_wav(made / f"{run + 1}-{i}.wav", seconds=0.05, freq=40 + (run + 1) * 31 + i * 0.7, rate=8000,
                     channels=1)

    names = [str(Path("media") / f"x{i}.wav") for i in range(30)]

    def prepare(run: int) -> None:
        fresh_media(run)
        for i, path in enumerate(sorted(made.glob("*.wav"))):
            path.rename(made / f"x{i}.wav")

    _check_interrupts(["add", *names], project, runs=24, prepare=prepare)
    _assert_clean(project)
    leftovers = [p for p in (project / ".hitrec").rglob("*") if p.name.startswith(("tmp", "ingest-"))
                 and p.is_file()]
    assert leftovers == [], leftovers  # an interrupted add removes its temp files on the way out


def test_a_ctrl_c_python_ignores_is_delivered_again() -> None:
    """A Ctrl-C that lands in a weakref callback (importlib's module lock) or a ``__del__`` is "Exception
    ignored" by Python, and the command ran on to exit 0 with a traceback printed (seen at 44 ms into a
    `hitrec log`): it is delivered again in ordinary code, so the command stops with the one line."""
    code = (
        "import time\n"
        "from hitrec.cli import signals\n"
        "signals.install()\n"
        "class Bomb:\n"
        "    def __del__(self):\n"
        "        raise KeyboardInterrupt\n"
        "try:\n"
        "    Bomb()\n"
        "    time.sleep(3)\n"
        "    print('ran on')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "interrupted" and done.stderr == "", (done.stdout, done.stderr)
