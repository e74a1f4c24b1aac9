"""Significance after selection, location intervals and the false-discovery control
(methods.md sections 4, 5 and 14).

- `segment_test`: the likelihood-ratio scan statistic on a segment (for a serially
  dependent mix, studentised by its own long-run variance around its best split:
  `scan_statistic`) against a parametric bootstrap under "no change" (pooled shares or
  rate, observed period totals, the segment's overdispersion and serial dependence);
  p = (1 + #{Lambda* >= Lambda}) / (R + 1).
- `refine_p`: a p-value at the floor 1/(R+1) says only "below the floor"; more replicates.
- `location_interval`: 2.5% and 97.5% quantiles of the change date refitted on replicates
  of the fitted two-segment model.
- `bh_adjust`: Benjamini-Hochberg over a family of m tests of which only some are still
  candidates (the others were eliminated: their p counts as 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import comb

import numpy as np

from tipdrift.costs.multinomial import last_sum
from tipdrift.models import CountModel, Noise


@dataclass(frozen=True)
class SegmentTest:
    """The scan test of one segment: statistic, argmax date (absolute index), replicates
    drawn and how many of them reached the statistic."""

    statistic: float
    tau: int
    replicates: int
    hits: int
    stopped: bool = False  # stopped early at STOP_HITS exceedances (a sequential p-value)
    cleared_at: int = 0  # the test would have stopped after this many replicates with no hit

    @property
    def p_value(self) -> float:
        if self.stopped:
            return self.hits / self.replicates
        if self.cleared_at and self.replicates > self.cleared_at:
            return continued_p(self.hits, self.cleared_at, self.replicates)
        return (1 + self.hits) / (self.replicates + 1)

    @property
    def at_floor(self) -> bool:
        """No replicate reached the statistic: p is the smallest value R replicates can give."""
        return self.hits == 0


@lru_cache(maxsize=None)
def continued_p(hits: int, first: int, reps: int) -> float:
    """Exact p of a test that went on past `first` replicates (it had a hit among them) and
    ended with `hits` in `reps`. Under the null the statistic's rank among reps + 1 is
    uniform, so P(p <= this) = P(no hit in the first `first`: the early answer, 1 / (first
    + 1)) + P(some hit there and at most `hits` in all) = 1/(first+1) + (hits+1)/(reps+1) -
    sum_{k<=hits} C(reps-first, k) / C(reps, k) / (reps+1). The plain (1 + hits)/(reps + 1)
    would be too small near 0.01 (0.0100 where this gives 0.0125 for one hit in 199)."""
    none_first = sum(comb(reps - first, k) / comb(reps, k) for k in range(hits + 1)) / (reps + 1)
    return min(1.0, 1 / (first + 1) + (hits + 1) / (reps + 1) - none_first)


STOP_HITS = 10  # a test stops once this many replicates reach its statistic
CLEAR_AT = 99  # ... or when none of the first this many does
STOP_CHUNK = 50  # replicates drawn between checks


MIN_SCALE = 0.05  # guards the division; a residual X^2 / df this small needs near-empty segments
MIN_LRV_FACTOR = 0.25  # 1 + 2 x (sum of residual autocorrelations) is floored here


def scan_statistic(model: CountModel, ysim: np.ndarray, min_size: int, noise: Noise) -> tuple[np.ndarray, np.ndarray]:
    """The test's statistic and argmax date of each of ysim (R, L, K): the scan's likelihood
    ratio divided by the null's phi, except for a mix whose noise is serially dependent
    (rho in force > 0, also at phi 1, where the replicates carry no wander but the data
    may: `SeriesWork.floored`), where it is divided by each series' own long-run variance around
    its best split: the residuals' Pearson X^2 / df times 1 + 2 x the sum of their
    autocorrelations (lags 1..acf_lags), on the data and every replicate alike (methods.md
    4: "divided out in both observed and simulated statistics"). The null's phi is
    estimated over the whole segment, so a real change inflates it, and a wander null
    drawn with it (a run's rho floor) then mimics the change; around the split a single
    change inflates neither, and the studentised statistic's 95% point moves by about 6%
    between replicates drawn with phi 1.3 and 3 at rho 0.88 (the raw ratio's 4.4x). At
    rho 0 the raw ratio stays: studentised there, small steps got harder to find and a
    panel of independent units gave more false discoveries. Volume keeps it too: its
    constant-rate null is already broken by slow trends, and studentised it added false
    alarms on the generator's world."""
    if noise.rho <= 0.0 or model.kind != "mix":
        return model.scan(ysim, min_size, noise.phi)
    lam, tau = model.scan(ysim, min_size, 1.0)
    phi, acf = model.split_moments(ysim, tau)
    return lam / np.maximum(phi * np.maximum(1.0 + 2.0 * acf, MIN_LRV_FACTOR), MIN_SCALE), tau


def _reached(model: CountModel, seg: np.ndarray, lam: float, noise: Noise, min_size: int, reps: int,
             rng: np.random.Generator) -> np.ndarray:
    """For each of `reps` new no-change replicates, whether its statistic reaches `lam`."""
    sims = model.simulate(seg, model.null_shares(seg), noise, reps, rng)
    lam_star, _ = scan_statistic(model, sims, min_size, noise)
    return lam_star >= lam - 1e-9


def exceedances(model: CountModel, seg: np.ndarray, lam: float, noise: Noise, min_size: int, reps: int,
                rng: np.random.Generator, chunk: int = 1000) -> int:
    """How many of `reps` no-change replicates reach the statistic `lam` (drawn in chunks)."""
    return sum(int(_reached(model, seg, lam, noise, min_size, min(chunk, reps - start), rng).sum())
               for start in range(0, reps, chunk))


def _plan(n_boot: int) -> list[int]:
    """Chunk sizes of a sequential test: the first CLEAR_AT replicates, then the rest, in
    chunks of at most STOP_CHUNK."""
    first = min(CLEAR_AT, n_boot)
    sizes = []
    for part in (first, n_boot - first):
        sizes += [STOP_CHUNK] * (part // STOP_CHUNK) + ([part % STOP_CHUNK] if part % STOP_CHUNK else [])
    return sizes


def sequential_exceedances(model: CountModel, seg: np.ndarray, lam: float, noise: Noise, min_size: int,
                           n_boot: int, rng: np.random.Generator) -> tuple[int, int, bool]:
    """(hits, drawn, stopped) of a sequential Monte Carlo test with at most `n_boot`
    replicates. Drawing stops at the replicate where the STOP_HITS-th hit falls (Besag and
    Clifford's p = hits / drawn, `stopped`), or after CLEAR_AT replicates with no hit (p =
    1 / (CLEAR_AT + 1), a floor that is refined where it blocks a decision)."""
    hits = drawn = 0
    for size in _plan(n_boot):
        hit = _reached(model, seg, lam, noise, min_size, size, rng)
        if hits + int(hit.sum()) >= STOP_HITS:
            return STOP_HITS, drawn + int(np.argmax(np.cumsum(hit) >= STOP_HITS - hits)) + 1, True
        hits, drawn = hits + int(hit.sum()), drawn + size
        if drawn == CLEAR_AT and hits == 0:
            break
    return hits, drawn, False


def segment_test(model: CountModel, seg: np.ndarray, noise: Noise, min_size: int, n_boot: int,
                 rng: np.random.Generator, offset: int = 0) -> SegmentTest:
    """Scan statistic and sequential bootstrap exceedances for one change in `seg`; `tau`
    is the argmax date plus `offset` (the segment's start in the series). A test stops
    early only when its decision at 0.05 is already clear: at its STOP_HITS-th hit (p above
    STOP_HITS / n_boot = 0.05 at the default 199), or with no hit in the first CLEAR_AT
    (p = 0.01; a true p above 0.05 gives that with chance 0.95^99 = 0.6%). Candidates near
    0.05 draw all `n_boot`; their p counts the early answer they could have had
    (`continued_p`)."""
    lam, tau = scan_statistic(model, seg[None], min_size, noise)
    hits, drawn, stopped = sequential_exceedances(model, seg, float(lam[0]), noise, min_size, n_boot, rng)
    return SegmentTest(statistic=float(lam[0]), tau=int(tau[0]) + offset, replicates=drawn, hits=hits,
                       stopped=stopped, cleared_at=CLEAR_AT if n_boot > CLEAR_AT else 0)


def refine_p(model: CountModel, seg: np.ndarray, test: SegmentTest, noise: Noise, min_size: int, max_boot: int,
             rng: np.random.Generator) -> SegmentTest:
    """Draw replicates up to `max_boot` in all and recount (the first R reached nothing)."""
    extra = max_boot - test.replicates
    hits = test.hits + exceedances(model, seg, test.statistic, noise, min_size, extra, rng)
    return SegmentTest(statistic=test.statistic, tau=test.tau, replicates=max_boot, hits=hits)


@dataclass(frozen=True)
class Location:
    """95% interval of the change date (indices within the segment) and of the effect (TVD
    for mix, ratio of rates for volume) from refits on replicates of the fitted model."""

    lo: int
    hi: int
    effect_lo: float
    effect_hi: float


def _two_segment_shares(model: CountModel, seg: np.ndarray, tau: int, reps: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Per-replicate shares (mix) or rates (volume) of the fitted two-segment model. Mix
    shares are drawn from their Jeffreys posterior Dirichlet(N_k + 1/2) (methods.md 13), so
    a category seen on one side only is never pinned at exactly zero on the other."""
    L = len(seg)
    if model.kind != "mix":
        return np.concatenate([np.full(tau, seg[:tau].mean()), np.full(L - tau, seg[tau:].mean())])
    before = rng.dirichlet(seg[:tau].sum(0) + 0.5, size=reps)
    after = rng.dirichlet(seg[tau:].sum(0) + 0.5, size=reps)
    return np.concatenate([np.repeat(before[:, None], tau, 1), np.repeat(after[:, None], L - tau, 1)], axis=1)


def _effects(model: CountModel, sims: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The effect at each replicate's refitted date: TVD of the shares (mix) or the ratio
    of mean cases per period after to before (volume)."""
    cum = np.cumsum(sims, axis=1)
    r = np.arange(len(sims))
    left, total = cum[r, taus - 1], cum[:, -1]
    right = total - left
    if model.kind == "mix":
        a = left / np.maximum(last_sum(left, keepdims=True), 1e-12)
        b = right / np.maximum(last_sum(right, keepdims=True), 1e-12)
        return 0.5 * last_sum(np.abs(b - a))
    L = sims.shape[1]
    return (right[:, 0] / (L - taus)) / np.maximum(left[:, 0] / taus, 1e-12)


def location_interval(model: CountModel, seg: np.ndarray, tau: int, noise: Noise, min_size: int, n_boot: int,
                      rng: np.random.Generator) -> Location:
    """95% intervals for the change date `tau` (index within `seg`) and for its effect."""
    shares = _two_segment_shares(model, seg, tau, n_boot, rng)
    sims = model.simulate(seg, shares, noise, n_boot, rng)
    _, tau_star = model.scan(sims, min_size, noise.phi)
    eff = _effects(model, sims, tau_star)
    return Location(lo=int(np.quantile(tau_star, 0.025, method="lower")),
                    hi=int(np.quantile(tau_star, 0.975, method="higher")),
                    effect_lo=float(np.quantile(eff, 0.025)), effect_hi=float(np.quantile(eff, 0.975)))


def best_window(post: np.ndarray, margin: int, tie: float = 0.01) -> int:
    """Index of the date whose +-`margin` window holds the most of the mass `post`; windows
    within `tie` (a share of the total) of the most count as equal, and of those the one
    centred nearest the mode is taken (a sharp posterior is then dated at its mode, not at
    the first window that happens to hold it)."""
    cum = np.concatenate([[0.0], np.cumsum(post)])
    idx = np.arange(len(post))
    mass = cum[np.minimum(idx + margin + 1, len(post))] - cum[np.maximum(idx - margin, 0)]
    near = np.flatnonzero(mass >= mass.max() - tie * cum[-1])
    return int(near[np.argmin(np.abs(near - int(np.argmax(post))))])


def window_date(model: CountModel, seg: np.ndarray, min_size: int, phi: float, margin: int) -> int:
    """The change date (index in `seg`) whose +-`margin` neighbourhood holds the most mass
    of the profile-likelihood posterior, exp(Lambda(tau) / 2) over the dates the scan allows
    (Lambda already divided by phi): the Bayes rule for landing within the margin. Where the
    posterior is flat and ragged, as it is for small shifts in noisy mixes, its mode (the
    scan's argmax) can be a lone spike while most of the mass sits elsewhere; where it is
    sharp (a category appearing) the two agree."""
    lr, taus = model.profile(seg[None], min_size, phi)
    return int(taus[best_window(np.exp((lr[0] - lr[0].max()) / 2.0), margin)])


def bh_adjust(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of `p` within a family of `m` >= len(p) tests
    (the m - len(p) others eliminated, as if their p were 1)."""
    p = np.asarray(p, dtype=float)
    n = len(p)
    m = n if m is None else m
    if m < n:
        raise ValueError(f"family size {m} is smaller than the {n} p-values given")
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, n + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    out = np.empty(n)
    out[order] = adj
    return out
