"""A hub whose root is a small, real file system that fills up: clean 507s, no tracebacks in its log.

Two file systems, both mounted by the test (it needs root, as tests/run.sh has on a fresh machine):
tmpfs (no O_DIRECT: big uploads take the plain-write path) and a loop-mounted ext4 (O_DIRECT: big
uploads write four buffers at once, and a full disk fails them all together).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_git import commit_file, git, lfs_work_tree
from hub_process import HubProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mkfs.ext4"),
                       reason="mounting a small file system needs root and mkfs.ext4"),
]


@pytest.fixture(params=["tmpfs", "ext4"])
def small_root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()
    if request.param == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], check=True)
    else:
        image = tmp_path / "ext4.img"
        with open(image, "wb") as fh:
            fh.truncate(24 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_hub_logs_one_line_per_refusal_and_no_traceback(small_root: Path, tmp_path: Path) -> None:
    hub = HubProcess(small_root / "hub")
    hub.log_path = tmp_path / "hub.log"  # the log must not fill up with the disk
    with hub:
        token = hub.add_user("ada", "ada@example.org")
        hub.create("film", author_check=False)
        url = hub.collaboration_url("film")
        work = lfs_work_tree(tmp_path / "work")
        for i in range(6):  # git-lfs sends them eight at a time: several fill the disk together
            (work / f"big{i}.bin").write_bytes(os.urandom(9 << 20))
        for i in range(20):
            (work / f"small{i}.bin").write_bytes(os.urandom(300_000))
        commit_file(work, "notes.txt", b"notes\n")
        pushed = git("-c", "lfs.transfer.maxretries=1", "lfs", "push", url, "main", cwd=work, token=token,
                     check=False, timeout=300)
        assert pushed.returncode != 0
        assert "out of space" in pushed.stderr
        # the hub still serves what it has
        assert git("ls-remote", url, cwd=work, token=token).returncode == 0
    # The log is read once the hub has stopped: an upload git-lfs gave up on may still be finishing (its
    # ERROR line written, its access line not yet) while git-lfs exits, which made the counts differ by one.
    text = hub.log_text()
    assert "Traceback" not in text and "never retrieved" not in text, text[-4000:]
    refused = [line for line in text.splitlines() if '" 507 ' in line]
    explained = [line for line in text.splitlines() if "ERROR" in line]
    assert refused and len(explained) == len(refused), text[-4000:]
    assert all("out of space" in line and "refused with 507" in line for line in explained)
    # nothing half-written is kept
    assert list((hub.collaboration_path("film") / "lfs" / "tmp").iterdir()) == []


def test_a_hub_first_started_on_a_full_disk_says_so_and_leaves_nothing(small_root: Path) -> None:
    """The first start makes the hub's action key: on a full disk that failed with "No space left on
    device" naming nothing, and left its half-written ``.action-key.<pid>.<random>`` behind."""
    import sys

    root = small_root / "root"
    root.mkdir()
    filler = small_root / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    # the rest, a page at a time, so that nothing is left but the root's own folder entries
    fd = os.open(filler, os.O_WRONLY | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    done = subprocess.run([sys.executable, "-m", "hitrec", "hub", "serve", "--root", str(root), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the disk is full: no space left for ") and str(root) in last, done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in root.iterdir() if p.name.startswith(".action-key")] == []
