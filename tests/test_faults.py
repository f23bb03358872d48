"""Bad input, crashes and concurrency: nothing recorded by mistake, nothing lost, fsck stays clean."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_hitrec
from media import make_wav

from hitrec.errors import HitrecError
from hitrec.store import Repo


def snapshot(project: Path) -> tuple[str | None, list[str], list[Path]]:
    repo = Repo.find(project)
    try:
        media = sorted(repo.media.objects_dir.rglob("*"))
        return repo.catalog_head(), sorted(f.id for f in repo.fragments()), media
    finally:
        repo.close()


def assert_fsck_clean(project: Path) -> dict:
    r = run_hitrec("fsck", "--json", cwd=project)
    report = json.loads(r.stdout)
    assert r.returncode == 0 and report["ok"], report
    return report


@pytest.mark.parametrize("case", ["not-media", "truncated", "empty", "missing", "folder"])
def test_bad_input_records_nothing(project: Path, cli, case: str) -> None:
    good = make_wav(project / "good.wav", freq=220)
    assert cli("add", str(good)).exit_code == 0
    before = snapshot(project)
    bad = project / "bad.wav"
    if case == "not-media":
        bad.write_text("this is a shopping list, not a sound\n" * 20)
    elif case == "truncated":
        data = make_wav(project / "full.wav", seconds=1, freq=330).read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif case == "empty":
        bad.write_bytes(b"")
    elif case == "folder":
        bad.mkdir()
    r = cli("add", str(bad))
    assert r.exit_code == 1, r
    assert r.stderr.count("error:") == 1 and "Traceback" not in r.output and "bad.wav" in r.stderr
    assert snapshot(project) == before
    assert_fsck_clean(project)


def test_one_bad_file_in_a_batch_records_none(project: Path, cli) -> None:
    good = make_wav(project / "good.wav", freq=220)
    bad = project / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    before = snapshot(project)
    r = cli("add", str(good), str(bad))
    assert r.exit_code == 1 and "bad.wav" in r.stderr
    assert snapshot(project) == before


@pytest.mark.slow
@pytest.mark.parametrize("point", ["media-stored", "objects-written", "ref-updated"])
def test_sigkill_at_each_write_step(project: Path, point: str) -> None:
    wav = make_wav(project / "a.wav", seconds=2, freq=440)
    r = run_hitrec("add", "a.wav", cwd=project, env={"HITREC_CRASH_AT": point})
    assert r.returncode == -signal.SIGKILL
    assert_fsck_clean(project)
    ids = [f["id"] for f in json.loads(run_hitrec("log", "--json", cwd=project).stdout)]
    assert len(ids) == (1 if point == "ref-updated" else 0)  # the whole fragment or none of it
    again = run_hitrec("add", "a.wav", "--json", cwd=project)
    assert again.returncode == 0, again.stderr
    assert len(json.loads(run_hitrec("log", "--json", cwd=project).stdout)) == 1
    assert_fsck_clean(project)
    assert wav.exists()


@pytest.mark.slow
def test_sigkill_at_random_moments(project: Path) -> None:
    """Kill `add` of a big file at random moments while it writes; every time the repo is clean, holding the
    whole fragment or none of it, and the add can be redone."""
    from media import make_audio

    files = [make_audio(project / f"take{i}.wav", seconds=150, freq=200 + 50 * i) for i in range(2)]  # ~26 MB
    tmp_dir = project / ".hitrec" / "lfs" / "tmp"
    rng = random.Random(7)
    interrupted_mid_write = 0
    for round_ in range(6):
        target = files[round_ % len(files)]
        before = {f["id"] for f in json.loads(run_hitrec("log", "--json", cwd=project).stdout)}
        proc = subprocess.Popen([sys.executable, "-m", "hitrec", "add", target.name], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while proc.poll() is None and not any(tmp_dir.glob("ingest-*")) and time.monotonic() < deadline:
            time.sleep(0.002)  # wait until the media copy has begun
        time.sleep(rng.uniform(0, 0.15))
        if proc.poll() is None:
            interrupted_mid_write += any(tmp_dir.glob("ingest-*"))
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert_fsck_clean(project)
        after = {f["id"] for f in json.loads(run_hitrec("log", "--json", cwd=project).stdout)}
        assert len(after - before) <= 1  # all of the fragment or none of it
    assert interrupted_mid_write >= 2  # the test really cut writes short
    for target in files:
        r = run_hitrec("add", target.name, cwd=project)
        assert r.returncode == 0, r.stderr
    assert len(json.loads(run_hitrec("log", "--json", cwd=project).stdout)) == 2
    assert_fsck_clean(project)


@pytest.mark.slow
def test_eight_processes_add_at_once(project: Path) -> None:
    files = [make_wav(project / f"p{i}.wav", seconds=0.5, freq=100 + 37 * i) for i in range(8)]
    procs = [subprocess.Popen([sys.executable, "-m", "hitrec", "add", f.name, "--json"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    added = set()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        added.add(json.loads(out)["added"][0]["id"])
    logged = {f["id"] for f in json.loads(run_hitrec("log", "--json", cwd=project).stdout)}
    assert logged == added and len(added) == 8
    assert_fsck_clean(project)
    repo = Repo.find(project)
    try:
        subprocess.run(["git", "--git-dir", str(repo.git_dir), "fsck", "--strict"], check=True,
                       capture_output=True)
    finally:
        repo.close()


def test_fsck_finds_flipped_byte_and_missing_media(project: Path, cli) -> None:
    a = make_wav(project / "a.wav", freq=300)
    b = make_wav(project / "b.wav", freq=400)
    fa = cli("add", str(a), "--json").json()["added"][0]
    fb = cli("add", str(b), "--json").json()["added"][0]
    assert cli("fsck").exit_code == 0
    repo = Repo.find(project)
    flipped = repo.media_path(fa["media"]["oid"])
    missing = repo.media_path(fb["media"]["oid"])
    repo.close()
    os.chmod(flipped, 0o644)
    data = bytearray(flipped.read_bytes())
    data[1000] ^= 0xFF
    flipped.write_bytes(bytes(data))
    missing.unlink()
    r = cli("fsck")
    assert r.exit_code == 1
    assert fa["id"][:12] in r.stderr and "corrupt" in r.stderr
    assert fb["id"][:12] in r.stderr and "missing" in r.stderr
    report = cli("fsck", "--json")
    assert report.exit_code == 1
    assert {p["fragment"] for p in report.json()["problems"]} == {fa["id"], fb["id"]}


def test_write_failure_mid_add_is_one_line_and_leaves_nothing(project: Path) -> None:
    """A file-size limit makes writes fail part-way (EFBIG), like a full disk (ENOSPC) would."""
    import resource

    make_wav(project / "big.wav", seconds=3, freq=500)  # ~576 KB; the limit below stops the copy at 256 KB

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    before = snapshot(project)
    proc = subprocess.run([sys.executable, "-m", "hitrec", "add", "big.wav"], cwd=project, capture_output=True,
                          text=True, preexec_fn=limit_file_size, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr
    assert "too large" in proc.stderr.lower() or "space" in proc.stderr.lower()
    assert snapshot(project) == before
    repo = Repo.find(project)
    try:
        assert repo.media.temp_files() == []  # the partial copy was removed
    finally:
        repo.close()
    assert_fsck_clean(project)


def test_write_failure_mid_direct_add_names_the_full_disk(project: Path) -> None:
    """Big media is written with O_DIRECT: a write cut short at an unaligned size must still read as a
    full disk, not as the EINVAL that resuming it at an unaligned offset gives."""
    import resource

    from sync_helpers import noise_wav

    noise_wav(project / "big.wav", (9 << 20) + 5, seed=9)
    limit = (4 << 20) + 1000

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    before = snapshot(project)
    proc = subprocess.run([sys.executable, "-m", "hitrec", "add", "big.wav"], cwd=project, capture_output=True,
                          text=True, preexec_fn=limit_file_size, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr
    assert "invalid argument" not in proc.stderr.lower(), proc.stderr
    assert "too large" in proc.stderr.lower() or "full" in proc.stderr.lower(), proc.stderr
    assert snapshot(project) == before
    assert_fsck_clean(project)


@pytest.mark.slow
def test_ctrl_c_during_a_batch_add_is_quiet_and_clean(project: Path) -> None:
    files = [make_wav(project / f"c{i}.wav", seconds=0.5, freq=100 + i) for i in range(300)]
    proc = subprocess.Popen([sys.executable, "-m", "hitrec", "add", *[f.name for f in files]], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tmp_dir = project / ".hitrec" / "lfs" / "objects"
    deadline = time.monotonic() + 30
    while proc.poll() is None and not any(tmp_dir.glob("*/*/*")) and time.monotonic() < deadline:
        time.sleep(0.002)  # wait until media is being stored
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the add finished before Ctrl-C arrived")
    assert proc.returncode == 130 and "Traceback" not in err and err.strip().endswith("interrupted")
    assert_fsck_clean(project)
    assert json.loads(run_hitrec("log", "--json", cwd=project).stdout) == []


# --- full disks: a real small file system (tmpfs), or a file-size limit where mounting is not allowed ----
class SmallDisk:
    """A 4 MB tmpfs mounted at ``path`` (tests run as root here); where mount is refused, a plain
    folder and ``limit``, a file-size limit standing in for a full disk in subprocesses."""

    def __init__(self, path: Path) -> None:
        path.mkdir()
        self.path = path
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)],
                              capture_output=True)
        self.mounted = done.returncode == 0
        self.filler = path / "filler"
        self.limit = 512  # without a tmpfs: the file-size limit of subprocesses


    def fill(self, leave: int = 0) -> None:
        """Fill the disk, then give back ``leave`` bytes (whole pages)."""
        if not self.mounted:
            self.limit = max(512, leave)
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            block = b"\0" * 65536
            for size in (65536, 4096, 1):
                try:
                    while True:
                        os.write(fd, block[:size])
                except OSError:
                    pass
            end = os.fstat(fd).st_size
            os.ftruncate(fd, max(0, end - leave - end % 4096))
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
        self.limit = 512

    def preexec(self) -> None:
        """For subprocesses when there is no tmpfs: no file may grow past a few bytes."""
        if not self.mounted:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.limit))

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SmallDisk:
    disk = SmallDisk(tmp_path / "disk")
    monkeypatch.chdir(tmp_path)
    yield disk
    monkeypatch.chdir(tmp_path)
    disk.close()


def _run(disk: SmallDisk, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hitrec", *args], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=disk.preexec, timeout=120)


@pytest.mark.parametrize("index", ["kept", "removed"])
def test_log_show_and_fsck_read_a_repo_on_a_full_disk(small_disk: SmallDisk, tmp_path: Path, index: str) -> None:
    """The index switched to WAL and ran its schema on every open, so on a full disk nothing could read
    the repo ("database or disk is full"). Opening writes nothing now, and where the index cannot be
    brought up to date (here: removed, so it must be rebuilt), reads go to git."""
    project = small_disk.path / "project"
    Repo.init(project)
    sources = [make_wav(tmp_path / f"s{i}.wav", seconds=0.05, freq=200 + 50 * i) for i in range(3)]
    added = run_hitrec("add", *map(str, sources), "--json", cwd=project)
    assert added.returncode == 0, added.stderr
    ids = {f["id"] for f in json.loads(added.stdout)["added"]}
    if index == "removed":
        for leftover in (project / ".hitrec").glob("index.sqlite*"):
            leftover.unlink()
    small_disk.fill()
    log = _run(small_disk, "log", "--json", cwd=project)
    assert log.returncode == 0, log.stderr
    assert {f["id"] for f in json.loads(log.stdout)} == ids
    one = sorted(ids)[0]
    show = _run(small_disk, "show", one[:8], "--json", cwd=project)
    assert show.returncode == 0 and json.loads(show.stdout)["id"] == one, show.stderr
    fsck = _run(small_disk, "fsck", "--json", cwd=project)
    assert fsck.returncode == 0 and json.loads(fsck.stdout)["ok"], fsck.stdout + fsck.stderr
    small_disk.free()
    assert_fsck_clean(project)


@pytest.mark.slow
def test_add_on_a_nearly_full_disk_reports_the_truth(small_disk: SmallDisk, tmp_path: Path) -> None:
    """With a little space left, an add either records the fragment (exit 0; an index that could not be
    updated is a cache, caught up later) or records nothing (exit 1): never "the index failed" after the
    ref moved. Swept over the free space so that every write step is the one that runs out."""
    project = small_disk.path / "project"
    Repo.init(project)
    first = _run(small_disk, "add", str(make_wav(tmp_path / "first.wav", seconds=0.05, freq=150)), cwd=project)
    assert first.returncode == 0, first.stderr
    outcomes = []
    for pages in range(0, 32):
        source = make_wav(tmp_path / f"p{pages}.wav", seconds=0.02, freq=300 + 7 * pages)
        before = _catalog_fragments(project)
        small_disk.fill(leave=pages * 4096)
        r = _run(small_disk, "add", str(source), "--json", cwd=project)
        small_disk.free()
        after = _catalog_fragments(project)
        assert "index" not in r.stderr.lower(), (pages, r.stderr)
        if r.returncode == 0:
            assert len(after - before) == 1, (pages, r.stdout)
            outcomes.append("recorded")
        else:
            assert r.returncode == 1 and r.stderr.count("error:") == 1 and "Traceback" not in r.stderr, r.stderr
            assert after == before, pages
            outcomes.append("refused")
    assert "recorded" in outcomes and "refused" in outcomes
    assert_fsck_clean(project)
    assert len(json.loads(run_hitrec("log", "--json", cwd=project).stdout)) == len(_catalog_fragments(project))


def test_an_index_that_cannot_be_written_does_not_fail_a_recorded_add(small_disk: SmallDisk,
                                                                        tmp_path: Path) -> None:
    """The Repo API says which: ``index_stale`` when the ref moved but the index stayed behind."""
    from hitrec.store import FragmentSpec

    project = small_disk.path / "project"
    Repo.init(project)
    stale = []
    for pages in range(0, 24):
        source = make_wav(tmp_path / f"q{pages}.wav", seconds=0.02, freq=500 + 7 * pages)
        repo = Repo(project)
        small_disk.fill(leave=pages * 4096)
        try:
            result = repo.record_batch([FragmentSpec(source)])
        except (OSError, HitrecError):
            result = None
        finally:
            small_disk.free()
            repo.close()
        if result is not None and result.index_stale:
            stale.append(pages)
            assert len(result.recorded) == 1 and result.catalog == Repo(project).catalog_head()
    if small_disk.mounted:
        assert stale, "no free space made the index update fail after the ref moved"
    assert_fsck_clean(project)


def _catalog_fragments(project: Path) -> set[str]:
    repo = Repo(project)
    try:
        head = repo.catalog_head()
        return set(repo.fragment_ids_between(head, None)) if head else set()
    finally:
        repo.close()


# --- a read-only repo, an index that cannot be opened: the store's foreign errors are one line ----------
def _read_only(folder: Path) -> object:
    """Make ``folder`` read-only for real: a read-only bind mount (root ignores permission bits), or,
    where mounting is refused, no write permission. Returns what undoes it."""
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if done.returncode == 0 and subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)],
                                               capture_output=True).returncode == 0:
        return lambda: subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    if done.returncode == 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    return lambda: [p.chmod(m) for p, m in modes.items()]


def _one_line(r: subprocess.CompletedProcess) -> str:
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.mark.parametrize("index", ["kept", "removed"])
def test_a_read_only_repo_reads_and_refuses_writes_in_one_line(project: Path, index: str) -> None:
    """Reads work on a read-only .hitrec (with no index, from git); every write is one line, exit 1,
    and no traceback; the repo is as it was."""
    first = make_wav(project / "a.wav", 0.2, 330)
    make_wav(project / "b.wav", 0.2, 550)
    assert run_hitrec("add", str(first), cwd=project).returncode == 0
    if index == "removed":
        for path in (project / ".hitrec").glob("index.sqlite*"):
            path.unlink()
    before = snapshot(project)
    undo = _read_only(project / ".hitrec")
    try:
        log = run_hitrec("log", "--json", cwd=project)
        assert log.returncode == 0 and len(json.loads(log.stdout)) == 1, log.stderr
        fid = json.loads(log.stdout)[0]["id"]
        for args in (["show", fid[:10]], ["lineage", fid[:10]], ["cat", fid[:10]], ["fsck", "--quick"]):
            r = run_hitrec(*args, cwd=project, text=False)
            assert r.returncode == 0 and b"Traceback" not in r.stderr, (args, r.stderr)
        for args in (["add", "b.wav"], ["config", "user.name", "Zed"],
                     ["remote", "add", "origin", "http://127.0.0.1:9/film.git"]):
            r = run_hitrec(*args, cwd=project)
            assert r.returncode == 1, (args, r.stderr)
            assert "Read-only file system" in _one_line(r) or "Permission denied" in _one_line(r)
    finally:
        undo()  # type: ignore[operator]
    assert snapshot(project) == before


def test_an_index_that_cannot_be_opened_is_read_around(project: Path) -> None:
    """An index.sqlite that is a folder (sqlite cannot open it): reads go to git, a write is one line."""
    assert run_hitrec("add", str(make_wav(project / "a.wav", 0.2, 330)), cwd=project).returncode == 0
    for path in (project / ".hitrec").glob("index.sqlite*"):
        path.unlink()
    (project / ".hitrec" / "index.sqlite").mkdir()
    log = run_hitrec("log", "--json", cwd=project)
    assert log.returncode == 0 and len(json.loads(log.stdout)) == 1, log.stderr
    r = run_hitrec("add", str(make_wav(project / "b.wav", 0.2, 550)), cwd=project)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0 or _one_line(r)
    log = run_hitrec("log", "--json", cwd=project)
    assert log.returncode == 0 and len(json.loads(log.stdout)) == (2 if r.returncode == 0 else 1), log.stderr


def test_init_on_a_full_disk_is_one_line_and_leaves_no_half_made_repo(small_disk: SmallDisk) -> None:
    """`hitrec init` (and so a clone) on a full disk printed dulwich's "Exception ignored in _GitFile.__del__"
    traceback and left a ``.hitrec`` holding a ``HEAD.lock``, which the re-run took for a repo ("a hitrec
    repo already exists"). Now: one line naming the folder, nothing left, and the re-run works."""
    for pages in (0, 1, 3):
        small_disk.fill(leave=pages * 4096)
        r = _run(small_disk, "init", "x", cwd=small_disk.path)
        small_disk.free()
        if r.returncode == 0:
            continue
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert str(small_disk.path / "x" / ".hitrec") in r.stderr, r.stderr
        assert "the disk is full" in r.stderr or not small_disk.mounted, r.stderr
        assert sorted(p.name for p in small_disk.path.iterdir()) in ([], ["x"]), list(small_disk.path.rglob("*"))
        assert not (small_disk.path / "x" / ".hitrec").exists()
        again = _run(small_disk, "init", "x", cwd=small_disk.path)
        assert again.returncode == 0, again.stderr
        assert_fsck_clean(small_disk.path / "x")
        shutil.rmtree(small_disk.path / "x")
        break
    else:
        assert not small_disk.mounted, "init never ran out of space"


def test_an_add_that_finds_the_disk_full_names_the_folder(small_disk: SmallDisk, tmp_path: Path) -> None:
    """The line said only "No space left on device": now it says which folder's disk is full."""
    project = small_disk.path / "project"
    Repo.init(project)
    source = make_wav(tmp_path / "big.wav", seconds=3.0, freq=250)
    small_disk.fill(leave=16 * 4096)
    r = _run(small_disk, "add", str(source), cwd=project)
    small_disk.free()
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert str(project / ".hitrec") in r.stderr, r.stderr
    assert "the disk is full: no space left for" in r.stderr or not small_disk.mounted, r.stderr
    assert_fsck_clean(project)


def test_git_objects_a_full_disk_left_half_written_are_removed_by_the_next_writer(small_disk: SmallDisk,
                                                                                   tmp_path: Path) -> None:
    """A pull on a full disk: git's ``unpack-objects`` fails and leaves ``objects/ab/tmp_obj_*`` behind
    (found on a real tmpfs). The next writer removes it, under the repo lock."""
    project = small_disk.path / "project"
    Repo.init(project)
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "-q", "--bare", str(other)], check=True)
    blob = subprocess.run(["git", "--git-dir", str(other), "hash-object", "-w", "--stdin"], input=os.urandom(200_000),
                          capture_output=True, check=True).stdout.strip()
    pack = subprocess.run(["git", "--git-dir", str(other), "pack-objects", "--stdout"], input=blob + b"\n",
                          capture_output=True, check=True).stdout
    small_disk.fill(leave=4096)
    unpack = subprocess.run(["git", "--git-dir", str(project / ".hitrec"), "unpack-objects", "-q"], input=pack,
                            capture_output=True, preexec_fn=small_disk.preexec)
    small_disk.free()
    assert unpack.returncode != 0
    left = list((project / ".hitrec" / "objects").glob("??/tmp_obj_*"))
    assert left, "git left nothing this time"
    added = _run(small_disk, "add", str(make_wav(tmp_path / "a.wav", seconds=0.05, freq=410)), cwd=project)
    assert added.returncode == 0, added.stderr
    assert [p for p in left if p.exists()] == []
    assert_fsck_clean(project)


