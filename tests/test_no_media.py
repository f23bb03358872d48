"""Metadata-only clones (`clone --no-media`, `pull --no-media`), media fetched on demand, `hitrec fetch`,
`hitrec prune`, and fsck telling "not fetched" from "missing" and "corrupt" — against a real hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_hitrec
from hub_process import HubProcess
from sync_helpers import record

from hitrec.store import Repo


def _objects(repo_dir: Path) -> set[str]:
    store = repo_dir / ".hitrec" / "lfs" / "objects"
    return {p.name for p in store.rglob("*") if p.is_file() and len(p.name) == 64}


@pytest.fixture
def shared(tmp_path: Path, monkeypatch, hub: HubProcess, cli) -> dict:
    """Ada's repo with 8 voice fragments and a remix of two, pushed to the hub's ``film``."""
    monkeypatch.setenv("HITREC_TOKEN", hub.tokens["ada"])
    monkeypatch.setenv("HITREC_AUTHOR_NAME", "Ada Tester")
    monkeypatch.setenv("HITREC_AUTHOR_EMAIL", "ada@example.org")
    ada = Repo.init(tmp_path / "ada")
    ids = record(ada, tmp_path / "in", 8, prefix="v", size=48000 * 4)  # 1 s each
    ada.close()
    timeline = tmp_path / "ada" / "cut.yaml"
    timeline.write_text(_timeline(ids[:2]))
    monkeypatch.chdir(tmp_path / "ada")
    assert cli("remote", "add", "origin", hub.collaboration_url("film")).exit_code == 0
    r = cli("remix", str(timeline), "--title", "Two voices", "--json")
    assert r.exit_code == 0, r
    piece = r.json()["id"]
    assert cli("push").exit_code == 0
    monkeypatch.chdir(tmp_path)
    return {"ids": ids, "piece": piece, "url": hub.collaboration_url("film"), "ada": tmp_path / "ada"}


def _clone_without_media(tmp_path: Path, cli, monkeypatch, shared: dict) -> dict[str, str]:
    """`clone --no-media` of the shared collaboration into ``c``, made the current folder; fragment -> oid."""
    assert cli("clone", "--no-media", shared["url"], "c").exit_code == 0
    monkeypatch.chdir(tmp_path / "c")
    repo = Repo(tmp_path / "c")
    try:
        return {f.id: f.media.oid for f in repo.fragments()}
    finally:
        repo.close()


def _timeline(ids: list[str]) -> str:
    clips = "\n".join(f"      - {{fragment: {fid}, at: {i}}}" for i, fid in enumerate(ids))
    return ("hitrec: 1\ntitle: cut\noutput: {sample_rate: 48000, channels: 2, format: wav}\n"
            f"tracks:\n  - kind: audio\n    clips:\n{clips}\n")


def test_a_no_media_clone_has_records_and_no_media_and_needs_none_to_list_show_and_credit(
        tmp_path: Path, cli, monkeypatch, shared: dict) -> None:
    r = cli("clone", "--no-media", shared["url"], "c", "--json")
    assert r.exit_code == 0, r
    assert r.json()["fragments"] == 9 and r.json()["media"]["objects"] == 0 and r.json()["media_on_demand"]
    assert _objects(tmp_path / "c") == set()
    monkeypatch.chdir(tmp_path / "c")
    assert len(cli("log", "--json").json()) == 9
    assert cli("show", shared["ids"][0], "--json").json()["id"] == shared["ids"][0]
    assert cli("lineage", shared["piece"]).exit_code == 0
    credits = cli("credits", shared["piece"], "--json")
    assert credits.exit_code == 0, credits
    assert _objects(tmp_path / "c") == set()  # none of that fetched anything
    r = cli("fsck", "--json")
    assert r.exit_code == 0, r
    assert r.json()["ok"] and r.json()["not_fetched"] == 9 and r.json()["media_checked"] == 0
    assert any("not fetched" in note for note in r.json()["notes"])


def test_render_fetches_exactly_the_media_it_uses_and_cat_checkout_verify_fetch_theirs(
        tmp_path: Path, cli, monkeypatch, shared: dict) -> None:
    oid = _clone_without_media(tmp_path, cli, monkeypatch, shared)
    ids = shared["ids"]
    (tmp_path / "five.yaml").write_text(_timeline(ids[2:7]))
    r = cli("render", str(tmp_path / "five.yaml"), "-o", str(tmp_path / "five.wav"))
    assert r.exit_code == 0, r
    assert _objects(tmp_path / "c") == {oid[i] for i in ids[2:7]}
    # cat and checkout fetch the one they read, hash-verified, byte for byte the original
    original = (shared["ada"] / ".hitrec" / "lfs" / "objects").rglob(oid[ids[7]])
    want = next(original).read_bytes()
    done = run_hitrec("cat", ids[7], cwd=tmp_path / "c", text=False)
    assert done.returncode == 0 and done.stdout == want
    assert cli("checkout", ids[0], str(tmp_path / "zero.wav")).exit_code == 0
    assert _objects(tmp_path / "c") == {oid[i] for i in [*ids[2:8], ids[0]]}
    # verify re-renders the piece: it fetches its sources (ids[1] is the one still absent), not the piece
    r = cli("verify", shared["piece"], "--json")
    assert r.exit_code == 0 and r.json()["ok"], r
    assert oid[ids[1]] in _objects(tmp_path / "c") and oid[shared["piece"]] not in _objects(tmp_path / "c")
    r = cli("fsck", "--json")
    assert r.json()["ok"] and r.json()["not_fetched"] == 1 and r.json()["media_checked"] == 8


def test_remix_and_timeline_export_fetch_the_sources_they_use(tmp_path: Path, cli, monkeypatch,
                                                              shared: dict) -> None:
    oid = _clone_without_media(tmp_path, cli, monkeypatch, shared)
    ids = shared["ids"]
    (tmp_path / "two.yaml").write_text(_timeline(ids[5:7]))
    r = cli("remix", str(tmp_path / "two.yaml"), "--title", "Two more", "--json")
    assert r.exit_code == 0, r
    assert {oid[ids[5]], oid[ids[6]]} <= _objects(tmp_path / "c")
    r = cli("timeline", "export", shared["piece"], "-o", str(tmp_path / "piece.otio"))
    assert r.exit_code == 0, r
    assert {oid[ids[0]], oid[ids[1]]} <= _objects(tmp_path / "c")
    assert oid[ids[2]] not in _objects(tmp_path / "c")  # nothing else came


def test_fetch_prefetches_named_fragments_their_sources_or_everything(
        tmp_path: Path, cli, monkeypatch, shared: dict) -> None:
    assert cli("clone", "--no-media", shared["url"], "c").exit_code == 0
    monkeypatch.chdir(tmp_path / "c")
    r = cli("fetch", shared["piece"], "--sources", "--json")
    assert r.exit_code == 0, r
    assert r.json()["fetched"]["objects"] == 3 and r.json()["present"] == 0
    r = cli("fetch", shared["piece"], "--json")
    assert r.json()["fetched"]["objects"] == 0 and r.json()["present"] == 1
    assert cli("fetch").exit_code == 2  # nothing named and no --all: a usage error
    r = cli("fetch", "--all", "--json")
    assert r.json()["fetched"]["objects"] == 6 and r.json()["present"] == 3
    r = cli("fsck", "--json")
    assert r.json()["ok"] and r.json()["not_fetched"] == 0 and r.json()["media_checked"] == 9


def test_pull_no_media_is_remembered_until_pull_media(tmp_path: Path, cli, monkeypatch, shared: dict) -> None:
    assert cli("clone", "--no-media", shared["url"], "c").exit_code == 0
    ada = Repo(shared["ada"])
    new = record(ada, tmp_path / "more", 2, prefix="m")
    ada.close()
    monkeypatch.chdir(shared["ada"])
    assert cli("push").exit_code == 0
    monkeypatch.chdir(tmp_path / "c")
    r = cli("pull", "--json")
    assert r.exit_code == 0 and r.json()["fragments"] == 2 and r.json()["media"]["objects"] == 0, r
    monkeypatch.chdir(shared["ada"])
    ada = Repo(shared["ada"])
    newer = record(ada, tmp_path / "more2", 1, prefix="n")
    ada.close()
    assert cli("push").exit_code == 0
    monkeypatch.chdir(tmp_path / "c")
    r = cli("pull", "--media", "--json")
    assert r.json()["fragments"] == 1 and r.json()["media"]["objects"] == 1, r
    repo = Repo(tmp_path / "c")
    assert repo.media.has(repo.fragment(newer[0]).media.oid)
    assert not repo.media.has(repo.fragment(new[0]).media.oid)
    repo.close()


def test_prune_frees_only_what_the_hub_holds_and_it_comes_back_on_demand(
        tmp_path: Path, cli, monkeypatch, shared: dict) -> None:
    ada_dir = shared["ada"]
    ada = Repo(ada_dir)
    local = record(ada, tmp_path / "mine", 1, prefix="l")  # recorded, never pushed: the only copy
    local_oid = ada.fragment(local[0]).media.oid
    ada.close()
    monkeypatch.chdir(ada_dir)
    before = _objects(ada_dir)
    r = cli("prune", "--dry-run", "--json")
    assert r.exit_code == 0, r
    assert r.json()["removed"] == 9 and r.json()["kept"]["only_copy"] == 1 and _objects(ada_dir) == before
    r = cli("prune", "--json")
    assert r.json()["removed"] == 9 and not r.json()["dry_run"]
    assert _objects(ada_dir) == {local_oid}
    r = cli("fsck", "--json")
    assert r.exit_code == 0 and r.json()["ok"] and r.json()["not_fetched"] == 9, r
    done = run_hitrec("cat", shared["ids"][3], cwd=ada_dir, text=False)
    assert done.returncode == 0 and len(done.stdout) > 1000
    assert len(_objects(ada_dir)) == 2
    # the one copy no hub has: deleted, it is "missing" (a problem), and reading it says so in one line
    next((ada_dir / ".hitrec" / "lfs" / "objects").rglob(local_oid)).unlink()
    r = cli("fsck", "--json")
    assert r.exit_code == 1 and not r.json()["ok"]
    assert [p["oid"] for p in r.json()["problems"]] == [local_oid]
    r = cli("cat", local[0])
    assert r.exit_code != 0 and "no copy can be fetched" in r.stderr and "Traceback" not in r.stderr


def test_prune_keeps_what_the_hub_cannot_confirm(tmp_path: Path, cli, monkeypatch, shared: dict,
                                                 hub: HubProcess) -> None:
    ada = Repo(shared["ada"])
    oid = ada.fragment(shared["ids"][0]).media.oid
    ada.close()
    hub.media_path("film", oid).unlink()  # the hub lost it (an operator's mistake): it must not be pruned
    monkeypatch.chdir(shared["ada"])
    r = cli("prune", "--json")
    assert r.exit_code == 0, r
    assert r.json()["removed"] == 8 and r.json()["kept"]["unconfirmed"] == 1
    assert oid in _objects(shared["ada"])


def test_on_demand_media_is_hash_verified(tmp_path: Path, cli, monkeypatch, shared: dict, hub: HubProcess) -> None:
    assert cli("clone", "--no-media", shared["url"], "c").exit_code == 0
    repo = Repo(tmp_path / "c")
    oid = repo.fragment(shared["ids"][4]).media.oid
    repo.close()
    path = hub.media_path("film", oid)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))  # the hub's copy is damaged: same size, other bytes
    monkeypatch.chdir(tmp_path / "c")
    r = cli("checkout", shared["ids"][4], str(tmp_path / "x.wav"))
    assert r.exit_code != 0 and oid[:12] in r.stderr and "Traceback" not in r.stderr, r
    assert not (tmp_path / "x.wav").exists() and _objects(tmp_path / "c") == set()
    r = cli("fsck", "--json")
    assert r.json()["ok"], r  # nothing damaged was kept


def test_on_demand_fetch_from_a_private_hub_without_a_token_says_how(tmp_path: Path, cli, monkeypatch,
                                                                     shared: dict) -> None:
    assert cli("clone", "--no-media", shared["url"], "c").exit_code == 0
    monkeypatch.delenv("HITREC_TOKEN")
    monkeypatch.chdir(tmp_path / "c")
    r = cli("cat", shared["ids"][0])
    assert r.exit_code != 0 and "Traceback" not in r.stderr
    assert "token" in r.stderr.lower() or "login" in r.stderr.lower(), r.stderr
    assert json.loads(cli("fsck", "--json").stdout)["ok"]
