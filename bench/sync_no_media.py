"""Metadata-only clones: `hitrec clone --no-media` of a big collaboration, and what a render then fetches.

    python bench/sync_no_media.py [--count 10000] [--size 4000]

Limits (issue #14): `hitrec clone --no-media` of a collaboration of 10,000 fragments under 2 s; a render
that uses 5 of its fragments then fetches exactly those 5 media objects. Peers in the same run: a full
`hitrec clone` of the same collaboration, and `git clone` of the hub's git repository alone (the
records without any media: the floor a metadata-only clone can reach over git smart HTTP). Each step is
a process, timed from start to exit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from _sync_common import bench_hub, hitrec, noise_wav


def _record(root: Path, folder: Path, count: int, size: int) -> list[str]:
    from hitrec.store import FragmentSpec, Repo

    paths = [noise_wav(folder / f"{i}.wav", size, seed=i + 31 * count) for i in range(count)]
    repo = Repo(root)
    ids: list[str] = []
    for start in range(0, count, 1000):
        ids += [f.id for f in repo.record([FragmentSpec(p) for p in paths[start:start + 1000]])]
    repo.close()
    return ids


def _objects(repo_dir: Path) -> int:
    return sum(1 for p in (repo_dir / ".hitrec" / "lfs" / "objects").rglob("*") if p.is_file())


def _wait_packed(git_dir: Path, timeout: float = 120) -> float:
    """Seconds until the hub's background gc after the push (hub/housekeeping.py) has ended: a bitmap
    is there and the push lock is free. Clones are timed on the collaboration as it then stays."""
    import os

    from hitrec.hub.repos import lock_pushes

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if list((git_dir / "objects" / "pack").glob("*.bitmap")):
            fd = lock_pushes(git_dir, wait=False)
            if fd is not None:
                os.close(fd)
                break
        time.sleep(0.1)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--size", type=int, default=4000, help="bytes of media per fragment")
    args = parser.parse_args()
    with bench_hub() as (base, env, hub, token):
        url = hub.collaboration_url("big")
        hitrec("init", "a", cwd=base, env=env)
        t = time.perf_counter()
        ids = _record(base / "a", base / "in", args.count, args.size)
        hitrec("remote", "add", "origin", url, cwd=base / "a", env=env)
        hitrec("push", cwd=base / "a", env=env)
        setup_s = time.perf_counter() - t
        packed_s = _wait_packed(hub.root / "big.git")
        lazy, full, bare = [], [], []
        for run in range(3):  # alternate ours and the peers
            s, out = hitrec("clone", "--no-media", url, f"lazy{run}", "--json", cwd=base, env=env)
            assert json.loads(out)["fragments"] == args.count and _objects(base / f"lazy{run}") == 0
            lazy.append(s)
            t = time.perf_counter()
            git_env = {**env, "PATH": "/usr/bin:/bin"}
            subprocess.run(["git", "-c", f"http.extraHeader=Authorization: Bearer {token}", "clone", "-q",
                            "--bare", url, str(base / f"bare{run}.git")], check=True, env=git_env)
            bare.append(time.perf_counter() - t)
            if run == 0:
                s, _ = hitrec("clone", url, f"full{run}", cwd=base, env=env)
                full.append(s)
        timeline = base / "five.yaml"
        clips = "\n".join(f"      - {{fragment: {fid}, at: {i * 0.1:.1f}}}" for i, fid in enumerate(ids[100:105]))
        timeline.write_text("hitrec: 1\ntitle: five\noutput: {sample_rate: 48000, channels: 2, format: wav}\n"
                            f"tracks:\n  - kind: audio\n    clips:\n{clips}\n")
        render_s, _ = hitrec("render", str(timeline), "-o", str(base / "five.wav"), cwd=base / "lazy0", env=env)
        fetched = _objects(base / "lazy0")
        best = min(lazy)
        print(f"clone --no-media, {args.count} fragments : {best:.2f} s (limit < 2 s: {best / 2:.2f}x); "
              f"git clone of the records alone {min(bare):.2f} s ({best / min(bare):.2f}x of it); "
              f"a full hitrec clone {full[0]:.2f} s")
        print(f"render using 5 of them : fetched {fetched} media objects (limit: exactly 5), {render_s:.2f} s")
        print(f"(setup: recorded and pushed {args.count} in {setup_s:.1f} s; the hub then packed the collaboration "
              f"into one bitmapped pack in the background, done {packed_s:.1f} s after the push)")


if __name__ == "__main__":
    main()
