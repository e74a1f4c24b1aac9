"""The run's serial dependence: pooled over the units, stated, or per series (methods.md 11)."""
from __future__ import annotations

import numpy as np
import pytest

from tipdrift.dependence import GRID, POOL_MIN_UNITS, RunDependence, crossing
from tipdrift.detect import fit_run
from tipdrift.errors import ParameterError
from tipdrift.models import MixModel, Noise
from tipdrift.testing.scenarios import ar1_no_change, independent_step


def _ar_series(count: int, seed: int = 3, **kw: float) -> list[np.ndarray]:
    return [ar1_no_change(np.random.default_rng([seed, r]), **kw)[0] for r in range(count)]


def test_pooled_dependence_silences_a_wander_that_each_series_alone_calls_steps() -> None:
    """30 no-change series whose logit shares wander as an AR(1) (rho 0.9, innovation sd
    0.1, 10 cases a month, 120 months), fitted as one run: the run's pooled rho is at least
    0.65 (measured 0.86, the upper bound of the estimate 0.79) and at most 1 unit gets a
    shift (measured 0), against at least 2
    more (measured 3) in the same run, same BH family, with the floor stated as 0 (each
    series' own estimate only). Catches a pool that never reaches the tests (the two runs
    would alarm alike), and a pool of the per-series estimates, biased towards 0."""
    from tipdrift.detect import fit_works, search_series
    from tipdrift.params import DriftParams

    ys = _ar_series(30, T=120, n=10, sd=0.1)
    keys = [f"u{i}" for i in range(len(ys))]
    p = DriftParams(seed=0)
    kept, dep = fit_works([search_series(k, "mix", y, p) for k, y in zip(keys, ys)], p)
    floor0 = fit_run(ys, "mix", p, keys, dependence_rho=0.0)
    assert dep.source == "pooled" and dep.rho >= 0.65
    alarmed = sum(bool(k) for k in kept)
    assert alarmed <= 1
    assert sum(bool(f.shifts) for f in floor0) >= alarmed + 2


def test_pool_stays_low_when_the_units_have_one_real_step() -> None:
    """30 independent series, each with one step (TVD 0.15, 20 a month): the pooled rho
    stays low and the steps are still found. Catches a pool measured around the whole
    series' mean, where every unit's step poses as dependence and the tests lose their
    power."""
    ys = [independent_step(np.random.default_rng([4, r]), n=20, tvd=0.15)[0] for r in range(30)]
    fits = fit_run(ys, "mix", seed=0)
    assert max(f.rho for f in fits) < 0.5
    assert sum(bool(f.shifts) for f in fits) >= 27


def test_the_sieve_reproduces_the_overdispersion_it_was_given() -> None:
    """Replicates simulated with a latent AR(1) (rho 0.9) over 40 periods show, on average,
    the phi they were simulated with (within 15%). Catches a sieve that sets the latent
    process's stationary variance from phi directly: 40 months of a rho 0.9 process show
    about half of its variance, so the replicates' phi - 1 would be about half the data's,
    and the test's null too narrow."""
    rng = np.random.default_rng(8)
    y = rng.multinomial(np.full(40, 50), [0.4, 0.3, 0.2, 0.1])
    model = MixModel(y)
    sims = model.simulate(model.yk, model.null_shares(model.yk), Noise(phi=2.0, rho=0.9), 400, rng)
    phis = [(lambda x2, df: x2 / df)(*MixModel(s).pearson([40])) for s in sims]
    assert abs(np.mean(phis) - 2.0) < 0.15


