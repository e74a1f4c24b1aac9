"""Series-level parallelism for detection: one function over many series' work, in threads.

Each series' searches, tests, intervals and dependence bound draw from random streams
seeded by the series' own key (`detect.SeriesWork.seed_for`) and write only to that
series' caches; the caches shared between series (the x log x table, lru_caches of pure
functions) hold values that do not depend on which thread filled them. So the order in
which series are handled cannot change a result: any number of workers gives the same
shifts to the last bit. Threads, not processes: the
heavy parts (numpy's random draws and array passes) release the GIL, and threads need no
pickling of the series nor a fork of a process that holds polars' thread pool.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 8  # beyond this the array passes compete for memory bandwidth


def worker_count(workers: int) -> int:
    """Threads for `workers`: 0 means one per core this process may use (its CPU affinity,
    at most `MAX_WORKERS`)."""
    if workers > 0:
        return workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))


def pmap(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """[fn(x) for x in items], in up to `worker_count(workers)` threads, results in order;
    the first exception raised by `fn` is raised here, and `Executor.map` cancels the calls
    still queued (tests/test_parallel.py holds it to that)."""
    items = list(items)
    n = min(worker_count(workers), len(items))
    if n <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="tipdrift") as pool:
        return list(pool.map(fn, items))
