"""The timeline package: the YAML codec writes back what it reads, and credits reads stored timelines
through it (so a stored timeline is checked like any other, and its durations are never re-derived)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from credits_helpers import LineageBuilder
from test_timeline import GOOD

from hitrec.credits.graph import RepoGraph, read_stored_timeline
from hitrec.errors import CreditsError, TimelineError
from hitrec.store import FragmentSpec, Repo
from hitrec.timeline import Timeline, dump_timeline, normalize, parse_timeline


def _comparable(timeline: Timeline) -> list[object]:
    """The model without where it came from (file name, lines)."""
    clips = [dataclasses.replace(c, lines={}, line=0) for t in timeline.tracks for c in t.clips]
    tracks = [(t.kind, t.name) for t in timeline.tracks]
    return [timeline.title, dataclasses.replace(timeline.output, line=None), timeline.credits, tracks, clips]


def test_dump_then_parse_gives_the_same_model() -> None:
    first = parse_timeline(GOOD, "piece.yaml")
    again = parse_timeline(dump_timeline(first).decode(), "again.yaml")
    assert _comparable(again) == _comparable(first)
    assert dump_timeline(again) == dump_timeline(first)
    data = yaml.safe_load(dump_timeline(first))
    assert data["hitrec"] == 1 and data["credits"] == {"editor_share": 0.25}
    # each clip keeps the keys it gave, in its order, and gains none
    assert data["tracks"][0]["clips"][0] == {"fragment": "3fa2c1", "at": 0, "from": 1.5, "to": 6.5}
    assert data["tracks"][0]["clips"][1]["transition"] == {"type": "crossfade", "duration": 0.5}
    assert data["tracks"][3]["clips"][0]["color"] == "#ffd700"


def test_normalize_gives_full_ids_and_explicit_times() -> None:
    timeline = parse_timeline("hitrec: 1\ntracks:\n- kind: audio\n  clips:\n  - {fragment: abcd, gain: -3}\n"
                              "  - {fragment: abcd, from: 0.5}\n", "t.yaml")
    full = "abcd" + "0" * 36
    normal = normalize(timeline, timeline.output, [[(full, 0, 1.25), (full, 1.25, 1 / 3)]])
    clips = yaml.safe_load(dump_timeline(normal))["tracks"][0]["clips"]
    assert clips == [{"fragment": full, "at": 0, "duration": 1.25, "gain": -3},
                     {"fragment": full, "at": 1.25, "duration": 0.333333, "from": 0.5}]
    twice = normalize(normal, normal.output, [[(full, 0, 1.25), (full, 1.25, 0.333333)]])
    assert dump_timeline(twice) == dump_timeline(normal)


@pytest.fixture
def repo(project: Path) -> Repo:
    found = Repo.find(project)
    yield found
    found.close()


def _remix_with(repo: Repo, folder: Path, body: bytes, parent: str) -> str:
    from media import make_wav

    folder.mkdir(exist_ok=True)
    (fragment,) = repo.record([FragmentSpec(make_wav(folder / "mix.wav", seconds=0.2, freq=611, rate=8000),
                                            parents=(parent,), extra_files={"timeline.yaml": body})])
    return fragment.id


def test_credits_refuses_a_stored_clip_without_a_duration(repo: Repo, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    lineage = LineageBuilder(repo, tmp_path / "media")
    a = lineage.original("alice")
    # not normalized: a range, no duration; credits used to work the length out from from/to itself
    body = f"hitrec: 1\ntracks:\n- kind: audio\n  name: a\n  clips:\n  - {{fragment: {a}, from: 0, to: 0.1}}\n"
    piece = _remix_with(repo, tmp_path / "m", body.encode(), a)
    r = cli("credits", piece)
    assert r.exit_code == 1 and "needs a numeric duration" in r.stderr and piece[:10] in r.stderr


def test_credits_reads_a_stored_timeline_through_the_codec(repo: Repo, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    lineage = LineageBuilder(repo, tmp_path / "media")
    a = lineage.original("alice")
    body = (f"hitrec: 1\ntracks:\n- kind: audio\n  name: a\n  clips:\n"
            f"  - {{fragment: {a}, at: 0, duration: 1, wieght: 2}}\n")
    piece = _remix_with(repo, tmp_path / "m", body.encode(), a)
    r = cli("credits", piece)
    assert r.exit_code == 1, r
    assert f"timeline.yaml of {piece[:10]}:6: tracks[0].clips[0].wieght: unknown key 'wieght'; did you mean " \
           "'weight'?" in r.stderr
    with RepoGraph(repo) as graph, pytest.raises(TimelineError):
        graph.get(piece)
    with pytest.raises(CreditsError, match="not UTF-8"):
        read_stored_timeline(b"\xff\xfe", "t")
