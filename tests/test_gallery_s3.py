"""The gallery of a hub whose media lives in S3 (the session's SeaweedFS): text excerpts and text pages
are read from the store, the players are sent there, and the pages' CSP lets them load from it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
from conftest import run_hitrec
from s3_hub import s3_hub
from seaweed import Seaweed
from sync_helpers import ADA, noise_wav, user_env

HTML = {"accept": "text/html"}


def test_an_s3_hub_gallery_reads_media_from_the_store(tmp_path: Path, seaweed: Seaweed) -> None:
    with s3_hub(tmp_path / "s3hub", seaweed, "ada") as hub:
        env = user_env(*ADA, hub.tokens["ada"])
        work = tmp_path / "a"
        assert run_hitrec("init", str(work), cwd=tmp_path, env=env).returncode == 0
        story = tmp_path / "story.txt"
        story.write_text("A crow <b>sang</b> in the store.\n")
        for path in (story, noise_wav(tmp_path / "tone.wav", 20_000, seed=4)):
            added = run_hitrec("add", str(path), "--title", path.stem, cwd=work, env=env)
            assert added.returncode == 0, added.stderr
        assert run_hitrec("remote", "add", "origin", hub.collaboration_url("film"), cwd=work, env=env).returncode == 0
        pushed = run_hitrec("push", cwd=work, env=env)
        assert pushed.returncode == 0, pushed.stderr
        listed = {f["title"]: f for f in json.loads(run_hitrec("log", "--json", cwd=work, env=env).stdout)}
        auth = {"authorization": f"Bearer {hub.tokens['ada']}"}
        grid = httpx.get(hub.url + "/-/c/film", headers={**HTML, **auth}, timeout=30)
        assert "A crow &lt;b&gt;sang&lt;/b&gt; in the store." in grid.text  # the excerpt, from S3
        text = httpx.get(f"{hub.url}/-/c/film/f/{listed['story']['id']}", headers={"accept": "application/json",
                                                                                   **auth}, timeout=30).json()
        assert text["text"] == story.read_text()
        page = httpx.get(f"{hub.url}/-/c/film/f/{listed['tone']['id']}", headers={**HTML, **auth}, timeout=30)
        origin = seaweed.endpoint.rstrip("/")
        csp = page.headers["content-security-policy"]
        assert f"media-src 'self' {origin}" in csp and "default-src 'self'" in csp
        player = httpx.get(f"{hub.url}/-/c/film/f/{listed['tone']['id']}/media", headers=auth, timeout=30)
        assert player.status_code == 307 and player.headers["location"].startswith(origin)
        fetched = httpx.get(player.headers["location"], timeout=30)
        assert hashlib.sha256(fetched.content).hexdigest() == listed["tone"]["media"]["oid"]
