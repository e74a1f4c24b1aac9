"""Change points in case-type mixes and volumes, with honest significance and intervals.

Per series (methods.md sections 2-5):
1. overdispersion phi from Pearson X^2/df within segments (first within fixed blocks,
   then within the fitted segments), floored at 1; the cost is divided by phi;
2. search: PELT (`tipdrift.search`) with jump=1 and a minimum segment length proposes
   candidate change points;
3. each candidate is tested on the segment between its neighbours (`tipdrift.inference`).

Across units (section 14): the false-discovery family is every candidate tested, over
all units of the fit, per kind (mix, volume): the search's candidates, and for a series
where the search proposed none, its best single change on the whole series (so the
family is not only the extreme series a penalty selected). Benjamini-Hochberg runs over
that family; then backward elimination at the BH-adjusted level: in each unit the
candidate with the largest adjusted p is dropped if it exceeds alpha (its neighbours'
segment is re-tested), and BH runs again over the same family (eliminated candidates
count as p = 1), until every remaining candidate holds. A p-value stuck at the floor
1/(R+1) whose adjusted value blocks the decision is refined with more replicates first.
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

from tipdrift.inference import SegmentTest, bh_adjust, location_interval, refine_p, segment_test
from tipdrift.models import CountModel, model_for
from tipdrift.params import DriftParams
from tipdrift.search import pelt_search, penalty_for
from tipdrift.series import CountSeries
from tipdrift.shift import Effect, Moved, SeriesStatus, Shift

KINDS: tuple[str, ...] = ("mix", "volume")
_PURPOSE = {"test": 1, "interval": 2, "refine": 3}


def _stable_key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class Located:
    """A kept change point of one series, by index: the test, interval and adjusted p."""

    index: int
    segment: tuple[int, int]
    ci_index: tuple[int, int]
    test: SegmentTest
    p_adjusted: float

    @property
    def p_value(self) -> float:
        return self.test.p_value

    @property
    def replicates(self) -> int:
        return self.test.replicates


@dataclass
class SeriesWork:
    """One series under elimination: its model, phi, candidates and cached segment tests."""

    key: str
    model: CountModel
    phi: float
    penalty: float
    candidates: list[int]
    params: DriftParams
    cps: list[int] = field(default_factory=list)
    tests: dict[tuple[int, int], SegmentTest] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cps = list(self.candidates)

    @property
    def T(self) -> int:
        return len(self.model.yk)

    def rng(self, s: int, e: int, purpose: str) -> np.random.Generator:
        kind = 0 if self.model.kind == "mix" else 1
        return np.random.default_rng(np.random.SeedSequence(
            [self.params.seed, _stable_key(self.key), s, e, _PURPOSE[purpose], kind]))

    def segment(self, j: int) -> tuple[int, int]:
        bounds = [0] + self.cps + [self.T]
        return bounds[j], bounds[j + 2]

    def test(self, j: int) -> SegmentTest:
        s, e = self.segment(j)
        if (s, e) not in self.tests:
            p = self.params
            self.tests[(s, e)] = segment_test(self.model, self.model.yk[s:e], self.phi, p.min_size, p.n_boot,
                                              self.rng(s, e, "test"), offset=s)
        return self.tests[(s, e)]

    def refine(self, j: int) -> None:
        s, e = self.segment(j)
        p = self.params
        self.tests[(s, e)] = refine_p(self.model, self.model.yk[s:e], self.tests[(s, e)], self.phi, p.min_size,
                                      p.max_boot, self.rng(s, e, "refine"))

    def locate(self, j: int, p_adjusted: float) -> Located:
        s, e = self.segment(j)
        t = self.test(j)
        p = self.params
        lo, hi = location_interval(self.model, self.model.yk[s:e], t.tau - s, self.phi, p.min_size, p.n_boot,
                                   self.rng(s, e, "interval"))
        # the point estimate is a refit on the data itself: the interval holds it
        return Located(index=t.tau, segment=(s, e), ci_index=(min(lo + s, t.tau), max(hi + s, t.tau)), test=t,
                       p_adjusted=p_adjusted)


def estimate_phi(model: CountModel, bkps: list[int], overdispersion: bool = True) -> float:
    """Pearson X^2 / df within the segments ending at `bkps`, floored at 1."""
    if not overdispersion:
        return 1.0
    x2, df = model.pearson(bkps)
    return max(1.0, x2 / df) if df > 0 else 1.0


def search_series(key: str, kind: str, y: np.ndarray, params: DriftParams) -> SeriesWork:
    """phi and the candidate change points of one series (search alternates with phi)."""
    model = model_for(kind, y)
    T = len(model.yk)
    pen, lp = penalty_for(params.penalty, model.n_params, T)
    block = max(2 * params.min_size, 12)
    blocks = list(range(block, T - block + 1, block)) + [T] if T >= 2 * block else [T]
    phi = estimate_phi(model, blocks, params.overdispersion)
    for _ in range(3):
        bkps = pelt_search(model.cost(phi, lp).matrix(params.min_size), pen, params.min_size)
        new_phi = estimate_phi(model, bkps, params.overdispersion)
        if abs(new_phi - phi) <= 0.02 * phi:
            break
        phi = new_phi
    candidates = bkps[:-1]
    if not candidates:
        # Every analysed series enters the family with at least its best single change:
        # the scan over the whole series is valid whether or not the search kept it, so
        # the family holds the no-change units too (their p-values are uniform), not only
        # the extreme ones a penalty happened to select.
        _, tau = model.scan(model.yk[None], params.min_size, phi)
        candidates = [int(tau[0])]
    return SeriesWork(key=key, model=model, phi=float(phi), penalty=float(pen), candidates=candidates, params=params)


def _adjusted(works: list[SeriesWork], m: int) -> list[np.ndarray]:
    """BH-adjusted p of every work's current candidates, over a family of size m."""
    tests = [[w.test(j) for j in range(len(w.cps))] for w in works]
    flat = bh_adjust(np.array([t.p_value for ts in tests for t in ts]), max(m, sum(len(ts) for ts in tests)))
    out, i = [], 0
    for ts in tests:
        out.append(flat[i:i + len(ts)])
        i += len(ts)
    return out


