"""Load and validate canonical tables from CSV, Parquet or Excel (.xlsx).

Row-level problems never abort a run: the row goes to the rejected table with its
source file, row number, record id, column and a reason code, and the summary
reconciles (rows read = accepted + rejected) for every source. File-level problems
(missing file, missing required column, wrong encoding, empty file) raise
InputFileError, one line naming the file and the column.

Row numbers are as a spreadsheet shows them: in CSV and Excel the header is row 1
and the first record row 2; in Parquet the first record is row 1.
"""
from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.errors import InputFileError
from tipdrift.mapping import Mapping
from tipdrift.schema import TableSpec, spec_for
from tipdrift.vocab import HTCDS_CASE_TYPE_ALIASES

ROW = "__row"
MIN_DATE = dt.date(1900, 1, 1)


@dataclass
class LoadResult:
    """One loaded source: accepted rows (canonical schema), rejected rows, counts."""

    kind: str
    source: str
    accepted: pl.DataFrame
    rejected: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- reading

def _first_bad_utf8_row(path: Path) -> int | None:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return None


def _first_ragged_row(path: Path) -> int | None:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        for row in reader:
            if len(row) != len(header) and any(row):
                return reader.line_num
    return None


def read_raw(path: str | Path) -> tuple[pl.DataFrame, int]:
    """Read a file with every column as text (Parquet keeps its dates) plus a row number.

    Returns the frame and the offset that turns a 0-based record index into the row
    number shown to users.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(str(p), "file not found")
    if p.is_dir():
        raise InputFileError(str(p), "is a directory, expected a file")
    if p.stat().st_size == 0:
        raise InputFileError(str(p), "file is empty")
    suffix = p.suffix.lower()
    try:
        if suffix == ".parquet":
            df, offset = pl.read_parquet(p), 1
        elif suffix == ".xlsx":
            df, offset = pl.read_excel(p, engine="openpyxl", infer_schema_length=0), 2
        elif suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            df, offset = pl.read_csv(p, infer_schema=False, separator=sep), 2
        else:
            raise InputFileError(str(p), f"unsupported file type '{suffix}'; use .csv, .parquet or .xlsx")
    except (InputFileError, TypeError, AttributeError, NameError):
        raise  # our own message, or a programming error that must surface as such
    except Exception as exc:  # polars/openpyxl raise many types; turn them into one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        bad_row = _first_bad_utf8_row(p) if suffix in (".csv", ".txt", ".tsv") else None
        if bad_row is not None:
            raise InputFileError(str(p), "wrong encoding: not UTF-8 text; re-save the file as UTF-8", row=bad_row) from None
        if "more fields" in msg.lower() or "ragged" in msg.lower():
            raise InputFileError(str(p), "a row has more fields than the header", row=_first_ragged_row(p)) from None
        raise InputFileError(str(p), f"cannot be read: {msg}") from None
    if df.width == 0:
        raise InputFileError(str(p), "file is empty (no header)")
    if df.height == 0:
        raise InputFileError(str(p), "file has a header but no rows")
    df = df.rename({c: c.strip() for c in df.columns})
    return df.with_row_index(ROW, offset=offset).with_columns(pl.col(ROW).cast(pl.Int64)), offset


# ---------------------------------------------------------------- validation

def _date_expr(col: str, dtype: pl.DataType, fmt: str | None) -> pl.Expr:
    if dtype == pl.Date:
        return pl.col(col)
    if isinstance(dtype, pl.Datetime):
        return pl.col(col).dt.date()
    s = pl.col(col).cast(pl.String).str.strip_chars()
    if fmt:
        return s.str.to_date(fmt, strict=False)
    # Excel date cells arrive as 'YYYY-MM-DD 00:00:00'; accept that, nothing looser.
    s = s.str.replace(r"[ T]00:00:00(\.0+)?$", "")
    return s.str.to_date("%Y-%m-%d", strict=False)


def _label_lookup(spec: TableSpec, mapping: Mapping, column: str) -> dict[str, str]:
    """Source label (case-folded) -> canonical category."""
    allowed = spec.vocab[column]
    table: dict[str, str] = {v.casefold(): v for v in allowed}
    if column == "case_type":
        table.update({k.casefold(): v for k, v in HTCDS_CASE_TYPE_ALIASES.items()})
    for src, dst in mapping.labels.get(column, {}).items():
        if dst not in allowed:
            raise InputFileError("<mapping>", f"label '{src}' maps to '{dst}', which is not one of {', '.join(allowed)}", column=column)
        table[src.strip().casefold()] = dst
    return table


def _blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).cast(pl.String).str.strip_chars() == "")


class ReconciliationError(RuntimeError):
    """A bug, not a data problem: rows read != accepted + rejected."""


def _conform_columns(raw: pl.DataFrame, spec: TableSpec, mapping: Mapping, source: str, kind: str) -> pl.DataFrame:
    """Source columns renamed by the mapping; a missing required column stops with one line."""
    raw = raw.rename({c: mapping.columns[c] for c in raw.columns if c in mapping.columns})
    missing = [c for c in spec.required if c not in raw.columns]
    if missing:
        have = ", ".join(c for c in raw.columns if c != ROW)
        raise InputFileError(source, f"missing required column for {kind} (columns found: {have}); "
                                     "rename it in a mapping file", column=missing[0])
    return raw.with_columns([pl.lit(None, pl.String).alias(c) for c in spec.optional if c not in raw.columns])


# Texts that mean "no value" in an id column (compared after trimming, case-insensitively).
MISSING_ID_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", "none", "-"})
_EXPONENT = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"
_CONTROL = r"[\x00-\x1f\x7f]"


def _normalise_ids(raw: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Ids as text compared exactly: integer-valued floats (a Parquet export's 1.0) read as
    integers; other floats, numbers in scientific notation (an Excel cell's
    1.234567890123457e+17 has lost digits) and control characters are `bad_id`; missing
    tokens (NA, null, None, ...) are missing; surrounding spaces are trimmed, and the raw
    text is kept (`__raw_<col>`) so ids equal only after trimming count as a conflict."""
    exprs, flags = [], []
    for c in spec.ids:
        if c not in raw.columns:
            continue
        col = pl.col(c)
        if raw.schema[c].is_float():
            whole = col.is_finite() & (col == col.floor()) & (col.abs() < 2 ** 53)
            text = pl.when(whole).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String))
            bad = col.is_not_null() & ~whole
        else:
            text = col.cast(pl.String)
            bad = text.str.strip_chars().str.contains(_EXPONENT)
        trimmed = text.str.strip_chars()
        missing = trimmed.str.to_lowercase().is_in(list(MISSING_ID_TOKENS))
        exprs.append(pl.when(missing).then(None).otherwise(trimmed).alias(c))
        exprs.append(text.alias(f"__raw_{c}"))
        flags.append((bad | text.str.contains(_CONTROL)).fill_null(False).alias(f"__bad_{c}"))
    return raw.with_columns(exprs + flags) if exprs else raw


