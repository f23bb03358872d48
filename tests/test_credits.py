"""Credits on real repos: hand-worked examples, payouts, --explain, formats, mailmap, config, bad input."""

from __future__ import annotations

import csv
import io
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from credits_helpers import LineageBuilder

from hitrec.ops.credits import credits
from hitrec.store import Repo


@pytest.fixture
def repo(project: Path) -> Repo:
    found = Repo.find(project)
    yield found
    found.close()


@pytest.fixture
def lineage(repo: Repo, tmp_path: Path) -> LineageBuilder:
    return LineageBuilder(repo, tmp_path / "media")


def shares_of(repo: Repo, piece: str) -> dict[str, Fraction]:
    report = credits(repo, piece)
    total = sum((c.share for c in report.shares.contributors), Fraction(0))
    assert total == 1
    return {c.id.split("@")[0]: c.share for c in report.shares.contributors}


# --- hand-worked examples ------------------------------------------------------------------------


def test_an_original_alone_is_all_its_authors(repo: Repo, lineage: LineageBuilder) -> None:
    a = lineage.original("alice")
    assert shares_of(repo, a) == {"alice": 1}


def test_remix_of_two_sources_used_3s_and_1s(repo: Repo, lineage: LineageBuilder) -> None:
    a = lineage.original("alice")
    b = lineage.original("bob")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "at": 3, "duration": 1}])
    assert shares_of(repo, piece) == {"ed": Fraction(1, 5), "alice": Fraction(3, 5), "bob": Fraction(1, 5)}


def test_remix_of_a_remix(repo: Repo, lineage: LineageBuilder) -> None:
    a, b, c = lineage.original("alice"), lineage.original("bob"), lineage.original("carol")
    inner = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "duration": 1}])
    piece = lineage.remix("zoe", [{"fragment": inner, "duration": 2}, {"fragment": c, "duration": 2}])
    # zoe 1/5; inner gets 4/5 * 1/2 = 2/5 of which ed keeps 1/5 and passes 4/5 by 3:1
    assert shares_of(repo, piece) == {
        "zoe": Fraction(1, 5), "carol": Fraction(2, 5), "ed": Fraction(2, 25),
        "alice": Fraction(6, 25), "bob": Fraction(2, 25),
    }


def test_a_diamond_sums_both_paths(repo: Repo, lineage: LineageBuilder) -> None:
    a, b, c = lineage.original("alice"), lineage.original("bob"), lineage.original("carol")
    left = lineage.remix("xavier", [{"fragment": a, "duration": 1}, {"fragment": b, "duration": 1}])
    right = lineage.remix("yan", [{"fragment": a, "duration": 1}, {"fragment": c, "duration": 1}])
    piece = lineage.remix("zoe", [{"fragment": left, "duration": 1}, {"fragment": right, "duration": 1}])
    assert shares_of(repo, piece) == {
        "zoe": Fraction(1, 5), "alice": Fraction(8, 25), "bob": Fraction(4, 25), "carol": Fraction(4, 25),
        "xavier": Fraction(2, 25), "yan": Fraction(2, 25),
    }


def test_a_derivative_without_a_timeline(repo: Repo, lineage: LineageBuilder) -> None:
    story = lineage.original("sam")
    other = lineage.original("tom")
    drawing = lineage.derivative("ines", [story])
    assert shares_of(repo, drawing) == {"ines": Fraction(1, 2), "sam": Fraction(1, 2)}
    both = lineage.derivative("ines", [story, other])
    assert shares_of(repo, both) == {"ines": Fraction(1, 2), "sam": Fraction(1, 4), "tom": Fraction(1, 4)}
    piece = lineage.remix("zoe", [{"fragment": drawing, "duration": 4}])
    assert shares_of(repo, piece) == {"zoe": Fraction(1, 5), "ines": Fraction(2, 5), "sam": Fraction(2, 5)}


def test_weights_override_seconds(repo: Repo, lineage: LineageBuilder) -> None:
    a, b = lineage.original("alice"), lineage.original("bob")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 3, "weight": 1},
                                 {"fragment": b, "duration": 1, "weight": 3}])
    assert shares_of(repo, piece) == {"ed": Fraction(1, 5), "alice": Fraction(1, 5), "bob": Fraction(3, 5)}


def test_a_contributor_who_is_also_the_editor(repo: Repo, lineage: LineageBuilder) -> None:
    mine, theirs = lineage.original("ada"), lineage.original("bea")
    piece = lineage.remix("ada", [{"fragment": mine, "duration": 3}, {"fragment": theirs, "duration": 1}])
    report = credits(repo, piece)
    ada = report.shares.contributor("ada@example.org")
    assert ada.share == Fraction(4, 5)  # 1/5 as editor + 3/5 as a source
    assert sorted(f.id for f in ada.fragments) == sorted([piece, mine])
    assert shares_of(repo, piece)["bea"] == Fraction(1, 5)


