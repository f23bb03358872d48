"""Helpers for the sync tests: client repos, quick media, who is acting."""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

from hitrec.store import FragmentSpec, Repo
from hitrec.store.media_store import sha256_file  # noqa: F401 - the tests import it from here

ADA = ("Ada Tester", "ada@example.org")
BOB = ("Bob Builder", "bob@example.org")


def noise_wav(path: Path, nbytes: int, seed: int = 0) -> Path:
    """A valid 16-bit stereo 48 kHz WAV of about ``nbytes`` of noise (fast at any size)."""
    frames = max(1, nbytes // 4)
    data_len = frames * 4
    path.parent.mkdir(parents=True, exist_ok=True)
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 48000, 48000 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data_len)
    rng = random.Random(seed)
    with open(path, "wb") as out:
        out.write(header)
        left = data_len
        while left:
            n = min(left, 1 << 20)
            out.write(rng.randbytes(n))
            left -= n
    return path


def record(repo: Repo, folder: Path, count: int, *, prefix: str = "f", size: int = 4000,
           seed: int = 0) -> list[str]:
    """Record ``count`` fresh noise fragments; returns their ids."""
    paths = [noise_wav(folder / f"{prefix}{i}.wav", size, seed=zlib.crc32(f"{prefix}-{seed}-{i}".encode()))
             for i in range(count)]
    return [f.id for f in repo.record([FragmentSpec(p) for p in paths])]


def client_repo(tmp_path: Path, name: str, url: str) -> Repo:
    """A fresh repo whose remote ``origin`` is ``url``."""
    from hitrec.sync.remotes import add_remote

    repo = Repo.init(tmp_path / name)
    add_remote(repo.git_dir, "origin", url)
    return repo


def user_env(name: str, email: str, token: str | None) -> dict[str, str]:
    env = {"HITREC_AUTHOR_NAME": name, "HITREC_AUTHOR_EMAIL": email}
    if token:
        env["HITREC_TOKEN"] = token
    return env



def set_env(monkeypatch, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if "HITREC_TOKEN" not in env:
        monkeypatch.delenv("HITREC_TOKEN", raising=False)


def hub_fragment_ids(hub_git_dir: Path) -> set[str]:
    """Fragment ids in a hub collaboration's catalog (read with the git binary)."""
    import subprocess

    out = subprocess.run(["git", "--git-dir", str(hub_git_dir), "ls-tree", "-d", "--name-only", "-r",
                          "refs/heads/main", "fragments/"], capture_output=True, text=True, check=True)
    ids = set()
    for line in out.stdout.splitlines():
        parts = line.split("/")
        if len(parts) == 3 and len(parts[2]) == 40:
            ids.add(parts[2])
    return ids


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HITREC_TOKEN"}