def test_stated_and_unpooled_dependence_say_where_the_floor_came_from() -> None:
    """A stated rho is the floor whatever the data, and a run with fewer than
    POOL_MIN_UNITS series is not pooled (each series gets its own bound, below); a stated rho with dependence
    switched off, or one out of range, is refused. Catches a stated value that is ignored,
    a pool taken from a handful of series, and a contradiction accepted silently."""
    from tipdrift.dependence import run_dependence
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    ys = _ar_series(POOL_MIN_UNITS - 1, T=96, n=30, sd=0.1)
    p = DriftParams(seed=0)
    works = [search_series(f"u{i}", "mix", y, p) for i, y in enumerate(ys)]
    few = run_dependence(works, p)
    assert (few.source, few.rho) == ("unit", 0.0)
    # shifts.json: no run-level 0 that reads as "no dependence"; it reads back the same
    assert few.to_json()["rho"] is None and RunDependence.from_json(few.to_json()) == few
    # a pooled document from before the bound (no estimate, spread, above, below) reads back
    # as it was meant: its rho is the estimate itself, and it is shared
    old = RunDependence.from_json({"rho": 0.88, "source": "pooled", "units": 120, "series": 330})
    assert old.shared and "upper bound" not in old.summary("mix") and "rho 0.88" in old.summary("mix")
    # the CLI line for volume says what the bound costs there, not only "conservative"
    assert "half of 30% steps" in few.describe("volume") and "half" not in few.describe("mix")
    stated = run_dependence(works, p.replace(dependence_rho=0.8))
    assert (stated.source, stated.rho) == ("stated", 0.8)
    for bad in ({"dependence_rho": 1.2}, {"dependence_rho": "0.5"}, {"dependence_rho": 0.5, "dependence": False}):
        with pytest.raises(ParameterError, match="dependence_rho"):
            DriftParams(**bad).validate()


def test_a_lone_wandering_series_is_tested_at_its_upper_bound() -> None:
    """30 no-change series that wander (rho 0.9, innovation sd 0.05, 30 cases a month, 120
    months), each fitted alone: at most 3 get a shift (measured 1), against at least 4 more
    (measured 7) when each series keeps its own point estimate (a stated floor of 0). Catches
    a lone series tested at its own estimate (the earlier rule: 32% of such series alarmed)
    and a bound computed but never put in force."""
    from tipdrift.detect import fit_series

    ys = _ar_series(30, seed=5, T=120, n=30, sd=0.05)
    alone = sum(bool(fit_series(y, "mix", key=f"u{i}", seed=0).shifts) for i, y in enumerate(ys))
    own = sum(bool(fit_series(y, "mix", key=f"u{i}", seed=0, dependence_rho=0.0).shifts) for i, y in enumerate(ys))
    assert alone <= 3
    assert own >= alone + 4


def test_the_lone_bound_covers_a_wander_and_spares_independent_series() -> None:
    """`lone_floor` on 40 wandering series (rho 0.9, sd 0.1, 30 a month) reaches 0.87 in at
    least 90% of them (measured all: the bound sits at the grid's top), while on 40
    independent series with phi 1.5 its median stays at or below 0.7 (measured 0.51).
    Catches a bound taken at the replicates' median (a point estimate: 40% of the wandering
    series fall below 0.87), one read from the wrong tail (3% reach it), and one stuck at the
    grid's top (the independent median would be 0.95: lone overdispersed series tested as if
    they wandered, and their power lost)."""
    from tipdrift.dependence import lone_floor
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    p = DriftParams(seed=0)

    def bounds(ys: list[np.ndarray]) -> np.ndarray:
        works = [search_series(f"u{i}", "mix", y, p) for i, y in enumerate(ys)]
        return np.array([lone_floor(w.model, w.null_phi, p.segment, w.seed_for("bound")) for w in works])

    wander = bounds(_ar_series(40, seed=6, T=120, n=30, sd=0.1))
    steady = bounds(_ar_series(40, seed=7, T=120, n=20, sd=0.0, phi_conc=37.0))
    assert (wander >= 0.87).mean() >= 0.9
    assert np.median(steady) <= 0.7


