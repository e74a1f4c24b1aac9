"""Change points in case-type mixes and volumes, with honest significance and intervals.

Per series (methods.md sections 2-5):
1. overdispersion phi from Pearson X^2/df (first over the whole series, then within the
   fitted segments), floored at 1; the cost is divided by phi;
2. search: the exact optimal segmentation (`tipdrift.search`) with a minimum segment
   length proposes candidate change points;
3. each candidate is tested on the segment between its neighbours (`tipdrift.inference`)
   against a null simulated with that segment's own noise (phi and serial dependence).

Across units (section 14): the false-discovery family is every candidate tested, over
all units of the fit, per kind (mix, volume): the search's candidates, and for a series
where the search proposed none, its best single change on the whole series (so the
family is not only the extreme series a penalty selected). Benjamini-Hochberg runs over
that family; then backward elimination at the BH-adjusted level: in each unit the
candidate with the largest adjusted p is dropped if it exceeds alpha (its neighbours'
segment is re-tested), and BH runs again over the same family (eliminated candidates
count as p = 1), until every remaining candidate holds. A p-value at the floor (no
replicate reached the statistic: 0.01 after the test's first 99) whose adjusted value
blocks the decision is refined with more replicates first.
Kept change points get a 95% location interval from bootstrap refits.

`DriftDetector(params).fit(series)` gives typed `Shift` records (`shifts_`) and one
`SeriesStatus` per unit (`statuses_`). Same inputs and parameters give the same results:
every random draw is seeded by (seed, unit, segment, purpose).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from tipdrift.dependence import RunDependence, lone_floor, run_dependence
from tipdrift.inference import SegmentTest, bh_adjust, location_interval, refine_p, segment_test, window_date
from tipdrift.models import CountModel, Noise, acf_lags, latent_rho, mean_corrected, model_for
from tipdrift.parallel import pmap
from tipdrift.params import DriftParams
from tipdrift.search import optimal_partition, penalty_for
from tipdrift.series import CountSeries
from tipdrift.shape import Shape, classify
from tipdrift.shift import Effect, Moved, SeriesStatus, Shift
from tipdrift.vocab import UNKNOWN

KINDS: tuple[str, ...] = ("mix", "volume")
_PURPOSE = {"test": 1, "interval": 2, "refine": 3, "shape": 4, "pool": 5, "bound": 6}


def _stable_key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class Located:
    """A kept change point of one series, by index: the test, intervals and adjusted p."""

    index: int
    segment: tuple[int, int]
    ci_index: tuple[int, int]
    test: SegmentTest
    p_adjusted: float
    effect_ci: tuple[float, float]  # TVD (mix) or ratio (volume), 95%
    constrained: bool  # the date sits at the minimum-segment boundary of its segment
    stability: float | None = None
    shape: str = "step"
    transition: tuple[int, int] | None = None  # first and last period of a gradual change

    @property
    def p_value(self) -> float:
        return self.test.p_value

    @property
    def replicates(self) -> int:
        return self.test.replicates


@dataclass
class SeriesWork:
    """One series under elimination: its model, noise, candidates and cached segment tests."""

    key: str
    model: CountModel
    noise: Noise
    penalty: float
    length_penalty: float
    candidates: list[int]
    params: DriftParams
    null_phi: float = 1.0  # phi over the whole series (no change)
    rho_floor: float = 0.0  # the run's dependence, or a lone series' bound (tipdrift.dependence), under its own
    cps: list[int] = field(default_factory=list)
    tests: dict[tuple[int, int], SegmentTest] = field(default_factory=dict)
    matrices: dict[int, np.ndarray] = field(default_factory=dict)
    grid: dict[tuple[float, int], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cps = list(self.candidates)

    @property
    def T(self) -> int:
        return len(self.model.yk)

    @property
    def phi(self) -> float:
        return self.noise.phi

    def seed_for(self, purpose: str, s: int = 0, e: int = 0) -> list[int]:
        kind = 0 if self.model.kind == "mix" else 1
        return [self.params.seed, _stable_key(self.key), s, e, _PURPOSE[purpose], kind]

    def rng(self, s: int, e: int, purpose: str) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed_for(purpose, s, e)))

    def floored(self, noise: Noise) -> Noise:
        """`noise` with its rho raised to the run's dependence floor. For a mix at phi 1 the
        replicates have no wander to carry (the sieve's amplitude comes from phi - 1), but
        the floor still makes the test studentise its statistic (`inference.scan_statistic`):
        a wandering unit's phi estimate falls to 1 by chance (2-3% of units at rho 0.9, sd
        0.1, 20 a month), and an independent null with the raw ratio then gave those units
        most of a run's smallest p-values. Volume's statistic is never studentised: at phi 1
        its floor would change nothing but the rho reported, so it is not applied."""
        if noise.phi <= 1.0 and self.model.kind != "mix":
            return noise
        return Noise(phi=noise.phi, rho=max(noise.rho, self.rho_floor))

    @property
    def rho(self) -> float:
        """The dependence in force for this series' whole-series test: its own estimate, or
        the floor if higher. The floor is applied as that test applies it, at the null's phi
        (the whole series, no change): a volume series with a clean step can be Poisson
        within its segments (no floor there) and still be tested at the floor."""
        return self.floored(Noise(phi=max(self.noise.phi, self.null_phi), rho=self.noise.rho)).rho

    def segment(self, j: int) -> tuple[int, int]:
        bounds = [0] + self.cps + [self.T]
        return bounds[j], bounds[j + 2]

    def segment_noise(self, s: int, e: int) -> Noise:
        """Noise for the test of [s, e): phi over the whole segment (the null the test
        takes: no change inside), and the serial dependence of the residuals of its best
        single split (so a real change does not pose as dependence, while a slow wander,
        which no single split removes, still shows; methods.md 11)."""
        seg = self.model.yk[s:e]
        sub = model_for(self.model.kind, seg if self.model.kind == "mix" else seg[:, 0])
        _, tau = sub.scan(sub.yk[None], self.params.segment, self.noise.phi)
        null = estimate_noise(sub, [e - s], self.params)
        split = estimate_noise(sub, [int(tau[0]), e - s], self.params)
        return self.floored(Noise(phi=null.phi, rho=split.rho))

    def test(self, j: int) -> SegmentTest:
        s, e = self.segment(j)
        if (s, e) not in self.tests:
            p = self.params
            self.tests[(s, e)] = segment_test(self.model, self.model.yk[s:e], self.segment_noise(s, e), p.segment,
                                              p.n_boot, self.rng(s, e, "test"), offset=s)
        return self.tests[(s, e)]

    def refine(self, j: int) -> None:
        s, e = self.segment(j)
        p = self.params
        self.tests[(s, e)] = refine_p(self.model, self.model.yk[s:e], self.tests[(s, e)], self.segment_noise(s, e),
                                      p.segment, p.max_boot, self.rng(s, e, "refine"))

    def matrix(self, min_size: int) -> np.ndarray:
        """The search's cost matrix for `min_size` (cached). One matrix serves every
        minimum size from 2 up: the search reads only segments at least min_size long, and a
        segment's cost does not depend on the minimum."""
        key = min(min_size, 2)
        if key not in self.matrices:
            self.matrices[key] = self.model.cost_matrix(self.noise.phi, self.length_penalty, key)
            self.model.release()
        return self.matrices[key]

    def nearby(self, factor: float, min_size: int) -> list[int]:
        """Candidates the search proposes with the penalty times `factor` and `min_size`
        (cached: every kept shift of the series asks for the same few settings)."""
        if (factor, min_size) not in self.grid:
            self.grid[(factor, min_size)] = propose(self.model, self.noise, self.penalty * factor,
                                                    self.length_penalty, min_size, self.matrix(min_size))
        return self.grid[(factor, min_size)]

    def fitted_noise(self) -> Noise:
        """Noise within the segments of the kept change points: the model the intervals
        simulate (the tests simulate the null's noise, estimated without those changes)."""
        return self.floored(estimate_noise(self.model, self.cps + [self.T], self.params))

    def locate(self, j: int, p_adjusted: float, noise: Noise) -> Located:
        s, e = self.segment(j)
        t = self.test(j)
        m = self.params.segment
        loc = location_interval(self.model, self.model.yk[s:e], t.tau - s, noise, m, self.params.n_boot,
                                self.rng(s, e, "interval"))
        shape = Shape("step", t.tau - s, t.tau - s)
        if self.model.kind == "mix":
            shape = classify(self.model.yk[s:e], t.tau - s, noise, m, self.rng(s, e, "shape"))
        t1, t2 = shape.start + s, shape.end + s
        if shape.kind == "step":  # the centre of the most probable +-margin neighbourhood (inference.window_date)
            index = t1 = t2 = s + window_date(self.model, self.model.yk[s:e], m, noise.phi, max(1, m // 2))
        else:
            index = (t1 + t2 + 1) // 2
        # the point estimate is a refit on the data itself, and a gradual change's whole
        # transition is part of the change: the interval holds both
        return Located(index=index, segment=(s, e), ci_index=(min(loc.lo + s, t1, index), max(loc.hi + s, t2, index)),
                       test=t, p_adjusted=p_adjusted, effect_ci=(loc.effect_lo, loc.effect_hi),
                       constrained=bool({t.tau, index} & {s + m, e - m}), stability=stability(self, t.tau),
                       shape=shape.kind, transition=(t1, t2))


def estimate_noise(model: CountModel, bkps: list[int], params: DriftParams) -> Noise:
    """phi (Pearson X^2 / df, floored at 1) and the latent AR(1) rho within the segments
    ending at `bkps`."""
    if not params.overdispersion:
        return Noise()
    x2, df = model.pearson(bkps)
    phi = max(1.0, x2 / df) if df > 0 else 1.0
    if not params.dependence:
        return Noise(phi=phi)
    T = len(model.yk)
    acf = mean_corrected(model.dependence(bkps), acf_lags(T), T / len(bkps))
    return Noise(phi=phi, rho=latent_rho(acf, phi, T))


def propose(model: CountModel, noise: Noise, pen: float, lp: float, min_size: int,
            matrix: np.ndarray | None = None, searched: list[int] | None = None) -> list[int]:
    """Candidate change points: the optimal segmentation of the cost divided by phi (dependence is left to the
    tests: dividing by a long-run factor here would hide real changes behind the inflated
    noise of a series with several of them); where the search proposes none, the best single
    change of the whole series. `matrix`: the cost matrix, and `searched`: the search's
    breakpoints on it, when already computed."""
    T = len(model.yk)
    if T < 2 * min_size:
        return []
    if searched is None:
        if matrix is None:
            matrix = model.cost_matrix(noise.phi, lp, min_size)
        searched = optimal_partition(matrix, pen, min_size)
    bkps = searched[:-1]
    if bkps:
        return bkps
    # Every analysed series enters the family with at least its best single change: the
    # scan over the whole series is valid whether or not the search kept it, so the family
    # holds the quiet series too (their p-values are uniform), not only the extreme ones a
    # penalty happened to select.
    _, tau = model.scan(model.yk[None], min_size, noise.phi)
    return [int(tau[0])]


def search_series(key: str, kind: str, y: np.ndarray, params: DriftParams) -> SeriesWork:
    """Noise and candidate change points of one series (search alternates with the noise
    estimate, which is taken within the fitted segments)."""
    model = model_for(kind, y)
    T, m = len(model.yk), params.segment
    pen, lp = penalty_for(params.penalty, model.n_params, T)
    # The first estimate is over the whole series (under "no change" the right one; fixed
    # blocks would absorb a slow wander), then re-estimated within the fitted segments.
    noise = null = estimate_noise(model, [T], params)
    searched: list[int] | None = None  # the search's breakpoints at the current `noise`
    for _ in range(3):
        searched = optimal_partition(model.cost_matrix(noise.phi, lp, m), pen, m) if T >= 2 * m else [T]
        new = estimate_noise(model, searched, params)
        if abs(new.phi - noise.phi) <= 0.02 * noise.phi:
            break
        noise, searched = new, None
    work = SeriesWork(key=key, model=model, noise=new, penalty=float(pen), length_penalty=lp,
                      candidates=propose(model, noise, pen, lp, m, searched=searched), params=params,
                      null_phi=null.phi)
    model.release()  # every series of a run is held until elimination ends
    return work


STABILITY_GRID: tuple[tuple[float, int], ...] = ((0.5, 0), (2.0, 0), (1.0, -1), (1.0, 1))


def stability(work: SeriesWork, tau: int) -> float:
    """Share of nearby settings (the penalty halved and doubled, the minimum segment one
    shorter and one longer) under which the search still proposes a change within
    max(1, min_size // 2) periods of `tau`: a shift that hinges on a setting shows it."""
    m0 = work.params.segment
    margin = max(1, m0 // 2)
    hits = runs = 0
    for factor, delta in STABILITY_GRID:
        m = m0 + delta
        if m < 2:
            continue
        runs += 1
        hits += any(abs(c - tau) <= margin for c in work.nearby(factor, m))
    return hits / runs if runs else 0.0


def _tests(w: SeriesWork) -> list[SegmentTest]:
    return [w.test(j) for j in range(len(w.cps))]


def _adjusted(works: list[SeriesWork], m: int, workers: int = 1) -> list[np.ndarray]:
    """BH-adjusted p of every work's current candidates, over a family of size m (the
    tests not yet cached run in `workers` threads, series by series)."""
    tests = pmap(_tests, works, workers)
    flat = bh_adjust(np.array([t.p_value for ts in tests for t in ts]), max(m, sum(len(ts) for ts in tests)))
    out, i = [], 0
    for ts in tests:
        out.append(flat[i:i + len(ts)])
        i += len(ts)
    return out


def eliminate(works: list[SeriesWork], params: DriftParams) -> list[list[Located]]:
    """Backward elimination at the BH-adjusted level over the family of all candidates of
    `works` (one kind); returns each work's kept change points, located."""
    m, workers = sum(len(w.candidates) for w in works), params.workers
    while True:
        changed, refine = False, []
        for w, adj in zip(works, _adjusted(works, m, workers)):
            if not len(adj) or adj.max() <= params.alpha:
                continue
            j = int(np.argmax(adj))
            t = w.test(j)
            if t.at_floor and t.replicates < params.max_boot:
                refine.append((w, j))  # only more replicates can tell whether the floor blocks it
            else:
                del w.cps[j]
            changed = True
        pmap(_refine, refine, workers)  # each touches only its own series' tests
        if not changed:
            break
    return pmap(_locate_all, list(zip(works, _adjusted(works, m, workers))), workers)


def _refine(item: tuple[SeriesWork, int]) -> None:
    item[0].refine(item[1])


def _locate_all(item: tuple[SeriesWork, np.ndarray]) -> list[Located]:
    """One work's kept change points, located (with their BH-adjusted p)."""
    w, adj = item
    noise = w.fitted_noise() if len(adj) else w.noise
    out = [w.locate(j, float(a), noise) for j, a in enumerate(adj)]
    w.matrices.clear()  # (T+1)^2 floats each, no longer needed once located
    return out


def fit_works(works: list[SeriesWork], params: DriftParams) -> tuple[list[list[Located]], RunDependence]:
    """The run's dependence floor for these works (one kind), then elimination. Too few
    series to pool: each series' own upper bound (`dependence.lone_floor`)."""
    dep = run_dependence(works, params)
    floors = (pmap(lambda w: lone_floor(w.model, w.null_phi, params.segment, w.seed_for("bound")), works,
                   params.workers) if dep.source == "unit" else [dep.rho] * len(works))
    for w, floor in zip(works, floors):
        w.rho_floor = floor
    return eliminate(works, params), dep


@dataclass
class SeriesFit:
    """What detection found in one series: phi, penalty, candidates and kept change points."""

    kind: str
    phi: float
    rho: float
    penalty: float
    candidates: list[int]
    shifts: list[Located]


def fit_series(y: np.ndarray, kind: str = "mix", params: DriftParams | None = None, key: str = "",
               **settings: Any) -> SeriesFit:
    """Detect, test and locate change points in one (T, K) count series (the family is
    this series' own candidates)."""
    return fit_run([y], kind, params, [key], **settings)[0]


def fit_run(ys: list[np.ndarray], kind: str = "mix", params: DriftParams | None = None,
            keys: list[str] | None = None, **settings: Any) -> list[SeriesFit]:
    """Detect, test and locate change points in several (T, K) count series as the units of
    one run: one false-discovery family, and the run's dependence pooled over them. `keys`
    name the units: every random draw is seeded by them, so pass names (the default is the
    position, which changes when the series are reordered)."""
    params = (params or DriftParams()).replace(**settings)
    keys = keys or [f"series-{i}" for i in range(len(ys))]
    works = pmap(lambda ky: search_series(ky[0], kind, np.asarray(ky[1]), params), list(zip(keys, ys, strict=True)),
                 params.workers)
    kept, _ = fit_works(works, params)
    return [SeriesFit(kind=kind, phi=w.phi, rho=w.rho, penalty=w.penalty, candidates=list(w.candidates), shifts=k)
            for w, k in zip(works, kept)]


def _status(unit: str, periods: list, y: np.ndarray, params: DriftParams) -> SeriesStatus:
    T, cases = len(periods), int(y.sum())
    status, reason = "analysed", None
    if T < 2 * params.segment:
        status, reason = "too_short", f"{T} periods, fewer than 2 x min_size = {2 * params.segment}"
    elif cases / T < params.min_cases_per_period:
        status, reason = "too_sparse", f"{cases / T:.2f} cases per period, fewer than {params.min_cases_per_period}"
    elif int((y.sum(axis=0) > 0).sum()) < 2:
        status, reason = "too_sparse", "fewer than 2 categories observed"
    return SeriesStatus(unit=unit, periods=T, cases=cases, status=status, reason=reason, first_period=periods[0],
                        last_period=periods[-1])


def _effect(kind: str, before: np.ndarray, after: np.ndarray, categories: list[str]) -> tuple[dict, dict, Effect]:
    if kind == "volume":
        mb, ma = float(before.sum() / len(before)), float(after.sum() / len(after))
        return {"cases_per_period": mb}, {"cases_per_period": ma}, Effect(ratio=ma / mb if mb else None)
    tb, ta = before.sum(axis=0), after.sum(axis=0)
    b = {c: (float(v / tb.sum()) if tb.sum() else 0.0) for c, v in zip(categories, tb)}
    a = {c: (float(v / ta.sum()) if ta.sum() else 0.0) for c, v in zip(categories, ta)}
    moved = sorted(categories, key=lambda c: -abs(a[c] - b[c]))
    effect = Effect(tvd=0.5 * sum(abs(a[c] - b[c]) for c in categories),
                    moved=[Moved(c, b[c], a[c]) for c in moved[:3] if abs(a[c] - b[c]) >= 0.01])
    if UNKNOWN in categories:
        effect.unknown_change = a[UNKNOWN] - b[UNKNOWN]
        effect.known_before, effect.known_after = _known_shares(b), _known_shares(a)
    return b, a, effect


def _known_shares(shares: dict[str, float]) -> dict[str, float]:
    """Shares among the recorded types (the unknown share taken out and the rest rescaled)."""
    known = 1.0 - shares.get(UNKNOWN, 0.0)
    return {c: (v / known if known > 0 else 0.0) for c, v in shares.items() if c != UNKNOWN}


def make_shift(unit: str, kind: str, periods: list, y: np.ndarray, categories: list[str], loc: Located,
               phi: float) -> Shift:
    """A typed Shift from a located change point and its unit's periods and counts."""
    s, e = loc.segment
    t1, t2 = loc.transition or (loc.index, loc.index)
    # before and after: the pure parts either side of the change (a step's t1 = t2 = its date;
    # a gradual change's transition periods [t1, t2] belong to neither side)
    after_start = t2 + 1 if loc.shape == "gradual" else t2
    before, after, effect = _effect(kind, y[s:t1], y[after_start:e], categories)
    effect.ci = loc.effect_ci
    completeness = kind == "mix" and effect.completeness_driven
    return Shift(status="artifact_compatible" if completeness else "unexplained",
                 status_reason="recording completeness" if completeness else None,
                 unit=unit, kind=kind, index=loc.index, segment_index=loc.segment, ci_index=loc.ci_index,
                 period=periods[loc.index], segment=(periods[s], periods[e - 1]),
                 ci=(periods[loc.ci_index[0]], periods[loc.ci_index[1]]), statistic=loc.test.statistic,
                 p_value=loc.p_value, replicates=loc.replicates, phi=phi, before=before, after=after, effect=effect,
                 p_adjusted=loc.p_adjusted, shape=loc.shape, transition=(periods[t1], periods[t2]),
                 transition_index=(t1, t2), location_constrained=loc.constrained, stability=loc.stability)


class DriftDetector:
    """Detect mix (and volume) shifts in every unit of a CountSeries.

    Configure in the constructor (a `DriftParams`, or its fields as keywords), call
    `fit(series)` (parameters are validated there), read `shifts_` (typed `Shift` records),
    `statuses_` (one `SeriesStatus` per unit), `series_` (the same as a frame) and
    `family_` (candidates tested per kind: the BH family) and `dependence_` (the run's
    serial-dependence floor per kind, `tipdrift.dependence`).
    """

    def __init__(self, params: DriftParams | None = None, **settings: Any) -> None:
        self.params = params
        self.settings = settings

    def fit(self, series: CountSeries) -> "DriftDetector":
        p = (self.params or DriftParams()).replace(**self.settings)
        self.params_ = p
        mats = series.matrices()
        self.statuses_ = [_status(u, *mats[u], p) for u in sorted(mats)]
        analysed = [s.unit for s in self.statuses_ if s.status == "analysed"]
        self.shifts_: list[Shift] = []
        self.family_: dict[str, int] = {}
        self.dependence_: dict[str, RunDependence] = {}
        by_unit = {s.unit: s for s in self.statuses_}
        for kind in KINDS[:2 if p.volume else 1]:
            works = pmap(lambda u: search_series(u, kind, mats[u][1], p), analysed, p.workers)
            self.family_[kind] = sum(len(w.candidates) for w in works)
            located, self.dependence_[kind] = fit_works(works, p)
            for u, w, kept in zip(analysed, works, located):
                setattr(by_unit[u], f"phi_{kind}", w.phi)
                setattr(by_unit[u], f"dependence_{kind}", w.rho)
                periods, y = mats[u]
                self.shifts_ += [make_shift(u, kind, periods, y, series.categories, loc, w.phi) for loc in kept
                                 if kind != "mix" or loc.effect_ci[0] >= p.min_effect]
        self.shifts_.sort(key=lambda s: (s.unit, KINDS.index(s.kind), s.index))
        return self

    @property
    def series_(self) -> pl.DataFrame:
        return pl.DataFrame([s.to_json() for s in self.statuses_])
