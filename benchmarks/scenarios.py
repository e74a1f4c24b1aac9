"""Drift-detection accuracy on scenario series unlike tipdrift's own generator.

    .venv/bin/python benchmarks/scenarios.py [--reps 40] [--seed 0] [--out results.json]
                                             [--units 300 30] [--null-sd 0.1] [--n 20]
                                             [--only NAME ...] [--run]

1. Each scenario of `tipdrift.testing.scenarios.SUITE` (`--reps` series each) through
   `fit_series` with default parameters (yearly: `min_size=3`, `freq="year"`): the
   false-alarm rate on no-change series (any kept shift; Wilson 95% interval), or pooled
   recall and precision (TCPDBench margin: 3 periods, 1 for yearly); coverage of the true
   date by the 95% interval of the matched detection (gradual: of the transition's
   midpoint), and by the interval of the detection nearest it whatever its distance
   (`nearest`: matching first keeps only well-dated detections, which inflates coverage);
   mean shifts per series; fit time. With `--run`, each scenario's series are
   fitted together as the units of one run (`fit_run`: one BH family, and the run's serial
   dependence pooled over them), as `tipdrift drift` fits the units of one table.
   For one-step scenarios, how often the detector dates the step within the margin (and
   within 10 periods) beside an oracle that knows both mixes, the exact noise law and the
   prior on the date: its maximum-likelihood date, and the date whose window holds the
   most posterior mass (the Bayes rule: no single date does better on average, so it
   bounds what a recall target can ask); and beside a like-for-like oracle that knows
   only phi: it estimates the mixes, takes every date the detector allows as equally
   likely, and reports the best window of its profile posterior when its scan test
   rejects at 5% against the exact null law.
2. Many units, one family: `--units` no-change units (independent, or with `--null-sd`
   an AR(1) wander) and step units (TVD 0.2, `--n` cases a month, T 96), one case per row
   from 2010-01 through `build_series` and
   `DriftDetector(penalty=--penalty, bic by default; volume=False)` (mix only: nothing is planted in
   volume): the false discovery proportion Benjamini-Hochberg is meant to hold at 5%.
   `--dependence` states the run's dependence here too.
3. With `--calibrate N`: the test of "no change" over each of N whole no-change series
   that wander (AR(1) rho 0.9, `--null-sd`, `--n` a month, T 96), at `--dependence`: how
   often p reaches 0.05, 0.01 and 0.002 (a calibrated test: that often).

`--out` writes every series' truth, detections and scores as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from tipdrift.testing.scenarios import SUITE, evaluate_scenario, many_units, oracle_location, score_units_shifts


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def table(rows: list[dict]) -> str:
    head = ("| scenario | series | false alarms [95% CI] | recall | precision | coverage (matched) "
            "| coverage (nearest) | shifts/series | runtime s |")
    out = [head, "|" + "---|" * 9]
    for r in rows:
        s = r["summary"]
        fa = "-"
        if "false_alarm_rate" in s:
            lo, hi = s["false_alarm_ci"]
            fa = f"{s['false_alarm_rate']:.2f} [{lo:.2f}, {hi:.2f}]"
        cov = f"{_f(s.get('coverage'))} ({s['coverage_matched']})" if "coverage_matched" in s else "-"
        near = f"{_f(s['coverage_nearest'], 3)} ({s['coverage_nearest_dates']})" if "coverage_nearest" in s else "-"
        out.append(f"| {r['scenario']} | {s['series']} | {fa} | {_f(s.get('recall'))} | {_f(s.get('precision'))} "
                   f"| {cov} | {near} | {_f(s['shifts_per_series'])} | {r['runtime_s']:.1f} |")
    return "\n".join(out)


def extras(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        s = r["summary"]
        bits = [f"mean phi {_f(s.get('mean_phi'))}", f"mean dependence in force {_f(s.get('mean_rho'))}"]
        for k, label in (("mean_abs_index_error", "|index error|"), ("median_ci_width", "median CI width"),
                         ("median_ci_width_nearest", "median CI width (nearest)"),
                         ("tvd_bias_matched", "TVD bias"), ("recall_window", "recall in [t1-m, t2+m]")):
            if k in s:
                bits.append(f"{label} {_f(s[k])}")
        if "shapes" in s:
            bits.append(f"shapes {s['shapes']}")
        lines.append(f"  {r['scenario']}: " + ", ".join(bits))
    return "\n".join(lines)


def oracle_lines(rows: list[dict], reps: int, seed: int) -> str:
    """For each one-step scenario, the share of its true dates the detector matched within
    the margin and within 10 periods (its nearest detection: a series may have several),
    beside an oracle's single date on the same series (`oracle_location`): at its maximum
    likelihood, and the Bayes rule for the margin (no single date does better on average),
    then the like-for-like oracle's (mixes estimated, tested at 5%)."""
    by_name = {sc.name: sc for sc in SUITE}
    lines = ["\nlocation: the detector's nearest date against an oracle's single date "
             "(both mixes, the noise law and the prior known): maximum likelihood / best window; "
             "then an oracle that estimates the mixes and tests at 5% (tested)"]
    for r in rows:
        sc = by_name[r["scenario"]]
        if sc.generator != "independent_step":
            continue
        o = oracle_location(sc, reps, seed)
        near = [min((abs(f["index"] - rec["truth"]["taus"][0]) for f in rec["found"]), default=10 ** 6)
                for rec in r["records"]]
        lines.append(f"  {sc.name}: within {sc.margin}: detector {np.mean([d <= sc.margin for d in near]):.2f}, "
                     f"oracle {o['ml_within_margin']:.2f} / {o['best_within_margin']:.2f}, tested "
                     f"{o['tested_within_margin']:.2f}; within 10: detector {np.mean([d <= 10 for d in near]):.2f}, "
                     f"oracle {o['ml_within_10']:.2f} / {o['best_within_10']:.2f}, tested {o['tested_within_10']:.2f}")
    return "\n".join(lines)


