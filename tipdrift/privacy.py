"""Small-count suppression for everything a report shows.

A count below the threshold (default 5) is shown as "<5", and a share computed from such
a cell is hidden. This protects against reading off that a handful of identifiable
people sit in one cell of a table; it does not protect against differencing (subtracting
published totals from each other) or against re-identification from other sources, and
it does nothing for the raw files, which stay with their owner.
"""
from __future__ import annotations

import polars as pl

DEFAULT_THRESHOLD = 5


def suppressed_label(threshold: int = DEFAULT_THRESHOLD) -> str:
    return f"<{threshold}"


def suppress_counts(df: pl.DataFrame, columns: list[str], threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Counts below the threshold become the text "<threshold"; the others become text too."""
    return df.with_columns([
        pl.when(pl.col(c) < threshold).then(pl.lit(suppressed_label(threshold)))
        .otherwise(pl.col(c).cast(pl.Int64).cast(pl.String)).alias(c)
        for c in columns
    ])


def suppress_shares(df: pl.DataFrame, share: str, count: str, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Hide (null) a share computed from a cell whose count is below the threshold."""
    return df.with_columns(pl.when(pl.col(count) < threshold).then(None).otherwise(pl.col(share)).alias(share))
