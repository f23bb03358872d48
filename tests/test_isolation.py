"""The suite runs on a machine with no git identity, an empty HOME and no caches (the newcomer path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = '''
import pytest

from media import make_wav


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from hitrec.store import FragmentSpec, Repo
    from hitrec.media.probe import probe

    root = tmp_path_factory.mktemp("repo")
    repo = Repo.init(root)
    wav = make_wav(root / "a.wav")
    fragment, = repo.record([FragmentSpec(wav, media=probe(wav))])
    repo.close()
    return fragment


def test_module_fixture_recorded_as_the_test_identity(recorded):
    assert recorded.author.email == "ada@example.org"


def test_no_global_git_identity():
    import subprocess
    found = subprocess.run(["git", "config", "--global", "user.email"], capture_output=True, text=True)
    assert found.stdout == ""
'''


def test_suite_needs_no_global_identity(tmp_path: Path) -> None:
    """A module-scoped fixture records a fragment before any function fixture runs: on a machine with no
    git identity (empty HOME, no global git config) it must still find the suite's identity."""
    tests = Path(__file__).parent
    (tmp_path / "test_probe_isolation.py").write_text(PROBE)
    home = tmp_path / "empty-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HITREC_", "GIT_", "XDG_"))}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL="/dev/null",
               PYTHONPATH=os.pathsep.join([str(tests), env.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
                          "-p", "no:xdist", "-p", "conftest", "--rootdir", str(tmp_path),
                          str(tmp_path / "test_probe_isolation.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    assert list(home.iterdir()) == []  # nothing written to the real HOME either
