"""Push and pull one big fragment through a hub whose media lives in SeaweedFS (S3), against a bare
presigned PUT/GET of the same bytes to the same SeaweedFS, in the same run.

    python bench/sync_s3.py [--size-mb 1024] [--rounds 2]

Limits (issue #14): hitrec push and pull at least 0.9x the bare presigned PUT/GET (the bytes go straight
to the store either way: the hub only answers the batch, the verify and git), and the hub's CPU time
under 0.05 s per GiB moved (from /proc/<hub>/stat before and after). Each hitrec step is its own process
timed from start to exit (push: `hitrec push URL` to a fresh collaboration; pull: `hitrec clone URL`),
so its start-up and git work count against it; rounds alternate bare and hitrec, best of N each.
The bare GET hashes as it reads, as hitrec verifies what it downloads; the bare PUT carries the same
signed checksum header.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import time
from pathlib import Path

from _sync_common import compile_checkout, hitrec, isolated_env, noise_wav, user_env

GIB = 1 << 30


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's own user+system CPU, that of its waited-for children: git, the hook)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    return own, children


def _bare(store, media: Path, oid: str, size: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """One presigned PUT streamed from the file in 1 MiB blocks, and one presigned GET read into a
    reused 1 MiB buffer and hashed, over http.client: the leanest client Python has."""
    import http.client
    from urllib.parse import urlsplit

    def connect(url: str) -> tuple[http.client.HTTPConnection, str]:
        parts = urlsplit(url)
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=600), f"{parts.path}?{parts.query}"

    url, headers = store.presigned_put(oid, size, ttl=600)
    conn, target = connect(url)
    started = time.perf_counter()
    conn.putrequest("PUT", target, skip_accept_encoding=True)
    for key, value in {**headers, "Content-Length": str(size)}.items():
        conn.putheader(key, value)
    conn.endheaders()
    with open(media, "rb") as src:
        while block := src.read(1 << 20):
            conn.sock.sendall(block)
    answer = conn.getresponse()
    answer.read()
    put_s = time.perf_counter() - started
    assert answer.status == 200, answer.status
    conn.close()
    conn, target = connect(store.presigned_get(oid, ttl=600))
    started = time.perf_counter()
    conn.request("GET", target)
    answer = conn.getresponse()
    digest = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    while n := answer.readinto(buffer):
        digest.update(view[:n])
    get_s = time.perf_counter() - started
    conn.close()
    assert digest.hexdigest() == oid
    return put_s, get_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mb << 20
    compile_checkout()
    import tempfile

    from s3_hub import S3Hub
    from seaweed import Seaweed

    with tempfile.TemporaryDirectory(prefix="hitrec-bench-s3-") as tmp:
        base = Path(tmp)
        env = isolated_env(base)
        with Seaweed(base / "weed") as weed, S3Hub(base / "hub", weed) as hub:
            token = hub.add_user("ada", "ada@example.org")
            env.update(user_env("Ada", "ada@example.org", token))
            source = noise_wav(base / "take.wav", size, seed=1)
            oid = hashlib.sha256(source.read_bytes()).hexdigest() if size <= GIB else ""
            hitrec("init", str(base / "a"), cwd=base, env=env)
            hitrec("add", str(source), cwd=base / "a", env=env)
            nbytes = source.stat().st_size
            if not oid:
                from hitrec.store.media_store import sha256_file

                oid = sha256_file(source)
            assert hub.proc is not None
            pid = hub.proc.pid
            ours_put, ours_get, bare_put, bare_get, cpu_own, cpu_all = [], [], [], [], [], []
            for round_ in range(args.rounds):
                bare_store = hub.media_store(f"bare-{round_}")
                if round_ % 2 == 0:  # alternate which goes first
                    put_s, get_s = _bare(bare_store, source, oid, nbytes)
                    bare_put.append(put_s)
                    bare_get.append(get_s)
                    bare_store.remove(oid)
                name = f"film-{round_}"
                own0, kids0 = _cpu_seconds(pid)
                seconds, _ = hitrec("push", hub.collaboration_url(name), cwd=base / "a", env=env)
                ours_put.append(seconds)
                dest = base / f"b{round_}"
                seconds, _ = hitrec("clone", hub.collaboration_url(name), str(dest), cwd=base, env=env)
                ours_get.append(seconds)
                own1, kids1 = _cpu_seconds(pid)
                cpu_own.append((own1 - own0) / (2 * nbytes / GIB))  # per GiB moved (up and down)
                cpu_all.append((own1 + kids1 - own0 - kids0) / (2 * nbytes / GIB))
                shutil.rmtree(dest)
                hub.media_store(name).remove(oid)
                if round_ % 2 == 1:
                    put_s, get_s = _bare(bare_store, source, oid, nbytes)
                    bare_put.append(put_s)
                    bare_get.append(get_s)
                    bare_store.remove(oid)
                print(f"round {round_ + 1}: bare PUT {bare_put[-1]:.2f}s GET {bare_get[-1]:.2f}s | hitrec push "
                      f"{ours_put[-1]:.2f}s clone {ours_get[-1]:.2f}s | hub CPU {cpu_own[-1]:.4f} s/GiB "
                      f"(with git and the hook {cpu_all[-1]:.4f})", flush=True)
            assert not hub.object_route_lines(), "media passed through the hub"
    mb = nbytes / 1e6
    put_ratio = min(bare_put) / min(ours_put)
    get_ratio = min(bare_get) / min(ours_get)
    print(f"\n{args.size_mb} MiB fragment, best of {args.rounds}:")
    print(f"  push : hitrec {mb / min(ours_put):7.0f} MB/s   bare presigned PUT {mb / min(bare_put):7.0f} MB/s   "
          f"ratio {put_ratio:.2f}x (limit >= 0.9x: {'meets' if put_ratio >= 0.9 else 'MISSES'})")
    print(f"  pull : hitrec {mb / min(ours_get):7.0f} MB/s   bare presigned GET {mb / min(bare_get):7.0f} MB/s   "
          f"ratio {get_ratio:.2f}x (limit >= 0.9x: {'meets' if get_ratio >= 0.9 else 'MISSES'})")
    print(f"  hub CPU: {min(cpu_own):.4f} s per GiB (limit < 0.05: {'meets' if min(cpu_own) < 0.05 else 'MISSES'}); "
          f"with its git and hook children {min(cpu_all):.4f} s per GiB")


if __name__ == "__main__":
    main()
