"""Many small fragments and the cost of a pull with nothing new.

    python bench/sync_small.py [--count 1000] [--noop-count 10000]

Limits (issue #5): push 1,000 small fragments < 2 s; pull them into a fresh clone < 2 s; a pull with
nothing new against a collaboration of 10,000 fragments < 1 s; an incremental push sends at most 1.05x
the new content. Each step is a `hitrec` process, timed from start to exit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _sync_common import bench_hub, hitrec, noise_wav


def _record(root: Path, folder: Path, count: int, size: int, env: dict[str, str]) -> None:
    from hitrec.store import FragmentSpec, Repo

    paths = [noise_wav(folder / f"{i}.wav", size, seed=i + 17 * count) for i in range(count)]
    repo = Repo(root)
    for start in range(0, count, 1000):
        repo.record([FragmentSpec(p) for p in paths[start:start + 1000]])
    repo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=4000, help="bytes of media per small fragment")
    parser.add_argument("--noop-count", type=int, default=10000)
    args = parser.parse_args()
    with bench_hub() as (base, env, hub, _):
        url = hub.collaboration_url("small")
        hitrec("init", "a", cwd=base, env=env)
        _record(base / "a", base / "in", args.count, args.size, env)
        hitrec("remote", "add", "origin", url, cwd=base / "a", env=env)
        push_s, out = hitrec("push", "--json", cwd=base / "a", env=env)
        pushed = json.loads(out)
        assert pushed["fragments"] == args.count, pushed
        clone_s, out = hitrec("clone", url, "b", "--json", cwd=base, env=env)
        assert json.loads(out)["fragments"] == args.count

        # incremental: one new fragment of 2 MB on top
        new = noise_wav(base / "new.wav", 2_000_000, seed=5)
        hitrec("add", str(new), cwd=base / "a", env=env)
        _, out = hitrec("push", "--json", cwd=base / "a", env=env)
        inc = json.loads(out)
        ratio = inc["sent"]["bytes"] / new.stat().st_size

        # no-op pull against a big collaboration
        url2 = hub.collaboration_url("big")
        hitrec("init", "c", cwd=base, env=env)
        t = time.perf_counter()
        _record(base / "c", base / "in-big", args.noop_count, 400, env)
        record_s = time.perf_counter() - t
        hitrec("remote", "add", "origin", url2, cwd=base / "c", env=env)
        bigpush_s, _ = hitrec("push", cwd=base / "c", env=env)
        bigclone_s, _ = hitrec("clone", url2, "d", cwd=base, env=env)
        noop = [hitrec("pull", "--json", cwd=base / "d", env=env) for _ in range(3)]
        assert all(json.loads(out)["up_to_date"] for _, out in noop)
        noop_s = min(s for s, _ in noop)
        startup_s = min(hitrec("--help", cwd=base, env=env)[0] for _ in range(3))

        print(f"push {args.count} small fragments : {push_s:.2f} s (limit < 2 s: {push_s / 2:.2f}x)")
        print(f"clone them                  : {clone_s:.2f} s (limit < 2 s: {clone_s / 2:.2f}x)")
        print(f"incremental push            : {inc['sent']['bytes']} bytes sent for {new.stat().st_size} new "
              f"({ratio:.3f}x; limit <= 1.05x)")
        print(f"no-op pull, {args.noop_count} fragments : {noop_s:.2f} s (limit < 1 s: {noop_s:.2f}x; "
              f"`hitrec --help` alone {startup_s:.2f} s)")
        print(f"(setup: recorded {args.noop_count} in {record_s:.1f} s, pushed in {bigpush_s:.1f} s, "
              f"cloned in {bigclone_s:.1f} s)")


if __name__ == "__main__":
    main()
