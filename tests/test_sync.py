"""push / pull / clone against a real hub subprocess, through the CLI a user runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hub_process import HubProcess
from sync_helpers import ADA, BOB, hub_fragment_ids, record, set_env, sha256_file, user_env

from hitrec.store import Repo


def _repo(path: Path) -> Repo:
    return Repo.init(path)


def test_remote_add_strips_credentials_and_lists(project: Path, cli) -> None:
    r = cli("remote", "add", "origin", "http://ada:s3cret-token@127.0.0.1:9/film.git")
    assert r.exit_code == 0, r
    assert "s3cret-token" not in r.output
    assert "s3cret-token" not in (project / ".hitrec" / "config").read_text()
    r = cli("remote", "list", "--json")
    assert r.json() == [{"name": "origin", "url": "http://127.0.0.1:9/film.git"}]
    assert cli("remote", "add", "origin", "http://127.0.0.1:9/x.git").exit_code == 2
    assert cli("remote", "add", "origin", "http://127.0.0.1:9/x.git", "--replace").exit_code == 0
    assert cli("remote", "list").stdout.split() == ["origin", "http://127.0.0.1:9/x.git"]
    assert cli("remote", "add", "bad name", "http://127.0.0.1:9/x.git").exit_code == 2
    assert cli("remote", "add", "up", "ftp://127.0.0.1/x").exit_code == 2
    assert cli("remote", "remove", "origin").exit_code == 0
    assert cli("remote", "list", "--json").json() == []


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")  # CliRunner's stdin is not a terminal
def test_login_stores_token_0600_under_xdg(cli, tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    token = hub.tokens["ada"]
    monkeypatch.setenv("HITREC_TOKEN", token)
    r = cli("login", hub.collaboration_url("film"), "--user", "ada")
    assert r.exit_code == 0, r
    assert token not in r.output
    path = xdg / "hitrec" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored[hub.collaboration_url("film")] == {"user": "ada", "token": token}
    # a wrong token is refused at login, and nothing is stored for it
    monkeypatch.setenv("HITREC_TOKEN", "hrt_not-a-real-token")
    r = cli("login", hub.collaboration_url("other"), "--user", "ada")
    assert r.exit_code == 1
    assert "hrt_not-a-real-token" not in r.output
    assert hub.collaboration_url("other") not in json.loads(path.read_text())
    # the prompt works too
    monkeypatch.delenv("HITREC_TOKEN")
    r = cli("login", hub.url, "--user", "ada", input=token + "\n")
    assert r.exit_code == 0, r
    assert token not in r.stdout
    assert json.loads(path.read_text())[hub.url]["token"] == token


def test_push_then_clone_then_incremental(tmp_path: Path, cli, monkeypatch, hub: HubProcess) -> None:
    from sync_helpers import noise_wav

    url = hub.collaboration_url("film")
    monkeypatch.setenv("HITREC_TOKEN", hub.tokens["ada"])
    a = tmp_path / "a"
    repo = _repo(a)
    ids = record(repo, tmp_path / "in", 5, prefix="ada")
    repo.close()
    monkeypatch.chdir(a)
    assert cli("remote", "add", "origin", url).exit_code == 0
    r = cli("push", "--json")
    assert r.exit_code == 0, r
    pushed = r.json()
    assert pushed["fragments"] == 5 and pushed["created"] is True
    assert pushed["media"]["objects"] == 5
    assert pushed["sent"]["objects"] >= 5 + 5 and pushed["sent"]["bytes"] > 5 * 4000
    assert hub.catalog_head("film") == pushed["head"]
    assert hub_fragment_ids(hub.collaboration_path("film")) == set(ids)
    # nothing new: nothing sent
    again = cli("push", "--json").json()
    assert again["up_to_date"] is True and again["sent"] == {"objects": 0, "bytes": 0}
    assert "already has all your fragments" in cli("push").stdout

    # clone into a fresh folder: every fragment and its media, verified
    monkeypatch.chdir(tmp_path)
    r = cli("clone", url, "copy", "--json")
    assert r.exit_code == 0, r
    cloned = r.json()
    assert cloned["fragments"] == 5 and cloned["media"]["objects"] == 5
    copy = Repo(tmp_path / "copy")
    assert {f.id for f in copy.fragments()} == set(ids)
    for f in copy.fragments():
        assert sha256_file(copy.media_path(f.media.oid)) == f.media.oid
    assert copy.catalog_head() == pushed["head"]
    copy.close()

    # an incremental push sends only the new fragment's media
    big = noise_wav(tmp_path / "in" / "new.wav", 300_000, seed=99)
    monkeypatch.chdir(a)
    assert cli("add", str(big)).exit_code == 0
    inc = cli("push", "--json").json()
    assert inc["fragments"] == 1 and inc["media"]["objects"] == 1
    assert inc["media"]["bytes"] == big.stat().st_size
    assert inc["sent"]["bytes"] <= 1.05 * big.stat().st_size + 4096

    # and the clone pulls just that
    monkeypatch.chdir(tmp_path / "copy")
    r = cli("pull", "--json")
    assert r.exit_code == 0, r
    pulled = r.json()
    assert pulled["fragments"] == 1 and pulled["media"]["objects"] == 1
    assert pulled["media"]["bytes"] == big.stat().st_size
    assert cli("pull", "--json").json()["up_to_date"] is True
    assert "already up to date" in cli("pull").stdout
    assert cli("fsck").exit_code == 0


def test_two_contributors_push_without_conflict(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    """Bob pushes after Ada without pulling first: his push merges by union and both land."""
    from hitrec.ops.pull import pull
    from hitrec.ops.push import push
    from hitrec.sync.remotes import add_remote

    hub.add_user("bob", BOB[1])
    url = hub.collaboration_url("film")
    ada, bob = _repo(tmp_path / "ada"), _repo(tmp_path / "bob")
    add_remote(ada.git_dir, "origin", url)
    add_remote(bob.git_dir, "origin", url)
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    ada_ids = record(ada, tmp_path / "in-a", 3, prefix="ada")
    assert push(ada).fragments == 3
    set_env(monkeypatch, user_env(*BOB, hub.tokens["bob"]))
    bob_ids = record(bob, tmp_path / "in-b", 2, prefix="bob")
    result = push(bob)
    assert result.pulls and result.pulls[0].fragments == 3  # took Ada's work first
    assert result.fragments == 2 and result.media.objects == 2
    everyone = set(ada_ids) | set(bob_ids)
    assert hub_fragment_ids(hub.collaboration_path("film")) == everyone
    assert {f.id for f in bob.fragments()} == everyone
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    pulled = pull(ada)
    assert pulled.fragments == 2 and pulled.media.objects == 2
    assert {f.id for f in ada.fragments()} == everyone
    assert ada.catalog_head() == bob.catalog_head() == hub.catalog_head("film")
    for repo in (ada, bob):
        assert all(repo.has_media(f.media.oid) for f in repo.fragments())
        repo.close()


def test_pull_with_local_work_merges(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    from hitrec.ops.pull import pull
    from hitrec.ops.push import push
    from hitrec.sync.remotes import add_remote

    hub.add_user("bob", BOB[1])
    url = hub.collaboration_url("film")
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    ada = _repo(tmp_path / "ada")
    add_remote(ada.git_dir, "origin", url)
    ada_ids = record(ada, tmp_path / "in-a", 2, prefix="ada")
    push(ada)
    set_env(monkeypatch, user_env(*BOB, hub.tokens["bob"]))
    bob = _repo(tmp_path / "bob")
    add_remote(bob.git_dir, "origin", url)
    bob_ids = record(bob, tmp_path / "in-b", 2, prefix="bob")
    pulled = pull(bob)
    assert pulled.fragments == 2
    head = bob.catalog_head()
    commit = bob.dulwich[head.encode()]
    assert len(commit.parents) == 2  # a union merge, nobody asked to resolve anything
    assert {f.id for f in bob.fragments()} == set(ada_ids) | set(bob_ids)
    pushed = push(bob)
    assert pushed.fragments == 2 and not pushed.pulls
    bob.close()
    ada.close()


def test_push_by_url_and_token_in_url_never_printed(tmp_path: Path, cli, monkeypatch, hub: HubProcess) -> None:
    token = hub.tokens["ada"]
    repo = _repo(tmp_path / "a")
    record(repo, tmp_path / "in", 2, prefix="u")
    repo.close()
    monkeypatch.chdir(tmp_path / "a")
    secret_url = hub.collaboration_url("film").replace("http://", f"http://ada:{token}@")
    r = cli("push", secret_url)
    assert r.exit_code == 0, r
    assert token not in r.output
    assert "pushed to" in r.stdout
    monkeypatch.chdir(tmp_path)
    r = cli("clone", secret_url, "c")
    assert r.exit_code == 0, r
    assert token not in r.output
    assert token not in (tmp_path / "c" / ".hitrec" / "config").read_text()
    assert token not in hub.log_text()
    # a bad token in the URL: refused, and neither token is echoed
    monkeypatch.chdir(tmp_path / "c")
    r = cli("pull", hub.collaboration_url("film").replace("http://", "http://ada:hrt_wrong-secret@"))
    assert r.exit_code == 1
    assert "hrt_wrong-secret" not in r.output and "401" in r.output


def test_clone_of_missing_collaboration_creates_nothing(tmp_path: Path, cli, monkeypatch, hub) -> None:
    monkeypatch.setenv("HITREC_TOKEN", hub.tokens["ada"])
    monkeypatch.chdir(tmp_path)
    r = cli("clone", hub.collaboration_url("nothing-here"))
    assert r.exit_code == 1
    assert "no collaboration" in r.output
    assert not (tmp_path / "nothing-here").exists()


def test_push_progress_is_quiet_when_not_a_terminal(tmp_path: Path, monkeypatch, hub: HubProcess) -> None:
    from conftest import run_hitrec

    repo = _repo(tmp_path / "a")
    record(repo, tmp_path / "in", 2, prefix="p")
    repo.close()
    env = {"HITREC_TOKEN": hub.tokens["ada"]}
    run_hitrec("remote", "add", "origin", hub.collaboration_url("film"), cwd=tmp_path / "a", check=True)
    done = run_hitrec("push", cwd=tmp_path / "a", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert hub.tokens["ada"] not in done.stdout
    assert os.environ.get("HITREC_TOKEN") is None


@pytest.mark.parametrize("public", [True])
def test_public_read_hub_serves_clone_without_token(tmp_path: Path, cli, monkeypatch, public: bool) -> None:
    with HubProcess(tmp_path / "hub", public_read=public) as pub:
        token = pub.add_user("ada", ADA[1])
        repo = _repo(tmp_path / "a")
        ids = record(repo, tmp_path / "in", 2, prefix="pub")
        repo.close()
        monkeypatch.chdir(tmp_path / "a")
        monkeypatch.setenv("HITREC_TOKEN", token)
        assert cli("push", pub.collaboration_url("open")).exit_code == 0
        monkeypatch.delenv("HITREC_TOKEN")
        monkeypatch.chdir(tmp_path)
        r = cli("clone", pub.collaboration_url("open"), "c", "--json")
        assert r.exit_code == 0, r
        assert r.json()["fragments"] == 2
        c = Repo(tmp_path / "c")
        assert {f.id for f in c.fragments()} == set(ids)
        c.close()
        # but writes still need a token
        monkeypatch.chdir(tmp_path / "c")
        record(Repo(tmp_path / "c"), tmp_path / "in2", 1, prefix="anon")
        r = cli("push")
        assert r.exit_code == 1
        assert "401" in r.output and "hitrec login" in r.output


def test_two_remotes_and_urls_without_a_remote(tmp_path: Path, cli, monkeypatch, hub: HubProcess) -> None:
    """A repo can push to two hubs; a pull or push may name a URL that is no remote."""
    with HubProcess(tmp_path / "hub2") as other:
        other_token = other.add_user("ada", ADA[1])
        repo = _repo(tmp_path / "a")
        ids = set(record(repo, tmp_path / "in", 3, prefix="two"))
        repo.close()
        monkeypatch.chdir(tmp_path / "a")
        assert cli("remote", "add", "origin", hub.collaboration_url("film")).exit_code == 0
        assert cli("remote", "add", "backup", other.collaboration_url("film")).exit_code == 0
        monkeypatch.setenv("HITREC_TOKEN", hub.tokens["ada"])
        assert cli("push", "--json").json()["fragments"] == 3
        monkeypatch.setenv("HITREC_TOKEN", other_token)
        r = cli("push", "backup", "--json")
        assert r.exit_code == 0, r
        assert r.json()["remote"] == "backup" and r.json()["fragments"] == 3
        assert hub_fragment_ids(other.collaboration_path("film")) == ids
        # a fresh repo pulls by URL, with no remote configured
        fresh = _repo(tmp_path / "fresh")
        fresh.close()
        monkeypatch.chdir(tmp_path / "fresh")
        r = cli("pull", other.collaboration_url("film"), "--json")
        assert r.exit_code == 0, r
        assert r.json()["fragments"] == 3
        assert cli("pull", other.collaboration_url("film"), "--json").json()["up_to_date"] is True
        assert cli("remote", "list", "--json").json() == []


def test_clone_of_a_plain_git_repo_says_so_and_leaves_nothing(tmp_path: Path, cli, monkeypatch,
                                                              hub: HubProcess) -> None:
    """A collaboration whose main plain git filled (a README, no fragments/ catalog) is not cloned as an
    empty hitrec repo: one line says what it is, and no folder is left, aside or in place."""
    from hub_git import commit_file, git

    token = hub.tokens["ada"]
    url = hub.create("plain")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    commit_file(work, "README.md", b"# just a git repo\n", "readme")
    git("push", "-q", url, "main:refs/heads/main", cwd=work, token=token)
    assert hub.catalog_head("plain") is not None
    monkeypatch.setenv("HITREC_TOKEN", token)
    monkeypatch.chdir(tmp_path)
    r = cli("clone", url, "c")
    assert r.exit_code == 1, r
    assert "not a hitrec collaboration" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "c").exists() and not (tmp_path / ".c.hitrec-clone").exists()
    # a pull from it into an existing repo says the same, and merges nothing
    repo = _repo(tmp_path / "mine")
    record(repo, tmp_path / "in", 1)
    head = repo.catalog_head()
    repo.close()
    monkeypatch.chdir(tmp_path / "mine")
    r = cli("pull", url)
    assert r.exit_code == 1 and "not a hitrec collaboration" in r.stderr, r
    assert Repo(tmp_path / "mine").catalog_head() == head
    incoming = tmp_path / "mine" / ".hitrec" / "refs" / "hitrec" / "incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []  # no ref kept to the plain commit


def test_a_readme_plain_git_put_on_main_survives_hitrec_commits(tmp_path: Path, cli, monkeypatch,
                                                                hub: HubProcess) -> None:
    """A README committed on the hub's main by plain git stays there through `hitrec pull` + `add` + `push`
    (a catalog commit on top of it), and through a union merge made by someone who had not pulled it."""
    from hub_git import git
    from sync_helpers import noise_wav

    hub.add_user("bob", BOB[1])
    url = hub.collaboration_url("film")
    set_env(monkeypatch, user_env(*ADA, hub.tokens["ada"]))
    ada = _repo(tmp_path / "ada")
    record(ada, tmp_path / "in-a", 1, prefix="ada")
    ada.close()
    monkeypatch.chdir(tmp_path / "ada")
    assert cli("remote", "add", "origin", url).exit_code == 0
    assert cli("push").exit_code == 0
    set_env(monkeypatch, user_env(*BOB, hub.tokens["bob"]))
    bob = _repo(tmp_path / "bob")
    record(bob, tmp_path / "in-b", 1, prefix="bob")  # before the README: bob's push will have to merge
    bob.close()

    work = tmp_path / "work"
    token = hub.tokens["ada"]
    git("clone", "-q", url, str(work), token=token, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    (work / "README.md").write_text("# Our film\n")
    git("add", "README.md", cwd=work)
    git("commit", "-q", "-m", "readme", cwd=work)
    git("push", "-q", "origin", "main", cwd=work, token=token)

    set_env(monkeypatch, user_env(*ADA, token))
    assert cli("pull").exit_code == 0
    assert cli("add", str(noise_wav(tmp_path / "in-a" / "more.wav", 5000, seed=5))).exit_code == 0
    r = cli("push")
    assert r.exit_code == 0, r

    def readme_on_hub() -> str:
        shown = subprocess.run(["git", "--git-dir", str(hub.collaboration_path("film")), "show", "main:README.md"],
                               capture_output=True, text=True)
        return shown.stdout

    assert readme_on_hub() == "# Our film\n"
    set_env(monkeypatch, user_env(*BOB, hub.tokens["bob"]))
    monkeypatch.chdir(tmp_path / "bob")
    assert cli("push", url).exit_code == 0  # the hub moved: a union merge of bob's catalog and the hub's
    assert readme_on_hub() == "# Our film\n"
    assert len(hub_fragment_ids(hub.collaboration_path("film"))) == 3
    fresh = tmp_path / "fresh"
    git("clone", "-q", url, str(fresh), token=token, env={"GIT_LFS_SKIP_SMUDGE": "1"})
    assert (fresh / "README.md").read_text() == "# Our film\n"
    assert cli("fsck").exit_code == 0