def _typed(raw: pl.DataFrame, spec: TableSpec, mapping: Mapping) -> pl.DataFrame:
    """Typed values (__d_ dates, __v_ labels, __n_ numbers) beside the raw ones."""
    typed: list[pl.Expr] = [_date_expr(c, raw.schema[c], mapping.date_format).alias(f"__d_{c}") for c in spec.dates]
    for c in spec.vocab:
        table = _label_lookup(spec, mapping, c)
        typed.append(pl.col(c).cast(pl.String).str.strip_chars().str.to_lowercase()
                     .replace_strict(table, default=None, return_dtype=pl.String).alias(f"__v_{c}"))
    for c in spec.integers + spec.numbers:
        num = pl.col(c).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        typed.append(pl.when(num.is_nan()).then(None).otherwise(num).alias(f"__n_{c}"))
    return raw.with_columns(typed)


def _row_checks(spec: TableSpec, as_of: dt.date) -> list[tuple[pl.Expr, str, str]]:
    """(condition, reason, column) in priority order; a row gets the first that applies."""
    checks: list[tuple[pl.Expr, str, str]] = [(_blank(c), "missing_value", c) for c in spec.not_null]
    checks += [(pl.col(f"__bad_{c}"), "bad_id", c) for c in spec.ids]
    for c in spec.dates:
        checks.append((~_blank(c) & pl.col(f"__d_{c}").is_null(), "bad_date", c))
        checks.append((pl.col(f"__d_{c}") < MIN_DATE, "implausible_date", c))
        checks.append((pl.col(f"__d_{c}") > as_of, "future_date", c))
    for early, late in spec.date_order:
        checks.append((pl.col(f"__d_{late}") < pl.col(f"__d_{early}"), "date_order", late))
    for c in spec.vocab:
        checks.append((~_blank(c) & pl.col(f"__v_{c}").is_null(), "unknown_label", c))
    for c in spec.integers + spec.numbers:
        n = pl.col(f"__n_{c}")
        nan_text = pl.col(c).cast(pl.String).str.strip_chars().str.to_lowercase() == "nan"
        bad = ~_blank(c) & ~nan_text & (n.is_null() | (n < 0) | n.is_infinite())
        if c in spec.maxima:
            bad = bad | (n > spec.maxima[c])
        if c in spec.integers:
            bad = bad | (n.is_not_null() & (n != n.floor()))
        checks.append((bad, "bad_number", c))
    return checks


