"""Load on one hub: N clients (default 16) push and pull at once for a bounded time.

    python bench/hub_load.py [--clients 16] [--seconds 30] [--size 20000]

Each client is its own process running ``hitrec.ops.push`` and ``hitrec.ops.pull`` (record a fragment,
push, pull, repeat).
Afterwards every client pulls once more. Checks, as the issue asks: zero errors; every fragment on the
hub and in every client (with its media); the hub's memory flat (RSS sampled every 0.5 s: the last
third of the run must not exceed the first third by more than 10 MB) and under 150 MB. Also prints
request counts and the hub's slowest requests from its log.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hub_process import HubProcess  # noqa: E402
from sync_helpers import hub_fragment_ids, user_env  # noqa: E402

from hitrec.store import Repo  # noqa: E402

RSS_LIMIT = 150.0
CLIENT = r"""
import json, sys, time, zlib
from pathlib import Path
sys.path.insert(0, {tests!r})
from sync_helpers import noise_wav
from hitrec.store import FragmentSpec, Repo
from hitrec.ops.push import push
from hitrec.ops.pull import pull
root, name, seconds, size = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
attempts = int(sys.argv[5])
repo = Repo(root)
errors, rounds, made = [], 0, []
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    rounds += 1
    path = noise_wav(root.parent / f"in-{{name}}" / f"{{rounds}}.wav", size,
                     seed=zlib.crc32(f"{{name}}-{{rounds}}".encode()))
    made += [f.id for f in repo.record([FragmentSpec(path)])]
    for step in (push, pull):
        try:
            step(repo, max_attempts=attempts) if attempts and step is push else step(repo)
        except Exception as exc:
            errors.append(f"{{step.__name__}}: {{exc}}")
print(json.dumps({{"rounds": rounds, "errors": errors, "made": made}}))
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--size", type=int, default=20_000, help="bytes of media per fragment")
    parser.add_argument("--push-attempts", type=int, default=0,
                        help="max_attempts for each push (0: the client's default)")
    parser.add_argument("--client-nice", type=int, default=10, help="niceness of the client processes")
    parser.add_argument("--log", type=Path, default=None, help="keep the hub's log here")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hub-load-"))
    home = base / "home"
    home.mkdir()
    os.environ.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1"})
    os.environ.pop("HITREC_TOKEN", None)
    script = base / "client.py"
    script.write_text(CLIENT.format(tests=str(ROOT / "tests")))
    try:
        with HubProcess(base / "hub") as hub:
            assert hub.proc is not None
            url = hub.collaboration_url("load")
            samples: list[float] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append(rss_mb(hub.proc.pid))  # type: ignore[union-attr]
                    stop.wait(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            procs = {}
            for i in range(args.clients):
                name = f"user{i:02d}"
                token = hub.add_user(name, f"{name}@example.org")
                env = {**os.environ, **user_env(name.title(), f"{name}@example.org", token)}
                root = base / name
                repo = Repo.init(root)
                subprocess.run(["git", "config", "--file", str(repo.git_dir / "config"), "remote.origin.url",
                                url], check=True)
                repo.close()
                procs[name] = (root, env)
            started = time.perf_counter()
            # Clients run at a lower priority: on this 2-core box 16 client processes (and their git
            # children) would otherwise starve the hub, which on a real network has its own machine.
            running = {name: subprocess.Popen([sys.executable, str(script), str(root), name, str(args.seconds),
                                               str(args.size), str(args.push_attempts)], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              preexec_fn=(lambda: os.nice(args.client_nice)))
                       for name, (root, env) in procs.items()}
            results = {}
            for name, proc in running.items():
                out, err = proc.communicate(timeout=args.seconds + 600)
                if proc.returncode != 0:
                    raise SystemExit(f"{name} crashed:\n{err.decode()}")
                results[name] = json.loads(out)
            load_seconds = time.perf_counter() - started
            for name, (root, env) in procs.items():
                done = subprocess.run([sys.executable, "-m", "hitrec", "pull", "--json"], cwd=root, env=env,
                                      capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    raise SystemExit(f"final pull for {name} failed:\n{done.stderr}")
            stop.set()
            sampler.join()
            made = {fid for r in results.values() for fid in r["made"]}
            errors = [f"{n}: {e}" for n, r in results.items() for e in r["errors"]]
            on_hub = hub_fragment_ids(hub.collaboration_path("load"))
            incomplete = []
            for name, (root, _) in procs.items():
                repo = Repo(root)
                ids = {f.id for f in repo.fragments()}
                lacking = [f.id for f in repo.fragments() if not repo.has_media(f.media.oid)]
                if ids != made or lacking:
                    incomplete.append(f"{name}: {len(made - ids)} fragments and {len(lacking)} media missing")
                repo.close()
            log = hub.log_text()
            if args.log:
                args.log.write_text(log)
        requests = re.findall(r'"(\w+) (\S+)" (\d+) in=\d+ out=\d+ ([\d.]+)s', log)
        statuses: dict[str, int] = {}
        for _, _, status, _ in requests:
            statuses[status] = statuses.get(status, 0) + 1
        slowest = sorted(requests, key=lambda r: -float(r[3]))[:3]
        third = max(1, len(samples) // 3)
        first, last = max(samples[:third]), max(samples[-third:])
        print(f"{args.clients} clients for {args.seconds:.0f} s ({load_seconds:.1f} s with the last round): "
              f"{sum(r['rounds'] for r in results.values())} push+pull rounds, {len(made)} fragments")
        print(f"  errors: {len(errors)}   fragments on hub: {len(on_hub & made)}/{len(made)}   "
              f"clients complete: {args.clients - len(incomplete)}/{args.clients}")
        print(f"  hub requests: {len(requests)} by status {statuses}; slowest: "
              + ", ".join(f"{m} {p.split('/')[-1][:24]} {float(s):.2f}s" for m, p, _, s in slowest))
        print(f"  hub RSS: first third max {first:.0f} MB, last third max {last:.0f} MB, peak {max(samples):.0f} MB "
              f"(ratio to {RSS_LIMIT:.0f} MB limit {max(samples) / RSS_LIMIT:.2f})")
        for line in (errors + incomplete)[:20]:
            print("  !", line)
        ok = not errors and on_hub >= made and not incomplete and last - first <= 10 and max(samples) < RSS_LIMIT
        print("OK" if ok else "FAILED")
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
