"""Poisson segment cost for case volumes (total cases per period).

c(s, e) = N - N log(N / L) with N the total over the L periods of [s, e) (the profiled
Poisson negative log-likelihood without the log y! terms, which cancel between
segmentations). Divided by phi; the mbic length term is added as in CostMultinomial.
"""
from __future__ import annotations

import numpy as np
from ruptures.base import BaseCost

from tipdrift.costs.multinomial import xlogx


def poisson_cost(cum: np.ndarray, starts: np.ndarray, ends: np.ndarray, phi: float = 1.0,
                 length_penalty: float = 0.0) -> np.ndarray:
    """Costs of segments [starts[i], ends[i]) from cumulative totals `cum` (T+1,) or (T+1, 1)."""
    c = cum if cum.ndim == 1 else cum[:, 0]
    n = c[ends] - c[starts]
    length = np.asarray(ends - starts, dtype=float)
    cost = (n - xlogx(n) + n * np.log(length)) / phi
    if length_penalty:
        cost = cost + length_penalty * np.log(length)
    return cost


class CostPoisson(BaseCost):
    """Profiled Poisson negative log-likelihood of a segment's period totals."""

    model = "poisson"

    def __init__(self, phi: float = 1.0, length_penalty: float = 0.0, min_size: int = 1):
        self.phi = float(phi)
        self.length_penalty = float(length_penalty)
        self.min_size = int(min_size)
        self.signal: np.ndarray | None = None
        self.cum: np.ndarray | None = None

    def fit(self, signal: np.ndarray) -> "CostPoisson":
        y = np.asarray(signal, dtype=float)
        y = y.sum(axis=1) if y.ndim == 2 else y
        self.signal = y
        self.cum = np.concatenate([[0.0], np.cumsum(y)])
        return self

    def error(self, start: int, end: int) -> float:
        return float(poisson_cost(self.cum, np.array([start]), np.array([end]), self.phi, self.length_penalty)[0])

    def matrix(self, min_size: int = 1) -> np.ndarray:
        n = self.cum.shape[0] - 1
        s, e = np.triu_indices(n + 1, k=min_size)
        out = np.full((n + 1, n + 1), np.inf)
        out[s, e] = poisson_cost(self.cum, s, e, self.phi, self.length_penalty)
        return out
