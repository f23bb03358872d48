"""Credits over a synthetic lineage: 100,000 fragments and 300,000 remix edges in under 2 s, linear growth.

    python bench/credits_synthetic.py            # 10k and 100k fragments (3 edges per fragment), 3 runs each
    python bench/credits_synthetic.py --sizes 10000 100000 300000 --runs 5

The lineage is built in memory behind the same ``LineageGraph`` interface the repo adapter implements.
Shape (seeded, so every run builds the same lineage): fragment 0 is the piece; every other fragment i is
used by a random earlier fragment (so the piece reaches all of them), then random extra uses (j < i) are
added until there are 3 edges per fragment. A fragment that uses others is a remix with a timeline (90%)
or a derivative (10%); one that uses none is an original. Clips last 0.5-8 s in half seconds, 10% carry an
integer weight, 10% of remixes add a text clip, 20% override editor_share. 5,000 contributors.
Prints the time of each stage, the limit ratio, and the 10x-size time ratio (linear = 10).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hitrec.credits.graph import ClipUse, MemoryGraph, Node, RemixUses
from hitrec.credits.payouts import compute_payouts
from hitrec.credits.shares import compute_shares
from hitrec.store.model import Person

LIMIT_S = 2.0


def synthetic_graph(n: int, edges_per_fragment: float = 3.0, seed: int = 4,
                    contributors: int = 5000) -> tuple[MemoryGraph, int]:
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(160):040x}" for _ in range(n)]
    people = [Person(f"Contributor {i}", f"c{i}@example.org") for i in range(contributors)]
    sources: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        sources[rng.randrange(i)].append(i)
    target = int(n * edges_per_fragment)
    edges = n - 1
    while edges < target:
        i = rng.randrange(1, n)
        j = rng.randrange(i)
        if i not in sources[j][-8:]:  # cheap duplicate guard; a repeat is a second clip of the same source
            sources[j].append(i)
            edges += 1
    halves = [Fraction(k, 2) for k in range(1, 17)]
    graph = MemoryGraph()
    for i in range(n):
        author = people[rng.randrange(contributors)]
        used = sources[i]
        if not used:
            graph.add(Node(ids[i], author, f"take {i}", "audio", duration=float(rng.choice(halves))))
            continue
        if rng.random() < 0.1:
            graph.add(Node(ids[i], author, f"drawing {i}", "image", parents=tuple(ids[s] for s in used)))
            continue
        clips = []
        at = 0.0
        for s in used:
            seconds = rng.choice(halves)
            weighted = rng.random() < 0.1
            use = Fraction(rng.randint(1, 5)) if weighted else seconds
            clips.append(ClipUse(ids[s], use, float(seconds), at, "audio", weighted))
            at += float(seconds) / 2
        if rng.random() < 0.1:
            clips.append(ClipUse(None, Fraction(2), 2.0, 0.0, "text"))
        share = rng.choice([Fraction(1, 10), Fraction(1, 4), Fraction(3, 10)]) if rng.random() < 0.2 else None
        graph.add(Node(ids[i], author, f"remix {i}", "audio", parents=tuple(ids[s] for s in used),
                       timeline=RemixUses(tuple(clips), share)))
    return graph, edges


def run(n: int, runs: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    graph, edges = synthetic_graph(n)
    build = time.perf_counter() - t0
    piece = next(iter(graph)).id
    wall = cpu = float("inf")
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        shares = compute_shares(graph, piece)
        payouts = compute_payouts(shares, "1000000.00", "0.5")
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    total = sum((c.share for c in shares.contributors), Fraction(0))
    paid = sum(p.cents for p in payouts.payouts)
    print(f"{n:>7} fragments {edges:>7} edges  reached {shares.fragments_reached:>6}  "
          f"contributors {len(shares.contributors):>4}  (graph built in {build:4.1f} s)  "
          f"credits+payouts: wall {wall:5.2f} s, cpu {cpu:5.2f} s  (limit {LIMIT_S:g} s: {wall / LIMIT_S:.2f}x)  "
          f"common denominator {shares.scale.bit_length()} bits  sum(shares)==1: {total == 1}  "
          f"sum(payouts)==pool: {paid == payouts.pool_cents}")
    return wall, cpu


def _reference_loop() -> float:
    start = time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import os

    reference = min(_reference_loop() for _ in range(3))
    print(f"reference: a 5M-step Python loop takes {reference:.3f} s cpu here (the machine's speed right now)")
    times = [run(n, args.runs) for n in args.sizes]
    for i in range(1, len(times)):
        n1, n2 = args.sizes[i - 1], args.sizes[i]
        (w1, c1), (w2, c2) = times[i - 1], times[i]
        print(f"size x{n2 / n1:g} -> wall x{w2 / w1:.2f}, cpu x{c2 / c1:.2f} (linear = {n2 / n1:g})")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
