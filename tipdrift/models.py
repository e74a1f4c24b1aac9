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
from tipdrift.costs.multinomial import count_array, xlogx_table_for

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


def ar1_paths(rng: np.random.Generator, shape: tuple[int, ...], L: int, sd: float, rho: float) -> np.ndarray:
    """Stationary AR(1) paths with standard deviation `sd`, time on axis 1: (shape[0], L, ...)."""
    out = np.empty((shape[0], L, *shape[1:]))
    out[:, 0] = rng.standard_normal(shape) * sd
    e = rng.standard_normal((shape[0], L, *shape[1:])) * sd * np.sqrt(1.0 - rho * rho)
    for t in range(1, L):
        out[:, t] = rho * out[:, t - 1] + e[:, t]
    return out


def _lagged(z: np.ndarray, valid: np.ndarray, lags: int) -> tuple[float, float]:
    """Sum over lags 1..`lags` of z_t z_{t-k} over valid pairs, and sum of z_t^2 over valid
    periods (their ratio is the sum of the autocorrelations)."""
    num = 0.0
    for k in range(1, min(lags, len(z) - 1) + 1):
        both = valid[k:] & valid[:-k]
        num += float((z[k:] * z[:-k])[both].sum())
    return num, float((z * z)[valid].sum())


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
    def scan(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        """Max over tau in [m, L-m] of 2[c(0,L) - c(0,tau) - c(tau,L)]/phi, per replicate."""
        cum = np.cumsum(ysim, axis=1)
        L = ysim.shape[1]
        counts = count_array(cum)  # whole counts: integer sums and x log x from a table
        if counts is not None:
            cum = counts
        total = cum[:, -1, :]
        taus = np.arange(m, L - m + 1)
        left = cum[:, taus - 1, :]
        right = total[:, None, :] - left
        table = xlogx_table_for(int(total.sum(-1).max()) if counts is not None else -1)

        def c(x: np.ndarray) -> np.ndarray:
            if table is not None:
                return table[x.sum(axis=-1)] - table[x].sum(axis=-1)
            return xlogx(x.sum(axis=-1)) - xlogx(x).sum(axis=-1)

        lr = 2.0 * (c(total)[:, None] - c(left) - c(right)) / phi
        j = np.argmax(lr, axis=1)
        return lr[np.arange(len(lr)), j], taus[j]

    def simulate(self, seg: np.ndarray, shares: np.ndarray, noise: Noise, reps: int,
                 rng: np.random.Generator) -> np.ndarray:
        """Counts (reps, L, K) with the observed period totals and shares (K,), (L, K) or
        (reps, L, K), with the overdispersion and serial dependence of `noise`."""
        n_t = seg.sum(axis=1).astype(np.int64)
        L, K = seg.shape
        P = np.broadcast_to(shares, (reps, L, K)) if np.ndim(shares) == 3 else np.broadcast_to(shares, (L, K))
        if noise.phi > 1.0 and noise.rho > 0:
            P = self._latent_ar1(np.broadcast_to(P, (reps, L, K)), n_t, noise, rng)
        elif noise.phi > 1.0:
            alpha = np.maximum((n_t - 1) / (noise.phi - 1.0) - 1.0, 1e-2)
            g = rng.standard_gamma(np.broadcast_to(alpha[:, None] * P, (reps, L, K)))
            tot = g.sum(axis=-1, keepdims=True)
            P = np.where(tot > 0, g / np.where(tot > 0, tot, 1.0), P)
        else:
            P = np.broadcast_to(P, (reps, L, K))
        return _multinomial(rng, n_t, P)

    @staticmethod
    def _latent_ar1(P: np.ndarray, n_t: np.ndarray, noise: Noise, rng: np.random.Generator) -> np.ndarray:
        """Shares moved by a latent AR(1) in the logits whose stationary variance s^2 gives
        phi: phi - 1 ~ (n - 1) s^2 (1 - sum p^2) / (K - 1) to first order."""
        reps, L, K = P.shape
        pbar = P.mean(axis=(0, 1))
        nbar = max(float(n_t[n_t > 0].mean()) if (n_t > 0).any() else 2.0, 2.0)
        s2 = (noise.phi - 1.0) * max(K - 1, 1) / ((nbar - 1.0) * max(1.0 - float((pbar ** 2).sum()), 1e-6))
        u = ar1_paths(rng, (reps, K), L, float(np.sqrt(s2)), noise.rho)
        logits = np.log(np.maximum(P, 1e-12)) + u
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return np.where(P > 0, e, 0.0) / np.where(P > 0, e, 0.0).sum(axis=-1, keepdims=True)

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
    def scan(ysim: np.ndarray, m: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
        cum = np.cumsum(ysim[..., 0], axis=1)
        L = ysim.shape[1]
        total = cum[:, -1]
        taus = np.arange(m, L - m + 1)
        left = cum[:, taus - 1]
        right = total[:, None] - left

        def c(x: np.ndarray, length: np.ndarray | int) -> np.ndarray:
            return x - xlogx_counts(x) + x * np.log(length)

        lr = 2.0 * (c(total, L)[:, None] - c(left, taus) - c(right, L - taus)) / phi
        j = np.argmax(lr, axis=1)
        return lr[np.arange(len(lr)), j], taus[j]

    def simulate(self, seg: np.ndarray, rates: np.ndarray, noise: Noise, reps: int,
                 rng: np.random.Generator) -> np.ndarray:
        """Counts (reps, L, 1) around rates (L,) or (reps, L): gamma-Poisson with phi, or
        with dependence a log-normal AR(1) rate whose variance gives phi."""
        L = seg.shape[0]
        lam = np.broadcast_to(np.asarray(rates, dtype=float), (reps, L) if np.ndim(rates) == 2 else (L,))
        lam = np.broadcast_to(lam, (reps, L))
        if noise.phi > 1.0 and noise.rho > 0:
            mu = max(float(np.mean(lam)), 1e-9)
            s2 = float(np.log1p((noise.phi - 1.0) / mu))
            u = ar1_paths(rng, (reps,), L, float(np.sqrt(s2)), noise.rho)
            lam = lam * np.exp(u - s2 / 2)
        elif noise.phi > 1.0:
            lam = rng.gamma(np.maximum(lam, 1e-9) / (noise.phi - 1.0), noise.phi - 1.0)
        return rng.poisson(lam)[..., None].astype(float)

    def null_shares(self, seg: np.ndarray) -> np.ndarray:
        return np.array([seg.sum() / len(seg)])


CountModel = MixModel | VolumeModel


def model_for(kind: str, y: np.ndarray) -> CountModel:
    """The model of `kind` (mix or volume) over a (T, K) count array."""
    return MixModel(y) if kind == "mix" else VolumeModel(y)
