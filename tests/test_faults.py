"""Bad input, crashes and concurrency: nothing recorded by mistake, nothing lost, fsck stays clean."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_hitrec
from media import make_wav

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
