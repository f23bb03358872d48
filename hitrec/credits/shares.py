"""Contributor shares of a piece: its value (1) flows down the lineage, exactly, once per node.

Each fragment keeps part of the value that reaches it for its author and passes the rest to its sources:

- an original keeps all of it;
- a remix keeps ``editor_share`` (its timeline's override, else the rule) for its editor and splits the
  rest among its clips in proportion to their use (weight, else seconds); text clips are the editor's;
  a timeline whose clips have no use at all leaves everything with the editor;
- a derivative keeps ``derivative_share`` and splits the rest evenly among its parents.

The nodes are visited in topological order (a fragment after every fragment that uses it), so the value
reaching a fragment is summed from all its users before it is passed on: a diamond costs one visit per
node and one step per edge, never one per path. Arithmetic is exact (integers over one common
denominator, results as ``Fraction``): the shares sum to exactly 1.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import accumulate
from math import gcd
from operator import mul
from typing import Any

from hitrec.credits.graph import CreditRules, LineageGraph, Node
from hitrec.credits.mailmap import Mailmap
from hitrec.errors import CreditsError
from hitrec.progress import ProgressFn
from hitrec.store.model import Person

# A step passes value from fragment ``v`` to one of its sources: ``(source, num, part)`` means
# ``num / den[v]`` of the value reaching ``v``; ``part`` is the part of v's output the source fills
# (its clips' seconds over the remix's length; 1 for a derivative's parent). Fragments are numbered in
# the order they were read (the piece is 0).
Step = tuple[int, int, float]


@dataclass(slots=True)
class LineageArrays:
    """The part of a lineage that a piece reaches: each fragment's keep-share and steps, as integers.

    Fragment ``i`` passes ``num / den[i]`` of the value reaching it along each step and keeps
    ``keep[i] / den[i]`` for its author; ``keep[i] + sum(nums) == den[i]`` exactly. The steps of all
    fragments sit in three flat lists (``source``, ``num``, ``part``; fragment i's are at
    ``first[i]:first[i + 1]`` of the order they were read), so a large lineage is a few lists of numbers
    rather than a million small objects for the garbage collector to scan.
    """

    nodes: list[Node]  # nodes[0] is the piece
    index: dict[str, int]  # fragment id -> number
    source: list[int]
    num: list[int]
    part: list[float]
    first: list[int]  # fragment i's steps are source[first[i]:first[i] + count[i]] (and num, part)
    count: list[int]
    den: list[int]
    keep: list[int]
    shares_used: list[Fraction | None]  # editor_share / derivative_share applied at each fragment
    order: list[int]  # topological, in waves: every fragment after all fragments that use it
    waves: list[int]  # where each wave starts in ``order``; a wave's index = longest path from the piece
    rules: CreditRules
    # per wave, numpy arrays: its steps' users and positions, grouped by source; where each group starts,
    # and each group's source
    wave_steps: list[Any] = field(default_factory=list)

    @property
    def piece(self) -> Node:
        return self.nodes[0]

    @property
    def edges(self) -> int:
        return len(self.source)

    def steps(self, i: int) -> list[Step]:
        a = self.first[i]
        b = a + self.count[i]
        return list(zip(self.source[a:b], self.num[a:b], self.part[a:b], strict=True))

    def factor(self, i: int, step: Step) -> Fraction:
        return Fraction(step[1], self.den[i])

    def keeps(self, i: int) -> Fraction:
        return Fraction(self.keep[i], self.den[i])


@dataclass(slots=True)
class FragmentCredit:
    id: str
    title: str
    kind: str
    role: str  # original | remix | derivative
    flow_num: int  # flow = flow_num / scale: the part of the piece's value reaching this fragment
    kept_num: int  # kept = kept_num / scale: what its author keeps of the piece's value through it
    scale: int
    seconds: float  # how long it is on screen or heard in the piece

    @property
    def flow(self) -> Fraction:
        return Fraction(self.flow_num, self.scale)

    @property
    def kept(self) -> Fraction:
        return Fraction(self.kept_num, self.scale)


@dataclass(slots=True)
class ContributorShare:
    id: str  # the canonical e-mail, lowercased: how a contributor is known
    name: str
    email: str
    share: Fraction
    seconds: float  # how long their fragments are on screen or heard in the piece, summed
    share_num: int = 0  # share == share_num / scale (the Shares' common denominator)
    number: int = 0  # their number among the lineage's contributors
    _made: _FragmentCredits | None = None
    _fragments: list[FragmentCredit] | None = None

    @property
    def fragments(self) -> list[FragmentCredit]:
        """Their fragments that the piece's value reaches, most kept first (made when first asked for)."""
        if self._fragments is None:
            made = self._made
            self._fragments = [] if made is None else made.credits(self.number)
        return self._fragments


