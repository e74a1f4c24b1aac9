"""The two count models detection runs on: a unit's case-type mix (multinomial) and its
volume (Poisson). Each gives its segment cost, Pearson X^2 for the overdispersion phi,
the lag-1 autocorrelation of its Pearson residuals (serial dependence), the vectorised
scan statistic, and draws of replicate series for the bootstrap (methods.md 2, 4, 11).

Noise in the replicates (`Noise`): with no serial dependence, Dirichlet-multinomial
(mix) or gamma-Poisson (volume) with the series' phi, independent from period to period;
with dependence, a sieve: a latent AR(1) in the logits (mix) or log rate (volume) whose
stationary variance reproduces phi and whose coefficient reproduces the residuals'
autocorrelation, then multinomial or Poisson draws with the observed totals.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tipdrift.costs import CostMultinomial, CostPoisson, xlogx, xlogx_counts
from tipdrift.costs.multinomial import count_array, last_max, last_sum, xlogx_table_for

MAX_RHO = 0.95


@dataclass(frozen=True)
class Noise:
    """Overdispersion phi (>= 1) and the latent AR(1) coefficient rho (0: independent)."""

    phi: float = 1.0
    rho: float = 0.0


def acf_lags(n_periods: int) -> int:
    """Lags of the residual autocorrelation summed to estimate dependence: up to 6, and at
    most a quarter of the series."""
    return max(1, min(6, n_periods // 4))


def mean_corrected(acf_sum: float, lags: int, seg_len: float) -> float:
    """Autocorrelations measured around a segment's own mean are biased down by about
    (1 + 2 S) / n each (n: segment length, S: the true sum): undo it for the sum of `lags`
    of them, S = (S_obs + L / n) / (1 - 2 L / n)."""
    if seg_len <= 4 * lags:
        return acf_sum
    return (acf_sum + lags / seg_len) / (1.0 - 2.0 * lags / seg_len)


def latent_rho(acf_sum: float, phi: float, n_periods: int) -> float:
    """The latent AR(1) coefficient rho behind the sum S of the Pearson residuals'
    autocorrelations at lags 1..L (L = `acf_lags`). Under the latent AR(1) the residual
    autocorrelation at lag k is c rho^k, c = (phi - 1) / phi, so rho solves
    sum_{k<=L} rho^k = S / c. Summing several lags is far less noisy than lag 1 alone.
    0 when S is within about one standard error (sqrt(L / T)) of 0 or phi shows no
    overdispersion to carry dependence."""
    L = acf_lags(n_periods)
    if phi <= 1.05 or acf_sum <= np.sqrt(L / max(n_periods, 1)):
        return 0.0
    target = acf_sum * phi / (phi - 1.0)
    lo, hi = 0.0, MAX_RHO
    if sum(hi ** k for k in range(1, L + 1)) <= target:
        return MAX_RHO
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(mid ** k for k in range(1, L + 1)) < target else (lo, mid)
    return float(lo)


def ar1_standard(rng: np.random.Generator, shape: tuple[int, ...], L: int, rhos: np.ndarray) -> np.ndarray:
    """Unit-variance stationary AR(1) paths, one set per coefficient in `rhos`, all from the
    same innovations (common random numbers: the paths move smoothly with rho), time on axis
    2: (len(rhos), shape[0], L, *shape[1:]). The recursion x_t = rho x_{t-1} + w_t runs in
    scipy's lfilter (C), not a Python loop over periods."""
    from scipy.signal import lfilter

    r = np.asarray(rhos, dtype=float)
    z0 = rng.standard_normal(shape)
    e = rng.standard_normal((shape[0], L, *shape[1:]))
    out = np.empty((len(r), shape[0], L, *shape[1:]))
    for g, rho in enumerate(r):
        w = e * np.sqrt(1.0 - rho * rho)
        w[:, 0] = z0
        out[g] = lfilter([1.0], [1.0, -rho], w, axis=1)
    return out