def test_the_lone_bound_stops_its_walk_where_the_whole_grid_would_cross() -> None:
    """`lone_floor` walks up the grid and stops at the first crossing; on 16 series whose
    bounds fall low, high in the grid and at its top (independent; rho 0.3, sd 0.2; rho
    0.9) it equals the crossing of the running minimum over every grid point, each drawn on
    its own. Catches a walk that stops before the crossing (stopping after 4 points gives
    the grid's top to the series that cross higher), and replicates that depend on which
    points were drawn before (one generator carried along the walk), which would make the
    bound depend on where the walk stopped."""
    from tipdrift.dependence import LONE_LEVEL, lone_floor, point_statistics, split_statistic
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    p = DriftParams(seed=0)
    ys = (_ar_series(6, seed=7, T=120, n=20, sd=0.0, phi_conc=37.0) + _ar_series(6, seed=6, T=120, n=30, sd=0.2, rho=0.3)
          + _ar_series(4, seed=6, T=120, n=30, sd=0.1))
    got, want = [], []
    for i, y in enumerate(ys):
        w = search_series(f"u{i}", "mix", y, p)
        seed = w.seed_for("bound")
        observed = float(split_statistic(w.model, w.model.yk[None], w.null_phi, p.segment)[0])
        curve = [observed - np.quantile(point_statistics(w.model, w.null_phi, p.segment, seed, r), LONE_LEVEL)
                 for r in GRID]
        want.append(crossing(np.minimum.accumulate(np.array(curve))))
        got.append(lone_floor(w.model, w.null_phi, p.segment, seed))
    assert got == pytest.approx(want)
    # the fixtures make the walk stop early (below 0.5), late (0.65-0.91) and not at all (the grid's top)
    assert min(want) < 0.5 and sum(GRID[3] < b < GRID[-2] for b in want) >= 3 and max(want) == GRID[-1]


def test_crossing_interpolates_and_clamps() -> None:
    """The pooled rho is where the median curve crosses 0, linear between the two grid
    points that bracket it, and stays on the grid's ends otherwise. A convex curve that
    crosses between GRID[4] and GRID[5] (0.75 and 0.82). Catches a
    bracket off by one, a strict inequality at the crossing, and extrapolation."""
    curve = np.array([(0.78 - g) * (1.5 if g < 0.78 else 1.0) for g in GRID])
    lo, hi = GRID[4], GRID[5]
    want = lo + (hi - lo) * curve[4] / (curve[4] - curve[5])
    assert crossing(curve) == pytest.approx(want)
    assert lo < crossing(curve) < hi
    assert crossing(np.full(len(GRID), -1.0)) == GRID[0]
    assert crossing(np.full(len(GRID), 1.0)) == GRID[-1]


@pytest.mark.parametrize("kind", ["mix", "volume"])


def test_split_dependence_equals_the_per_series_measure(kind: str) -> None:
    """The vectorised statistic the pool uses equals `dependence([tau, L])` series by
    series, for the mix and the volume (with an empty category and splits near both ends).
    Catches pairs taken across the split, and residuals around the wrong side's shares or
    rate."""
    from tipdrift.models import model_for

    rng = np.random.default_rng(2)
    ysim = rng.multinomial(rng.poisson(6, (5, 40)), [0.5, 0.3, 0.2, 0.0]).astype(float)
    ysim[:, 3] = 0
    taus = np.array([6, 10, 20, 30, 34])
    model = model_for(kind, ysim[0])
    batch = (ysim if kind == "mix" else ysim.sum(-1, keepdims=True))
    got = model.split_dependence(batch, taus)
    want = [model_for(kind, y).dependence([int(t), 40]) for y, t in zip(ysim, taus)]
    assert np.allclose(got, want)


