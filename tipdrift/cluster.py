"""Clustered uncertainty for cumulative incidence (methods.md section 9).

Co-defendants of one court case share a prosecutor, a judge and evidence, so their
outcomes are correlated (an intraclass correlation of 0.21 on US federal trafficking cases:
a design effect of about 2). Defendant-level intervals are then too narrow. Here the
standard error of the cumulative incidence at the horizon comes from a cluster bootstrap:
whole cases are resampled with replacement (multinomial counts per case, as weights), and
the Aalen-Johansen estimate is recomputed for every replicate at once, with numpy over a
(replicates x records) weight matrix. A record without a case is its own cluster.
"""
from __future__ import annotations

import numpy as np

DEFAULT_REPLICATES = 200


def cluster_weights(clusters: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    """(replicates, n) bootstrap weights: each cluster's multinomial draw count, given to
    every record of the cluster."""
    _, inverse = np.unique(clusters, return_inverse=True)
    c = int(inverse.max()) + 1 if len(inverse) else 0
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(c, np.full(c, 1.0 / c), size=replicates) if c else np.zeros((replicates, 0))
    return counts[:, inverse].astype(float)


def weighted_cif_at(time: np.ndarray, status: np.ndarray, horizon: float, n_causes: int,
                    weights: np.ndarray) -> np.ndarray:
    """Aalen-Johansen cumulative incidence of causes 1..n_causes at `horizon`, for each row
    of `weights` (replicates x records): array (replicates, n_causes). Status 0 = censored."""
    order = np.argsort(time, kind="stable")
    t, st, w = time[order], status[order], weights[:, order]
    uniq, first = np.unique(t, return_index=True)
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w, axis=1)], axis=1)
    at_risk = cum[:, -1:] - cum[:, first]  # weight with time >= each distinct time
    events = np.add.reduceat(w * (st > 0), first, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, events / at_risk, 0.0)
        surv = np.cumprod(1.0 - hazard, axis=1)
        before = np.concatenate([np.ones((w.shape[0], 1)), surv[:, :-1]], axis=1)
        keep = uniq <= horizon
        out = np.empty((w.shape[0], n_causes))
        for k in range(1, n_causes + 1):
            dk = np.add.reduceat(w * (st == k), first, axis=1)
            out[:, k - 1] = np.where(at_risk > 0, before * dk / at_risk, 0.0)[:, keep].sum(axis=1)
    return out


def clustered_se(time: np.ndarray, status: np.ndarray, horizon: float, n_causes: int, clusters: np.ndarray,
                 replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> np.ndarray:
    """Cluster-bootstrap standard error of each cause's cumulative incidence at `horizon`."""
    if len(time) == 0:
        return np.full(n_causes, np.nan)
    est = weighted_cif_at(time, status, horizon, n_causes, cluster_weights(clusters, replicates, seed))
    return est.std(axis=0, ddof=1)


def cluster_ids(case_id: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One cluster label per record: its case, or (no case) a label of its own."""
    own = np.char.add("\x00row:", row.astype(str))
    ids = np.asarray(case_id, dtype=object)
    return np.where(ids == None, own, ids).astype(str)  # noqa: E711 (elementwise comparison)


def weighted_median_time(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Kaplan-Meier median time for each row of `weights` (replicates x records): the first
    event time at which survival falls to 0.5 or below (NaN where it never does)."""
    order = np.argsort(time, kind="stable")
    t, ev, w = time[order], event[order].astype(bool), weights[:, order]
    uniq, first = np.unique(t, return_index=True)
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w, axis=1)], axis=1)
    at_risk = cum[:, -1:] - cum[:, first]
    d = np.add.reduceat(w * ev, first, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - np.where(at_risk > 0, d / at_risk, 0.0), axis=1)
    below = surv <= 0.5
    idx = np.argmax(below, axis=1)
    return np.where(below.any(axis=1), uniq[idx], np.nan)


def clustered_median_ci(time: np.ndarray, event: np.ndarray, clusters: np.ndarray, alpha: float = 0.05,
                        replicates: int = DEFAULT_REPLICATES, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the Kaplan-Meier median over a cluster bootstrap (NaN when
    more than alpha / 2 of the replicates never reach the median)."""
    if len(time) == 0:
        return (float("nan"), float("nan"))
    med = weighted_median_time(time, event, cluster_weights(clusters, replicates, seed))
    if np.isnan(med).mean() > alpha / 2:
        return (float(np.nanquantile(med, alpha / 2)) if (~np.isnan(med)).any() else float("nan"), float("nan"))
    return (float(np.quantile(med, alpha / 2)), float(np.quantile(med, 1 - alpha / 2)))