def latent_variance_factor(rho: float, L: int) -> float:
    """How much larger the stationary variance of a latent AR(1) is than what L periods of
    it show around their own mean, relative to what independent periods would show (the
    Pearson X^2's degrees of freedom already allow for the mean of independent ones).

    A series L periods long sees E[sample variance] = stationary variance x (1 - f), with f
    = Var(mean) / variance = (1 + 2 sum_k (1 - k/L) rho^k) / L. phi is measured on the
    sample, so a sieve that sets the stationary variance from phi directly simulates too
    little wander: half of it at rho 0.9 over 40 months, and the replicates' scan statistic
    then falls short of the data's. Capped at 20."""
    if rho <= 0 or L < 3:
        return 1.0
    k = np.arange(1, L)
    f = (1.0 + 2.0 * float(((1.0 - k / L) * rho ** k).sum())) / L
    return float(min(20.0, (1.0 - 1.0 / L) / max(1.0 - f, 1e-9)))


def _lagged(z: np.ndarray, valid: np.ndarray, lags: int) -> tuple[float, float]:
    """Sum over lags 1..`lags` of z_t z_{t-k} over valid pairs, and sum of z_t^2 over valid
    periods (their ratio is the sum of the autocorrelations)."""
    num = 0.0
    for k in range(1, min(lags, len(z) - 1) + 1):
        both = valid[k:] & valid[:-k]
        num += float((z[k:] * z[:-k])[both].sum())
    return num, float((z * z)[valid].sum())


def _split_acf(z: np.ndarray, taus: np.ndarray, lags: int) -> np.ndarray:
    """Per replicate, the sum over lags 1..`lags` of the autocorrelations of the residuals
    z (R, L, K), pairs taken only within one side of the replicate's split at `taus` (R,):
    every lagged pair, less the k pairs of lag k that cross the split (read from a window
    of the periods around it)."""
    R, L, K = z.shape
    lags = min(lags, L - 1)
    pad = np.concatenate([np.zeros((R, lags, K)), z, np.zeros((R, lags, K))], axis=1)
    win = pad[np.arange(R)[:, None], taus[:, None] + np.arange(2 * lags)[None, :]]  # periods tau-lags .. tau+lags-1
    num = np.zeros(R)
    for k in range(1, lags + 1):
        num += np.einsum("rtk,rtk->r", z[:, k:], z[:, :-k])
        num -= np.einsum("rtk,rtk->r", win[:, lags - k:lags], win[:, lags:lags + k])
    den = np.einsum("rtk,rtk->r", z, z)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


class _CostMatrices:
    """Cost matrices for any phi and length penalty from one likelihood matrix per series:
    raw / phi + length_penalty * log(length), the same values to the last bit as building
    the cost with that phi (the search re-estimates phi up to three times per series).
    `release()` drops the likelihood matrix once the search is done (it is (T+1)^2 floats)."""

    def cost_matrix(self, phi: float, length_penalty: float, min_size: int) -> np.ndarray:
        cache: dict[int, np.ndarray] = self.__dict__.setdefault("_raw", {})
        key = min(min_size, 2)  # the search reads only segments at least min_size long
        if key not in cache:
            cache[key] = self.cost(1.0, 0.0).matrix(key)
        raw = cache[key]
        out = raw / phi
        return out + length_penalty * _log_lengths(raw.shape[0]) if length_penalty else out

    def release(self) -> None:
        self.__dict__.pop("_raw", None)


@lru_cache(maxsize=8)
def _log_lengths(n1: int) -> np.ndarray:
    """log(max(e - s, 1)) for an (n1, n1) cost matrix, shared by every series of that length."""
    idx = np.arange(n1)
    out = np.log(np.maximum(idx[None, :] - idx[:, None], 1).astype(float))
    out.flags.writeable = False
    return out