def bh_check(n_null: int, n_step: int, seed: int, null_sd: float = 0.0, n: float = 20, penalty: str = "bic",
             dependence_rho: float | None = None) -> dict:
    from tipdrift.detect import DriftDetector
    from tipdrift.series import build_series

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB4]))
    t0 = time.perf_counter()
    df, truth = many_units(rng, n_null=n_null, n_step=n_step, T=96, n=n, tvd=0.2, start="2010-01-01",
                           null_sd=null_sd)
    series = build_series(df, unit="unit", date="date", category="category", freq="month")
    t1 = time.perf_counter()
    det = DriftDetector(penalty=penalty, volume=False, seed=seed, dependence_rho=dependence_rho).fit(series)
    t2 = time.perf_counter()
    res = score_units_shifts(det.shifts_, truth, "2010-01-01", margin=3)
    res.update({"units": len(truth), "rows": df.height, "family": dict(det.family_), "build_s": t1 - t0,
                "dependence": det.dependence_["mix"].to_json(),
                "detect_s": t2 - t1,
                "analysed": sum(s.status == "analysed" for s in det.statuses_)})
    return res


CALIBRATION_LEVELS = (0.05, 0.01, 0.002)


def null_calibration(n_series: int, seed: int, sd: float, n: float, rho: float | None) -> dict[float, float]:
    """How often the test of "no change" over a whole series (the first test of every
    elimination) reaches each of CALIBRATION_LEVELS on no-change series whose logit shares
    wander (AR(1), rho 0.9): a calibrated test reaches each level that often. `rho` states
    the dependence (the run's floor), None leaves each series its own estimate. p-values
    at the sequential test's floor are refined to 4999 replicates."""
    from tipdrift.detect import search_series
    from tipdrift.inference import refine_p, segment_test
    from tipdrift.params import DriftParams
    from tipdrift.testing.scenarios import ar1_no_change

    params = DriftParams(seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xCA1]))
    ps = []
    for i in range(n_series):
        y, _ = ar1_no_change(rng, T=96, n=n, rho=0.9, sd=sd)
        w = search_series(f"cal-{i}", "mix", y, params)
        w.rho_floor = rho or 0.0
        noise, T, m = w.segment_noise(0, w.T), w.T, params.segment
        t = segment_test(w.model, w.model.yk, noise, m, params.n_boot, w.rng(0, T, "test"))
        if t.at_floor:
            t = refine_p(w.model, w.model.yk, t, noise, m, 4999, w.rng(0, T, "refine"))
        ps.append(t.p_value)
    return {lv: float(np.mean(np.array(ps) <= lv)) for lv in CALIBRATION_LEVELS}


