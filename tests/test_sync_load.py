"""A small load test: several clients pushing and pulling at once against one hub for a bounded time.
(bench/sync_load.py runs the big one: 16 clients.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hub_process import HubProcess
from sync_helpers import hub_fragment_ids, user_env

from hitrec.store import Repo

CLIENT = r"""
import json, sys, time, zlib
from pathlib import Path
sys.path.insert(0, {tests!r})
from sync_helpers import noise_wav
from hitrec.store import FragmentSpec, Repo
from hitrec.ops.push import push
from hitrec.ops.pull import pull
root, name, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
repo = Repo(root)
errors, rounds, made = [], 0, []
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    rounds += 1
    seed = zlib.crc32(f"{{name}}-{{rounds}}".encode())
    path = noise_wav(root.parent / f"in-{{name}}" / f"{{rounds}}.wav", 20_000, seed=seed)
    made += [f.id for f in repo.record([FragmentSpec(path)])]
    for step in (push, pull):
        try:
            step(repo)
        except Exception as exc:
            errors.append(f"{{step.__name__}}: {{exc}}")
print(json.dumps({{"rounds": rounds, "errors": errors, "made": made}}))
"""


def run_load(tmp_path: Path, hub: HubProcess, clients: int, seconds: float) -> dict[str, object]:
    url = hub.collaboration_url("load")
    script = tmp_path / "client.py"
    script.write_text(CLIENT.format(tests=str(Path(__file__).parent)))
    procs = {}
    for i in range(clients):
        name = f"user{i}"
        token = hub.add_user(name, f"{name}@example.org")
        env = {**os.environ, **user_env(name.title(), f"{name}@example.org", token)}
        root = tmp_path / name
        repo = Repo.init(root)
        subprocess.run(["git", "config", "--file", str(repo.git_dir / "config"), "remote.origin.url", url],
                       check=True)
        repo.close()
        procs[name] = (subprocess.Popen([sys.executable, str(script), str(root), name, str(seconds)],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE), env)
    results = {}
    for name, (proc, _) in procs.items():
        out, err = proc.communicate(timeout=seconds + 300)
        assert proc.returncode == 0, err.decode()
        results[name] = json.loads(out)
    made = {fid for r in results.values() for fid in r["made"]}
    errors = [e for r in results.values() for e in r["errors"]]
    for name, (_, env) in procs.items():  # a final pull everywhere
        done = subprocess.run([sys.executable, "-m", "hitrec", "pull", "--json"], cwd=tmp_path / name, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    on_hub = hub_fragment_ids(hub.collaboration_path("load"))
    everywhere = {}
    for name in procs:
        repo = Repo(tmp_path / name)
        everywhere[name] = {f.id for f in repo.fragments()}
        missing_media = [f.id for f in repo.fragments() if not repo.has_media(f.media.oid)]
        assert missing_media == [], name
        repo.close()
    return {"made": made, "errors": errors, "on_hub": on_hub, "everywhere": everywhere,
            "rounds": sum(r["rounds"] for r in results.values())}


@pytest.mark.slow
def test_small_load_zero_errors_nothing_lost(tmp_path: Path) -> None:
    with HubProcess(tmp_path / "hub") as hub:
        started = time.monotonic()
        out = run_load(tmp_path, hub, clients=4, seconds=4)
        assert time.monotonic() - started < 120
    assert out["errors"] == []
    assert out["rounds"] >= 4
    assert out["on_hub"] == out["made"]
    for name, ids in out["everywhere"].items():  # type: ignore[union-attr]
        assert ids == out["made"], name
