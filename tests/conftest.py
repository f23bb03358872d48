"""Shared fixtures: an isolated HOME and identity for every test, a fresh repo, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from hub_process import hub  # noqa: F401 - the `hub` fixture: a running hub with user ada


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("HITREC_AUTHOR_NAME", "Ada Tester")
    monkeypatch.setenv("HITREC_AUTHOR_EMAIL", "ada@example.org")
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
    from hitrec.cli import main

    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> CliResult:
        result = runner.invoke(_Main(main), list(args), input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


class _Main:
    """Adapter so CliRunner can call our ``main`` (which maps errors to exit codes) as a click command."""

    name = "hitrec"

    def __init__(self, main: Callable[[list[str]], None]) -> None:
        self._main = main

    def main(self, args: list[str], prog_name: str | None = None, **_: object) -> None:
        self._main(args)


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
