"""A hub, or a push's receive-pack, SIGKILLed in the middle of a push: the next push lands, no debris.

The pushes are held at a known point by a git hook the test installs in the collaboration (git's own
``reference-transaction`` hook runs with ``refs/heads/main.lock`` taken; ``pre-receive`` runs with the
push's objects in a quarantine folder), then the processes are killed as a crash would kill them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hub_git import auth_header, commit_file, git, lfs_work_tree
from hub_process import HubProcess

from hitrec.hub import repos

pytestmark = pytest.mark.slow


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _hold_hook(bare: Path, name: str, marker: Path, release: Path, only_prepared: bool = False) -> None:
    """A hook that says it started (``marker``) and then waits until ``release`` exists."""
    gate = '[ "$1" = prepared ] || exit 0\n' if only_prepared else ""
    hook = bare / "hooks" / name
    hook.write_text(f"#!/bin/sh\n{gate}cat >/dev/null\ntouch '{marker}'\n"
                    f"while [ ! -e '{release}' ]; do sleep 0.05; done\n")
    hook.chmod(0o755)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"push ended before the hook ran: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("the hook never ran")
        time.sleep(0.02)


def _push_in_background(work: Path, url: str, token: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["git", "-c", f"http.extraHeader={auth_header('ada', token)}", "-c",
                             "credential.helper=", "push", url, "main"], cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})


def _debris(bare: Path) -> list[str]:
    found = [str(p.relative_to(bare)) for p in (bare / "refs").rglob("*.lock")]
    found += [name for name in ("HEAD.lock", "packed-refs.lock") if (bare / name).exists()]
    found += [p.name for p in (bare / "objects").iterdir() if p.name.startswith("tmp_objdir-incoming-")]
    return found


def _setup(tmp_path: Path) -> tuple[HubProcess, Path, Path, str]:
    hub = HubProcess(tmp_path / "hub").start()
    token = hub.add_user("ada", "ada@example.org")
    hub.create("film", author_check=False)
    work = lfs_work_tree(tmp_path / "work")
    commit_file(work, "notes.txt", b"first\n")
    git("push", hub.collaboration_url("film"), "main", cwd=work, token=token)
    commit_file(work, "notes.txt", b"second\n")
    return hub, work, hub.collaboration_path("film"), token


def test_a_hub_killed_while_it_moves_main_leaves_nothing_that_stops_the_next_push(tmp_path: Path) -> None:
    hub, work, bare, token = _setup(tmp_path)
    try:
        marker, release = tmp_path / "started", tmp_path / "release"
        _hold_hook(bare, "reference-transaction", marker, release, only_prepared=True)
        push = _push_in_background(work, hub.collaboration_url("film"), token)
        _wait_for(marker, push)
        assert (bare / "refs" / "heads" / "main.lock").exists()
        assert hub.proc is not None
        _kill([hub.proc.pid, *_descendants(hub.proc.pid)])  # the hub and its receive-pack and hook
        hub.proc.wait()
        assert push.wait(30) != 0
        time.sleep(0.2)
        assert "refs/heads/main.lock" in _debris(bare)  # (and HEAD.lock: git locks the symref too)
        (bare / "hooks" / "reference-transaction").unlink()
        hub.start()  # ... which clears what no live receive-pack holds
        assert _debris(bare) == []
        removal = [line for line in hub.log_text().splitlines() if "removed what a killed push left" in line]
        assert len(removal) == 1 and "film.git: " in removal[0] and "refs/heads/main.lock" in removal[0]
        git("push", hub.collaboration_url("film"), "main", cwd=work, token=token)
        assert hub.catalog_head("film") == git("rev-parse", "HEAD", cwd=work).stdout.strip()
        assert _debris(bare) == []
    finally:
        hub.stop()


def test_a_killed_receive_pack_leaves_nothing_behind_the_next_push(tmp_path: Path) -> None:
    hub, work, bare, token = _setup(tmp_path)
    try:
        marker, release = tmp_path / "started", tmp_path / "release"
        _hold_hook(bare, "pre-receive", marker, release)  # the pushed objects sit in quarantine meanwhile
        push = _push_in_background(work, hub.collaboration_url("film"), token)
        _wait_for(marker, push)
        assert hub.proc is not None
        receive = [pid for pid in _descendants(hub.proc.pid) if "receive-pack" in _cmdline(pid)]
        assert len(receive) == 1
        _kill([receive[0], *_descendants(receive[0])])  # receive-pack and its hook, mid-push
        assert push.wait(30) != 0
        time.sleep(0.2)
        assert [d for d in _debris(bare) if d.startswith("tmp_objdir-incoming-")]
        repos.install_hook(bare)  # the hub's own hook again; the hub itself never stopped
        git("push", hub.collaboration_url("film"), "main", cwd=work, token=token)
        assert hub.catalog_head("film") == git("rev-parse", "HEAD", cwd=work).stdout.strip()
        assert _debris(bare) == []
        assert "removed what a killed push left in film.git: objects/tmp_objdir-incoming-" in hub.log_text()
    finally:
        hub.stop()


def test_a_live_push_keeps_its_files_when_another_hub_starts(tmp_path: Path) -> None:
    """Only a push lock nobody holds proves the receive-packs dead: a second hub started on the same
    root while a push is moving main leaves that push's lock file alone, and the push lands."""
    hub, work, bare, token = _setup(tmp_path)
    second = HubProcess(tmp_path / "hub")
    try:
        marker, release = tmp_path / "started", tmp_path / "release"
        _hold_hook(bare, "reference-transaction", marker, release, only_prepared=True)
        push = _push_in_background(work, hub.collaboration_url("film"), token)
        _wait_for(marker, push)
        second.start()
        assert "refs/heads/main.lock" in _debris(bare)
        release.touch()
        _, err = push.communicate(timeout=30)
        assert push.returncode == 0, err
        assert hub.catalog_head("film") == git("rev-parse", "HEAD", cwd=work).stdout.strip()
        assert _debris(bare) == []
    finally:
        release.touch()
        second.stop()
        hub.stop()
