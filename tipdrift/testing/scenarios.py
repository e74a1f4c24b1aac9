"""Scenario series unlike tipdrift's own generator, with known truth, and their scorer.

`tipdrift.testing.synth` plants clean steps in independent multinomial months; a detector
tuned on it can look better than it is. The generators here break one assumption each
(methods.md sections 4-5, 11-14):

- `ar1_no_change`: no change at all, but the logit shares wander as a stationary AR(1)
  (section 11): the scan statistic finds "steps" in the wander.
- `independent_step`: one abrupt step of an exact TVD, optionally Dirichlet-multinomial
  overdispersed (section 2).
- `gradual`: a linear transition of the shares over `length` periods (section 12); the
  date scored is the midpoint.
- `appearing` / `disappearing`: a category with share exactly 0 on one side (section 13).
- `yearly_step`: 15 yearly periods, few segments' worth of data.

Every generator takes a `numpy.random.Generator` and returns `(y, truth)`: `y` a (T, K)
int64 count array, `truth` a `Truth` (change points as the first index of the new regime,
the dates interval coverage is scored against, the planted TVD).

Scoring follows section 6 (TCPDBench): `score` (TP by `evaluate.true_positives`, precision,
recall, F1), `interval_coverage` (share of matched true dates inside the 95% interval),
`found_from_fit` / `found_from_shifts` (what a fit reported, with fields that may be added
later read by `getattr`), `evaluate_scenario` (N series of one scenario through
`fit_series`) and `many_units` / `score_units_shifts` (a many-unit frame for the
Benjamini-Hochberg check through `DriftDetector`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from tipdrift.testing.evaluate import f_measure, true_positives


# --------------------------------------------------------------------------- truth


@dataclass(frozen=True)
class Truth:
    """What was planted in one series."""

    scenario: str
    T: int
    K: int
    taus: tuple[int, ...] = ()  # first index of each new regime (gradual: the rounded midpoint)
    targets: tuple[float, ...] = ()  # dates interval coverage is scored against (gradual: the midpoint)
    tvd: float = 0.0  # total variation distance between the mixes before and after
    transition: tuple[int, int] | None = None  # gradual: shares move from t1 to t2 (p at t1, q from t2)
    freq: str = "month"
    before: tuple[float, ...] = ()
    after: tuple[float, ...] = ()
    phi: float = 1.0  # expected overdispersion (Dirichlet-multinomial), 1 for multinomial
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["before"] = [round(v, 6) for v in self.before]
        d["after"] = [round(v, 6) for v in self.after]
        return d


# --------------------------------------------------------------------------- drawing


def base_mix(rng: np.random.Generator, K: int, conc: float = 4.0, floor: float = 0.05) -> np.ndarray:
    """A random mix with every share at least `floor` (Dirichlet(conc), mixed with uniform)."""
    if K * floor >= 1:
        raise ValueError(f"floor {floor} too large for {K} categories")
    p = rng.dirichlet(np.full(K, conc))
    return floor + (1 - K * floor) * p


def shifted_mix(rng: np.random.Generator, p: np.ndarray, tvd: float, max_tries: int = 1000) -> np.ndarray:
    """A mix q with TVD(p, q) exactly `tvd`: a random set of categories loses `tvd` in
    proportion to its shares (losers keep some share: they hold more than 1.25 x tvd), the
    others gain `tvd` split by Dirichlet(1) weights."""
    p = np.asarray(p, float)
    K = len(p)
    if not 0 < tvd < 1:
        raise ValueError("tvd must be in (0, 1)")
    for _ in range(max_tries):
        losers = rng.random(K) < 0.5
        if losers.all() or not losers.any() or p[losers].sum() <= 1.25 * tvd:
            continue
        q = p.copy()
        q[losers] -= tvd * p[losers] / p[losers].sum()
        q[~losers] += tvd * rng.dirichlet(np.ones(int((~losers).sum())))
        return q / q.sum()
    raise ValueError(f"cannot move TVD {tvd} from mix {p.round(3).tolist()}")


def total_variation(p: Sequence[float], q: Sequence[float]) -> float:
    return 0.5 * float(np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def draw_counts(rng: np.random.Generator, P: np.ndarray, n: float, phi_conc: float | None = None) -> np.ndarray:
    """Counts for shares P (T, K): totals Poisson(n); multinomial, or Dirichlet-multinomial
    with concentration `phi_conc` (each period's shares ~ Dirichlet(phi_conc * P[t]);
    overdispersion phi ~ 1 + (n - 1) / (phi_conc + 1)). Zero shares stay zero."""
    P = np.clip(np.asarray(P, float), 0, None)
    P = P / P.sum(axis=1, keepdims=True)
    totals = rng.poisson(n, len(P))
    if phi_conc is not None:
        g = rng.gamma(phi_conc * P)  # shape 0 gives 0
        s = g.sum(axis=1, keepdims=True)
        P = np.where(s > 0, g / np.where(s > 0, s, 1), P)
    return rng.multinomial(totals, P).astype(np.int64)


def expected_phi(n: float, phi_conc: float | None) -> float:
    return 1.0 if phi_conc is None else 1.0 + (n - 1) / (phi_conc + 1)


def _softmax(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _tau(rng: np.random.Generator, lo: int, hi: int) -> int:
    if hi < lo:
        raise ValueError(f"no room for a change point in [{lo}, {hi}]")
    return int(rng.integers(lo, hi + 1))


# --------------------------------------------------------------------------- scenarios


def ar1_path(rng: np.random.Generator, T: int, width: int, rho: float, sd: float) -> np.ndarray:
    """`width` independent stationary AR(1) paths of length T (T, width): coefficient `rho`,
    innovation sd `sd`, started from the stationary law. A plain recursion, not tipdrift's
    own (`models.ar1_standard`), so the scenarios do not share its code."""
    e = rng.normal(0.0, sd, (T, width))
    x = np.empty((T, width))
    x[0] = rng.normal(0.0, sd / math.sqrt(1 - rho ** 2), width)
    for t in range(1, T):
        x[t] = rho * x[t - 1] + e[t]
    return x


def ar1_no_change(rng: np.random.Generator, T: int = 120, K: int = 4, n: float = 30, rho: float = 0.9,
                  sd: float = 0.1, phi_conc: float | None = None) -> tuple[np.ndarray, Truth]:
    """No change: logit shares = log(base mix) + x_t, each x_t[k] a stationary AR(1) with
    coefficient `rho` and innovation sd `sd` (started from its stationary law). `sd=0`
    gives independent multinomial months."""
    p = base_mix(rng, K)
    x = ar1_path(rng, T, K, rho, sd) if sd > 0 else np.zeros((T, K))
    P = _softmax(np.log(p)[None] + x)
    y = draw_counts(rng, P, n, phi_conc)
    return y, Truth("ar1_no_change", T, K, before=tuple(p), after=tuple(p), phi=expected_phi(n, phi_conc),
                    settings={"n": n, "rho": rho, "sd": sd, "stationary_sd": sd / math.sqrt(1 - rho ** 2),
                              "phi_conc": phi_conc})


def independent_step(rng: np.random.Generator, T: int = 120, K: int = 4, n: float = 20, tvd: float = 0.15,
                     phi_conc: float | None = None, edge: int = 20) -> tuple[np.ndarray, Truth]:
    """One abrupt step at tau ~ U{edge, ..., T - edge}; the mix after is at TVD exactly `tvd`
    from the mix before. Optional Dirichlet-multinomial overdispersion (`phi_conc`)."""
    p = base_mix(rng, K)
    q = shifted_mix(rng, p, tvd)
    tau = _tau(rng, edge, T - edge)
    P = np.vstack([np.repeat(p[None], tau, 0), np.repeat(q[None], T - tau, 0)])
    y = draw_counts(rng, P, n, phi_conc)
    return y, Truth("independent_step", T, K, taus=(tau,), targets=(float(tau),), tvd=total_variation(p, q),
                    before=tuple(p), after=tuple(q), phi=expected_phi(n, phi_conc),
                    settings={"n": n, "phi_conc": phi_conc})


def gradual(rng: np.random.Generator, T: int = 120, K: int = 4, n: float = 20, tvd: float = 0.3, length: int = 24,
            phi_conc: float | None = None, edge: int = 20) -> tuple[np.ndarray, Truth]:
    """Shares move linearly from p (up to t1) to q (from t2 = t1 + length on), with
    TVD(p, q) = `tvd`; t1 ~ U{edge, ..., T - edge - length}. The scored date is the midpoint
    t1 + length / 2 (`taus` holds it rounded down)."""
    p = base_mix(rng, K)
    q = shifted_mix(rng, p, tvd)
    t1 = _tau(rng, edge, T - edge - length)
    t2 = t1 + length
    w = np.clip((np.arange(T) - t1) / length, 0.0, 1.0)[:, None]
    P = (1 - w) * p[None] + w * q[None]
    y = draw_counts(rng, P, n, phi_conc)
    mid = t1 + length / 2
    return y, Truth("gradual", T, K, taus=(int(math.floor(mid)),), targets=(float(mid),), tvd=total_variation(p, q),
                    transition=(t1, t2), before=tuple(p), after=tuple(q), phi=expected_phi(n, phi_conc),
                    settings={"n": n, "length": length, "phi_conc": phi_conc})


def _zero_share(rng: np.random.Generator, name: str, T: int, K: int, n: float, share: float,
                phi_conc: float | None, edge: int, appear: bool) -> tuple[np.ndarray, Truth]:
    j = int(rng.integers(K))
    rest = base_mix(rng, K - 1)
    with_j = np.insert((1 - share) * rest, j, share)
    without = np.insert(rest, j, 0.0)
    p, q = (without, with_j) if appear else (with_j, without)
    tau = _tau(rng, edge, T - edge)
    P = np.vstack([np.repeat(p[None], tau, 0), np.repeat(q[None], T - tau, 0)])
    y = draw_counts(rng, P, n, phi_conc)
    return y, Truth(name, T, K, taus=(tau,), targets=(float(tau),), tvd=total_variation(p, q), before=tuple(p), after=tuple(q),
                    phi=expected_phi(n, phi_conc), settings={"n": n, "category": j, "share": share,
                                                              "phi_conc": phi_conc})


def appearing(rng: np.random.Generator, T: int = 120, K: int = 4, n: float = 20, share: float = 0.2,
              phi_conc: float | None = None, edge: int = 20) -> tuple[np.ndarray, Truth]:
    """A category with share exactly 0 before tau and `share` from tau on (a new case type
    is recorded); the others keep their relative shares. TVD = `share`."""
    return _zero_share(rng, "appearing", T, K, n, share, phi_conc, edge, appear=True)


def disappearing(rng: np.random.Generator, T: int = 120, K: int = 4, n: float = 20, share: float = 0.2,
                 phi_conc: float | None = None, edge: int = 20) -> tuple[np.ndarray, Truth]:
    """A category with share `share` before tau and exactly 0 from tau on."""
    return _zero_share(rng, "disappearing", T, K, n, share, phi_conc, edge, appear=False)


def yearly_step(rng: np.random.Generator, T: int = 15, K: int = 4, n: float = 200, tvd: float = 0.2,
                tau_range: tuple[int, int] = (3, 12), phi_conc: float | None = None) -> tuple[np.ndarray, Truth]:
    """A yearly series: one step of TVD `tvd` at tau ~ U{tau_range} (inclusive)."""
    p = base_mix(rng, K)
    q = shifted_mix(rng, p, tvd)
    tau = _tau(rng, *tau_range)
    P = np.vstack([np.repeat(p[None], tau, 0), np.repeat(q[None], T - tau, 0)])
    y = draw_counts(rng, P, n, phi_conc)
    return y, Truth("yearly_step", T, K, taus=(tau,), targets=(float(tau),), tvd=total_variation(p, q),
                    freq="year", before=tuple(p), after=tuple(q), phi=expected_phi(n, phi_conc),
                    settings={"n": n, "phi_conc": phi_conc})


GENERATORS: dict[str, Callable[..., tuple[np.ndarray, Truth]]] = {
    "ar1_no_change": ar1_no_change, "independent_step": independent_step, "gradual": gradual,
    "appearing": appearing, "disappearing": disappearing, "yearly_step": yearly_step,
}


@dataclass(frozen=True)
class Scenario:
    """One benchmark row: a generator with its settings, the detection settings and the margin."""

    name: str
    generator: str
    settings: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)  # DriftParams overrides
    margin: int = 3

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, Truth]:
        return GENERATORS[self.generator](rng, **self.settings)


SUITE: tuple[Scenario, ...] = (
    Scenario("iid_no_change", "ar1_no_change", {"sd": 0.0}),
    Scenario("ar1_no_change", "ar1_no_change", {"rho": 0.9, "sd": 0.1}),
    # the rest of issue 10's grid: innovation sd 0.05-0.1, 10-100 cases a month
    *(Scenario(f"ar1_sd{sd}_n{n}", "ar1_no_change", {"rho": 0.9, "sd": sd, "n": n})
      for sd, n in ((0.05, 10), (0.05, 30), (0.05, 100), (0.1, 10), (0.1, 100))),
    Scenario("step_tvd0.15", "independent_step", {"tvd": 0.15}),
    Scenario("step_tvd0.15_dm", "independent_step", {"tvd": 0.15, "phi_conc": 19.0}),  # phi ~ 1.95
    Scenario("step_tvd0.1_phi1.5", "independent_step", {"tvd": 0.1, "phi_conc": 37.0}),  # issue 10 item 6
    Scenario("step_tvd0.15_phi1.5", "independent_step", {"tvd": 0.15, "phi_conc": 37.0}),
    Scenario("gradual_24", "gradual", {"tvd": 0.3, "length": 24}),
    Scenario("appearing", "appearing", {"share": 0.2}),
    Scenario("disappearing", "disappearing", {"share": 0.2}),
    Scenario("yearly_step", "yearly_step", {"tvd": 0.2}, fit={"min_size": 3, "freq": "year"}, margin=1),
)


# --------------------------------------------------------------------------- what was found


@dataclass
class Found:
    """One reported change point: index, 95% interval (inclusive) and what else it carries."""

    index: int
    lo: int
    hi: int
    p_value: float | None = None
    p_adjusted: float | None = None
    tvd: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # fields added later (shape, transition, ...)


_EXTRA = ("shape", "transition", "stability", "kind_of_change", "midpoint")


def _plain(v: Any) -> Any:
    if isinstance(v, (dt.date,)):
        return v.isoformat()
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _extras(obj: Any) -> dict[str, Any]:
    out = {k: _plain(getattr(obj, k)) for k in _EXTRA if getattr(obj, k, None) is not None}
    eff = getattr(obj, "effect", None)
    ci = getattr(eff, "tvd_ci", None) if eff is not None else None
    if ci is not None:
        out["tvd_ci"] = _plain(ci)
    return out


def found_from_fit(fit: Any, y: np.ndarray | None = None) -> list[Found]:
    """The kept change points of a `fit_series` result; with `y`, the TVD between the mixes
    of the segment before and after each (plug-in, as `DriftDetector` reports it)."""
    out = []
    for loc in getattr(fit, "shifts", []):
        lo, hi = getattr(loc, "ci_index", (loc.index, loc.index))
        t = None
        seg = getattr(loc, "segment", None)
        if y is not None and seg is not None:
            a, b = y[seg[0]:loc.index].sum(0), y[loc.index:seg[1]].sum(0)
            if a.sum() and b.sum():
                t = total_variation(a / a.sum(), b / b.sum())
        eff = getattr(loc, "effect", None)
        if t is None and eff is not None:
            t = getattr(eff, "tvd", None)
        out.append(Found(int(loc.index), int(lo), int(hi), getattr(loc, "p_value", None),
                         getattr(loc, "p_adjusted", None), t, _extras(loc)))
    return out


def _months_since(d: dt.date, start: dt.date) -> int:
    return (d.year - start.year) * 12 + d.month - start.month


def found_from_shifts(shifts: Iterable[Any], unit: str, start: dt.date | None = None,
                      kind: str = "mix") -> list[Found]:
    """A unit's shifts from `DriftDetector.shifts_`; with `start` (monthly series), indices
    are months since `start` (read from the dates, not the unit's own period count)."""
    out = []
    for s in shifts:
        if getattr(s, "unit", None) != unit or getattr(s, "kind", kind) != kind:
            continue
        if start is not None and getattr(s, "period", None) is not None:
            i = _months_since(s.period, start)
            ci = getattr(s, "ci", None) or (s.period, s.period)
            lo, hi = _months_since(ci[0], start), _months_since(ci[1], start)
        else:
            i = int(s.index)
            lo, hi = getattr(s, "ci_index", (i, i))
        eff = getattr(s, "effect", None)
        out.append(Found(int(i), int(lo), int(hi), getattr(s, "p_value", None), getattr(s, "p_adjusted", None),
                         getattr(eff, "tvd", None) if eff is not None else None, _extras(s)))
    return out


# --------------------------------------------------------------------------- scoring


def match(truth: Iterable[float], found: Iterable[float], margin: float) -> list[tuple[float, float]]:
    """(true, found) pairs by the TCPDBench rule of `evaluate.true_positives`: for each true
    date in order, the nearest unused detection within the margin (ties: the earlier)."""
    used: set[float] = set()
    preds = sorted(set(found))
    pairs = []
    for tau in sorted(set(truth)):
        close = [x for x in preds if abs(tau - x) <= margin and x not in used]
        if close:
            x = min(close, key=lambda x: (abs(tau - x), x))
            used.add(x)
            pairs.append((tau, x))
    return pairs


def score(truth_taus: Iterable[float], found_taus: Iterable[float], margin: float) -> dict[str, Any]:
    """TP, precision, recall of one series (no 0 added: counts pool over series), and the
    TCPDBench F1 (0 added to both sets, so no change and no detection gives F1 = 1)."""
    t, x = sorted(set(truth_taus)), sorted(set(found_taus))
    tp = true_positives(t, x, margin)
    return {"tp": tp, "n_true": len(t), "n_found": len(x),
            "precision": tp / len(x) if x else float("nan"), "recall": tp / len(t) if t else float("nan"),
            "f1_tcpd": f_measure(t, x, margin)["f1"]}


def pool(scores: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Precision, recall and F1 with TP, detections and true changes summed over series."""
    scores = list(scores)
    tp = sum(s["tp"] for s in scores)
    nt = sum(s["n_true"] for s in scores)
    nf = sum(s["n_found"] for s in scores)
    p = tp / nf if nf else float("nan")
    r = tp / nt if nt else float("nan")
    f1 = 2 * p * r / (p + r) if nf and nt and p + r > 0 else float("nan")
    return {"tp": tp, "n_true": nt, "n_found": nf, "precision": p, "recall": r, "f1": f1,
            "mean_f1_tcpd": float(np.mean([s["f1_tcpd"] for s in scores])) if scores else float("nan")}


def nearest_coverage(targets: Iterable[float], found: Iterable[Found | tuple[int, int, int]]) -> dict[str, Any]:
    """Of the true dates in a series with any detection, how many lie in the 95% interval of
    the detection nearest them. Unlike `interval_coverage` this does not first keep only
    detections dated within the margin: a step dated 5 months off with an interval that
    misses it counts against the interval (scoring only matched dates inflates coverage)."""
    rows = [(f.index, f.lo, f.hi) if isinstance(f, Found) else tuple(f) for f in found]
    targets = list(targets)
    if not rows:
        return {"dates": 0, "covered": 0, "widths": []}
    near = [min(rows, key=lambda r: abs(r[0] - tau)) for tau in targets]
    return {"dates": len(near), "covered": sum(lo <= tau <= hi for tau, (_, lo, hi) in zip(targets, near)),
            "widths": [hi - lo + 1 for _, lo, hi in near]}


def interval_coverage(targets: Iterable[float], found: Iterable[Found | tuple[int, int, int]],
                      margin: float) -> dict[str, Any]:
    """Of the true dates matched to a detection (TCPDBench rule on the detection's index),
    how many lie in the detection's inclusive 95% interval [lo, hi]."""
    rows = [(f.index, f.lo, f.hi) if isinstance(f, Found) else tuple(f) for f in found]
    by_index = {}
    for i, lo, hi in rows:
        by_index.setdefault(i, (lo, hi))
    pairs = match(targets, by_index, margin)
    covered = sum(by_index[x][0] <= tau <= by_index[x][1] for tau, x in pairs)
    widths = [by_index[x][1] - by_index[x][0] + 1 for _, x in pairs]
    return {"matched": len(pairs), "covered": covered,
            "coverage": covered / len(pairs) if pairs else float("nan"), "widths": widths}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95% interval of a proportion k / n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


# --------------------------------------------------------------------------- running


def series_rng(seed: int, scenario: str, rep: int) -> np.random.Generator:
    """Independent generator per (seed, scenario, replicate): rows do not share draws."""
    key = int.from_bytes(hashlib.sha256(scenario.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, key, rep]))


def evaluate_scenario(scenario: Scenario, reps: int, seed: int = 0,
                      fit: Callable[..., Any] | None = None, run: bool = False,
                      **fit_overrides: Any) -> dict[str, Any]:
    """Draw `reps` series of `scenario`, fit each with `fit_series` (default parameters,
    the scenario's overrides, then `fit_overrides`; detection seed = replicate), or with
    `run=True` all of them as the units of one run (`fit_run`: one BH family, the run's
    dependence pooled over them; detection seed = `seed`), and score: false-alarm rate on
    no-change series; pooled recall/precision/F1 otherwise; interval coverage of the
    matched true dates (gradual: the midpoint), and for gradual also `recall_window` (a
    detection anywhere in [t1 - margin, t2 + margin])."""
    from tipdrift.detect import fit_run, fit_series
    from tipdrift.params import DriftParams

    if run and fit is not None:
        raise ValueError("run=True fits the series together with fit_run: a per-series `fit` does not apply")
    settings = {**scenario.fit, **fit_overrides}
    drawn = [scenario.draw(series_rng(seed, scenario.name, rep)) for rep in range(reps)]
    keys = [f"{scenario.name}-{rep}" for rep in range(reps)]
    t0 = time.perf_counter()
    if run:
        fits = fit_run([y for y, _ in drawn], "mix", DriftParams(seed=seed).replace(**settings), keys)
    else:
        one = fit or fit_series
        fits = [one(y, "mix", DriftParams(seed=rep).replace(**settings), key=k)
                for rep, ((y, _), k) in enumerate(zip(drawn, keys))]
    elapsed = time.perf_counter() - t0
    records = [_record(rep, scenario, y, truth, res) for rep, ((y, truth), res) in enumerate(zip(drawn, fits))]
    return {"scenario": scenario.name, "generator": scenario.generator, "settings": scenario.settings,
            "fit": settings, "margin": scenario.margin, "reps": reps, "seed": seed, "runtime_s": elapsed,
            "run": run, "summary": summarise(records), "records": records}


def _record(rep: int, scenario: Scenario, y: np.ndarray, truth: Truth, res: Any) -> dict[str, Any]:
    """One series' truth, what was found and its scores."""
    found = found_from_fit(res, y)
    rec = {"rep": rep, "margin": scenario.margin, "truth": truth.to_json(), "phi": getattr(res, "phi", None),
           "rho": getattr(res, "rho", None), "candidates": list(getattr(res, "candidates", [])),
           "found": [asdict(f) for f in found],
           "score": score(truth.taus, [f.index for f in found], scenario.margin),
           "coverage": interval_coverage(truth.targets, found, scenario.margin),
           "coverage_nearest": nearest_coverage(truth.targets, found)}
    if truth.transition is not None:
        t1, t2 = truth.transition
        rec["in_window"] = any(t1 - scenario.margin <= f.index <= t2 + scenario.margin for f in found)
    return rec


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Table figures of one scenario's records."""
    n = len(records)
    null = [r for r in records if not r["truth"]["taus"]]
    alarms = sum(bool(r["found"]) for r in null)
    out: dict[str, Any] = {"series": n, "shifts_per_series": sum(len(r["found"]) for r in records) / n if n else 0.0,
                           "mean_phi": float(np.mean([r["phi"] for r in records if r["phi"] is not None]))
                           if records else float("nan"),
                           "mean_rho": float(np.mean([r["rho"] for r in records if r.get("rho") is not None]))
                           if any(r.get("rho") is not None for r in records) else float("nan")}
    if null:
        out["no_change_series"] = len(null)
        out["false_alarm_rate"] = alarms / len(null)
        out["false_alarm_ci"] = wilson(alarms, len(null))
    changed = [r for r in records if r["truth"]["taus"]]
    if changed:
        out.update({k: v for k, v in pool(r["score"] for r in changed).items()})
        cov = [r["coverage"] for r in changed]
        m = sum(c["matched"] for c in cov)
        c = sum(c["covered"] for c in cov)
        out["coverage_matched"] = m
        out["coverage"] = c / m if m else float("nan")
        dn = sum(r["coverage_nearest"]["dates"] for r in changed)
        out["coverage_nearest_dates"] = dn
        out["coverage_nearest"] = sum(r["coverage_nearest"]["covered"] for r in changed) / dn if dn else float("nan")
        near_widths = [w for r in changed for w in r["coverage_nearest"]["widths"]]
        out["median_ci_width_nearest"] = float(np.median(near_widths)) if near_widths else float("nan")
        widths = [w for c in cov for w in c["widths"]]
        out["median_ci_width"] = float(np.median(widths)) if widths else float("nan")
        errs, tv = [], []
        for r in changed:
            by_index = {f["index"]: f for f in r["found"]}
            for tau, x in match(r["truth"]["targets"], by_index, r["margin"]):
                errs.append(x - tau)
                if by_index[x]["tvd"] is not None:
                    tv.append(by_index[x]["tvd"] - r["truth"]["tvd"])
        if errs:
            out["mean_abs_index_error"] = float(np.mean(np.abs(errs)))
        if tv:
            out["tvd_bias_matched"] = float(np.mean(tv))
        if any("in_window" in r for r in changed):
            out["recall_window"] = float(np.mean([r.get("in_window", False) for r in changed]))
    shapes: dict[str, int] = {}
    for r in records:
        for f in r["found"]:
            s = f["extra"].get("shape")
            if s is not None:
                shapes[str(s)] = shapes.get(str(s), 0) + 1
    if shapes:
        out["shapes"] = shapes
    return out


# --------------------------------------------------------------------------- the location an oracle reaches


def _step_loglik(y: np.ndarray, truth: Truth, conc: float | None) -> np.ndarray:
    """Per period, log P(y_t | mix before) - log P(y_t | mix after), under the exact noise law."""
    from scipy.special import gammaln

    logs = []
    for shares in (truth.before, truth.after):
        p = np.asarray(shares, dtype=float)
        if conc is None:
            logs.append((y * np.log(np.where(p > 0, p, 1.0))).sum(axis=1))
        else:
            a = conc * p
            logs.append(gammaln(a.sum()) - gammaln(y.sum(1) + a.sum()) + (gammaln(y + a) - gammaln(a)).sum(1))
    return logs[0] - logs[1]


def null_scan_quantile(scenario: Scenario, min_size: int, seed: int = 0, draws: int = 2000,
                       level: float = 0.95) -> float:
    """The `level` quantile of the scan statistic (the largest profile likelihood ratio over
    the dates [min_size, T - min_size], divided by the known phi) on no-change series drawn
    with the scenario's own settings and exact noise law: an oracle's critical value, with
    nothing estimated but the mixes."""
    from tipdrift.models import MixModel

    st = {"T": 120, "K": 4, "n": 20, "phi_conc": None, **scenario.settings}
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x0A11]))
    mixes = np.stack([base_mix(rng, st["K"]) for _ in range(draws)])  # one no-change mix per series
    ys = draw_counts(rng, np.repeat(mixes, st["T"], axis=0), st["n"], st["phi_conc"]).reshape(draws, st["T"], -1)
    lr, _ = MixModel.profile(ys, min_size, expected_phi(st["n"], st["phi_conc"]))
    return float(np.quantile(lr.max(axis=1), level))