def _clean(o: object) -> object:
    """JSON-safe: NaN and infinities to null, tuples and numpy values to plain lists and numbers."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o if isinstance(o, (str, int, float, bool)) or o is None else str(o)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=40, help="series per scenario")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write every record as JSON")
    ap.add_argument("--units", type=int, nargs=2, default=(300, 30), metavar=("NULL", "STEP"),
                    help="units of the many-unit BH check (0 0 skips it)")
    ap.add_argument("--only", nargs="*", default=None, help="scenario names to run")
    ap.add_argument("--null-sd", type=float, default=0.0,
                    help="many-unit check: no-change units wander as an AR(1) (rho 0.9) with this innovation sd")
    ap.add_argument("--n", type=float, default=20, help="many-unit check: cases a month")
    ap.add_argument("--penalty", default="bic", help="many-unit check: the search's penalty (bic: permissive)")
    ap.add_argument("--dependence", type=float, default=None, metavar="RHO",
                    help="state the serial dependence for every fit (0: each series' own estimate only)")
    ap.add_argument("--calibrate", type=int, default=0, metavar="N",
                    help="the whole-series test's p-values on N no-change series (AR(1) rho 0.9, --null-sd, --n, "
                         "T 96) at --dependence (default: each series' own estimate)")
    ap.add_argument("--run", action="store_true",
                    help="fit each scenario's series as the units of one run (pooled dependence, one BH family)")
    a = ap.parse_args(argv)
    start = time.perf_counter()
    rows = []
    for sc in SUITE:
        if a.only and sc.name not in a.only:
            continue
        extra = {} if a.dependence is None else {"dependence_rho": a.dependence}
        rows.append(evaluate_scenario(sc, a.reps, a.seed, run=a.run, **extra))
        print(f"  {sc.name}: {rows[-1]['runtime_s']:.1f} s", file=sys.stderr, flush=True)
    print(table(rows))
    print(extras(rows))
    print(oracle_lines(rows, a.reps, a.seed))
    bh = None
    if sum(a.units):
        bh = bh_check(a.units[0], a.units[1], a.seed, a.null_sd, a.n, a.penalty, a.dependence)
        null = f"AR(1) rho 0.9 sd {a.null_sd}" if a.null_sd else "independent"
        print(f"\nmany units ({a.units[0]} no-change ({null}) + {a.units[1]} steps TVD 0.2, n {a.n:g}, T 96; "
              f"DriftDetector(penalty='{a.penalty}', dependence_rho={a.dependence}), mix): "
              f"{bh['discoveries']} shifts, {bh['false_discoveries']} false "
              f"({bh['false_in_no_change_units']} in no-change units), "
              f"FDP {bh['fdp']:.3f}; power {bh['power']:.2f}; no-change units with a shift "
              f"{bh['null_units_with_shift']}/{bh['null_units']}; coverage {_f(bh['coverage'])}; "
              f"family {bh['family']}; dependence {bh['dependence']}; {bh['rows']:,} rows, build {bh['build_s']:.1f} s, detect {bh['detect_s']:.1f} s")
    if a.calibrate:
        c = null_calibration(a.calibrate, a.seed, a.null_sd, a.n, a.dependence)
        print(f"\nwhole-series test on {a.calibrate} no-change series (AR(1) rho 0.9 sd {a.null_sd}, n {a.n:g}, T 96; "
              f"dependence {a.dependence if a.dependence is not None else 'own estimate'}): "
              + ", ".join(f"P(p <= {lv}) {c[lv]:.4f}" for lv in CALIBRATION_LEVELS))
    total = time.perf_counter() - start
    print(f"\ntotal {total:.1f} s (reps {a.reps}, seed {a.seed}, {'one run per scenario' if a.run else 'series alone'})")
    if a.out:
        doc = {"reps": a.reps, "seed": a.seed, "run": a.run, "total_s": total, "scenarios": rows, "many_units": bh}
        a.out.write_text(json.dumps(_clean(doc), indent=1, allow_nan=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
