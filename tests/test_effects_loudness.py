"""Loudness: output.loudness normalises the mix to an EBU R128 target (two-pass loudnorm, byte-identical
re-renders, verified remixes); `hitrec show` reports a fragment's integrated loudness, cached by media."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from media import make_wav
from render_support import make_color_video, record, write_timeline

from hitrec.render.loudness import integrated_loudness
from hitrec.store import Repo
from hitrec.store.repo import LOUDNESS_CACHE


def test_the_mix_is_normalised_to_the_target(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo.find()
    quiet = record(repo, make_wav(project / "quiet.wav", seconds=3, amplitude=0.02)).id
    loud = record(repo, make_wav(project / "loud.wav", seconds=2, freq=220, amplitude=0.5)).id
    for target in (-16, -23):
        write_timeline(project / "a.yaml", {"hitrec": 1, "output": {"loudness": target}, "tracks": [
            {"kind": "audio", "clips": [{"fragment": quiet}, {"fragment": loud, "at": 0.5, "gain": -6}]}]})
        r = cli("render", "a.yaml", "-o", "a.wav")
        assert r.exit_code == 0, r.output
        measured = integrated_loudness(project / "a.wav")
        assert measured is not None and measured == pytest.approx(target, abs=0.7)
    assert cli("render", "a.yaml", "-o", "b.wav").exit_code == 0
    assert (project / "a.wav").read_bytes() == (project / "b.wav").read_bytes()
    video = record(repo, make_color_video(project / "v.mp4", "red")).id
    write_timeline(project / "v.yaml", {"hitrec": 1, "output": {"size": [160, 90], "loudness": -14}, "tracks": [
        {"kind": "video", "clips": [{"fragment": video}]}]})
    r = cli("remix", "v.yaml", "--json")
    assert r.exit_code == 0, r.output
    stored = repo.read_fragment_file(r.json()["id"], "timeline.yaml")
    assert stored is not None and b"loudness: -14" in stored
    assert cli("verify", r.json()["id"], "--json").json()["ok"] is True


@pytest.mark.parametrize(("value", "problem"), [
    (-80, "must be a loudness target from -70 to -5 LUFS (e.g. -16, -23), got -80"),
    (0, "must be a loudness target from -70 to -5 LUFS"),
    ("loud", "must be a number, got a string ('loud')"),
])
def test_a_loudness_target_out_of_range_is_refused(project: Path, cli, value: object, problem: str) -> None:  # type: ignore[no-untyped-def]
    tone = record(Repo.find(), make_wav(project / "t.wav")).id
    write_timeline(project / "a.yaml", f"hitrec: 1\noutput:\n  loudness: {value}\ntracks:\n"
                   f"  - kind: audio\n    clips: [{{fragment: {tone}}}]\n")
    r = cli("render", "a.yaml", "-o", "a.wav")
    assert r.exit_code == 1
    assert r.stderr.strip().startswith(f"error: a.yaml:3: output.loudness: {problem}")
    assert not (project / "a.wav").exists()


def test_show_reports_integrated_loudness_and_caches_it(project: Path, cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo.find()
    tone = record(repo, make_wav(project / "t.wav", seconds=2, amplitude=0.1)).id
    r = cli("show", tone[:8], "--json")
    assert r.exit_code == 0, r.output
    lufs = r.json()["loudness"]
    assert lufs == pytest.approx(integrated_loudness(project / "t.wav"), abs=0.05)
    assert -27 < lufs < -17  # a 0.1 sine, both channels
    cache = repo.git_dir / LOUDNESS_CACHE
    data = json.loads(cache.read_text())
    oid = repo.fragment(tone).media.oid
    assert data == {oid: lufs}
    cache.write_text(json.dumps({oid: -33.5}))  # a cached value is what show reports: it is not measured again
    assert cli("show", tone[:8], "--json").json()["loudness"] == -33.5
    r = cli("show", tone[:8])
    assert "-33.5 LUFS" in r.stdout
    assert cli("fsck").exit_code == 0
