"""Small-count suppression for everything a report shows.

One rule: a count from 1 to the threshold - 1 (default 5) is shown as "<5", and no share,
rate, curve, interval or median is computed from such a cell (or from a cohort or band of
fewer than the threshold); zeros are shown as 0. This protects against reading off that a handful of identifiable
people sit in one cell of a table; it does not protect against differencing (subtracting
published totals from each other) or against re-identification from other sources, and
it does nothing for the raw files, which stay with their owner.
"""
from __future__ import annotations

import polars as pl

DEFAULT_THRESHOLD = 5


def suppressed_label(threshold: int = DEFAULT_THRESHOLD) -> str:
    return f"<{threshold}"


def is_small(count: int | None, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """A count from 1 to threshold - 1: not shown, and nothing is computed from it (0 is shown)."""
    return count is not None and 0 < count < threshold


def suppress_counts(df: pl.DataFrame, columns: list[str], threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Counts from 1 to threshold - 1 become the text "<threshold" (a true zero stays 0: an
    empty cell identifies no one, and "<5" would read as data); the others become text too."""
    return df.with_columns([
        pl.when((pl.col(c) > 0) & (pl.col(c) < threshold)).then(pl.lit(suppressed_label(threshold)))
        .otherwise(pl.col(c).cast(pl.Int64).cast(pl.String)).alias(c)
        for c in columns
    ])


def suppress_shares(df: pl.DataFrame, share: str, count: str, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Hide (null) a share computed from a cell whose count is below the threshold."""
    return df.with_columns(pl.when((pl.col(count) > 0) & (pl.col(count) < threshold)).then(None)
                           .otherwise(pl.col(share)).alias(share))


SECONDARY = "s"  # withheld so that a suppressed cell cannot be derived from its row's total


def suppress_rows(df: pl.DataFrame, columns: list[str], threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Counts suppressed as in `suppress_counts`, plus secondary suppression: in a row whose
    total is published elsewhere (a year's cases on the volume chart), a lone suppressed
    cell could be derived by subtraction, so the row's smallest other non-zero cell is
    withheld too (shown as "s")."""
    import numpy as np

    m = df.select(columns).to_numpy().astype(float)
    small = (m > 0) & (m < threshold)
    lone = small.sum(axis=1) == 1
    other = np.where(~small & (m > 0), m, np.inf)
    pick = np.argmin(other, axis=1)
    secondary = np.zeros_like(small)
    rows = np.nonzero(lone & np.isfinite(other.min(axis=1)))[0]
    secondary[rows, pick[rows]] = True
    out = suppress_counts(df, columns, threshold)
    return out.with_columns(pl.when(pl.Series(secondary[:, j])).then(pl.lit(SECONDARY)).otherwise(pl.col(c)).alias(c)
                            for j, c in enumerate(columns))
