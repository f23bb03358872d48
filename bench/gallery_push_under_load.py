"""Pushing a 1 GiB fragment while the gallery is under page load, against the same push without it.

    python bench/gallery_push_under_load.py [--size-mb 1024] [--rounds 2] [--fragments 10000]

Limit (issue #13): a push of a 1 GiB fragment while the gallery is under 16-client page load runs at
least 0.8x as fast as the same push without the load. The hub (a real process, private) holds the
collaboration bench/gallery_load.py builds (10,000 fragments from 300 contributors); the load is wrk
(Debian's, a separate process, 16 connections) asking for the gallery's pages in turn: the hub page,
the collaboration's first, a later and a filtered page, 200 fragment pages (each with its lineage
picture) and the pictures of the first page's fragments (made by the picture workers while the load
runs: their cache is emptied before each loaded push). Each push is a whole `hitrec push` process to a
fresh collaboration, timed from start to exit (the figure the limit is read on); the upload itself, as
the hub logged it, is printed beside it. Quiet and loaded pushes alternate, which goes first changing
every round. All of it runs on one machine: the load generator, the hub and the pushing client share
its cores.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from _sync_common import bench_hub, hitrec, noise_wav
from gallery_load import LUA, build

LIMIT = 0.8


def pages(url: str, cookie: str, ids: list[str]) -> list[str]:
    """The gallery's pages that answer on this hub (all of them on main since the gallery landed)."""
    import httpx

    rng = random.Random(7)
    wanted = ["/", "/-/c/big", "/-/c/big?page=150", "/-/c/big?kind=audio&tag=music&page=2",
              *[f"/-/c/big/f/{fid}" for fid in rng.sample(ids, min(200, len(ids)))]]
    headers = {"accept": "text/html", "cookie": cookie}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        found = [path for path in wanted if http.get(path).status_code == 200]  # also their first view
        listing = http.get("/-/c/big", headers={"accept": "application/json"})
        if listing.status_code == 200:
            for fragment in listing.json().get("fragments", []):
                if fragment.get("kind") in ("audio", "image", "video"):
                    found.append(f"/-/c/big/picture/{fragment['media']['oid']}")
    return found


def upload_seconds(log: str, name: str) -> float:
    """How long the hub took over the LFS upload to collaboration ``name`` (its request log line)."""
    found = re.findall(rf'"PUT /{re.escape(name)}\.git/info/lfs/objects/[0-9a-f]+" 200 in=\d+ out=\d+ ([0-9.]+)s', log)
    if not found:
        raise SystemExit(f"no upload to {name} in the hub's log")
    return float(found[-1])


def start_load(url: str, paths: list[str], cookie: str, connections: int, folder: Path) -> subprocess.Popen[str]:
    script = folder / "load.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    return subprocess.Popen(["wrk", "-t2", f"-c{connections}", "-d600s", "--timeout", "10s", "-s", str(script),
                             "-H", "Accept: text/html", "-H", f"Cookie: {cookie}", url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even from a
    # shell's background job (which starts with SIGINT ignored): SIGINT is how wrk is told to report


def stop_load(load: subprocess.Popen[str]) -> dict[str, float]:
    load.send_signal(signal.SIGINT)  # wrk stops and reports what it measured
    out, _ = load.communicate(timeout=30)
    match = re.search(r"RESULT (.*)", out)
    if not match:
        raise SystemExit(f"wrk gave no result:\n{out}")
    values = {k: float(v) for k, v in (part.split("=") for part in match.group(1).split())}
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    return {**values, "rps": float(rate.group(1)) if rate else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fragments", type=int, default=10000)
    parser.add_argument("--contributors", type=int, default=300)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    import httpx

    with bench_hub() as (base, env, hub, token):
        hub.create("big", author_check=False)
        ids, took = build(hub.collaboration_path("big"), base / "small", args.fragments, args.contributors)
        login = httpx.post(hub.url + "/-/login", data={"user": "ada", "token": token},
                           headers={"origin": hub.url}, timeout=60)
        cookie = login.headers["set-cookie"].split(";")[0]
        paths = pages(hub.url, cookie, ids)
        print(f"collaboration of {len(ids)} fragments built in {took:.1f} s; the load asks for {len(paths)} "
              f"gallery addresses, {args.connections} connections")
        source = noise_wav(base / "take.wav", args.size_mb << 20, seed=1)
        hitrec("init", "a", cwd=base, env=env)
        hitrec("add", str(source), cwd=base / "a", env=env)
        source.unlink()
        quiet: list[float] = []
        loaded: list[float] = []
        quiet_put: list[float] = []  # the upload itself, as the hub logged it
        loaded_put: list[float] = []
        loads: list[dict[str, float]] = []
        nbytes = 0
        for r in range(args.rounds):
            for side in (("quiet", "loaded") if r % 2 == 0 else ("loaded", "quiet")):
                name = f"film-{side}-{r}"
                hitrec("remote", "add", "origin", hub.collaboration_url(name), "--replace", cwd=base / "a", env=env)
                shutil.rmtree(base / "a" / ".hitrec" / "refs" / "remotes", ignore_errors=True)
                load = None
                if side == "loaded":
                    shutil.rmtree(hub.root / ".pictures", ignore_errors=True)  # the pictures are made again
                    load = start_load(hub.url, paths, cookie, args.connections, base)
                    time.sleep(1.0)  # the load is running before the push starts
                seconds, out = hitrec("push", "--json", cwd=base / "a", env=env)
                if load is not None:
                    loads.append(stop_load(load))
                nbytes = json.loads(out)["media"]["bytes"]
                (loaded if side == "loaded" else quiet).append(seconds)
                (loaded_put if side == "loaded" else quiet_put).append(upload_seconds(hub.log_text(), name))
                shutil.rmtree(hub.collaboration_path(name), ignore_errors=True)  # keep the disk free
        mb = nbytes / 1e6
        best_quiet, best_loaded = mb / min(quiet), mb / min(loaded)
        ratio = best_loaded / best_quiet
        print(f"push of {mb:.0f} MB, best of {args.rounds} each, alternating:")
        print(f"  without load: {', '.join(f'{mb / s:.0f}' for s in quiet)} MB/s")
        print(f"  under load:   {', '.join(f'{mb / s:.0f}' for s in loaded)} MB/s")
        print(f"  the upload itself (the hub's PUT, from its log): without load "
              f"{', '.join(f'{mb / s:.0f}' for s in quiet_put)} MB/s, under load "
              f"{', '.join(f'{mb / s:.0f}' for s in loaded_put)} MB/s: {min(quiet_put) / min(loaded_put):.2f}x")
        for r in loads:
            print(f"  the load during a push: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, "
                  f"{r['requests']:.0f} requests, {r['errors']:.0f} errors")
        pairs = sorted(q / s for q, s in zip(quiet, loaded, strict=True))  # loaded speed / quiet, per round
        print(f"  each round: {', '.join(f'{p:.2f}x' for p in pairs)} (median {pairs[len(pairs) // 2]:.2f}x)")
        print(f"  ratio {ratio:.2f}x the push without load, best against best (limit >= {LIMIT}x): "
              f"{'OK' if ratio >= LIMIT else 'UNDER'}")
        return 0 if ratio >= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
