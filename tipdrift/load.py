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
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.errors import INVISIBLE, InputFileError, visible
from tipdrift.derive import BAD_FLAG, ROW, prepare, whole_float
from tipdrift.mapping import Mapping
from tipdrift.schema import TableSpec, spec_for
from tipdrift.vocab import HTCDS_CASE_TYPE_ALIASES

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

def _first_bad_utf8_row(data: bytes) -> int | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return None


def _first_ragged_row(text: str, sep: str) -> int | None:
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    header = next(reader, [])
    for row in reader:
        if len(row) != len(header) and any(row):
            return reader.line_num
    return None


_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


def _decode(p: Path, encoding: str | None) -> tuple[str | None, bytes]:
    """The file's text when it is not plain UTF-8 (None when it is), and its bytes.

    A UTF-16 byte-order mark is read as UTF-16; a declared encoding is used as given;
    binary content and UTF-16 without a mark stop with a message naming the likely cause."""
    data = p.read_bytes()
    if encoding:
        try:
            return data.decode(encoding), data
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputFileError(str(p), f"cannot be read as {encoding}: {exc}") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16"), data
    head = data[:8192]
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if control > len(head) // 20:  # text has almost none; one stray NUL in a cell is a bad_id, not a binary file
        half = len(head) // 2
        utf16 = head[1::2].count(0) > 0.8 * half or head[0::2].count(0) > 0.8 * half
        hint = ("looks like UTF-16 text without a byte-order mark: set encoding: utf-16-le (or utf-16-be) in the mapping"
                if utf16 else "not a text file (binary content): expected CSV text, Parquet or .xlsx")
        raise InputFileError(str(p), hint)
    bad_row = _first_bad_utf8_row(data)
    if bad_row is not None:
        raise InputFileError(str(p), "wrong encoding: not UTF-8 text; re-save the file as UTF-8 or set encoding: "
                                     "in the mapping (e.g. cp1252, latin-1)", row=bad_row)
    return None, data


def _delimiter(header: str, declared: str | None, suffix: str) -> str:
    """The declared delimiter; else tab for .tsv; else ',' unless the header has no comma and
    exactly one of ';' and tab (the only unambiguous readings)."""
    if declared:
        return declared
    if suffix == ".tsv":
        return "\t"
    if "," in header:
        return ","
    found = [d for d in (";", "\t") if d in header]
    return found[0] if len(found) == 1 else ","


