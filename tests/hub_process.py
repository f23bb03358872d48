"""A real hub for tests and benchmarks: ``python -m hitrec hub serve`` in a subprocess on 127.0.0.1.

    from hub_process import HubProcess

    with HubProcess(tmp_path / "hub") as hub:            # started, answering, on a free port
        token = hub.add_user("ada", "ada@example.org")  # prints nothing; returns the token
        url = hub.collaboration_url("film")              # http://127.0.0.1:PORT/film.git
        hub.create("film", author_check=False)           # optional: a first push creates it too
        hub.revoke("ada")                                # takes effect at once
        hub.log_text()                                   # what the hub logged so far

Options: ``public_read=True``, ``extra_args=["--max-object-size", "1M"]``, ``env={...}``, ``log_name``.
A pytest fixture ``hub`` (a started HubProcess with user ``ada`` <ada@example.org>; tokens in
``hub.tokens``) is defined below: ``from hub_process import hub  # noqa: F401`` in a test module.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

_URL = re.compile(r"at (https?://127\.0\.0\.1:[0-9]+)/")


class HubProcess:
    def __init__(self, root: Path, *, public_read: bool = False, extra_args: list[str] | tuple[str, ...] = (),
                 env: dict[str, str] | None = None, host: str = "127.0.0.1", log_name: str | None = None) -> None:
        self.root = Path(root)
        self.public_read = public_read
        self.extra_args = list(extra_args)
        self.env = env or {}
        self.host = host
        self.url = ""
        self.tokens: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        # several hubs on one root (tests/test_hub_scale.py) each need a log of their own: ``log_name``
        self.log_path = self.root.parent / f"{log_name or self.root.name}.log"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 30) -> HubProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "hitrec", "hub", "serve", "--root", str(self.root),
                "--host", self.host, "--port", "0", *self.extra_args]
        if self.public_read:
            args.append("--public-read")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "1000", **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")) if p)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        offset = self._log.tell()  # a restarted hub appends: look only at what this one writes
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_text()}")
            match = _URL.search(self.log_path.read_bytes()[offset:].decode("utf-8", "replace"))
            if match:
                self.url = match.group(1)
                try:
                    if httpx.get(self.url + "/", timeout=2, verify=False).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"hub did not answer within {timeout} s:\n{self.log_text()}")

    def stop(self, timeout: float = 10) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin (the same code `hitrec hub user ...` runs; the hub notices at once) -----------------
    def add_user(self, name: str, email: str) -> str:
        from hitrec.hub.users import UserStore

        _, token = UserStore(self.root).add(name, email)
        self.tokens[name] = token
        return token

    def new_token(self, name: str) -> str:
        from hitrec.hub.users import UserStore

        token = UserStore(self.root).new_token(name)
        self.tokens[name] = token
        return token

    def revoke(self, name: str) -> None:
        from hitrec.hub.users import UserStore

        UserStore(self.root).revoke(name)

    def create(self, name: str, *, author_check: bool = True) -> str:
        from hitrec.hub import repos

        repos.create(self.root, name, author_check=author_check, exist_ok=True)
        return self.collaboration_url(name)

    # -- addresses ------------------------------------------------------------------------------
    def collaboration_url(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def collaboration_path(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def media_path(self, name: str, oid: str) -> Path:
        return self.collaboration_path(name) / "lfs" / "objects" / oid[:2] / oid[2:4] / oid

    def catalog_head(self, name: str) -> str | None:
        done = subprocess.run(["git", "--git-dir", str(self.collaboration_path(name)), "rev-parse", "--verify",
                               "-q", "refs/heads/main"], capture_output=True, text=True, check=False)
        return done.stdout.strip() or None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A running hub with user ``ada`` <ada@example.org> (``hub.tokens["ada"]``)."""
    with HubProcess(tmp_path / "hub") as running:
        running.add_user("ada", "ada@example.org")
        yield running


@contextlib.contextmanager
def module_hub(base: Path, *users: str, collaborations: tuple[str, ...] = (),
               extra_args: list[str] | tuple[str, ...] = ()) -> Iterator[HubProcess]:
    """A hub shared by a test module's tests (HOME in ``base``): each of ``users`` as <NAME@example.org>,
    ``collaborations`` created. Once they all ran, no token may be in its log."""
    with HubProcess(base / "hub", env={"HOME": str(base)}, extra_args=extra_args) as running:
        for name in users:
            running.add_user(name, f"{name}@example.org")
        for name in collaborations:
            running.create(name)
        yield running
    log = running.log_text()
    assert "hrt_" not in log
    for token in running.tokens.values():
        assert token not in log


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
