"""The gallery step of `hitrec demo`: the demo's hub serves its pages; `--keep-hub` leaves it running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from hitrec.cli.demo_hub import COLLABORATION
from hitrec.cli.demo_state import DemoState, step
from hitrec.cli.output import console, escape
from hitrec.errors import HubError

_URL = re.compile(r"gallery: (http://127\.0\.0\.1:[0-9]+)/")


def start_hub(root: Path, log: Path, *, detach: bool) -> tuple[subprocess.Popen[bytes], str]:
    """`hitrec hub serve --public-read --port 0` on ``root`` (its own session when ``detach``, so it
    outlives the demo), logging to ``log``; returns it and its gallery's address once it answers."""
    import httpx

    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hitrec", "hub", "serve", "--root", str(root), "--host", "127.0.0.1",
             "--port", "0", "--public-read"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "1000"}, start_new_session=detach)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        match = _URL.search(log.read_text(encoding="utf-8", errors="replace"))
        if match:
            try:
                if httpx.get(match.group(1) + "/-/health", timeout=2).status_code == 200:
                    return proc, match.group(1)
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    stop(proc)
    raise HubError(f"the demo's hub did not start; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def show_gallery(state: DemoState, *, keep: bool = False) -> None:
    import httpx

    step(state, "The hub's gallery: every fragment, its lineage and the piece's credits in a browser")
    root = state.folder / "hub"
    proc, url = start_hub(root, state.folder / "hub.log", detach=keep)
    try:
        ask = {"accept": "application/json"}
        page = httpx.get(f"{url}/-/c/{COLLABORATION}", headers=ask, timeout=30).json()
        never = httpx.get(f"{url}/-/c/{COLLABORATION}?sort=never", headers=ask, timeout=30).json()
        piece = state.fragments.get("piece")
        console.print(f"  {'gallery':<12} {url}/ (`hitrec hub serve` prints this address)", soft_wrap=True)
        console.print(f"  {'':<12} {url}/-/c/{COLLABORATION}: {page['total']} fragments, "
                      f"{never['total']} never remixed (sort=never)", soft_wrap=True)
        if piece is not None:
            console.print(f"  {'':<12} {url}/-/c/{COLLABORATION}/piece/{piece.id}?profit=1000: its timeline, "
                          "credits and payouts", soft_wrap=True)
    except BaseException:
        stop(proc)
        raise
    if keep:
        console.print(f"  {'hub':<12} kept running (pid {proc.pid}, public reads): open {url}/ in a browser; "
                      f"stop it with `kill {proc.pid}`; its log is {escape(state.folder / 'hub.log')}", soft_wrap=True)
    else:
        stop(proc)
        console.print(f"  {'hub':<12} stopped (`hitrec demo --keep-hub` leaves it running to browse)", soft_wrap=True)
