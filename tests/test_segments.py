"""Segmented renders and the segment cache: windows from the timeline alone, byte-identical fresh and
incremental renders, reuse counted, damaged or foreign cache entries found and encoded again, the size
limit, `hitrec cache`, drafts."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from render_support import decode_audio, decode_video, make_color_video, make_fragments, record, rms, write_timeline

from hitrec.render.engine import plan_timeline
from hitrec.render.plan import RepoResolver
from hitrec.render.segments import MAX_SECONDS, allowed, fps_of, unsafe_spans, windows
from hitrec.store import Repo
from hitrec.timeline import load_timeline


@pytest.fixture
def frags(project: Path) -> dict[str, str]:
    repo = Repo.find()
    found = {k: f.id for k, f in make_fragments(repo, project / "media").items()}
    for color in ("yellow", "purple", "orange", "cyan"):
        found[color] = record(repo, make_color_video(project / "media" / f"{color}.mp4", color, seconds=2.0)).id
    for color in ("navy", "gray"):  # silent: changing one for the other changes the picture, not the sound
        found[color] = record(repo, make_color_video(project / "media" / f"{color}.mp4", color, freq=None)).id
    return found


def cut_timeline(frags: dict[str, str], middle: str = "blue") -> dict:
    """Five hard cuts (each its own segment), a title over the first two, a sound track."""
    return {
        "hitrec": 1,
        "output": {"size": [160, 90], "fps": 24},
        "tracks": [
            {"kind": "video", "name": "picture", "clips": [
                {"fragment": frags["red"][:8], "to": 1.5},
                {"fragment": frags["yellow"][:8], "to": 1.5},
                {"fragment": frags[middle][:8], "to": 1.5},
                {"fragment": frags["purple"][:8], "to": 1.5},
                {"fragment": frags["orange"][:8], "to": 1.5, "fade_out": 0.5},
            ]},
            {"kind": "text", "clips": [{"text": "Title", "at": 0, "duration": 3, "size": 20}]},
            {"kind": "audio", "name": "voice", "clips": [{"fragment": frags["tone"][:8], "at": 2}]},
        ],
    }


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_files(project: Path, kinds: tuple[str, ...] = ("seg",)) -> list[Path]:
    """The cache's entries of these kinds ("seg": picture segments, "snd": sounds)."""
    folder = project / ".hitrec" / "cache" / "segments"
    return sorted(p for kind in kinds for p in folder.glob(f"*.{kind}")) if folder.is_dir() else []


BOTH = ("seg", "snd")


def test_windows_come_from_the_timeline_and_never_cut_a_fade_or_a_cross_fade(project: Path,
                                                                             frags: dict[str, str]) -> None:
    data = cut_timeline(frags)
    data["tracks"][0]["clips"][1]["transition"] = {"duration": 0.5}
    data["tracks"][0]["clips"].append({"fragment": frags["green"][:8], "duration": 2.5 * MAX_SECONDS,
                                       "fit": "stretch"})
    data["tracks"][0]["clips"].append({"fragment": frags["red"][:8], "to": 1, "duration": 9, "loop": True})
    data["tracks"][0]["clips"].append({"fragment": frags["green"][:8], "duration": 10, "fit": "cover", "zoom": "in"})
    write_timeline(project / "t.yaml", data)
    with RepoResolver(Repo.find()) as resolver:
        plan = plan_timeline(resolver, load_timeline(project / "t.yaml"))
        again = plan_timeline(resolver, load_timeline(project / "t.yaml"))
    found = windows(plan)
    assert found == windows(again)
    fps = fps_of(plan)
    assert found[0].start == 0 and found[-1].end == round(plan.length * fps)
    assert all(a.end == b.start for a, b in itertools.pairwise(found))
    spans = unsafe_spans(plan)
    edges = [w.start for w in found[1:]]
    assert all(allowed(e, spans) for e in edges)
    # the cross-fade (yellow over red, 1.0-1.5 s) and the fade-out are inside one window each
    assert not any(23 < e < 37 for e in edges)
    # the hard cuts at 2.5 s (yellow -> blue) and 4 s become edges
    assert 60 in edges and 96 in edges
    # the long still is split into windows of at most MAX_SECONDS; the 9 s loop and the 10 s Ken Burns move
    # (time-dependent: PlannedClip.time_dependent) are never cut
    loop_start = round((plan.length - 19) * fps)
    still = [w for w in found if round(7 * fps) <= w.start < loop_start]
    assert len(still) == 3 and all(w.frames <= MAX_SECONDS * fps for w in still)
    assert [w.start for w in found[-2:]] == [loop_start, loop_start + 9 * 24]


