"""Inference on series unlike the generator's: serial dependence, gradual change, categories
that appear, yearly data, effect intervals and stability (issue 10; methods.md 11-14).
Series come from tipdrift.testing.scenarios, an independent generator."""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from tipdrift.detect import DriftDetector, fit_series
from tipdrift.models import MixModel, Noise
from tipdrift.series import build_series
from tipdrift.testing import scenarios as sc


def _draw(name: str, rep: int, seed: int = 0):
    scen = next(s for s in sc.SUITE if s.name == name)
    return scen.draw(sc.series_rng(seed, name, rep))


@pytest.mark.slow
def test_month_to_month_dependence_does_not_become_steps() -> None:
    """Logit shares wandering as AR(1) (rho 0.9, innovation sd 0.1, 30 cases a month), no
    change: fewer series get a mix shift than when dependence is ignored (measured 17% of
    100 at seed 0 in benchmarks/scenarios.py, 88% with an independent null; issue 10's
    target of 10% is not met, so this asserts the gain, not the target). Catches a null
    that simulates independent periods, and a dependence estimate that is always 0."""
    alarms = naive = 0
    for rep in range(30):
        y, _ = _draw("ar1_no_change", rep)
        alarms += bool(fit_series(y, "mix", seed=rep, key=f"a{rep}").shifts)
        naive += bool(fit_series(y, "mix", seed=rep, key=f"a{rep}", dependence=False).shifts)
    assert alarms <= 8, alarms
    assert naive >= alarms + 12, (naive, alarms)


def test_dependence_is_estimated_and_zero_on_independent_series() -> None:
    """The latent AR(1) coefficient is high on AR(1) series and 0 on independent ones.
    Catches an estimator that reads overdispersion as dependence."""
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    ar = [search_series("k", "mix", _draw("ar1_no_change", r)[0], DriftParams()).noise.rho for r in range(10)]
    iid = [search_series("k", "mix", _draw("step_tvd0.15_dm", r)[0], DriftParams()).noise.rho for r in range(10)]
    assert np.median(ar) >= 0.6, ar
    assert sum(r > 0 for r in iid) <= 2, iid


def test_gradual_change_is_reported_as_gradual_with_its_transition() -> None:
    """A 24-month linear transition (TVD 0.3): most detections say `gradual` with a
    transition that overlaps the true one, and an interval that covers the transition;
    sharp steps (TVD 0.2) stay `step`. Catches a detector that calls everything a step
    (the context windows then key on a date that does not exist) or everything gradual."""
    gradual = overlap = 0
    for rep in range(12):
        y, truth = _draw("gradual_24", rep)
        fit = fit_series(y, "mix", seed=rep, key=f"g{rep}")
        t1, t2 = truth.transition
        for s in fit.shifts:
            if s.shape == "gradual":
                gradual += 1
                lo, hi = s.transition
                overlap += lo <= t2 and hi >= t1
                assert s.ci_index[0] <= lo and s.ci_index[1] >= hi
    assert gradual >= 6 and overlap >= gradual - 1, (gradual, overlap)
    steps = 0
    for rep in range(12):
        y, _ = sc.independent_step(np.random.default_rng(100 + rep), tvd=0.2)
        steps += all(s.shape == "step" for s in fit_series(y, "mix", seed=rep, key=f"s{rep}").shifts)
    assert steps >= 11


def test_appearing_category_interval_can_reach_before_its_first_case() -> None:
    """A category absent before the change: the location interval comes from posterior
    shares (Jeffreys), not plug-in zeros, so it covers the true date. Catches plug-in
    shares, which pin the interval at the first observed case (coverage 50-67%)."""
    from tipdrift.inference import location_interval

    covered = 0
    for rep in range(30):
        y, truth = _draw("appearing", rep)
        model = MixModel(y.astype(float))
        _, tau = model.scan(model.yk[None], 6, 1.0)
        loc = location_interval(model, model.yk, int(tau[0]), Noise(), 6, 199, np.random.default_rng(rep))
        covered += loc.lo <= truth.taus[0] <= loc.hi
    assert covered >= 27


def _yearly_frame(y: np.ndarray, start: int = 2005) -> pl.DataFrame:
    cats = ["forced_labour", "sexual_exploitation", "other", "forced_marriage"]
    rows = [("U", dt.date(start + t, 7, 1), cats[k], int(c)) for t in range(len(y)) for k, c in enumerate(y[t]) if c]
    df = pl.DataFrame(rows, schema=["org_id", "opened_date", "case_type", "n"], orient="row", infer_schema_length=None)
    return df.select(pl.all().repeat_by("n").explode()).drop("n")


