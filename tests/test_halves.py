"""map_in_halves: the second half in a forked child where safe, the same answer as one process always."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from hitrec.errors import CorruptRepoError
from hitrec.store.halves import MIN_ITEMS, map_in_halves

ITEMS = list(range(MIN_ITEMS + 11))


def _square_with_pid(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(i * i, os.getpid()) for i in items]


def test_the_second_half_runs_in_a_child_and_the_answer_is_one_process_s() -> None:
    out = map_in_halves(_square_with_pid, ITEMS)
    assert [v for v, _ in out] == [i * i for i in ITEMS]
    pids = {pid for _, pid in out}
    assert os.getpid() in pids and len(pids) == 2  # the child really did half


def test_few_items_or_a_live_thread_stay_in_one_process() -> None:
    assert {pid for _, pid in map_in_halves(_square_with_pid, ITEMS[:MIN_ITEMS - 1])} == {os.getpid()}
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert {pid for _, pid in map_in_halves(_square_with_pid, ITEMS)} == {os.getpid()}
    finally:
        stop.set()
        thread.join()


def test_a_corrupt_record_in_the_child_s_half_is_the_parent_s_error() -> None:
    def work(items: Sequence[int]) -> list[int]:
        for i in items:
            if i == ITEMS[-1]:
                raise CorruptRepoError(f"fragment {i}: broken")
        return list(items)

    with pytest.raises(CorruptRepoError, match=f"fragment {ITEMS[-1]}: broken"):
        map_in_halves(work, ITEMS)


def test_a_child_that_dies_or_fails_otherwise_leaves_the_half_to_the_parent() -> None:
    parent = os.getpid()

    def dies(items: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return [i + 1 for i in items]

    assert map_in_halves(dies, ITEMS) == [i + 1 for i in ITEMS]

    def fails(items: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            raise MemoryError
        return [i - 1 for i in items]

    assert map_in_halves(fails, ITEMS) == [i - 1 for i in ITEMS]

    def fails_for_real(items: Sequence[int]) -> list[int]:
        if ITEMS[-1] in items:
            raise ValueError("the last item is bad")
        return list(items)

    with pytest.raises(ValueError, match="the last item is bad"):  # the parent's own error, not a lost child
        map_in_halves(fails_for_real, ITEMS)


def test_a_parent_that_fails_leaves_no_child(tmp_path: Path) -> None:
    parent = os.getpid()
    marker = tmp_path / "child-pid"

    def work(items: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            marker.write_text(str(os.getpid()))
            threading.Event().wait(60)  # would outlive the parent's error if not killed
            return list(items)
        while not marker.exists():
            threading.Event().wait(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        map_in_halves(work, ITEMS)
    child = int(marker.read_text())
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)  # already reaped by map_in_halves
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