def oracle_location(scenario: Scenario, reps: int, seed: int = 0) -> dict[str, Any]:
    """How well the date of a step can be known at all, on the series `evaluate_scenario`
    draws (same seeds), by two oracles:
    - knowing the generator's uniform prior on the date, the mixes before and after and
      the exact noise law (multinomial, or Dirichlet-multinomial with the scenario's
      `phi_conc`), dated at the maximum of the likelihood (`ml_*`) and at the date whose +-margin window holds the most posterior
      mass (`best_*`). The second is the Bayes rule for "within the margin": on average no
      single date does better, so a recall target above `best_within_margin` asks for more
      than the data hold;
    - knowing only what a detector knows, and the noise scale phi: not the mixes (it
      estimates them) nor the prior (the date is uniform over the dates the detector
      allows, [min_size, T - min_size] at the scenario's `min_size`, 6 by default). It
      dates the step at the best window of the profile posterior exp(Lambda(tau) / 2),
      Lambda the multinomial likelihood ratio at each side's own shares over phi
      (`profile_*`, told that one step exists), and reports it only when its scan test
      rejects "no change" at 5% against the exact null law (`null_scan_quantile`;
      `tested_*`): a like-for-like reference for a detector's recall at a 5% false-alarm
      rate that must also estimate phi."""
    if scenario.generator != "independent_step":
        raise ValueError("the oracle dates one step with known mixes: independent_step scenarios only")
    critical = null_scan_quantile(scenario, int(scenario.fit.get("min_size", 6)), seed)
    rows = [_oracle_dates(scenario, *scenario.draw(series_rng(seed, scenario.name, rep)), critical)
            for rep in range(reps)]
    out: dict[str, Any] = {"scenario": scenario.name, "reps": reps, "critical_value": critical}
    for rule in ("ml", "best", "profile", "tested"):
        for m, name in ((scenario.margin, "margin"), (10, "10")):
            at = int(name == "10")  # each rule's dates are (for the margin, for 10 periods)
            out[f"{rule}_within_{name}"] = float(np.mean([r[rule] is not None and abs(r[rule][at] - r["tau"]) <= m
                                                          for r in rows]))
    return out