def test_cli_states_or_pools_the_dependence_and_says_which(synth_dir, tmp_path, capsys) -> None:
    """`tipdrift drift` writes the run's dependence per kind with its source (pooled by
    default over the synthetic organisations; stated with --dependence, and every unit's
    reported rho in force is then at least it) and prints it; an impossible rho exits 2.
    Catches a flag that never reaches the detector, and a document that hides where the
    rho came from."""
    import json

    from tipdrift.cli import main

    table = str(synth_dir / "cases.parquet")
    assert main(["drift", table, "--out", str(tmp_path / "a.json")]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["dependence"]["mix"]["source"] == "pooled" and doc["dependence"]["mix"]["units"] >= 8
    from tipdrift.dependence import RunDependence

    dep = RunDependence.from_json(doc["dependence"]["mix"])
    printed = capsys.readouterr()  # the line printed is the document's; a warning goes to stderr on its own
    assert dep.describe("mix").startswith("mix: ") and dep.describe("mix") in printed.out
    assert dep.shared or f"mix: {dep.unshared()}" in printed.err
    assert main(["drift", table, "--dependence", "0.6", "--out", str(tmp_path / "b.json")]) == 0
    doc = json.loads((tmp_path / "b.json").read_text())
    analysed_all = sum(s["status"] == "analysed" for s in doc["series"])
    assert doc["dependence"]["mix"] == {"rho": 0.6, "source": "stated", "units": analysed_all, "series": analysed_all,
                                        "estimate": None, "spread": None, "shared": True, "above": [], "below": []}
    assert doc["parameters"]["dependence_rho"] == 0.6
    analysed = [s for s in doc["series"] if s["status"] == "analysed" and s["phi_mix"] > 1.0]
    assert analysed and all(s["dependence"] >= 0.6 for s in analysed)
    assert main(["drift", table, "--dependence", "1.2", "--out", str(tmp_path / "c.json")]) == 2
    assert "dependence" in capsys.readouterr().err


def test_the_pooled_floor_is_an_upper_bound_of_the_median_crossing() -> None:
    """`pooled_bound` on unit curves whose median crosses 0 at 0.82: the bound is above
    the point estimate, below the grid's top for 400 units, higher for 40 units than for
    400 (a smaller pool, a wider bound), and the same for the same seed. Catches a bound
    read from the lower tail (below the estimate), one that ignores the pool's size (the
    point estimate itself, or a fixed offset), and unseeded resampling."""
    from tipdrift.dependence import pooled_bound

    grid = np.array(GRID)

    def curves(n: int) -> np.ndarray:
        rng = np.random.default_rng(n)
        return (0.82 - grid)[None, :] * 3.0 + rng.normal(0.0, 0.5, (n, 1))

    many, few = curves(400), curves(40)
    estimate = crossing(np.median(many, axis=0))
    bound = pooled_bound(many, np.random.default_rng(0))
    assert estimate < bound < GRID[-1]
    assert pooled_bound(few, np.random.default_rng(0)) - crossing(np.median(few, axis=0)) > bound - estimate
    assert pooled_bound(many, np.random.default_rng(0)) == bound


def _half_wandering(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """30 series whose logit shares wander (rho 0.9, sd 0.1) and 30 independent ones with
    phi about 1.5; 120 months at 30 cases a month."""
    wander = [ar1_no_change(np.random.default_rng([seed, 1, r]), T=120, n=30, sd=0.1)[0] for r in range(30)]
    steady = [ar1_no_change(np.random.default_rng([seed, 2, r]), T=120, n=30, sd=0.0, phi_conc=37.0)[0]
              for r in range(30)]
    return wander, steady


def test_a_run_whose_units_do_not_share_their_dependence_is_flagged() -> None:
    """Half wandering, half independent units pooled as one run: the units' spread is far
    above its limit (measured 6.3 against 1.74) and the run is not `shared`; 60 wandering
    units are shared (0.72). The units named furthest above are wandering ones, those below
    independent ones (a reversed order would swap them), and the document reads back the
    same. Catches a spread that is never computed (None is shared), one
    taken at rho 0 instead of the estimate (the wandering run reads 2.9 there: flagged), and
    one scaled as if the difference held two single draws instead of one and the mean of
    DRAWS (every ratio 0.625 of its value: the wandering run 0.45, the mixed one 3.9)."""
    from tipdrift.dependence import run_dependence, spread_limit
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    p = DriftParams(seed=0)
    wander, steady = _half_wandering(0)
    more = [ar1_no_change(np.random.default_rng([0, 3, r]), T=120, n=30, sd=0.1)[0] for r in range(30)]
    mixed, same = (run_dependence([search_series(f"u{i}", "mix", y, p) for i, y in enumerate(ys)], p)
                   for ys in (wander + steady, wander + more))
    assert mixed.source == same.source == "pooled" and mixed.units == same.units == 60
    assert mixed.spread > 3 * spread_limit(60) and not mixed.shared and mixed.to_json()["shared"] is False
    assert same.shared and 0.5 < same.spread < 1.2
    assert "do not share" in mixed.summary("mix") and "do not share" not in same.summary("mix")
    # the warning names the units on either side: wandering ones above, independent ones below
    assert len(mixed.above) == len(mixed.below) == 5 and same.above == same.below == ()
    assert all(int(u[1:]) < 30 for u in mixed.above) and all(int(u[1:]) >= 30 for u in mixed.below)
    assert RunDependence.from_json(mixed.to_json()) == mixed


def test_cli_warns_when_the_units_do_not_share_their_dependence(tmp_path, capsys) -> None:
    """`tipdrift drift` on a table of half wandering, half independent organisations writes
    `shared: false` in shifts.json and prints the warning on stderr (the BH family's
    false-discovery promise does not hold for the wandering half), with exit 0: units that
    change more than once raise the same flag (README: "Mixed runs"). Catches a warning
    kept in the document only, and one printed to stdout among the results."""
    import datetime as dt
    import json

    import polars as pl

    from tipdrift.cli import main

    wander, steady = _half_wandering(1)
    cats = ["forced_labour", "sexual_exploitation", "other", "forced_marriage"]
    rows = [(f"org{u:02d}", dt.date(2010 + t // 12, t % 12 + 1, 15), cats[k], int(c))
            for u, y in enumerate(wander + steady) for t in range(len(y)) for k, c in enumerate(y[t]) if c]
    df = pl.DataFrame(rows, schema=["org_id", "opened_date", "case_type", "n"], orient="row")
    table = tmp_path / "cases.csv"
    df = df.select(pl.all().repeat_by("n").explode()).drop("n")
    df.with_columns(case_id=pl.format("c{}", pl.int_range(pl.len()))).write_csv(table)
    assert main(["drift", str(table), "--no-volume", "--out", str(tmp_path / "s.json")]) == 0
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["dependence"]["mix"]["shared"] is False
    said = capsys.readouterr()
    assert "mix: warning: the pooled units do not share" in said.err and "do not share" not in said.out


def test_a_run_of_independent_series_keeps_the_independent_null() -> None:
    """30 independent no-change series with Dirichlet-multinomial overdispersion (phi about
    1.5), pooled with seeds 0-4: the sign test finds no dependence each time, so the floor
    is exactly 0 and the tests keep their independent null. Catches a pool that always
    returns the crossing of the median curve: under no dependence that median is above 0
    about half the time (at seed 0 it gives rho 0.017), and any rho above 0 would switch
    every test to the latent sieve."""
    from tipdrift.dependence import run_dependence
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    ys = [ar1_no_change(np.random.default_rng([6, r]), sd=0.0, n=20, phi_conc=37.0)[0] for r in range(30)]
    for seed in range(5):
        p = DriftParams(seed=seed)
        dep = run_dependence([search_series(f"u{i}", "mix", y, p) for i, y in enumerate(ys)], p)
        assert (dep.source, dep.rho) == ("pooled", 0.0), seed


def test_a_poisson_step_reports_the_dependence_its_test_assumed() -> None:
    """A lone volume series with a clean step in Poisson counts (30 -> 39 a month at month
    60) is Poisson within its segments (fitted phi 1) but overdispersed as a whole (the
    step), so its whole-series test runs at its dependence bound: the series reports that
    bound as its dependence, not its own estimate. Catches the dependence read from the
    fitted segments' noise, where the floor does not apply to volume (it reported 0 while
    the test assumed 0.77)."""
    from tipdrift.detect import fit_works, search_series
    from tipdrift.params import DriftParams

    p = DriftParams(seed=0)
    rng = np.random.default_rng([4, 1])
    y = rng.poisson(np.where(np.arange(120) < 60, 30.0, 39.0)).astype(float)
    w = search_series("v", "volume", y[:, None], p)
    fit_works([w], p)
    assert w.phi == 1.0 and w.null_phi > 1.2  # the case: Poisson within, overdispersed as a whole
    tested = w.segment_noise(0, w.T).rho
    assert tested > 0.5
    assert w.rho == pytest.approx(tested)
