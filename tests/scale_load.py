"""Clients for the several-hub tests and bench: each a process that records, pushes and pulls in a loop.

    results = run_clients(tmp_path, admin_root, urls, clients=16, rounds=2, seconds=20)

Client ``i`` works on collaboration ``urls[i % len(urls)]``; each round records one fragment, pushes
and pulls (errors are collected, not raised); a client stops after ``rounds`` rounds (0: no limit) or
``seconds``. ``admin_root`` is the hubs' root (users are added there, as ``hitrec hub user add`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sync_helpers import user_env

from hitrec.hub.users import UserStore
from hitrec.store import Repo

CLIENT = r"""
import json, sys, time, zlib
from pathlib import Path
sys.path.insert(0, {tests!r})
from sync_helpers import noise_wav
from hitrec.store import FragmentSpec, Repo
from hitrec.ops.push import push
from hitrec.ops.pull import pull
root, name = Path(sys.argv[1]), sys.argv[2]
rounds_max, seconds, size, tag = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
repo = Repo(root)
errors, rounds, made, pushes, pulls = [], 0, [], 0, 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline and (not rounds_max or rounds < rounds_max):
    rounds += 1
    path = noise_wav(root.parent / f"in-{{name}}" / f"{{tag}}{{rounds}}.wav", size,
                     seed=zlib.crc32(f"{{name}}-{{tag}}{{rounds}}".encode()))
    made += [f.id for f in repo.record([FragmentSpec(path)])]
    for step in (push, pull):
        try:
            step(repo)
            if step is push:
                pushes += 1
            else:
                pulls += 1
        except Exception as exc:
            errors.append(f"{{step.__name__}}: {{exc}}")
print(json.dumps({{"rounds": rounds, "errors": errors, "made": made, "pushes": pushes, "pulls": pulls}}))
"""


Prepared = dict[str, tuple[Path, dict[str, str], str]]  # client name -> (repo root, env, url)


def prepare_clients(base: Path, admin_root: Path, urls: list[str], clients: int) -> Prepared:
    """Users, repos and environments for ``clients`` clients: name -> (repo root, env, url)."""
    users = UserStore(admin_root)
    prepared = {}
    for i in range(clients):
        name = f"user{i:02d}"
        _, token = users.add(name, f"{name}@example.org")
        env = {**os.environ, **user_env(name.title(), f"{name}@example.org", token)}
        root = base / name
        url = urls[i % len(urls)]
        repo = Repo.init(root)
        subprocess.run(["git", "config", "--file", str(repo.git_dir / "config"), "remote.origin.url", url],
                       check=True)
        repo.close()
        prepared[name] = (root, env, url)
    return prepared


def start_clients(base: Path, prepared: Prepared, *, rounds: int, seconds: float, size: int = 20_000,
                  nice: int = 0, tag: str = "") -> dict[str, subprocess.Popen[bytes]]:
    """Start the clients; ``tag`` makes a later run's media differ from an earlier one's."""
    script = base / "scale_client.py"
    script.write_text(CLIENT.format(tests=str(Path(__file__).resolve().parent)))
    preexec = (lambda: os.nice(nice)) if nice else None
    return {name: subprocess.Popen([sys.executable, str(script), str(root), name, str(rounds), str(seconds),
                                    str(size), tag], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=preexec)
            for name, (root, env, _) in prepared.items()}


def collect(procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> dict[str, dict[str, object]]:
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"{name} crashed:\n{err.decode()}")
        results[name] = json.loads(out)
    return results


def made_by_url(prepared: Prepared, results: dict[str, dict[str, object]]) -> dict[str, set[str]]:
    """The fragments recorded for each collaboration url."""
    made: dict[str, set[str]] = {}
    for name, (_, _, url) in prepared.items():
        made.setdefault(url, set()).update(results[name]["made"])  # type: ignore[arg-type]
    return made


def clone_ids(url: str, dest: Path, env: dict[str, str]) -> tuple[set[str], list[str]]:
    """Clone ``url`` with the hitrec CLI: the fragment ids, and those whose media is missing."""
    done = subprocess.run([sys.executable, "-m", "hitrec", "clone", url, str(dest)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    repo = Repo(dest)
    try:
        fragments = list(repo.fragments())
        return {f.id for f in fragments}, [f.id for f in fragments if not repo.has_media(f.media.oid)]
    finally:
        repo.close()
