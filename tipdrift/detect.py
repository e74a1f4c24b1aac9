"""Change points in case-type mixes and volumes, with honest significance and intervals.

Per series (methods.md sections 2-5):
1. overdispersion phi from Pearson X^2/df within segments (first within fixed blocks,
   then within the fitted segments), floored at 1; the cost is divided by phi;
2. search: PELT with jump=1 and a minimum segment length, identical in result to
   `ruptures.Pelt(custom_cost=CostMultinomial(...), jump=1)` but run on a cost matrix
   computed in one numpy pass;
3. significance after selection: for each change point, the likelihood-ratio scan
   statistic on the segment between its neighbours against a parametric bootstrap
   under "no change" (pooled shares, observed period totals, Dirichlet-multinomial with
   the same phi), all replicates and candidate dates at once; change points that are
   not significant are dropped one at a time (weakest first) and the rest re-tested;
4. a 95% location interval from bootstrap refits of the fitted two-segment model.
Across units, `DriftDetector` adjusts the p-values with Benjamini-Hochberg.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
from statsmodels.stats.multitest import multipletests

from tipdrift.costs import CostMultinomial, CostPoisson, xlogx
from tipdrift.errors import ParameterError
from tipdrift.series import CountSeries

PENALTY_PRESETS = ("bic", "mbic")


# ---------------------------------------------------------------- penalties and search

def penalty_for(penalty: str | float, n_params: int, n_periods: int) -> tuple[float, float]:
    """(per-change penalty, per-segment log-length coefficient) on the -log L scale.

    bic: (p + 1)/2 log T; mbic: (p + 2)/2 log T plus 0.5 log(length) per segment, where p
    is the number of free parameters per segment (K - 1 shares, or 1 rate).
    """
    if isinstance(penalty, (int, float)) and not isinstance(penalty, bool):
        if penalty <= 0:
            raise ParameterError(f"penalty must be positive, not {penalty}")
        return float(penalty), 0.0
    try:
        value = float(penalty)
    except (TypeError, ValueError):
        value = None
    if value is not None:
        return penalty_for(value, n_params, n_periods)
    if penalty == "bic":
        return (n_params + 1) / 2 * np.log(n_periods), 0.0
    if penalty == "mbic":
        return (n_params + 2) / 2 * np.log(n_periods), 0.5
    raise ParameterError(f"penalty must be one of {', '.join(PENALTY_PRESETS)} or a positive number, not '{penalty}'")


def pelt_search(cost_matrix: np.ndarray, pen: float, min_size: int) -> list[int]:
    """PELT with jump=1 over a precomputed cost matrix; returns breakpoints ending with n.

    Follows `ruptures.Pelt._seg` step for step (same candidate order, first minimum on
    ties, same pruning rule), so both give the same breakpoints for the same costs.
    """
    n = cost_matrix.shape[0] - 1
    by_end = np.ascontiguousarray((cost_matrix + pen).T)  # by_end[e, s] = c(s, e) + pen
    F = np.full(n + 1, np.inf)
    F[0] = 0.0
    prev = np.full(n + 1, -1, dtype=np.int64)
    buf = np.empty(n + 1, dtype=np.int64)
    size = 0
    for bkp in list(range(min_size, n)) + [n]:
        new = bkp - min_size
        if new == 0 or new >= min_size:  # [0, new) has a partition; ruptures skips the others
            buf[size] = new
            size += 1
        adm = buf[:size]
        vals = F[adm] + by_end[bkp, adm]
        i = int(np.argmin(vals))
        F[bkp] = vals[i]
        prev[bkp] = adm[i]
        keep = adm[vals <= F[bkp] + pen]
        size = len(keep)
        buf[:size] = keep
    bkps = [n]
    while prev[bkps[-1]] > 0:
        bkps.append(int(prev[bkps[-1]]))
    return sorted(bkps)


# ---------------------------------------------------------------- the two models

def _stable_key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


class MixModel:
    """Case-type mix: counts (T, K), multinomial likelihood, Dirichlet-multinomial noise."""

    kind = "mix"

    def __init__(self, y: np.ndarray):
        self.y = np.asarray(y, dtype=float)
        self.keep = self.y.sum(axis=0) > 0  # categories never seen carry no information
        self.yk = self.y[:, self.keep]
        self.n_params = max(1, int(self.keep.sum()) - 1)

    def cost(self, phi: float, length_penalty: float) -> CostMultinomial:
        return CostMultinomial(phi=phi, length_penalty=length_penalty).fit(self.yk)

    def pearson(self, bkps: list[int]) -> tuple[float, float]:
        x2 = df = 0.0
        for s, e in zip([0] + bkps[:-1], bkps):
            seg = self.yk[s:e]
            n_t = seg.sum(axis=1)
            nk = seg.sum(axis=0)
            if nk.sum() == 0:
                continue
            p = nk / nk.sum()
            ok = p > 0
            exp = n_t[:, None] * p[None, ok]
            rows = n_t > 0
            x2 += float((((seg[:, ok] - exp) ** 2)[rows] / exp[rows]).sum())
            df += max(0, int(rows.sum()) - 1) * max(0, int(ok.sum()) - 1)
        return x2, df

    @staticmethod
    def scan(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        """Max over tau in [m, L-m] of 2[c(0,L) - c(0,tau) - c(tau,L)]/phi, per replicate."""
        cum = np.cumsum(ysim, axis=1)
        L = ysim.shape[1]
        total = cum[:, -1, :]
        taus = np.arange(m, L - m + 1)
        left = cum[:, taus - 1, :]
        right = total[:, None, :] - left

        def c(x: np.ndarray) -> np.ndarray:
            return xlogx(x.sum(axis=-1)) - xlogx(x).sum(axis=-1)

        lr = 2.0 * (c(total)[:, None] - c(left) - c(right)) / phi
        j = np.argmax(lr, axis=1)
        return lr[np.arange(len(lr)), j], taus[j]

    def simulate(self, seg: np.ndarray, shares: np.ndarray, phi: float, reps: int, rng: np.random.Generator) -> np.ndarray:
        """Counts (reps, L, K) with the observed period totals and given shares (K,) or (L, K)."""
        n_t = seg.sum(axis=1).astype(np.int64)
        L, K = seg.shape
        P = np.broadcast_to(shares, (L, K))
        if phi > 1.0:
            alpha = np.maximum((n_t - 1) / (phi - 1.0) - 1.0, 1e-2)
            g = rng.standard_gamma(np.broadcast_to(alpha[:, None] * P, (reps, L, K)))
            tot = g.sum(axis=-1, keepdims=True)
            P = np.where(tot > 0, g / np.where(tot > 0, tot, 1.0), P)
        else:
            P = np.broadcast_to(P, (reps, L, K))
        out = np.empty((reps, L, K))
        remaining = np.broadcast_to(n_t, (reps, L)).copy()
        left = np.ones((reps, L))
        for k in range(K - 1):
            q = np.clip(np.where(left > 1e-12, P[..., k] / np.maximum(left, 1e-12), 0.0), 0.0, 1.0)
            x = rng.binomial(remaining, q)
            out[..., k] = x
            remaining -= x
            left = left - P[..., k]
        out[..., K - 1] = remaining
        return out

    def null_shares(self, seg: np.ndarray) -> np.ndarray:
        return seg.sum(axis=0) / seg.sum()


class VolumeModel:
    """Case volume: period totals (T,), Poisson likelihood, gamma-Poisson noise."""

    kind = "volume"

    def __init__(self, y: np.ndarray):
        y = np.asarray(y, dtype=float)
        self.yk = (y.sum(axis=1) if y.ndim == 2 else y)[:, None]
        self.n_params = 1

    def cost(self, phi: float, length_penalty: float) -> CostPoisson:
        return CostPoisson(phi=phi, length_penalty=length_penalty).fit(self.yk)

    def pearson(self, bkps: list[int]) -> tuple[float, float]:
        x2 = df = 0.0
        for s, e in zip([0] + bkps[:-1], bkps):
            seg = self.yk[s:e, 0]
            mu = seg.mean()
            if mu <= 0:
                continue
            x2 += float(((seg - mu) ** 2).sum() / mu)
            df += len(seg) - 1
        return x2, df

    @staticmethod
    def scan(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        cum = np.cumsum(ysim[..., 0], axis=1)
        L = ysim.shape[1]
        total = cum[:, -1]
        taus = np.arange(m, L - m + 1)
        left = cum[:, taus - 1]
        right = total[:, None] - left

        def c(x: np.ndarray, length: np.ndarray | int) -> np.ndarray:
            return x - xlogx(x) + x * np.log(length)

        lr = 2.0 * (c(total, L)[:, None] - c(left, taus) - c(right, L - taus)) / phi
        j = np.argmax(lr, axis=1)
        return lr[np.arange(len(lr)), j], taus[j]

    def simulate(self, seg: np.ndarray, rates: np.ndarray, phi: float, reps: int, rng: np.random.Generator) -> np.ndarray:
        L = seg.shape[0]
        lam = np.broadcast_to(np.asarray(rates, dtype=float).reshape(-1), (L,))
        if phi > 1.0:
            lam = rng.gamma(np.maximum(lam, 1e-9) / (phi - 1.0), phi - 1.0, size=(reps, L))
        else:
            lam = np.broadcast_to(lam, (reps, L))
        return rng.poisson(lam)[..., None].astype(float)

    def null_shares(self, seg: np.ndarray) -> np.ndarray:
        return np.array([seg.sum() / len(seg)])


# ---------------------------------------------------------------- one series

def exceedances(model: MixModel | VolumeModel, seg: np.ndarray, lam: float, phi: float, min_size: int, reps: int,
                rng: np.random.Generator, chunk: int = 1000) -> int:
    """How many of `reps` no-change replicates reach the statistic `lam` (drawn in chunks)."""
    count = 0
    for start in range(0, reps, chunk):
        sims = model.simulate(seg, model.null_shares(seg), phi, min(chunk, reps - start), rng)
        lam_star, _ = model.scan(sims, min_size, phi)
        count += int((lam_star >= lam - 1e-9).sum())
    return count


def segment_test(model: MixModel | VolumeModel, seg: np.ndarray, phi: float, min_size: int, n_boot: int,
                 rng: np.random.Generator) -> tuple[float, float, int]:
    """Scan statistic, bootstrap p-value and argmax date (index within `seg`) for one change in `seg`.

    p = (1 + #{Lambda* >= Lambda}) / (R + 1) under "no change": pooled shares (or rate) of
    the segment, observed period totals, overdispersion reproduced with the same phi.
    """
    lam, tau = model.scan(seg[None], min_size, phi)
    p = (1 + exceedances(model, seg, float(lam[0]), phi, min_size, n_boot, rng)) / (n_boot + 1)
    return float(lam[0]), p, int(tau[0])


def refine_p(model: MixModel | VolumeModel, seg: np.ndarray, lam: float, phi: float, min_size: int, reps: int,
             extra: int, rng: np.random.Generator) -> tuple[float, int]:
    """A p-value at the floor 1/(R+1) says only "below the floor": draw `extra` more
    replicates and recount over all R + extra (the first R reached nothing)."""
    hits = exceedances(model, seg, lam, phi, min_size, extra, rng)
    total = reps + extra
    return (1 + hits) / (total + 1), total


@dataclass
class SeriesFit:
    """What detection found in one series: change points with tests, intervals, effects."""

    kind: str
    phi: float
    penalty: float
    candidates: list[int]  # PELT change points before testing
    shifts: list[dict[str, Any]] = field(default_factory=list)  # tested and kept (raw p <= alpha)


def fit_series(y: np.ndarray, kind: str = "mix", penalty: str | float = "mbic", min_size: int = 6,
               alpha: float = 0.05, n_boot: int = 199, seed: int = 0, key: str = "",
               overdispersion: bool = True, max_boot: int = 9999) -> SeriesFit:
    """Detect, test and locate change points in one (T, K) count series."""
    model = MixModel(y) if kind == "mix" else VolumeModel(y)
    yk = model.yk
    T = len(yk)
    pen, lp = penalty_for(penalty, model.n_params, T)

    def phi_of(bkps: list[int]) -> float:
        if not overdispersion:
            return 1.0
        x2, df = model.pearson(bkps)
        return max(1.0, x2 / df) if df > 0 else 1.0

    block = max(2 * min_size, 12)
    phi = phi_of(list(range(block, T - block + 1, block)) + [T] if T >= 2 * block else [T])
    for _ in range(3):
        bkps = pelt_search(model.cost(phi, lp).matrix(min_size), pen, min_size)
        new_phi = phi_of(bkps)
        if abs(new_phi - phi) <= 0.02 * phi:
            break
        phi = new_phi
    candidates = bkps[:-1]
    ukey = _stable_key(key)

    def rng_for(s: int, e: int, what: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, ukey, s, e, what, 0 if kind == "mix" else 1]))

    cache: dict[tuple[int, int], tuple[float, float, int, int]] = {}

    def test(s: int, e: int) -> tuple[float, float, int, int]:
        if (s, e) not in cache:
            lam, p, tau = segment_test(model, yk[s:e], phi, min_size, n_boot, rng_for(s, e, 1))
            reps = n_boot
            if p > alpha and p == 1 / (n_boot + 1) and max_boot > n_boot:
                # the floor itself is above alpha: only more replicates can tell
                p, reps = refine_p(model, yk[s:e], lam, phi, min_size, n_boot, max_boot - n_boot, rng_for(s, e, 3))
            cache[(s, e)] = (lam, p, tau + s, reps)
        return cache[(s, e)]

    cps = list(candidates)
    while cps:
        bounds = [0] + cps + [T]
        tests = [test(bounds[i], bounds[i + 2]) for i in range(len(cps))]
        worst = int(np.argmax([t[1] for t in tests]))
        if tests[worst][1] > alpha:
            del cps[worst]
            continue
        break

    fit = SeriesFit(kind=kind, phi=float(phi), penalty=float(pen), candidates=candidates)
    bounds = [0] + cps + [T]
    for i in range(len(cps)):
        s, e = bounds[i], bounds[i + 2]
        lam, p, tau, reps = test(s, e)
        seg = yk[s:e]
        before, after = yk[s:tau], yk[tau:e]
        if kind == "mix":
            shares = np.vstack([np.repeat(before.sum(0)[None] / before.sum(), tau - s, 0),
                                np.repeat(after.sum(0)[None] / after.sum(), e - tau, 0)])
        else:
            shares = np.concatenate([np.full(tau - s, before.mean()), np.full(e - tau, after.mean())])
        sims = model.simulate(seg, shares, phi, n_boot, rng_for(s, e, 2))
        _, tau_star = model.scan(sims, min_size, phi)
        lo = int(np.quantile(tau_star, 0.025, method="lower")) + s
        hi = int(np.quantile(tau_star, 0.975, method="higher")) + s
        fit.shifts.append({"index": tau, "segment": [s, e], "statistic": lam, "p_value": p, "replicates": reps,
                           "ci_index": [min(lo, tau), max(hi, tau)]})
    return fit


# ---------------------------------------------------------------- many series

def _shares(y: np.ndarray, categories: list[str]) -> dict[str, float]:
    tot = y.sum()
    return {c: (round(float(v / tot), 4) if tot else 0.0) for c, v in zip(categories, y.sum(axis=0))}


@dataclass
class DriftDetector:
    """Detect mix (and volume) shifts in every unit of a CountSeries.

    Configure in the constructor, call `fit(series)`, read `series_` (one row per unit,
    with status and phi) and `shifts_` (one dict per significant shift, shifts.json
    shape). Same inputs and parameters give the same results (seeded per unit and segment).
    """

    penalty: str | float = "mbic"
    min_size: int = 6
    alpha: float = 0.05
    n_boot: int = 199
    # p-values at the floor 1/(n_boot+1) that block significance (raw or after BH) are
    # refined with up to max_boot replicates in all
    max_boot: int = 9999
    seed: int = 0
    volume: bool = True
    overdispersion: bool = True
    min_cases_per_period: float = 1.0

    series_: pl.DataFrame | None = field(default=None, init=False, repr=False)
    shifts_: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    candidates_: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.min_size < 2:
            raise ParameterError("min_size must be at least 2 periods")
        if not 0 < self.alpha < 1:
            raise ParameterError("alpha must be between 0 and 1")
        if self.n_boot < 99:
            raise ParameterError("n_boot must be at least 99 (199 or more recommended)")
        if self.max_boot < self.n_boot:
            raise ParameterError("max_boot must be at least n_boot")
        penalty_for(self.penalty, 1, 100)  # validates the preset

    def parameters(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.endswith("_")}

    def fit(self, series: CountSeries) -> "DriftDetector":
        rows: list[dict[str, Any]] = []
        found: list[dict[str, Any]] = []
        mats = series.matrices()
        for unit in sorted(mats):
            periods, y = mats[unit]
            T, cases = len(periods), int(y.sum())
            status, reason = "analysed", None
            if T < 2 * self.min_size:
                status, reason = "too_sparse", f"{T} periods, fewer than 2 x min_size = {2 * self.min_size}"
            elif cases / T < self.min_cases_per_period:
                status, reason = "too_sparse", f"{cases / T:.2f} cases per period, fewer than {self.min_cases_per_period}"
            elif int((y.sum(axis=0) > 0).sum()) < 2:
                status, reason = "too_sparse", "fewer than 2 categories observed"
            row = {"unit": unit, "periods": T, "cases": cases, "status": status, "reason": reason,
                   "first_period": periods[0], "last_period": periods[-1], "phi_mix": None, "phi_volume": None}
            if status == "analysed":
                kinds = ["mix"] + (["volume"] if self.volume else [])
                for kind in kinds:
                    fit = fit_series(y, kind, self.penalty, self.min_size, self.alpha, self.n_boot, self.seed, unit,
                                     self.overdispersion, self.max_boot)
                    row[f"phi_{kind}"] = round(fit.phi, 4)
                    model = MixModel(y) if kind == "mix" else VolumeModel(y)
                    for s in fit.shifts:
                        d = self._describe(unit, kind, periods, y, series.categories, s, fit.phi)
                        a, e = s["segment"]
                        d["_refine"] = (model, model.yk[a:e], s["statistic"], fit.phi, s["replicates"], (unit, a, e))
                        found.append(d)
            rows.append(row)
        for kind in ("mix", "volume"):
            fam = [s for s in found if s["kind"] == kind]
            for _ in range(2):
                if not fam:
                    break
                adj = multipletests([s["p_value"] for s in fam], method="fdr_bh")[1]
                for s, a in zip(fam, adj):
                    s["p_adjusted"] = round(float(a), 6)
                # A shift held back only by the floor 1/(R+1) gets more replicates, then BH again.
                stuck = [s for s in fam if s["p_adjusted"] > self.alpha and s["replicates"] < self.max_boot
                         and s["p_value"] == round(1 / (s["replicates"] + 1), 6)]
                if not stuck:
                    break
                for s in stuck:
                    model, seg, lam, phi, reps, (unit, a, e) = s["_refine"]
                    rng = np.random.default_rng(np.random.SeedSequence([self.seed, _stable_key(unit), a, e, 4]))
                    p, s["replicates"] = refine_p(model, seg, lam, phi, self.min_size, reps, self.max_boot - reps, rng)
                    s["p_value"] = round(p, 6)
        for s in found:
            del s["_refine"]
        self.candidates_ = found
        self.shifts_ = [s for s in found if s["p_adjusted"] <= self.alpha]
        self.series_ = pl.DataFrame(rows)
        return self

    def _describe(self, unit: str, kind: str, periods: list[dt.date], y: np.ndarray, categories: list[str],
                  s: dict[str, Any], phi: float) -> dict[str, Any]:
        a, e = s["segment"]
        tau = s["index"]
        lo, hi = s["ci_index"]
        before, after = y[a:tau], y[tau:e]
        out: dict[str, Any] = {
            "unit": unit, "kind": kind, "period": periods[tau].isoformat(),
            "ci": [periods[lo].isoformat(), periods[hi].isoformat()],
            "p_value": round(s["p_value"], 6), "p_adjusted": None, "replicates": s["replicates"],
            "statistic": round(s["statistic"], 4), "phi": round(phi, 4),
            "segment": [periods[a].isoformat(), periods[e - 1].isoformat()],
            "index": tau, "ci_index": [lo, hi],
        }
        if kind == "mix":
            b, f = _shares(before, categories), _shares(after, categories)
            tvd = 0.5 * sum(abs(f[c] - b[c]) for c in categories)
            moved = sorted(categories, key=lambda c: -abs(f[c] - b[c]))
            out.update(before=b, after=f, effect={
                "tvd": round(tvd, 4),
                "moved": [{"category": c, "before": b[c], "after": f[c], "change": round(f[c] - b[c], 4)}
                          for c in moved[:3] if abs(f[c] - b[c]) >= 0.01],
            })
        else:
            mb, ma = float(before.sum() / len(before)), float(after.sum() / len(after))
            out.update(before={"cases_per_period": round(mb, 3)}, after={"cases_per_period": round(ma, 3)},
                       effect={"ratio": round(ma / mb, 4) if mb else None})
        out.update(annotations=[], status="unexplained")
        return out
