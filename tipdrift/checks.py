"""Checks on loaded data that decide whether a run may go on, shared by `drift`, `link`,
`quality` and the reports: the share of rejected rows per source, date precision against
the series frequency, and dates that stand far beyond the rest of their column.
"""
from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tipdrift.errors import DataError, ParameterError
from tipdrift.params import DEFAULT_MAX_REJECTED, check_share

# A date is an outlier when it stands more than this many days above the rest of its column
# (see date_outliers; columns of fewer than OUTLIER_MIN_ROWS dates are not judged).
OUTLIER_GAP_DAYS = 365
OUTLIER_MIN_ROWS = 20
_ORDER = {"day": 0, "month": 1, "year": 2}
_FREQ_NEEDS = {"month": "month", "quarter": "month", "year": "year"}


def too_many_rejected(summary: dict[str, Any], max_rejected: float = DEFAULT_MAX_REJECTED) -> bool:
    """More than `max_rejected` of the source's rows rejected?"""
    check_share(max_rejected)
    return bool(summary["rows"]) and summary["rejected"] / summary["rows"] > max_rejected


def check_rejected(summary: dict[str, Any], max_rejected: float = DEFAULT_MAX_REJECTED, rows_at: str = "") -> None:
    """Stop (DataError, exit 1) when more than `max_rejected` of a source's rows were
    rejected, naming the source, its top reasons and `rows_at`: where the user finds the
    rejected rows themselves (a file written, or the command that lists them)."""
    if not too_many_rejected(summary, max_rejected):
        return
    rows, rejected = summary["rows"], summary["rejected"]
    top = sorted(summary["reasons"].items(), key=lambda kv: -kv[1])[:3]
    reasons = ", ".join(f"{k} {v}" for k, v in top)
    where = f"; the rejected rows, each with its reason: {rows_at}" if rows_at else ""
    raise DataError(f"{summary['source']}: {rejected} of {rows} rows rejected ({rejected / rows:.1%}, above "
                    f"--max-rejected {max_rejected:g}); top reasons: {reasons}{where}. Fix the source or its "
                    f"mapping, or raise --max-rejected to go on with the rest")


def validate_command(kind: str, table: str | Path, mapping: Any = None, as_of: dt.date | str | None = None,
                     unit: str | None = None) -> str:
    """Where a command that keeps only counts sends the user for the rejected rows: the
    `tipdrift validate` call that writes them, each with its reason. `as_of`: the extract
    date the load used (its summary's), so the same rows are rejected on any later day;
    `unit`: a unit column other than the kind's default, as a drift run may use; `mapping`
    a path, or a `Mapping` object, which the user must first save as YAML."""
    parts = [f"tipdrift validate {kind}", shlex.quote(str(table))]
    if unit is not None:
        parts.append(f"--unit {shlex.quote(unit)}")
    if isinstance(mapping, (str, Path)):
        parts.append(f"--mapping {shlex.quote(str(mapping))}")
    elif mapping is not None:
        parts.append("--mapping MAPPING.yaml")
    if as_of is not None:
        parts.append(f"--as-of {as_of}")
    saved = " (MAPPING.yaml: the mapping used here, saved with Mapping.to_yaml)" if mapping is not None and \
        not isinstance(mapping, (str, Path)) else ""
    return "list them with `" + " ".join(parts + ["--rejected rejected.csv`"]) + saved


def check_precision(df: pl.DataFrame, date: str, freq: str, source: str) -> None:
    """Refuse a series finer than its dates: year-only dates cannot be placed in a month
    or quarter (that would invent their month)."""
    col = f"{date}_precision"
    if col not in df.columns:
        return
    coarse = df.filter(pl.col(col).cast(pl.String).replace_strict(_ORDER, default=0, return_dtype=pl.Int8)
                       > _ORDER[_FREQ_NEEDS[freq]])
    if coarse.height:
        prec = coarse.get_column(col).cast(pl.String).mode().sort()[0]
        raise ParameterError(f"{source}: {coarse.height} of {df.height} rows have {date} to the {prec} only; a {freq}ly "
                             f"series would invent their {'month' if prec == 'year' else 'day'}: use --freq year")


def date_outliers(df: pl.DataFrame, date: str) -> pl.DataFrame:
    """Rows whose `date` stands apart at the top of its column: above a gap of more than
    OUTLIER_GAP_DAYS between consecutive dates, with at most max(5, 1%) of the rows above
    it (so two typos in 2031 are found together, and a column that simply ends is not)."""
    dates = df.get_column(date).drop_nulls().sort()
    n = dates.len()
    if n < OUTLIER_MIN_ROWS:
        return df.head(0)
    gaps = dates.diff().dt.total_days().fill_null(0).to_numpy()
    start = max(1, n - max(5, n // 100))
    wide = np.nonzero(gaps[start:] > OUTLIER_GAP_DAYS)[0]  # the lowest such gap takes the whole cluster above it
    return df.filter(pl.col(date) >= dates[start + int(wide[0])]) if wide.size else df.head(0)


def outlier_lines(df: pl.DataFrame, date: str, source: str, id_column: str) -> list[str]:
    """One warning per outlying date, naming file, record and value."""
    out = date_outliers(df, date)
    return [f"warning: {source}, record {r[id_column]}, column '{date}': {r[date]} stands more than a year beyond "
            f"the rest of the column; as_of defaults to the latest date, so give --as-of (or as_of in the mapping)"
            for r in out.select(id_column, date).iter_rows(named=True)]
