"""A credits result as text: the table's rows, CSV, Markdown, an end roll, and ``--explain``'s lines.

The operation and its JSON form are :mod:`hitrec.ops.credits`; nothing here prints, the CLI writes what
these functions return.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitrec.credits.explain import Explanation
    from hitrec.credits.shares import ContributorShare, FragmentCredit
    from hitrec.ops.credits import CreditsResult

FORMATS = ("table", "json", "csv", "markdown", "roll")


# --- numbers as text --------------------------------------------------------------------------------


def percent(share: Fraction, digits: int = 2) -> str:
    """``Fraction(1, 3)`` -> ``"33.33"`` (rounded half to even, exactly)."""
    value = round(share * 100, digits)
    whole, frac = divmod(abs(value.numerator) * 10**digits // value.denominator, 10**digits)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def seconds_text(seconds: float) -> str:
    return f"{seconds:.1f}"


def fraction_text(value: Fraction) -> str:
    return str(value)


# --- rows: table, CSV, Markdown ----------------------------------------------------------------------


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _fragment_list(c: ContributorShare, limit: int) -> str:
    names = [_short(f.title) if f.title else f.id[:7] for f in c.fragments[:limit]]
    if len(c.fragments) > limit:
        names.append(f"+{len(c.fragments) - limit} more")
    return ", ".join(names)


def rows(report: CreditsResult, fragment_limit: int = 2) -> tuple[list[str], list[list[str]]]:
    """The table: one row per contributor, known by name (and e-mail where two share a name)."""
    headers = ["contributor", "share %", "fragments", "seconds"]
    if report.payouts is not None:
        headers.append(f"payout {report.payouts.currency}")
    contributors = report.shares.contributors
    names = [c.name for c in contributors]
    body = []
    for c in contributors:
        who = f"{c.name} <{c.email}>" if names.count(c.name) > 1 or not c.name else c.name
        row = [who, percent(c.share), f"{len(c.fragments)}: {_fragment_list(c, fragment_limit)}",
               seconds_text(c.seconds)]
        if report.payouts is not None:
            row.append(_amount(report, c.id))
        body.append(row)
    return headers, body


def _amount(report: CreditsResult, cid: str) -> str:
    payout = report.payout_of(cid)
    return payout.amount if payout is not None else ""


def summary_lines(report: CreditsResult) -> list[str]:
    """What the result rests on: the piece, the rules and where they come from, the payout pool."""
    shares = report.shares
    piece = shares.piece
    rules = shares.rules
    src = report.rule_origins
    lines = [
        f"{piece.title or piece.id[:10]} ({piece.id[:10]}, {piece.role} by {piece.author.name}): "
        f"{len(shares.contributors)} contributors, {shares.fragments_reached} fragments, "
        f"{shares.seconds:.1f} s",
        f"rules: editor_share {rules.editor_share} ({src.get('editor_share', 'default')}), "
        f"derivative_share {rules.derivative_share} ({src.get('derivative_share', 'default')})",
    ]
    if shares.overrides:
        shown = ", ".join(f"{fid[:7]} -> {v}" for fid, v in list(shares.overrides.items())[:5])
        more = f" and {len(shares.overrides) - 5} more" if len(shares.overrides) > 5 else ""
        lines.append(f"timelines overriding editor_share: {shown}{more}")
    if report.payouts is not None:
        p = report.payouts
        lines.append(f"profit {p.profit} {p.currency} x community share {p.community_share} = pool {p.pool} "
                     f"{p.currency}; the company keeps {p.company} {p.currency}")
    return lines


def to_csv(report: CreditsResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    headers = ["contributor_id", "name", "email", "share", "percent", "seconds", "fragments"]
    if report.payouts is not None:
        headers += ["payout", "currency"]
    writer.writerow(headers)
    for c in report.shares.contributors:
        row = [c.id, c.name, c.email, str(c.share), percent(c.share, 4), f"{c.seconds:.3f}",
               " ".join(f.id for f in c.fragments)]
        if report.payouts is not None:
            row += [_amount(report, c.id), report.payouts.currency]
        writer.writerow(row)
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def to_markdown(report: CreditsResult) -> str:
    headers, body = rows(report)
    lines = [f"# Credits: {_md(report.shares.piece.title or report.shares.piece.id)}", ""]
    lines += [_md(line) + "  " for line in summary_lines(report)]
    lines += ["", "| " + " | ".join(headers) + " |",
              "|" + "|".join(["---", "---:", "---", "---:"] + (["---:"] if report.payouts else [])) + "|"]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


# --- the end roll ------------------------------------------------------------------------------------

_ROLE_WORDS = {"remix": "edit", "derivative": "derivative"}


def _contribution(fragment: FragmentCredit) -> str:
    title = fragment.title or fragment.id[:7]
    kind = _ROLE_WORDS.get(fragment.role, fragment.kind)
    return f"{title} ({kind})"


def roll(report: CreditsResult, limit: int = 6) -> str:
    """End credits: the title, "Edited by" the piece's editor, then each contributor and what they gave."""
    shares = report.shares
    piece = shares.piece
    editor = next((c for c in shares.contributors if c.id == shares.editor), None)
    lines = [piece.title or piece.id[:10], "", "Edited by", editor.name if editor else piece.author.name]
    others = []
    for c in shares.contributors:
        fragments = [f for f in c.fragments if f.id != piece.id]
        if not fragments:
            continue
        what = ", ".join(_contribution(f) for f in fragments[:limit])
        if len(fragments) > limit:
            what += f" and {len(fragments) - limit} more"
        others.append(f"{c.name} - {what}")
    if others:
        lines += ["", "With contributions by", *others]
    if report.payouts is not None:
        p = report.payouts
        part = percent(Fraction(p.community_share), 2).rstrip("0").rstrip(".")
        lines += ["", f"{part}% of the profit is shared among the {len(shares.contributors)} contributors"]
    return "\n".join(lines) + "\n"


# --- --explain as text -------------------------------------------------------------------------------


def explanation_lines(explanation: Explanation) -> list[str]:
    """Each path as lines a person can check with a pencil: factor by factor, then the product."""
    c = explanation.contributor
    lines = [f"How {c.name} <{c.email}> gets {c.share} ({percent(c.share)}%) of the piece: "
             f"{explanation.total_paths} path{'s' if explanation.total_paths != 1 else ''}"]
    for number, path in enumerate(explanation.paths, 1):
        lines.append("")
        lines.append(f"path {number}: {path.value} ({percent(path.value)}%)")
        for step in path.steps:
            title = f" {step.title!r}" if step.title else ""
            lines.append(f"  {step.fragment[:10]}{title} by {step.author}: x {step.factor}  ({step.why})")
        title = f" {path.title!r}" if path.title else ""
        lines.append(f"  {path.fragment[:10]}{title} by {c.name}: keeps {path.keeps}  ({path.why})")
        if path.steps:
            factors = " x ".join([str(s.factor) for s in path.steps] + [str(path.keeps)])
            lines.append(f"  = {factors} = {path.value}")
    lines.append("")
    if explanation.complete:
        check = "=" if explanation.shown_value == c.share else "!="
        paths = "the path" if len(explanation.paths) == 1 else f"the {len(explanation.paths)} paths"
        lines.append(f"sum of {paths}: {explanation.shown_value} {check} share {c.share}")
    else:
        lines.append(f"showing {len(explanation.paths)} of {explanation.total_paths} paths, worth "
                     f"{explanation.shown_value} of the share {c.share}; use --max-paths to see more")
    return lines
