"""Multinomial segment cost for case-type mixes (methods.md section 2).

c(s, e) = -sum_k N_k log(N_k / N) = N log N - sum_k N_k log N_k, with 0 log 0 = 0,
where N_k are the counts of category k over periods [s, e). With cumulative sums it is
O(K) per segment. Divided by the overdispersion phi (quasi-likelihood); with the mbic
preset 0.5 * log(segment length) is added to each segment (not divided by phi).
"""
from __future__ import annotations

import numpy as np
from ruptures.base import BaseCost


def xlogx(x: np.ndarray) -> np.ndarray:
    """x * log(x) with 0 log 0 = 0 (x are counts, so never in (0, 1))."""
    return x * np.log(np.where(x > 0, x, 1.0))


_TABLE_LIMIT = 1_000_000  # counts up to this are looked up (an 8 MB table at most)
_table = np.zeros(1)


def _xlogx_upto(top: int) -> np.ndarray:
    """The shared table of x log x for x = 0..top or more (grown by doubling, kept)."""
    global _table
    table = _table
    if top >= len(table):
        table = xlogx(np.arange(min(max(top + 1, 2 * len(table)), _TABLE_LIMIT + 1), dtype=float))
        if len(table) > len(_table):  # never replace a longer table another caller made meanwhile
            _table = table
    return table


def count_array(x: np.ndarray) -> np.ndarray | None:
    """`x` as int64 when it holds whole, non-negative counts the shared table covers, else None."""
    if x.size and (x.min() < 0 or x.max() > _TABLE_LIMIT):
        return None
    xi = x.astype(np.int64)
    return xi if np.array_equal(xi, x) else None


def xlogx_table_for(top: int) -> np.ndarray | None:
    """The shared x log x table covering 0..top, or None for top < 0 or past the limit."""
    return _xlogx_upto(top) if 0 <= top <= _TABLE_LIMIT else None


def xlogx_counts(x: np.ndarray) -> np.ndarray:
    """x log x of whole counts by a gather from a shared table (about twice as fast as the
    logs, and the same values to the last bit); other values through `xlogx`."""
    xi = count_array(x)
    if xi is None:
        return xlogx(x)
    return _xlogx_upto(int(xi.max()) if xi.size else 0)[xi]


def xlogx_table(cum: np.ndarray) -> np.ndarray | None:
    """Lookup table of x log x for x = 0..total when the counts are whole numbers, else None.

    A gather from the table is several times faster than computing logs, and error() and
    matrix() use the same table, so their values agree to the last bit.
    """
    top = float(cum[-1].sum()) if cum.ndim > 1 else float(cum[-1])
    if not np.all(cum == np.round(cum)) or top > 5e7:
        return None
    if top <= _TABLE_LIMIT:  # the table the scans share (the same values)
        return _xlogx_upto(int(top))
    return xlogx(np.arange(int(top) + 1, dtype=float))


def _rowsum(x: np.ndarray) -> np.ndarray:
    """Sum over the first (category) axis, one category at a time: fast on long inner
    axes, and the same order of additions whatever the array's shape, so a single
    segment's cost and the whole matrix agree to the last bit."""
    out = x[0].copy()
    for k in range(1, x.shape[0]):
        out += x[k]
    return out


