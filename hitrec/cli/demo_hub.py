"""The hub step of `hitrec demo`: an embedded hub on 127.0.0.1, two contributors pushing and pulling."""

from __future__ import annotations

import math
import os
import re
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from hitrec.cli.common import human_size
from hitrec.cli.demo_state import CONTRIBUTORS, DemoState, step
from hitrec.cli.output import console, escape
from hitrec.errors import HubError

if TYPE_CHECKING:
    from hitrec.ops.push import PushResult
    from hitrec.store import Repo
    from hitrec.sync.credentials import Auth

COLLABORATION = "date-with-destiny"
_URL = re.compile(r"at (http://127\.0\.0\.1:[0-9]+)/")


class EmbeddedHub:
    """`hitrec hub serve --port 0 --workers 2` in a child process (two processes on one socket, as a
    busy hub runs: docs/scale.md), stopped on exit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmbeddedHub:
        import httpx

        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hitrec", "hub", "serve", "--root", str(self.root), "--host", "127.0.0.1",
             "--port", "0", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "1000"})
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in self.proc.stdout:
            match = _URL.search(line)
            if match:
                self.url = match.group(1)
                break
            if time.monotonic() > deadline:
                break
        while self.url and time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.__exit__()
        raise HubError("the demo's hub did not start; run `hitrec hub serve --port 0` to see why")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


def _take(path: Path, freq: float, seconds: float = 1.5) -> Path:
    """A short sung note as a WAV (new media for a new fragment)."""
    rate = 48000
    frames = int(seconds * rate)
    samples = (int(9000 * math.sin(2 * math.pi * freq * i / rate) * min(1.0, (frames - i) / 4800))
               for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def share_through_hub(state: DemoState) -> None:
    from hitrec.hub import repos
    from hitrec.hub.users import UserStore
    from hitrec.ops.clone import clone
    from hitrec.ops.pull import pull
    from hitrec.ops.push import push
    from hitrec.store import FragmentSpec, Repo
    from hitrec.store import config as cfg
    from hitrec.sync.credentials import Auth
    from hitrec.sync.remotes import add_remote

    step(state, "Sharing through a hub: hitrec push / clone / pull")
    jo, maya = CONTRIBUTORS["editor"], CONTRIBUTORS["maya"]
    root = state.folder / "hub"
    users = UserStore(root)
    auth = {who: Auth(name, users.add(name, person.email)[1])
            for who, name, person in (("jo", "jo", jo), ("maya", "maya", maya))}
    # The studio recorded everyone's fragments on their behalf: import them once without the author rule,
    # then switch it on, so from now on each person publishes only their own fragments.
    repos.create(root, COLLABORATION, author_check=False)
    with EmbeddedHub(root) as hub:
        url = f"{hub.url}/{COLLABORATION}.git"
        console.print(f"  {'hub':<12} hitrec hub serve --port 0 --workers 2 -> {hub.url} (two processes on one "
                      "socket; users jo, maya; tokens stored hashed)",
                      soft_wrap=True)
        studio = state.repo
        cfg.write_value(studio.config_path, "user.name", jo.name)
        cfg.write_value(studio.config_path, "user.email", jo.email)
        add_remote(studio.git_dir, "origin", url, replace=True)
        pushed = push(studio, auth=auth["jo"])
        console.print(f"  {jo.name:<12} hitrec push -> {_sent(pushed)}", soft_wrap=True)
        repos.set_author_check(root, COLLABORATION, True)

        made = clone(url, state.folder / "maya", auth=auth["maya"])
        maya_repo, cloned = Repo(made.path), made.pull
        try:
            cfg.write_value(maya_repo.config_path, "user.name", maya.name)
            cfg.write_value(maya_repo.config_path, "user.email", maya.email)
            console.print(f"  {maya.name:<12} hitrec clone {url} maya -> {cloned.fragments} fragments, "
                          f"{human_size(cloned.media.bytes)} of media, each hash verified", soft_wrap=True)
            take = _take(state.folder / "media" / "voice-take-2.wav", 330.0)
            maya_repo.record([FragmentSpec(take, title="Morgan's big line, take 2", tags=("voice-over",),
                                           project="date-with-destiny", author=maya)])
            pushed = push(maya_repo, auth=auth["maya"])
            console.print(f"  {maya.name:<12} hitrec add voice-take-2.wav && hitrec push -> {_sent(pushed)}",
                          soft_wrap=True)

            # Jo has not pulled Maya's take, records a sting of their own and pushes: the hub moved, so
            # the push merges both catalogs by union, pushes that, then pulls Maya's media.
            sting = _take(state.folder / "media" / "sting.wav", 523.25, seconds=0.8)
            studio.record([FragmentSpec(sting, title="Closing sting", tags=("music",),
                                        project="date-with-destiny", author=jo)])
            pushed = push(studio, auth=auth["jo"])
            merged = sum(p.fragments for p in pushed.pulls)
            console.print(f"  {jo.name:<12} hitrec add sting.wav && hitrec push -> {_sent(pushed)}; the hub "
                          f"had {merged} new fragment(s): merged by union, no conflict to resolve",
                          soft_wrap=True)
            pulled = pull(maya_repo, auth=auth["maya"])
            console.print(f"  {maya.name:<12} hitrec pull -> {pulled.fragments} fragment(s), "
                          f"{human_size(pulled.media.bytes)} of media", soft_wrap=True)
            same = (maya_repo.catalog_head() == studio.catalog_head()
                    and {f.id for f in maya_repo.fragments()} == {f.id for f in studio.fragments()})
            console.print(f"  {'':<12} both repos hold the same {len(studio.fragments())} fragments: "
                          + ("yes" if same else "[red]NO[/]"), soft_wrap=True)
            _metadata_only_clone(state, url, auth["maya"], maya_repo.fragment(_latest(maya_repo)).id)
        finally:
            maya_repo.close()
    console.print(f"  {'hub':<12} stopped; its collaborations and users are in {escape(root)}", soft_wrap=True)


def _latest(repo: Repo) -> str:
    return max(repo.fragments(), key=lambda f: f.created).id


def _metadata_only_clone(state: DemoState, url: str, auth: Auth, fragment_id: str) -> None:
    """A laptop that cannot hold every take: records only, and the media one command needs, on demand."""
    from hitrec.ops.clone import clone
    from hitrec.ops.fetch import fetch
    from hitrec.store import Repo

    made = clone(url, state.folder / "laptop", auth=auth, media=False)
    console.print(f"  {'a laptop':<12} hitrec clone --no-media {url} laptop -> {made.pull.fragments} fragments, "
                  f"{human_size(made.pull.media.bytes)} of media", soft_wrap=True)
    laptop = Repo(made.path)
    try:
        fetched = fetch(laptop, [fragment_id], auth=auth)
        console.print(f"  {'':<12} hitrec fetch {fragment_id[:10]} -> {fetched.objects} media object "
                      f"({human_size(fetched.bytes)}, hash verified); cat, checkout, render and verify fetch "
                      "what they read the same way", soft_wrap=True)
    finally:
        laptop.close()


def _sent(result: PushResult) -> str:
    return (f"sent {result.fragments} fragment(s): {result.media.objects} media ({human_size(result.media.bytes)}), "
            f"{result.git.objects} git objects ({human_size(result.git.bytes)})")
