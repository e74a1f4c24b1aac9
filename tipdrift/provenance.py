"""Provenance: which tipdrift, which inputs (sha256 and rows), so a result can be traced
to exactly the files and version that made it."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl


def version() -> str:
    """The installed tipdrift version."""
    from tipdrift import __version__

    return __version__


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def count_rows(path: str | Path) -> int:
    """Records in a Parquet or CSV file (Excel: rows read by the loader)."""
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        return int(pl.scan_parquet(p).select(pl.len()).collect().item())
    if p.suffix.lower() == ".xlsx":
        return pl.read_excel(p, engine="openpyxl", infer_schema_length=0).height
    return int(pl.scan_csv(p, infer_schema=False).select(pl.len()).collect().item())


def input_record(path: str | Path, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """{path, sha256, rows[, accepted, rejected]} of one input file."""
    out: dict[str, Any] = {"path": str(path), "sha256": sha256_of(path)}
    if summary is not None:
        out.update(rows=summary["rows"], accepted=summary["accepted"], rejected=summary["rejected"],
                   reasons=summary.get("reasons", {}), **({"skipped": summary["skipped"]} if summary.get("skipped") else {}),
                   **({"mapping_notes": summary["notes"]} if summary.get("notes") else {}))
    else:
        out["rows"] = count_rows(path)
    return out
