"""Credits read from a real repo (the ``RepoGraph`` adapter) on a few thousand fragments.

    python bench/credits_repo.py                 # ~2,900 fragments, ~5,000 remix edges
    python bench/credits_repo.py --originals 6000

Records tiny distinct WAVs as originals, then levels of remixes whose stored ``timeline.yaml`` uses a
slice of the level below (so the piece reaches everything) plus random fragments from any level below
(diamonds). Times ``hitrec.ops.credits.credits`` on the repo (reading each fragment from the index and
each timeline from git, then the shares and payouts), the same lineage copied into a ``MemoryGraph``,
and ``hitrec credits --json`` as a subprocess; prints the adapter's cost per fragment.
"""

from __future__ import annotations

import argparse
import random
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from hitrec.credits.graph import MemoryGraph, RepoGraph
from hitrec.credits.shares import compute_shares
from hitrec.ops.credits import credits
from hitrec.store import FragmentSpec, Repo
from hitrec.store.model import Person


def tiny_wav(path: Path, n: int) -> Path:
    frames = 400
    samples = [(n & 0x7FFF), (n >> 15) & 0x7FFF] + [((i * 31) % 2000) - 1000 for i in range(frames - 2)]
    data = struct.pack(f"<{frames}h", *samples)  # the first two samples make each file distinct
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(data)
    return path


def build(root: Path, originals: int, seed: int = 4) -> tuple[Repo, str, int]:
    rng = random.Random(seed)
    repo = Repo.init(root / "project")
    media = root / "media"
    media.mkdir()
    people = [Person(f"Contributor {i}", f"c{i}@example.org") for i in range(300)]
    counter = iter(range(10**9))
    specs = [FragmentSpec(tiny_wav(media / f"o{i}.wav", next(counter)), title=f"take {i}",
                          author=rng.choice(people)) for i in range(originals)]
    levels = [[f.id for f in repo.record(specs)]]
    below: list[str] = list(levels[0])
    edges = 0
    size = originals
    while size > 1:
        size = max(1, size * 3 // 10)
        previous = levels[-1]
        chunk = -(-len(previous) // size)
        specs = []
        for k in range(size):
            used = previous[k * chunk:(k + 1) * chunk] + rng.sample(below, min(2, len(below)))
            clips = [{"fragment": fid, "at": j * 0.5, "duration": rng.choice([0.5, 1, 1.5, 2, 3])}
                     for j, fid in enumerate(used)]
            timeline = {"hitrec": 1, "title": f"remix {len(levels)}.{k}",
                        "output": {"sample_rate": 8000, "channels": 1, "format": "wav"},
                        "tracks": [{"kind": "audio", "name": "a", "clips": clips}]}
            edges += len(used)
            specs.append(FragmentSpec(tiny_wav(media / f"r{len(levels)}_{k}.wav", next(counter)),
                                      title=f"remix {len(levels)}.{k}", author=rng.choice(people),
                                      parents=tuple(dict.fromkeys(used)),
                                      extra_files={"timeline.yaml": yaml.safe_dump(timeline).encode()}))
        level = [f.id for f in repo.record(specs)]
        levels.append(level)
        below += level
    return repo, levels[-1][0], edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        repo, piece, edges = build(Path(tmp), args.originals)
        print(f"built repo: {time.perf_counter() - t0:.1f} s")
        best_repo = float("inf")
        for _ in range(args.runs):
            fresh = Repo.find(repo.root)
            t0 = time.perf_counter()
            report = credits(fresh, piece, profit="1000.00")
            best_repo = min(best_repo, time.perf_counter() - t0)
            fresh.close()
        n = report.shares.fragments_reached
        graph = RepoGraph(Repo.find(repo.root))
        memory = MemoryGraph(graph.get(f.id) for c in report.shares.contributors for f in c.fragments)
        best_memory = float("inf")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            compute_shares(memory, piece)
            best_memory = min(best_memory, time.perf_counter() - t0)
        t0 = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "hitrec", "credits", piece, "--profit", "1000", "--json"],
                             cwd=repo.root, capture_output=True, text=True, check=True)
        wall_cli = time.perf_counter() - t0
        assert '"payouts"' in cli.stdout
        print(f"{n} fragments, {edges} remix edges, {len(report.shares.contributors)} contributors")
        print(f"credits on the repo (RepoGraph): {best_repo:.3f} s = {best_repo / n * 1e6:.0f} us per fragment")
        print(f"same lineage in memory:          {best_memory:.3f} s  (adapter overhead "
              f"x{best_repo / best_memory:.1f})")
        print(f"`hitrec credits --profit --json` as a process: {wall_cli:.2f} s")


if __name__ == "__main__":
    main()
