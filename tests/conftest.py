"""Shared fixtures: an isolated HOME and identity for every test, a fresh repo, a CLI runner.

The suite never depends on the machine it runs on: before any fixture (module- and session-scoped ones
included) and any subprocess (hitrec commands, the hub), this module points HOME, XDG_CONFIG_HOME and
XDG_CACHE_HOME at an empty folder of its own, hides the global and system git config, and sets the test
identity. `isolated_env` then gives each test a fresh HOME of its own on top.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

IDENTITY = {"HITREC_AUTHOR_NAME": "Ada Tester", "HITREC_AUTHOR_EMAIL": "ada@example.org"}


def _isolate_process() -> Path:
    """Run at import, i.e. at collection, in every xdist worker: the machine's config stays out."""
    home = Path(tempfile.mkdtemp(prefix="hitrec-test-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    (home / ".gitconfig").touch()
    os.environ.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1", "COLUMNS": "200", **IDENTITY,
    })
    for var in ("HITREC_TOKEN", "HITREC_USER", "HITREC_HUB_ROOT", "GIT_DIR", "GIT_WORK_TREE",
                "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "EMAIL", "GIT_CONFIG", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"):
        os.environ.pop(var, None)
    return home


SESSION_HOME = _isolate_process()

# A run started in the background of a shell without job control (`cmd &` in a script) inherits SIGINT
# ignored, and so does every process it starts: then each Ctrl-C test "interrupts" a hitrec that never
# sees the signal (seen here: seven tests failed that way). Python's own handler in the test process makes
# every child start with the default disposition again (exec resets handlers; only "ignored" is inherited).
signal.signal(signal.SIGINT, signal.default_int_handler)

sys.path.insert(0, str(Path(__file__).parent))

from hub_process import hub  # noqa: E402, F401 - the `hub` fixture: a running hub with user ada
from seaweed import seaweed  # noqa: E402, F401 - the session's real SeaweedFS (S3 on 127.0.0.1)


@pytest.fixture(scope="session", autouse=True)
def machine_config_hidden() -> None:
    """Fails the whole run if the machine's git identity can reach a test (it would pass here, and fail
    on a machine without one): git must see no global or system user."""
    for key in ("user.name", "user.email"):
        found = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True,
                               cwd=SESSION_HOME)
        assert found.stdout == "", f"the machine's git {key} leaks into the suite: {found.stdout.strip()}"
    assert Path.home() == SESSION_HOME


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))  # git reads what hitrec reads
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    for var, value in IDENTITY.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("HITREC_TOKEN", "GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised hitrec project folder, also the current directory."""
    from hitrec.store import Repo

    root = tmp_path / "project"
    Repo.init(root)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Run hitrec in-process like a user would: ``cli("add", "x.wav")`` returns exit code and output."""
    from hitrec.cli.dispatch import run as run_command  # the process entry `main` would touch SIGINT

    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> CliResult:
        result = runner.invoke(_Main(run_command), list(args), input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


class _Main:
    """Adapter so CliRunner can call our ``run`` (which maps errors to exit codes) as a click command."""

    name = "hitrec"

    def __init__(self, run: Callable[[list[str]], int]) -> None:
        self._run = run

    def main(self, args: list[str], prog_name: str | None = None, **_: object) -> None:
        code = self._run(args)
        if code:
            raise SystemExit(code)


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.output = stdout + stderr

    def json(self) -> object:
        import json

        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"CliResult(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def run_hitrec(*args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = False,
               timeout: float = 120, text: bool = True) -> subprocess.CompletedProcess:
    """Run hitrec as a real subprocess (for crash, concurrency and startup tests)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "hitrec", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=text, check=check, timeout=timeout)