def _check_header(names: list[str], source: str) -> None:
    """A duplicated column name is an error (a reader would silently rename one copy)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen and name:
            raise InputFileError(source, f"appears twice in the header (columns {seen[name]} and {i}); "
                                         "rename one", column=name)
        seen[name] = i


def _clean_name(name: str) -> str:
    return re.sub(f"^(\\s|{INVISIBLE})+|(\\s|{INVISIBLE})+$", "", name)


def _read_csv(p: Path, mapping: Mapping) -> pl.DataFrame:
    text, data = _decode(p, mapping.encoding)
    body = text if text is not None else data[:65536].decode("utf-8", errors="ignore")
    header = (body.lstrip("\ufeff").splitlines() or [""])[0]
    sep = _delimiter(header, mapping.delimiter, p.suffix.lower())
    try:
        names = next(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=sep), [])
    except csv.Error:
        names = []  # polars reports what is wrong with such a file below
    _check_header([_clean_name(c) for c in names], str(p))
    try:
        source: Any = p if text is None else io.BytesIO(text.encode("utf-8"))
        return pl.read_csv(source, infer_schema=False, separator=sep)
    except Exception as exc:  # polars raises many types; turn them into one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "more fields" in msg.lower() or "ragged" in msg.lower():
            raise InputFileError(str(p), "a row has more fields than the header", row=_first_ragged_row(text or data.decode("utf-8"), sep)) from None
        raise InputFileError(str(p), f"cannot be read: {msg}") from None


def _read_excel(p: Path, sheet: str | int | None) -> pl.DataFrame:
    """One sheet (by name, or position counting from 1; default the first), all text."""
    import openpyxl

    try:
        names = openpyxl.load_workbook(p, read_only=True).sheetnames
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        raise InputFileError(str(p), f"cannot be read as .xlsx: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if isinstance(sheet, str) and not sheet.isdigit() and sheet not in names:
        raise InputFileError(str(p), f"no sheet '{sheet}'; the workbook has sheets {names}")
    pos = int(sheet) if sheet is not None and str(sheet).isdigit() else (None if sheet else 1)
    if pos is not None and not 1 <= pos <= len(names):
        raise InputFileError(str(p), f"sheet {pos} does not exist; the workbook has sheets {names} (1 = the first)")
    name = names[pos - 1] if pos is not None else str(sheet)
    try:
        df = pl.read_excel(p, sheet_name=name, engine="openpyxl", infer_schema_length=0, raise_if_empty=False)
    except Exception as exc:
        raise InputFileError(str(p), f"cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if df.width == 0 and len(names) > 1 and sheet is None:
        raise InputFileError(str(p), f"the first sheet '{name}' is empty; the workbook has sheets {names}: "
                                     "name one with sheet: in the mapping")
    dup = [c for c in df.columns if re.search(r"_duplicated_\d+$", c)]
    if dup:
        raise InputFileError(str(p), "appears twice in the header; rename one", column=re.sub(r"_duplicated_\d+$", "", dup[0]))
    return df


def read_raw(path: str | Path, mapping: Mapping | None = None) -> tuple[pl.DataFrame, int]:
    """Read a file with every column as text (Parquet keeps its types) plus a row number.

    `mapping` may say the Excel sheet, the CSV delimiter and the encoding. Returns the frame
    and the offset that turns a 0-based record index into the row number shown to users.
    """
    p, mapping = Path(path), mapping or Mapping()
    if not p.exists():
        raise InputFileError(str(p), "file not found")
    if p.is_dir():
        raise InputFileError(str(p), "is a directory, expected a file")
    if p.stat().st_size == 0:
        raise InputFileError(str(p), "file is empty")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        try:
            df, offset = pl.read_parquet(p), 1
        except Exception as exc:
            raise InputFileError(str(p), f"cannot be read as Parquet: {str(exc).splitlines()[0]}") from None
    elif suffix == ".xlsx":
        df, offset = _read_excel(p, mapping.sheet), 2
    elif suffix in (".csv", ".txt", ".tsv"):
        df, offset = _read_csv(p, mapping), 2
    else:
        raise InputFileError(str(p), f"unsupported file type '{suffix}'; use .csv, .tsv, .parquet or .xlsx")
    if df.width == 0:
        raise InputFileError(str(p), "file is empty (no header)")
    if df.height == 0:
        raise InputFileError(str(p), "file has a header but no rows")
    df = df.rename({c: _clean_name(c) for c in df.columns})
    return df.with_row_index(ROW, offset=offset).with_columns(pl.col(ROW).cast(pl.Int64)), offset


# ---------------------------------------------------------------- validation

PRECISIONS: tuple[str, ...] = ("day", "month", "year")
PRECISION = pl.Enum(PRECISIONS)


def format_precision(fmt: str) -> str:
    """The precision a date_format records: day, month (no day directive) or year."""
    if any(d in fmt for d in ("%d", "%j", "%e")):
        return "day"
    return "month" if any(d in fmt for d in ("%m", "%b", "%B")) else "year"


def _date_expr(col: str, dtype: pl.DataType, fmt: str | None) -> tuple[pl.Expr, pl.Expr]:
    """(first day, precision) of each value. Year-only and month-only values (2014, 2014-03,
    or a date_format without a day) keep their precision and are dated by the first day of
    their interval, never completed with an invented day."""
    day = pl.lit("day")
    if dtype == pl.Date:
        return pl.col(col), day
    if isinstance(dtype, pl.Datetime):
        return pl.col(col).dt.date(), day
    # a float year column (2014.0) reads as its year
    s = pl.col(col).cast(pl.String).str.strip_chars().str.replace(r"^(\d{4})\.0+$", "${1}")
    # Excel date cells arrive as 'YYYY-MM-DD 00:00:00' whatever the text format; accept that, nothing looser
    excel = s.str.contains(r"^\d{4}-\d{2}-\d{2}[ T]00:00:00(\.0+)?$")
    excel_date = s.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    if fmt:
        prec = format_precision(fmt)
        pad = {"day": ("", ""), "month": ("|01", "|%d"), "year": ("|01|01", "|%m|%d")}[prec]
        parsed = (s + pl.lit(pad[0])).str.to_date(fmt + pad[1], strict=False)
        return (pl.when(excel).then(excel_date).otherwise(parsed),
                pl.when(excel).then(pl.lit("day")).otherwise(pl.lit(prec)))
    s = pl.when(excel).then(s.str.slice(0, 10)).otherwise(s)
    prec = (pl.when(s.str.contains(r"^\d{4}$")).then(pl.lit("year"))
            .when(s.str.contains(r"^\d{4}-\d{2}$")).then(pl.lit("month")).otherwise(day))
    padded = pl.when(prec == "year").then(s + "-01-01").when(prec == "month").then(s + "-01").otherwise(s)
    return padded.str.to_date("%Y-%m-%d", strict=False), prec


def interval_end(start: pl.Expr, precision: pl.Expr) -> pl.Expr:
    """The last day of a date's interval: itself, its month's last day, or 31 December."""
    return (pl.when(precision == "year").then(start.dt.offset_by("1y").dt.offset_by("-1d"))
            .when(precision == "month").then(start.dt.month_end()).otherwise(start))


def _label_lookup(spec: TableSpec, mapping: Mapping, column: str) -> dict[str, str]:
    """Source label (case-folded) -> canonical category."""
    allowed = spec.vocab[column]
    table: dict[str, str] = {v.casefold(): v for v in allowed}
    if column == "case_type":
        table.update({k.casefold(): v for k, v in HTCDS_CASE_TYPE_ALIASES.items()})
    for src, dst in mapping.labels.get(column, {}).items():
        if dst not in allowed:
            raise InputFileError(mapping.origin, f"label '{src}' maps to '{dst}', which is not one of {', '.join(allowed)}",
                                 column=column)
        table[src.strip().casefold()] = dst
    d = mapping.derive.get(column)
    for value in ([r.value for r in d.flags] + ([d.otherwise] if d.otherwise else [])) if d else []:
        if value.strip().casefold() not in table:
            raise InputFileError(mapping.origin, f"derive.{column} gives '{value}', which is neither one of "
                                                 f"{', '.join(allowed)} nor a mapped label", column=column)
    return table


def _blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).cast(pl.String).str.strip_chars() == "")


class ReconciliationError(RuntimeError):
    """A bug, not a data problem: rows read != accepted + rejected."""


def _conform_columns(raw: pl.DataFrame, spec: TableSpec, source: str, kind: str) -> pl.DataFrame:
    """A missing required column stops with one line (naming a likely wrong delimiter);
    absent optional columns are added, blank."""
    missing = [c for c in spec.required if c not in raw.columns]
    if missing:
        names = [c for c in raw.columns if c != ROW and not c.startswith("__")]
        hint = "rename it in a mapping file"
        if len(names) == 1 and any(d in names[0] for d in (";", "\t", "|")):
            hint = "the header reads as one column: is the file delimited by ';', tab or '|'? set delimiter: in the mapping"
        raise InputFileError(source, f"missing required column for {kind} (columns found: {visible(', '.join(names))}); "
                                     f"{hint}", column=missing[0])
    return raw.with_columns([pl.lit(None, pl.String).alias(c) for c in spec.optional if c not in raw.columns])


def relax(spec: TableSpec, optional: tuple[str, ...]) -> TableSpec:
    """The spec with some required columns made optional (e.g. org_id when another column
    is the unit of analysis)."""
    if not optional:
        return spec
    from dataclasses import replace

    return replace(spec, required=tuple(c for c in spec.required if c not in optional),
                   optional=spec.optional + tuple(c for c in spec.required if c in optional),
                   not_null=tuple(c for c in spec.not_null if c not in optional))


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
            text, whole = whole_float(col)
            bad = col.is_not_null() & ~whole
        else:  # a whole number written as a float by a spreadsheet or pandas (1.0) reads as 1
            text = col.cast(pl.String).str.replace(r"^(\s*[+-]?\d+)\.0+(\s*)$", "${1}${2}")
            bad = text.str.strip_chars().str.contains(_EXPONENT)
        trimmed = text.str.strip_chars()
        missing = trimmed.str.to_lowercase().is_in(list(MISSING_ID_TOKENS))
        exprs.append(pl.when(missing).then(None).otherwise(trimmed).alias(c))
        exprs.append(text.alias(f"__raw_{c}"))
        flags.append((bad | text.str.contains(_CONTROL)).fill_null(False).alias(f"__bad_{c}"))
    return raw.with_columns(exprs + flags) if exprs else raw


def _typed(raw: pl.DataFrame, spec: TableSpec, mapping: Mapping) -> pl.DataFrame:
    """Typed values (__d_ dates, __v_ labels, __n_ numbers) beside the raw ones."""
    typed: list[pl.Expr] = []
    for c in spec.dates:
        start, prec = _date_expr(c, raw.schema[c], mapping.date_format)
        typed += [start.alias(f"__d_{c}"), prec.alias(f"__p_{c}")]
    for c in spec.vocab:
        table = _label_lookup(spec, mapping, c)
        typed.append(pl.col(c).cast(pl.String).str.replace_all(INVISIBLE, "").str.strip_chars().str.to_lowercase()
                     .replace_strict(table, default=None, return_dtype=pl.String).alias(f"__v_{c}"))
    for c in spec.integers + spec.numbers:
        num = pl.col(c).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        typed.append(pl.when(num.is_nan()).then(None).otherwise(num).alias(f"__n_{c}"))
    return raw.with_columns(typed)


def _row_checks(spec: TableSpec, as_of: dt.date, flags: list[str]) -> list[tuple[pl.Expr, str, str]]:
    """(condition, reason, column) in priority order; a row gets the first that applies.
    `flags` are the columns marking unreadable flag values (bad_flag)."""
    checks: list[tuple[pl.Expr, str, str]] = [(_blank(c), "missing_value", c) for c in spec.not_null]
    checks += [(pl.col(f"__bad_{c}"), "bad_id", c) for c in spec.ids]
    for c in spec.dates:
        checks.append((~_blank(c) & pl.col(f"__d_{c}").is_null(), "bad_date", c))
        checks.append((pl.col(f"__d_{c}") < MIN_DATE, "implausible_date", c))
        checks.append((pl.col(f"__d_{c}") > as_of, "future_date", c))
    for early, late in spec.date_order:  # intervals: wrong only if the later one ends before the earlier starts
        late_end = interval_end(pl.col(f"__d_{late}"), pl.col(f"__p_{late}"))
        checks.append((late_end < pl.col(f"__d_{early}"), "date_order", late))
    checks += [(pl.col(c), "bad_flag", c[len(BAD_FLAG):]) for c in flags]
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
    for c in [c for c in bad.columns if not c.startswith("__")]:
        value_expr = pl.when(pl.col("__column") == c).then(pl.col(c).cast(pl.String)).otherwise(value_expr)
    return bad.select(pl.lit(source).alias("source"), pl.col(ROW).alias("row"),
                      pl.col(spec.id_column).cast(pl.String).alias("record_id"), pl.col("__column").alias("column"),
                      pl.col("__reason").alias("reason"), value_expr.alias("value"))


def _accepted_rows(good: pl.DataFrame, spec: TableSpec, extra: list[str]) -> pl.DataFrame:
    out_cols: list[pl.Expr] = []
    for c in spec.columns:
        if c in spec.dates:
            out_cols += [pl.col(f"__d_{c}").alias(c),
                         pl.when(pl.col(f"__d_{c}").is_null()).then(None).otherwise(pl.col(f"__p_{c}"))
                         .cast(PRECISION).alias(f"{c}_precision")]
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
    optional: tuple[str, ...] = (),
) -> LoadResult:
    """Load one source file as the canonical table `kind`.

    `as_of` is the extract date: rows dated after it are rejected as `future_date`
    (default: the mapping's as_of, else today). `optional` names required columns this use
    does not need (org_id when drift runs by another unit). Extra source columns are kept,
    as text. The summary counts rows (records of this table), rows skipped by the
    mapping's skip_when_blank, and says what each mapping rule did (`notes`).
    """
    spec = relax(spec_for(kind), optional)
    if isinstance(mapping, (str, Path)):
        mapping = Mapping.from_yaml(mapping)
    mapping = (mapping or Mapping()).for_table(kind)
    as_of_date = _as_of(as_of, mapping)
    source = str(path)
    for c in spec.vocab:  # the mapping's labels and derived values, checked before any reading
        _label_lookup(spec, mapping, c)
    prep = prepare(read_raw(path, mapping)[0], mapping, spec, source)
    raw = _normalise_ids(_conform_columns(prep.frame, spec, source, kind), spec)
    extra = [c for c in raw.columns if c not in spec.columns and c != ROW and not c.startswith("__")]
    flags = [c for c in raw.columns if c.startswith(BAD_FLAG)]
    df = _flag_duplicates(_with_reasons(_typed(raw, spec, mapping), _row_checks(spec, as_of_date, flags)), spec, extra)
    bad = df.filter(pl.col("__reason").is_not_null())
    rejected = _rejected_rows(bad, spec, source)
    accepted = _accepted_rows(df.filter(pl.col("__reason").is_null()), spec, extra)
    summary = _summary(kind, source, raw.height, accepted, rejected, bad, spec)
    summary.update(skipped=prep.skipped, notes=prep.notes, as_of=as_of_date.isoformat())
    return LoadResult(kind=kind, source=source, accepted=accepted, rejected=rejected, summary=summary)


def _as_of(as_of: dt.date | str | None, mapping: Mapping) -> dt.date:
    if as_of is not None:
        return as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    return mapping.as_of or dt.date.today()


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
        "unmapped_labels": _merged_unmapped([r.summary for r in results]),
        "skipped": sum(r.summary.get("skipped", 0) for r in results),
        "notes": [f"{Path(r.source).name}: {n}" for r in results for n in r.summary.get("notes", [])],
        "as_of": results[0].summary.get("as_of"),
        "files": [r.summary for r in results],
    }
    return LoadResult(kind=kind, source=summary["source"], accepted=accepted, rejected=rejected, summary=summary)


def _merged_unmapped(summaries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Unmapped labels of several files, counts added by column and label."""
    out: dict[str, Counter] = {}
    for s in summaries:
        for col, labels in s.get("unmapped_labels", {}).items():
            out.setdefault(col, Counter()).update(labels)
    return {c: dict(sorted(v.items())) for c, v in sorted(out.items())}


def find_table(data_dir: str | Path, kind: str) -> Path:
    """The `kind` table in a folder: KIND.parquet, KIND.csv or KIND.xlsx, in that order."""
    for ext in ("parquet", "csv", "xlsx"):
        p = Path(data_dir) / f"{kind}.{ext}"
        if p.exists():
            return p
    raise InputFileError(str(Path(data_dir) / f"{kind}.*"), f"no {kind} table (.parquet, .csv or .xlsx) in this folder")
