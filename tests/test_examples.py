"""examples/run.sh runs end to end: three people, a hub, three timelines, credits, everyone in sync."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import run_hitrec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_the_example_collaboration_runs_end_to_end(tmp_path: Path) -> None:
    work = tmp_path / "example"
    env = {**os.environ, "PYTHON": sys.executable}
    for var in ("HITREC_AUTHOR_NAME", "HITREC_AUTHOR_EMAIL"):  # each person's repo config says who they are
        env.pop(var, None)
    run = subprocess.run(["bash", str(EXAMPLES / "run.sh"), str(work)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "re-renders to identical bytes" in run.stdout
    assert "Edited by\nJo Editor" in run.stdout  # the radio cut's end credits
    logs = {}
    for name in ("maya", "sam", "jo"):
        r = run_hitrec("log", "--json", cwd=work / name)
        logs[name] = {f["id"]: f for f in json.loads(r.stdout)}
        assert run_hitrec("fsck", cwd=work / name).returncode == 0
    assert logs["maya"].keys() == logs["sam"].keys() == logs["jo"].keys() and len(logs["jo"]) == 10
    by_author = {f["author"]["email"] for f in logs["jo"].values()}
    assert by_author == {"maya@example.org", "sam@example.org", "jo@example.org"}
    remixes = [f for f in logs["jo"].values() if f["author"]["email"] == "jo@example.org"]
    assert len(remixes) == 3 and all(f["parents"] for f in remixes)
    credits = json.loads((work / "poster-credits.json").read_text())
    assert sum(Fraction(c["share"]) for c in credits["contributors"]) == 1
    assert (work / "trailer.mp4").stat().st_size > 10_000
    assert not list(work.glob("*/.hitrec/lfs/tmp/*"))  # nothing half-written anywhere
    assert _processes_naming(str(work / "hub")) == []  # the script stopped its hub


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line names ``text`` (a hub left running by the script, say)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(proc.name))
    return found
