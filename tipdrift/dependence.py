"""Serial dependence shared by the units of a run (methods.md section 11).

One series of 96-120 months cannot tell a slow wander (a latent AR(1) with rho 0.9 has about
six independent stretches in ten years) from a few steps: its own dependence estimate is
too noisy and biased towards 0, and the scan test then finds steps in the wander. The units
of one run share how their cases are recorded (referral partners, staffing, outreach carry
over the same way), so the run's dependence is estimated from all of them together and
used as a floor under every unit's own estimate.

The estimate is indirect inference (Gourieroux et al.), pooled by the median:
- per unit, the statistic S is the sum of the autocorrelations (lags 1..`acf_lags`) of the
  Pearson residuals around the series' best single split (a unit's one real step does not
  pose as dependence);
- per unit and per rho on a grid, replicates of that unit under "no change" with a latent
  AR(1) of coefficient rho (its own totals, shares and phi; common random numbers over the
  grid) give S*(rho), computed the same way;
- the run's rho is where the median over units of S - mean S*(rho) crosses 0, provided
  the run shows dependence at all: more units with S above their independent replicates'
  (rho 0) than a one-sided sign test at 5% allows by chance; otherwise 0, and the tests
  keep their independent (Dirichlet-multinomial) null. Under the right rho each difference
  is centred on 0; the median is robust to the minority of units
  with a second step, and to units with too little overdispersion to carry dependence
  (their differences do not move with rho). A run of more than `POOL_MAX_UNITS` series
  pools that many, chosen by a hash of the unit's name (deterministic, unrelated to its data);
- the floor put in force is not that median crossing but an upper bound of it
  (`pooled_bound`): the `BOUND_LEVEL` quantile of the crossing over `BOUND_RESAMPLES`
  resamples of the pooled units. The point estimate sat low where the tests are most
  sensitive to it: in runs of 300 wandering units (rho 0.9) and 30 steady step units it
  was 0.78-0.95 over 20 seeds (mean 0.86), the steady units pulling the median down, and
  over seeds 0-9 the runs it placed lowest gave the most false shifts; the bound is 0.83-0.95 (mean
  0.92; README: "Mixed runs"). A run whose units all wander gets the grid's top in nearly every case (it did at
  the median too); a run of independent units is unaffected (the sign test keeps 0);
- whether the units share one rho at all (`spread`): at the estimate, the variance over
  units of S - mean S* against the replicates' own (1.25 x the mean variance of S*, the
  mean being of `DRAWS`): about 1 when they do, larger when some wander and others do not.
  Above 1 + `SPREAD_SD` x sqrt(2 / (units - 1)) (1.52 for 120 units: 4 normal-theory
  standard deviations of a variance ratio, about 3.5 once the replicates' own variances
  are counted as noise too) the run is flagged (`shared` false): no floor then suits
  every unit, and the CLI says so on stderr, naming the units furthest above and below.
  Measured (12 seeds a world): all wandering 0.81-1.29 (about 120 units pooled), all
  independent 0.68-1.45 (54-72; computed past the sign test, which stops such runs
  before the spread is taken), a tenth
  steady 0.93-1.89 (6 of 20 flagged: the bound above protects those runs), half steady
  1.85-2.86 (all flagged: there the floor falls to 0.69-0.75 and 7-11% of the wandering
  units get a shift). Units with more changes than the one split takes out sit high as
  wanderers do, and S cannot tell the two apart: the generator's world (independent
  months, units with two or three steps) is flagged too (9.7 over 117 units). So the flag
  warns and does not change the exit status.

A run with fewer than `POOL_MIN_UNITS` analysed series is not pooled: each series of
`LONE_MIN_PERIODS` or more is tested at no less than an upper bound of its own dependence
(`lone_floor`: the first rho up the grid at which its statistic S falls to the `LONE_LEVEL`
point of its replicates'), a shorter one at its own estimate, and the CLI says so. A lone series
cannot tell a wander from a step: its point estimate let 11-38% of wandering no-change
series get a shift (issue 10's grid), the bound 2-6%, at a cost of 0-6 points of recall on
lone independent series (README: "Scenario series"). For case volume, with one
dimension of residuals, the bound is much looser: alone a 30% step is found in about half
the series, against 86-94% at the own estimate (`benchmarks/lone_volume.py`). A test at the worst plausible rho in
the spirit of Berger and Boos, without their guarantee (p is not maximised over the set nor
widened by its level): the measured rates are what it achieves.
A run with fewer than `POOL_MIN_UNITS` overdispersed series has nothing for a wander to carry: its
floor is 0. A user who knows the dependence (from a longer history or
a peer series) states it instead (`DriftParams.dependence_rho`, `--dependence RHO`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tipdrift.models import CountModel
from tipdrift.parallel import pmap

if TYPE_CHECKING:
    from tipdrift.detect import SeriesWork
    from tipdrift.params import DriftParams

GRID: tuple[float, ...] = (0.0, 0.3, 0.5, 0.65, 0.75, 0.82, 0.87, 0.91, 0.95)
DRAWS = 4  # replicates per unit and grid point
LONE_DRAWS = 50  # replicates per grid point for a lone series' bound (a 2% quantile needs more)
LONE_LEVEL = 0.02  # np.quantile's 2% point of 50 draws lies between the smallest two: about a 96% bound
# Shorter lone series keep their own estimate: on independent series of 16-24 periods with
# phi 2-5 the bound sat at the grid's top for 60-83% (no power left for any change), at 36
# for 10-33%, at 48 for 0-10% (30 series each; README: "Scenario series").
LONE_MIN_PERIODS = 36
POOL_MIN_UNITS = 8
POOL_MAX_UNITS = 120  # a larger run pools a fixed subset (by a hash of the unit): the median is as good
BOUND_LEVEL = 0.9  # the pooled floor is this upper bound of the median crossing ...
BOUND_RESAMPLES = 200  # ... over this many resamples of the pooled units
SPREAD_SD = 4.0  # flag a run whose units' dependence varies more than this many sds of a variance ratio
NAMED = 5  # units named on either side in the warning of a run that does not share one dependence


@dataclass(frozen=True)
class RunDependence:
    """The dependence floor of one kind (mix or volume) in a run: `rho` is applied under
    every unit's own estimate; `source` says where it came from: `pooled` (estimated from
    `units` series), `stated` (the user's), `unit` (too few series to pool: each series
    its own upper bound, `lone_floor`, in place of `rho`) or `off` (dependence not modelled)."""

    rho: float
    source: str
    units: int = 0
    series: int = 0  # analysed series of the kind (the pool uses the overdispersed ones)
    estimate: float | None = None  # pooled: the median crossing, of which `rho` is the upper bound
    spread: float | None = None  # pooled: the units' variance ratio at the estimate (`spread`); about 1 if shared
    above: tuple[str, ...] = ()  # not shared: the units whose S sits furthest above the estimate's ...
    below: tuple[str, ...] = ()  # ... and below (up to `NAMED` each): where to look before splitting the run

    @property
    def shared(self) -> bool:
        """False when the pooled units' dependence varies more than one shared rho allows."""
        return self.spread is None or self.spread <= spread_limit(self.units)

    def to_json(self) -> dict[str, Any]:
        """`rho` is null for source `unit`: the run has no one value (each series' is in
        `series[].dependence`), and a 0 would read as "no dependence". `estimate` (pooled
        with dependence shown) is the point estimate whose upper bound `rho` is."""
        rho = None if self.source == "unit" else round(self.rho, 4)
        estimate = None if self.estimate is None else round(self.estimate, 4)
        spread = None if self.spread is None else round(self.spread, 3)
        return {"rho": rho, "source": self.source, "units": self.units, "series": self.series,
                "estimate": estimate, "spread": spread, "shared": self.shared,
                "above": list(self.above), "below": list(self.below)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "RunDependence":
        """Documents written before `estimate`, `spread`, `above` and `below` existed read
        back with their defaults (`shared` is derived, not stored)."""
        fields = {k: v for k, v in d.items() if k != "shared"}
        return cls(**(fields | {"rho": d.get("rho") or 0.0, "above": tuple(d.get("above", ())),
                                "below": tuple(d.get("below", ()))}))

    def describe(self, kind: str) -> str:
        """One line for the CLI: the kind, then `summary()` without the unshared warning
        (the CLI prints that on its own line, on stderr)."""
        return f"{kind}: {self.summary(kind, warn=False)}"

    def summary(self, kind: str = "mix", warn: bool = True) -> str:
        """Where the run's dependence of `kind` came from, in words (the CLI and the
        report's data section, which also carries the `unshared` warning)."""
        examined = min(self.series, POOL_MAX_UNITS)
        of = f"{examined} series examined" + (f" (of {self.series})" if self.series > examined else "")
        if self.source == "pooled" and self.units < POOL_MIN_UNITS:
            return f"serial dependence 0: only {self.units} of {of} show overdispersion that a wander could carry"
        if self.source == "pooled" and self.rho == 0.0:
            return (f"no serial dependence shown by the {self.units} overdispersed of {of} (sign test at 5%): "
                    "the tests keep each series' own estimate")
        if self.source == "pooled":
            # a document from before the bound holds the estimate itself in `rho`
            how = "" if self.estimate is None else f", the {BOUND_LEVEL:.0%} upper bound of the estimate {self.estimate:.2f}"
            line = (f"serial dependence rho {self.rho:.2f}{how}, pooled over the {self.units} overdispersed of {of} "
                    "(a floor under each series' own estimate; assumes the units share recording dynamics)")
            return line if self.shared or not warn else line + "; " + self.unshared()
        if self.source == "stated":
            return f"serial dependence rho {self.rho:.2f}, as stated (--dependence)"
        if self.source == "unit":
            cost = ("conservative" if kind == "mix" else
                    "conservative, and for case volume costly: alone, about half of 30% steps in 120 months are found")
            return (f"only {self.units} series, too few to pool serial dependence (needs {POOL_MIN_UNITS}): "
                    f"each series of {LONE_MIN_PERIODS} periods or more is tested at no less than an upper "
                    f"bound of its own dependence (a lone series cannot tell a slow wander from steps: "
                    f"{cost}), a shorter one at its own estimate, which understates a slow "
                    "wander; state --dependence if it is known")
        return "serial dependence not modelled (--no-dependence)"

    def unshared(self) -> str:
        """The warning for a run whose units do not share one dependence, naming the units
        furthest from the estimate on either side."""
        return (f"warning: the pooled units do not share one dependence: the spread of their residual "
                f"dependence is {self.spread:.2f} (about 1 when they do; limit {spread_limit(self.units):.2f}). "
                f"Some wander or change more than once (furthest above: {', '.join(self.above)}) and others "
                f"do not (furthest below: {', '.join(self.below)}); no one floor suits both: wandering units "
                "may get false shifts, steady ones lose power. Fit such units separately, or state --dependence")


def split_statistic(model: CountModel, ysim: np.ndarray, phi: float, min_size: int) -> np.ndarray:
    """S for each replicate of `ysim` (R, L, K): the residual autocorrelation sum around
    the replicate's own best single split, as `SeriesWork.segment_noise` measures it."""
    _, taus = model.scan(ysim, min_size, phi)
    return model.split_dependence(ysim, taus)


def unit_curve(model: CountModel, phi: float, min_size: int, rng_seed: list[int]) -> np.ndarray | None:
    """Two rows over `GRID` for one series: S - mean S*(rho), and the variance of S*(rho)
    (`DRAWS` no-change replicates per rho with its own totals, shares and phi; the same
    latent innovations for every rho, so S*(rho) moves smoothly with rho); None when the
    series has no overdispersion (phi 1: nothing for a latent process to explain)."""
    y = model.yk
    if phi <= 1.0 or len(y) < 2 * min_size:
        return None
    observed = float(split_statistic(model, y[None], phi, min_size)[0])
    sims = model.simulate_latent(y, model.null_shares(y), phi, np.array(GRID), DRAWS,
                                 np.random.default_rng(rng_seed))
    stats = split_statistic(model, sims, phi, min_size).reshape(len(GRID), DRAWS)
    return np.stack([observed - stats.mean(axis=1), stats.var(axis=1, ddof=1)])


def lone_floor(model: CountModel, phi: float, min_size: int, rng_seed: list[int]) -> float:
    """An upper confidence bound (about 96%) of a lone series' latent rho: going up the
    grid, where its S first falls to the `LONE_LEVEL` quantile of the replicates' S*(rho)
    (linear between grid points; S* grows with rho). The grid is walked upwards and stops
    at that crossing (the points above it cannot move it), each point simulated from the
    same random numbers (`point_statistics`). A mix at phi 1 shows no amplitude that
    could bound rho: `GRID[-1]`, which for the whole-series test only studentises its
    statistic (`inference.scan_statistic`; segments whose own phi exceeds 1 get a wander).
    Volume at phi 1 gets no floor (`SeriesWork.floored` would not apply it), nor does a
    series shorter than `LONE_MIN_PERIODS`, too short to bound anything: its own estimate
    stays in force."""
    if len(model.yk) < max(2 * min_size, LONE_MIN_PERIODS):
        return 0.0
    if phi <= 1.0:
        return GRID[-1] if model.kind == "mix" else 0.0
    observed = float(split_statistic(model, model.yk[None], phi, min_size)[0])
    curve: list[float] = []
    for rho in GRID:
        low = float(np.quantile(point_statistics(model, phi, min_size, rng_seed, rho), LONE_LEVEL))
        curve.append(min(observed - low, curve[-1] if curve else np.inf))  # monotone: noise cannot re-open
        if curve[-1] <= 0:
            break
    return crossing(np.array(curve + [curve[-1]] * (len(GRID) - len(curve))))


def point_statistics(model: CountModel, phi: float, min_size: int, rng_seed: list[int], rho: float) -> np.ndarray:
    """S* of `LONE_DRAWS` no-change replicates at one latent rho, all drawn from the same
    seed: every grid point starts from the same random stream (the same innovations, and
    multinomial draws from the same uniforms as far as the counts allow), so S*(rho) moves
    smoothly with rho and a point's replicates do not depend on which other points were drawn."""
    y = model.yk
    sims = model.simulate_latent(y, model.null_shares(y), phi, np.array([rho]), LONE_DRAWS,
                                 np.random.default_rng(rng_seed))
    return split_statistic(model, sims, phi, min_size)


def crossing(median: np.ndarray) -> float:
    """Where a curve decreasing over `GRID` crosses 0 (linear between grid points), within
    [GRID[0], GRID[-1]]."""
    if median[0] <= 0:
        return GRID[0]
    if median[-1] > 0:
        return GRID[-1]
    i = int(np.argmax(median <= 0))
    a, b = float(median[i - 1]), float(median[i])
    return GRID[i - 1] + (GRID[i] - GRID[i - 1]) * a / (a - b)


def run_dependence(works: list["SeriesWork"], params: "DriftParams") -> RunDependence:
    """The dependence floor for one kind of a run: stated, pooled, per unit, or off."""
    n = len(works)
    if not params.overdispersion or not params.dependence:
        return RunDependence(0.0, "off", 0, n)
    if params.dependence_rho is not None:
        return RunDependence(float(params.dependence_rho), "stated", n, n)
    if n < POOL_MIN_UNITS:
        return RunDependence(0.0, "unit", n, n)
    pool = sorted(works, key=lambda w: w.seed_for("pool")[1])[:POOL_MAX_UNITS]
    curves = pmap(lambda w: unit_curve(w.model, w.null_phi, params.segment, w.seed_for("pool")), pool, params.workers)
    names = [w.key for w, c in zip(pool, curves) if c is not None]
    both = np.array([c for c in curves if c is not None]).reshape(-1, 2, len(GRID))
    kept, variances = both[:, 0], both[:, 1]
    # too few overdispersed series (phi 1 has no wander to simulate: nothing to pool),
    # or no more series above their independent replicates than chance: no dependence
    if len(kept) < POOL_MIN_UNITS or not shows_dependence(kept[:, 0]):
        return RunDependence(0.0, "pooled", len(kept), n)
    rng = np.random.default_rng([params.seed, BOUND_RESAMPLES, len(kept)])
    # rounded as shifts.json holds them, so a document read back says what the run said
    estimate = round(crossing(np.median(kept, axis=0)), 4)
    ratio = round(spread(kept, variances, estimate), 3)
    dep = RunDependence(round(max(pooled_bound(kept, rng), estimate), 4), "pooled", len(kept), n, estimate, ratio)
    if dep.shared:
        return dep
    order = [names[i] for i in np.argsort(at_rho(kept, estimate), kind="stable")]
    return replace(dep, above=tuple(order[::-1][:NAMED]), below=tuple(order[:NAMED]))


def spread(curves: np.ndarray, variances: np.ndarray, rho: float) -> float:
    """How much the units' S - mean S* varies at `rho` (linear between grid points) against
    what their replicates allow: its variance over units / (1.25 x the mean variance of S*;
    the difference holds one S and the mean of `DRAWS` replicates' S*). About 1 when the
    units share rho; larger when they do not (some above it, some below)."""
    return float(at_rho(curves, rho).var(ddof=1) / ((1 + 1 / DRAWS) * at_rho(variances, rho).mean()))


def at_rho(rows: np.ndarray, rho: float) -> np.ndarray:
    """Each row of a (units, `GRID`) array at `rho`, linear between grid points."""
    i = int(np.clip(np.searchsorted(GRID, rho, side="right") - 1, 0, len(GRID) - 2))
    t = (rho - GRID[i]) / (GRID[i + 1] - GRID[i])
    return rows[:, i] * (1 - t) + rows[:, i + 1] * t


def spread_limit(units: int) -> float:
    """The largest `spread` taken as shared: `SPREAD_SD` normal-theory standard deviations of
    a variance ratio over `units` above 1 (the units' heavier tails make the real spread
    1.2-1.5 times wider; README: "Mixed runs")."""
    return 1.0 + SPREAD_SD * float(np.sqrt(2.0 / max(units - 1, 1)))


def pooled_bound(curves: np.ndarray, rng: np.random.Generator) -> float:
    """A `BOUND_LEVEL` upper bound of the median crossing of `curves` (units x `GRID`) over
    `BOUND_RESAMPLES` resamples of the units (a percentile bootstrap). It bounds the
    estimate's sampling spread, not its bias (steady units among wandering ones pull the
    median down whatever the resample): the floor errs high by that much, because one too
    low lets a wander through as steps in every unit it understates, while one too high
    costs the steady units some power."""
    rows = rng.integers(0, len(curves), (BOUND_RESAMPLES, len(curves)))
    medians = np.median(curves[rows], axis=1)
    return float(np.quantile([crossing(m) for m in medians], BOUND_LEVEL))


def shows_dependence(at_zero: np.ndarray, level: float = 0.05) -> bool:
    """One-sided sign test: do more units than chance have S above their independent
    replicates' (the curve at rho 0 positive)?"""
    from scipy.stats import binom

    n, k = len(at_zero), int((at_zero > 0).sum())
    return bool(binom.sf(k - 1, n, 0.5) <= level)