@dataclass(slots=True)
class _FragmentCredits:
    """Makes the per-fragment records of each contributor on demand, from the flows."""

    lineage: LineageArrays
    result: Flows
    owner: list[int]  # each fragment's contributor number
    _members: dict[int, list[int]] | None = None

    def credits(self, number: int) -> list[FragmentCredit]:
        if self._members is None:
            members: dict[int, list[int]] = {}
            for i, (who, units) in enumerate(zip(self.owner, self.result.unit, strict=True)):
                if units:
                    members.setdefault(who, []).append(i)
            self._members = members
        nodes, dens, keeps = self.lineage.nodes, self.lineage.den, self.lineage.keep
        unit, seconds, scale = self.result.unit, self.result.seconds, self.result.scale
        made = [FragmentCredit(nodes[i].id, nodes[i].title, nodes[i].kind, nodes[i].role, unit[i] * dens[i],
                               unit[i] * keeps[i], scale, seconds[i]) for i in self._members.get(number, [])]
        made.sort(key=lambda f: (-f.kept_num, -f.flow_num, f.id))
        return made


@dataclass(slots=True)
class Shares:
    lineage: LineageArrays
    contributors: list[ContributorShare]  # largest share first, ties by id
    editor: str  # contributor id of the piece's author
    seconds: float  # the piece's length in seconds (0 for a still)
    fragments_reached: int
    overrides: dict[str, Fraction]  # fragments reached whose timeline overrides editor_share
    scale: int = 1  # a common denominator of every share

    @property
    def piece(self) -> Node:
        return self.lineage.nodes[0]

    @property
    def rules(self) -> CreditRules:
        return self.lineage.rules

    def contributor(self, cid: str) -> ContributorShare:
        for c in self.contributors:
            if c.id == cid:
                return c
        raise KeyError(cid)


def build_lineage(graph: LineageGraph, piece: str, rules: CreditRules,
                  progress: ProgressFn | None = None) -> LineageArrays:
    """Read every fragment ``piece`` reaches and order them; a missing fragment is an error naming it."""
    piece_id = graph.resolve(piece)
    root = graph.get(piece_id)
    if root is None:
        raise CreditsError(f"fragment {piece_id} is not in this repo")
    nodes: list[Node] = []  # numbered in the order they are split
    source_ids: list[str] = []
    num: list[int] = []
    part: list[float] = []
    splits: list[tuple[int, int, int, Fraction | None]] = []  # (steps, keep, den, share) per fragment
    seen = {piece_id}
    mark = seen.add
    stack = [root]
    get = graph.get
    split = _split
    report_at = 4096
    while stack:
        node = stack.pop()
        nodes.append(node)
        sids, nums, parts, keep, den, used = split(node, rules)
        splits.append((len(sids), keep, den, used))
        source_ids += sids
        num += nums
        part += parts
        for sid in sids:
            if sid not in seen:
                mark(sid)
                child = get(sid)
                if child is None:
                    raise CreditsError(_missing(node, sid))
                stack.append(child)
        if progress is not None and len(seen) >= report_at:
            progress(0, description=f"reading lineage ({len(seen)} fragments)")
            report_at += 4096
    index = {node.id: i for i, node in enumerate(nodes)}
    source = list(map(index.__getitem__, source_ids))
    count, keep_list, den_list, used_list = (list(column) for column in zip(*splits, strict=True))
    first = [0, *accumulate(count)]
    first.pop()
    order, waves, wave_steps = _topological(source, first, count)
    return LineageArrays(nodes, index, source, num, part, first, count, den_list, keep_list, used_list, order, waves,
                   rules, wave_steps)


