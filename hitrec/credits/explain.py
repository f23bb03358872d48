"""``--explain WHO``: every path from the piece down to WHO's fragments, with the factor at each step.

A path's value is the product of its factors times what WHO keeps at its end; the values of all paths
add up exactly to WHO's share, so anyone can check a payout by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hitrec.credits.mailmap import Mailmap
from hitrec.credits.shares import ContributorShare, LineageArrays, Shares
from hitrec.errors import CreditsError
from hitrec.store.model import Person

DEFAULT_MAX_PATHS = 200


@dataclass(frozen=True, slots=True)
class PathStep:
    fragment: str  # the fragment value passes from
    title: str
    author: str
    factor: Fraction  # the part of the value reaching ``fragment`` that goes to the next one
    why: str


@dataclass(frozen=True, slots=True)
class CreditPath:
    steps: tuple[PathStep, ...]  # from the piece down; empty when WHO's fragment is the piece itself
    fragment: str  # WHO's fragment at the end
    title: str
    keeps: Fraction  # the part of the value reaching it that WHO keeps
    why: str
    value: Fraction  # product of the factors times ``keeps``


@dataclass(frozen=True, slots=True)
class Explanation:
    contributor: ContributorShare
    paths: list[CreditPath]  # the first ``max_paths`` found (depth first), largest value first
    total_paths: int
    shown_value: Fraction  # sum of the values of the paths shown

    @property
    def complete(self) -> bool:
        return len(self.paths) == self.total_paths


def find_contributor(shares: Shares, who: str, mailmap: Mailmap | None = None) -> ContributorShare:
    """WHO by e-mail (mailmap applied), id, or name (case-insensitive)."""
    wanted = who.strip()
    low = wanted.lower()
    if "<" in wanted:
        person = Person.parse(wanted)
        low = person.email.lower()
        wanted = person.email
    if mailmap:
        low = mailmap.canonical(Person(wanted, wanted)).email.lower()
    for c in shares.contributors:
        if c.id == low or c.email.lower() == low:
            return c
    named = [c for c in shares.contributors if c.name.lower() == who.strip().lower()]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise CreditsError(f"{who!r} names several contributors: "
                           f"{', '.join(c.email for c in named)}; give an e-mail")
    known = ", ".join(f"{c.name} <{c.email}>" for c in shares.contributors[:10])
    raise CreditsError(f"no contributor to {shares.piece.id[:10]} matches {who!r}; contributors: {known}")


def explain(shares: Shares, who: str, mailmap: Mailmap | None = None,
            max_paths: int = DEFAULT_MAX_PATHS) -> Explanation:
    contributor = find_contributor(shares, who, mailmap)
    lineage = shares.lineage
    theirs = {f.id for f in contributor.fragments}
    nodes = lineage.nodes
    n = len(nodes)
    mine = [nodes[i].id in theirs and lineage.keep[i] > 0 for i in range(n)]
    # paths[i] = how many paths lead from fragment i to one of WHO's fragments (each a separate credit)
    count = [0] * n
    for i in reversed(lineage.order):
        total = 1 if mine[i] else 0
        for j, num, _ in lineage.steps(i):
            if num:
                total += count[j]
        count[i] = total
    found: list[CreditPath] = []
    _walk(lineage, 0, [], Fraction(1), mine, count, found, max_paths)
    found.sort(key=lambda p: (-p.value, [s.fragment for s in p.steps], p.fragment))
    shown = found[:max_paths]
    return Explanation(contributor, shown, count[0], sum((p.value for p in shown), Fraction(0)))


def _walk(lineage: LineageArrays, i: int, trail: list[PathStep], value: Fraction, mine: list[bool],
          count: list[int], found: list[CreditPath], limit: int) -> None:
    if len(found) >= limit or not count[i]:
        return
    node = lineage.nodes[i]
    if mine[i]:
        keeps = lineage.keeps(i)
        found.append(CreditPath(tuple(trail), node.id, node.title, keeps, _why_keep(lineage, i),
                                value * keeps))
    for step in lineage.steps(i):
        j, num, _ = step
        if not num or not count[j]:
            continue
        factor = lineage.factor(i, step)
        trail.append(PathStep(node.id, node.title, node.author.name, factor,
                              _why_step(lineage, i, lineage.nodes[j].id)))
        _walk(lineage, j, trail, value * factor, mine, count, found, limit)
        trail.pop()


def _why_keep(lineage: LineageArrays, i: int) -> str:
    node = lineage.nodes[i]
    share = lineage.shares_used[i]
    if node.timeline is not None:
        text = sum((c.use for c in node.timeline.clips if c.fragment is None), Fraction(0))
        total = sum((c.use for c in node.timeline.clips), Fraction(0))
        if total == 0:
            return "editor of a remix whose clips have no use: keeps all"
        why = f"editor keeps editor_share {share}"
        if text:
            why += f" + (1 - {share}) x text clips {_num(text)} of {_num(total)}"
        return why
    if node.parents:
        return f"author of a derivative keeps derivative_share {share}"
    return "author of an original keeps all"


def _why_step(lineage: LineageArrays, i: int, source: str) -> str:
    node = lineage.nodes[i]
    share = lineage.shares_used[i]
    if node.timeline is not None:
        clips = node.timeline.clips
        use = sum((c.use for c in clips if c.fragment == source), Fraction(0))
        total = sum((c.use for c in clips), Fraction(0))
        unit = "" if any(c.weighted for c in clips) else " s"
        n = sum(1 for c in clips if c.fragment == source)
        return (f"remix: (1 - editor_share {share}) x use {_num(use)}{unit} of {_num(total)}{unit}"
                f" ({n} clip{'s' if n != 1 else ''})")
    parents = len(dict.fromkeys(node.parents))
    return f"derivative: (1 - derivative_share {share}) / {parents} parent{'s' if parents != 1 else ''}"


def _num(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    if Fraction(repr(as_float)) == value:
        return repr(as_float)
    return str(value)
