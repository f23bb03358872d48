"""`hitrec demo`: the README's main job runs end to end and leaves a clean repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_hitrec


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from conftest import IDENTITY

    target = tmp_path / "demo"
    # a newcomer's first command: no identity configured anywhere (the suite's own is taken away)
    env = {k: v for k, v in os.environ.items() if k not in IDENTITY}
    r = subprocess.run([sys.executable, "-m", "hitrec", "demo", str(target)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "demo complete" in r.stdout
    assert "wrote piece.otio: 6 OTIO tracks, 8 clips, 2 transitions, 6 fragments" in r.stdout, r.stdout
    assert (target / "piece.otio").stat().st_size > 0
    # phone media (issue 12): an iPhone photo is an image, a portrait clip is turned, a GIF moves, a cut FLAC is refused
    assert "photo.heic     -> image" in r.stdout and "36x64 turned 90°" in r.stdout, r.stdout
    assert "3 frames" in r.stdout and "truncated or corrupt FLAC" in r.stdout, r.stdout
    studio = target / "studio"
    log = json.loads(run_hitrec("log", "--json", cwd=studio).stdout)
    authors = {f["author"]["email"] for f in log}
    assert len(authors) >= 4  # several contributors
    assert any(f["parents"] for f in log)  # at least one derivative or remix
    fsck = run_hitrec("fsck", cwd=studio)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    # running it again into the same folder needs --force
    again = run_hitrec("demo", str(target), cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