def _missing(user: Node, sid: str) -> str:
    what = "timeline of remix" if user.timeline is not None else "derivative"
    title = f" ({user.title!r})" if user.title else ""
    return (f"the {what} {user.id[:10]}{title} uses fragment {sid}, which is not in this repo; "
            "fetch it with `hitrec pull` (or record it), then run credits again")


def _split(node: Node, rules: CreditRules) -> tuple[list[str], list[int], list[float], int, int,
                                                    Fraction | None]:
    """How a fragment divides the value reaching it: its steps as (sources, nums, parts), then keep, den
    and the share rule it applied."""
    timeline = node.timeline
    if timeline is not None:
        editor = timeline.editor_share
        if editor is None:
            editor = rules.editor_share
        fids: list[str] = []
        ratios: list[tuple[int, int]] = []
        secs: list[float] = []
        text: list[tuple[int, int]] = []
        common = 1  # a common denominator of all uses, so uses become integers
        length = 0.0
        for clip in timeline.clips:
            ratio = clip.use.as_integer_ratio()
            d = ratio[1]
            if common % d:
                common = common // gcd(common, d) * d
            seconds = clip.seconds
            end = clip.at + seconds
            if end > length:
                length = end
            fid = clip.fragment
            if fid is None:  # a text clip: the editor's
                text.append(ratio)
                continue
            fids.append(fid)
            ratios.append(ratio)
            secs.append(seconds)
        if common == 1:
            uses = [u for u, _ in ratios]
            titles = sum([u for u, _ in text])
        else:
            uses = [u * (common // d) for u, d in ratios]
            titles = sum([u * (common // d) for u, d in text])
        inverse = 1.0 / length if length > 0 else 0.0
        if len(set(fids)) != len(fids):  # one fragment in several clips: add them up
            merged: dict[str, list] = {}
            for fid, u, sec in zip(fids, uses, secs, strict=True):
                entry = merged.get(fid)
                if entry is None:
                    merged[fid] = [u, sec]
                else:
                    entry[0] += u
                    entry[1] += sec
            fids = list(merged)
            uses = [u for u, _ in merged.values()]
            secs = [sec for _, sec in merged.values()]
        total = titles + sum(uses)
        parts = [sec * inverse for sec in secs]
        if total == 0:  # nothing has any use: everything stays with the editor
            return fids, [0] * len(fids), parts, 1, 1, editor
        en, ed = editor.as_integer_ratio()
        rest = ed - en
        den = ed * total
        keep = en * total + rest * titles
        g = gcd(den, keep, rest * gcd(*uses))
        return fids, [rest * u // g for u in uses], parts, keep // g, den // g, editor
    if node.parents:
        parents = list(dict.fromkeys(node.parents))
        share = rules.derivative_share
        k = len(parents)
        dn, dd = share.numerator, share.denominator
        g = gcd(dd * k, dn * k, dd - dn)
        each = (dd - dn) // g
        return parents, [each] * k, [1.0] * k, dn * k // g, dd * k // g, share
    return [], [], [], 1, 1, None


def _topological(source: list[int], first: list[int], count: list[int]) -> tuple[list[int], list[int], list[Any]]:
    """Kahn's algorithm a wave at a time, vectorised: wave ``k`` holds the fragments whose longest path
    from the piece is ``k``; they all sit below the fragments of earlier waves, so a wave's steps can be
    processed together (seconds on screen, and the common denominator's longest paths)."""
    import numpy as np

    n = len(first)
    src = np.asarray(source, dtype=np.int64)
    starts = np.asarray(first, dtype=np.int64)
    counts = np.asarray(count, dtype=np.int64)
    indegree = np.bincount(src, minlength=n)
    if indegree[0]:
        raise CreditsError("the lineage loops back to the piece; a fragment cannot remix itself")
    frontier = np.zeros(1, dtype=np.int64)
    parts, waves, wave_steps = [], [], []
    done = 0
    while frontier.size:
        waves.append(done)
        parts.append(frontier)
        done += frontier.size
        fan = counts[frontier]
        total = int(fan.sum())
        if not total:
            break
        ends = np.cumsum(fan)
        positions = np.repeat(starts[frontier] - (ends - fan), fan) + np.arange(total, dtype=np.int64)
        users = np.repeat(frontier, fan)
        by_source = np.argsort(src[positions], kind="stable")  # the wave's steps grouped by source
        positions, users = positions[by_source], users[by_source]
        reached = src[positions]
        cuts = np.flatnonzero(np.diff(reached)) + 1
        heads = np.concatenate(([0], cuts))
        targets = reached[heads]
        wave_steps.append((users, positions, heads, targets))
        indegree[targets] -= np.diff(np.concatenate((heads, [total])))
        frontier = targets[indegree[targets] == 0]
    if done != n:
        raise CreditsError("the lineage has a loop: a fragment is, through others, a remix of itself")
    return np.concatenate(parts).tolist(), waves, wave_steps


@dataclass(slots=True)
class Flows:
    """The exact part of the piece's value reaching each fragment, over one common denominator."""

    scale: int
    unit: list[int]  # fragment i receives unit[i] * den[i] / scale and its author keeps unit[i] * keep[i] / scale
    seconds: list[float]  # how long fragment i is on screen or heard in the piece
    totals: list[int]  # per group (see ``flows``): the sum of what its fragments' authors keep, over scale

    def flow(self, lineage: LineageArrays, i: int) -> Fraction:
        return Fraction(self.unit[i] * lineage.den[i], self.scale)

    def kept(self, lineage: LineageArrays, i: int) -> Fraction:
        return Fraction(self.unit[i] * lineage.keep[i], self.scale)


def flows(lineage: LineageArrays, group: list[int] | None = None, groups: int = 0) -> Flows:
    """The piece's value reaching each fragment, as integers over one common denominator ``scale``.

    ``scale`` (see ``common_scale``) makes ``unit[i] = scale * flow(i) / den[i]`` whole for every
    fragment. Fragments are taken in topological order and each gathers what its users pass it,
    ``sum(unit[user] * num)`` over its incoming steps: one exact division per fragment and one small
    product per edge, summed in C (``sum(map(...))``) rather than step by step. With ``group`` (a group
    number per fragment, e.g. its contributor), what each group's authors keep is summed on the way.
    """
    import numpy as np

    scale = common_scale(lineage)
    seconds = seconds_on_screen(lineage)
    n = len(lineage.nodes)
    den, keep, order = lineage.den, lineage.keep, lineage.order
    # the steps sorted by the position of the fragment they lead to in ``order``
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int64)
    target = position[np.asarray(lineage.source, dtype=np.int64)]
    by_target = np.argsort(target, kind="stable")
    counts = np.asarray(lineage.count, dtype=np.int64)
    user_of_step = np.repeat(np.arange(n, dtype=np.int64), counts)  # steps are stored fragment by fragment
    users = user_of_step[by_target].tolist()
    num = lineage.num
    if max(num, default=0) < 2**62:
        nums = np.asarray(num, dtype=np.int64)[by_target].tolist()
    else:  # a step with a huge numerator: keep Python ints
        nums = [num[k] for k in by_target.tolist()]
    incoming = np.bincount(target, minlength=n).tolist()
    unit = [0] * n
    totals = [0] * max(groups, 1)
    owner = group if group is not None else [0] * n
    get = unit.__getitem__
    start = 0
    for k, i in enumerate(order):
        if k:
            end = start + incoming[k]
            value = sum(map(mul, map(get, users[start:end]), nums[start:end]))
            start = end
        else:
            value = scale
        d = den[i]
        if d == 1:
            per = value
        else:
            per, rem = divmod(value, d)
            if rem:  # cannot happen (see common_scale); refuse rather than round
                raise CreditsError(f"internal error: inexact flow at {lineage.nodes[i].id}; please report it")
        unit[i] = per
        if per:
            totals[owner[i]] += per * keep[i]
    return Flows(scale, unit, seconds, totals)


def common_scale(lineage: LineageArrays) -> int:
    """An integer ``D`` such that ``D * flow(i) / den[i]`` is whole for every fragment ``i``.

    The value reaching ``i`` is a sum over paths of products of ``num/den`` factors, so ``D`` = the
    product, over each factor ``a`` of the dens, of ``a`` to the most times it divides the dens along
    one path: a longest-path computation per factor, vectorised over the waves of the DAG. The ``a`` are
    primes under 1000 plus whatever cofactor is left (any atoms are correct; primes keep ``D`` small).
    An atom not tracked is bounded by the sum of its exponents over all fragments (a path visits each
    fragment once).
    """
    counts: dict[int, int] = {}
    for d in lineage.den:
        counts[d] = counts.get(d, 0) + 1
    atoms = _factorizations(counts)
    present: dict[int, int] = {}  # atom -> sum over fragments of its exponent
    for d, count in counts.items():
        for atom, e in atoms[d]:
            present[atom] = present.get(atom, 0) + e * count
    if len(lineage.nodes) < 64 or len(lineage.waves) < 3:  # small or shallow: the sum bound is fine
        return _product(present)
    ranked = sorted(present, key=lambda a: (present[a] * a.bit_length(), a), reverse=True)
    bound = {a: present[a] for a in ranked[_TRACKED:]}
    tracked = ranked[:_TRACKED]
    small = max(present[a] for a in tracked) < 2**15  # no path can go past it: 16-bit counts suffice
    bound.update(_longest_exponents(lineage, atoms, tracked, "int16" if small else "int32"))
    return _product(bound)


_TRACKED = 48


def _product(exponents: dict[int, int]) -> int:
    result = 1
    for atom, e in exponents.items():
        result *= atom**e
    return result


_SMALL_PRIMES: list[int] = []


def _factorizations(values: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    if not _SMALL_PRIMES:
        sieve = bytearray([1]) * 1000
        for i in range(2, 1000):
            if sieve[i]:
                _SMALL_PRIMES.append(i)
                sieve[i * i::i] = bytearray(len(sieve[i * i::i]))
    result = {}
    for value in values:
        parts = []
        n = value
        for p in _SMALL_PRIMES:
            if p * p > n:
                break
            if n % p == 0:
                e = 0
                while n % p == 0:
                    n //= p
                    e += 1
                parts.append((p, e))
        if n > 1:
            parts.append((n, 1))  # a prime, or a cofactor with no factor under 1000: fine as an atom
        result[value] = parts
    return result


def _longest_exponents(lineage: LineageArrays, atoms: dict[int, list[tuple[int, int]]], tracked: list[int],
                       dtype: str = "int32") -> dict[int, int]:
    """For each tracked atom, the most times it divides the dens along one path from the piece."""
    import numpy as np

    column = {a: j for j, a in enumerate(tracked)}
    dens = sorted(atoms)
    den_row = {d: r for r, d in enumerate(dens)}
    per_den = np.zeros((len(dens), len(tracked)), dtype=dtype)
    for d, r in den_row.items():
        for atom, e in atoms[d]:
            j = column.get(atom)
            if j is not None:
                per_den[r, j] = e
    n = len(lineage.nodes)
    own = per_den[np.fromiter(map(den_row.__getitem__, lineage.den), dtype=np.int64, count=n)]
    before = np.zeros_like(own)  # the most times each atom divides the dens strictly above a fragment
    for users, _, heads, targets in lineage.wave_steps:  # a wave's users are final once those above are
        most = np.maximum.reduceat(before[users] + own[users], heads, axis=0)
        np.maximum(before[targets], most, out=most)
        before[targets] = most
    most = (before + own).max(axis=0)
    return {a: int(most[j]) for a, j in column.items()}


def seconds_on_screen(lineage: LineageArrays) -> list[float]:
    """How long each fragment is on screen or heard in the piece.

    The piece counts its whole length; a source of a remix counts the seconds its clips last in the
    remix, scaled by how much of the remix the piece shows; a derivative's parents count as long as it.
    """
    import numpy as np

    piece = lineage.nodes[0]
    seconds = np.zeros(len(lineage.nodes))
    seconds[0] = piece.timeline.length if piece.timeline is not None else (piece.duration or 0.0)
    part = np.asarray(lineage.part, dtype=np.float64)
    for users, positions, heads, targets in lineage.wave_steps:
        seconds[targets] += np.add.reduceat(seconds[users] * part[positions], heads)
    return seconds.tolist()


def compute_shares(graph: LineageGraph, piece: str, rules: CreditRules | None = None,
                   mailmap: Mailmap | None = None, progress: ProgressFn | None = None) -> Shares:
    """Each contributor's exact share of ``piece``, with the fragments that earned it."""
    # Hundreds of thousands of small objects are made and none become garbage: the cyclic collector
    # would only rescan them again and again (a third of the time on a large lineage).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _compute_shares(graph, piece, rules or CreditRules(), mailmap or Mailmap(), progress)
    finally:
        if collecting:
            gc.enable()


def _compute_shares(graph: LineageGraph, piece: str, rules: CreditRules, mailmap: Mailmap,
                    progress: ProgressFn | None) -> Shares:
    lineage = build_lineage(graph, piece, rules, progress)
    nodes = lineage.nodes
    # each fragment's contributor: authors grouped by object first (cheap), then by canonical e-mail
    objects: dict[int, int] = {}
    authors: list[Person] = []
    kinds = []
    for node in nodes:
        author = node.author
        k = objects.get(id(author))
        if k is None:
            k = objects[id(author)] = len(authors)
            authors.append(author)
        kinds.append(k)
    by_id: dict[str, ContributorShare] = {}
    canonical: dict[Person, tuple[Person, int]] = {}
    of_author: list[int] = []
    for author in authors:
        known = canonical.get(author)
        if known is None:
            person = mailmap.canonical(author)
            cid = (person.email or person.name).lower()
            entry = by_id.get(cid)
            if entry is None:
                entry = by_id[cid] = ContributorShare(cid, person.name, person.email, Fraction(0), 0.0,
                                                      number=len(by_id))
            known = canonical[author] = (person, entry.number)
        of_author.append(known[1])
    owner = [of_author[k] for k in kinds]
    result = flows(lineage, owner, len(by_id))
    unit, seconds, scale = result.unit, result.seconds, result.scale
    made = _FragmentCredits(lineage, result, owner)
    contributors = list(by_id.values())
    # seconds and the names each contributor's reached fragments carry
    time = [0.0] * len(contributors)
    names: list[Counter[str]] = [Counter() for _ in contributors]
    used_by_author = Counter(kinds[i] for i, u in enumerate(unit) if u)
    for k, times in used_by_author.items():
        names[of_author[k]][canonical[authors[k]][0].name] += times
    for i, u in enumerate(unit):
        if u:
            time[owner[i]] += seconds[i]
    for entry in contributors:
        entry.share_num = result.totals[entry.number]
        entry.seconds = time[entry.number]
        entry._made = made
    positive = sorted((c for c in contributors if c.share_num), key=lambda c: (-c.share_num, c.id))
    for entry in positive:
        entry.share = Fraction(entry.share_num, scale)
        # the name used most often, ties by the smallest: independent of the order fragments were read
        entry.name = min(names[entry.number].items(), key=lambda item: (-item[1], item[0]))[0]
    editor = mailmap.canonical(nodes[0].author)
    overrides = {}
    for i, node in enumerate(nodes):
        if unit[i] and node.timeline is not None and node.timeline.editor_share is not None:
            overrides[node.id] = node.timeline.editor_share
    return Shares(lineage, positive, (editor.email or editor.name).lower(), seconds[0],
                  n_reached(unit), overrides, scale)


def n_reached(unit: list[int]) -> int:
    return len(unit) - unit.count(0)
