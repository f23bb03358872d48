"""The gallery under load: a collaboration of 10,000 fragments from 300 contributors, 16 clients.

    python bench/gallery_load.py [--fragments 10000] [--contributors 300] [--seconds 8] [--connections 16]

The collaboration is recorded straight into a hub's bare repo with the store's writer, in bulk (two
batches: originals, then derivatives remixing them; each fragment a tiny text, WAV or PNG of its own).
A real hub process serves it (private: the load logs in with a session cookie) and wrk (Debian's, a
separate load process) asks for each page with ``Accept: text/html`` for ``--seconds``:

    page 1 of the collaboration      limit p95 <= 50 ms
    a later page (page 150)          limit p95 <= 50 ms
    a filtered page (kind + tag)     limit p95 <= 50 ms
    fragment pages (200 of them)     limit p95 <= 20 ms
    /-/health (the peer: the same server doing nothing)

then reads the hub's peak RSS (limit 150 MB). With ``--push-mb 1024``: `hitrec push` of one fragment of that
size to the same hub, alternately quiet and while wrk loads the gallery (limit: at least 0.8x the quiet
speed under load). Each page is asked once before its run (the first view
of a catalog commit builds the snapshot and draws the page: that figure is printed too). The machine
is shared: the health route, measured in the same run, is the floor to compare with.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from hub_process import HubProcess  # noqa: E402

from hitrec.media.probe import Probe  # noqa: E402
from hitrec.store import FragmentSpec, Repo  # noqa: E402
from hitrec.store.model import Person  # noqa: E402

RSS_LIMIT_MB = 150.0
TAGS = ["music", "voice", "drone", "story", "poem", "drawing", "footage", "beat", "noise", "sketch",
        "field-recording", "chorus", "loop", "city", "night", "rain", "sea", "bird", "dream", "fox"]
LICENSES = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "CC-BY-NC-4.0"]
LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT p50=%%.3f p95=%%.3f p99=%%.3f max=%%.3f requests=%%d errors=%%d\\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def _wav(path: Path, n: int) -> None:
    rng = random.Random(n)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<800h", *(rng.randint(-3000, 3000) for _ in range(800))))


def _png(path: Path, n: int) -> None:
    from PIL import Image

    Image.new("RGB", (16, 9), ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256)).save(path)
    path.write_bytes(path.read_bytes() + n.to_bytes(4, "big"))  # distinct bytes past the image's end


def make_specs(folder: Path, count: int, contributors: int, first: int, parents_from: list[str]) -> list[FragmentSpec]:
    rng = random.Random(first)
    people = [Person(f"Contributor {i:03d}", f"c{i:03d}@example.org") for i in range(contributors)]
    specs = []
    for n in range(first, first + count):
        pick = n % 10
        if pick < 5:
            path = folder / f"f{n}.txt"
            path.write_text(f"Fragment {n}: " + " ".join(rng.choice(TAGS) for _ in range(30)) + "\n")
            probe = Probe("text", "text/plain", codec="utf-8")
        elif pick < 8:
            path = folder / f"f{n}.wav"
            _wav(path, n)
            probe = Probe("audio", "audio/wav", duration=round(0.1 + (n % 50) * 0.5, 2), sample_rate=8000,
                          channels=1, codec="pcm_s16le")
        else:
            path = folder / f"f{n}.png"
            _png(path, n)
            probe = Probe("image", "image/png", width=16, height=9, codec="png")
        parents = tuple(rng.sample(parents_from, rng.choice((1, 1, 2)))) if parents_from else ()
        specs.append(FragmentSpec(path, title=f"{rng.choice(TAGS).title()} number {n}",
                                  tags=tuple(rng.sample(TAGS, 2)), license=LICENSES[n % len(LICENSES)],
                                  project=f"project-{n % 12}", parents=parents, author=people[n % contributors],
                                  media=probe))
    return specs


def build(git_dir: Path, folder: Path, fragments: int, contributors: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    repo = Repo.open(git_dir)
    try:
        originals = int(fragments * 0.8)
        first = repo.record_batch(make_specs(folder, originals, contributors, 0, [])).recorded
        ids = [f.id for f in first]
        second = repo.record_batch(make_specs(folder, fragments - originals, contributors, originals,
                                              ids[: originals // 2])).recorded
        ids += [f.id for f in second]
    finally:
        repo.close()
    return ids, time.perf_counter() - started


def wrk(url: str, paths: list[str], cookie: str, seconds: float, connections: int, folder: Path) -> dict[str, float]:
    script = folder / f"paths{abs(hash(tuple(paths))) % 10**8}.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                           "-s", str(script), "-H", "Accept: text/html", "-H", f"Cookie: {cookie}", url],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    match = re.search(r"RESULT (.*)", done.stdout)
    assert match, done.stdout + done.stderr
    values = dict(part.split("=") for part in match.group(1).split())
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    return {**{k: float(v) for k, v in values.items()}, "rps": float(rate.group(1)) if rate else 0.0}


def push_under_load(hub: HubProcess, token: str, base: Path, size_mb: int, rounds: int, cookie: str,
                    paths: list[str], connections: int) -> tuple[list[float], list[float]]:
    """Seconds of `hitrec push` of one ``size_mb`` fragment to a fresh collaboration, quiet and under a
    gallery load, alternated ``rounds`` times each."""
    from _sync_common import hitrec, isolated_env, noise_wav, user_env

    env = {**isolated_env(base / "client"), **user_env("Ada", "ada@example.org", token)}
    hitrec("init", "pusher", cwd=base, env=env)
    source = noise_wav(base / "big.wav", size_mb << 20, seed=11)
    hitrec("add", str(source), cwd=base / "pusher", env=env)
    source.unlink()
    script = base / "load.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    quiet: list[float] = []
    loaded: list[float] = []
    for r in range(rounds * 2):
        under_load = r % 2 == 1
        hitrec("remote", "add", "origin", hub.collaboration_url(f"push{r}"), "--replace", cwd=base / "pusher", env=env)
        shutil.rmtree(base / "pusher" / ".hitrec" / "refs" / "remotes", ignore_errors=True)
        load = None
        if under_load:
            load = subprocess.Popen(["wrk", "-t2", f"-c{connections}", "-d600s", "--timeout", "10s", "-s", str(script),
                                     "-H", "Accept: text/html", "-H", f"Cookie: {cookie}", hub.url],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # the load is on before the push starts
        try:
            seconds, _ = hitrec("push", "--json", cwd=base / "pusher", env=env)
        finally:
            if load is not None:
                load.terminate()
                load.wait()
        (loaded if under_load else quiet).append(seconds)
    return quiet, loaded


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    get = lambda key: int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) / 1024  # noqa: E731
    return get("VmRSS"), get("VmHWM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fragments", type=int, default=10000)
    parser.add_argument("--contributors", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--push-mb", type=int, default=0, help="also push a fragment this big, quiet and under load")
    parser.add_argument("--push-rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="hitrec-gallery-bench-"))
    try:
        with HubProcess(base / "hub", env={"HOME": str(base)}) as hub:
            token = hub.add_user("ada", "ada@example.org")
            hub.create("big", author_check=False)
            ids, took = build(hub.collaboration_path("big"), base / "media", args.fragments, args.contributors)
            print(f"recorded {len(ids)} fragments from {args.contributors} contributors in {took:.1f} s")
            login = httpx.post(hub.url + "/-/login", data={"user": "ada", "token": token},
                               headers={"origin": hub.url}, timeout=60)
            cookie = login.headers["set-cookie"].split(";")[0]
            rng = random.Random(7)
            fragment_paths = [f"/-/c/big/f/{fid}" for fid in rng.sample(ids, 200)]
            runs = [("health (peer)", ["/-/health"], None),
                    ("collaboration page 1", ["/-/c/big"], 50.0),
                    ("collaboration page 150", ["/-/c/big?page=150"], 50.0),
                    ("filtered (kind=audio&tag=music, page 2)", ["/-/c/big?kind=audio&tag=music&page=2"], 50.0),
                    ("fragment pages (200)", fragment_paths, 20.0)]
            first_views = {}
            for name, paths, _ in runs:
                started = time.perf_counter()
                for path in paths:
                    answer = httpx.get(hub.url + path, headers={"accept": "text/html", "cookie": cookie}, timeout=120)
                    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
                first_views[name] = (time.perf_counter() - started) / len(paths) * 1000
            assert hub.proc is not None
            results = []
            for name, paths, limit in runs:
                found = wrk(hub.url, paths, cookie, args.seconds, args.connections, base)
                results.append((name, limit, found))
            rss, peak = rss_mb(hub.proc.pid)
            pushes = None
            if args.push_mb:
                pushes = push_under_load(hub, token, base, args.push_mb, args.push_rounds, cookie,
                                         ["/-/c/big", "/-/c/big?page=150", *fragment_paths[:50]], args.connections)
        floor = results[0][2]["p95"]
        print(f"\n{args.connections} connections, {args.seconds:g} s each, wrk; p95 and ratio to the limit "
              f"(<= 1 meets it) and to the health route's p95 (the same server doing nothing)")
        print(f"{'what':<42} {'first view':>10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} "
              f"{'/limit':>7} {'/peer':>7}")
        ok = True
        for name, limit, r in results:
            ratio = f"{r['p95'] / limit:.2f}" if limit else "-"
            if limit and r["p95"] > limit:
                ok = False
            if r["errors"]:
                ok = False
            print(f"{name:<42} {first_views[name]:>9.1f}  {r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f} "
                  f"{r['rps']:>8.0f} {ratio:>7} {r['p95'] / floor if floor else 0:>7.1f}"
                  + (f"  ERRORS {r['errors']:.0f}" if r["errors"] else ""))
        print(f"hub RSS {rss:.0f} MB, peak {peak:.0f} MB (limit {RSS_LIMIT_MB:.0f}: {peak / RSS_LIMIT_MB:.2f})")
        ok = ok and peak < RSS_LIMIT_MB
        if pushes is not None:
            quiet, loaded = pushes
            mb = args.push_mb * 1.048576
            ratio = min(quiet) / min(loaded)
            print(f"push {mb:.0f} MB: quiet {', '.join(f'{mb / s:.0f}' for s in quiet)} MB/s; under the gallery load "
                  f"{', '.join(f'{mb / s:.0f}' for s in loaded)} MB/s; best under load / best quiet {ratio:.2f} "
                  "(limit >= 0.8)")
            ok = ok and ratio >= 0.8
        print("meets every limit" if ok else "DOES NOT meet every limit")
        return 0 if ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