def _oracle_dates(scenario: Scenario, y: np.ndarray, truth: Truth, critical: float) -> dict[str, Any]:
    """One series' oracle dates: each rule's (date for the margin, date for 10 periods), the
    maximum-likelihood date serving both; `tested` is None when its scan test does not reject."""
    from tipdrift.inference import best_window
    from tipdrift.models import MixModel

    edge = int(scenario.settings.get("edge", 20))
    support = np.arange(edge, len(y) - edge + 1)  # the generator's
    ll = np.concatenate([[0.0], np.cumsum(_step_loglik(y, truth, scenario.settings.get("phi_conc")))])[support]
    lr, allowed = MixModel.profile(y[None], int(scenario.fit.get("min_size", 6)), truth.phi)
    lr = lr[0]

    def window(logpost: np.ndarray, taus: np.ndarray) -> tuple[int, int]:
        post = np.exp(logpost - logpost.max())
        return int(taus[best_window(post, scenario.margin, tie=0.0)]), int(taus[best_window(post, 10, tie=0.0)])

    ml = int(support[np.argmax(ll)])
    profile = window(lr / 2.0, allowed)
    return {"tau": truth.taus[0], "ml": (ml, ml), "best": window(ll, support), "profile": profile,
            "tested": profile if lr.max() > critical else None}


