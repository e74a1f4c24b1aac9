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
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from tipdrift.inference import segment_test
from tipdrift.models import MixModel, Noise
from tipdrift.series import POOLED, CountSeries
from tipdrift.shift import Decomposition, Shift


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


@dataclass(frozen=True)
class Windows:
    """The two regimes compared, away from the uncertain transition: window 0 from the
    segment's start to `buffer` periods before the interval, window 1 from `buffer` after
    the interval to the segment's end, so a unit joining near the shift counts as entering."""

    start: dt.date  # segment start
    w0_end: dt.date  # exclusive
    w1_start: dt.date
    last: dt.date  # segment's last period (inclusive)
    after_last: dt.date  # exclusive end of window 1

    def as_list(self) -> list[tuple[dt.date, dt.date]]:
        return [(self.start, self.w0_end), (self.w1_start, self.last)]


def shift_windows(periods: list[dt.date], shift: Shift, min_size: int) -> Windows:
    """Windows 0 and 1 of a pooled shift, from its indices in the pooled series' periods."""
    a, e = shift.segment_index
    lo, hi = shift.ci_index
    buffer = max(1, min_size // 2)
    return Windows(start=periods[a], w0_end=periods[max(a + 1, lo - buffer)], w1_start=periods[min(e - 1, hi + buffer)],
                   last=periods[e - 1], after_last=periods[e] if e < len(periods) else dt.date.max)


def _weights_shares(win: pl.DataFrame, category: str) -> tuple[dict[str, float], dict[str, float]]:
    per = win.group_by("unit").agg(pl.col("count").sum().alias("n"),
                                   pl.col("count").filter(pl.col("category") == category).sum().alias("k"))
    per = per.filter(pl.col("n") > 0).sort("unit")  # a fixed order: sums of floats give the same bits every run
    total = per.get_column("n").sum()
    return ({u: n / total for u, n in zip(per["unit"], per["n"])},
            {u: k / n for u, n, k in zip(per["unit"], per["n"], per["k"])})


def balanced_panel_test(series: CountSeries, shift: Shift, win: Windows, later_units: set[str], min_size: int,
                        n_boot: int, seed: int) -> dict[str, Any]:
    """The pooled shift re-tested on the units with records before its segment starts and
    in window 1: the scan test p-value and the TVD at the shift's date."""
    starts = (series.long.filter(pl.col("unit") != POOLED, pl.col("count") > 0)
              .group_by("unit").agg(pl.col("period").min()))
    early = set(starts.filter(pl.col("period") <= win.start).get_column("unit").to_list())
    panel = sorted(early & later_units)
    seg = (series.long.filter(pl.col("unit").is_in(panel), pl.col("period") >= win.start,
                              pl.col("period") < win.after_last)
           .group_by("period", "category").agg(pl.col("count").sum())
           .pivot(on="category", index="period", values="count").sort("period"))
    for c in series.categories:
        if c not in seg.columns:
            seg = seg.with_columns(pl.lit(0).alias(c))
    y = seg.select(series.categories).to_numpy().astype(float)
    if len(y) < 2 * min_size or y.sum() <= 0:
        return {"units": len(panel), "p_value": None, "tvd": None}
    model = MixModel(y)
    dates = seg.get_column("period").to_list()
    i = dates.index(shift.period) if shift.period in dates else len(y) // 2
    before, after = model.yk[:i].sum(0), model.yk[i:].sum(0)
    tvd = 0.5 * float(np.abs(after / max(after.sum(), 1) - before / max(before.sum(), 1)).sum())
    test = segment_test(model, model.yk, Noise(phi=float(shift.phi)), min_size, n_boot,
                        np.random.default_rng([seed, len(panel), i]))
    return {"units": len(panel), "p_value": round(test.p_value, 6), "tvd": round(tvd, 4)}


def decompose_pooled_shift(series: CountSeries, shift: Shift, min_size: int = 6, n_boot: int = 199,
                           alpha: float = 0.05, seed: int = 0) -> Decomposition:
    """Decompose a pooled mix shift and test whether it survives on the balanced panel."""
    win = shift_windows(series.periods(POOLED), shift, min_size)
    moved = shift.effect.moved[0].category if shift.effect.moved else series.categories[0]
    w0, s0 = _weights_shares(_window(series.long, win.start, win.w0_end), moved)
    w1, s1 = _weights_shares(_window(series.long, win.w1_start, win.after_last), moved)
    parts = decompose_share_change(w0, s0, w1, s1)
    # Fixed-weight series: continuing units at their average weight, own shares moving.
    cont = sorted(set(w0) & set(w1))
    wref = {o: (w0[o] + w1[o]) / 2 for o in cont}
    fixed = sum(wref[o] * (s1[o] - s0[o]) for o in cont) / (sum(wref.values()) or 1.0)
    balanced = balanced_panel_test(series, shift, win, set(w1), min_size, n_boot, seed)
    vanishes = (balanced["p_value"] is None or balanced["p_value"] > alpha
                or (balanced["tvd"] or 0.0) < 0.5 * float(shift.effect.tvd or 0.0))
    churn = parts["entering"] + parts["leaving"]
    return Decomposition(
        kind="mix", delta=parts["delta"], within=parts["within"], entering=parts["entering"], leaving=parts["leaving"],
        entering_units=parts["entering_units"], leaving_units=parts["leaving_units"],
        continuing_units=parts["continuing_units"], windows=win.as_list(), composition_artefact=bool(vanishes),
        attributed_to=max(("within", "unit_mix", "entering", "leaving"), key=lambda k: abs(parts[k])),
        unit_mix=parts["unit_mix"], category=moved, share_before=parts["share_before"],
        share_after=parts["share_after"], fixed_weight_change=fixed, balanced_panel=balanced,
        entry_exit_share=round(abs(churn) / abs(parts["delta"]), 4) if parts["delta"] else None)


def decompose_pooled_volume(series: CountSeries, shift: Shift, min_size: int = 6) -> Decomposition:
    """Split a pooled volume shift into continuing units' change and units entering or leaving.

    Mean cases per period in window 0 and window 1 (the location interval and a buffer
    left out, as for mix shifts); a unit with no records in one window enters or leaves.
    """
    periods = series.periods(POOLED)
    win = shift_windows(periods, shift, min_size)
    n0 = max(1, sum(1 for p in periods if win.start <= p < win.w0_end))
    n1 = max(1, sum(1 for p in periods if win.w1_start <= p < win.after_last))

    def per_unit(start: dt.date, end: dt.date, n: int) -> dict[str, float]:
        totals = _window(series.long, start, end).group_by("unit").agg(pl.col("count").sum()).sort("unit")
        return {u: c / n for u, c in totals.iter_rows() if c > 0}

    v0, v1 = per_unit(win.start, win.w0_end, n0), per_unit(win.w1_start, win.after_last, n1)
    entering, leaving, cont = sorted(set(v1) - set(v0)), sorted(set(v0) - set(v1)), sorted(set(v0) & set(v1))
    parts = {"delta": sum(v1.values()) - sum(v0.values()), "within": sum(v1[u] - v0[u] for u in cont),
             "entering": sum(v1[u] for u in entering), "leaving": -sum(v0[u] for u in leaving)}
    churn = parts["entering"] + parts["leaving"]
    return Decomposition(
        kind="volume", **parts, entering_units=entering, leaving_units=leaving, continuing_units=len(cont),
        windows=win.as_list(), attributed_to=max(("within", "entering", "leaving"), key=lambda k: abs(parts[k])),
        composition_artefact=bool(parts["delta"] and abs(churn) >= 0.5 * abs(parts["delta"])))


def decompose(series: CountSeries, shift: Shift, params: Any) -> Decomposition:
    """The decomposition of a pooled shift of either kind (params: a DriftParams)."""
    if shift.kind == "mix":
        return decompose_pooled_shift(series, shift, min_size=params.segment, n_boot=params.n_boot,
                                      alpha=params.alpha, seed=params.seed)
    return decompose_pooled_volume(series, shift, min_size=params.segment)
