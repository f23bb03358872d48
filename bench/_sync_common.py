"""Shared helpers for the sync benchmarks: a hub subprocess, client repos, memory readings."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hub_process import HubProcess  # noqa: E402
from sync_helpers import noise_wav, user_env  # noqa: E402

__all__ = ["HubProcess", "bench_hub", "hitrec", "isolated_env", "noise_wav", "peak_rss_mb", "user_env"]


@contextlib.contextmanager
def bench_hub() -> Iterator[tuple[Path, dict[str, str], HubProcess, str]]:
    """(folder, env, hub, token): a temp folder, an isolated environment for user Ada (exported to this
    process too, for in-process stores) and a running hub where she has that token."""
    compile_checkout()
    with tempfile.TemporaryDirectory(prefix="hitrec-bench-") as tmp:
        base = Path(tmp)
        env = isolated_env(base)
        with HubProcess(base / "hub") as hub:
            token = hub.add_user("ada", "ada@example.org")
            env.update(user_env("Ada", "ada@example.org", token))
            os.environ.update(env)
            yield base, env, hub, token


def compile_checkout() -> None:
    """Write this checkout's bytecode, as `pip install` does for a user: with PYTHONDONTWRITEBYTECODE
    set (as on the development machines) stale .pyc files were recompiled on every `hitrec` start,
    30-50 ms of each command (measured on a small push, 0.43 -> 0.38 s)."""
    import compileall

    compileall.compile_dir(ROOT / "hitrec", quiet=1)


def isolated_env(base: Path) -> dict[str, str]:
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1",
           "NO_COLOR": "1"}
    os.environ.update(env)
    return env


def hitrec(*args: str, cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run hitrec as a user would; returns (seconds, stdout). It is this checkout's hitrec (PYTHONPATH),
    as for the hub: the installed package may be another checkout (an editable install)."""
    full = {**os.environ, **env}
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full.get("PYTHONPATH")) if p)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hitrec", *args], cwd=cwd, env=full,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hitrec {' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stdout


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a live process, or of all waited-for children."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