# --------------------------------------------------------------------------- many units (BH)


def many_units(rng: np.random.Generator, n_null: int = 300, n_step: int = 30, T: int = 96, K: int = 4,
               n: float = 20, tvd: float = 0.2, start: str = "2010-01-01",
               categories: Sequence[str] | None = None, null_sd: float = 0.0) -> tuple[Any, dict[str, list[int]]]:
    """A long frame (unit, date, category; one row per case, day of month uniform 1-28) of
    `n_null` no-change units (independent months, or with `null_sd` > 0 logit shares that
    wander as an AR(1) with rho 0.9 and that innovation sd) and `n_step` units with one
    step of TVD `tvd` (`independent_step`), monthly from `start`; and the truth, unit ->
    month indices."""
    import polars as pl

    cats = list(categories or [f"type_{chr(97 + k)}" for k in range(K)])
    first = np.datetime64(start[:7], "M")
    units, dates, cat_idx = [], [], []
    truth: dict[str, list[int]] = {}
    width = len(str(n_null + n_step))
    for i in range(n_null + n_step):
        name = f"U{i:0{width}d}"
        if i < n_null:
            y, tr = ar1_no_change(rng, T=T, K=K, n=n, rho=0.9, sd=null_sd)
        else:
            y, tr = independent_step(rng, T=T, K=K, n=n, tvd=tvd)
        truth[name] = list(tr.taus)
        flat = y.reshape(-1)
        tt = np.repeat(np.repeat(np.arange(T), K), flat)
        kk = np.repeat(np.tile(np.arange(K), T), flat)
        day = rng.integers(0, 28, len(tt))
        dates.append((first + tt).astype("datetime64[D]") + day)
        cat_idx.append(kk)
        units.append(np.full(len(tt), name))
    df = pl.DataFrame({"unit": np.concatenate(units), "date": np.concatenate(dates),
                       "category": np.array(cats)[np.concatenate(cat_idx)]})
    return df.with_columns(pl.col("date").cast(pl.Date)), truth


