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


def _token(key: bytes, purpose: str) -> callable:
    def tok(value: str | None) -> str | None:
        if value is None:
            return None
        return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
    return tok


def tokens(df: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """The token columns of a table with person fields (first_name, last_name, birth_date)."""
    from tipdrift.resolve import _fold, birth_parts

    n = df.height
    names = {c: [(_fold(v) if v is not None else None) for v in (df.get_column(c).cast(pl.String).to_list()
                                                                  if c in df.columns else [None] * n)]
             for c in ("first_name", "last_name")}
    day, year = birth_parts(df.get_column("birth_date") if "birth_date" in df.columns else pl.Series([None] * n))
    pair = [None if d is None else d[:4] + "-" + "-".join(sorted((d[5:7], d[8:10]))) for d in day.to_list()]
    out = {}
    for c in ("first_name", "last_name"):
        out[f"{c}_token"] = [_token(key, c[0] + "n")(v) for v in names[c]]
        out[f"{c}_prefix_token"] = [_token(key, "prefix")(v[:3] if v else None) for v in names[c]]
        out[f"{c}_sound_token"] = [_token(key, "sound")(soundex(v) if v else None) for v in names[c]]
    out["birth_date_token"] = [_token(key, "day")(v) for v in day.to_list()]
    out["birth_pair_token"] = [_token(key, "pair")(v) for v in pair]
    out["birth_year_token"] = [_token(key, "year")(v) for v in year.to_list()]
    return pl.DataFrame(out, schema={c: pl.String for c in TOKEN_FIELDS})


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
