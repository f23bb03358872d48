"""Push and pull one big media fragment through a hub on 127.0.0.1.

    python bench/sync_big.py [--size-mb 1024]

Limits (issue #5): push >= 500 MB/s, pull >= 400 MB/s, hub and client peak memory < 150 MB each.
Each client step runs as its own `hitrec` process, timed from start to exit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _sync_common import HubProcess, hitrec, isolated_env, noise_wav, peak_rss_mb, user_env


def _raw_transfers(hub: HubProcess, token: str, repo_root: Path, nbytes: int) -> tuple[float, float]:
    """The hub's own ceiling: one streamed httpx PUT (to a fresh collaboration) and one GET hashed as it
    arrives, of the same media, with no hitrec in between."""
    import hashlib
    import time

    import httpx

    [path] = [p for p in (repo_root / ".hitrec" / "lfs" / "objects").rglob("*") if p.is_file()]
    oid = path.name
    url = hub.collaboration_url("raw")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=300) as http:
        http.post(url + "/info/lfs/objects/batch", headers={"Accept": "application/vnd.git-lfs+json"},
                  json={"operation": "upload", "objects": [{"oid": oid, "size": nbytes}]})

        def body():  # type: ignore[no-untyped-def]
            with open(path, "rb") as src:
                while block := src.read(1 << 20):
                    yield block

        started = time.perf_counter()
        done = http.put(f"{url}/info/lfs/objects/{oid}", content=body(), headers={"Content-Length": str(nbytes)})
        put_s = time.perf_counter() - started
        assert done.status_code == 200, done.text
        started = time.perf_counter()
        digest = hashlib.sha256()
        with http.stream("GET", f"{url}/info/lfs/objects/{oid}") as got:
            for block in got.iter_raw():
                digest.update(block)
        get_s = time.perf_counter() - started
        assert digest.hexdigest() == oid
    return put_s, get_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mb << 20
    with tempfile.TemporaryDirectory(prefix="hitrec-bench-") as tmp:
        base = Path(tmp)
        env = isolated_env(base)
        with HubProcess(base / "hub") as hub:
            token = hub.add_user("ada", "ada@example.org")
            env.update(user_env("Ada", "ada@example.org", token))
            media = noise_wav(base / "take.wav", size, seed=1)
            nbytes = media.stat().st_size
            hitrec("init", "a", cwd=base, env=env)
            hitrec("add", str(media), cwd=base / "a", env=env)
            media.unlink()
            hitrec("remote", "add", "origin", hub.collaboration_url("film"), cwd=base / "a", env=env)
            push_s, out = hitrec("push", "--json", cwd=base / "a", env=env)
            assert json.loads(out)["media"]["bytes"] == nbytes
            push_mem = peak_rss_mb()
            pull_s, out = hitrec("clone", hub.collaboration_url("film"), "b", "--json", cwd=base, env=env)
            assert json.loads(out)["media"]["bytes"] == nbytes
            client_mem = peak_rss_mb()
            raw_put_s, raw_get_s = _raw_transfers(hub, token, base / "a", nbytes)
            assert hub.proc is not None
            hub_mem = peak_rss_mb(hub.proc.pid)
        mb = nbytes / 1e6
        push_rate, pull_rate = mb / push_s, mb / pull_s
        print(f"media: {mb:.0f} MB (each figure is a whole `hitrec` command, start to exit)")
        print(f"push : {push_s:.2f} s  {push_rate:.0f} MB/s  (limit >= 500 MB/s: {push_rate / 500:.2f}x; "
              f"a bare streamed PUT of the same bytes to the same hub: {mb / raw_put_s:.0f} MB/s, "
              f"hitrec/bare {raw_put_s / push_s:.2f})")
        print(f"pull : {pull_s:.2f} s  {pull_rate:.0f} MB/s  (limit >= 400 MB/s: {pull_rate / 400:.2f}x; "
              f"a bare GET + SHA-256 from the same hub: {mb / raw_get_s:.0f} MB/s, hitrec/bare "
              f"{raw_get_s / pull_s:.2f})")
        print(f"peak memory: client {client_mem:.0f} MB, hub {hub_mem:.0f} MB (limit < 150 MB each; "
              f"push client {push_mem:.0f} MB)")


if __name__ == "__main__":
    main()
