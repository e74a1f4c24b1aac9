"""Detection: same breakpoints as ruptures, planted shifts found, calibrated under the null."""
from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt

from tipdrift.costs import CostMultinomial
from tipdrift.detect import DriftDetector, fit_series
from tipdrift.models import MixModel, Noise
from tipdrift.search import optimal_partition, penalty_for
from tipdrift.errors import ParameterError


def _series(rng: np.random.Generator, T: int, shares: list[np.ndarray], taus: list[int], n: float = 25, phi_conc: float | None = None) -> np.ndarray:
    bounds = [0] + taus + [T]
    p = np.vstack([np.repeat(sh[None], b - a, 0) for sh, a, b in zip(shares, bounds[:-1], bounds[1:])])
    if phi_conc:
        g = rng.gamma(phi_conc * p)
        p = g / g.sum(1, keepdims=True)
    return rng.multinomial(rng.poisson(n, T), p)


def _objective(matrix: np.ndarray, bkps: list[int], pen: float) -> float:
    bounds = [0] + bkps
    return float(sum(matrix[s, e] for s, e in zip(bounds[:-1], bounds[1:])) + pen * (len(bkps) - 1))


def test_search_finds_the_optimum_and_never_does_worse_than_ruptures() -> None:
    """On short series the search's segmentation has the lowest penalised cost of all
    segmentations with segments of at least min_size (exhaustive enumeration); on longer
    ones its cost is never above ruptures.Pelt's with the same cost and penalty, and equal
    breakpoints are the rule. Catches a search that uses segments shorter than min_size,
    misses the optimum, or breaks ties differently from ruptures (then the breakpoints of
    equal-cost answers would differ)."""
    import itertools

    from tipdrift.search import optimal_partition

    rng = np.random.default_rng(1)
    for _ in range(60):
        T, m = int(rng.integers(8, 17)), int(rng.integers(2, 5))
        y = np.array([rng.multinomial(int(k), rng.dirichlet([1, 1, 1])) for k in rng.poisson(8, T)], float)
        M = CostMultinomial(phi=1.0, length_penalty=0.5).fit(y).matrix(1)
        pen = float(rng.uniform(0.5, 6))
        best = min(_objective(M, [*cps, T], pen) for k in range(T // m) for cps in itertools.combinations(range(m, T - m + 1), k)
                   if all(e - s >= m for s, e in zip([0, *cps], [*cps, T])))
        assert _objective(M, optimal_partition(M, pen, m), pen) == pytest.approx(best, abs=1e-9)
    same = 0
    for _ in range(25):
        T = int(rng.integers(30, 150))
        taus = sorted(rng.choice(np.arange(10, T - 10), size=int(rng.integers(0, 3)), replace=False).tolist())
        y = _series(rng, T, [rng.dirichlet([2] * 4) for _ in range(len(taus) + 1)], taus, n=15)
        for preset, phi in (("bic", 1.0), ("mbic", 1.4)):
            pen, lp = penalty_for(preset, 3, T)
            M = CostMultinomial(phi=phi, length_penalty=lp).fit(y).matrix(6)
            ours = optimal_partition(M, pen, 6)
            theirs = rpt.Pelt(custom_cost=CostMultinomial(phi=phi, length_penalty=lp), jump=1, min_size=6).fit(y).predict(pen=pen)
            assert _objective(M, ours, pen) <= _objective(M, theirs, pen) + 1e-9
            same += ours == theirs
    assert same >= 45


def test_penalties() -> None:
    assert penalty_for("bic", 3, 100) == pytest.approx((2.0 * np.log(100), 0.0))
    assert penalty_for("mbic", 3, 100) == pytest.approx((2.5 * np.log(100), 0.5))
    assert penalty_for(12.5, 3, 100) == (12.5, 0.0)
    assert penalty_for("12.5", 3, 100) == (12.5, 0.0)
    with pytest.raises(ParameterError):
        penalty_for("aic", 3, 100)


def test_planted_shift_found_within_margin_with_interval() -> None:
    rng = np.random.default_rng(3)
    hits = covered = 0
    for rep in range(20):
        p0 = np.array([0.5, 0.3, 0.1, 0.1])
        p1 = np.array([0.3, 0.3, 0.3, 0.1])  # TVD 0.2
        tau = int(rng.integers(30, 90))
        y = _series(rng, 120, [p0, p1], [tau], n=25, phi_conc=80)
        fit = fit_series(y, "mix", seed=rep, key=f"u{rep}")
        near = [s for s in fit.shifts if abs(s.index - tau) <= 3]
        hits += bool(near)
        if near:
            covered += near[0].ci_index[0] <= tau <= near[0].ci_index[1]
        assert fit.phi > 1.0
    assert hits >= 19
    assert covered >= 0.85 * hits


def test_no_change_with_overdispersion_rarely_alarms() -> None:
    """Dirichlet-multinomial mixes with phi ~ 2.8 (clustered cases), one series at a time
    (the family is the series' own candidates, so this is the raw 5% level): the scan test
    with phi alarms on at most about 1 series in 5 (measured: 10% of 100 series at alpha
    0.05, 1% at 0.01: the phi estimate's own noise is not propagated), while ignoring phi
    alarms on many more. Catches a cost or bootstrap that drops phi."""
    rng = np.random.default_rng(5)
    alarms = naive_alarms = 0
    reps = 30
    for rep in range(reps):
        y = _series(rng, 144, [rng.dirichlet([3, 3, 2, 1])], [], n=40, phi_conc=20)
        fit = fit_series(y, "mix", seed=rep, key=f"n{rep}")
        alarms += bool(fit.shifts)
        naive = fit_series(y, "mix", seed=rep, key=f"n{rep}", overdispersion=False)
        naive_alarms += bool(naive.shifts)
    assert alarms / reps <= 0.2
    assert naive_alarms >= alarms + 8  # the trap the overdispersion estimate avoids


def test_bootstrap_pvalue_is_uniformish_under_null() -> None:
    """p-values of the scan test on no-change segments are roughly uniform: about 5% at or
    below 0.05, mean about 0.5. Catches a test whose null ignores the search (the chi-square
    at the estimated date rejects about half the time: the first bound fails) and one that
    never rejects (the second bound fails)."""
    from tipdrift.inference import segment_test

    rng = np.random.default_rng(9)
    ps = []
    for rep in range(120):
        y = _series(rng, 60, [np.array([0.4, 0.3, 0.2, 0.1])], [], n=20).astype(float)
        ps.append(segment_test(MixModel(y), y, Noise(), 6, 99, np.random.default_rng(rep)).p_value)
    assert 0.01 <= np.mean(np.array(ps) <= 0.05) <= 0.12
    assert 0.35 <= np.mean(ps) <= 0.65


def test_location_interval_covers_the_true_date_without_the_clamp() -> None:
    """The raw bootstrap interval (before the detector widens it to hold its own point
    estimate) holds the true change date in about 95% of series. Catches an interval from
    too few or wrongly centred refits, which the clamp in the detector would hide."""
    from tipdrift.inference import location_interval

    rng = np.random.default_rng(12)
    covered = reps = 0
    for rep in range(60):
        tau = int(rng.integers(20, 60))
        y = _series(rng, 80, [np.array([0.5, 0.3, 0.2]), np.array([0.35, 0.35, 0.3])], [tau], n=30).astype(float)
        model = MixModel(y)
        _, tau_hat = model.scan(y[None], 6, 1.0)
        loc = location_interval(model, y, int(tau_hat[0]), Noise(), 6, 199, np.random.default_rng(rep))
        covered += loc.lo <= tau <= loc.hi
        reps += 1
    assert 0.85 <= covered / reps <= 1.0


def test_bh_adjust_matches_statsmodels_and_counts_the_whole_family() -> None:
    """`bh_adjust` equals statsmodels' fdr_bh, and with a family larger than the p-values
    given (eliminated candidates) it equals fdr_bh with those counted as p = 1. Catches BH
    over only the survivors, which is how the adjustment once became a no-op."""
    from statsmodels.stats.multitest import multipletests

    from tipdrift.inference import bh_adjust

    p = np.array([0.001, 0.04, 0.03, 0.2, 0.005])
    assert bh_adjust(p) == pytest.approx(multipletests(p, method="fdr_bh")[1])
    full = multipletests(np.concatenate([p, np.ones(5)]), method="fdr_bh")[1][:5]
    assert bh_adjust(p, m=10) == pytest.approx(full)
    assert (bh_adjust(p, m=10) > bh_adjust(p)).any()


def _panel(rng: np.random.Generator, n_null: int, n_shift: int, T: int = 96) -> dict[str, np.ndarray]:
    base = np.array([0.45, 0.3, 0.15, 0.1])
    out = {f"N{i:03d}": _series(rng, T, [base], [], n=20) for i in range(n_null)}
    for i in range(n_shift):
        out[f"S{i:03d}"] = _series(rng, T, [base, np.array([0.25, 0.3, 0.35, 0.1])], [T // 2], n=20)
    return out


def _fit_panel(ys: dict[str, np.ndarray], **settings) -> "DriftDetector":
    import datetime as dt

    import polars as pl

    from tipdrift.series import build_series

    cats = ["forced_labour", "other", "sexual_exploitation", "forced_marriage"]
    rows = []
    for unit, y in ys.items():
        for t, counts in enumerate(y):
            for k, c in enumerate(counts):
                if c:
                    rows.append((unit, dt.date(2010 + t // 12, t % 12 + 1, 1), cats[k], int(c)))
    df = pl.DataFrame(rows, schema=["org_id", "opened_date", "case_type", "n"], orient="row")
    df = df.select(pl.all().repeat_by("n").explode()).drop("n")
    return DriftDetector(volume=False, **settings).fit(build_series(df))


@pytest.mark.slow
def test_false_discovery_control_acts_across_units() -> None:
    """300 no-change units and 30 with a clear step, searched with a permissive penalty
    (bic): the false discovery proportion stays at or below alpha on average over seeds,
    and the family is every candidate proposed (more than the shifts kept). Catches BH
    applied only to shifts that already passed raw alpha (then the null units' raw p of
    0.005 survive) and a family that counts only the kept shifts."""
    fdps, kept_null, raw_null = [], 0, 0
    for seed in (1, 2, 3):
        det = _fit_panel(_panel(np.random.default_rng(seed), 300, 30), penalty="bic", seed=seed)
        false = [s for s in det.shifts_ if s.unit.startswith("N")]
        fdps.append(len(false) / max(1, len(det.shifts_)))
        kept_null += len(false)
        assert det.family_["mix"] > len(det.shifts_)
        assert sum(s.unit.startswith("S") for s in det.shifts_) >= 27
        raw = _fit_panel(_panel(np.random.default_rng(seed), 300, 0), penalty="bic", seed=seed, alpha=0.05)
        raw_null += len(raw.shifts_)
    assert np.mean(fdps) <= 0.05, fdps


def test_detector_is_deterministic_and_lists_sparse_units(tmp_path) -> None:
    """Same inputs, same shifts; the tiny unit is listed as too sparse; the planted step is
    found near its date with its effect. Catches unseeded bootstraps and a detector that
    silently drops units it cannot test."""
    import polars as pl

    from tipdrift.series import build_series

    rng = np.random.default_rng(2)
    rows = []
    for unit, tau in (("A", 40), ("B", None)):
        y = _series(rng, 96, [np.array([0.6, 0.2, 0.2]), np.array([0.2, 0.6, 0.2])] if tau else [np.array([0.5, 0.3, 0.2])],
                    [tau] if tau else [], n=30)
        for t, counts in enumerate(y):
            for k, c in enumerate(counts):
                rows += [(unit, f"{2015 + t // 12}-{t % 12 + 1:02d}-15", ["forced_labour", "other", "sexual_exploitation"][k])] * int(c)
    rows += [("C", "2022-01-05", "other")]
    df = pl.DataFrame(rows, schema=["org_id", "opened_date", "case_type"], orient="row").with_columns(pl.col("opened_date").str.to_date())
    s = build_series(df)
    a = DriftDetector(seed=1).fit(s)
    b = DriftDetector(seed=1).fit(s)
    assert [x.to_json() for x in a.shifts_] == [x.to_json() for x in b.shifts_]
    assert a.series_.filter(pl.col("unit") == "C")["status"].item() == "too_short"  # one month of records
    mix = [x for x in a.shifts_ if x.kind == "mix"]
    assert [x.unit for x in mix] == ["A"]
    assert abs(mix[0].index - 40) <= 2
    assert mix[0].effect.moved[0].category in ("forced_labour", "other")
    assert mix[0].effect.tvd == pytest.approx(0.4, abs=0.08)


def test_detector_rejects_bad_parameters() -> None:
    """Bad settings stop at fit with one ParameterError (validation lives in DriftParams)."""
    import datetime as dt

    import polars as pl

    from tipdrift.series import build_series

    s = build_series(pl.DataFrame({"org_id": ["A"], "opened_date": [dt.date(2020, 1, 1)], "case_type": ["other"]}))
    for bad in ({"min_size": 1}, {"alpha": 1.5}, {"penalty": "aic"}, {"n_boot": 199, "max_boot": 99}):
        with pytest.raises(ParameterError):
            DriftDetector(**bad).fit(s)


def test_floor_p_values_are_refined_when_they_block_significance() -> None:
    """With 199 replicates the smallest p-value is 0.005: at alpha 0.002 a clear shift could
    never be reported. More replicates, drawn only for such a shift, resolve it. Catches a
    refinement that never runs (the shift is lost) or that reuses the same draws."""
    rng = np.random.default_rng(4)
    y = _series(rng, 120, [np.array([0.6, 0.2, 0.1, 0.1]), np.array([0.2, 0.5, 0.2, 0.1])], [60], n=30)
    refined = fit_series(y, "mix", alpha=0.002, n_boot=199, max_boot=1999, key="r")
    assert [abs(s.index - 60) <= 2 for s in refined.shifts] == [True]
    assert refined.shifts[0].replicates == 1999
    assert refined.shifts[0].p_value <= 0.002
    floor_only = fit_series(y, "mix", alpha=0.002, n_boot=199, max_boot=199, key="r")
    assert floor_only.shifts == []


def test_one_cost_matrix_serves_every_minimum_size() -> None:
    """The search for min_size 5, 6 and 7 on the matrix built for min_size 2 (what
    stability reuses) gives the same breakpoints as on the matrix built for each minimum.
    Catches sharing a matrix whose shorter segments the search would read (a different,
    shorter segmentation)."""
    rng = np.random.default_rng(4)
    for _ in range(8):
        T = int(rng.integers(40, 120))
        taus = sorted(rng.choice(np.arange(8, T - 8), size=2, replace=False).tolist())
        y = _series(rng, T, [rng.dirichlet([2] * 4) for _ in range(3)], taus, n=12)
        pen, lp = penalty_for("mbic", 3, T)
        cost = CostMultinomial(phi=1.2, length_penalty=lp).fit(y)
        shared = cost.matrix(2)
        for m in (5, 6, 7):
            for p in (pen * 0.3, pen):
                assert optimal_partition(shared, p, m) == optimal_partition(cost.matrix(m), p, m)


def test_run_floor_reaches_wandering_units_whose_phi_is_one() -> None:
    """A wandering unit (logit AR(1), rho 0.9, sd 0.1, 20 a month) whose phi estimate falls
    to 1 by chance still gets the run's dependence floor: its test studentises the
    statistic. Among the first 30 such units of a seeded draw (about 1 in 50), the test of
    "no change" over the whole series reaches p <= 0.01 in at most 2 and p <= 0.05 in at
    most 5 (measured 1 and 3). Catches the floor withheld at phi 1, an independent null
    and the raw ratio there (5 and 9)."""
    from tipdrift.detect import search_series
    from tipdrift.inference import segment_test
    from tipdrift.params import DriftParams
    from tipdrift.testing.scenarios import ar1_no_change

    params, rng, ps, drawn = DriftParams(seed=0), np.random.default_rng(11), [], 0
    while len(ps) < 30:
        y, _ = ar1_no_change(rng, T=96, n=20, rho=0.9, sd=0.1)
        drawn += 1
        w = search_series(f"w{drawn}", "mix", y, params)
        w.rho_floor = 0.9
        noise = w.segment_noise(0, w.T)
        if noise.phi <= 1.0:
            ps.append(segment_test(w.model, w.model.yk, noise, 6, 199, w.rng(0, w.T, "test")).p_value)
    p = np.array(ps)
    assert int((p <= 0.01).sum()) <= 2 and int((p <= 0.05).sum()) <= 5


def test_threads_over_series_change_no_result(monkeypatch) -> None:
    """The same candidates, shifts (date, interval, p and its replicates, adjusted p,
    effect, shape, stability) and dependence per series with 1 worker and with 3, for mix
    and volume, in a run of 30 (pooled dependence; some series with two steps, and few
    replicates, so p-values at the floor are refined) and a run of 5 (each series' own
    bound, computed in threads too). Catches a random stream or cache shared between
    series, a deferred refinement applied to the wrong series, and results gathered in
    completion order (one unit's shifts under another's name)."""
    import tipdrift.detect as detect

    refined = []
    original = detect.SeriesWork.refine
    monkeypatch.setattr(detect.SeriesWork, "refine", lambda w, j: (refined.append(w.key), original(w, j))[1])
    rng = np.random.default_rng(7)
    a, b, c = np.array([0.5, 0.3, 0.2]), np.array([0.25, 0.45, 0.3]), np.array([0.4, 0.2, 0.4])
    ys = [_series(rng, 96, [a, b, c] if i % 10 == 1 else [a], [20 + i, 60] if i % 10 == 1 else [], n=15 + 5 * i)
          for i in range(30)]
    keys = [f"u{i}" for i in range(30)]
    for kind in ("mix", "volume"):
        for chosen in (ys, ys[:5]):
            data = chosen if kind == "mix" else [y.sum(1) for y in chosen]
            fits = [detect.fit_run(data, kind, keys=keys[:len(chosen)], seed=2, workers=w, n_boot=99, max_boot=999)
                    for w in (1, 3)]
            one, three = ([(f.rho, f.candidates, [(s.index, s.ci_index, s.test.p_value, s.test.replicates, s.p_adjusted,
                                                   s.effect_ci, s.shape, s.stability) for s in f.shifts])
                           for f in fit] for fit in fits)
            assert one == three, (kind, len(chosen))
    assert len(refined) >= 2, refined  # refinements happened (in both fits): the deferred path ran
