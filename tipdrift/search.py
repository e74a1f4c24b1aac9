"""The search step: penalties on the -log L scale and PELT over a precomputed cost matrix
(methods.md sections 2-3)."""
from __future__ import annotations

import numpy as np

from tipdrift.params import parse_penalty


def penalty_for(penalty: str | float, n_params: int, n_periods: int) -> tuple[float, float]:
    """(per-change penalty, per-segment log-length coefficient) on the -log L scale.

    bic: (p + 1)/2 log T; mbic: (p + 2)/2 log T plus 0.5 log(length) per segment, where p
    is the number of free parameters per segment (K - 1 shares, or 1 rate).
    """
    penalty = parse_penalty(penalty)
    if isinstance(penalty, float):
        return penalty, 0.0
    if penalty == "bic":
        return (n_params + 1) / 2 * np.log(n_periods), 0.0
    return (n_params + 2) / 2 * np.log(n_periods), 0.5


def pelt_search(cost_matrix: np.ndarray, pen: float, min_size: int) -> list[int]:
    """PELT with jump=1 over a precomputed cost matrix; returns breakpoints ending with n.

    Follows `ruptures.Pelt._seg` step for step (same candidate order, first minimum on
    ties, same pruning rule), so both give the same breakpoints for the same costs. The
    admissible set is small after pruning, so plain Python lists beat numpy calls here.
    """
    n = cost_matrix.shape[0] - 1
    rows = (cost_matrix.T + pen).tolist()  # rows[e][s] = c(s, e) + pen
    F = [0.0] + [float("inf")] * n
    prev = [-1] * (n + 1)
    adm: list[int] = []
    for bkp in [*range(min_size, n), n]:
        new = bkp - min_size
        if new == 0 or new >= min_size:  # [0, new) has a partition; ruptures skips the others
            adm.append(new)
        row = rows[bkp]
        vals = [F[s] + row[s] for s in adm]
        best = min(vals)
        F[bkp] = best
        prev[bkp] = adm[vals.index(best)]
        limit = best + pen
        adm = [s for s, v in zip(adm, vals) if v <= limit]
    bkps = [n]
    while prev[bkps[-1]] > 0:
        bkps.append(prev[bkps[-1]])
    return sorted(bkps)
