"""The drift job: table -> series -> detect -> decompose (pooled) -> context -> shifts.json.

`run_drift` returns the shifts.json document (a plain dict); `write_json` writes it
byte-identically for the same inputs and parameters (no timestamps, fixed seeds).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.detect import DriftDetector
from tipdrift.errors import InputFileError, ParameterError
from tipdrift.load import LoadResult, load_table, read_raw
from tipdrift.mapping import Mapping
from tipdrift.schema import SPECS
from tipdrift.series import POOLED, build_series

# Default unit and date columns by table kind.
DEFAULT_COLUMNS: dict[str, tuple[str, str]] = {
    "cases": ("org_id", "opened_date"),
    "arrests": ("jurisdiction", "arrest_date"),
    "prosecutions": ("jurisdiction", "filing_date"),
}


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def infer_kind(path: str | Path, mapping: Mapping | None = None) -> str:
    """The table kind whose id column the file carries (cases, arrests or prosecutions)."""
    raw, _ = read_raw(path)
    cols = set(raw.columns)
    if mapping is not None:
        cols |= {mapping.columns[c] for c in raw.columns if c in mapping.columns}
        cols |= {mapping.for_table(k).columns.get(c, c) for k in DEFAULT_COLUMNS for c in raw.columns}
    for kind in DEFAULT_COLUMNS:
        if SPECS[kind].id_column in cols:
            return kind
    raise InputFileError(str(path), "cannot tell the table kind: no case_id, arrest_id or prosecution_id column; pass --kind")


def run_drift(
    table: str | Path,
    kind: str | None = None,
    unit: str | None = None,
    date: str | None = None,
    category: str = "case_type",
    freq: str = "month",
    penalty: str | float = "mbic",
    min_size: int = 6,
    alpha: float = 0.05,
    n_boot: int = 199,
    seed: int = 0,
    pooled: bool = False,
    context: str | Path | None = None,
    as_of: dt.date | str | None = None,
    reporting_lag: int = 0,
    mapping: Mapping | str | Path | None = None,
    volume: bool = True,
) -> tuple[dict[str, Any], LoadResult]:
    """Run detection on one table and return (shifts.json document, load result)."""
    if isinstance(mapping, (str, Path)):
        mapping = Mapping.from_yaml(mapping)
    kind = kind or infer_kind(table, mapping)
    if kind not in DEFAULT_COLUMNS:
        raise ParameterError(f"drift runs on cases, arrests or prosecutions, not '{kind}'")
    d_unit, d_date = DEFAULT_COLUMNS[kind]
    unit, date = unit or d_unit, date or d_date
    as_of_date = dt.date.fromisoformat(str(as_of)) if as_of is not None and not isinstance(as_of, dt.date) else as_of
    loaded = load_table(kind, table, mapping=mapping, as_of=as_of_date or dt.date.today())
    df = loaded.accepted
    if as_of_date is None:
        as_of_date = df.get_column(date).max() if date in df.columns else None
    series = build_series(df, unit=unit, date=date, category=category, freq=freq, as_of=as_of_date,
                          reporting_lag=reporting_lag, pooled=pooled)
    detector = DriftDetector(penalty=penalty, min_size=min_size, alpha=alpha, n_boot=n_boot, seed=seed, volume=volume)
    detector.fit(series)

    shifts = []
    for s in detector.shifts_:
        s = {k: v for k, v in s.items() if k not in ("index", "ci_index")}
        if s["unit"] == POOLED:
            from tipdrift.decompose import decompose_pooled_shift, decompose_pooled_volume

            s["decomposition"] = (decompose_pooled_shift(series, s, min_size=min_size, n_boot=n_boot, alpha=alpha, seed=seed)
                                  if s["kind"] == "mix" else decompose_pooled_volume(series, s, min_size=min_size))
        shifts.append(s)

    doc: dict[str, Any] = {
        "tipdrift_version": _version(),
        "parameters": {
            "kind": kind, "unit": unit, "date": date, "category": category, "freq": freq, "penalty": penalty,
            "min_size": min_size, "alpha": alpha, "n_boot": n_boot, "seed": seed, "pooled": pooled,
            "as_of": as_of_date.isoformat() if as_of_date else None, "reporting_lag": reporting_lag,
            "last_period_analysed": series.last_period.isoformat(),
            "censored_from": series.censored_from.isoformat() if series.censored_from else None,
            "categories": series.categories,
        },
        "inputs": [{"path": str(table), "sha256": sha256_of(table), "rows": loaded.summary["rows"],
                    "accepted": loaded.summary["accepted"], "rejected": loaded.summary["rejected"]}],
        "series": [
            {"unit": r["unit"], "periods": r["periods"], "cases": r["cases"], "status": r["status"],
             "reason": r["reason"], "first_period": r["first_period"].isoformat(),
             "last_period": r["last_period"].isoformat(), "phi_mix": r["phi_mix"], "phi_volume": r["phi_volume"]}
            for r in detector.series_.iter_rows(named=True)
        ],
        "shifts": shifts,
    }
    if context is not None:
        from tipdrift.context import annotate_document

        annotate_document(doc, context, series=series, seed=seed)
    return doc, loaded


def _version() -> str:
    from tipdrift import __version__

    return __version__


def write_json(doc: dict[str, Any], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def shifts_table(doc: dict[str, Any]) -> pl.DataFrame:
    """One row per shift, for printing and notebooks."""
    rows = []
    for s in doc["shifts"]:
        eff = s["effect"]
        if s["kind"] == "mix":
            moved = ", ".join(f"{m['category']} {m['change']:+.2f}" for m in eff["moved"][:2])
            effect = f"TVD {eff['tvd']:.2f} ({moved})"
        else:
            effect = f"x{eff['ratio']:.2f} cases/period" if eff.get("ratio") else ""
        rows.append({"unit": s["unit"], "kind": s["kind"], "period": s["period"][:7],
                     "interval": f"{s['ci'][0][:7]}..{s['ci'][1][:7]}", "p_adj": s["p_adjusted"], "effect": effect,
                     "status": s["status"], "events": ", ".join(a["event_id"] for a in s["annotations"])})
    return pl.DataFrame(rows, schema={"unit": pl.String, "kind": pl.String, "period": pl.String, "interval": pl.String,
                                      "p_adj": pl.Float64, "effect": pl.String, "status": pl.String, "events": pl.String})
