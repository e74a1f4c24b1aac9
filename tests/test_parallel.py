"""Threads over series (tipdrift.parallel)."""
from __future__ import annotations

import threading
import time

import pytest

from tipdrift.parallel import pmap, worker_count


def test_pmap_keeps_order_and_stops_queued_work_on_an_error() -> None:
    """Results come back in the order of the items, whichever thread finishes first; an
    error in one call is raised and the calls still queued are not run. Catches results
    gathered in completion order (one series' shifts under another's name) and futures
    submitted and collected one by one, which run every queued series before the error
    reaches the user (a bad series would then wait for the whole run)."""
    assert pmap(lambda x: (time.sleep(0.02 * (5 - x)), x)[1], range(5), 3) == list(range(5))
    ran: list[int] = []
    lock = threading.Lock()

    def slow(x: int) -> int:
        if x == 0:
            raise ValueError("bad series")
        time.sleep(0.05)
        with lock:
            ran.append(x)
        return x

    with pytest.raises(ValueError, match="bad series"):
        pmap(slow, range(200), 2)
    assert len(ran) < 20, len(ran)


def test_worker_count() -> None:
    """0 means one thread per usable core (at least one); a given number is kept.
    Catches 0 passed through as zero threads."""
    assert worker_count(3) == 3 and worker_count(0) >= 1
