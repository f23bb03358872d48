"""`hitrec add` against the limit (hashlib SHA-256 + copy) and against git-lfs (and dvc when installed).

    python bench/add_speed.py [--size-mb 1024] [--many 1000] [--skip-large] [--skip-many]

Large: one file of --size-mb random-ish bytes wrapped as a WAV. The limit is what any content-addressed
add must do at least: read the file once through hashlib.sha256 and write a copy. Peers: `git lfs track
+ git add + git commit`, and `dvc add` if dvc is on PATH. Peak memory (max RSS) of each child process.
Many: --many one-second WAVs added in one command, against git-lfs adding and committing the same files.
Ratios, not absolute times, are the point: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media import make_wav

ENV = {**os.environ, "HITREC_AUTHOR_NAME": "Bench", "HITREC_AUTHOR_EMAIL": "bench@example.org",
       "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.org", "GIT_COMMITTER_NAME": "Bench",
       "GIT_COMMITTER_EMAIL": "bench@example.org"}


def rss_of(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process, read from wait4()'s rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return wall, usage.ru_maxrss / 1024


def limit(path: Path, dest: Path, fsync: bool) -> float:
    start = time.perf_counter()
    digest = hashlib.sha256()
    buf = bytearray(1 << 20)
    with open(path, "rb") as src, open(dest, "wb") as out:
        while n := src.readinto(buf):
            digest.update(memoryview(buf)[:n])
            out.write(memoryview(buf)[:n])
        out.flush()
        if fsync:
            os.fsync(out.fileno())
    elapsed = time.perf_counter() - start
    dest.unlink()
    return elapsed


def big_wav(path: Path, size_mb: int) -> None:
    import struct

    data_size = size_mb * (1 << 20)
    header = b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 2, 48000, 48000 * 4, 4, 16) + b"data" + struct.pack("<I", data_size)
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.write(header)
        for i in range(size_mb):
            f.write(block[i % 7:] + block[: i % 7])


def git_lfs_add(folder: Path, names: list[str], pattern: str) -> tuple[float, float]:
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True, env=ENV)
    subprocess.run(["git", "lfs", "install", "--local"], cwd=folder, check=True, env=ENV, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    subprocess.run(["git", "lfs", "track", pattern], cwd=folder, check=True, env=ENV, stdout=subprocess.DEVNULL)
    _, rss = rss_of(["git", "add", ".gitattributes", *names], folder)
    subprocess.run(["git", "commit", "-qm", "add"], cwd=folder, check=True, env=ENV)
    return time.perf_counter() - start, rss


def bench_large(root: Path, size_mb: int) -> None:
    src = root / "big.wav"
    big_wav(src, size_mb)
    subprocess.run(["sync"])
    # Interleave the rounds so that the disk's mood affects every contender alike; keep each one's best.
    limits, limits_fsync, hitrec_times, rss = [], [], [], 0.0
    for i in range(3):
        limits.append(limit(src, root / "copy", fsync=False))
        limits_fsync.append(limit(src, root / "copy", fsync=True))
        proj = root / f"hitrec{i}"
        subprocess.run([sys.executable, "-m", "hitrec", "init", str(proj)], check=True, env=ENV,
                       stdout=subprocess.DEVNULL)
        wall, rss = rss_of([sys.executable, "-m", "hitrec", "add", str(src)], proj)
        hitrec_times.append(wall)
        shutil.rmtree(proj)
    t_limit, t_limit_fsync, t_hitrec = min(limits), min(limits_fsync), min(hitrec_times)
    print(f"add one {size_mb} MiB file (best of 3 interleaved rounds)")
    print(f"  limit: sha256 + copy:          {t_limit:6.2f} s")
    print(f"  limit: sha256 + copy + fsync:  {t_limit_fsync:6.2f} s")
    print(f"  hitrec add (durable, fsynced): {t_hitrec:6.2f} s   ratio to limit {t_hitrec / t_limit:.2f} (goal <= 1.3);"
          f" to limit+fsync {t_hitrec / t_limit_fsync:.2f}   peak RSS {rss:.0f} MB (goal < 100)")
    if shutil.which("git-lfs"):
        folder = root / "lfs"
        folder.mkdir()
        os.link(src, folder / "big.wav")
        t_lfs, rss_lfs = git_lfs_add(folder, ["big.wav"], "*.wav")
        print(f"  git-lfs track+add+commit:      {t_lfs:6.2f} s   hitrec is {t_lfs / t_hitrec:.2f}x faster   "
              f"peak RSS (git add) {rss_lfs:.0f} MB")
        shutil.rmtree(folder)
    if shutil.which("dvc"):
        folder = root / "dvc"
        folder.mkdir()
        os.link(src, folder / "big.wav")
        subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
        subprocess.run(["dvc", "init", "-q"], cwd=folder, check=True)
        t_dvc, rss_dvc = rss_of(["dvc", "add", "-q", "big.wav"], folder)
        print(f"  dvc add:                       {t_dvc:6.2f} s   hitrec is {t_dvc / t_hitrec:.2f}x faster   "
              f"peak RSS {rss_dvc:.0f} MB")
        shutil.rmtree(folder)
    else:
        print("  dvc: not installed (pip install dvc to compare)")
    src.unlink()


def bench_many(root: Path, count: int, rounds: int = 3) -> None:
    folder = root / "many"
    names = [f"clip{i:04d}.wav" for i in range(count)]
    for i, name in enumerate(names):
        make_wav(folder / name, seconds=1.0, freq=100 + i, rate=22050, channels=1)
    # Interleaved rounds, best of each: the disk's mood on this shared machine moves both by +-30%.
    hitrec_times, lfs_times, rss, packs = [], [], 0.0, 0
    for r in range(rounds):
        proj = root / f"hitrec-many{r}"
        subprocess.run([sys.executable, "-m", "hitrec", "init", str(proj)], check=True, env=ENV,
                       stdout=subprocess.DEVNULL)
        wall, rss = rss_of([sys.executable, "-m", "hitrec", "add", *[str(folder / n) for n in names]], proj)
        hitrec_times.append(wall)
        packs = len(list((proj / ".hitrec" / "objects" / "pack").glob("*.pack")))
        shutil.rmtree(proj)
        if shutil.which("git-lfs"):
            lfs = root / f"lfs-many{r}"
            lfs.mkdir()
            for n in names:
                os.link(folder / n, lfs / n)
            lfs_times.append(git_lfs_add(lfs, names, "*.wav")[0])
            shutil.rmtree(lfs)
    t_hitrec = min(hitrec_times)
    print(f"add {count} one-second WAVs in one command (best of {rounds} interleaved rounds)")
    print(f"  hitrec add:                {t_hitrec:6.2f} s   {count / t_hitrec:5.0f} files/s   packs written: "
          f"{packs}   peak RSS {rss:.0f} MB   (all rounds: {', '.join(f'{t:.2f}' for t in hitrec_times)})")
    if lfs_times:
        t_lfs = min(lfs_times)
        print(f"  git-lfs track+add+commit:  {t_lfs:6.2f} s   {count / t_lfs:5.0f} files/s   "
              f"ratio hitrec/git-lfs {t_hitrec / t_lfs:.2f} (goal < 1)   "
              f"(all rounds: {', '.join(f'{t:.2f}' for t in lfs_times)})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--many", type=int, default=1000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-many", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP", "/tmp")) as tmp:
        if not args.skip_large:
            bench_large(Path(tmp), args.size_mb)
        if not args.skip_many:
            bench_many(Path(tmp), args.many)


if __name__ == "__main__":
    main()