def test_text_clips_belong_to_the_editor(repo: Repo, lineage: LineageBuilder) -> None:
    a = lineage.original("alice")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"text": "The End", "at": 3, "duration": 1}])
    assert shares_of(repo, piece) == {"ed": Fraction(1, 5) + Fraction(4, 5) / 4, "alice": Fraction(3, 5)}


def test_a_source_used_twice_adds_its_clips(repo: Repo, lineage: LineageBuilder) -> None:
    a, b = lineage.original("alice"), lineage.original("bob")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 1}, {"fragment": b, "at": 1, "duration": 1},
                                 {"fragment": a, "at": 2, "duration": 2}])
    assert shares_of(repo, piece) == {"ed": Fraction(1, 5), "alice": Fraction(3, 5), "bob": Fraction(1, 5)}


def test_a_timeline_overrides_editor_share(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a = lineage.original("alice")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 1}], editor_share=0.5)
    assert shares_of(repo, piece) == {"ed": Fraction(1, 2), "alice": Fraction(1, 2)}
    data = cli("credits", piece, "--json").json()
    assert data["rules"] == {"editor_share": "1/5", "derivative_share": "1/2", "overrides": {piece: "1/2"},
                             "source": {"editor_share": "default", "derivative_share": "default"}}
    text = cli("credits", piece).stdout
    assert "editor_share 1/5 (default), derivative_share 1/2 (default)" in text
    assert f"timelines overriding editor_share: {piece[:7]} -> 1/2" in text


def test_repo_config_sets_the_defaults(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a = lineage.original("alice")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 1}], editor_share=0.5)
    plain = lineage.remix("ed", [{"fragment": a, "duration": 2}])
    drawing = lineage.derivative("ines", [a])
    assert cli("config", "credits.editor_share", "0.25").exit_code == 0
    assert cli("config", "credits.derivative_share", "0.75").exit_code == 0
    fresh = Repo.find(repo.root)
    assert shares_of(fresh, plain) == {"ed": Fraction(1, 4), "alice": Fraction(3, 4)}
    assert shares_of(fresh, drawing) == {"ines": Fraction(3, 4), "alice": Fraction(1, 4)}
    assert shares_of(fresh, piece) == {"ed": Fraction(1, 2), "alice": Fraction(1, 2)}  # the timeline wins
    rules = cli("credits", plain, "--json").json()["rules"]
    assert rules["editor_share"] == "1/4" and rules["source"]["editor_share"] == "config"
    text = cli("credits", plain).stdout
    assert "editor_share 1/4 (config)" in text and "derivative_share 3/4 (config)" in text
    lineage.original("bob")  # and the repo still records


def test_zero_weight_clip_changes_nothing(repo: Repo, lineage: LineageBuilder) -> None:
    a, b, c = lineage.original("alice"), lineage.original("bob"), lineage.original("carol")
    before = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "duration": 1}])
    after = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "duration": 1},
                                 {"fragment": c, "duration": 5, "weight": 0}])
    assert shares_of(repo, before) == shares_of(repo, after)


def test_mailmap_merges_identities(repo: Repo, lineage: LineageBuilder, cli) -> None:
    from hitrec.store.model import Person

    a = lineage.original(Person("Bea", "bea@work.example"))
    b = lineage.original(Person("Beatrice S.", "bea@home.example"))
    piece = lineage.remix("ed", [{"fragment": a, "duration": 1}, {"fragment": b, "duration": 1}])
    assert len(credits(repo, piece).shares.contributors) == 3
    (repo.git_dir / "mailmap").write_text(
        "# one person, two addresses\nBeatrice Singer <bea@home.example> <bea@work.example>\n"
        "Beatrice Singer <bea@home.example>\n")
    shares = credits(repo, piece).shares
    bea = shares.contributor("bea@home.example")
    assert bea.name == "Beatrice Singer" and bea.share == Fraction(4, 5)
    assert len(shares.contributors) == 2
    result = cli("credits", piece, "--explain", "bea@work.example", "--json")
    assert result.exit_code == 0, result
    assert result.json()["explain"]["contributor"]["id"] == "bea@home.example"


# --- payouts -----------------------------------------------------------------------------------


