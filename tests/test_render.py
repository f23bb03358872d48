"""Rendering timelines with the ffmpeg engine: picture, sound, formats, determinism, remix, verify, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import yaml
from conftest import run_hitrec
from media import make_wav
from render_support import decode_audio, decode_video, make_fragments, mean_rgb, record, rms, write_timeline

from hitrec.store import Repo


@pytest.fixture
def frags(project: Path) -> dict[str, str]:
    return {k: f.id for k, f in make_fragments(Repo.find(), project / "media").items()}


def video_timeline(frags: dict[str, str], **output: object) -> dict:
    return {
        "hitrec": 1,
        "title": "Test piece",
        "output": {"size": [160, 90], "fps": 24, **output},
        "tracks": [
            {"kind": "video", "name": "picture", "clips": [
                {"fragment": frags["red"][:8], "to": 1},
                {"fragment": frags["green"][:8], "duration": 1, "fit": "stretch",
                 "transition": {"type": "crossfade", "duration": 0.5}},
                {"fragment": frags["blue"][:8], "from": 0.5, "to": 1.5, "mute": True},
            ]},
            {"kind": "audio", "name": "voice", "clips": [
                {"fragment": frags["tone"][:8], "at": 0.5, "duration": 1, "gain": -6},
            ]},
        ],
    }


def probe_streams(path: Path) -> dict[str, object]:
    with av.open(str(path)) as container:
        info: dict[str, object] = {"format": container.format.name}
        for stream in container.streams:
            if stream.type == "video":
                info.update(vcodec=stream.codec_context.name, width=stream.width, height=stream.height,
                            fps=float(stream.average_rate))
            elif stream.type == "audio":
                info.update(acodec=stream.codec_context.name, rate=stream.rate, channels=stream.channels)
        return info


def test_render_video_picture_and_sound(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", video_timeline(frags))
    r = cli("render", "t.yaml", "-o", "out.mp4", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["length"] == 2.5
    info = probe_streams(project / "out.mp4")
    assert info["vcodec"] == "h264" and info["acodec"] == "aac"
    assert (info["width"], info["height"], info["fps"], info["rate"]) == (160, 90, 24.0, 48000)
    frames = decode_video(project / "out.mp4", 160, 90)
    assert len(frames) == 60
    red = mean_rgb(frames[6])
    assert red[0] > 200 and red[1] < 40 and red[2] < 40
    mid = mean_rgb(frames[18])  # 0.75 s: half way through the red -> green cross-fade
    assert 90 < mid[0] < 160 and 90 < mid[1] < 160
    green = mean_rgb(frames[30])
    assert green[1] > 200 and green[0] < 40
    blue = mean_rgb(frames[54])
    assert blue[2] > 200 and blue[0] < 40
    sound = decode_audio(project / "out.mp4")
    # red's own sound (330 Hz, -20 dBFS-ish aac) plays 0-1 s and fades out under the cross-fade;
    # the tone at -6 dB plays 0.5-1.5 s; blue is muted.
    tone_alone = rms(sound[int(1.1 * 48000):int(1.4 * 48000)])
    assert 0.3 / 2 ** 0.5 / 2 * 0.85 < tone_alone < 0.3 / 2 ** 0.5 / 2 * 1.15
    assert rms(sound[int(1.6 * 48000):int(2.4 * 48000)]) < 0.003


def test_output_settings_come_from_the_timeline_not_the_clips(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", video_timeline(frags, size=[320, 240], fps=30, sample_rate=24000,
                                                      format="webm"))
    assert cli("render", "t.yaml", "-o", "out.webm").exit_code == 0
    info = probe_streams(project / "out.webm")
    assert info["vcodec"] == "vp9" and info["acodec"] == "opus"
    assert (info["width"], info["height"]) == (320, 240)
    assert len(decode_video(project / "out.webm", 320, 240)) == 75
    r = cli("render", "t.yaml", "-o", "out.mp4")
    assert r.exit_code == 1 and "renders webm but the output file is out.mp4" in r.stderr


@pytest.mark.parametrize(("fmt", "codec"), [("wav", "pcm_s16le"), ("mp3", "mp3float"), ("flac", "flac")])
def test_audio_only_formats(project: Path, frags: dict[str, str], cli, fmt: str, codec: str) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", {"hitrec": 1, "output": {"sample_rate": 44100, "channels": 1}, "tracks": [
        {"kind": "audio", "clips": [{"fragment": frags["tone"], "duration": 1}]}]})
    r = cli("render", "a.yaml", "-o", f"out.{fmt}")
    assert r.exit_code == 0, r.output
    info = probe_streams(project / f"out.{fmt}")
    assert info["acodec"] == codec and info["rate"] == 44100 and info["channels"] == 1
    assert "vcodec" not in info


def test_audio_mix_gain_fades_loop_speed_and_sum(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", {"hitrec": 1, "tracks": [
        {"kind": "audio", "name": "one", "clips": [
            {"fragment": frags["tone"], "at": 0, "duration": 1, "gain": -6.0206, "fade_in": 0.5},
            {"fragment": frags["tone2"], "at": 2, "duration": 3, "loop": True, "fade_out": 1},
            {"fragment": frags["tone"], "at": 6, "speed": 2},
        ]},
        {"kind": "audio", "name": "two", "clips": [{"fragment": frags["tone"], "at": 5.2, "to": 0.5, "mute": True}]},
    ]})
    assert cli("render", "a.yaml", "-o", "out.wav").exit_code == 0
    s = decode_audio(project / "out.wav")
    assert len(s) == 7 * 48000
    full = 0.3 / 2 ** 0.5
    sec = 48000
    assert rms(s[:int(0.05 * sec)]) < 0.05 * full  # fade in starts from silence
    assert rms(s[int(0.6 * sec):int(0.95 * sec)]) == pytest.approx(full / 2, rel=0.03)  # -6 dB
    assert rms(s[int(1.1 * sec):int(1.9 * sec)]) < 1e-4  # a gap is silence
    assert rms(s[int(2.1 * sec):int(3.9 * sec)]) == pytest.approx(full, rel=0.03)  # looped 1 s source, 3 s
    assert rms(s[int(4.95 * sec):5 * sec]) < 0.05 * full  # faded out
    assert rms(s[int(6.1 * sec):int(6.9 * sec)]) == pytest.approx(full, rel=0.03)  # 2 s at speed 2 -> 1 s


def test_overlapping_audio_is_summed_and_ducking_lowers_music(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    base = {"hitrec": 1, "tracks": [
        {"kind": "audio", "name": "voice", "clips": [{"fragment": frags["tone2"], "at": 1}]},
        {"kind": "audio", "name": "music", "clips": [{"fragment": frags["tone"], "at": 0, "duration": 3,
                                                      "loop": True}]},
    ]}
    write_timeline(project / "plain.yaml", base)
    base["tracks"][1]["clips"][0]["duck_under"] = "voice"
    write_timeline(project / "ducked.yaml", base)
    assert cli("render", "plain.yaml", "-o", "plain.wav").exit_code == 0
    assert cli("render", "ducked.yaml", "-o", "ducked.wav").exit_code == 0
    plain, ducked = decode_audio(project / "plain.wav"), decode_audio(project / "ducked.wav")
    sec = 48000
    full = 0.3 / 2 ** 0.5
    assert rms(plain[int(1.2 * sec):int(1.8 * sec)]) == pytest.approx(full * 2 ** 0.5, rel=0.05)  # two tones summed
    assert rms(ducked[int(0.2 * sec):int(0.8 * sec)]) == pytest.approx(full, rel=0.05)  # before the voice
    during = rms(ducked[int(1.3 * sec):int(1.8 * sec)])
    assert during < rms(plain[int(1.3 * sec):int(1.8 * sec)]) * 0.9  # music pushed down under the voice


def test_overlay_track_and_text_draw_on_top(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [
        {"kind": "video", "clips": [{"fragment": frags["red"], "duration": 2}]},
        {"kind": "video", "clips": [{"fragment": frags["green"], "at": 1, "duration": 1, "fit": "contain",
                                     "position": "left"}]},
        {"kind": "text", "clips": [{"text": "HELLO", "at": 0, "duration": 1, "size": 30, "color": "white"}]},
    ]})
    assert cli("render", "t.yaml", "-o", "out.mp4").exit_code == 0
    frames = decode_video(project / "out.mp4", 160, 90)
    # text: white pixels in the middle of the first second only
    assert (frames[12, 30:60, 40:120].min(axis=2) > 200).sum() > 50
    assert not (frames[36, 30:60, 40:120].min(axis=2) > 200).any()
    # the image (64x48 -> 120x90, at the left) covers the left of the frame; red shows on the right
    left, right = mean_rgb(frames[36][:, :110]), mean_rgb(frames[36][:, 130:])
    assert left[1] > 200 and left[0] < 40
    assert right[0] > 200 and right[1] < 40
    assert mean_rgb(frames[12][:, :110])[0] > 150  # before the overlay starts: red


def test_same_timeline_renders_byte_identical(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    tl = video_timeline(frags)
    tl["tracks"].append({"kind": "text", "clips": [{"text": "Hi", "duration": 1, "fade_in": 0.3}]})
    write_timeline(project / "t.yaml", tl)
    for fmt in ("mp4", "webm"):
        assert cli("render", "t.yaml", "-o", f"a.{fmt}").exit_code == 0
        assert cli("render", "t.yaml", "-o", f"b.{fmt}").exit_code == 0
        assert (project / f"a.{fmt}").read_bytes() == (project / f"b.{fmt}").read_bytes()
    write_timeline(project / "a.yaml", {"hitrec": 1, "tracks": [{"kind": "audio", "clips": [
        {"fragment": frags["tone"], "gain": -3, "fade_out": 0.5}]}]})
    for fmt in ("wav", "mp3", "flac"):
        assert cli("render", "a.yaml", "-o", f"a.{fmt}").exit_code == 0
        assert cli("render", "a.yaml", "-o", f"b.{fmt}").exit_code == 0
        assert (project / f"a.{fmt}").read_bytes() == (project / f"b.{fmt}").read_bytes()


def test_progress_reports_the_whole_length(project: Path, frags: dict[str, str]) -> None:
    from hitrec.ops.render import render

    write_timeline(project / "t.yaml", video_timeline(frags))
    calls: list[tuple[float, float | None]] = []
    render(Repo.find(), project / "t.yaml", project / "out.mp4",
           progress=lambda advance=0, total=None, description=None: calls.append((advance, total)))
    assert calls[0][1] == 2.5
    assert sum(a for a, _ in calls) == pytest.approx(2.5)


def test_remix_records_parents_timeline_and_licence(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo.find()
    sa = record(repo, make_wav(project / "sa.wav", freq=600), license="CC-BY-SA-4.0")
    tl = video_timeline(frags)
    tl["credits"] = {"editor_share": 0.3}
    tl["tracks"][0]["clips"][0]["weight"] = 2
    tl["tracks"][1]["clips"].append({"fragment": sa.id[:7], "at": 2})
    tl["tracks"][1]["clips"].append({"fragment": frags["tone"][:9], "at": 2.2, "to": 0.2})
    write_timeline(project / "t.yaml", tl)
    r = cli("remix", "t.yaml", "--title", "My cut", "--json")
    assert r.exit_code == 0, r.output
    data = r.json()
    fid = data["id"]
    expected = [frags["red"], frags["green"], frags["blue"], frags["tone"], sa.id]
    assert data["parents"] == expected and data["license"] == "CC-BY-SA-4.0"
    fragment = repo.fragment(fid)
    assert fragment.parents == tuple(expected) and fragment.title == "My cut" and fragment.license == "CC-BY-SA-4.0"
    assert fragment.kind == "video" and fragment.has_timeline
    stored = yaml.safe_load(repo.read_fragment_file(fid, "timeline.yaml"))
    assert stored["credits"] == {"editor_share": 0.3}
    clips = [c for t in stored["tracks"] for c in t["clips"]]
    assert all(len(c["fragment"]) == 40 for c in clips)
    assert all(isinstance(c["at"], (int, float)) and isinstance(c["duration"], (int, float)) for c in clips)
    assert clips[0] == {"fragment": frags["red"], "at": 0, "duration": 1, "to": 1, "weight": 2}
    assert clips[5]["duration"] == 0.2
    # verify re-renders it to identical bytes
    r = cli("verify", fid[:8], "--json")
    assert r.exit_code == 0 and r.json()["ok"] is True and r.json()["parents_ok"] is True
    r = cli("verify", fid[:8])
    assert r.exit_code == 0 and "identical bytes" in r.stdout
    # rendering the same remix again is refused: it is already recorded
    r = cli("remix", "t.yaml")
    assert r.exit_code == 1 and fid[:12] in r.stderr


def test_verify_detects_a_mismatch_and_refuses_non_remixes(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo.find()
    r = cli("verify", frags["tone"])
    assert r.exit_code == 1 and "not a remix" in r.stderr
    # A fragment carrying a timeline whose media was not made from it.
    timeline = b"hitrec: 1\ntracks:\n- kind: audio\n  clips:\n  - {fragment: " + frags["tone"].encode() + b"}\n"
    from hitrec.store import FragmentSpec

    (fake,) = repo.record([FragmentSpec(make_wav(project / "fake.wav", freq=123), parents=(frags["tone"],),
                                        extra_files={"timeline.yaml": timeline})])
    r = cli("verify", fake.id, "--json")
    assert r.exit_code == 1 and r.json()["ok"] is False


def test_dry_run_prints_the_plan_and_does_nothing(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "t.yaml", video_timeline(frags))
    before = cli("log", "--json").json()
    r = cli("remix", "t.yaml", "--dry-run")
    assert r.exit_code == 0, r.output
    for key in ("red", "green", "blue", "tone"):
        assert frags[key] in r.stdout
    assert "2.500s" in r.stdout and "160x90" in r.stdout and "nothing rendered or recorded" in r.stdout
    r = cli("remix", "t.yaml", "--dry-run", "--json")
    plan = r.json()["plan"]
    assert r.json()["dry_run"] is True and plan["length"] == 2.5
    assert [c["at"] for c in plan["tracks"][0]["clips"]] == [0, 0.5, 1.5]
    assert cli("log", "--json").json() == before
    assert not list(project.glob("*.mp4"))


def test_licence_errors_name_the_fragments_and_record_nothing(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    repo = Repo.find()
    nd = record(repo, make_wav(project / "nd.wav", freq=700), license="CC-BY-ND-4.0")
    sa = record(repo, make_wav(project / "sa.wav", freq=710), license="CC-BY-SA-4.0")
    ncsa = record(repo, make_wav(project / "ncsa.wav", freq=720), license="CC-BY-NC-SA-4.0")
    before = len(cli("log", "--json").json())
    for bad, named in (([frags["tone"], nd.id], [nd.id]), ([sa.id, ncsa.id], [sa.id, ncsa.id])):
        write_timeline(project / "t.yaml", {"hitrec": 1, "tracks": [{"kind": "audio", "clips": [
            {"fragment": fid, "at": 0} for fid in bad]}]})
        for args in (("remix", "t.yaml"), ("remix", "t.yaml", "--dry-run")):
            r = cli(*args)
            assert r.exit_code == 1
            for fid in named:
                assert fid[:10] in r.stderr
    assert len(cli("log", "--json").json()) == before


@pytest.mark.slow
@pytest.mark.parametrize("command", ["render", "remix"])
def test_ctrl_c_leaves_nothing_behind(project: Path, frags: dict[str, str], command: str) -> None:
    write_timeline(project / "long.yaml", {"hitrec": 1, "output": {"size": [640, 360], "fps": 30}, "tracks": [
        {"kind": "video", "clips": [{"fragment": frags["red"], "duration": 600, "loop": True}]}]})
    before = sorted(p.name for p in project.iterdir())
    args = [sys.executable, "-m", "hitrec", command, "long.yaml"] + (["-o", "long.mp4"] if command == "render" else [])
    proc = subprocess.Popen(args, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until ffmpeg is writing
        if command == "render" and list(project.glob(".long.mp4.*")):
            break
        if command == "remix" and any(Path("/proc").glob("*/cmdline")) and _ffmpeg_child(proc.pid):
            break
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in project.iterdir()) == before
    assert run_hitrec("log", "--json", cwd=project).stdout.count('"id"') == len(frags)


def _ffmpeg_child(pid: int) -> bool:
    for cmdline in Path("/proc").glob("*/cmdline"):
        try:
            stat = (cmdline.parent / "stat").read_text().split()
            if int(stat[3]) == pid and b"ffmpeg" in cmdline.read_bytes():
                return True
        except (OSError, ValueError, IndexError):
            continue
    return False


def test_output_problems_are_one_line_errors(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", {"hitrec": 1, "tracks": [{"kind": "audio", "clips": [
        {"fragment": frags["tone"]}]}]})
    r = cli("render", "a.yaml", "-o", "missing/out.wav")
    assert r.exit_code == 2 and "does not exist" in r.stderr
    (project / "dir.wav").mkdir()
    r = cli("render", "a.yaml", "-o", "dir.wav")
    assert r.exit_code == 2 and "is a folder" in r.stderr
    r = cli("render", "a.yaml", "-o", "out.mp4")
    assert r.exit_code == 1 and "audio-only timeline cannot render to .mp4" in r.stderr
    r = cli("render", "nope.yaml", "-o", "out.wav")
    assert r.exit_code == 1 and "nope.yaml: no such file" in r.stderr


@pytest.mark.slow
def test_demo_remixes_and_verifies(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("demo", str(tmp_path / "demo"))
    assert r.exit_code == 0, r.output
    assert "hitrec remix timeline.yaml" in r.stdout and "re-renders to identical bytes" in r.stdout
    repo = Repo(tmp_path / "demo" / "studio")
    pieces = [f for f in repo.fragments() if f.has_timeline]
    assert len(pieces) == 1 and len(pieces[0].parents) == 6  # the five sources and the captions
    # the piece shows the effects: a wipe (not a cross-fade), a Ken Burns still, a caption, the credits roll
    stored = yaml.safe_load(repo.read_fragment_file(pieces[0].id, "timeline.yaml") or b"")
    clips = {t["kind"]: t["clips"] for t in stored["tracks"]}
    assert any(c.get("transition", {}).get("type") == "wipeleft" for c in clips["video"])
    assert any(c.get("zoom") == "in" for c in clips["video"])
    assert clips["captions"] and clips["credits"]
    # and a preview frame of the timeline, one line
    assert "hitrec preview timeline.yaml --at 2.5 -o frame.png -> wrote frame.png" in r.stdout
    from PIL import Image

    assert Image.open(tmp_path / "demo" / "studio" / "frame.png").size == (320, 180)


def test_progress_bar_on_a_terminal(project: Path, frags: dict[str, str]) -> None:
    import pty
    import threading

    write_timeline(project / "t.yaml", video_timeline(frags))
    leader, follower = pty.openpty()
    drawn = bytearray()

    def drain() -> None:  # keep reading so the child never blocks on a full terminal buffer
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([sys.executable, "-m", "hitrec", "render", "t.yaml", "-o", "out.mp4"], cwd=project,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, timeout=120,
                              env={**os.environ, "TERM": "xterm"})
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert proc.returncode == 0, drawn.decode(errors="replace")
    assert b"rendering" in drawn and b"Traceback" not in drawn
    assert (project / "out.mp4").exists()


def test_picture_shorter_than_its_container_keeps_the_timing(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    from media import ffmpeg

    path = project / "short-picture.mp4"  # 1 s of picture, 2 s of sound: the container lasts 2 s
    ffmpeg("-f", "lavfi", "-i", "color=c=white:size=160x90:rate=24:duration=1", "-f", "lavfi", "-i",
           "sine=frequency=500:duration=2:sample_rate=48000", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           str(path))
    short = record(Repo.find(), path)
    assert short.media.duration and short.media.duration > 1.9
    write_timeline(project / "t.yaml", {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [
        {"kind": "video", "clips": [{"fragment": short.id}, {"fragment": frags["blue"], "to": 1}]}]})
    r = cli("render", "t.yaml", "-o", "out.mp4", "--json")
    assert r.exit_code == 0, r.output
    length = r.json()["length"]
    frames = decode_video(project / "out.mp4", 160, 90)
    assert len(frames) == round(length * 24)
    assert mean_rgb(frames[36])[0] > 200  # 1.5 s: the last white frame held
    blue = mean_rgb(frames[round((length - 0.5) * 24)])
    assert blue[2] > 200 and blue[0] < 40  # the next clip starts where the plan put it
