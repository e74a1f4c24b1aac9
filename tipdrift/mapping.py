"""Source mappings: plain data (round-trips YAML/JSON, as Splink's settings do) that turn a
source's layout into a canonical table, so one loader serves many source formats.

A mapping renames columns, maps labels, derives columns, declares missing-value tokens,
and says how to read the file. Example (the CTDC global dataset's layout)::

    id: row                      # no record id: each row is a record (exact copies too)
    missing: ["-99", ""]         # tokens that mean "no value", in every column
    unknown_values:              # codes that mean "not known" in one column
      citizenship: ["0", "XX"]
    columns:
      yearOfRegistration: opened_date
    date_format: "%Y"            # year only: kept at year precision, no invented day
    derive:
      org_id: {constant: CTDC}
      case_type:
        flags:                   # ordered rules over 0/1 columns; the first that holds wins
          - {value: labour_and_sexual, any: [isSexAndLabour]}
          - {value: labour_and_sexual, all: [isForcedLabour, isSexualExploit]}
          - {value: forced_labour, all: [isForcedLabour]}
        otherwise: unknown       # no rule holds (no flag set, or all missing)
    labels:
      case_type: {"Labor": forced_labour}
    sheet: Data                  # Excel sheet by name, or position (1 = the first sheet)
    delimiter: ";"               # CSV delimiter (detected when the header is unambiguous)
    encoding: utf-16             # CSV encoding (UTF-8 default; a UTF-16 BOM is detected)
    as_of: 2024-12-31            # the extract date
    skip_when_blank: [termination_year]   # rows without it are not records of this table

A file may instead hold one such section per table under ``tables:`` (keys: arrests,
prosecutions, dispositions, cases, context); ``Mapping.for_table`` picks the section and
fills what it leaves out from the top level.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from tipdrift.errors import InputFileError

TRUE_FLAGS: tuple[str, ...] = ("1", "true", "yes", "y", "t")
FALSE_FLAGS: tuple[str, ...] = ("0", "false", "no", "n", "f")


def read_yaml(path: str | Path, what: str) -> Any:
    """The parsed content of a YAML (or JSON) file, with one clear error when it is missing
    or not valid; an empty file reads as {}."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(p), f"{what} not found")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputFileError(str(p), f"not valid YAML/JSON: {str(exc).splitlines()[0]}") from None


@dataclass(frozen=True)
class FlagRule:
    """`value` when every `all` flag is set, at least one `any` flag is set (if given) and
    no `none` flag is set. A flag is set when it reads as true (1, yes, true) or a number
    above 0; a flag column absent from the file counts as not set."""

    value: str
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()

    def columns(self) -> tuple[str, ...]:
        return self.all + self.any + self.none

    def describe(self) -> str:
        parts = [f"all of {', '.join(self.all)}" if self.all else "", f"any of {', '.join(self.any)}" if self.any else "",
                 f"none of {', '.join(self.none)}" if self.none else ""]
        return " and ".join(p for p in parts if p)


@dataclass(frozen=True)
class Derivation:
    """How one canonical column is made: ordered flag rules (with `otherwise`), a
    constant, or the concatenation of columns (one column: a copy)."""

    flags: tuple[FlagRule, ...] = ()
    otherwise: str | None = None
    constant: str | None = None
    concat: tuple[str, ...] = ()
    sep: str = ""

    def to_dict(self) -> dict[str, Any]:
        if self.constant is not None:
            return {"constant": self.constant}
        if self.concat:
            return {"concat": list(self.concat), **({"sep": self.sep} if self.sep else {})}
        rules = [{"value": r.value, **{k: list(getattr(r, k)) for k in ("all", "any", "none") if getattr(r, k)}}
                 for r in self.flags]
        return {"flags": rules, **({"otherwise": self.otherwise} if self.otherwise is not None else {})}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Derivation":
        if not isinstance(data, dict) or len({"flags", "constant", "concat"} & set(data)) != 1:
            raise InputFileError(where, "a derivation is one of {flags: [...], otherwise: V}, {constant: V} "
                                        "or {concat: [columns], sep: S}")
        unknown = set(data) - {"flags", "otherwise", "constant", "concat", "sep"}
        if unknown:
            raise InputFileError(where, f"unknown derivation keys {sorted(unknown)}")
        if "constant" in data:
            return cls(constant=str(data["constant"]))
        if "concat" in data:
            cols = data["concat"]
            if not isinstance(cols, list) or not cols:
                raise InputFileError(where, "concat needs a list of column names")
            return cls(concat=tuple(str(c) for c in cols), sep=str(data.get("sep", "")))
        return cls(flags=tuple(_flag_rule(r, where) for r in data["flags"] or []),
                   otherwise=None if data.get("otherwise") is None else str(data["otherwise"]))


def _flag_rule(rule: Any, where: str) -> FlagRule:
    if not isinstance(rule, dict) or "value" not in rule or not ({"all", "any", "none"} & set(rule)):
        raise InputFileError(where, f"a flag rule needs a value and at least one of all/any/none, not {rule!r}")
    unknown = set(rule) - {"value", "all", "any", "none"}
    if unknown:
        raise InputFileError(where, f"unknown flag-rule keys {sorted(unknown)}")
    cols = {k: rule.get(k) or [] for k in ("all", "any", "none")}
    if not all(isinstance(v, list) for v in cols.values()):
        raise InputFileError(where, f"all/any/none must be lists of column names in {rule!r}")
    return FlagRule(value=str(rule["value"]), **{k: tuple(str(c) for c in v) for k, v in cols.items()})