def eliminate(works: list[SeriesWork], params: DriftParams) -> list[list[Located]]:
    """Backward elimination at the BH-adjusted level over the family of all candidates of
    `works` (one kind); returns each work's kept change points, located."""
    m = sum(len(w.candidates) for w in works)
    while True:
        changed = False
        for w, adj in zip(works, _adjusted(works, m)):
            if not len(adj) or adj.max() <= params.alpha:
                continue
            j = int(np.argmax(adj))
            t = w.test(j)
            if t.at_floor and t.replicates < params.max_boot:
                w.refine(j)  # only more replicates can tell whether the floor blocks it
            else:
                del w.cps[j]
            changed = True
        if not changed:
            break
    return [[w.locate(j, float(a)) for j, a in enumerate(adj)] for w, adj in zip(works, _adjusted(works, m))]


@dataclass
class SeriesFit:
    """What detection found in one series: phi, penalty, candidates and kept change points."""

    kind: str
    phi: float
    penalty: float
    candidates: list[int]
    shifts: list[Located]


def fit_series(y: np.ndarray, kind: str = "mix", params: DriftParams | None = None, key: str = "",
               **settings: Any) -> SeriesFit:
    """Detect, test and locate change points in one (T, K) count series (the family is
    this series' own candidates)."""
    params = (params or DriftParams()).replace(**settings)
    work = search_series(key, kind, np.asarray(y), params)
    kept = eliminate([work], params)[0]
    return SeriesFit(kind=kind, phi=work.phi, penalty=work.penalty, candidates=list(work.candidates), shifts=kept)


def _status(unit: str, periods: list, y: np.ndarray, params: DriftParams) -> SeriesStatus:
    T, cases = len(periods), int(y.sum())
    status, reason = "analysed", None
    if T < 2 * params.min_size:
        status, reason = "too_sparse", f"{T} periods, fewer than 2 x min_size = {2 * params.min_size}"
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
    return b, a, effect


def make_shift(unit: str, kind: str, periods: list, y: np.ndarray, categories: list[str], loc: Located,
               phi: float) -> Shift:
    """A typed Shift from a located change point and its unit's periods and counts."""
    s, e = loc.segment
    before, after, effect = _effect(kind, y[loc.segment[0]:loc.index], y[loc.index:e], categories)
    return Shift(unit=unit, kind=kind, index=loc.index, segment_index=loc.segment, ci_index=loc.ci_index,
                 period=periods[loc.index], segment=(periods[s], periods[e - 1]),
                 ci=(periods[loc.ci_index[0]], periods[loc.ci_index[1]]), statistic=loc.test.statistic,
                 p_value=loc.p_value, replicates=loc.replicates, phi=phi, before=before, after=after, effect=effect,
                 p_adjusted=loc.p_adjusted)


class DriftDetector:
    """Detect mix (and volume) shifts in every unit of a CountSeries.

    Configure in the constructor (a `DriftParams`, or its fields as keywords), call
    `fit(series)` (parameters are validated there), read `shifts_` (typed `Shift` records),
    `statuses_` (one `SeriesStatus` per unit), `series_` (the same as a frame) and
    `family_` (candidates tested per kind: the BH family).
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
        by_unit = {s.unit: s for s in self.statuses_}
        for kind in KINDS[:2 if p.volume else 1]:
            works = [search_series(u, kind, mats[u][1], p) for u in analysed]
            self.family_[kind] = sum(len(w.candidates) for w in works)
            for u, w, kept in zip(analysed, works, eliminate(works, p)):
                setattr(by_unit[u], f"phi_{kind}", w.phi)
                periods, y = mats[u]
                self.shifts_ += [make_shift(u, kind, periods, y, series.categories, loc, w.phi) for loc in kept]
        self.shifts_.sort(key=lambda s: (s.unit, KINDS.index(s.kind), s.index))
        return self

    @property
    def series_(self) -> pl.DataFrame:
        return pl.DataFrame([s.to_json() for s in self.statuses_])