def test_fresh_and_incremental_renders_are_byte_identical(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", cut_timeline(frags))
    write_timeline(project / "b.yaml", cut_timeline(frags, middle="cyan"))
    first = cli("render", "a.yaml", "-o", "a1.mp4", "--json")
    assert first.exit_code == 0, first.output
    segments = first.json()["segments"]
    assert segments >= 4 and first.json()["reused"] == 0
    again = cli("render", "a.yaml", "-o", "a2.mp4", "--json").json()
    assert again["reused"] == segments  # nothing changed: every segment from the cache
    assert sha(project / "a1.mp4") == sha(project / "a2.mp4")
    changed = cli("render", "b.yaml", "-o", "b-incremental.mp4", "--json").json()
    assert changed["segments"] == segments and changed["reused"] == segments - 1  # only the middle clip's
    assert cli("cache", "clear").exit_code == 0
    assert cache_files(project, BOTH) == []
    fresh = cli("render", "b.yaml", "-o", "b-fresh.mp4", "--json").json()
    assert fresh["reused"] == 0
    assert sha(project / "b-incremental.mp4") == sha(project / "b-fresh.mp4")
    # a remix made from cached segments is what `hitrec verify` renders afresh (it reads no cache)
    remixed = cli("remix", "b.yaml", "--json")
    assert remixed.exit_code == 0, remixed.output
    assert remixed.json()["fragment"]["media"]["oid"] == sha(project / "b-fresh.mp4")
    verified = cli("verify", remixed.json()["id"], "--json")
    assert verified.exit_code == 0 and verified.json()["ok"], verified.output
    # and the picture is the timeline's: 7.5 s, cyan in the middle, the title's frames and the sound in place
    frames = decode_video(project / "b-fresh.mp4", 160, 90)
    assert len(frames) == 180
    g = frames[84].reshape(-1, 3).mean(axis=0)
    assert g[1] > 200 and g[2] > 200 and g[0] < 60
    sound = decode_audio(project / "b-fresh.mp4")
    assert rms(sound[int(2.2 * 48000):int(2.8 * 48000)]) > 0.1
    assert rms(sound[int(4.5 * 48000):int(5.5 * 48000)]) < rms(sound[int(2.2 * 48000):int(2.8 * 48000)])


def test_a_damaged_or_foreign_cache_entry_is_found_and_encoded_again(project: Path, frags: dict[str, str],
                                                                       cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", cut_timeline(frags))
    assert cli("render", "a.yaml", "-o", "fresh.mp4").exit_code == 0
    entries = cache_files(project)
    assert len(entries) >= 4
    damaged, foreign, donor = entries[0], entries[1], entries[2]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    foreign.write_bytes(donor.read_bytes())  # another segment's bytes under this one's name
    r = cli("render", "a.yaml", "-o", "again.mp4", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["reused"] == len(entries) - 2
    assert r.stderr.count("warning:") == 2 and "damaged or not this segment's" in r.stderr
    assert sha(project / "again.mp4") == sha(project / "fresh.mp4")
    assert len(cache_files(project)) == len(entries)  # both written again, soundly
    third = cli("render", "a.yaml", "-o", "third.mp4", "--json")
    assert third.json()["reused"] == len(entries) and third.stderr == ""


def test_the_cache_keeps_to_its_size_limit_and_hitrec_cache_reports_it(project: Path, frags: dict[str, str],
                                                                        cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", cut_timeline(frags, middle="navy"))
    assert cli("render", "a.yaml", "-o", "a.mp4").exit_code == 0
    r = cli("cache", "--json")
    assert r.exit_code == 0
    shown = r.json()
    assert shown["entries"] == len(cache_files(project, BOTH)) >= 5
    assert shown["sounds"] == len(cache_files(project, ("snd",))) == 1  # the sound shares folder and limit
    assert shown["segments"] == len(cache_files(project)) >= 4
    assert shown["size"] == sum(p.stat().st_size for p in cache_files(project, BOTH))
    assert shown["limit"] == 2 << 30
    assert "entries (" in cli("cache").stdout and "1 sounds" in cli("cache").stdout
    # the least recently used go first once the limit is passed
    entries = cache_files(project, BOTH)
    for age, entry in enumerate(entries):
        os.utime(entry, (1_000_000 + age, 1_000_000 + age))
    limit = sum(p.stat().st_size for p in entries)
    assert cli("config", "cache.max-size", str(limit)).exit_code == 0
    write_timeline(project / "b.yaml", cut_timeline(frags, middle="gray"))
    assert cli("render", "b.yaml", "-o", "b.mp4").exit_code == 0  # uses all but the navy segment, adds gray's
    left = cache_files(project, BOTH)
    assert sum(p.stat().st_size for p in left) <= limit
    assert len(set(entries) - set(left)) >= 1
    assert all(p.stat().st_mtime > 2_000_000 for p in left)  # the one the render did not use went first
    bad = cli("config", "cache.max-size", "lots")
    assert bad.exit_code == 2 and "cache.max-size must be a size" in bad.stderr
    cleared = cli("cache", "clear", "--json").json()
    assert cleared["cleared"] and cleared["entries"] == len(left)
    assert cli("cache", "--json").json()["entries"] == 0


def test_a_draft_keeps_the_timing_and_sound_and_never_feeds_the_full_render(project: Path, frags: dict[str, str],
                                                                            cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", cut_timeline(frags))
    r = cli("render", "a.yaml", "--draft", "-o", "draft.mp4", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["draft"] is True
    frames = decode_video(project / "draft.mp4", 80, 44)
    assert len(frames) == 180  # same length and frame rate, a quarter of the area (80x44: even sizes)
    g = frames[84].reshape(-1, 3).mean(axis=0)  # blue in the middle
    assert g[2] > 200
    full = cli("render", "a.yaml", "-o", "full.mp4", "--json").json()
    assert full["reused"] == 0 and full["draft"] is False  # no draft segment stands in for a full one
    assert full["sound_reused"] is False  # the draft's sound is the same mix, encoded faster (MP3)
    draft_sound, full_sound = decode_audio(project / "draft.mp4"), decode_audio(project / "full.mp4")
    assert len(draft_sound) == len(full_sound)
    assert rms(draft_sound[2 * 48000:3 * 48000]) == pytest.approx(rms(full_sound[2 * 48000:3 * 48000]), rel=0.02)
    # sample for sample in place: a tone at 0.75 s over a silent picture starts and ends at the same sample
    write_timeline(project / "t.yaml", {"hitrec": 1, "output": {"size": [160, 90], "fps": 24}, "tracks": [
        {"kind": "video", "clips": [{"fragment": frags["navy"][:8]}]},
        {"kind": "audio", "clips": [{"fragment": frags["tone2"][:8], "at": 0.75}]}]})
    for out, flags in (("t-draft.mp4", ["--draft"]), ("t-full.mp4", [])):
        assert cli("render", "t.yaml", *flags, "-o", out).exit_code == 0
    heard = [np.flatnonzero(np.abs(decode_audio(project / f)[:, 0]) > 0.05) for f in ("t-draft.mp4", "t-full.mp4")]
    assert abs(int(heard[0][0]) - int(heard[1][0])) <= 2 and abs(int(heard[0][0]) - 36000) <= 48
    assert abs(int(heard[0][-1]) - int(heard[1][-1])) <= 2 and abs(int(heard[0][-1]) - 84000) <= 48
    again = cli("render", "a.yaml", "--draft", "-o", "draft2.mp4", "--json").json()
    assert again["sound_reused"] is True and again["reused"] == again["segments"]
    assert sha(project / "draft2.mp4") == sha(project / "draft.mp4")
    # drafts are not recorded: remix offers no --draft; moviepy does not draft
    assert cli("remix", "a.yaml", "--draft").exit_code == 2
    bad = cli("render", "a.yaml", "--draft", "--engine", "moviepy", "-o", "m.mp4")
    assert bad.exit_code == 2 and "--draft renders with the ffmpeg engine" in bad.stderr


def test_the_sound_is_cached_by_what_decides_it_and_a_warm_render_is_a_cold_one_byte_for_byte(
        project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    def variant(name: str, middle: str = "navy", gain: float = 0.0) -> str:
        data = cut_timeline(frags, middle=middle)
        data["tracks"][2]["clips"][0]["gain"] = gain
        write_timeline(project / f"{name}.yaml", data)
        return f"{name}.yaml"

    def render(timeline: str, out: str) -> dict:
        r = cli("render", timeline, "-o", out, "--json")
        assert r.exit_code == 0, r.output
        assert r.stderr == ""
        return r.json()

    cold = render(variant("a"), "a-cold.mp4")
    assert cold["sound_reused"] is False and len(cache_files(project, ("snd",))) == 1
    warm = render("a.yaml", "a-warm.mp4")
    assert warm["sound_reused"] is True and warm["reused"] == warm["segments"]
    assert sha(project / "a-warm.mp4") == sha(project / "a-cold.mp4")
    # only a (silent) video clip changed: its segment is encoded again, the sound is not
    picture = render(variant("b", middle="gray"), "b-incremental.mp4")
    assert picture["sound_reused"] is True and picture["reused"] == picture["segments"] - 1
    # only a gain changed: every segment from the cache, the sound rendered again
    louder = render(variant("c", gain=-6.0), "c-incremental.mp4")
    assert louder["sound_reused"] is False and louder["reused"] == louder["segments"]
    assert len(cache_files(project, ("snd",))) == 2
    a_sound, c_sound = decode_audio(project / "a-cold.mp4"), decode_audio(project / "c-incremental.mp4")
    span = slice(int(3.2 * 48000), int(3.8 * 48000))  # the tone alone (under the silent navy clip)
    assert rms(c_sound[span]) == pytest.approx(rms(a_sound[span]) / 2, rel=0.05)
    # from an empty cache, each is the same file
    for name in ("a", "b", "c"):
        assert cli("cache", "clear").exit_code == 0
        fresh = render(f"{name}.yaml", f"{name}-fresh.mp4")
        assert fresh["reused"] == 0 and fresh["sound_reused"] is False
        made = "a-cold.mp4" if name == "a" else f"{name}-incremental.mp4"
        assert sha(project / f"{name}-fresh.mp4") == sha(project / made)


def test_a_damaged_or_foreign_sound_entry_is_found_and_rendered_again(project: Path, frags: dict[str, str],
                                                                        cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", cut_timeline(frags))
    assert cli("render", "a.yaml", "-o", "fresh.mp4").exit_code == 0
    [entry] = cache_files(project, ("snd",))
    good = entry.read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    for bad in (bytes(damaged), cache_files(project)[0].read_bytes()):  # damaged; a segment's bytes
        entry.write_bytes(bad)
        r = cli("render", "a.yaml", "-o", "again.mp4", "--json")
        assert r.exit_code == 0, r.output
        assert r.json()["sound_reused"] is False and r.json()["reused"] == r.json()["segments"]
        assert r.stderr.count("warning:") == 1 and "damaged or not this sound's; rendering the sound again" in r.stderr
        assert sha(project / "again.mp4") == sha(project / "fresh.mp4")
        assert [p.read_bytes() for p in cache_files(project, ("snd",))] == [good]  # written again, soundly
    third = cli("render", "a.yaml", "-o", "third.mp4", "--json")
    assert third.json()["sound_reused"] is True and third.stderr == ""


def test_a_normalised_sound_is_cached_by_its_target(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    def variant(name: str, target: float) -> str:
        data = cut_timeline(frags)
        data["output"]["loudness"] = target
        write_timeline(project / f"{name}.yaml", data)
        return f"{name}.yaml"

    cold = cli("render", variant("a", -16), "-o", "a-cold.mp4", "--json").json()
    warm = cli("render", "a.yaml", "-o", "a-warm.mp4", "--json").json()
    assert not cold["sound_reused"] and warm["sound_reused"]
    assert sha(project / "a-warm.mp4") == sha(project / "a-cold.mp4")
    other = cli("render", variant("b", -23), "-o", "b.mp4", "--json").json()
    assert not other["sound_reused"] and other["reused"] == other["segments"]  # the target is in the sound's key
    louder, quieter = decode_audio(project / "a-cold.mp4"), decode_audio(project / "b.mp4")
    assert rms(louder) > 1.5 * rms(quieter)
    assert cli("cache", "clear").exit_code == 0
    assert cli("render", "b.yaml", "-o", "b-fresh.mp4").exit_code == 0
    assert sha(project / "b-fresh.mp4") == sha(project / "b.mp4")


def test_a_draft_decodes_and_scales_for_speed_and_the_full_render_does_not(project: Path,
                                                                           frags: dict[str, str]) -> None:
    from hitrec.render.draft import draft_plan
    from hitrec.render.ffmpeg_engine import DRAFT_DECODE, DRAFT_SCALER
    from hitrec.render.segmented import _prepare

    write_timeline(project / "a.yaml", cut_timeline(frags))
    with RepoResolver(Repo.find()) as resolver:
        plan = plan_timeline(resolver, load_timeline(project / "a.yaml"))
    for name, each, draft in (("full", plan, False), ("draft", draft_plan(plan), True)):
        work = project / name
        work.mkdir()
        seg = _prepare(each, 0, windows(each)[0], work, draft)
        graph = Path(seg.args[seg.args.index("-/filter_complex") + 1]).read_text()
        before_input = seg.args[:seg.args.index("-i")]
        assert (before_input[:len(DRAFT_DECODE)] == DRAFT_DECODE) is draft
        assert (f"flags={DRAFT_SCALER}" in graph) is draft and ("flags=bicubic" in graph) is not draft
        assert ("-filter_complex_threads" in seg.args) is draft


def test_webm_renders_and_drafts_cache_their_opus_sound_too(project: Path, frags: dict[str, str], cli) -> None:  # type: ignore[no-untyped-def]
    write_timeline(project / "a.yaml", cut_timeline(frags))
    for flags in ([], ["--draft"]):
        cold = cli("render", "a.yaml", *flags, "-o", "cold.webm", "--json")
        assert cold.exit_code == 0, cold.output
        warm = cli("render", "a.yaml", *flags, "-o", "warm.webm", "--json").json()
        assert cold.json()["sound_reused"] is bool(flags)  # the draft takes the full render's
        assert warm["sound_reused"] and warm["reused"] == warm["segments"]
        assert sha(project / "warm.webm") == sha(project / "cold.webm")
        assert len(decode_audio(project / "warm.webm")) == round(7.5 * 48000)
    # the webm draft's sound is the full render's (Opus either way): one sound entry for both
    assert len(cache_files(project, ("snd",))) == 1


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_the_join_writes_the_bytes_the_one_pass_join_wrote(project: Path, frags: dict[str, str], cli,  # type: ignore[no-untyped-def]
                                                           fmt: str) -> None:
    """Remixes recorded when the join rendered and encoded the sound itself still verify: the join that
    stream-copies the sound file writes the same file as that one-pass join (run here by hand)."""
    from hitrec.render.ffmpeg_engine import AUDIO_CODECS, BITEXACT, MUX_FLAGS, MUXERS, build_graph, run_ffmpeg
    from hitrec.render.segment_cache import SegmentCache
    from hitrec.render.segmented import _concat_line, _prepare

    data = cut_timeline(frags)
    data["output"]["format"] = fmt
    write_timeline(project / "a.yaml", data)
    assert cli("render", "a.yaml", "-o", f"new.{fmt}").exit_code == 0
    work = project / "old"
    work.mkdir()
    cache = SegmentCache(project / ".hitrec" / "cache" / "segments")
    with RepoResolver(Repo.find()) as resolver:
        plan = plan_timeline(resolver, load_timeline(project / "a.yaml"), project / f"x.{fmt}")
        files = []
        for i, window in enumerate(windows(plan)):
            seg = _prepare(plan, i, window, work, False)
            assert cache.get(seg.key, seg.file, [])
            files.append(seg.file)
        listing = work / "segments.txt"
        listing.write_text("".join(_concat_line(f) for f in files), encoding="utf-8")
        inputs, script, _, audio_out = build_graph(plan, work, picture=False, script="sound.txt")
        n = inputs.count("-i")
        run_ffmpeg([*inputs, "-f", "concat", "-safe", "0", "-i", str(listing), "-/filter_complex", str(script),
                    "-map", f"{n}:v:0", "-map", f"[{audio_out}]", "-c:v", "copy", "-threads", "4", *AUDIO_CODECS[fmt],
                    *MUX_FLAGS.get(fmt, []), *BITEXACT, "-ar", "48000", "-f", MUXERS[fmt], "-y",
                    str(project / f"old.{fmt}")], plan.length)
    assert sha(project / f"old.{fmt}") == sha(project / f"new.{fmt}")