class MixModel(_CostMatrices):
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

    def dependence(self, bkps: list[int]) -> float:
        """Sum of the autocorrelations (lags 1..`acf_lags`) of the Pearson residuals within
        the segments ending at `bkps`, pooled over categories (methods.md section 11)."""
        lags = acf_lags(len(self.yk))
        num = den = 0.0
        for s, e in zip([0] + bkps[:-1], bkps):
            seg = self.yk[s:e]
            n_t, nk = seg.sum(axis=1), seg.sum(axis=0)
            if nk.sum() == 0:
                continue
            p = nk / nk.sum()
            exp = n_t[:, None] * p[None, :]
            z = np.where(exp > 0, (seg - exp) / np.sqrt(np.where(exp > 0, exp, 1.0)), 0.0)
            a, b = _lagged(z, np.broadcast_to((n_t > 0)[:, None], z.shape), lags)
            num, den = num + a, den + b
        return num / den if den > 0 else 0.0

    @staticmethod
    def split_dependence(ysim: np.ndarray, taus: np.ndarray) -> np.ndarray:
        """`dependence([tau, L])` of every replicate of ysim (R, L, K) at once."""
        return MixModel.split_moments(ysim, taus)[1]

    @staticmethod
    def split_moments(ysim: np.ndarray, taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per replicate of ysim (R, L, K), from one pass over its Pearson residuals around
        the shares of each side of its own split at `taus`: the X^2 / df (`pearson([tau,
        L])`, not floored; 1 where df is 0) and the sum of the residual autocorrelations
        (`dependence([tau, L])`). Residuals are 0 where nothing is expected (empty periods,
        categories unseen on that side); df per side is (periods with cases - 1) x
        (categories seen - 1)."""
        R, L, K = ysim.shape
        side = np.arange(L)[None, :] >= taus[:, None]
        n_t = ysim @ np.ones(K)
        before = np.cumsum(ysim, axis=1)[np.arange(R), taus - 1]
        after = ysim.sum(axis=1) - before
        pb, pa = (x / np.where(x.sum(-1) > 0, x.sum(-1), 1.0)[:, None] for x in (before, after))
        exp = n_t[..., None] * (pb[:, None, :] + side[..., None] * (pa - pb)[:, None, :])
        z = np.divide(ysim - exp, np.sqrt(exp), out=np.zeros_like(exp), where=exp > 0)
        rows_after = ((n_t > 0) & side).sum(axis=1)
        rows_before = (n_t > 0).sum(axis=1) - rows_after
        df = (np.maximum(rows_before - 1, 0) * np.maximum((before > 0).sum(axis=1) - 1, 0)
              + np.maximum(rows_after - 1, 0) * np.maximum((after > 0).sum(axis=1) - 1, 0))
        x2 = np.einsum("rtk,rtk->r", z, z)
        phi = np.where(df > 0, x2 / np.where(df > 0, df, 1), 1.0)
        return phi, _split_acf(z, taus, acf_lags(L))

    @staticmethod
    def scan(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        """Max over tau in [m, L-m] of 2[c(0,L) - c(0,tau) - c(tau,L)]/phi, per replicate."""
        lr, taus = MixModel.profile(ysim, m, phi)
        j = np.argmax(lr, axis=1)
        return lr[np.arange(len(lr)), j], taus[j]

    @staticmethod
    def profile(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        """The scan's statistic at every tau in [m, L-m]: (reps, taus) and the taus."""
        cum = np.cumsum(ysim, axis=1)
        L = ysim.shape[1]
        counts = count_array(cum)  # whole counts: integer sums and x log x from a table
        if counts is not None:
            cum = counts
        total = cum[:, -1, :]
        taus = np.arange(m, L - m + 1)
        left = cum[:, taus - 1, :]
        right = total[:, None, :] - left
        table = xlogx_table_for(int(last_sum(total).max()) if counts is not None else -1)

        def c(x: np.ndarray) -> np.ndarray:
            if table is not None:
                return table[last_sum(x)] - last_sum(table[x])
            return xlogx(last_sum(x)) - last_sum(xlogx(x))

        return 2.0 * (c(total)[:, None] - c(left) - c(right)) / phi, taus

    def simulate(self, seg: np.ndarray, shares: np.ndarray, noise: Noise, reps: int,
                 rng: np.random.Generator) -> np.ndarray:
        """Counts (reps, L, K) with the observed period totals and shares (K,), (L, K) or
        (reps, L, K), with the overdispersion and serial dependence of `noise`."""
        if noise.phi > 1.0 and noise.rho > 0:
            return self.simulate_latent(seg, shares, noise.phi, np.array([noise.rho]), reps, rng)
        n_t = seg.sum(axis=1).astype(np.int64)
        L, K = seg.shape
        P = np.broadcast_to(shares, (reps, L, K)) if np.ndim(shares) == 3 else np.broadcast_to(shares, (L, K))
        if noise.phi > 1.0:
            alpha = np.maximum((n_t - 1) / (noise.phi - 1.0) - 1.0, 1e-2)
            g = rng.standard_gamma(np.broadcast_to(alpha[:, None] * P, (reps, L, K)))
            tot = last_sum(g, keepdims=True)
            P = np.where(tot > 0, g / np.where(tot > 0, tot, 1.0), P)
        else:
            P = np.broadcast_to(P, (reps, L, K))
        return _multinomial(rng, n_t, P)

    def simulate_latent(self, seg: np.ndarray, shares: np.ndarray, phi: float, rhos: np.ndarray, reps: int,
                        rng: np.random.Generator) -> np.ndarray:
        """Counts (len(rhos) * reps, L, K), `reps` for each latent AR(1) coefficient in
        `rhos` (the same latent innovations for each): the shares moved by a latent AR(1) in
        the logits whose variance gives phi, phi - 1 ~ (n - 1) s^2 (1 - sum p^2) / (K - 1) to
        first order, with s^2 the stationary variance the segment's length shows
        (`latent_variance_factor`)."""
        n_t = seg.sum(axis=1).astype(np.int64)
        L, K = seg.shape
        P = np.broadcast_to(shares, (reps, L, K)) if np.ndim(shares) == 3 else np.broadcast_to(shares, (L, K))
        pbar = np.broadcast_to(P, (reps, L, K)).mean(axis=(0, 1))
        nbar = max(float(n_t[n_t > 0].mean()) if (n_t > 0).any() else 2.0, 2.0)
        s2 = (phi - 1.0) * max(K - 1, 1) / ((nbar - 1.0) * max(1.0 - float((pbar ** 2).sum()), 1e-6))
        sd = np.sqrt(s2 * np.array([latent_variance_factor(float(r), L) for r in rhos]))
        u = ar1_standard(rng, (reps, K), L, rhos) * sd[:, None, None, None]
        small = np.asarray(shares)  # logs and the mask on the shares as given, broadcast after
        logits = np.log(np.maximum(small, 1e-12)) + u
        e = np.exp(logits - last_max(logits, keepdims=True))
        e = np.where(small > 0, e, 0.0)
        Q = (e / last_sum(e, keepdims=True)).reshape(-1, L, K)
        return _multinomial(rng, n_t, Q)

    def null_shares(self, seg: np.ndarray) -> np.ndarray:
        return seg.sum(axis=0) / seg.sum()


def _multinomial(rng: np.random.Generator, n_t: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Multinomial draws with totals n_t (L,) and shares P (reps, L, K), by a binomial chain."""
    reps, L, K = P.shape
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


class VolumeModel(_CostMatrices):
    """Case volume: period totals (T,), Poisson likelihood, gamma-Poisson noise."""

    kind = "volume"

    def __init__(self, y: np.ndarray):
        y = np.asarray(y, dtype=float)
        self.yk = (y.sum(axis=1) if y.ndim == 2 else y)[:, None]
        self.n_params = 1

    def cost(self, phi: float, length_penalty: float) -> CostPoisson:
        return CostPoisson(phi=phi, length_penalty=length_penalty).fit(self.yk)

    def _segments(self, bkps: list[int]) -> list[tuple[np.ndarray, float]]:
        """(totals, mean) of each segment with a positive mean (an all-zero one has no residuals)."""
        segs = [self.yk[s:e, 0] for s, e in zip([0] + bkps[:-1], bkps)]
        return [(seg, float(seg.mean())) for seg in segs if seg.mean() > 0]

    def pearson(self, bkps: list[int]) -> tuple[float, float]:
        parts = self._segments(bkps)
        return (sum(float(((seg - mu) ** 2).sum() / mu) for seg, mu in parts),
                float(sum(len(seg) - 1 for seg, _ in parts)))

    def dependence(self, bkps: list[int]) -> float:
        """Sum of the autocorrelations (lags 1..`acf_lags`) of the Pearson residuals
        (y - mu) / sqrt(mu) within segments."""
        lags = acf_lags(len(self.yk))
        sums = [_lagged((seg - mu) / np.sqrt(mu), np.ones(len(seg), bool), lags) for seg, mu in self._segments(bkps)]
        num, den = sum(a for a, _ in sums), sum(b for _, b in sums)
        return num / den if den > 0 else 0.0

    @staticmethod
    def split_dependence(ysim: np.ndarray, taus: np.ndarray) -> np.ndarray:
        """`dependence([tau, L])` of every replicate of ysim (R, L, 1) at once."""
        R, L, _ = ysim.shape
        y = ysim[..., 0]
        side = np.arange(L)[None, :] >= taus[:, None]
        before = np.where(~side, y, 0.0).sum(axis=1) / np.maximum(taus, 1)
        after = np.where(side, y, 0.0).sum(axis=1) / np.maximum(L - taus, 1)
        mu = np.where(side, after[:, None], before[:, None])
        z = np.where(mu > 0, (y - mu) / np.sqrt(np.where(mu > 0, mu, 1.0)), 0.0)
        return _split_acf(z[..., None], taus, acf_lags(L))

    @staticmethod
    def scan(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        lr, taus = VolumeModel.profile(ysim, m, phi)
        j = np.argmax(lr, axis=1)
        return lr[np.arange(len(lr)), j], taus[j]

    @staticmethod
    def profile(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        """The scan's statistic at every tau in [m, L-m]: (reps, taus) and the taus."""
        cum = np.cumsum(ysim[..., 0], axis=1)
        L = ysim.shape[1]
        total = cum[:, -1]
        taus = np.arange(m, L - m + 1)
        left = cum[:, taus - 1]
        right = total[:, None] - left

        def c(x: np.ndarray, length: np.ndarray | int) -> np.ndarray:
            return x - xlogx_counts(x) + x * np.log(length)

        return 2.0 * (c(total, L)[:, None] - c(left, taus) - c(right, L - taus)) / phi, taus

    def simulate(self, seg: np.ndarray, rates: np.ndarray, noise: Noise, reps: int,
                 rng: np.random.Generator) -> np.ndarray:
        """Counts (reps, L, 1) around rates (L,) or (reps, L): gamma-Poisson with phi, or
        with dependence a log-normal AR(1) rate whose variance gives phi."""
        if noise.phi > 1.0 and noise.rho > 0:
            return self.simulate_latent(seg, rates, noise.phi, np.array([noise.rho]), reps, rng)
        L = seg.shape[0]
        lam = np.broadcast_to(np.asarray(rates, dtype=float), (reps, L) if np.ndim(rates) == 2 else (L,))
        lam = np.broadcast_to(lam, (reps, L))
        if noise.phi > 1.0:
            lam = rng.gamma(np.maximum(lam, 1e-9) / (noise.phi - 1.0), noise.phi - 1.0)
        return rng.poisson(lam)[..., None].astype(float)

    def simulate_latent(self, seg: np.ndarray, rates: np.ndarray, phi: float, rhos: np.ndarray, reps: int,
                        rng: np.random.Generator) -> np.ndarray:
        """Counts (len(rhos) * reps, L, 1): a log-normal AR(1) rate for each coefficient in
        `rhos` (the same innovations for each) whose variance over the segment gives phi."""
        L = seg.shape[0]
        lam = np.broadcast_to(np.asarray(rates, dtype=float), (reps, L) if np.ndim(rates) == 2 else (L,))
        lam = np.broadcast_to(lam, (reps, L))
        mu = max(float(np.mean(lam)), 1e-9)
        s2 = np.log1p((phi - 1.0) / mu * np.array([latent_variance_factor(float(r), L) for r in rhos]))
        u = ar1_standard(rng, (reps,), L, rhos) * np.sqrt(s2)[:, None, None]
        lam = lam[None] * np.exp(u - s2[:, None, None] / 2)
        return rng.poisson(lam).reshape(-1, L)[..., None].astype(float)

    def null_shares(self, seg: np.ndarray) -> np.ndarray:
        return np.array([seg.sum() / len(seg)])


CountModel = MixModel | VolumeModel


def model_for(kind: str, y: np.ndarray) -> CountModel:
    """The model of `kind` (mix or volume) over a (T, K) count array."""
    return MixModel(y) if kind == "mix" else VolumeModel(y)
