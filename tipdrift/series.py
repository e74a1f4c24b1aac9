"""Per-unit count series by period and category (methods.md section 1).

Counts are by the event's own date (case opening, arrest, filing). A unit's series runs
from its first period with a record to the last period analysed; periods without
records are rows of zeros, not gaps. Periods after `as_of` minus a reporting lag are
right-censored (records still arriving) and are excluded from detection.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from tipdrift.errors import ParameterError
from tipdrift.timeutil import FREQ_EVERY
from tipdrift.vocab import CASE_TYPES

POOLED = "(pooled)"


@dataclass
class CountSeries:
    """Counts of one table: long frame (unit, period, category, count) plus accessors."""

    long: pl.DataFrame
    categories: list[str]
    freq: str
    first_period: dt.date
    last_period: dt.date
    censored_from: dt.date | None  # first excluded period, if any records fall after the guard

    @property
    def units(self) -> list[str]:
        return self.long.get_column("unit").unique().sort().to_list()

    def periods(self, unit: str) -> list[dt.date]:
        """The periods of one unit's series, first to last (indices of its shifts count these)."""
        return self.long.filter(pl.col("unit") == unit).get_column("period").unique().sort().to_list()

    def matrix(self, unit: str) -> tuple[list[dt.date], np.ndarray]:
        """Periods and a (T, K) count array for one unit, categories in `self.categories` order."""
        wide = (self.long.filter(pl.col("unit") == unit)
                .pivot(on="category", index="period", values="count", aggregate_function="sum")
                .sort("period"))
        if wide.height == 0:
            raise ParameterError(f"unknown unit '{unit}'; units are: {', '.join(self.units[:20])}")
        for c in self.categories:
            if c not in wide.columns:
                wide = wide.with_columns(pl.lit(0, pl.UInt32).alias(c))
        y = wide.select(self.categories).to_numpy().astype(np.int64)
        return wide.get_column("period").to_list(), y

    def matrices(self) -> dict[str, tuple[list[dt.date], np.ndarray]]:
        """All units at once (one pivot), for detection over many units."""
        wide = (self.long.pivot(on="category", index=["unit", "period"], values="count", aggregate_function="sum")
                .sort("unit", "period"))
        for c in self.categories:
            if c not in wide.columns:
                wide = wide.with_columns(pl.lit(0, pl.UInt32).alias(c))
        out: dict[str, tuple[list[dt.date], np.ndarray]] = {}
        for (unit,), part in wide.group_by("unit", maintain_order=True):
            out[str(unit)] = (part.get_column("period").to_list(), part.select(self.categories).to_numpy().astype(np.int64))
        return out


def period_expr(col: str, freq: str) -> pl.Expr:
    if freq not in FREQ_EVERY:
        raise ParameterError(f"freq must be one of {', '.join(FREQ_EVERY)}, not '{freq}'")
    return pl.col(col).dt.truncate(FREQ_EVERY[freq])


def _last_period(as_of: dt.date, freq: str, reporting_lag: int) -> dt.date:
    """The last period analysed: as_of's period minus the reporting lag."""
    every = FREQ_EVERY[freq]
    as_of_period = pl.select(pl.lit(as_of).dt.truncate(every)).item()
    return pl.select(pl.lit(as_of_period).dt.offset_by(f"-{reporting_lag}{every[1:]}")).item() if reporting_lag \
        else as_of_period


def _filled(counted: pl.LazyFrame, order: list[str], every: str) -> pl.LazyFrame:
    """Each unit from its first to its last period with a record, every category, zeros
    where nothing was recorded (an empty month inside a unit's span is an observed zero;
    before its first or after its last record it is not observed at all)."""
    spans = counted.group_by("unit").agg(pl.col("period").min().alias("start"), pl.col("period").max().alias("end"))
    grid = (spans.with_columns(pl.date_ranges(pl.col("start"), pl.col("end"), interval=every).alias("period"))
            .explode("period").drop("start", "end")
            .join(pl.LazyFrame({"category": order}), how="cross"))
    return (grid.join(counted, on=["unit", "period", "category"], how="left")
            .with_columns(pl.col("count").fill_null(0)))


def _category_order(present: list[str], categories: list[str] | None) -> list[str]:
    if categories is not None:
        return list(categories)
    return [c for c in CASE_TYPES if c in present] + sorted(c for c in present if c not in CASE_TYPES)


def build_series(
    df: pl.DataFrame | pl.LazyFrame,
    unit: str = "org_id",
    date: str = "opened_date",
    category: str = "case_type",
    freq: str = "month",
    categories: list[str] | None = None,
    as_of: dt.date | None = None,
    reporting_lag: int = 0,
    pooled: bool = False,
) -> CountSeries:
    """Count records per unit, period and category, each unit from its first to its last
    record, zero-filled inside that span.

    `as_of` (default: the latest date in the data) and `reporting_lag` (in periods) set
    the last period analysed: periods after as_of minus the lag are dropped and the
    first of them is returned as `censored_from`. With `pooled`, an all-units series
    named "(pooled)" is added (from the first to the last period of any unit).
    """
    if freq not in FREQ_EVERY:
        raise ParameterError(f"freq must be one of {', '.join(FREQ_EVERY)}, not '{freq}'")
    lf = df.lazy()
    schema = lf.collect_schema()
    for c in (unit, date, category):
        if c not in schema:
            raise ParameterError(f"column '{c}' is not in the table (columns: {', '.join(schema.names())})")
    base = lf.select(pl.col(unit).cast(pl.String).alias("unit"), pl.col(date).alias("date"),
                     pl.col(category).cast(pl.String).alias("category")).drop_nulls()
    as_of = as_of or base.select(pl.col("date").max()).collect().item()
    if as_of is None:
        raise ParameterError("the table has no dated records")
    every, last = FREQ_EVERY[freq], _last_period(as_of, freq, reporting_lag)
    dated = base.with_columns(period_expr("date", freq).alias("period"))
    counted = (dated.filter(pl.col("period") <= last)
               .group_by("unit", "period", "category").agg(pl.len().cast(pl.Int64).alias("count")))
    order = _category_order(counted.select(pl.col("category").unique()).collect().get_column("category").to_list(),
                            categories)
    censored = dated.filter(pl.col("period") > last).select(pl.len()).collect().item()
    long_df = _filled(counted, order, every).sort("unit", "period", "category").collect()
    if pooled:
        total = counted.group_by("period", "category").agg(pl.col("count").sum()).with_columns(pl.lit(POOLED).alias("unit"))
        pooled_df = _filled(total, order, every).select(long_df.columns).collect()
        long_df = pl.concat([long_df, pooled_df]).sort("unit", "period", "category")
    first = long_df.get_column("period").min() if long_df.height else last
    return CountSeries(long=long_df, categories=order, freq=freq, first_period=first, last_period=last,
                       censored_from=pl.select(pl.lit(last).dt.offset_by(every)).item() if censored else None)
