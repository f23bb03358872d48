"""Drawing the credits roll (a ``credits`` clip) with ffmpeg's drawtext: a scrolling roll or cards.

The lines come from :func:`hitrec.credits.roll.fill_credits`. A roll moves from below the frame to above
it over the clip's duration; cards show one block of lines at a time (title and editor, each
contributor, the licences), each for an equal part of the clip.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from hitrec.errors import RenderError
from hitrec.render.plan import PlannedClip

LINE_SPACING = 0.4  # of the font size


def _blocks(lines: tuple[str, ...]) -> list[list[str]]:
    """Cards: the title with the editor, then one card per contributor, then the licences."""
    parts: list[list[str]] = [[]]
    for line in lines:
        if line:
            parts[-1].append(line)
        elif parts[-1]:
            parts.append([])
    cards = [parts[0] + (parts[1] if len(parts) > 1 else [])]
    rest = parts[2:]
    if rest and rest[0] and rest[0][0] == "With contributions by":
        heading, people = rest[0][0], rest[0][1:]
        cards += [[heading, *people[i:i + 2]] for i in range(0, len(people), 2)]
        rest = rest[1:]
    cards += rest
    return [c for c in cards if c]


def wrapped(lines: tuple[str, ...], width: int, fontsize: int) -> tuple[str, ...]:
    """Lines wider than the frame broken at spaces (a glyph is taken as 0.55 of the font size)."""
    import textwrap

    chars = max(8, int(width * 0.9 / (fontsize * 0.55)))
    out: list[str] = []
    for line in lines:
        out += textwrap.wrap(line, chars, subsequent_indent="  ") if len(line) > chars else [line]
    return tuple(out)


def credits_filters(clip: PlannedClip, size: tuple[int, int], start: Fraction, end: Fraction, half: Fraction,
                    stem: Path, font: str, dec: Callable[[float | Fraction], str],
                    esc: Callable[[str], str]) -> list[str]:
    """drawtext filters drawing ``clip``'s credits between ``start`` and ``end`` (piece time)."""
    if not clip.credit_lines:
        raise RenderError("the credits roll has no lines: it is made from the repo's lineage, so render it with "
                          "`hitrec render` or `hitrec remix` in a hitrec repo")
    h = size[1]
    fontsize = clip.size or max(8, round(h * 0.045))
    lines = wrapped(clip.credit_lines, size[0], fontsize)
    color = (clip.color or "#ffffff").lstrip("#")
    spacing = round(fontsize * LINE_SPACING)
    common = (f"{font}:expansion=none:fontsize={fontsize}:fontcolor=0x{color}:line_spacing={spacing}"
              ":text_align=C:x=(w-text_w)/2")
    a = dec(start)
    if clip.credits_style == "cards":
        cards = _blocks(lines)
        step = (end - start) / len(cards)
        out = []
        for i, card in enumerate(cards):
            path = stem.with_name(f"{stem.name}-{i}.txt")
            path.write_text("\n".join(card), encoding="utf-8")
            s, e = start + step * i, start + step * (i + 1)
            out.append(f"drawtext={common}:textfile={esc(str(path))}:y=(h-text_h)/2"
                       f":enable='gte(t\\,{dec(s - half)})*lt(t\\,{dec(e - half)})'")
        return out
    path = stem.with_name(f"{stem.name}.txt")
    path.write_text("\n".join(lines), encoding="utf-8")
    y = f"h-(h+text_h)*(t-{a})/{dec(end - start)}"
    return [f"drawtext={common}:textfile={esc(str(path))}:y='{y}'"
            f":enable='gte(t\\,{dec(start - half)})*lt(t\\,{dec(end - half)})'"]
