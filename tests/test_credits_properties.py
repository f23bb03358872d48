"""Property-based tests of the credits rule over random lineages (in memory), plus the small parts.

Every random lineage is also credited by two plain references: one that walks every path with
``Fraction`` (the rule as written, exponential) and one that pushes ``Fraction`` flows in topological
order; the fast integer computation must agree with both exactly.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitrec.credits.explain import explain
from hitrec.credits.graph import ClipUse, CreditRules, MemoryGraph, Node, RemixUses
from hitrec.credits.mailmap import Mailmap
from hitrec.credits.payouts import compute_payouts, format_amount, largest_remainder, parse_share
from hitrec.credits.shares import compute_shares
from hitrec.errors import CreditsError, UsageError
from hitrec.store.model import Person

PEOPLE = [Person(f"Person {i}", f"p{i}@example.org") for i in range(6)]
SHARES = [Fraction(0), Fraction(1, 10), Fraction(1, 5), Fraction(1, 4), Fraction(1, 3), Fraction(1, 2), Fraction(1)]
USES = [Fraction(k, 2) for k in range(0, 9)] + [Fraction(1, 3), Fraction(7, 10)]


def fid(i: int) -> str:
    return f"{i + 1:040x}"


@st.composite
def lineages(draw: st.DrawFn, max_nodes: int = 8, max_sources: int = 3) -> tuple[MemoryGraph, CreditRules]:
    n = draw(st.integers(1, max_nodes))
    graph = MemoryGraph()
    for i in range(n):
        author = draw(st.sampled_from(PEOPLE))
        kind = draw(st.sampled_from(["original", "remix", "derivative"])) if i else "original"
        if kind == "original":
            graph.add(Node(fid(i), author, f"f{i}", duration=1.0))
            continue
        sources = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=max_sources))
        if kind == "derivative":
            graph.add(Node(fid(i), author, f"f{i}", "image", parents=tuple(fid(s) for s in sources)))
            continue
        clips = []
        for s in sources:
            seconds = draw(st.sampled_from(USES))
            weight = draw(st.one_of(st.none(), st.sampled_from(USES)))
            clips.append(ClipUse(fid(s), weight if weight is not None else seconds, float(seconds),
                                 float(draw(st.sampled_from(USES))), "audio", weight is not None))
        for _ in range(draw(st.integers(0, 1))):
            seconds = draw(st.sampled_from(USES))
            clips.append(ClipUse(None, seconds, float(seconds), 0.0, "text"))
        share = draw(st.one_of(st.none(), st.sampled_from(SHARES)))
        graph.add(Node(fid(i), author, f"f{i}", parents=tuple(dict.fromkeys(fid(s) for s in sources)),
                       timeline=RemixUses(tuple(clips), share)))
    rules = CreditRules(draw(st.sampled_from(SHARES)), draw(st.sampled_from(SHARES)))
    return graph, rules


def piece_of(graph: MemoryGraph) -> str:
    return fid(len(graph) - 1)


def by_path(graph: MemoryGraph, piece: str, rules: CreditRules) -> dict[str, Fraction]:
    """The rule as written, one path at a time, clip by clip."""
    shares: dict[str, Fraction] = defaultdict(Fraction)

    def visit(node_id: str, value: Fraction) -> None:
        node = graph.get(node_id)
        author = node.author.email
        if node.timeline is not None:
            e = node.timeline.editor_share if node.timeline.editor_share is not None else rules.editor_share
            total = sum((c.use for c in node.timeline.clips), Fraction(0))
            if total == 0:
                shares[author] += value
                return
            shares[author] += value * e
            for clip in node.timeline.clips:
                part = value * (1 - e) * clip.use / total
                if clip.fragment is None:
                    shares[author] += part
                else:
                    visit(clip.fragment, part)
        elif node.parents:
            parents = list(dict.fromkeys(node.parents))
            shares[author] += value * rules.derivative_share
            for p in parents:
                visit(p, value * (1 - rules.derivative_share) / len(parents))
        else:
            shares[author] += value

    visit(piece, Fraction(1))
    return {k: v for k, v in shares.items() if v}


def computed(graph: MemoryGraph, rules: CreditRules, mailmap: Mailmap | None = None) -> dict[str, Fraction]:
    return {c.id: c.share for c in compute_shares(graph, piece_of(graph), rules, mailmap).contributors}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lineages())
def test_shares_match_the_rule_path_by_path_and_sum_to_one(case: tuple[MemoryGraph, CreditRules]) -> None:
    graph, rules = case
    shares = computed(graph, rules)
    assert shares == by_path(graph, piece_of(graph), rules)
    assert all(v > 0 for v in shares.values())
    assert sum(shares.values(), Fraction(0)) == 1


def by_flow(graph: MemoryGraph, piece: str, rules: CreditRules) -> dict[str, Fraction]:
    """Fraction flows pushed in topological order: linear, for lineages too big to walk path by path."""
    order, seen = [], set()

    def sources(node: Node) -> list[str]:
        return node.upstream

    stack = [(piece, False)]
    while stack:  # iterative post-order DFS, reversed = topological
        nid, done = stack.pop()
        if done:
            order.append(nid)
            continue
        if nid in seen:
            continue
        seen.add(nid)
        stack.append((nid, True))
        stack.extend((s, False) for s in sources(graph.get(nid)) if s not in seen)
    flow: dict[str, Fraction] = defaultdict(Fraction)
    flow[piece] = Fraction(1)
    shares: dict[str, Fraction] = defaultdict(Fraction)
    for nid in reversed(order):
        node, value = graph.get(nid), flow[nid]
        if node.timeline is not None:
            e = node.timeline.editor_share if node.timeline.editor_share is not None else rules.editor_share
            total = sum((c.use for c in node.timeline.clips), Fraction(0))
            if total == 0:
                shares[node.author.email] += value
                continue
            shares[node.author.email] += value * e
            for clip in node.timeline.clips:
                part = value * (1 - e) * clip.use / total
                if clip.fragment is None:
                    shares[node.author.email] += part
                else:
                    flow[clip.fragment] += part
        elif node.parents:
            parents = list(dict.fromkeys(node.parents))
            shares[node.author.email] += value * rules.derivative_share
            for p in parents:
                flow[p] += value * (1 - rules.derivative_share) / len(parents)
        else:
            shares[node.author.email] += value
    return {k: v for k, v in shares.items() if v}


@st.composite
def big_lineages(draw: st.DrawFn) -> tuple[MemoryGraph, CreditRules]:
    """Built top down so the piece (the last id) reaches every fragment: 64-300 fragments."""
    rng = draw(st.randoms(use_true_random=False))
    n = draw(st.integers(64, 300))
    used: list[list[int]] = [[] for _ in range(n)]  # position 0 is the piece
    for i in range(1, n):
        used[rng.randrange(i)].append(i)
    for _ in range(n):
        i = rng.randrange(1, n)
        used[rng.randrange(i)].append(i)
    graph = MemoryGraph()
    ident = {k: fid(n - 1 - k) for k in range(n)}  # the piece gets the last id
    for k in range(n):
        author = rng.choice(PEOPLE)
        if not used[k]:
            graph.add(Node(ident[k], author, f"f{k}"))
        elif rng.random() < 0.2:
            graph.add(Node(ident[k], author, f"f{k}", parents=tuple(ident[s] for s in used[k])))
        else:
            clips = tuple(ClipUse(ident[s], rng.choice(USES), 1.0) for s in used[k])
            share = rng.choice([None, *SHARES])
            graph.add(Node(ident[k], author, f"f{k}", parents=tuple(dict.fromkeys(ident[s] for s in used[k])),
                           timeline=RemixUses(clips, share)))
    return graph, CreditRules(rng.choice(SHARES), rng.choice(SHARES))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(big_lineages())
def test_large_lineages_match_fraction_flows(case: tuple[MemoryGraph, CreditRules]) -> None:
    graph, rules = case  # past 64 fragments the common denominator comes from the per-prime longest paths
    shares = computed(graph, rules)
    assert shares == by_flow(graph, piece_of(graph), rules)
    assert sum(shares.values(), Fraction(0)) == 1


def test_a_deep_chain_with_many_primes() -> None:
    graph = MemoryGraph([Node(fid(0), PEOPLE[0], "origin")])
    for i in range(1, 400):  # each remix splits by a different total: denominators with many primes
        clips = (ClipUse(fid(i - 1), Fraction(1), 1.0), ClipUse(fid(max(0, i - 2)), Fraction(i % 37 + 1), 1.0))
        graph.add(Node(fid(i), PEOPLE[i % 6], f"r{i}", parents=(fid(i - 1),), timeline=RemixUses(clips)))
    rules = CreditRules()
    shares = computed(graph, rules)
    assert shares == by_flow(graph, piece_of(graph), rules)
    assert sum(shares.values(), Fraction(0)) == 1


amounts = st.integers(0, 10**12).map(lambda cents: format_amount(cents, 2))
community = st.sampled_from(["0", "0.5", "1", "0.333", "1/3", "70%", "0.05"])


@settings(max_examples=200, deadline=None)
@given(lineages(), amounts, community)
def test_payouts_sum_exactly_to_the_pool(case: tuple[MemoryGraph, CreditRules], profit: str, share: str) -> None:
    graph, rules = case
    shares = compute_shares(graph, piece_of(graph), rules)
    payouts = compute_payouts(shares, profit, share)
    assert sum(p.cents for p in payouts.payouts) == payouts.pool_cents
    assert all(p.cents >= 0 for p in payouts.payouts)
    profit_cents = int(profit.replace(".", ""))
    assert payouts.pool_cents + int(payouts.company.replace(".", "")) == profit_cents
    for p in payouts.payouts:  # each gets its exact amount rounded down or up, never further
        exact = p.share * payouts.pool_cents
        assert exact - 1 < p.cents < exact + 1


@settings(max_examples=150, deadline=None)
@given(lineages(), st.permutations(range(len(PEOPLE))), amounts)
def test_renaming_contributors_permutes_results(case: tuple[MemoryGraph, CreditRules], perm: list[int],
                                                profit: str) -> None:
    graph, rules = case
    renamed = {p: Person(f"Someone {perm[i]}", f"s{perm[i]}@elsewhere.example") for i, p in enumerate(PEOPLE)}
    other = MemoryGraph(Node(n.id, renamed[n.author], n.title, n.kind, n.parents, n.timeline, n.duration)
                        for n in graph)
    before = compute_shares(graph, piece_of(graph), rules)
    after = compute_shares(other, piece_of(other), rules)
    back = {renamed[p].email: p.email for p in PEOPLE}
    assert {back[c.id]: c.share for c in after.contributors} == {c.id: c.share for c in before.contributors}
    assert {back[c.id]: [f.id for f in c.fragments] for c in after.contributors} == \
        {c.id: [f.id for f in c.fragments] for c in before.contributors}
    assert after.fragments_reached == before.fragments_reached and after.seconds == before.seconds
    pay_before = {p.contributor: p.cents for p in compute_payouts(before, profit).payouts}
    pay_after = {back[p.contributor]: p.cents for p in compute_payouts(after, profit).payouts}
    # the last cents go to the largest remainders, ties by id: a renaming may only move a cent between tied
    assert sum(pay_before.values()) == sum(pay_after.values())
    assert all(abs(pay_before[k] - pay_after[k]) <= 1 for k in pay_before)
    # a renaming that keeps the ids in the same order changes nothing at all
    ordered = {p: Person(f"Name {i}", f"m{i:02d}@x.example") for i, p in enumerate(PEOPLE)}
    same = MemoryGraph(Node(n.id, ordered[n.author], n.title, n.kind, n.parents, n.timeline, n.duration)
                       for n in graph)
    back2 = {ordered[p].email: p.email for p in PEOPLE}
    assert {back2[p.contributor]: p.cents
            for p in compute_payouts(compute_shares(same, piece_of(same), rules), profit).payouts} == pay_before


@settings(max_examples=150, deadline=None)
@given(lineages(), st.data())
def test_a_clip_with_weight_zero_changes_nothing(case: tuple[MemoryGraph, CreditRules], data: st.DataObject) -> None:
    graph, rules = case
    remixes = [n for n in graph if n.timeline is not None]
    if not remixes:
        return
    target = data.draw(st.sampled_from(remixes))
    index = int(target.id, 16) - 1
    source = fid(data.draw(st.integers(0, index - 1))) if index else None
    if source is None:
        return
    seconds = data.draw(st.sampled_from(USES))
    extra = ClipUse(source, Fraction(0), float(seconds), 0.0, "audio", True)
    changed = MemoryGraph(
        Node(n.id, n.author, n.title, n.kind, n.parents,
             RemixUses((*n.timeline.clips, extra), n.timeline.editor_share), n.duration) if n.id == target.id else n
        for n in graph)
    assert computed(changed, rules) == computed(graph, rules)
    before = compute_payouts(compute_shares(graph, piece_of(graph), rules), "1234.56")
    after = compute_payouts(compute_shares(changed, piece_of(changed), rules), "1234.56")
    assert after.payouts == before.payouts


@settings(max_examples=100, deadline=None)
@given(lineages())
def test_explained_paths_add_up_to_each_share(case: tuple[MemoryGraph, CreditRules]) -> None:
    graph, rules = case
    shares = compute_shares(graph, piece_of(graph), rules)
    for c in shares.contributors:
        explanation = explain(shares, c.email, max_paths=10_000)
        assert explanation.complete
        assert explanation.shown_value == c.share
        for path in explanation.paths:
            product = path.keeps
            for step in path.steps:
                product *= step.factor
            assert product == path.value


def test_a_loop_is_an_error() -> None:
    a = Node(fid(0), PEOPLE[0], "a", parents=(fid(1),))
    b = Node(fid(1), PEOPLE[1], "b", parents=(fid(0),))
    with pytest.raises(CreditsError, match="loop"):
        compute_shares(MemoryGraph([a, b]), fid(0))
    c = Node(fid(2), PEOPLE[2], "c", parents=(fid(0),))
    with pytest.raises(CreditsError, match="loop"):
        compute_shares(MemoryGraph([a, b, c]), fid(2))


def test_missing_source_names_it() -> None:
    node = Node(fid(0), PEOPLE[0], "mix", timeline=RemixUses((ClipUse(fid(9), Fraction(1), 1.0),)))
    with pytest.raises(CreditsError, match=fid(9)):
        compute_shares(MemoryGraph([node]), fid(0))


# --- the small parts ---------------------------------------------------------------------------------


def test_largest_remainder_ties_go_to_the_smaller_id() -> None:
    third = Fraction(1, 3)
    assert largest_remainder([("c", third), ("a", third), ("b", third)], 100) == {"a": 34, "b": 33, "c": 33}
    assert largest_remainder([("c", third), ("a", third), ("b", third)], 101) == {"a": 34, "b": 34, "c": 33}
    assert largest_remainder([("x", Fraction(1))], 7) == {"x": 7}
    assert largest_remainder([("x", Fraction(1, 2)), ("y", Fraction(1, 2))], 0) == {"x": 0, "y": 0}


def test_amounts_and_community_shares() -> None:
    assert format_amount(12345, 2) == "123.45" and format_amount(5, 2) == "0.05" and format_amount(7, 0) == "7"
    assert parse_share("50%") == Fraction(1, 2) and parse_share("1/3") == Fraction(1, 3)
    for bad in ("1.01", "-0.5", "half", "2/1"):
        with pytest.raises(UsageError):
            parse_share(bad)


def test_mailmap_forms() -> None:
    mailmap = Mailmap.parse(
        "# comment\n"
        "Proper Name <commit@example.org>\n"
        "<proper@example.org> <old@example.org>\n"
        "Jane Doe <jane@example.org> <JANE@work.example>\n"
        "Joe R. Developer <joe@example.org> Joe <bugs@example.org>\n"
    )
    assert mailmap.canonical(Person("whoever", "Commit@Example.org")) == Person("Proper Name", "Commit@Example.org")
    assert mailmap.canonical(Person("Old Name", "old@example.org")) == Person("Old Name", "proper@example.org")
    assert mailmap.canonical(Person("J", "jane@WORK.example")) == Person("Jane Doe", "jane@example.org")
    assert mailmap.canonical(Person("joe", "bugs@example.org")) == Person("Joe R. Developer", "joe@example.org")
    assert mailmap.canonical(Person("Other", "bugs@example.org")) == Person("Other", "bugs@example.org")
    with pytest.raises(CreditsError, match="mailmap:1"):
        Mailmap.parse("no angle brackets here")


def test_a_ladder_of_diamonds_costs_one_visit_per_fragment() -> None:
    """60 diamonds in a row: 2**60 paths from the top to the bottom, yet 181 fragments to visit."""
    graph = MemoryGraph([Node(fid(0), PEOPLE[0], "bottom")])
    below = fid(0)
    k = 1
    for level in range(60):
        left, right, top = fid(k), fid(k + 1), fid(k + 2)
        k += 3
        for side in (left, right):
            graph.add(Node(side, PEOPLE[(level + k) % 6], "side",
                           timeline=RemixUses((ClipUse(below, Fraction(1), 1.0),))))
        graph.add(Node(top, PEOPLE[level % 6], "top", timeline=RemixUses(
            (ClipUse(left, Fraction(1), 1.0), ClipUse(right, Fraction(1), 1.0)))))
        below = top
    rules = CreditRules()
    shares = compute_shares(graph, below, rules)
    assert shares.fragments_reached == 181
    assert sum((c.share for c in shares.contributors), Fraction(0)) == 1
    assert {c.id: c.share for c in shares.contributors} == by_flow(graph, below, rules)
    # the bottom fragment is reached by 2**60 paths; its share is (4/5 * 1/2 * 4/5)**60 * 2**60 in total
    bottom = next(f for c in shares.contributors for f in c.fragments if f.id == fid(0))
    assert bottom.flow == (Fraction(4, 5) * Fraction(4, 5)) ** 60
    explanation = explain(shares, PEOPLE[0].email, max_paths=5)
    assert explanation.total_paths >= 2**60 and len(explanation.paths) == 5 and not explanation.complete
