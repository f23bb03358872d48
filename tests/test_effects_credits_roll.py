"""The credits roll: a credits track (or a text clip `credits: roll|cards`) renders the piece's own credits
from its lineage: every contributor in share order with what they made, and the licences in the
attribution form; verify re-renders it byte-identical whoever runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media import make_image, make_wav
from render_support import decode_video, make_color_video, write_timeline

from hitrec.credits.roll import credit_lines
from hitrec.render.plan import RepoResolver, make_plan
from hitrec.store import FragmentSpec, Repo
from hitrec.store.model import Person
from hitrec.timeline import load_timeline

ANA = Person("Ana Lumière", "ana@example.org")
BEN = Person("Ben Okafor", "ben@example.org")


@pytest.fixture
def frags(project: Path) -> dict[str, str]:
    repo = Repo.find()
    specs = [FragmentSpec(make_color_video(project / "sea.mp4", "navy", seconds=2), title="Sea", author=ANA,
                          license="CC-BY-4.0"),
             FragmentSpec(make_wav(project / "gulls.wav", seconds=1, freq=900), title="Gulls", author=BEN,
                          license="CC-BY-SA-4.0"),
             FragmentSpec(make_image(project / "sky.png", color="skyblue"), title="Sky", author=BEN,
                          license="CC0-1.0")]
    return {f.title: f.id for f in repo.record(specs)}


def timeline(f: dict[str, str], credits: dict) -> dict:
    return {"hitrec": 1, "title": "Harbour", "output": {"size": [320, 180], "fps": 12}, "tracks": [
        {"kind": "video", "clips": [{"fragment": f["Sea"], "mute": True}, {"fragment": f["Sky"], "duration": 0.5}]},
        {"kind": "audio", "clips": [{"fragment": f["Gulls"]}]},
        credits]}


def test_the_roll_lists_contributors_in_share_order_with_licences(project: Path, frags: dict[str, str]) -> None:
    write_timeline(project / "t.yaml", timeline(frags, {"kind": "credits", "clips": [{"at": 2.5, "duration": 2}]}))
    repo = Repo.find()
    with RepoResolver(repo) as resolver:
        plan = make_plan(load_timeline(project / "t.yaml"), resolver)
        lines = credit_lines(plan, repo, "Harbour", repo.identity())
    assert lines[:4] == ["Harbour", "", "Edited by", "Ada Tester"]
    body = lines[lines.index("With contributions by") + 1:]
    assert body[:5] == ["Ana Lumière", "Sea (video)", "", "Ben Okafor", "Gulls (audio), Sky (image)"]
    assert lines[lines.index("Licences") + 1:] == ["\u201cSea\u201d by Ana Lumière, licensed under CC-BY-4.0",
                                                   "\u201cGulls\u201d by Ben Okafor, licensed under CC-BY-SA-4.0",
                                                   "\u201cSky\u201d by Ben Okafor, licensed under CC0-1.0"]
    assert plan.clips("credits")[0].time_dependent


def _bright_rows(frame: np.ndarray) -> np.ndarray:
    return np.nonzero((frame.min(axis=2) > 200).sum(axis=1) > 2)[0]


@pytest.mark.parametrize("style", ["roll", "cards"])
def test_the_roll_renders_scrolls_and_verifies_for_anyone(project: Path, frags: dict[str, str], cli, style: str,  # type: ignore[no-untyped-def]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    track = ({"kind": "credits", "clips": [{"at": 2.5, "duration": 2, "size": 12}]} if style == "roll" else
             {"kind": "text", "clips": [{"credits": "cards", "at": 2.5, "duration": 2, "size": 12}]})
    write_timeline(project / "t.yaml", timeline(frags, track))
    r = cli("render", "t.yaml", "-o", "a.mp4")
    assert r.exit_code == 0, r.output
    v = decode_video(project / "a.mp4", 320, 180)
    assert len(v) == 54
    assert len(_bright_rows(v[20])) == 0  # the sky, before the roll: no white text
    first, later = _bright_rows(v[31]), _bright_rows(v[50])
    assert len(first) and len(later)
    if style == "roll":
        assert later.min() < first.min()  # it moved up
    else:
        assert not np.array_equal(v[31], v[50])  # another card
    assert cli("render", "t.yaml", "-o", "b.mp4").exit_code == 0
    assert (project / "a.mp4").read_bytes() == (project / "b.mp4").read_bytes()
    r = cli("remix", "t.yaml", "--json")
    assert r.exit_code == 0, r.output
    fid = r.json()["id"]
    monkeypatch.setenv("HITREC_AUTHOR_NAME", "Someone Else")  # verify uses the remix's own editor and title
    monkeypatch.setenv("HITREC_AUTHOR_EMAIL", "else@example.org")
    r = cli("verify", fid, "--json")
    assert r.exit_code == 0 and r.json()["ok"] is True


def test_a_lineage_that_cannot_be_read_is_one_error_naming_the_credits_clip(project: Path, frags: dict[str, str],  # type: ignore[no-untyped-def]
                                                                           cli) -> None:
    repo = Repo.find()
    broken = b"hitrec: 1\ntracks: not a list\n"
    (bad,) = repo.record([FragmentSpec(make_wav(project / "b.wav", freq=321), title="Broken", parents=(frags["Gulls"],),
                                       extra_files={"timeline.yaml": broken})])
    data = timeline(frags, {"kind": "credits", "clips": [{"at": 2.5, "duration": 2}]})
    data["tracks"][1]["clips"].append({"fragment": bad.id, "at": 1})
    write_timeline(project / "t.yaml", data)
    before = sorted(p.name for p in project.iterdir())
    for args in (("render", "t.yaml", "-o", "x.mp4"), ("remix", "t.yaml")):
        r = cli(*args)
        assert r.exit_code == 1
        assert r.stderr.startswith("error: t.yaml:")
        assert ("tracks[2].clips[0]: the credits roll is made from the piece's lineage, which cannot be read:"
                in r.stderr)
        assert f"timeline.yaml of {bad.id[:10]}" in r.stderr
    assert sorted(p.name for p in project.iterdir()) == before
    assert not [f for f in repo.fragments() if f.title == "t"]


@pytest.mark.parametrize(("clip", "kind", "problem"), [
    ("{credits: spiral, duration: 2}", "text", "credits: must be one of roll, cards, got 'spiral'"),
    ("{at: 1}", "credits", "the credits roll needs `duration:`"),
    ("{text: hi, credits: roll, duration: 1}", "text", "gives `text:` or `credits:`, not both"),
    ("{duration: 1, fragment: abcd}", "credits", "'fragment' is not valid for a clip on a credits track"),
])
def test_bad_credits_clips(clip: str, kind: str, problem: str) -> None:
    from hitrec.errors import TimelineError
    from hitrec.timeline.yaml_codec import parse_timeline

    with pytest.raises(TimelineError) as info:
        parse_timeline(f"hitrec: 1\noutput: {{size: [64, 48]}}\ntracks:\n  - kind: {kind}\n    clips:\n"
                       f"      - {clip}\n", "t.yaml")
    assert str(info.value).startswith("t.yaml:6: tracks[0].clips[0]") and problem in str(info.value)
