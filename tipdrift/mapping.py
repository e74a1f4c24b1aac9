"""Source mappings: rename a source's columns and map its labels to the vocabulary.

A mapping is plain data that round-trips through YAML/JSON (as Splink's settings do),
so one loader serves many source formats. Example::

    columns:
      "Fecha de arresto": arrest_date
      "ID": arrest_id
    labels:
      case_type:
        "Labor": forced_labour
        "Sex trafficking": sexual_exploitation
        "CSEC": sexual_exploitation
    date_format: "%d/%m/%Y"

A file may instead hold one such section per table under ``tables:`` (keys: arrests,
prosecutions, dispositions, cases, context); ``Mapping.for_table`` picks the section.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tipdrift.errors import InputFileError

_KEYS = {"columns", "labels", "date_format"}



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

@dataclass
class Mapping:
    """Column renames (source -> canonical), label maps per column, optional date format."""

    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    tables: dict[str, "Mapping"] = field(default_factory=dict)

    def for_table(self, kind: str) -> "Mapping":
        """The section for one table kind, falling back to the top-level mapping."""
        return self.tables.get(kind, self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in asdict(self).items() if k != "tables" and v}
        if self.tables:
            out["tables"] = {k: v.to_dict() for k, v in self.tables.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<mapping>") -> "Mapping":
        if not isinstance(data, dict):
            raise InputFileError(source, "a mapping must be a YAML/JSON object with 'columns' and/or 'labels'")
        unknown = set(data) - _KEYS - {"tables"}
        if unknown:
            raise InputFileError(source, f"unknown mapping keys {sorted(unknown)}; expected columns, labels, date_format, tables")
        cols = data.get("columns") or {}
        labels = data.get("labels") or {}
        if not isinstance(cols, dict) or not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
            raise InputFileError(source, "'columns' must map source names to canonical names and 'labels' must map column -> {label: category}")
        tables = {k: cls.from_dict(v, f"{source} [tables.{k}]") for k, v in (data.get("tables") or {}).items()}
        return cls(
            columns={str(k): str(v) for k, v in cols.items()},
            labels={str(c): {str(k): str(v) for k, v in m.items()} for c, m in labels.items()},
            date_format=data.get("date_format"),
            tables=tables,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Mapping":
        return cls.from_dict(read_yaml(path, "mapping file"), str(path))

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=True, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text