def last_sum(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Sum over the last (category) axis, one category at a time. numpy's reduction over a
    short contiguous last axis is slow (about 1 ms for 199 x 229 x 4: five times these
    additions), and the bootstrap's scans and draws reduce such arrays thousands of times a
    run; for fewer than 8 categories the additions are numpy's, in its order, to the last bit
    (8 or more may differ in the last bits). For int64 and float arrays, as every caller
    passes: unlike numpy's sum it does not promote small integer types or booleans."""
    if x.shape[-1] == 0:
        return x.sum(axis=-1, keepdims=keepdims)
    out = x[..., 0].copy()
    for k in range(1, x.shape[-1]):
        out += x[..., k]
    return out[..., None] if keepdims else out


def last_max(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Maximum over the last (category) axis, one category at a time (as `last_sum`)."""
    if x.shape[-1] == 0:
        return x.max(axis=-1, keepdims=keepdims)  # numpy's error: no maximum of nothing
    out = x[..., 0].copy()
    for k in range(1, x.shape[-1]):
        np.maximum(out, x[..., k], out=out)
    return out[..., None] if keepdims else out


def _cost_from_counts(nk: np.ndarray, length: np.ndarray, phi: float, length_penalty: float,
                      table: np.ndarray | None) -> np.ndarray:
    n = _rowsum(nk)
    if table is not None:  # nk holds whole numbers (int64 when a table exists)
        cost = (table[n] - _rowsum(table[nk])) / phi
    else:
        cost = (xlogx(n) - _rowsum(xlogx(nk))) / phi
    if length_penalty:
        cost = cost + length_penalty * np.log(length.astype(float))
    return cost


def multinomial_cost(cum: np.ndarray, starts: np.ndarray, ends: np.ndarray, phi: float = 1.0,
                     length_penalty: float = 0.0, table: np.ndarray | None = None) -> np.ndarray:
    """Costs of segments [starts[i], ends[i]) from cumulative counts `cum` (T+1, K), cum[0] = 0."""
    return _cost_from_counts((cum[ends] - cum[starts]).T, np.asarray(ends - starts), phi, length_penalty, table)


def multinomial_cost_matrix(cum: np.ndarray, min_size: int = 1, phi: float = 1.0, length_penalty: float = 0.0,
                            table: np.ndarray | None = None) -> np.ndarray:
    """Cost of every segment [s, e) with e - s >= min_size as an (n+1, n+1) array, inf elsewhere."""
    n1 = cum.shape[0]
    idx = np.arange(n1)
    length = idx[None, :] - idx[:, None]
    valid = length >= min_size
    ct = np.ascontiguousarray(cum.T)  # (K, n+1): long inner axis for the broadcast
    # Below the diagonal the differences are negative; with a table they index from its
    # end (harmless, |value| <= total) and are masked out below.
    nk = ct[:, None, :] - ct[:, :, None]
    if table is None:
        nk = np.maximum(nk, 0.0)
    cost = _cost_from_counts(nk, np.maximum(length, 1), phi, length_penalty, table)
    return np.where(valid, cost, np.inf)


class CostMultinomial(BaseCost):
    """Profiled multinomial negative log-likelihood of a segment's category counts.

    Signal: array (n_periods, n_categories) of counts. `phi` divides the likelihood part
    (overdispersion); `length_penalty` adds length_penalty * log(segment length) (mbic).
    """

    model = "multinomial"

    def __init__(self, phi: float = 1.0, length_penalty: float = 0.0, min_size: int = 1):
        self.phi = float(phi)
        self.length_penalty = float(length_penalty)
        self.min_size = int(min_size)
        self.signal: np.ndarray | None = None
        self.cum: np.ndarray | None = None
        self.table: np.ndarray | None = None

    def fit(self, signal: np.ndarray) -> "CostMultinomial":
        y = np.asarray(signal, dtype=float)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if (y < 0).any():
            raise ValueError("multinomial cost needs non-negative counts")
        self.signal = y
        cum = np.vstack([np.zeros((1, y.shape[1])), np.cumsum(y, axis=0)])
        self.table = xlogx_table(cum)
        self.cum = cum.astype(np.int64) if self.table is not None else cum
        return self

    def error(self, start: int, end: int) -> float:
        return float(multinomial_cost(self.cum, np.array([start]), np.array([end]), self.phi, self.length_penalty,
                                      self.table)[0])

    def matrix(self, min_size: int = 1) -> np.ndarray:
        """Cost of every segment [s, e) at least `min_size` long, as an (n+1, n+1) array (inf elsewhere)."""
        return multinomial_cost_matrix(self.cum, min_size, self.phi, self.length_penalty, self.table)