def test_payouts_sum_to_the_pool_largest_remainder_ties_by_id(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a, b, c = lineage.original("carol"), lineage.original("alice"), lineage.original("bob")
    piece = lineage.remix("ed", [{"fragment": x, "duration": 1} for x in (a, b, c)], editor_share=0)
    result = cli("credits", piece, "--profit", "2.00", "--json")
    assert result.exit_code == 0, result
    data = result.json()
    assert data["payouts"] == {"currency": "USD", "profit": "2.00", "community_share": "0.5", "pool": "1.00",
                               "pool_cents": 100, "company": "1.00",
                               "rounding": "largest remainder, ties by contributor id"}
    paid = {c["id"]: c["payout"] for c in data["contributors"]}
    # 100 cents / 3: 33.33 each, one cent left over, to the smallest id
    assert paid == {"alice@example.org": {"amount": "0.34", "cents": 34},
                    "bob@example.org": {"amount": "0.33", "cents": 33},
                    "carol@example.org": {"amount": "0.33", "cents": 33}}
    assert all(isinstance(c["payout"]["amount"], str) for c in data["contributors"])


def test_payouts_with_community_share_and_currency(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a, b = lineage.original("alice"), lineage.original("bob")
    piece = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "duration": 1}])
    data = cli("credits", piece, "--profit", "1000", "--community-share", "0.7", "--currency", "eur",
               "--json").json()
    assert data["payouts"]["pool"] == "700.00" and data["payouts"]["company"] == "300.00"
    assert data["payouts"]["currency"] == "EUR"
    paid = {c["id"].split("@")[0]: c["payout"]["amount"] for c in data["contributors"]}
    assert paid == {"alice": "420.00", "ed": "140.00", "bob": "140.00"}
    yen = cli("credits", piece, "--profit", "1001", "--currency", "JPY", "--json").json()
    assert yen["payouts"]["pool"] == "501"  # 500.5 yen rounds half up; no minor unit
    assert sum(c["payout"]["cents"] for c in yen["contributors"]) == 501
    table = cli("credits", piece, "--profit", "1000").stdout
    assert "payout USD" in table and "300.00" in table and "the company keeps 500.00 USD" in table


# --- explain and formats -------------------------------------------------------------------------


