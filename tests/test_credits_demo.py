"""`hitrec demo` ends with the credits and payouts of its piece; the numbers add up."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import run_hitrec


@pytest.mark.slow
def test_demo_ends_with_credits_and_payouts(tmp_path: Path) -> None:
    r = run_hitrec("demo", str(tmp_path / "demo"), cwd=tmp_path, timeout=300, env={"COLUMNS": "120"})
    assert r.returncode == 0, r.stderr + r.stdout
    tail = r.stdout[r.stdout.rindex("Credits and payouts"):]
    assert "pool 500.00 USD" in tail and "the company keeps 500.00 USD" in tail
    for name in ("Jo Editor", "Maya Okafor", "Leo Brandt", "Sam Ito", "Inès Duval"):
        assert name in tail
    studio = tmp_path / "demo" / "studio"
    log = json.loads(run_hitrec("log", "--json", cwd=studio).stdout)
    piece = next(f for f in log if f["title"] == "Morgan M. Morgansen's Date With Destiny")
    data = json.loads(run_hitrec("credits", piece["id"], "--profit", "1000", "--json", cwd=studio).stdout)
    assert sum(Fraction(c["share"]) for c in data["contributors"]) == 1
    assert sum(Decimal(c["payout"]["amount"]) for c in data["contributors"]) == Decimal("500.00")
    ines = next(c for c in data["contributors"] if c["email"] == "ines@example.org")
    assert {f["role"] for f in ines["fragments"]} == {"derivative", "original"}  # the drawing and its story
    roll = run_hitrec("credits", piece["id"], "--format", "roll", cwd=studio).stdout
    assert roll.startswith("Morgan M. Morgansen's Date With Destiny\n\nEdited by\nJo Editor\n")
