"""Captions: SRT and WebVTT read from a text fragment, burned in with libass or written out as a sidecar.

:func:`parse_captions` reads either format (WebVTT when the text starts with ``WEBVTT``) into
:class:`Cue` s, each problem a :class:`CaptionsSyntaxError` naming the line. The ffmpeg engine draws a
captions track by writing its cues, in piece time, as one ASS script (style from the clip: size, colour,
outline, position, font) for ffmpeg's ``ass`` filter; :func:`sidecar_text` writes all cues of a plan as
SRT or WebVTT for ``hitrec render --captions`` (and for the subtitle stream muxed into mp4 / webm).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitrec.render.plan import Plan, PlannedClip

_TIME = re.compile(r"^(?:(\d+):)?([0-5]?\d):([0-5]\d)[,.](\d{3})$")
_TAG = re.compile(r"<[^>]*>")
CAPTION_SIZE = 0.06  # of the output's height, when the clip gives no size


@dataclass(frozen=True)
class Cue:
    start: float  # seconds (in the captions file; in the clip once placed)
    end: float
    text: str
    line: int  # where the cue's times are in the file


class CaptionsSyntaxError(ValueError):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def _seconds(text: str, line: int, vtt: bool) -> float:
    m = _TIME.match(text.strip())
    if not m or (not vtt and (m.group(1) is None or "." in text)):
        example = "00:00:01.000 (or 00:01.000)" if vtt else "00:00:01,000"
        raise CaptionsSyntaxError(line, f"bad time {text.strip()!r}; expected a time like {example}")
    hours, minutes, secs, millis = (int(g) if g else 0 for g in m.groups())
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def parse_captions(text: str) -> list[Cue]:
    """The cues of an SRT or WebVTT document, in file order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    vtt = lines[0].startswith("WEBVTT")
    if vtt and lines[0] not in ("WEBVTT",) and lines[0][6:7] not in (" ", "\t"):
        raise CaptionsSyntaxError(1, "a WebVTT file starts with the line WEBVTT")
    cues: list[Cue] = []
    i = 1 if vtt else 0
    if vtt:  # the header runs to the first blank line
        while i < len(lines) and lines[i].strip():
            i += 1
    while i < len(lines):
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines):
            break
        block_start = i
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        if vtt and block[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing = next((n for n, b in enumerate(block[:2]) if "-->" in b), None)
        if timing is None:
            what = "00:00:01.000 --> 00:00:02.000" if vtt else "00:00:01,000 --> 00:00:02,000"
            bad = 1 if not vtt and block[0].strip().isdigit() and len(block) > 1 else 0
            raise CaptionsSyntaxError(block_start + bad + 1, f"expected a time range like {what}, got {block[bad]!r}")
        if not vtt and timing == 1 and not block[0].strip().isdigit():
            raise CaptionsSyntaxError(block_start + 1, f"expected a cue number, got {block[0]!r}")
        line = block_start + timing + 1
        head, _, tail = block[timing].partition("-->")
        start = _seconds(head, line, vtt)
        end = _seconds(tail.split()[0] if tail.split() else "", line, vtt)
        if end <= start:
            raise CaptionsSyntaxError(line, f"the cue ends ({end:g} s) before it starts ({start:g} s)")
        body = "\n".join(block[timing + 1:]).strip()
        if not body:
            raise CaptionsSyntaxError(line + 1, "a cue needs text after its time range")
        cues.append(Cue(start, end, body, line))
    if not cues:
        raise CaptionsSyntaxError(max(1, len(lines)), "no cues: expected SRT (1, 00:00:01,000 --> 00:00:02,000, "
                                  "text) or WebVTT (a first line WEBVTT)")
    return cues


# --------------------------------------------------------------------------- ASS for libass


def _ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def _ass_colour(rgb: str, alpha: int = 0) -> str:
    r, g, b = rgb[1:3], rgb[3:5], rgb[5:7]
    return f"&H{alpha:02X}{b}{g}{r}".upper()


def _ass_text(text: str) -> str:
    plain = _TAG.sub("", text).replace("\\", "\u29f5").replace("{", "(").replace("}", ")")
    return plain.replace("\n", "\\N")


@dataclass(frozen=True)
class CaptionStyle:
    size: int
    color: str  # #rrggbb
    outline: float
    position: str  # bottom | top | center
    font: str


def ass_script(events: Iterable[tuple[float, float, str, CaptionStyle]], size: tuple[int, int]) -> str:
    """One ASS script drawing ``(start, end, text, style)`` events (piece time) on a frame of ``size``."""
    w, h = size
    styles: dict[CaptionStyle, str] = {}
    dialogue = []
    for start, end, text, style in events:
        name = styles.setdefault(style, f"s{len(styles)}")
        dialogue.append(f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},{name},,0,0,0,,{_ass_text(text)}")
    align = {"bottom": 2, "top": 8, "center": 5}
    style_lines = [
        f"Style: {name},{s.font},{s.size},{_ass_colour(s.color)},&H000000FF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,"
        f"1,{s.outline:g},0,{align[s.position]},{round(w * 0.05)},{round(w * 0.05)},{round(h * 0.06)},1"
        for s, name in styles.items()]
    return "\n".join([
        "[Script Info]", "ScriptType: v4.00+", f"PlayResX: {w}", f"PlayResY: {h}", "WrapStyle: 0",
        "ScaledBorderAndShadow: yes", "", "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding", *style_lines, "", "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text", *dialogue, ""])


# --------------------------------------------------------------------------- sidecar files


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def sidecar_text(cues: Iterable[tuple[float, float, str]], fmt: str) -> str:
    """Cues ``(start, end, text)`` in piece time as an SRT (``srt``) or WebVTT (``vtt``) document."""
    out = ["WEBVTT", ""] if fmt == "vtt" else []
    sep = "." if fmt == "vtt" else ","
    for n, (start, end, text) in enumerate(sorted(cues), 1):
        if fmt == "srt":
            out.append(str(n))
        out += [f"{_clock(start, sep)} --> {_clock(end, sep)}", text, ""]
    return "\n".join(out)


def placed_cues(clips: Iterable[PlannedClip]) -> list[tuple[float, float, str, PlannedClip]]:
    """Every cue of the captions ``clips`` in piece time, cut to its clip."""
    out = []
    for clip in clips:
        for cue in clip.cues:
            out.append((clip.at + cue.start, clip.at + min(cue.end, clip.duration), cue.text, clip))
    return out


def style_of(clip: PlannedClip, height: int) -> CaptionStyle:
    return CaptionStyle(size=clip.size or max(8, round(height * CAPTION_SIZE)), color=clip.color or "#ffffff",
                        outline=clip.outline if clip.outline is not None else max(1, round(height / 180)),
                        position=clip.position if isinstance(clip.position, str) else "bottom",
                        font=clip.font or "DejaVu Sans")


def burn_filter(clips: Iterable[PlannedClip], size: tuple[int, int], script: Path) -> str:
    """The ``ass`` filter drawing the captions ``clips``; writes their ASS script to ``script``."""
    events = [(a, b, text, style_of(clip, size[1])) for a, b, text, clip in placed_cues(clips)]
    script.write_text(ass_script(events, size), encoding="utf-8")
    return f"ass=filename={_esc(str(script))}"


def check_sidecar(path: Path, plan: Plan | None = None) -> None:
    """UsageError unless ``path`` can take a sidecar of ``plan``'s captions (an .srt or .vtt in a folder)."""
    from hitrec.errors import UsageError

    if path.suffix.lower() not in (".srt", ".vtt"):
        raise UsageError(f"--captions writes SRT or WebVTT: name the file *.srt or *.vtt, not {path.name}")
    if not path.parent.exists():
        raise UsageError(f"folder {path.parent} does not exist; create it first")
    if plan is not None and not plan.clips("captions"):
        raise UsageError("--captions: the timeline has no captions track (`kind: captions`)")
    if plan is not None and plan.format not in ("mp4", "webm"):
        raise UsageError("--captions needs a video output (mp4 or webm)")


def write_sidecar(plan: Plan, path: Path) -> None:
    """The plan's captions as SRT or WebVTT (by the suffix), written atomically."""
    import os

    from hitrec.errors import UsageError

    fmt = path.suffix.lower().lstrip(".")
    text = sidecar_text([(a, b, plain_text(t)) for a, b, t, _ in placed_cues(plan.clips("captions"))], fmt)
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def plain_text(text: str) -> str:
    return _TAG.sub("", text)


def _esc(value: str) -> str:
    level1 = "".join("\\" + ch if ch in "\\':" else ch for ch in value)
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in level1)