def test_explain_lists_every_path_with_factors(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a, b, c = lineage.original("alice"), lineage.original("bob"), lineage.original("carol")
    left = lineage.remix("xavier", [{"fragment": a, "duration": 1}, {"fragment": b, "duration": 1}])
    right = lineage.remix("yan", [{"fragment": a, "duration": 3}, {"fragment": c, "duration": 1}])
    piece = lineage.remix("zoe", [{"fragment": left, "duration": 1}, {"fragment": right, "duration": 1}])
    result = cli("credits", piece, "--explain", "alice@example.org", "--json")
    assert result.exit_code == 0, result
    explained = result.json()["explain"]
    assert explained["total_paths"] == 2
    values = sorted(Fraction(p["value"]) for p in explained["paths"])
    assert values == [Fraction(2, 5) * Fraction(2, 5), Fraction(2, 5) * Fraction(4, 5) * Fraction(3, 4)]
    assert sum(values) == Fraction(explained["share"])
    for path in explained["paths"]:
        product = Fraction(path["keeps"])
        for step in path["steps"]:
            product *= Fraction(step["factor"])
        assert product == Fraction(path["value"])
        assert path["steps"][0]["fragment"] == piece and path["fragment"] == a
    text = cli("credits", piece, "--explain", "Alice").stdout
    assert "2 paths" in text and "x 2/5" in text and "keeps 1" in text and "= share" in text
    missing = cli("credits", piece, "--explain", "nobody@example.org")
    assert missing.exit_code == 1 and "no contributor" in missing.stderr


def test_table_csv_markdown_roll(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a = lineage.original("alice", title="Morgan's big line", seconds=0.5)
    b = lineage.original("bob", title="Three chords")
    piece = lineage.remix("zoe", [{"fragment": a, "duration": 3}, {"fragment": b, "at": 3, "duration": 1},
                                  {"text": "Date With Destiny", "duration": 2}], title="Date With Destiny")
    # uses: alice 3, bob 1, the title (zoe's) 2: zoe 1/5 + 4/5 * 2/6 = 7/15, alice 2/5, bob 2/15
    table = cli("credits", piece[:8])
    assert table.exit_code == 0, table
    assert "Alice " in table.stdout and "40.00" in table.stdout and "46.67" in table.stdout
    assert "editor_share 1/5 (default)" in table.stdout and "Morgan's big line" in table.stdout
    rows = list(csv.DictReader(io.StringIO(cli("credits", piece, "--format", "csv").stdout)))
    assert [r["contributor_id"] for r in rows] == ["zoe@example.org", "alice@example.org", "bob@example.org"]
    assert rows[1]["share"] == "2/5" and rows[1]["percent"] == "40.0000" and rows[1]["seconds"] == "3.000"
    assert rows[0]["share"] == "7/15" and rows[0]["percent"] == "46.6667"
    markdown = cli("credits", piece, "--format", "markdown").stdout
    assert markdown.startswith("# Credits: Date With Destiny")
    assert "| Alice | 40.00 |" in markdown
    roll = cli("credits", piece, "--format", "roll").stdout
    lines = roll.splitlines()
    assert lines[0] == "Date With Destiny" and lines[2:4] == ["Edited by", "Zoe"]
    assert "Alice - Morgan's big line (audio)" in roll and "Bob - Three chords (audio)" in roll
    data = cli("credits", piece, "--json").json()
    assert data["piece"]["id"] == piece and data["editor"] == "zoe@example.org"
    alice = data["contributors"][1]
    assert alice["share"] == "2/5" and alice["percent"] == "40.0000" and alice["seconds"] == 3.0
    assert alice["fragments"][0]["id"] == a


# --- bad input -------------------------------------------------------------------------------------


def test_unknown_piece(project: Path, cli) -> None:
    result = cli("credits", "deadbeef")
    assert result.exit_code == 1 and "unknown fragment 'deadbeef'" in result.stderr


def test_missing_fragment_in_a_timeline_is_named(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a = lineage.original("alice")
    ghost = "ab" * 20
    piece = lineage.remix("ed", [{"fragment": a, "duration": 1}, {"fragment": ghost, "duration": 1}],
                          parents=[a])
    result = cli("credits", piece)
    assert result.exit_code == 1
    assert ghost in result.stderr and "not in this repo" in result.stderr and piece[:10] in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--profit", "-5"], "negative"),
    (["--profit", "12.345"], "more than 2 decimals"),
    (["--profit", "lots"], "not an amount"),
    (["--profit", "10", "--community-share", "1.5"], "outside 0..1"),
    (["--profit", "10", "--community-share", "-0.1"], "outside 0..1"),
    (["--format", "pdf"], "choose one of"),
])
def test_bad_options(repo: Repo, lineage: LineageBuilder, cli, args: list[str], message: str) -> None:
    a = lineage.original("alice")
    result = cli("credits", a, *args)
    assert result.exit_code == 2, result
    assert message in result.stderr


def test_bad_config_share(repo: Repo, lineage: LineageBuilder, cli) -> None:
    a = lineage.original("alice")
    with (repo.git_dir / "config").open("a") as f:  # edited by hand (git spells the name editor-share)
        f.write("[credits]\n\teditor-share = 1.5\n")
    result = cli("credits", a)
    assert result.exit_code == 1 and "credits.editor_share" in result.stderr


# --- lineage from git: a clone gives the same credits ------------------------------------------------


def test_a_clone_of_the_git_repo_gives_identical_credits(repo: Repo, lineage: LineageBuilder,
                                                         tmp_path: Path, cli, monkeypatch) -> None:
    a, b = lineage.original("alice"), lineage.original("bob")
    inner = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "duration": 1}])
    drawing = lineage.derivative("ines", [inner])
    piece = lineage.remix("zoe", [{"fragment": inner, "duration": 2}, {"fragment": drawing, "duration": 2}])
    here = cli("credits", piece, "--profit", "99.99", "--json").json()
    clone = tmp_path / "clone"
    clone.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.git_dir), str(clone / ".hitrec")], check=True)
    monkeypatch.chdir(clone)
    there = cli("credits", piece, "--profit", "99.99", "--json")
    assert there.exit_code == 0, there
    assert there.json() == here


def test_timelines_read_through_git_or_dulwich_agree(repo: Repo, lineage: LineageBuilder) -> None:
    from hitrec.credits.graph import RepoGraph
    from hitrec.credits.shares import compute_shares

    a, b = lineage.original("alice"), lineage.original("bob")
    inner = lineage.remix("ed", [{"fragment": a, "duration": 3}, {"fragment": b, "duration": 1}])
    piece = lineage.remix("zoe", [{"fragment": inner, "duration": 2}, {"fragment": a, "duration": 1}])
    with RepoGraph(repo) as through_git:
        fast = {c.id: c.share for c in compute_shares(through_git, piece).contributors}
        assert through_git._batch  # git is installed in the test environment
    plain = RepoGraph(repo)
    plain._batch = False  # as on a machine without git
    assert {c.id: c.share for c in compute_shares(plain, piece).contributors} == fast
    assert sum(fast.values()) == 1


def test_a_real_process_reports_errors_in_one_line(project: Path, tmp_path: Path) -> None:
    from conftest import run_hitrec

    result = run_hitrec("credits", "abcdef12", cwd=project)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().startswith("error: unknown fragment 'abcdef12'")
    assert len(result.stderr.strip().splitlines()) == 1
