"""Git and LFS traffic first (hitrec.hub.priority): gallery requests metered while transfers run.

The end-to-end figure (a 1 GiB push under 16-client page load) is bench/gallery_push_under_load.py; here
the meter itself, on a real event loop, and a real hub answering both kinds of request at once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
from hub_process import HubProcess

from hitrec.hub.priority import LINGER, MIN_GAP, SHARE, Priority


async def _pages(priority: Priority, clients: int, seconds: float, cost: float) -> int:
    """``clients`` tasks asking for pages that each take ``cost`` seconds, for ``seconds``; how many."""
    done = 0
    end = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < end:
            async with priority.gallery():
                await asyncio.sleep(cost)
            done += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


def test_pages_are_unmetered_without_transfers() -> None:
    priority = Priority()
    done = asyncio.run(_pages(priority, clients=16, seconds=0.5, cost=0.005))
    assert done > 16 * 0.5 / 0.005 * 0.5  # about one per cost per client
    assert priority.metered == 0


def test_pages_take_a_bounded_share_while_a_transfer_runs() -> None:
    priority = Priority()
    cost, seconds = 0.005, 1.0

    async def main() -> tuple[int, float]:
        started = time.monotonic()
        with priority.transfer():
            done = await _pages(priority, clients=16, seconds=seconds, cost=cost)
        return done, time.monotonic() - started  # the clients waiting at the end are let in too

    done, took = asyncio.run(main())
    share = done * cost / took  # the time the pages took, as a share of the wall time
    assert share < SHARE * 1.6, f"{done} pages in {took:.2f} s: {share:.2f} of the time"
    assert done > 10 and priority.metered > 0
    assert done <= took / MIN_GAP + 1
    assert priority.transfers == 0  # counted out again


def test_a_transfer_ending_lets_pages_through_soon_after() -> None:
    priority = Priority()

    async def main() -> float:
        with priority.transfer():
            await _pages(priority, clients=4, seconds=0.2, cost=0.02)  # the estimate says pages are costly
        assert priority.busy()  # the gap between two requests of one push is still metered
        await asyncio.sleep(LINGER)
        assert not priority.busy()
        started = time.monotonic()
        await _pages(priority, clients=4, seconds=0.0, cost=0.0)
        async with priority.gallery():
            pass
        return time.monotonic() - started

    assert asyncio.run(main()) < 0.05


def test_a_real_hub_answers_pages_and_uploads_together(tmp_path: Path) -> None:
    """A slow LFS upload and gallery requests at once: both answered; the upload is not held up."""
    with HubProcess(tmp_path / "hub", public_read=True) as hub:
        token = hub.add_user("ada", "ada@example.org")
        hub.create("film", author_check=False)
        data = b"x" * (8 << 20)
        import hashlib

        oid = hashlib.sha256(data).hexdigest()
        url = hub.collaboration_url("film")
        auth = {"Authorization": f"Bearer {token}"}
        answers: list[int] = []
        stop = threading.Event()

        def pages() -> None:
            with httpx.Client(timeout=30) as http:
                while not stop.is_set():
                    answers.append(http.get(hub.url + "/-/health").status_code)

        threads = [threading.Thread(target=pages) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            def body():  # type: ignore[no-untyped-def]
                for i in range(0, len(data), 1 << 20):
                    time.sleep(0.05)
                    yield data[i:i + (1 << 20)]

            with httpx.Client(headers=auth, timeout=60) as http:
                batch = http.post(url + "/info/lfs/objects/batch", headers={"Accept": "application/vnd.git-lfs+json"},
                                  json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]})
                assert batch.status_code == 200
                started = time.monotonic()
                put = http.put(f"{url}/info/lfs/objects/{oid}", content=body(),
                               headers={"Content-Length": str(len(data))})
                took = time.monotonic() - started
            assert put.status_code == 200, put.text
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert took < 5  # 8 chunks 50 ms apart: the pages did not hold it up
        assert answers and set(answers) == {200}
