"""Killed and starved renders: ffmpeg dies with hitrec, dead renders' scratch is removed by the next one,
a live one's never, a full disk is named, a missing git object is one line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_hitrec
from render_support import make_fragments, write_timeline

from hitrec.media.ffmpeg import popen
from hitrec.render.scratch import part_file, scratch_dir, sweep_parts, sweep_tmp
from hitrec.store import Repo


@pytest.fixture
def frags(project: Path) -> dict[str, str]:
    return {k: f.id for k, f in make_fragments(Repo.find(), project / "media").items()}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _ffmpeg_of(pid: int) -> int | None:
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if b"ffmpeg" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
    return None


def _leftovers(tmp: Path, project: Path) -> list[str]:
    return sorted([p.name for p in tmp.iterdir() if p.name.startswith("hitrec-")]
                  + [p.name for p in project.iterdir() if p.name.endswith(".part")])


def _long_timeline(project: Path, frags: dict[str, str]) -> None:
    write_timeline(project / "long.yaml", {"hitrec": 1, "output": {"size": [640, 360], "fps": 30}, "tracks": [
        {"kind": "video", "clips": [{"fragment": frags["red"], "duration": 600, "loop": True}]}]})
    write_timeline(project / "short.yaml", {"hitrec": 1, "tracks": [
        {"kind": "audio", "clips": [{"fragment": frags["tone"], "to": 0.5}]}]})


@pytest.mark.slow
@pytest.mark.parametrize("command", ["render", "remix"])
def test_sigkill_takes_ffmpeg_along_and_the_next_run_removes_the_leftovers(
        project: Path, frags: dict[str, str], tmp_path: Path, command: str) -> None:
    _long_timeline(project, frags)
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    args = [sys.executable, "-m", "hitrec", command, "long.yaml"] + (["-o", "long.mp4"] if command == "render" else [])
    killed_ffmpeg = 0
    for moment in ("early", "ffmpeg started", "ffmpeg running"):
        proc = subprocess.Popen(args, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ffmpeg = None
        if moment == "early":
            time.sleep(0.3)
            ffmpeg = _ffmpeg_of(proc.pid)
        else:
            deadline = time.time() + 60
            while ffmpeg is None and time.time() < deadline:
                ffmpeg = _ffmpeg_of(proc.pid)
                time.sleep(0.02)
            assert ffmpeg is not None, "ffmpeg never started"
            if moment == "ffmpeg running":
                time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)  # the hitrec process only, not its group
        proc.wait()
        if ffmpeg is not None:
            killed_ffmpeg += 1
            deadline = time.time() + 5
            while _alive(ffmpeg) and time.time() < deadline:
                time.sleep(0.05)
            assert not _alive(ffmpeg), f"ffmpeg {ffmpeg} outlived hitrec killed at '{moment}'"
    assert killed_ffmpeg >= 2
    assert _leftovers(tmp, project)  # the dead renders left scratch behind ...
    again = [command, "short.yaml"] + (["-o", "short.wav"] if command == "render" else [])
    r = run_hitrec(*again, cwd=project, env={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert _leftovers(tmp, project) == []  # ... and the next run removed it
    assert run_hitrec("fsck", cwd=project).returncode == 0


_HOLD = """
import sys, time
from pathlib import Path
from hitrec.render.scratch import part_file, scratch_dir
with scratch_dir("render") as work, part_file(Path(sys.argv[1])) as part:
    print(work, part, flush=True)
    time.sleep(60)
