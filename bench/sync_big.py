"""Push and pull one big media fragment through a hub on 127.0.0.1.

    python bench/sync_big.py [--size-mb 1024]

Limits (issue #5): push >= 500 MB/s, pull >= 400 MB/s, hub and client peak memory < 150 MB each.
Each client step runs as its own `hitrec` process, timed from start to exit.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from _sync_common import HubProcess, bench_hub, hitrec, noise_wav, peak_rss_mb


def _raw_transfers(hub: HubProcess, token: str, media: Path, name: str) -> tuple[float, float]:
    """The hub's own ceiling: one streamed httpx PUT (to a fresh collaboration) and one GET hashed as it
    arrives, of the same media, with no hitrec in between."""
    import hashlib
    import time

    import httpx

    oid, nbytes = media.name, media.stat().st_size
    url = hub.collaboration_url(name)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=300) as http:
        http.post(url + "/info/lfs/objects/batch", headers={"Accept": "application/vnd.git-lfs+json"},
                  json={"operation": "upload", "objects": [{"oid": oid, "size": nbytes}]})

        def body():  # type: ignore[no-untyped-def]
            with open(media, "rb") as src:
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
    parser.add_argument("--rounds", type=int, default=2, help="best of N, hitrec and bare interleaved")
    args = parser.parse_args()
    size = args.size_mb << 20
    with bench_hub() as (base, env, hub, token):
        source = noise_wav(base / "take.wav", size, seed=1)
        hitrec("init", "a", cwd=base, env=env)
        hitrec("add", str(source), cwd=base / "a", env=env)
        source.unlink()
        [media] = [p for p in (base / "a" / ".hitrec" / "lfs" / "objects").rglob("*") if p.is_file()]
        nbytes = media.stat().st_size
        push_s, pull_s, put_s, get_s = [], [], [], []
        for r in range(args.rounds):
            url = hub.collaboration_url(f"film{r}")
            hitrec("remote", "add", "origin", url, "--replace", cwd=base / "a", env=env)
            shutil.rmtree(base / "a" / ".hitrec" / "refs" / "remotes", ignore_errors=True)
            seconds, out = hitrec("push", "--json", cwd=base / "a", env=env)
            assert json.loads(out)["media"]["bytes"] == nbytes
            push_s.append(seconds)
            seconds, out = hitrec("clone", url, f"b{r}", "--json", cwd=base, env=env)
            assert json.loads(out)["media"]["bytes"] == nbytes
            pull_s.append(seconds)
            shutil.rmtree(base / f"b{r}")
            bare_put, bare_get = _raw_transfers(hub, token, media, f"raw{r}")
            put_s.append(bare_put)
            get_s.append(bare_get)
        client_mem = peak_rss_mb()
        assert hub.proc is not None
        hub_mem = peak_rss_mb(hub.proc.pid)
        mb = nbytes / 1e6
        push_rate, pull_rate = mb / min(push_s), mb / min(pull_s)
        print(f"media: {mb:.0f} MB; best of {args.rounds}; each hitrec figure is a whole command, start to exit")
        print(f"push : {min(push_s):.2f} s  {push_rate:.0f} MB/s  (limit >= 500 MB/s: {push_rate / 500:.2f}x; "
              f"a bare streamed PUT of the same bytes to the same hub: {mb / min(put_s):.0f} MB/s, "
              f"hitrec/bare {min(put_s) / min(push_s):.2f})")
        print(f"pull : {min(pull_s):.2f} s  {pull_rate:.0f} MB/s  (limit >= 400 MB/s: {pull_rate / 400:.2f}x; "
              f"a bare GET + SHA-256 from the same hub: {mb / min(get_s):.0f} MB/s, hitrec/bare "
              f"{min(get_s) / min(pull_s):.2f})")
        print(f"peak memory: client {client_mem:.0f} MB, hub {hub_mem:.0f} MB (limit < 150 MB each)")


if __name__ == "__main__":
    main()
