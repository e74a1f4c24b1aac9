"""Apply a mapping to a raw source frame: missing-value tokens, renames, rows that are not
records of the table, derived columns (flags, constants, concatenations, a row id) and
codes that mean "unknown". Every step that changes values is described in a note, which
`tipdrift validate --mapping` prints, so a mapping never acts silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tipdrift.errors import InputFileError
from tipdrift.mapping import FALSE_FLAGS, TRUE_FLAGS, Derivation, Mapping
from tipdrift.schema import TableSpec

ROW = "__row"
BAD_FLAG = "__bad_flag:"  # prefix of the boolean columns that mark unreadable flag values


@dataclass
class Prepared:
    """The frame ready for validation, the rows skipped as not records of the table, and notes."""

    frame: pl.DataFrame
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def whole_float(col: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(text, is whole) of a float column: a whole number exactly representable (|x| < 2^53)
    written as an integer (a Parquet or pandas 1.0 reads as 1), anything else as it is."""
    whole = col.is_finite() & (col == col.floor()) & (col.abs() < 2 ** 53)
    return pl.when(whole).then(col.cast(pl.Int64).cast(pl.String)).otherwise(col.cast(pl.String)), whole


def _as_text(df: pl.DataFrame, c: str) -> pl.Expr:
    """A column as the text a source shows: a whole float (a Parquet or pandas -99.0) as an integer."""
    if df.schema[c].is_float():
        return whole_float(pl.col(c))[0]
    return pl.col(c).cast(pl.String).str.strip_chars()


def apply_missing(df: pl.DataFrame, tokens: tuple[str, ...], notes: list[str]) -> pl.DataFrame:
    """Cells equal to a declared missing-value token become missing, in text and number
    columns alike (a Parquet integer -99 as well as the text '-99'); dates are left alone."""
    if not tokens:
        return df
    toks = sorted({t.strip() for t in tokens})
    cols = [c for c, t in df.schema.items() if c != ROW and (t == pl.String or t.is_numeric())]
    hits = [_as_text(df, c).is_in(toks).fill_null(False) for c in cols]
    hit = df.select(pl.sum_horizontal(h.cast(pl.Int64) for h in hits)).to_series().sum() if cols else 0
    notes.append(f"missing-value tokens {toks}: {hit} cells read as missing")
    return df.with_columns(pl.when(h).then(None).otherwise(pl.col(c)).alias(c) for c, h in zip(cols, hits))


def _resolve(name: str, df: pl.DataFrame, mapping: Mapping) -> str:
    """A column named by its source name or its canonical name, as it is in `df` now."""
    return mapping.columns.get(name, name) if name not in df.columns else name


def skip_rows(df: pl.DataFrame, mapping: Mapping, kind: str, source: str, notes: list[str]) -> tuple[pl.DataFrame, int]:
    """Drop rows blank in every `skip_when_blank` column: they are not records of this table
    (e.g. pending defendants in a dispositions section); counted, never silent."""
    if not mapping.skip_when_blank:
        return df, 0
    cols = [_resolve(c, df, mapping) for c in mapping.skip_when_blank]
    for c, given in zip(cols, mapping.skip_when_blank):
        if c not in df.columns:
            raise InputFileError(source, f"skip_when_blank names a column the file does not have", column=given)
    blank = pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == "") for c in cols)
    n = int(df.select(blank.sum()).item())
    notes.append(f"{n} rows blank in {', '.join(mapping.skip_when_blank)}: not records of {kind} (skipped)")
    return df.filter(~blank), n


def _flag_set(df: pl.DataFrame, col: str) -> tuple[pl.Expr, pl.Expr]:
    """(set, unreadable) for one flag column; an absent column is never set."""
    if col not in df.columns:
        return pl.lit(False), pl.lit(False)
    text = _as_text(df, col).str.to_lowercase()
    num = text.cast(pl.Float64, strict=False)
    finite = num.is_finite().fill_null(False)  # NaN reads as missing (never set); inf is unreadable
    is_set = (text.is_in(TRUE_FLAGS) | (finite & (num > 0))).fill_null(False)
    readable = (text.is_null() | (text == "nan") | text.is_in(TRUE_FLAGS) | text.is_in(FALSE_FLAGS)
                | (finite & (num >= 0)).fill_null(False))
    return is_set, ~readable