def test_yearly_series_use_yearly_defaults_and_find_early_steps() -> None:
    """15 yearly points with a step in year 3..12: at the defaults (min_size 3 for yearly
    data) the exact year is found and the interval holds it. Catches a monthly min_size
    (6) applied to years, which clamps a year-3 step to year 6."""
    exact = excluded = 0
    for rep, t in enumerate([3, 4, 7, 11, 12, 3]):
        y, _ = sc.yearly_step(np.random.default_rng(rep), tau_range=(t, t))
        det = DriftDetector(freq="year", volume=False).fit(build_series(_yearly_frame(y), freq="year"))
        assert det.params_.segment == 3
        mix = [s for s in det.shifts_ if s.kind == "mix"]
        exact += any(s.index == t for s in mix)
        excluded += any(not s.ci_index[0] <= t <= s.ci_index[1] for s in mix)
    assert exact >= 5 and excluded <= 1


def test_effect_interval_and_min_effect() -> None:
    """Each mix shift carries a 95% TVD interval around its TVD; --min-effect keeps only
    shifts whose lower bound reaches it. Catches an interval not centred on the effect and
    a filter on the point estimate instead of the bound."""
    rng = np.random.default_rng(7)
    ys = {"BIG": sc.independent_step(rng, tvd=0.3)[0], "SMALL": sc.independent_step(rng, tvd=0.08, n=60)[0]}
    cats = ["forced_labour", "sexual_exploitation", "other", "forced_marriage"]
    rows = [(u, dt.date(2010 + t // 12, t % 12 + 1, 1), cats[k], int(c)) for u, y in ys.items()
            for t in range(len(y)) for k, c in enumerate(y[t]) if c]
    df = pl.DataFrame(rows, schema=["org_id", "opened_date", "case_type", "n"], orient="row")
    series = build_series(df.select(pl.all().repeat_by("n").explode()).drop("n"))
    all_ = DriftDetector(volume=False).fit(series).shifts_
    for s in all_:
        lo, hi = s.effect.ci
        assert lo <= s.effect.tvd + 0.02 and hi >= s.effect.tvd - 0.02
    kept = DriftDetector(volume=False, min_effect=0.15).fit(series).shifts_
    assert {s.unit for s in kept} == {s.unit for s in all_ if s.effect.ci[0] >= 0.15}
    assert "BIG" in {s.unit for s in kept}


def test_stability_and_constrained_location_are_reported() -> None:
    """A clear step is found under every nearby penalty and min_size (stability 1); a
    change in the third period is at the min_size boundary and says so. Catches stability
    left unset and a boundary location reported as exact."""
    y, truth = sc.independent_step(np.random.default_rng(3), tvd=0.35, n=40)
    fit = fit_series(y, "mix", key="st")
    assert [s.stability for s in fit.shifts] == [1.0]
    rng = np.random.default_rng(5)
    p0, p1 = np.array([0.6, 0.2, 0.2]), np.array([0.2, 0.2, 0.6])
    y = np.vstack([rng.multinomial(40, p0, 6), rng.multinomial(40, p1, 40)])
    edge = fit_series(y, "mix", key="edge")
    assert edge.shifts and edge.shifts[0].index == 6 and edge.shifts[0].constrained


def test_sequential_tests_stop_only_when_the_decision_is_clear() -> None:
    """Sequential p-values: on a no-change series the test stops at the replicate of its
    10th hit (Besag and Clifford) with p = 10 / drawn > 0.05; on a clear step no replicate
    of the first 99 reaches the statistic and it stops there with p = 0.01; a candidate
    whose p is near 0.05 draws all 199. The stop falls exactly on the 10th hit: the first
    chunk's replicates replayed from the same seed reach 10 hits at `drawn` and 9 one
    before. Catches a stop that fires while p could still reach alpha, p from the
    fixed-count formula after a stop, an off-by-one in the stopping replicate, and a clear
    step drawing every replicate (or stopping before 99)."""
    from tipdrift.inference import CLEAR_AT, STOP_CHUNK, STOP_HITS, segment_test, sequential_exceedances
    from tipdrift.models import MixModel, Noise
    from tipdrift.params import DriftParams

    # a stopped test's p (at least STOP_HITS / n_boot) is above alpha at the defaults
    assert STOP_HITS / DriftParams().n_boot > DriftParams().alpha
    rng = np.random.default_rng(15)
    null = rng.multinomial(rng.poisson(30, 96), [0.4, 0.3, 0.2, 0.1]).astype(float)
    model = MixModel(null)
    t = segment_test(model, model.yk, Noise(), 6, 199, np.random.default_rng(5))
    assert t.stopped and t.replicates < 199 and t.hits == STOP_HITS
    assert t.p_value == STOP_HITS / t.replicates > 0.05
    assert t.replicates <= STOP_CHUNK  # stopped within the first chunk: its draws can be replayed
    sims = model.simulate(model.yk, model.null_shares(model.yk), Noise(), STOP_CHUNK, np.random.default_rng(5))
    lam_star, _ = model.scan(sims, 6, 1.0)
    hits = np.cumsum(lam_star >= t.statistic - 1e-9)
    assert (hits[t.replicates - 1], hits[t.replicates - 2]) == (STOP_HITS, STOP_HITS - 1)
    step = np.vstack([rng.multinomial(30, [0.4, 0.3, 0.2, 0.1], 48), rng.multinomial(30, [0.1, 0.2, 0.3, 0.4], 48)])
    m2 = MixModel(step.astype(float))
    s = segment_test(m2, m2.yk, Noise(), 6, 199, np.random.default_rng(5))
    assert not s.stopped and s.at_floor and s.replicates == CLEAR_AT and s.p_value == 1 / (CLEAR_AT + 1)
    # a statistic about as large as the 4th largest of the null's 199: p near 0.02 draws them all
    lam_all, _ = model.scan(model.simulate(model.yk, model.null_shares(model.yk), Noise(), 199,
                                           np.random.default_rng(6)), 6, 1.0)
    near = float(np.sort(lam_all)[-4])
    h, drawn, stopped = sequential_exceedances(model, model.yk, near, Noise(), 6, 199, np.random.default_rng(7))
    assert (drawn, stopped) == (199, False) and 0 < h < STOP_HITS


def test_a_test_that_went_on_past_its_early_answer_has_an_exact_p_value() -> None:
    """Under the null (the statistic's rank among 200 uniform) the sequential test's p is
    valid: P(p <= x) <= x at the levels BH uses (0.01-0.05), counting the early answer
    after 99 replicates with no hit. Catches the plain (1 + hits) / 200 for a test that
    went on, which gives P(p <= 0.01) = 0.0125 and P(p <= 0.02) = 0.021."""
    from tipdrift.inference import SegmentTest

    rng = np.random.default_rng(3)
    N = 100_000
    hit = rng.random((N, 199)) >= rng.random(N)[:, None]
    first, total = hit[:, :99].sum(1), hit.sum(1)
    p = np.array([0.01 if f == 0 else SegmentTest(0.0, 0, 199, int(h), cleared_at=99).p_value
                  for f, h in zip(first, total)])
    for x in (0.01, 0.015, 0.02, 0.03, 0.05):
        assert (p <= x + 1e-12).mean() <= x + 3 * np.sqrt(x / N), x
    assert SegmentTest(0.0, 0, 199, 1, cleared_at=99).p_value > 0.012


def test_a_run_keeps_no_cost_matrix_per_series() -> None:
    """After the search and after elimination a series holds no (T+1)^2 matrix (about
    0.5 MB each at T = 240; a run of 1,000 series held 0.9 GB more before). Catches a
    likelihood-matrix cache or a stability matrix left on every series."""
    from tipdrift.detect import eliminate, search_series
    from tipdrift.params import DriftParams

    y, _ = _draw("step_tvd0.15", 0)
    work = search_series("k", "mix", y, DriftParams())
    assert "_raw" not in work.model.__dict__
    kept = eliminate([work], DriftParams())[0]
    assert kept and kept[0].stability is not None
    assert "_raw" not in work.model.__dict__ and not work.matrices


def test_best_window_takes_the_mass_not_a_lone_spike_and_a_sharp_mode_as_is() -> None:
    """A ragged posterior with a lone spike at 10 and a broad bump around 40 (more mass,
    lower peak) is dated at the bump's centre; a sharp one-sided posterior (a category
    appearing: all mass at 25, none before) at its mode. Catches the scan's argmax (the
    spike), and windows tied on mass broken by position (the first window that holds the
    sharp mode is centred `margin` before it)."""
    from tipdrift.inference import best_window

    post = np.full(60, 0.01)
    post[10] = 1.0
    post[37:44] = 0.6
    assert best_window(post, 3) == 40
    sharp = np.zeros(60)
    sharp[25] = 1.0
    sharp[26:30] = [0.004, 0.002, 0.001, 0.0005]
    assert best_window(sharp, 3) == 25


def test_steps_are_dated_by_the_most_probable_window() -> None:
    """On 40 one-step series (TVD 0.15, 20 a month, Dirichlet-multinomial phi 1.5) the
    reported date (the centre of the most probable +-3-month window of the profile
    posterior) is within 3 months of the truth more often than the scan's argmax (the
    test's tau) by at least 4 series (measured: 31 against 25 of the 39 with a shift).
    Catches a detector that still reports the argmax."""
    hits_window = hits_mode = 0
    for rep in range(40):
        y, truth = sc.independent_step(sc.series_rng(0, "step_tvd0.15_phi1.5", rep), tvd=0.15, phi_conc=37.0)
        fit = fit_series(y, "mix", seed=rep, key=f"w{rep}")
        tau = truth.taus[0]
        if fit.shifts:
            near = min(fit.shifts, key=lambda s: abs(s.index - tau))
            hits_window += abs(near.index - tau) <= 3
            hits_mode += abs(near.test.tau - tau) <= 3
    assert hits_window >= hits_mode + 4


def test_split_moments_are_the_pearson_ratio_around_each_replicates_split() -> None:
    """The vectorised overdispersion the test divides by equals `pearson([tau, L])` / df
    series by series (an empty category, a category seen on one side only, empty months,
    splits near both ends). Catches a df that counts empty months or categories unseen on
    a side, and residuals around the whole series' shares instead of each side's."""
    rng = np.random.default_rng(5)
    ysim = rng.multinomial(rng.poisson(9, (5, 40)), [0.5, 0.3, 0.2, 0.0]).astype(float)
    ysim[1, 3:6] = 0
    ysim[2, :, 2] = np.where(np.arange(40) < 20, 0, ysim[2, :, 2])
    taus = np.array([6, 10, 20, 30, 34])
    got = MixModel.split_moments(ysim, taus)[0]
    want = [(lambda x2, df: x2 / df)(*MixModel(y).pearson([int(t), 40])) for y, t in zip(ysim, taus)]
    assert np.allclose(got, want)


def test_the_statistic_hardly_depends_on_the_scale_the_null_was_drawn_with() -> None:
    """No-change replicates of one 96-month mix drawn with a wander of rho 0.88 and phi 1.3,
    and with phi 3: the 95% point of the test's statistic moves by at most 25% (measured
    6%), while the raw likelihood ratio's grows 4.4x. Catches a statistic divided by the
    null's phi (what the replicates were drawn with), and one divided by the residual phi
    alone (it still grows 1.9x: a wander inflates the ratio more than the variance
    around the split)."""
    from tipdrift.inference import scan_statistic

    rng = np.random.default_rng(11)
    model = MixModel(rng.multinomial(rng.poisson(20, 96), [0.4, 0.3, 0.2, 0.1]))
    seg = model.yk
    q = []
    for phi in (1.3, 3.0):
        noise = Noise(phi=phi, rho=0.88)
        sims = model.simulate(seg, model.null_shares(seg), noise, 400, np.random.default_rng(3))
        q.append(np.quantile(scan_statistic(model, sims, 6, noise)[0], 0.95))
    assert max(q) / min(q) <= 1.25, q


def test_a_steady_step_is_not_hidden_by_a_wander_null() -> None:
    """12 series each with one step (TVD 0.2, 20 a month, 96 months) and independent
    months, tested against a wander null of rho 0.88 (the floor a run of wandering units
    gives, `tipdrift.dependence`) with the whole series' phi, which the step inflates: at
    least 10 keep p <= 0.002 after 2,000 replicates (measured 12). Catches the raw
    likelihood ratio against that null (4 of 12: the replicates wander enough to mimic
    the step), and a ratio divided by the residual phi only (6 of 12)."""
    from tipdrift.inference import refine_p, segment_test

    small = 0
    for r in range(12):
        y = sc.independent_step(np.random.default_rng([5, r]), T=96, n=20, tvd=0.2)[0]
        model = MixModel(y)
        x2, df = model.pearson([96])
        noise = Noise(phi=max(1.0, x2 / df), rho=0.88)
        test = segment_test(model, model.yk, noise, 6, 199, np.random.default_rng(r))
        test = refine_p(model, model.yk, test, noise, 6, 2000, np.random.default_rng(100 + r))
        small += test.p_value <= 0.002
    assert small >= 10, small
