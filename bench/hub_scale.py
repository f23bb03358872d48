"""Three hub processes behind nginx against one hub process, on the same load (docs/scale.md).

    python bench/hub_scale.py [--clients 16] [--seconds 60] [--collaborations 8] [--repeats 1]

Each run starts a fresh root and ``--clients`` client processes (tests/scale_load.py: record a fragment,
push, pull, repeat), client ``i`` on collaboration ``i % --collaborations``, for ``--seconds``. The
layouts alternate, one then the other, ``--repeats`` times:

- ``single``: one ``hitrec hub serve``, the clients straight at it;
- ``front``: three ``hitrec hub serve`` over one root, nginx in front routing each collaboration to one
  of them by consistent hashing of its name (tests/nginx_front.py, the configuration docs/scale.md shows).

Checks, as issue 14 asks: zero errors; every fragment on the hub and in a clone of every collaboration;
throughput (push and pull operations a second) of ``front`` at least that of ``single``; each hub's
memory flat (RSS sampled every 0.5 s: the last third's peak at most 10 MB over the first third's). It
also prints the CPU seconds the hubs and the clients used, each with its git children: on a 2-core
machine the 16 clients share the CPUs with the hubs, and that bounds what any number of hub processes
can do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from hub_process import HubProcess  # noqa: E402
from nginx_front import NginxFront  # noqa: E402
from scale_load import clone_ids, collect, made_by_url, prepare_clients, start_clients  # noqa: E402
from sync_helpers import hub_fragment_ids  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU of a process (and of its reaped children: the git processes it ran)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return used / TICK


def self_children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


@dataclass
class Run:
    layout: str
    seconds: float = 0.0
    operations: int = 0
    rounds: int = 0
    errors: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    rss: dict[str, list[float]] = field(default_factory=dict)  # hub -> samples
    hub_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def throughput(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def flat(self) -> bool:
        return all(growth <= 10 for growth in self.growth().values())

    def growth(self) -> dict[str, float]:
        out = {}
        for hub, samples in self.rss.items():
            third = max(1, len(samples) // 3)
            out[hub] = max(samples[-third:]) - max(samples[:third])
        return out


def run_layout(layout: str, base: Path, args: argparse.Namespace) -> Run:
    base.mkdir(parents=True)
    root = base / "root"
    hubs = [HubProcess(root, log_name=f"hub{i}") for i in range(3 if layout == "front" else 1)]
    nginx: NginxFront | None = None
    result = Run(layout)
    try:
        for hub in hubs:
            hub.start()
        if layout == "front":
            nginx = NginxFront(base / "nginx", [hub.url.split("//")[1] for hub in hubs]).start()
            urls = [nginx.url(f"collab{i}") for i in range(args.collaborations)]
        else:
            urls = [hubs[0].collaboration_url(f"collab{i}") for i in range(args.collaborations)]
        prepared = prepare_clients(base, root, urls, args.clients)
        stop = threading.Event()
        pids = {f"hub{i}": hub.proc.pid for i, hub in enumerate(hubs) if hub.proc is not None}
        result.rss = {name: [] for name in pids}

        def sample() -> None:
            while not stop.is_set():
                for name, pid in pids.items():
                    result.rss[name].append(rss_mb(pid))
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        cpu_before = sum(cpu_seconds(pid) for pid in pids.values())
        clients_before = self_children_cpu()
        sampler.start()
        started = time.perf_counter()
        results = collect(start_clients(base, prepared, rounds=0, seconds=args.seconds, nice=args.client_nice),
                          timeout=args.seconds + 600)
        result.seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
        result.hub_cpu = sum(cpu_seconds(pid) for pid in pids.values()) - cpu_before
        result.client_cpu = self_children_cpu() - clients_before
        result.operations = sum(int(r["pushes"]) + int(r["pulls"]) for r in results.values())  # type: ignore[call-overload]
        result.rounds = sum(int(r["rounds"]) for r in results.values())  # type: ignore[call-overload]
        result.errors = [f"{n}: {e}" for n, r in results.items() for e in r["errors"]]  # type: ignore[attr-defined]
        env = next(iter(prepared.values()))[1]
        for url, made in made_by_url(prepared, results).items():
            name = url.rsplit("/", 1)[1][:-4]
            on_hub = hub_fragment_ids(root / f"{name}.git")
            ids, missing = clone_ids(url, base / "clones" / name, env)
            if on_hub != made or ids != made or missing:
                result.incomplete.append(f"{name}: hub lacks {len(made - on_hub)}, clone lacks {len(made - ids)} "
                                         f"fragments and {len(missing)} media")
    finally:
        if nginx is not None:
            nginx.stop()
        for hub in hubs:
            hub.stop()
    return result


def report(run: Run) -> None:
    growth = ", ".join(f"{hub} {max(s):.0f} MB peak, {g:+.1f} MB" for (hub, s), g in
                       zip(run.rss.items(), run.growth().values(), strict=True))
    print(f"  {run.layout:6} {run.throughput:6.2f} ops/s ({run.operations} pushes+pulls, {run.rounds} rounds in "
          f"{run.seconds:.1f} s)  errors {len(run.errors)}  incomplete {len(run.incomplete)}  "
          f"CPU: hubs {run.hub_cpu:.0f} s, clients {run.client_cpu:.0f} s  RSS: {growth}", flush=True)
    for line in (run.errors + run.incomplete)[:10]:
        print("    !", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--collaborations", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="how many single/front pairs to run")
    parser.add_argument("--client-nice", type=int, default=10, help="niceness of the client processes")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="hub-scale-"))
    home = base / "home"
    home.mkdir()
    os.environ.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "GIT_CONFIG_NOSYSTEM": "1"})
    os.environ.pop("HITREC_TOKEN", None)
    print(f"{args.clients} clients on {args.collaborations} collaborations, {args.seconds:.0f} s a run, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    runs: list[Run] = []
    try:
        for i in range(args.repeats):
            for layout in ("single", "front") if i % 2 == 0 else ("front", "single"):
                runs.append(run_layout(layout, base / f"{layout}-{i}", args))
                report(runs[-1])
                shutil.rmtree(base / f"{layout}-{i}", ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    single = [r.throughput for r in runs if r.layout == "single"]
    front = [r.throughput for r in runs if r.layout == "front"]
    ratio = (sum(front) / len(front)) / (sum(single) / len(single))
    ok_errors = all(not r.errors and not r.incomplete for r in runs)
    ok_memory = all(r.flat() for r in runs)
    print(f"front / single throughput: {ratio:.2f} (limit >= 1.00: {'met' if ratio >= 1.0 else 'NOT met'}); "
          f"errors and lost fragments: {'none' if ok_errors else 'SOME'}; "
          f"hub RSS flat: {'yes' if ok_memory else 'NO'}; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    ok = ok_errors and ok_memory and ratio >= 1.0
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