def _flag_rule_expr(df: pl.DataFrame, d: Derivation) -> tuple[pl.Expr, list[tuple[str, pl.Expr]]]:
    """The derived value (first rule that holds, else `otherwise`) and the unreadable-value
    marks of the flag columns present."""
    cols = sorted({c for r in d.flags for c in r.columns()})
    flags = {c: _flag_set(df, c) for c in cols}
    out: pl.Expr = pl.lit(d.otherwise, pl.String)
    for r in reversed(d.flags):
        cond = pl.lit(True)
        if r.all:
            cond = cond & pl.all_horizontal(flags[c][0] for c in r.all)
        if r.any:
            cond = cond & pl.any_horizontal(flags[c][0] for c in r.any)
        if r.none:
            cond = cond & ~pl.any_horizontal(flags[c][0] for c in r.none)
        out = pl.when(cond).then(pl.lit(r.value)).otherwise(out)
    return out, [(c, flags[c][1]) for c in cols if c in df.columns]


def _derive_one(df: pl.DataFrame, name: str, d: Derivation, mapping: Mapping, source: str,
                notes: list[str]) -> tuple[pl.Expr, list[pl.Expr]]:
    if d.constant is not None:
        notes.append(f"{name}: the constant '{d.constant}' on every row")
        return pl.lit(d.constant), []
    if d.concat:
        cols = [_resolve(c, df, mapping) for c in d.concat]
        for c, given in zip(cols, d.concat):
            if c not in df.columns:
                raise InputFileError(source, f"derive.{name} concatenates a column the file does not have", column=given)
        notes.append(f"{name}: {' + '.join(repr(c) for c in d.concat)}" + (f" joined by {d.sep!r}" if len(cols) > 1 else ""))
        return pl.concat_str([pl.col(c).cast(pl.String) for c in cols], separator=d.sep), []
    expr, bad = _flag_rule_expr(df, d)
    absent = sorted({c for r in d.flags for c in r.columns()} - set(df.columns))
    if absent:
        notes.append(f"{name}: flag columns absent from this file, read as not set: {', '.join(absent)}")
    return expr, [b.alias(f"{BAD_FLAG}{c}") for c, b in bad]


def derive_columns(df: pl.DataFrame, mapping: Mapping, spec: TableSpec, source: str,
                   notes: list[str]) -> pl.DataFrame:
    """Add the derived columns (and a row id with `id: row`), then describe what came out."""
    exprs: list[pl.Expr] = []
    for name, d in mapping.derive.items():
        if name in df.columns:
            raise InputFileError(source, f"derive.{name}: the file (after renames) already has this column; "
                                         "derive another name or drop the rename", column=name)
        value, marks = _derive_one(df, name, d, mapping, source, notes)
        exprs += [value.alias(name), *marks]
    if mapping.id == "row":
        if spec.id_column in df.columns:
            raise InputFileError(source, "id: row, but the file has its own id column; drop one", column=spec.id_column)
        name = "/".join(Path(source).parts[-2:])  # folder and file: distinct across a folder of extracts
        exprs.append((pl.lit(f"{name}:") + pl.col(ROW).cast(pl.String)).alias(spec.id_column))
        notes.append(f"{spec.id_column}: one record per row (id: row), '{name}:<row>'; exact copies are distinct records")
    out = df.with_columns(exprs) if exprs else df
    for name, d in mapping.derive.items():
        if d.flags:
            counts = out.get_column(name).value_counts(sort=True)
            listed = ", ".join(f"{v if v is not None else '(blank)'} {n}" for v, n in counts.iter_rows())
            notes.append(f"{name} from flags ({len(d.flags)} rules, otherwise {d.otherwise}): {listed}")
    return out


def apply_unknown(df: pl.DataFrame, mapping: Mapping, notes: list[str]) -> pl.DataFrame:
    """Codes declared as "not known" in a column (a placeholder citizenship 0) become missing."""
    exprs = []
    for given, codes in mapping.unknown_values.items():
        c = _resolve(given, df, mapping)
        if c not in df.columns:
            notes.append(f"unknown_values.{given}: no such column in this file (nothing to do)")
            continue
        hit = pl.col(c).cast(pl.String).str.strip_chars().is_in(list(codes))
        notes.append(f"{c}: {int(df.select(hit.sum()).item())} values in {list(codes)} read as not known")
        exprs.append(pl.when(hit).then(None).otherwise(pl.col(c)).alias(c))
    return df.with_columns(exprs) if exprs else df


def prepare(raw: pl.DataFrame, mapping: Mapping, spec: TableSpec, source: str) -> Prepared:
    """The mapping applied in order: missing tokens, renames, skipped rows, derivations, unknown codes."""
    notes: list[str] = []
    df = apply_missing(raw, mapping.missing, notes)
    clash = sorted(set(mapping.columns.values()) & set(mapping.derive))
    if clash:
        raise InputFileError(source, f"'{clash[0]}' is both renamed to and derived; keep one", column=clash[0])
    df = df.rename({c: mapping.columns[c] for c in df.columns if c in mapping.columns})
    df, skipped = skip_rows(df, mapping, spec.kind, source, notes)
    df = derive_columns(df, mapping, spec, source, notes)
    return Prepared(apply_unknown(df, mapping, notes), skipped, notes)