def _with_reasons(df: pl.DataFrame, checks: list[tuple[pl.Expr, str, str]]) -> pl.DataFrame:
    reason: pl.Expr = pl.lit(None, pl.String)
    column: pl.Expr = pl.lit(None, pl.String)
    for cond, code, col in reversed(checks):
        reason = pl.when(cond.fill_null(False)).then(pl.lit(code)).otherwise(reason)
        column = pl.when(cond.fill_null(False)).then(pl.lit(col)).otherwise(column)
    return df.with_columns(reason.alias("__reason"), column.alias("__column"))


def _flag_duplicates(df: pl.DataFrame, spec: TableSpec, extra: list[str]) -> pl.DataFrame:
    """Duplicate ids among rows that passed: exact copies keep the first, conflicts reject all."""
    idc = spec.id_column
    ok = pl.col("__reason").is_null()
    raw_ids = [f"__raw_{c}" for c in spec.ids if f"__raw_{c}" in df.columns]
    content = [pl.col(c).cast(pl.String) for c in (*spec.columns, *extra, *raw_ids)]
    df = df.with_columns(pl.struct(content).hash(seed=0).alias("__hash"))
    df = df.with_columns(pl.col("__hash").filter(ok).n_unique().over(idc).alias("__variants"),
                         pl.col(ROW).filter(ok).min().over(idc).alias("__first_ok_row"))
    conflict = ok & (pl.col("__variants") > 1)
    copy = ok & (pl.col("__variants") == 1) & (pl.col(ROW) != pl.col("__first_ok_row"))
    return df.with_columns(
        pl.when(conflict).then(pl.lit("conflicting_duplicate_id")).when(copy).then(pl.lit("duplicate_record"))
        .otherwise(pl.col("__reason")).alias("__reason"),
        pl.when(conflict | copy).then(pl.lit(idc)).otherwise(pl.col("__column")).alias("__column"))


def _rejected_rows(bad: pl.DataFrame, spec: TableSpec, source: str) -> pl.DataFrame:
    value_expr = pl.lit(None, pl.String)
    for c in spec.columns:
        value_expr = pl.when(pl.col("__column") == c).then(pl.col(c).cast(pl.String)).otherwise(value_expr)
    return bad.select(pl.lit(source).alias("source"), pl.col(ROW).alias("row"),
                      pl.col(spec.id_column).cast(pl.String).alias("record_id"), pl.col("__column").alias("column"),
                      pl.col("__reason").alias("reason"), value_expr.alias("value"))


def _accepted_rows(good: pl.DataFrame, spec: TableSpec, extra: list[str]) -> pl.DataFrame:
    out_cols: list[pl.Expr] = []
    for c in spec.columns:
        if c in spec.dates:
            out_cols.append(pl.col(f"__d_{c}").alias(c))
        elif c in spec.vocab:
            out_cols.append(pl.col(f"__v_{c}").alias(c))
        elif c in spec.integers:
            out_cols.append(pl.col(f"__n_{c}").cast(pl.Int64).alias(c))
        elif c in spec.numbers:
            out_cols.append(pl.col(f"__n_{c}").alias(c))
        else:
            out_cols.append(pl.when(_blank(c)).then(None).otherwise(pl.col(c).cast(pl.String).str.strip_chars()).alias(c))
    return good.select(out_cols + [pl.col(c).cast(pl.String) for c in extra])


def _summary(kind: str, source: str, n_rows: int, accepted: pl.DataFrame, rejected: pl.DataFrame, bad: pl.DataFrame,
             spec: TableSpec) -> dict[str, Any]:
    unmapped: dict[str, dict[str, int]] = {}
    for c in spec.vocab:
        labels = bad.filter(pl.col("__reason") == "unknown_label", pl.col("__column") == c).get_column(c)
        if labels.len():
            unmapped[c] = dict(sorted(Counter(labels.cast(pl.String).str.strip_chars().to_list()).items()))
    if accepted.height + rejected.height != n_rows:
        raise ReconciliationError(f"{source}: {n_rows} rows read, {accepted.height} accepted + {rejected.height} rejected")
    return {"source": source, "kind": kind, "rows": n_rows, "accepted": accepted.height, "rejected": rejected.height,
            "reasons": dict(sorted(Counter(rejected.get_column("reason").to_list()).items())),
            "unmapped_labels": unmapped}