"""


def test_a_live_writers_scratch_is_kept_and_a_dead_ones_removed(tmp_path: Path) -> None:
    tmp, out = tmp_path / "tmpdir", tmp_path / "out"
    tmp.mkdir()
    out.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out / "piece.mp4")], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        work, part = (Path(p) for p in holder.stdout.readline().split())
        assert work.parent == tmp and part.parent == out and part.name.startswith(".piece.mp4.")
        assert sweep_tmp(tmp) == 0 and sweep_parts(out) == 0  # alive: left alone, whatever its age
        assert work.is_dir() and part.is_file()
    finally:
        holder.kill()
        holder.wait()
    assert work.is_dir() and part.is_file()
    assert sweep_tmp(tmp) == 1 and sweep_parts(out) == 1  # dead: removed
    assert not work.exists() and not part.exists()
    (out / "notes.part").write_text("not ours")  # other programs' files are never touched
    (out / ".x.hitrec").write_text("not a part file")
    assert sweep_parts(out) == 0 and (out / "notes.part").exists()


def test_scratch_is_removed_on_exit_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(RuntimeError), scratch_dir("remix") as work:
        (work / "x").write_bytes(b"x")
        raise RuntimeError
    with pytest.raises(RuntimeError), part_file(tmp_path / "a.wav") as part:
        part.write_bytes(b"x")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_started_from_a_worker_thread_is_not_killed_when_that_thread_ends() -> None:
    # PR_SET_PDEATHSIG fires when the forking *thread* exits: from other threads it is not set.
    started: list[subprocess.Popen[bytes]] = []
    worker = threading.Thread(target=lambda: started.append(popen(["sleep", "5"])))
    worker.start()
    worker.join()
    try:
        time.sleep(0.3)
        assert started[0].poll() is None
    finally:
        started[0].kill()
        started[0].wait()


@contextlib.contextmanager
def _small_disk(path: Path, size: str = "1m") -> Iterator[bool]:
    """A tiny tmpfs at ``path`` when we may mount one (root); else yields False (use RLIMIT_FSIZE)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def _limit_file_size() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_a_full_tmpdir_or_output_folder_is_named(project: Path, frags: dict[str, str], tmp_path: Path) -> None:
    write_timeline(project / "big.yaml", {"hitrec": 1, "output": {"format": "wav"}, "tracks": [
        {"kind": "audio", "clips": [{"fragment": frags["tone"], "duration": 20, "loop": True}]}]})  # ~3.8 MB
    before = len(Repo.find(project).fragments())
    with _small_disk(tmp_path / "small") as mounted:
        small = tmp_path / "small"
        limit = None if mounted else _limit_file_size
        env = {**os.environ, "TMPDIR": str(small)}
        r = subprocess.run([sys.executable, "-m", "hitrec", "remix", "big.yaml"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120, preexec_fn=limit)
        assert r.returncode == 1 and r.stderr.count("error:") == 1 and "Traceback" not in r.stderr, r.stderr
        assert "exit code" not in r.stderr
        if mounted:
            assert f"no space left in {small}" in r.stderr and "TMPDIR" in r.stderr, r.stderr
        else:
            assert "too large" in r.stderr or "no space" in r.stderr, r.stderr
        r = subprocess.run([sys.executable, "-m", "hitrec", "render", "big.yaml", "-o", str(small / "big.wav")],
                           cwd=project, capture_output=True, text=True, timeout=120, preexec_fn=limit)
        assert r.returncode == 1 and r.stderr.count("error:") == 1 and "Traceback" not in r.stderr, r.stderr
        if mounted:
            assert f"no space left in {small}" in r.stderr and "output" in r.stderr, r.stderr
        assert [p.name for p in small.iterdir()] == []  # nothing left on the full disk
    assert len(Repo.find(project).fragments()) == before  # nothing recorded


def test_verify_with_a_missing_commit_object_is_one_line(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", {"hitrec": 1, "tracks": [
        {"kind": "audio", "clips": [{"fragment": frags["tone"], "to": 0.5}]}]})
    r = cli("remix", "t.yaml", "--json")
    assert r.exit_code == 0, r.output
    fid = r.json()["id"]
    loose = project / ".hitrec" / "objects" / fid[:2] / fid[2:]
    assert loose.is_file()
    loose.unlink()
    r = run_hitrec("verify", fid[:10], cwd=project)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr and "KeyError" not in r.stderr
    assert fid[:12] in r.stderr and "missing from the git objects" in r.stderr and "hitrec fsck" in r.stderr
    r = run_hitrec("credits", fid[:10], cwd=project)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
