"""The two count models detection runs on: a unit's case-type mix (multinomial, with
Dirichlet-multinomial noise) and its volume (Poisson, with gamma-Poisson noise). Each
gives its segment cost, Pearson X^2 for the overdispersion phi, the vectorised scan
statistic, and draws of replicate series for the bootstrap (methods.md sections 2, 4).
"""
from __future__ import annotations

import numpy as np

from tipdrift.costs import CostMultinomial, CostPoisson, xlogx


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


CountModel = MixModel | VolumeModel


def model_for(kind: str, y: np.ndarray) -> CountModel:
    """The model of `kind` (mix or volume) over a (T, K) count array."""
    return MixModel(y) if kind == "mix" else VolumeModel(y)