@pytest.mark.slow
def test_a_killed_checkout_leaves_nothing_the_next_one_does_not_remove(project: Path, tmp_path: Path) -> None:
    """A checkout SIGKILLed mid-copy left its ``.<name>.<random>`` temp file (the size of the media) in the
    output folder for good (2 of 20 kills). It is a locked ``.hitrec.part`` now: the next checkout into
    that folder removes it."""
    from sync_helpers import noise_wav

    source = noise_wav(tmp_path / "big.wav", 48 << 20, seed=5)
    added = run_hitrec("add", str(source), "--json", cwd=project)
    assert added.returncode == 0, added.stderr
    fid = json.loads(added.stdout)["added"][0]["id"]
    out = tmp_path / "out"
    out.mkdir()
    left: list[Path] = []
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-m", "hitrec", "checkout", fid[:10], str(out / "x.wav")],
                                cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if [p for p in out.iterdir() if p.name.startswith(".x.wav.")]:
                break
            time.sleep(0.001)
        proc.kill()
        proc.wait()
        left = [p for p in out.iterdir() if p.name.startswith(".x.wav.")]
        (out / "x.wav").unlink(missing_ok=True)
        if left:
            break
    assert left, "no checkout was killed mid-copy"
    again = run_hitrec("checkout", fid[:10], str(out / "y.wav"), cwd=project)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["y.wav"]
    assert (out / "y.wav").stat().st_size == source.stat().st_size
