"""Drift benchmark: 1,000 monthly series x 240 periods x 4 categories, end to end, and the
search step against plain ruptures.Pelt with the same cost and penalty.

    .venv/bin/python benchmarks/drift_bench.py [--series 1000] [--repeats 3] [--compare 100]

1. End to end: `DriftDetector(n_boot=199)` on all series (overdispersion, search,
   bootstrap significance with backward elimination, location intervals, BH across
   series; mix shifts only, as the target asks), `--repeats` times; median wall time.
2. Search step: for `--compare` series, tipdrift's `optimal_partition` on the cost matrix
   versus `ruptures.Pelt(custom_cost=CostMultinomial(phi, length_penalty), jump=1,
   min_size=6)` with the same phi and mbic penalty; counts identical breakpoints and, where
   they differ, which segmentation has the lower penalised cost; prints the median time
   per series and the ratio.
3. Full inference per series (mix and volume, as the CLI runs it) against ruptures' bare
   search on the same series: once as one series of a run (the run's pooled dependence is
   in step 1), and once as a run of its own, whose own dependence bound comes first. Steps
   2 and 3 take turns series by series, so both sides see the machine in the same state.
   Steps 2 and 3 run in one thread; step 1 runs with one thread and with the default (one
   per core, `tipdrift.parallel`), and the compared series are also fitted as one run with
   the CLI's defaults (wall time per series: a throughput, on every core, against ruptures'
   single-threaded search).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

import numpy as np
import polars as pl
import ruptures as rpt

from tipdrift.costs import CostMultinomial
from tipdrift.detect import DriftDetector
from tipdrift.models import MixModel
from tipdrift.parallel import worker_count
from tipdrift.search import optimal_partition, penalty_for
from tipdrift.series import CountSeries

CATS = ["forced_labour", "sexual_exploitation", "labour_and_sexual", "other"]


def make_series(n_series: int, T: int, seed: int) -> tuple[CountSeries, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    mats: dict[str, np.ndarray] = {}
    for i in range(n_series):
        k = int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))
        taus = sorted(rng.choice(np.arange(24, T - 24), size=k, replace=False).tolist()) if k else []
        bounds = [0] + taus + [T]
        p = np.vstack([np.repeat(rng.dirichlet([3, 3, 1.5, 1.5])[None], b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])])
        g = rng.gamma(80 * p)
        n = rng.poisson(rng.uniform(10, 60), T)
        mats[f"U{i:04d}"] = rng.multinomial(n, g / g.sum(1, keepdims=True))
    periods = [dt.date(2005 + t // 12, t % 12 + 1, 1) for t in range(T)]
    units = np.repeat(np.array(list(mats)), T * len(CATS))
    per = np.tile(np.repeat(np.array(periods, dtype="datetime64[D]"), len(CATS)), n_series)
    cat = np.tile(np.array(CATS), n_series * T)
    counts = np.concatenate([m.reshape(-1) for m in mats.values()])
    long = pl.DataFrame({"unit": units, "period": per, "category": cat, "count": counts.astype(np.int64)})
    series = CountSeries(long=long, categories=CATS, freq="month", first_period=periods[0], last_period=periods[-1],
                         censored_from=None)
    return series, mats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--periods", type=int, default=240)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compare", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    series, mats = make_series(args.series, args.periods, args.seed)
    print(f"{args.series} series x {args.periods} periods x {len(CATS)} categories; {os.cpu_count()} cores")

    for workers in (1, 0):  # one thread, then the default: one per core (tipdrift.parallel)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            det = DriftDetector(n_boot=199, volume=False, workers=workers).fit(series)  # mix only, as the 60 s target asks
            times.append(time.perf_counter() - t)
        print(f"end to end (n_boot=199, intervals, BH), {worker_count(workers)} thread(s): median "
              f"{statistics.median(times):.1f} s over {args.repeats} runs ({', '.join(f'{x:.1f}' for x in times)}); "
              f"{len(det.shifts_)} shifts, {det.family_['mix']} tested candidates (the BH family)")

    mt = compare(mats, args.compare)
    subset = CountSeries(long=series.long.filter(pl.col("unit").is_in(list(mats)[: args.compare])),
                         categories=CATS, freq="month", first_period=series.first_period,
                         last_period=series.last_period, censored_from=None)
    t = time.perf_counter()
    DriftDetector().fit(subset)  # the CLI's defaults: mix and volume, one thread per core
    per = (time.perf_counter() - t) / args.compare
    print(f"the same {args.compare} series as one run with the CLI's defaults ({worker_count(0)} threads): "
          f"{per * 1e3:.1f} ms a series (wall time / series), ratio {mt / per:.2f}x")


def compare(mats: dict[str, np.ndarray], n: int) -> float:
    """Per series, in turn (so a machine that speeds up or slows down during the run moves
    both sides alike): tipdrift's search, ruptures' search with the same cost and penalty,
    and tipdrift's full inference as the CLI runs it by default (mix and volume: search,
    dependence-aware tests, intervals, shape, stability), once as one series of a run (the
    run's pooled dependence is in step 1) and once as a run of its own, whose own
    dependence bound comes first."""
    from tipdrift.detect import eliminate, fit_works, search_series
    from tipdrift.params import DriftParams

    params = DriftParams()
    ours, theirs, full, alone = [], [], [], []
    same = lower = higher = 0
    for unit in list(mats)[:n]:
        y = mats[unit].astype(float)
        model = MixModel(y)
        pen, lp = penalty_for("mbic", model.n_params, len(y))
        phi = 1.3
        t = time.perf_counter()
        matrix = CostMultinomial(phi=phi, length_penalty=lp).fit(model.yk).matrix(6)
        a = optimal_partition(matrix, pen, 6)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = rpt.Pelt(custom_cost=CostMultinomial(phi=phi, length_penalty=lp), jump=1, min_size=6).fit(model.yk).predict(pen=pen)
        theirs.append(time.perf_counter() - t)
        same += a == b
        if a != b:
            cost_a, cost_b = (sum(matrix[s, e] for s, e in zip([0] + x[:-1], x)) + pen * (len(x) - 1) for x in (a, b))
            lower += cost_a < cost_b - 1e-9
            higher += cost_a > cost_b + 1e-9
        t = time.perf_counter()
        for kind in ("mix", "volume"):
            eliminate([search_series(unit, kind, mats[unit], params)], params)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        for kind in ("mix", "volume"):  # a run of one: its own dependence bound (dependence.lone_floor) first
            fit_works([search_series(unit, kind, mats[unit], params)], params)
        alone.append(time.perf_counter() - t)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    mf, ma = statistics.median(full), statistics.median(alone)
    print(f"search step on {n} series: identical breakpoints {same}/{n} (where they differ, "
          f"tipdrift's penalised cost is lower in {lower} and higher in {higher}); median per series "
          f"tipdrift {mo * 1e3:.2f} ms, ruptures.Pelt {mt * 1e3:.1f} ms, ratio {mt / mo:.1f}x")
    print(f"full inference per series (mix and volume) on {n} series: median {mf * 1e3:.1f} ms; "
          f"ruptures.Pelt search alone {mt * 1e3:.1f} ms: ratio {mt / mf:.2f}x")
    print(f"the same, each series a run of its own (its dependence bound included): median {ma * 1e3:.1f} ms, "
          f"ratio {mt / ma:.2f}x")
    return mt


if __name__ == "__main__":
    main()
