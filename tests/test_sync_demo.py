"""The hub step of `hitrec demo`: two contributors push and pull through an embedded hub, which stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_hitrec


@pytest.mark.slow
def test_demo_hub_step(tmp_path: Path) -> None:
    r = run_hitrec("demo", str(tmp_path / "demo"), cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    out = " ".join(r.stdout.split())
    assert "Sharing through a hub" in out
    assert "hitrec hub serve --port 0 --workers 2" in out  # the demo's hub runs two processes
    assert "had 1 new fragment(s): merged by union" in out
    assert "both repos hold the same" in out and ": yes" in out
    assert "hrt_" not in r.stdout + r.stderr  # tokens are never shown
    studio = json.loads(run_hitrec("log", "--json", cwd=tmp_path / "demo" / "studio").stdout)
    maya = json.loads(run_hitrec("log", "--json", cwd=tmp_path / "demo" / "maya").stdout)
    assert {f["id"] for f in studio} == {f["id"] for f in maya}
    assert run_hitrec("fsck", cwd=tmp_path / "demo" / "maya").returncode == 0
    users = json.loads((tmp_path / "demo" / "hub" / "users.json").read_text())
    assert "hrt_" not in json.dumps(users)  # stored hashed
