"""Composition versus within-unit change in a pooled series (methods.md section 7).

Pooled share S = sum_o w_o s_o. Between window 0 (before the shift) and window 1 (after),
with bars for the mean of the two windows and Sbar = (S0 + S1) / 2:

  dS = sum_{o in C} wbar_o ds_o                 within continuing units
     + sum_{o in C} (sbar_o - Sbar) dw_o        mix of continuing units
     + sum_{o in N} w_o1 (s_o1 - Sbar)          units entering
     - sum_{o in X} w_o0 (s_o0 - Sbar)          units leaving

The four parts sum to dS exactly. The windows leave out the shift's location interval
(plus a buffer), so units joining near the shift count as entering. A pooled shift that vanishes on the balanced panel
(units present before the shift and after it) is labelled a composition artefact.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from tipdrift.detect import MixModel, segment_test
from tipdrift.series import POOLED, CountSeries


def decompose_share_change(w0: dict[str, float], s0: dict[str, float], w1: dict[str, float],
                           s1: dict[str, float]) -> dict[str, Any]:
    """The four-part decomposition for one category, given unit weights and within-unit shares."""
    cont = sorted(set(w0) & set(w1))
    entering = sorted(set(w1) - set(w0))
    leaving = sorted(set(w0) - set(w1))
    S0 = sum(w0[o] * s0[o] for o in w0)
    S1 = sum(w1[o] * s1[o] for o in w1)
    Sbar = (S0 + S1) / 2
    within = sum((w0[o] + w1[o]) / 2 * (s1[o] - s0[o]) for o in cont)
    mix = sum(((s0[o] + s1[o]) / 2 - Sbar) * (w1[o] - w0[o]) for o in cont)
    ent = sum(w1[o] * (s1[o] - Sbar) for o in entering)
    lev = -sum(w0[o] * (s0[o] - Sbar) for o in leaving)
    return {"share_before": S0, "share_after": S1, "delta": S1 - S0, "within": within, "unit_mix": mix,
            "entering": ent, "leaving": lev, "entering_units": entering, "leaving_units": leaving,
            "continuing_units": len(cont)}


def _window(long: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    return (long.filter(pl.col("unit") != POOLED, pl.col("period") >= start, pl.col("period") < end)
            .group_by("unit", "category").agg(pl.col("count").sum()))


def decompose_pooled_shift(series: CountSeries, shift: dict[str, Any], min_size: int = 6, n_boot: int = 199,
                           alpha: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Decompose a pooled mix shift and test whether it survives on the balanced panel."""
    cats = series.categories
    periods = (series.long.filter(pl.col("unit") == POOLED).get_column("period").unique().sort().to_list())
    a = dt.date.fromisoformat(shift["segment"][0])
    tau = dt.date.fromisoformat(shift["period"])
    last = dt.date.fromisoformat(shift["segment"][1])
    after_last = periods[periods.index(last) + 1] if periods.index(last) + 1 < len(periods) else dt.date.max
    # The two regimes are compared away from the uncertain transition: window 0 ends
    # `buffer` periods before the interval's start, window 1 begins `buffer` after its end,
    # so a unit that joins near the shift counts as entering, not as continuing.
    buffer = max(1, min_size // 2)
    lo_i = periods.index(dt.date.fromisoformat(shift["ci"][0]))
    hi_i = periods.index(dt.date.fromisoformat(shift["ci"][1]))
    a_i = periods.index(a)
    w0_end = periods[max(a_i + 1, lo_i - buffer)]
    w1_start = periods[min(periods.index(last), hi_i + buffer)]
    moved = shift["effect"]["moved"][0]["category"] if shift["effect"]["moved"] else cats[0]

    def weights_shares(win: pl.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
        per = win.group_by("unit").agg(pl.col("count").sum().alias("n"),
                                       pl.col("count").filter(pl.col("category") == moved).sum().alias("k"))
        per = per.filter(pl.col("n") > 0)
        total = per.get_column("n").sum()
        w = {u: n / total for u, n in zip(per["unit"], per["n"])}
        s = {u: k / n for u, n, k in zip(per["unit"], per["n"], per["k"])}
        return w, s

    w0, s0 = weights_shares(_window(series.long, a, w0_end))
    w1, s1 = weights_shares(_window(series.long, w1_start, after_last))
    parts = decompose_share_change(w0, s0, w1, s1)
    parts["category"] = moved
    parts["windows"] = [[a.isoformat(), w0_end.isoformat()], [w1_start.isoformat(), last.isoformat()]]
    # Fixed-weight series: continuing units at their average weight, own shares moving.
    cont = sorted(set(w0) & set(w1))
    wref = {o: (w0[o] + w1[o]) / 2 for o in cont}
    z = sum(wref.values()) or 1.0
    parts["fixed_weight_change"] = sum(wref[o] * (s1[o] - s0[o]) for o in cont) / z

    # Balanced panel: units with records before the shift's segment starts and after it.
    starts = series.long.filter(pl.col("unit") != POOLED, pl.col("count") > 0).group_by("unit").agg(pl.col("period").min())
    early = set(starts.filter(pl.col("period") <= a).get_column("unit").to_list())
    panel = sorted(early & set(w1))
    seg = (series.long.filter(pl.col("unit").is_in(panel), pl.col("period") >= a, pl.col("period") < after_last)
           .group_by("period", "category").agg(pl.col("count").sum())
           .pivot(on="category", index="period", values="count").sort("period"))
    for c in cats:
        if c not in seg.columns:
            seg = seg.with_columns(pl.lit(0).alias(c))
    y = seg.select(cats).to_numpy().astype(float)
    balanced: dict[str, Any] = {"units": len(panel)}
    if len(y) >= 2 * min_size and y.sum() > 0:
        model = MixModel(y)
        i = seg.get_column("period").to_list().index(tau) if tau in seg.get_column("period").to_list() else len(y) // 2
        before, after = model.yk[:i].sum(0), model.yk[i:].sum(0)
        tvd = 0.5 * float(np.abs(after / max(after.sum(), 1) - before / max(before.sum(), 1)).sum())
        lam, p, _ = segment_test(model, model.yk, float(shift.get("phi", 1.0)), min_size, n_boot,
                                 np.random.default_rng([seed, len(panel), i]))
        balanced.update(p_value=round(p, 6), tvd=round(tvd, 4))
    else:
        balanced.update(p_value=None, tvd=None)
    pooled_tvd = float(shift["effect"]["tvd"])
    vanishes = balanced["p_value"] is None or balanced["p_value"] > alpha or (balanced["tvd"] or 0.0) < 0.5 * pooled_tvd
    churn = parts["entering"] + parts["leaving"]
    out = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in parts.items()}
    out["balanced_panel"] = balanced
    out["composition_artefact"] = bool(vanishes)
    out["attributed_to"] = max(("within", "unit_mix", "entering", "leaving"), key=lambda k: abs(parts[k]))
    out["entry_exit_share"] = round(abs(churn) / abs(parts["delta"]), 4) if parts["delta"] else None
    return out


def decompose_pooled_volume(series: CountSeries, shift: dict[str, Any], min_size: int = 6) -> dict[str, Any]:
    """Split a pooled volume shift into continuing units' change and units entering or leaving.

    Mean cases per period in window 0 and window 1 (the location interval and a buffer
    left out, as for mix shifts); a unit with no records in one window enters or leaves.
    """
    periods = series.long.filter(pl.col("unit") == POOLED).get_column("period").unique().sort().to_list()
    a = dt.date.fromisoformat(shift["segment"][0])
    last = dt.date.fromisoformat(shift["segment"][1])
    buffer = max(1, min_size // 2)
    lo_i = periods.index(dt.date.fromisoformat(shift["ci"][0]))
    hi_i = periods.index(dt.date.fromisoformat(shift["ci"][1]))
    w0_end = periods[max(periods.index(a) + 1, lo_i - buffer)]
    w1_start = periods[min(periods.index(last), hi_i + buffer)]
    after_last = periods[periods.index(last) + 1] if periods.index(last) + 1 < len(periods) else dt.date.max
    n0 = max(1, sum(1 for p in periods if a <= p < w0_end))
    n1 = max(1, sum(1 for p in periods if w1_start <= p < after_last))
    v0 = {u: c / n0 for u, c in _window(series.long, a, w0_end).group_by("unit").agg(pl.col("count").sum()).iter_rows() if c > 0}
    v1 = {u: c / n1 for u, c in _window(series.long, w1_start, after_last).group_by("unit").agg(pl.col("count").sum()).iter_rows() if c > 0}
    entering = sorted(set(v1) - set(v0))
    leaving = sorted(set(v0) - set(v1))
    cont = sorted(set(v0) & set(v1))
    parts = {"delta": sum(v1.values()) - sum(v0.values()),
             "within": sum(v1[u] - v0[u] for u in cont),
             "entering": sum(v1[u] for u in entering), "leaving": -sum(v0[u] for u in leaving)}
    out: dict[str, Any] = {k: round(v, 4) for k, v in parts.items()}
    out.update(entering_units=entering, leaving_units=leaving, continuing_units=len(cont),
               windows=[[a.isoformat(), w0_end.isoformat()], [w1_start.isoformat(), last.isoformat()]])
    out["attributed_to"] = max(("within", "entering", "leaving"), key=lambda k: abs(parts[k]))
    churn = parts["entering"] + parts["leaving"]
    out["composition_artefact"] = bool(parts["delta"] and abs(churn) >= 0.5 * abs(parts["delta"]))
    return out