_SCALARS = ("id", "date_format", "sheet", "delimiter", "encoding", "as_of")
TABLE_KINDS: tuple[str, ...] = ("arrests", "prosecutions", "dispositions", "cases", "context")
_KEYS = {"columns", "labels", "derive", "missing", "unknown_values", "skip_when_blank", "tables", *_SCALARS}


@dataclass
class Mapping:
    """Column renames (source -> canonical), label maps per column, derived columns,
    missing-value tokens, and how to read the file; see the module docstring."""

    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    derive: dict[str, Derivation] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    unknown_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    id: str | None = None  # "row": each row is a record, its id the file name and row number
    skip_when_blank: tuple[str, ...] = ()
    sheet: str | int | None = None
    delimiter: str | None = None
    encoding: str | None = None
    as_of: dt.date | None = None
    tables: dict[str, "Mapping"] = field(default_factory=dict)
    origin: str = field(default="<mapping>", compare=False, repr=False)  # the file it came from, for messages

    def for_table(self, kind: str) -> "Mapping":
        """The section for one table kind; what it leaves out comes from the top level."""
        section = self.tables.get(kind)
        if section is None:
            return self
        inherited = {f.name: getattr(section, f.name) or getattr(self, f.name) for f in fields(self)
                     if f.name not in ("tables", "origin")}
        return Mapping(**inherited, origin=f"{self.origin} [tables.{kind}]")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("tables", "origin") or v is None or v == {} or v == ():
                continue
            if f.name == "derive":
                v = {k: d.to_dict() for k, d in v.items()}
            elif f.name == "unknown_values":
                v = {k: list(c) for k, c in v.items()}
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, dt.date):
                v = v.isoformat()
            out[f.name] = v
        if self.tables:
            out["tables"] = {k: v.to_dict() for k, v in self.tables.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<mapping>") -> "Mapping":
        if not isinstance(data, dict):
            raise InputFileError(source, "a mapping must be a YAML/JSON object with 'columns' and/or 'labels'")
        unknown = set(data) - _KEYS
        if unknown:
            raise InputFileError(source, f"unknown mapping keys {sorted(unknown)}; expected {', '.join(sorted(_KEYS))}")
        cols = data.get("columns") or {}
        labels = data.get("labels") or {}
        if not isinstance(cols, dict) or not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
            raise InputFileError(source, "'columns' must map source names to canonical names and 'labels' must map column -> {label: category}")
        tables = {k: cls.from_dict(v, f"{source} [tables.{k}]") for k, v in (data.get("tables") or {}).items()}
        unknown_tables = sorted(set(tables) - set(TABLE_KINDS))
        if unknown_tables:
            raise InputFileError(source, f"unknown table '{unknown_tables[0]}' under tables:; expected one of "
                                         f"{', '.join(TABLE_KINDS)}")
        return cls(
            columns={str(k): str(v) for k, v in cols.items()},
            labels={str(c): {str(k): str(v) for k, v in m.items()} for c, m in labels.items()},
            derive={str(k): Derivation.from_dict(v, f"{source} [derive.{k}]") for k, v in (data.get("derive") or {}).items()},
            missing=_text_list(data.get("missing"), source, "missing"),
            unknown_values={str(k): _text_list(v, source, f"unknown_values.{k}")
                            for k, v in (data.get("unknown_values") or {}).items()},
            skip_when_blank=_text_list(data.get("skip_when_blank"), source, "skip_when_blank"),
            tables=tables, origin=source, **_scalars(data, source),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Mapping":
        return cls.from_dict(read_yaml(path, "mapping file"), str(path))

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _text_list(value: Any, source: str, key: str) -> tuple[str, ...]:
    """A YAML list of tokens as text (YAML reads -99 as a number; the file holds text)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputFileError(source, f"'{key}' must be a list, e.g. [\"-99\", \"NA\"]")
    if any(isinstance(v, bool) for v in value):  # YAML reads no, yes, off as booleans: the text is lost
        raise InputFileError(source, f"'{key}' holds a yes/no value that YAML read as a boolean; quote it (\"no\")")
    return tuple("" if v is None else str(v) for v in value)


def _scalars(data: dict[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: data.get(k) for k in _SCALARS}
    if out["id"] is not None and out["id"] != "row":
        raise InputFileError(source, f"id: '{out['id']}' is not understood; the only value is 'row' (each row is a "
                                     "record); name an id column under columns instead")
    if out["as_of"] is not None:
        try:
            out["as_of"] = out["as_of"] if isinstance(out["as_of"], dt.date) else dt.date.fromisoformat(str(out["as_of"]))
        except ValueError:
            raise InputFileError(source, f"as_of: '{out['as_of']}' is not an ISO date (YYYY-MM-DD)") from None
    if out["delimiter"] is not None and len(str(out["delimiter"])) != 1:
        raise InputFileError(source, f"delimiter must be one character, not {out['delimiter']!r}")
    for k in ("date_format", "delimiter", "encoding"):
        out[k] = None if out[k] is None else str(out[k])
    return out