def load_table(
    kind: str,
    path: str | Path,
    mapping: Mapping | str | Path | None = None,
    as_of: dt.date | str | None = None,
) -> LoadResult:
    """Load one source file as the canonical table `kind`.

    `as_of` is the extract date: rows dated after it are rejected as `future_date`
    (default: today). Extra source columns are kept, as text.
    """
    spec = spec_for(kind)
    if isinstance(mapping, (str, Path)):
        mapping = Mapping.from_yaml(mapping)
    mapping = (mapping or Mapping()).for_table(kind)
    as_of_date = dt.date.fromisoformat(str(as_of)) if as_of is not None and not isinstance(as_of, dt.date) else (as_of or dt.date.today())
    source = str(path)
    raw = _normalise_ids(_conform_columns(read_raw(path)[0], spec, mapping, source, kind), spec)
    extra = [c for c in raw.columns if c not in spec.columns and c != ROW and not c.startswith("__")]
    df = _flag_duplicates(_with_reasons(_typed(raw, spec, mapping), _row_checks(spec, as_of_date)), spec, extra)
    bad = df.filter(pl.col("__reason").is_not_null())
    rejected = _rejected_rows(bad, spec, source)
    accepted = _accepted_rows(df.filter(pl.col("__reason").is_null()), spec, extra)
    summary = _summary(kind, source, raw.height, accepted, rejected, bad, spec)
    return LoadResult(kind=kind, source=source, accepted=accepted, rejected=rejected, summary=summary)


def load_tables(
    kind: str,
    paths: list[str | Path] | str | Path,
    mapping: Mapping | str | Path | None = None,
    as_of: dt.date | str | None = None,
) -> LoadResult:
    """Load one or more files of the same kind (or a directory of them) as one table.

    Ids must be unique across files; a conflict across files rejects the later rows.
    """
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        paths = sorted(x for x in p.iterdir() if x.suffix.lower() in (".csv", ".parquet", ".xlsx")) if p.is_dir() else [p]
        if not paths:
            raise InputFileError(str(p), f"no .csv, .parquet or .xlsx files for {kind}")
    results = [load_table(kind, p, mapping, as_of) for p in paths]
    if len(results) == 1:
        return results[0]
    spec = spec_for(kind)
    frames = [r.accepted.with_columns(pl.lit(r.source).alias("__src")) for r in results]
    allc = pl.concat(frames, how="diagonal_relaxed").with_row_index("__i")
    first = pl.col("__i") == pl.col("__i").min().over(spec.id_column)
    cross = allc.filter(~first)
    rejected = pl.concat([r.rejected for r in results] + [
        cross.select(
            pl.col("__src").alias("source"), pl.lit(None, pl.Int64).alias("row"),
            pl.col(spec.id_column).alias("record_id"), pl.lit(spec.id_column).alias("column"),
            pl.lit("conflicting_duplicate_id").alias("reason"), pl.col(spec.id_column).alias("value"),
        )
    ])
    accepted = allc.filter(first).drop("__i", "__src")
    summary = {
        "source": ";".join(r.source for r in results),
        "kind": kind,
        "rows": sum(r.summary["rows"] for r in results),
        "accepted": accepted.height,
        "rejected": rejected.height,
        "reasons": dict(sorted(Counter(rejected.get_column("reason").to_list()).items())),
        "unmapped_labels": {},
        "files": [r.summary for r in results],
    }
    return LoadResult(kind=kind, source=summary["source"], accepted=accepted, rejected=rejected, summary=summary)


def find_table(data_dir: str | Path, kind: str) -> Path:
    """The `kind` table in a folder: KIND.parquet, KIND.csv or KIND.xlsx, in that order."""
    for ext in ("parquet", "csv", "xlsx"):
        p = Path(data_dir) / f"{kind}.{ext}"
        if p.exists():
            return p
    raise InputFileError(str(Path(data_dir) / f"{kind}.*"), f"no {kind} table (.parquet, .csv or .xlsx) in this folder")
