"""The fragment commands as a user runs them: exit codes, output, JSON."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from conftest import run_hitrec
from media import make_image, make_video, make_wav

FRAGMENT_JSON_KEYS = {"id", "kind", "title", "author", "created", "parents", "tags", "license", "project", "media"}
MEDIA_JSON_KEYS = {"oid", "size", "filename", "mime", "duration", "sample_rate", "channels", "width", "height",
                   "fps"}


def test_add_show_log_lineage_cat_checkout(project: Path, cli) -> None:
    wav = make_wav(project / "voice.wav", seconds=0.5)
    png = make_image(project / "drawing.png")
    r = cli("add", str(wav), "--title", "Voice line", "--tag", "vo", "--tag", "take1", "--project", "film",
            "--license", "CC-BY-4.0")
    assert r.exit_code == 0, r
    voice_id = r.stdout.split()[0]
    assert len(voice_id) == 40
    r = cli("add", str(png), "--remix-of", voice_id[:6], "--json")
    assert r.exit_code == 0, r
    drawing = r.json()["added"][0]
    assert set(drawing) >= FRAGMENT_JSON_KEYS and set(drawing["media"]) >= MEDIA_JSON_KEYS
    assert drawing["parents"] == [voice_id] and drawing["kind"] == "image"
    assert drawing["media"]["width"] == 64 and drawing["media"]["height"] == 48

    shown = cli("show", voice_id[:8], "--json").json()
    assert shown["title"] == "Voice line" and shown["tags"] == ["vo", "take1"] and shown["project"] == "film"
    assert shown["author"] == {"name": "Ada Tester", "email": "ada@example.org"}
    assert shown["media"]["duration"] == 0.5 and shown["media"]["sample_rate"] == 48000
    assert shown["media"]["channels"] == 2 and shown["remixed_by"] == [drawing["id"]]
    text = cli("show", voice_id[:8])
    assert "Voice line" in text.stdout and "Ada Tester" in text.stdout

    log = cli("log", "--json").json()
    assert [f["id"] for f in log] == [drawing["id"], voice_id]  # newest first
    assert [f["id"] for f in cli("log", "--kind", "image", "--json").json()] == [drawing["id"]]
    assert [f["id"] for f in cli("log", "--tag", "take1", "--json").json()] == [voice_id]
    assert [f["id"] for f in cli("log", "--project", "film", "--json").json()] == [voice_id]
    assert cli("log", "--author", "nobody@example.org", "--json").json() == []
    assert "Voice line" in cli("log").stdout

    up = cli("lineage", drawing["id"][:8], "--json").json()
    assert up["sources"][0]["id"] == voice_id
    down = cli("lineage", voice_id[:8])
    assert "remixed by" in down.stdout and drawing["id"][:10] in down.stdout

    out = project / "out" / "copy.wav"
    r = cli("checkout", voice_id[:8], str(out))
    assert r.exit_code == 0 and out.read_bytes() == wav.read_bytes()
    r = cli("checkout", voice_id[:8], str(out))
    assert r.exit_code == 1 and "--force" in r.stderr
    catted = run_hitrec("cat", voice_id[:8], cwd=project, text=False)
    assert catted.returncode == 0 and catted.stdout == wav.read_bytes()


def test_video_is_probed(project: Path, cli) -> None:
    mp4 = make_video(project / "shot.mp4", seconds=1, size="160x90", fps=24)
    media = cli("add", str(mp4), "--json").json()["added"][0]["media"]
    assert (media["width"], media["height"], media["fps"]) == (160, 90, 24)
    assert abs(media["duration"] - 1.0) < 0.1


def test_duplicate_media_names_first_contributor(project: Path, cli) -> None:
    wav = make_wav(project / "a.wav")
    first = cli("add", str(wav)).stdout.split()[0]
    twin = project / "twin.wav"
    twin.write_bytes(wav.read_bytes())
    r = cli("add", str(twin))
    assert r.exit_code == 0 and first[:10] in r.stderr and "Ada Tester" in r.stderr
    assert len(cli("log", "--json").json()) == 1


def test_unknown_and_ambiguous_ids_are_clear_errors(project: Path, cli) -> None:
    r = cli("show", "deadbeef")
    assert r.exit_code == 1 and "unknown fragment 'deadbeef'" in r.stderr and "Traceback" not in r.output
    r = cli("show", "xyz")
    assert r.exit_code == 1 and "hex" in r.stderr
    # record fragments until two ids share four characters, then ask for that prefix
    seen: dict[str, str] = {}
    batch = 0
    while True:
        paths = [str(make_wav(project / f"{batch}-{i}.wav", seconds=0.01, freq=40 + batch * 300 + i))
                 for i in range(300)]
        ids = [f["id"] for f in cli("add", *paths, "--json").json()["added"]]
        clash = next((i for i in ids if i[:4] in seen or seen.setdefault(i[:4], i) != i), None)
        if clash:
            break
        batch += 1
    r = cli("show", clash[:4])
    assert r.exit_code == 1 and "ambiguous" in r.stderr and clash in r.stderr


def test_no_repo_is_a_clear_error(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = cli("log")
    assert r.exit_code == 1 and "hitrec init" in r.stderr


def test_identity_precedence(project: Path, cli, monkeypatch, isolated_env: Path) -> None:
    monkeypatch.delenv("HITREC_AUTHOR_NAME")
    monkeypatch.delenv("HITREC_AUTHOR_EMAIL")
    wav = make_wav(project / "a.wav", freq=100)
    r = cli("add", str(wav))
    assert r.exit_code == 1 and "user.email" in r.stderr
    (isolated_env / ".gitconfig").write_text("[user]\n\tname = Git Person\n\temail = git@example.org\n")
    assert cli("add", str(wav), "--json").json()["added"][0]["author"]["email"] == "git@example.org"
    assert cli("config", "--global", "user.email", "global@example.org").exit_code == 0
    r = cli("add", str(make_wav(project / "g.wav", freq=150)), "--json")
    assert r.json()["added"][0]["author"] == {"name": "Git Person", "email": "global@example.org"}
    assert cli("config", "user.email", "repo@example.org").exit_code == 0
    assert cli("config", "user.email").stdout.strip() == "repo@example.org"
    r = cli("add", str(make_wav(project / "b.wav", freq=200)), "--json")
    assert r.json()["added"][0]["author"] == {"name": "Git Person", "email": "repo@example.org"}
    monkeypatch.setenv("HITREC_AUTHOR_EMAIL", "env@example.org")
    r = cli("add", str(make_wav(project / "c.wav", freq=300)), "--json")
    assert r.json()["added"][0]["author"]["email"] == "env@example.org"
    r = cli("config", "user.emial", "x")
    assert r.exit_code == 2 and "did you mean 'user.email'" in r.stderr


def test_identity_follows_git_config_global(project: Path, cli, monkeypatch, isolated_env: Path) -> None:
    """git reads only GIT_CONFIG_GLOBAL when it is set, and so does hitrec's fallback to git's identity."""
    monkeypatch.delenv("HITREC_AUTHOR_NAME")
    monkeypatch.delenv("HITREC_AUTHOR_EMAIL")
    (isolated_env / ".gitconfig").write_text("[user]\n\tname = Home Person\n\temail = home@example.org\n")
    chosen = isolated_env / "chosen.gitconfig"
    chosen.write_text("[user]\n\tname = Chosen Person\n\temail = chosen@example.org\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(chosen))
    r = cli("add", str(make_wav(project / "a.wav", freq=110)), "--json")
    assert r.json()["added"][0]["author"] == {"name": "Chosen Person", "email": "chosen@example.org"}
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    r = cli("add", str(make_wav(project / "b.wav", freq=120)))
    assert r.exit_code == 1 and "who are you?" in r.stderr


def test_help_everywhere(cli) -> None:
    for command in ("init", "config", "add", "show", "log", "lineage", "cat", "checkout", "fsck", "demo"):
        r = cli(command, "--help")
        assert r.exit_code == 0 and "Usage" in r.stdout, command
    from importlib.metadata import version

    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"hitrec {version('hitrec')}"


def test_debug_shows_traceback(project: Path) -> None:
    plain = run_hitrec("show", "deadbeef", cwd=project)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    debug = run_hitrec("--debug", "show", "deadbeef", cwd=project)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_log_json_is_parseable_from_a_subprocess(project: Path) -> None:
    make_wav(project / "a.wav")
    assert run_hitrec("add", "a.wav", cwd=project).returncode == 0
    out = run_hitrec("log", "--json", cwd=project)
    assert json.loads(out.stdout)[0]["media"]["filename"] == "a.wav"
    assert os.environ.get("NO_COLOR") == "1"


def test_markup_and_odd_bytes_in_names_are_shown_verbatim(project: Path, cli) -> None:
    odd = make_wav(project / "[bold]loud[/bold].wav", freq=123)
    r = cli("add", str(odd), "--title", "[/x] evil [red]title")
    assert r.exit_code == 0 and "[/x] evil [red]title" in r.stdout
    assert "[/x] evil [red]title" in cli("log").stdout
    assert "[/x] evil" in cli("show", r.stdout.split()[0][:8]).stdout
    r = cli("add", str(project / "[/missing].wav"))
    assert r.exit_code == 1 and "[/missing].wav" in r.stderr and "Traceback" not in r.output
    raw = os.fsencode(project) + b"/caf\xe9.wav"
    with open(raw, "wb") as f:
        f.write(make_wav(project / "tmp.wav", freq=321).read_bytes())
    r = run_hitrec("add", os.fsdecode(raw), "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"][0]["media"]["filename"] == "caf\ufffd.wav"


def test_licence_is_normalised_or_refused(project: Path, cli) -> None:
    r = cli("add", str(make_wav(project / "a.wav", freq=111)), "--license", "cc-by-sa", "--json")
    assert r.exit_code == 0 and r.json()["added"][0]["license"] == "CC-BY-SA-4.0"
    r = cli("add", str(make_wav(project / "b.wav", freq=222)), "--license", "GPL-9")
    assert r.exit_code == 1 and "unknown licence 'GPL-9'" in r.stderr
    assert len(cli("log", "--json").json()) == 1


@pytest.mark.slow
def test_lineage_of_a_chain_deeper_than_the_recursion_limit(project: Path, cli) -> None:
    """1,100 generations of remixes (Python's recursion limit is 1,000): every view works."""
    from hitrec.store import FragmentSpec, Repo

    repo = Repo(project)
    ids: list[str] = []
    for i in range(1100):
        wav = make_wav(project.parent / f"g{i}.wav", seconds=0.01, freq=100 + i)
        fragment, = repo.record([FragmentSpec(wav, parents=tuple(ids[-1:]))])
        ids.append(fragment.id)
    repo.close()

    up = cli("lineage", ids[-1][:12], "--json")
    assert up.exit_code == 0, up
    sources = up.json()["sources"]
    assert [s["id"] for s in sources] == ids[-2::-1]
    assert [s["generation"] for s in sources] == list(range(1, 1100))
    assert all(s["links"] == [after["id"]] for s, after in itertools.pairwise(sources))
    down = cli("lineage", ids[0][:12], "--json").json()
    assert down["sources"] == [] and down["remixed_by"][0]["id"] == ids[1]

    text = cli("lineage", ids[-1][:12])
    assert text.exit_code == 0 and "more generations" in text.stdout
    assert ids[-31][:10] in text.stdout and ids[-32][:10] not in text.stdout  # 30 drawn by default
    near = cli("lineage", ids[-1][:12], "--depth", "2", "--json").json()["sources"]
    assert [(s["id"], s["generation"], s["links"]) for s in near] == [(ids[-2], 1, [ids[-3]]), (ids[-3], 2, [])]


def test_lineage_depth_never_hides_a_fragment_met_again_closer(project: Path, cli) -> None:
    """A fragment first met deep (where --depth, or the text view's 30 generations, cut it short) and
    met again closer is drawn in full there, not as "shown above"."""
    from hitrec.store import FragmentSpec, Repo

    repo = Repo(project)

    made: list[str] = []

    def add(name: str, *parents: str) -> str:
        made.append(name)
        wav = make_wav(project.parent / f"{name}.wav", seconds=0.01, freq=200 + 13 * len(made))
        fragment, = repo.record([FragmentSpec(wav, title=name, parents=parents)])
        return fragment.id

    e = add("e")
    d = add("d", e)
    b = add("b", d)
    t = add("t", b, d)
    chain = [d]
    for i in range(31):
        chain.append(add(f"c{i}", chain[-1]))
    top = add("top", chain[-1], d)
    repo.close()

    near = cli("lineage", t[:12], "--depth", "2", "--json").json()["sources"]
    assert [(s["id"], s["generation"], s["repeated"], s["more"]) for s in near] == [
        (b, 1, False, False), (d, 2, False, True), (d, 1, False, False), (e, 2, False, False)]
    text = cli("lineage", top[:12]).stdout
    assert e[:10] in text  # reached through the second source, d, at generation 2
    assert cli("lineage", top[:12], "--depth", "0").exit_code == 2
