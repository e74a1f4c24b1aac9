"""Pseudonymised person fields: agencies share keyed hashes, not names.

Each agency runs `pseudonymise` on its own table with a key all agencies hold (and the
analyst does not need): names and birth dates are replaced by HMAC-SHA256 tokens of their
standardised forms and of variants that let near matches still meet: the first three
letters of each name (nicknames), each name's Soundex code (typing errors that keep the
sound), the birth year, and the year with the day and month unordered (a transposed day
and month). Tokens of the same value are equal across agencies; nothing about the value
can be read back without the key. Gender, dates of the record, jurisdiction and ids stay.
"""
from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import polars as pl

from tipdrift.errors import InputFileError
from tipdrift.schema import TOKEN_FIELDS

MIN_KEY_BYTES = 16

_SOUNDEX = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"), "l": "4",
            **dict.fromkeys("mn", "5"), "r": "6"}


def soundex(name: str) -> str:
    """American Soundex of a folded name (letters a-z); other scripts are returned as they are."""
    if not name or not name.isascii():
        return name
    out, last = name[0], _SOUNDEX.get(name[0], "")
    for ch in name[1:]:
        code = _SOUNDEX.get(ch, "")
        if code and code != last:
            out += code
        if ch not in "hw":
            last = code
    return (out + "000")[:4]


def read_key(path: str | Path) -> bytes:
    """The shared key: a file of at least 16 bytes (e.g. `head -c 32 /dev/urandom > key`)."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read the key file ({exc.strerror})") from None
    if len(key) < MIN_KEY_BYTES:
        raise InputFileError(str(path), f"the key has {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes")
    return key


def _tokens(values: pl.Series, key: bytes, purpose: str) -> pl.Series:
    """HMAC-SHA256 (first 128 bits, hex) of each value for one purpose, once per distinct value."""
    text = values.cast(pl.String)
    digest = {v: hmac.new(key, f"{purpose}:{v}".encode(), hashlib.sha256).hexdigest()[:32]
              for v in text.drop_nulls().unique().to_list()}
    return text.replace_strict(digest, default=None, return_dtype=pl.String)


def tokens(df: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """The token columns of a table with person fields (first_name, last_name, birth_date)."""
    from tipdrift.resolve import birth_parts, fold_names

    n = df.height
    names = {c: fold_names(df.get_column(c) if c in df.columns else pl.Series([None] * n, dtype=pl.String))
             for c in ("first_name", "last_name")}
    day, year = birth_parts(df.get_column("birth_date") if "birth_date" in df.columns else pl.Series([None] * n))
    mm, dd = day.str.slice(5, 2), day.str.slice(8, 2)  # the day and month unordered: a transposition meets
    pair = pl.select(day.str.slice(0, 5) + pl.when(mm <= dd).then(mm + "-" + dd).otherwise(dd + "-" + mm)).to_series()
    out = {}
    for c, v in names.items():
        sound = pl.Series([soundex(x) if x else None for x in v.unique().to_list()])
        codes = dict(zip(v.unique().to_list(), sound.to_list()))
        out[f"{c}_token"] = _tokens(v, key, c[0] + "n")
        out[f"{c}_prefix_token"] = _tokens(v.str.slice(0, 3), key, "prefix")
        out[f"{c}_sound_token"] = _tokens(v.replace_strict(codes, default=None, return_dtype=pl.String), key, "sound")
    out["birth_date_token"] = _tokens(day, key, "day")
    out["birth_pair_token"] = _tokens(pair, key, "pair")
    out["birth_year_token"] = _tokens(year, key, "year")
    return pl.DataFrame(out).select(TOKEN_FIELDS)


def pseudonymise(df: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """The table with first_name, last_name and birth_date replaced by their tokens."""
    gone = ("first_name", "last_name", "birth_date", "birth_date_precision", *TOKEN_FIELDS)
    return df.drop([c for c in gone if c in df.columns]).hstack(tokens(df, key))


def shareable(df: pl.DataFrame) -> pl.DataFrame:
    """A loaded table as text a loader reads back the same: each date written at its own
    precision (2014, 2014-03 or 2014-03-09), the precision columns dropped."""
    out = []
    for c in df.columns:
        if c.endswith("_precision") or f"{c}_precision" not in df.columns:
            continue
        p = pl.col(f"{c}_precision").cast(pl.String)
        out.append(pl.when(p == "year").then(pl.col(c).dt.strftime("%Y")).when(p == "month")
                   .then(pl.col(c).dt.strftime("%Y-%m")).otherwise(pl.col(c).dt.strftime("%Y-%m-%d")).alias(c))
    return df.with_columns(out).drop([c for c in df.columns if c.endswith("_precision")])
