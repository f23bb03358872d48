"""Hub throughput for one large media object, against the issue's limits and the measured peers.

    python bench/hub_transfer.py [--size-mb 1024] [--rounds 3] [--skip-git-lfs] [--dir DIR]

Starts a real hub (``python -m hitrec hub serve``) on 127.0.0.1 and moves one random media file:
- raw httpx PUT (streamed from the file, 1 MiB chunks) and raw-socket ``sendfile`` PUT (the hub's own
  ceiling, no client overhead); the limit is 500 MB/s for pushing;
- raw httpx GET streamed and hashed (what a verifying client does), and a raw-socket GET hashed with
  ``recv_into`` (the hub's ceiling); the limit is 400 MB/s for pulling;
- the real git-lfs client: ``git lfs push`` and ``git clone`` + ``git lfs pull`` of a plain repo
  (peers measured on this machine: git-lfs to giftless 1.47 s for 864 MB = 588 MB/s push; ``git lfs
  pull`` from it 14.6 s).
Prints the best of ``--rounds`` for each, the ratio to the limit, and the hub's peak RSS (limit 150 MB).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from hub_git import git, lfs_work_tree  # noqa: E402
from hub_process import HubProcess  # noqa: E402

PUSH_LIMIT = 500.0  # MB/s
PULL_LIMIT = 400.0
RSS_LIMIT = 150.0  # MB


def make_media(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            # vary each MiB so no layer can deduplicate
            chunk = written.to_bytes(8, "little") + chunk[8:] if len(chunk) > 8 else chunk
            fh.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    return digest.hexdigest()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drop(hub: HubProcess, name: str, oid: str) -> None:
    hub.media_path(name, oid).unlink(missing_ok=True)


def httpx_put(url: str, path: Path, auth: tuple[str, str]) -> float:
    def chunks():
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk

    started = time.perf_counter()
    with httpx.Client(auth=auth, timeout=600) as client:
        response = client.put(url, content=chunks(), headers={"Content-Length": str(path.stat().st_size)})
    response.raise_for_status()
    return time.perf_counter() - started


def sendfile_put(hub: HubProcess, target: str, path: Path, token: str) -> float:
    port = int(hub.url.rsplit(":", 1)[1])
    basic = base64.b64encode(f"ada:{token}".encode()).decode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(path, "rb") as fh:
        sock.sendall(f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {basic}\r\n"
                     f"Content-Length: {path.stat().st_size}\r\nConnection: close\r\n\r\n".encode())
        sock.sendfile(fh)
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    if b" 200 " not in status:
        raise SystemExit(f"sendfile PUT failed: {status!r}")
    return time.perf_counter() - started


def socket_get(hub: HubProcess, target: str, oid: str, token: str) -> float:
    """GET read with recv_into and hashed: the hub's own ceiling, with almost no client overhead."""
    port = int(hub.url.rsplit(":", 1)[1])
    basic = base64.b64encode(f"ada:{token}".encode()).decode()
    buffer = bytearray(1 << 20)
    digest = hashlib.sha256()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {basic}\r\n"
                     "Connection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        digest.update(rest)
        with memoryview(buffer) as view:
            while received := sock.recv_into(buffer):
                digest.update(view[:received])
    if digest.hexdigest() != oid:
        raise SystemExit("downloaded bytes do not hash to the oid")
    return time.perf_counter() - started


def httpx_get(url: str, oid: str, auth: tuple[str, str]) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with httpx.Client(auth=auth, timeout=600) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != oid:
        raise SystemExit("downloaded bytes do not hash to the oid")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-git-lfs", action="store_true")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the hub and files (a disk)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hub-transfer-", dir=args.dir))
    home = base / "home"
    home.mkdir()
    os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"})
    size = args.size_mb << 20
    try:
        media = base / "media.bin"
        oid = make_media(media, size)
        mb = size / 1e6
        with HubProcess(base / "hub") as hub:
            token = hub.add_user("ada", "ada@example.org")
            auth = ("ada", token)
            hub.create("bench")
            url = f"{hub.collaboration_url('bench')}/info/lfs/objects/{oid}"
            target = f"/bench.git/info/lfs/objects/{oid}"
            results: dict[str, float] = {}
            for _ in range(args.rounds):
                drop(hub, "bench", oid)
                results["push httpx"] = min(results.get("push httpx", 1e9), httpx_put(url, media, auth))
                drop(hub, "bench", oid)
                results["push sendfile"] = min(results.get("push sendfile", 1e9),
                                               sendfile_put(hub, target, media, token))
                results["pull httpx"] = min(results.get("pull httpx", 1e9), httpx_get(url, oid, auth))
                results["pull socket"] = min(results.get("pull socket", 1e9), socket_get(hub, target, oid, token))
            if not args.skip_git_lfs:
                work = lfs_work_tree(base / "work")
                shutil.copyfile(media, work / "take.bin")
                git("add", "take.bin", cwd=work)
                git("commit", "-q", "-m", "take", cwd=work)
                lfs_url = hub.collaboration_url("gitlfs")
                for _ in range(args.rounds):
                    shutil.rmtree(hub.collaboration_path("gitlfs"), ignore_errors=True)
                    started = time.perf_counter()
                    git("lfs", "push", "--all", lfs_url, cwd=work, token=token, timeout=1200)
                    results["push git-lfs"] = min(results.get("push git-lfs", 1e9), time.perf_counter() - started)
                git("push", "-q", lfs_url, "main", cwd=work, token=token)
                for i in range(args.rounds):
                    clone = base / f"clone{i}"
                    git("clone", "-q", lfs_url, str(clone), token=token, env={"GIT_LFS_SKIP_SMUDGE": "1"})
                    git("lfs", "install", "--local", cwd=clone)
                    started = time.perf_counter()
                    git("lfs", "pull", cwd=clone, token=token, timeout=1200)
                    results["pull git-lfs"] = min(results.get("pull git-lfs", 1e9), time.perf_counter() - started)
                    shutil.rmtree(clone)
            hub_rss = peak_rss_mb(hub.proc.pid) if hub.proc else 0.0
        print(f"one {mb:.0f} MB media object over 127.0.0.1, best of {args.rounds}:")
        for name, seconds in results.items():
            rate = mb / seconds
            limit = PUSH_LIMIT if name.startswith("push") else PULL_LIMIT
            print(f"  {name:14s} {seconds:6.2f} s  {rate:7.0f} MB/s  ratio to limit ({limit:.0f} MB/s) "
                  f"{rate / limit:.2f}")
        print(f"  hub peak RSS {hub_rss:.0f} MB  ratio to limit ({RSS_LIMIT:.0f} MB) {hub_rss / RSS_LIMIT:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
