"""Detection: same breakpoints as ruptures, planted shifts found, calibrated under the null."""
from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt

from tipdrift.costs import CostMultinomial
from tipdrift.detect import DriftDetector, MixModel, fit_series, pelt_search, penalty_for
from tipdrift.errors import ParameterError


def _series(rng: np.random.Generator, T: int, shares: list[np.ndarray], taus: list[int], n: float = 25, phi_conc: float | None = None) -> np.ndarray:
    bounds = [0] + taus + [T]
    p = np.vstack([np.repeat(sh[None], b - a, 0) for sh, a, b in zip(shares, bounds[:-1], bounds[1:])])
    if phi_conc:
        g = rng.gamma(phi_conc * p)
        p = g / g.sum(1, keepdims=True)
    return rng.multinomial(rng.poisson(n, T), p)


def test_search_equals_ruptures_pelt() -> None:
    rng = np.random.default_rng(0)
    for _ in range(25):
        T = int(rng.integers(30, 150))
        taus = sorted(rng.choice(np.arange(10, T - 10), size=int(rng.integers(0, 3)), replace=False).tolist())
        y = _series(rng, T, [rng.dirichlet([2] * 4) for _ in range(len(taus) + 1)], taus, n=15)
        for preset, phi in (("bic", 1.0), ("mbic", 1.4)):
            pen, lp = penalty_for(preset, 3, T)
            cost = CostMultinomial(phi=phi, length_penalty=lp)
            ours = pelt_search(cost.fit(y).matrix(6), pen, 6)
            theirs = rpt.Pelt(custom_cost=CostMultinomial(phi=phi, length_penalty=lp), jump=1, min_size=6).fit(y).predict(pen=pen)
            assert ours == theirs


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
        near = [s for s in fit.shifts if abs(s["index"] - tau) <= 3]
        hits += bool(near)
        if near:
            covered += near[0]["ci_index"][0] <= tau <= near[0]["ci_index"][1]
        assert fit.phi > 1.0
    assert hits >= 19
    assert covered >= 0.85 * hits


def test_no_change_with_overdispersion_rarely_alarms() -> None:
    # Dirichlet-multinomial mixes with phi ~ 2.8 (clustered cases): ignoring phi creates false shifts.
    rng = np.random.default_rng(5)
    alarms = naive_alarms = 0
    reps = 30
    for rep in range(reps):
        y = _series(rng, 144, [rng.dirichlet([3, 3, 2, 1])], [], n=40, phi_conc=20)
        fit = fit_series(y, "mix", seed=rep, key=f"n{rep}")
        alarms += bool(fit.shifts)
        naive = fit_series(y, "mix", seed=rep, key=f"n{rep}", overdispersion=False)
        naive_alarms += bool(naive.shifts)
    assert alarms / reps <= 0.1
    assert naive_alarms >= alarms + 5  # the trap the overdispersion estimate avoids


def test_bootstrap_pvalue_is_uniformish_under_null() -> None:
    # p-values of the scan test on no-change segments: about 5% fall at or below 0.05.
    from tipdrift.detect import segment_test

    rng = np.random.default_rng(9)
    ps = []
    for rep in range(120):
        y = _series(rng, 60, [np.array([0.4, 0.3, 0.2, 0.1])], [], n=20).astype(float)
        _, p, _ = segment_test(MixModel(y), y, 1.0, 6, 99, np.random.default_rng(rep))
        ps.append(p)
    assert 0.0 <= np.mean(np.array(ps) <= 0.05) <= 0.12
    assert 0.35 <= np.mean(ps) <= 0.65


def test_detector_is_deterministic_and_lists_sparse_units(tmp_path) -> None:
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
    assert a.shifts_ == b.shifts_
    assert a.series_.filter(pl.col("unit") == "C")["status"].item() == "too_sparse"
    mix = [x for x in a.shifts_ if x["kind"] == "mix"]
    assert [x["unit"] for x in mix] == ["A"]
    assert abs(mix[0]["index"] - 40) <= 2
    assert mix[0]["p_adjusted"] >= mix[0]["p_value"]
    assert mix[0]["effect"]["moved"][0]["category"] in ("forced_labour", "other")
    assert mix[0]["effect"]["tvd"] == pytest.approx(0.4, abs=0.08)


def test_detector_rejects_bad_parameters() -> None:
    with pytest.raises(ParameterError):
        DriftDetector(min_size=1)
    with pytest.raises(ParameterError):
        DriftDetector(alpha=1.5)
    with pytest.raises(ParameterError):
        DriftDetector(penalty="aic")


def test_floor_p_values_are_refined_when_they_block_significance() -> None:
    # With 199 replicates the smallest p-value is 0.005: at alpha 0.002 a clear shift could
    # never be reported. More replicates, drawn only for such a shift, resolve it.
    rng = np.random.default_rng(4)
    y = _series(rng, 120, [np.array([0.6, 0.2, 0.1, 0.1]), np.array([0.2, 0.5, 0.2, 0.1])], [60], n=30)
    refined = fit_series(y, "mix", alpha=0.002, n_boot=199, max_boot=1999, key="r")
    assert [abs(s["index"] - 60) <= 2 for s in refined.shifts] == [True]
    assert refined.shifts[0]["replicates"] == 1999
    assert refined.shifts[0]["p_value"] <= 0.002
    floor_only = fit_series(y, "mix", alpha=0.002, n_boot=199, max_boot=199, key="r")
    assert floor_only.shifts == []
    with pytest.raises(ParameterError):
        DriftDetector(n_boot=199, max_boot=99)
