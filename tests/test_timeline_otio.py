"""`hitrec timeline export|import` in a real repo: OTIO and the editors' formats, files other tools wrote,
and bad input (one clear error, nothing written)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from render_support import make_fragments, write_timeline

from hitrec.store import Repo
from hitrec.store.format import TIMELINE_YAML

otio = pytest.importorskip("opentimelineio")  # a dependency (pyproject): present wherever tests run


@pytest.fixture
def frags(project: Path) -> dict[str, str]:
    return {k: f.id for k, f in make_fragments(Repo.find(), project / "media").items()}


def timeline(frags: dict[str, str]) -> dict[str, Any]:
    return {
        "hitrec": 1,
        "title": "Test piece",
        "output": {"size": [160, 90], "fps": 24},
        "credits": {"editor_share": 0.25},
        "markers": [{"at": 1.25, "name": "look", "color": "green"}],
        "tracks": [
            {"kind": "video", "name": "picture", "clips": [
                {"fragment": frags["red"][:8], "to": 1.5, "weight": 2},
                {"fragment": frags["green"][:8], "duration": 1, "fit": "stretch",
                 "transition": {"type": "crossfade", "duration": 0.5}},
                {"fragment": frags["blue"][:8], "from": 0.5, "to": 1.5, "speed": 2, "mute": True},
            ]},
            {"kind": "audio", "name": "voice", "clips": [
                {"fragment": frags["tone"][:8], "at": 0.5, "duration": 1, "gain": -6},
                {"fragment": frags["tone2"][:8], "at": 1, "fade_in": 0.2},
            ]},
            {"kind": "text", "clips": [{"text": "Hello", "at": 0, "duration": 1, "color": "gold"}]},
        ],
    }


def stored(frag: str) -> bytes:
    repo = Repo.find()
    try:
        data = repo.read_fragment_file(frag, TIMELINE_YAML)
    finally:
        repo.close()
    assert data is not None
    return data


def test_a_piece_exports_to_otio_and_imports_as_its_stored_timeline(project: Path, frags: dict[str, str],
                                                                      cli: Any) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    remix = cli("remix", "t.yaml", "--json")
    assert remix.exit_code == 0, remix.output
    piece = remix.json()["id"]
    done = cli("timeline", "export", piece[:10], "-o", "cut.otio", "--json")
    assert done.exit_code == 0, done.output
    report = done.json()
    assert report["clips"] == 6 and report["transitions"] == 1 and report["source"] == piece
    assert set(report["fragments"]) == {frags[k] for k in ("red", "green", "blue", "tone", "tone2")}
    assert any("gain (tracks[1].clips[0])" in w and "hitrec metadata" in w for w in report["warnings"])
    cut = otio.adapters.read_from_file(str(project / "cut.otio"))
    assert cut.metadata["hitrec"]["credits"]["editor_share"] == 0.25
    red = cut.find_clips()[0]
    assert red.metadata["hitrec"]["fragment"] == frags["red"] and red.metadata["hitrec"]["clip"]["weight"] == 2
    media = Path(otio.url_utils.filepath_from_url(red.media_reference.target_url))
    assert hashlib.sha256(media.read_bytes()).hexdigest() == red.media_reference.metadata["hitrec"]["oid"]
    back = cli("timeline", "import", "cut.otio", "-o", "back.yaml", "--json")
    assert back.exit_code == 0, back.output
    assert back.json()["matched"] == {"metadata": 6 - 1, "hash": 0, "name": 0}  # the text clip has no media
    assert (project / "back.yaml").read_bytes() == stored(piece)  # the same normalized timeline
    human = cli("timeline", "export", "t.yaml", "-o", "cut2.otio")
    assert human.exit_code == 0 and human.stdout.startswith("wrote cut2.otio (OpenTimelineIO): 4 tracks, 6 clips")


def test_otioz_bundles_the_media_under_their_file_names(project: Path, frags: dict[str, str], cli: Any) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    done = cli("timeline", "export", "t.yaml", "-o", "cut.otioz", "--json")
    assert done.exit_code == 0, done.output
    assert done.json()["bundled"] == 5
    with zipfile.ZipFile(project / "cut.otioz") as z:
        names = set(z.namelist())
        assert {"media/red.mp4", "media/green.png", "media/tone.wav", "content.otio"} <= names
        assert z.read("media/red.mp4") == (project / "media" / "red.mp4").read_bytes()
    assert cli("timeline", "import", "cut.otioz", "-o", "back.yaml").exit_code == 0
    assert cli("timeline", "import", "cut.otio" if False else "cut.otioz", "-o", "again.yaml").exit_code == 0
    assert (project / "back.yaml").read_bytes() == (project / "again.yaml").read_bytes()
    planned = cli("remix", "back.yaml", "--dry-run", "--json")
    assert planned.exit_code == 0 and len(planned.json()["parents"]) == 5


@pytest.mark.parametrize(("suffix", "lost"), [
    ("xml", ["speed of clip", "gain (tracks[1].clips[0])", "text clip 'Hello'"]),
    ("edl", ["audio track 'voice'", "track 'text2'", "mute (tracks[0].clips[2])", "1 marker(s) of the piece"]),
    ("aaf", ["1 transition(s) on track 'picture'", "speed of clip", "fit (tracks[0].clips[1])", "1 marker(s)"]),
    ("fcpxml", ["1 transition(s)", "fade_in (tracks[1].clips[1])", "1 marker(s)"]),
    ("kdenlive", ["1 transition(s)", "speed of clip"]),
])
def test_editor_formats_say_what_they_lose_and_import_back(project: Path, frags: dict[str, str], cli: Any,
                                                           suffix: str, lost: list[str]) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    done = cli("timeline", "export", "t.yaml", "-o", f"cut.{suffix}", "--json")
    assert done.exit_code == 0, done.output
    warnings = "\n".join(done.json()["warnings"])
    assert "hitrec's metadata (fragment ids, weights, credits settings" in warnings
    for expected in lost:
        assert expected in warnings, (expected, warnings)
    back = cli("timeline", "import", f"cut.{suffix}", "-o", "back.yaml", "--json")
    assert back.exit_code == 0, back.output
    assert back.json()["matched"]["hash"] == back.json()["clips"]  # the repo's own media files, by their oid
    assert cli("remix", "back.yaml", "--dry-run").exit_code == 0
    markers = yaml.safe_load((project / "back.yaml").read_text()).get("markers")
    if suffix == "kdenlive":
        assert markers == [{"at": 1.25, "name": "look", "color": "green"}]
    if suffix == "xml":  # FCP 7 XML has no marker colours: the adapter reads them back red
        assert markers == [{"at": 1.25, "name": "look", "color": "red"}]


def foreign_timeline(folder: Path) -> Any:
    """An edit as another tool writes it, over the original media files: a centred dissolve, a gap."""
    rt = otio.opentime.RationalTime

    def rng(start: float, duration: float) -> Any:
        return otio.opentime.TimeRange(rt(start * 25, 25), rt(duration * 25, 25))

    def clip(name: str, start: float, duration: float, length: float) -> Any:
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(folder / name)),
                                            available_range=rng(0, length))
        return otio.schema.Clip(name=name, media_reference=ref, source_range=rng(start, duration))

    tl = otio.schema.Timeline(name="From an editor")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.extend([clip("red.mp4", 0, 1.2, 2), otio.schema.Transition(
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve, in_offset=rt(5, 25), out_offset=rt(5, 25)),
        clip("blue.mp4", 0.4, 1.2, 2), otio.schema.Gap(source_range=rng(0, 0.4)), clip("red.mp4", 1, 0.8, 2)])
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.extend([otio.schema.Gap(source_range=rng(0, 0.2)), clip("tone.wav", 0, 1.6, 2)])
    tl.tracks.extend([video, audio])
    return tl


@pytest.mark.parametrize("suffix", ["otio", "xml", "kdenlive"])
def test_files_other_tools_wrote_import(project: Path, frags: dict[str, str], cli: Any, suffix: str) -> None:
    """Built with OTIO's API (its packages ship no sample files) and written through the FCP 7 XML and
    Kdenlive adapters; the media are the files that were `hitrec add`ed, so they match by SHA-256."""
    path = project / f"foreign.{suffix}"
    otio.adapters.write_to_file(foreign_timeline(project / "media"), str(path))
    back = cli("timeline", "import", path.name, "-o", "back.yaml", "--json")
    assert back.exit_code == 0, back.output
    report = back.json()
    assert report["matched"]["hash"] == 4 and set(report["fragments"]) == {frags["red"], frags["blue"], frags["tone"]}
    plan = cli("remix", "back.yaml", "--dry-run", "--json").json()["plan"]
    picture = plan["tracks"][0]["clips"]
    if suffix != "kdenlive":  # the Kdenlive adapter reads no transitions
        assert [(c["at"], c["end"]) for c in picture] == [(0, 1.4), (1.0, 2.4), (2.8, 3.6)]
    assert plan["tracks"][1]["clips"][0]["at"] == pytest.approx(0.2)


def test_media_elsewhere_matches_by_the_recorded_file_name(project: Path, frags: dict[str, str], cli: Any,
                                                            tmp_path: Path) -> None:
    path = project / "moved.otio"
    otio.adapters.write_to_file(foreign_timeline(tmp_path / "not-here"), str(path))
    back = cli("timeline", "import", "moved.otio", "-o", "back.yaml", "--json")
    assert back.exit_code == 0, back.output
    assert back.json()["matched"] == {"metadata": 0, "hash": 0, "name": 4}


# --------------------------------------------------------------------------- bad input


def refused(cli: Any, *args: str, code: int = 1) -> str:
    done = cli(*args)
    assert done.exit_code == code, done.output
    assert done.stderr.startswith("error: ") and "Traceback" not in done.output, done.output
    return done.stderr


@pytest.mark.parametrize(("content", "says"), [
    (b"this is not OTIO at all", "not a readable OpenTimelineIO file (JSON parse error"),
    (b'{"name": "a timeline?", "tracks": []}', "holds JSON that is not OTIO (no OTIO_SCHEMA)"),
    (b'{"OTIO_SCHEMA": "Clip.2", "name": "x", "media_references": {}, "active_media_reference_key": "x"}',
     "not an OTIO timeline"),
    (b"\xff\xfe\x00binary", "not a readable OpenTimelineIO file"),
])
def test_a_file_that_is_not_otio_is_one_error_and_nothing_written(project: Path, frags: dict[str, str], cli: Any,
                                                                  content: bytes, says: str) -> None:
    (project / "bad.otio").write_bytes(content)
    (project / "out.yaml").write_text("kept\n")
    message = refused(cli, "timeline", "import", "bad.otio", "-o", "out.yaml")
    assert says in message and message.count("\n") == 1, message
    assert (project / "out.yaml").read_text() == "kept\n"


def test_truncated_files_are_refused(project: Path, frags: dict[str, str], cli: Any) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    for suffix in ("otio", "otioz", "xml"):
        assert cli("timeline", "export", "t.yaml", "-o", f"cut.{suffix}").exit_code == 0
        whole = (project / f"cut.{suffix}").read_bytes()
        (project / f"cut.{suffix}").write_bytes(whole[: len(whole) // 2])
        message = refused(cli, "timeline", "import", f"cut.{suffix}", "-o", "out.yaml")
        assert f"cut.{suffix}: not a readable" in message, message
    assert not (project / "out.yaml").exists()


def test_a_clip_whose_media_matches_no_fragment_names_the_clip(project: Path, frags: dict[str, str], cli: Any,
                                                               tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.mp4"
    shutil.copy(project / "media" / "red.mp4", stranger)
    with open(stranger, "ab") as fh:
        fh.write(b"\0")  # other bytes, another name
    tl = foreign_timeline(project / "media")
    tl.tracks[0][0].media_reference.target_url = otio.url_utils.url_from_filepath(str(stranger))
    tl.tracks[0][0].name = "the stranger"
    otio.adapters.write_to_file(tl, str(project / "cut.otio"))
    message = refused(cli, "timeline", "import", "cut.otio", "-o", "out.yaml")
    assert "clip 'the stranger' on track 'V1' at 0.000 s" in message and "stranger.mp4" in message, message
    assert "hitrec add" in message
    assert not (project / "out.yaml").exists()


def test_nested_stacks_and_unknown_effects_are_skipped_with_a_warning(project: Path, frags: dict[str, str],
                                                                      cli: Any) -> None:
    tl = foreign_timeline(project / "media")
    nested = otio.schema.Stack(name="compound clip")
    nested.append(otio.schema.Track())
    tl.tracks[0].append(nested)
    tl.tracks[1][1].effects.append(otio.schema.Effect(effect_name="Reverb"))
    tl.tracks.append(otio.schema.Stack(name="a stack as a track"))
    otio.adapters.write_to_file(tl, str(project / "cut.otio"))
    done = cli("timeline", "import", "cut.otio", "-o", "out.yaml")
    assert done.exit_code == 0, done.output
    assert "stack 'compound clip' on track 'V1' at 3.600 s: a nested stack is not modelled" in done.stderr
    assert "a nested stack 'a stack as a track' inside the timeline's stack" in done.stderr
    assert "effect 'Reverb' is not modelled by hitrec: skipped" in done.stderr


def test_a_timeline_over_a_missing_fragment_writes_nothing(project: Path, frags: dict[str, str], cli: Any) -> None:
    data = timeline(frags)
    data["tracks"][0]["clips"][0]["fragment"] = "deadbeef"
    write_timeline(project / "t.yaml", data)
    message = refused(cli, "timeline", "export", "t.yaml", "-o", "cut.otio")
    assert "tracks[0].clips[0].fragment: unknown fragment 'deadbeef'" in message, message
    assert not (project / "cut.otio").exists()
    # an OTIO file naming a fragment this repo lacks, whose media is nowhere
    write_timeline(project / "t.yaml", timeline(frags))
    assert cli("timeline", "export", "t.yaml", "-o", "cut.otio").exit_code == 0
    text = (project / "cut.otio").read_text().replace(frags["red"], "d" * 40)
    text = text.replace("red.mp4", "gone.mp4").replace(Repo.find().media.path(
        Repo.find().fragment(frags["red"]).media.oid).name, "0" * 64)
    (project / "cut.otio").write_text(text)
    message = refused(cli, "timeline", "import", "cut.otio", "-o", "out.yaml")
    assert f"fragment {'d' * 12} is not in this repo" in message and "hitrec pull" in message, message
    assert not (project / "out.yaml").exists()


def test_unknown_extensions_list_the_supported_ones(project: Path, frags: dict[str, str], cli: Any) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    message = refused(cli, "timeline", "export", "t.yaml", "-o", "cut.mov", code=2)
    assert "hitrec cannot write .mov" in message
    for suffix in (".otio", ".otioz", ".xml", ".edl", ".aaf", ".fcpxml", ".kdenlive"):
        assert suffix in message
    assert not (project / "cut.mov").exists()
    assert "import writes a hitrec timeline" in refused(cli, "timeline", "import", "x.otio", "-o", "x.json", code=2)


def test_an_unwritable_place_is_one_line(project: Path, frags: dict[str, str], cli: Any) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    assert "folder nowhere does not exist" in refused(cli, "timeline", "export", "t.yaml", "-o", "nowhere/c.otio",
                                                      code=2)
    (project / "adir.otio").mkdir()
    assert "is a folder" in refused(cli, "timeline", "export", "t.yaml", "-o", "adir.otio", code=2)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (tests/run.sh has it)")
def test_a_full_disk_is_one_line_and_leaves_nothing(project: Path, frags: dict[str, str], cli: Any,
                                                    tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], check=True)
    try:
        write_timeline(project / "t.yaml", timeline(frags))
        message = refused(cli, "timeline", "export", "t.yaml", "-o", str(mount / "cut.otioz"))
        assert "the disk is full" in message and "cut.otioz" in message, message
        assert os.listdir(mount) == []  # no part file left
        assert cli("fsck").exit_code == 0
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_json_reports_are_plain_json(project: Path, frags: dict[str, str], cli: Any) -> None:
    write_timeline(project / "t.yaml", timeline(frags))
    done = cli("timeline", "export", "t.yaml", "-o", "c.edl", "--json")
    assert json.loads(done.stdout)["format"] == "edl"


def test_a_foreign_otioz_is_unpacked_and_matched_by_hash(project: Path, frags: dict[str, str], cli: Any,
                                                        tmp_path: Path) -> None:
    """Someone else's bundle: media under other names, no hitrec metadata; its files are hashed."""
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for name in ("red.mp4", "blue.mp4", "tone.wav"):
        shutil.copy(project / "media" / name, renamed / f"take-{name}")
    tl = foreign_timeline(renamed)
    for clip in tl.find_clips():
        url = clip.media_reference.target_url
        clip.media_reference.target_url = url.replace("/red.mp4", "/take-red.mp4").replace(
            "/blue.mp4", "/take-blue.mp4").replace("/tone.wav", "/take-tone.wav")
    otio.adapters.write_to_file(tl, str(project / "theirs.otioz"))
    back = cli("timeline", "import", "theirs.otioz", "-o", "back.yaml", "--json")
    assert back.exit_code == 0, back.output
    assert back.json()["matched"] == {"metadata": 0, "hash": 4, "name": 0}
