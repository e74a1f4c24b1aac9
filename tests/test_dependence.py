"""The run's serial dependence: pooled over the units, stated, or per series (methods.md 11)."""
from __future__ import annotations

import numpy as np
import pytest

from tipdrift.dependence import GRID, POOL_MIN_UNITS, crossing
from tipdrift.detect import fit_run, fit_series
from tipdrift.models import MixModel, Noise, latent_variance_factor
from tipdrift.testing.scenarios import ar1_no_change, independent_step


def _ar_series(count: int, seed: int = 3, **kw: float) -> list[np.ndarray]:
    return [ar1_no_change(np.random.default_rng([seed, r]), **kw)[0] for r in range(count)]


def test_pooled_dependence_silences_a_wander_that_each_series_alone_calls_steps() -> None:
    """30 no-change series whose logit shares wander as an AR(1) (rho 0.9, innovation sd
    0.1, 10 cases a month, 120 months), fitted as one run: the dependence in force is near
    0.9 and at most 3 of the 30 units get a shift. The same series fitted one at a time
    (nothing to pool: each series' own estimate decides) get several. Catches a pool that is
    not applied to the tests, a pool of the per-series estimates (biased towards 0), and a
    sieve that simulates less wander than the data show."""
    ys = _ar_series(30, T=120, n=10, sd=0.1)
    pooled = fit_run(ys, "mix", seed=0)
    alone = [fit_series(y, "mix", seed=0, key=f"series-{i}") for i, y in enumerate(ys)]
    assert np.median([f.rho for f in pooled]) >= 0.65
    alarmed = sum(bool(f.shifts) for f in pooled)
    assert alarmed <= 3
    assert sum(bool(f.shifts) for f in alone) >= alarmed + 4


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
    assert latent_variance_factor(0.0, 40) == 1.0


def test_stated_and_unpooled_dependence_say_where_the_floor_came_from() -> None:
    """A stated rho is used for every series (their rho in force is at least it) and a run
    with fewer than POOL_MIN_UNITS series keeps each series' own estimate. Catches a
    stated value that is ignored, and a pool taken from a handful of series."""
    from tipdrift.detect import search_series
    from tipdrift.dependence import run_dependence
    from tipdrift.params import DriftParams

    ys = _ar_series(POOL_MIN_UNITS - 1, T=96, n=30, sd=0.1)
    p = DriftParams(seed=0)
    works = [search_series(f"u{i}", "mix", y, p) for i, y in enumerate(ys)]
    few = run_dependence(works, p)
    assert (few.source, few.rho) == ("unit", 0.0)
    stated = run_dependence(works, p.replace(dependence_rho=0.8))
    assert (stated.source, stated.rho) == ("stated", 0.8)
    fits = fit_run(ys, "mix", seed=0, dependence_rho=0.8)
    assert all(f.rho >= 0.8 for f in fits if f.phi > 1.0)
    with pytest.raises(Exception, match="dependence"):
        fit_run(ys, "mix", dependence_rho=1.2)


def test_crossing_interpolates_and_clamps() -> None:
    """The pooled rho is where the median curve crosses 0, linear between grid points, and
    stays on the grid's ends otherwise. Catches an off-by-one in the bracket."""
    curve = np.array([1.0 - g / GRID[4] for g in GRID])  # crosses at GRID[4]
    assert crossing(curve) == pytest.approx(GRID[4])
    assert crossing(np.full(len(GRID), -1.0)) == GRID[0]
    assert crossing(np.full(len(GRID), 1.0)) == GRID[-1]


@pytest.mark.parametrize("kind", ["mix", "volume"])
def test_split_dependence_equals_the_per_series_measure(kind: str) -> None:
    """The vectorised statistic the pool uses equals `dependence([tau, L])` series by
    series, for the mix and the volume, empty periods included. Catches pairs taken across
    the split, residuals around the wrong segment's shares, or empty periods counted."""
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
    rho in force is then at least it) and prints it; an impossible rho exits 2. Catches a
    stated value that never reaches the tests, and a document that hides where the rho
    came from."""
    import json

    from tipdrift.cli import main

    table = str(synth_dir / "cases.parquet")
    assert main(["drift", table, "--out", str(tmp_path / "a.json")]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["dependence"]["mix"]["source"] == "pooled" and doc["dependence"]["mix"]["units"] >= 8
    assert "pooled over" in capsys.readouterr().out
    assert main(["drift", table, "--dependence", "0.6", "--out", str(tmp_path / "b.json")]) == 0
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["dependence"]["mix"] == {"rho": 0.6, "source": "stated", "units": doc["dependence"]["mix"]["units"]}
    assert doc["parameters"]["dependence_rho"] == 0.6
    analysed = [s for s in doc["series"] if s["status"] == "analysed" and s["phi_mix"] > 1.0]
    assert analysed and all(s["dependence"] >= 0.6 for s in analysed)
    assert main(["drift", table, "--dependence", "1.2", "--out", str(tmp_path / "c.json")]) == 2
    assert "dependence" in capsys.readouterr().err


def test_a_run_of_independent_series_keeps_the_independent_null() -> None:
    """30 independent no-change series with Dirichlet-multinomial overdispersion (phi about
    1.5): the sign test finds no dependence, so the floor is exactly 0 and the tests keep
    their independent null. Catches a pool that always returns the crossing of a noisy
    median (a small spurious rho would switch every test to the latent sieve)."""
    from tipdrift.dependence import run_dependence
    from tipdrift.detect import search_series
    from tipdrift.params import DriftParams

    ys = [ar1_no_change(np.random.default_rng([6, r]), sd=0.0, n=20, phi_conc=37.0)[0] for r in range(30)]
    p = DriftParams(seed=0)
    dep = run_dependence([search_series(f"u{i}", "mix", y, p) for i, y in enumerate(ys)], p)
    assert (dep.source, dep.rho) == ("pooled", 0.0)