def score_units_shifts(shifts: Iterable[Any], truth: dict[str, list[int]], start: str | dt.date,
                       margin: int = 3, kind: str = "mix") -> dict[str, Any]:
    """False discovery proportion over all units (a discovery is false in a no-change unit,
    or when it is not matched to the unit's true change within the margin), power (share
    of true changes matched), and the share of no-change units with any shift.
    `false_in_no_change_units` separates the two kinds of false discovery: a shift where
    nothing changed (what BH bounds: its test's null was true) and one in a unit with a
    change but dated beyond the margin, or a second shift there."""
    start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    shifts = list(shifts)
    disc = false = tp = n_true = null_units = null_alarm = covered = null_false = 0
    for unit, taus in truth.items():
        found = found_from_shifts(shifts, unit, start, kind)
        sc = score(taus, [f.index for f in found], margin)
        disc += sc["n_found"]
        false += sc["n_found"] - sc["tp"]
        tp += sc["tp"]
        n_true += sc["n_true"]
        covered += interval_coverage(taus, found, margin)["covered"]
        if not taus:
            null_units += 1
            null_alarm += bool(found)
            null_false += len(found)
    return {"discoveries": disc, "false_discoveries": false, "fdp": false / disc if disc else 0.0,
            "false_in_no_change_units": null_false,
            "power": tp / n_true if n_true else float("nan"), "true_changes": n_true,
            "null_units": null_units, "null_units_with_shift": null_alarm,
            "coverage": covered / tp if tp else float("nan")}
