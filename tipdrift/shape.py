"""Step or gradual (methods.md section 12).

A transition model for a segment's shares: logits at a before t1, at b from t2 on, and
linear between, against the best single step; a and b are the plug-in shares of the pure
parts. The transition is called gradual when its likelihood gain over the step beats a
penalty (AIC for one extra parameter, the transition length: 1 on the log-likelihood
scale divided by phi; the bootstrap below is what controls calling a step gradual) and the
95th percentile of the same gain on replicates of the fitted step (a parametric
bootstrap with the series' noise), so a sharp step with noise is not called gradual.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tipdrift.costs import xlogx_counts
from tipdrift.costs.multinomial import last_max, last_sum
from tipdrift.models import MixModel, Noise

LENGTHS: tuple[int, ...] = (3, 6, 12, 24, 36)
CHECK_REPLICATES = 99
CHECK_FIRST = 33  # replicates drawn before the early answer is checked


@dataclass(frozen=True)
class Shape:
    """`gradual` with the transition's first and last period (indices within the
    segment), or `step` (transition = the change date)."""

    kind: str
    start: int
    end: int


def _configs(L: int, tau: int, min_size: int) -> list[tuple[int, int]]:
    """(t1, t2) transitions around `tau`: pure parts of at least min_size // 2 periods."""
    edge = max(2, min_size // 2)
    out = []
    for n in LENGTHS:
        if n > L // 2:
            continue
        for t1 in range(max(edge, tau - n), min(tau, L - edge - n) + 1, max(1, n // 4)):
            out.append((t1, t1 + n))
    return out


def _shares(x: np.ndarray) -> np.ndarray:
    tot = last_sum(x, keepdims=True)
    return (x + 1e-9) / (tot + 1e-9 * x.shape[-1])


def transition_ll(y: np.ndarray, t1: int, t2: int) -> np.ndarray:
    """Multinomial log-likelihood (up to constants) of (R, L, K) counts under the transition."""
    a, b = _shares(y[:, :t1].sum(1)), _shares(y[:, t2:].sum(1))
    w = (np.arange(t1, t2) - t1 + 1) / (t2 - t1 + 1)
    eta = (1 - w)[None, :, None] * np.log(a)[:, None] + w[None, :, None] * np.log(b)[:, None]
    mid = np.exp(eta - last_max(eta, keepdims=True))
    mid /= last_sum(mid, keepdims=True)
    ll = (y[:, :t1] * np.log(a)[:, None]).sum((1, 2)) + (y[:, t2:] * np.log(b)[:, None]).sum((1, 2))
    return ll + (y[:, t1:t2] * np.log(np.maximum(mid, 1e-300))).sum((1, 2))


def step_ll(y: np.ndarray, min_size: int) -> np.ndarray:
    """Best single-step log-likelihood (up to the same constants) of (R, L, K) counts."""
    cum = np.cumsum(y, axis=1)
    taus = np.arange(min_size, y.shape[1] - min_size + 1)
    left = cum[:, taus - 1]
    right = cum[:, -1][:, None] - left

    def ll(x: np.ndarray) -> np.ndarray:
        return last_sum(xlogx_counts(x)) - xlogx_counts(last_sum(x))

    return (ll(left) + ll(right)).max(axis=1)


def _gains(y: np.ndarray, configs: list[tuple[int, int]], min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate: the best transition's gain over the best step, and which config."""
    trans = np.stack([transition_ll(y, t1, t2) for t1, t2 in configs], axis=1)
    best = trans.argmax(axis=1)
    return trans[np.arange(len(y)), best] - step_ll(y, min_size), best


def classify(seg: np.ndarray, tau: int, noise: Noise, min_size: int, rng: np.random.Generator) -> Shape:
    """Step or gradual for a mix change at `tau` (index within the segment counts `seg`)."""
    L = len(seg)
    configs = _configs(L, tau, min_size)
    if not configs or tau < 1 or tau >= L:
        return Shape("step", tau, tau)
    gain, best = _gains(seg[None].astype(float), configs, min_size)
    if gain[0] / noise.phi <= 1.0:
        return Shape("step", tau, tau)
    model = MixModel(seg)
    fitted = np.vstack([np.repeat(_shares(seg[:tau].sum(0))[None], tau, 0),
                        np.repeat(_shares(seg[tau:].sum(0))[None], L - tau, 0)])
    # Sequential: once 6 replicates reach the observed gain, the 95th percentile of all 99
    # (between the 6th and 5th largest) does too, and the answer is `step` whatever the rest.
    first = _gains(model.simulate(seg, fitted, noise, CHECK_FIRST, rng), configs, min_size)[0]
    if int((first >= gain[0]).sum()) >= 6:
        return Shape("step", tau, tau)
    rest = _gains(model.simulate(seg, fitted, noise, CHECK_REPLICATES - CHECK_FIRST, rng), configs, min_size)[0]
    if gain[0] <= np.quantile(np.concatenate([first, rest]), 0.95):
        return Shape("step", tau, tau)
    t1, t2 = configs[int(best[0])]
    return Shape("gradual", t1, t2 - 1)
