"""The drift job: table -> series -> detect -> decompose (pooled) -> context.

`run_drift` returns a `DriftRun`: the typed shifts and series statuses together with the
series and the loaded table they came from, so views and reports reuse one run instead of
reloading. `DriftRun.document()` is the shifts.json document; `write_json` writes it
byte-identically for the same inputs and parameters (no timestamps, fixed seeds).
`save`/`load` keep a run in a private working folder for report workers.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.checks import DEFAULT_MAX_REJECTED, check_precision, check_rejected, outlier_lines, validate_command
from tipdrift.dependence import RunDependence
from tipdrift.errors import InputFileError, ParameterError
from tipdrift.load import LoadResult, load_table, read_raw
from tipdrift.mapping import Mapping
from tipdrift.params import DriftParams
from tipdrift.provenance import input_record, version
from tipdrift.schema import SPECS
from tipdrift.series import POOLED, CountSeries, build_series
from tipdrift.shift import SeriesStatus, Shift

# Default unit and date columns by table kind.
DEFAULT_COLUMNS: dict[str, tuple[str, str]] = {
    "cases": ("org_id", "opened_date"),
    "arrests": ("jurisdiction", "arrest_date"),
    "prosecutions": ("jurisdiction", "filing_date"),
}


@dataclass(frozen=True)
class TableChoice:
    """Which table kind, and which of its columns are the unit, the date and the category."""

    kind: str
    unit: str
    date: str
    category: str = "case_type"


@dataclass
class DriftRun:
    """One detection run: parameters, inputs, series, statuses, shifts and context."""

    params: DriftParams
    table: TableChoice
    as_of: dt.date | None
    series: CountSeries
    statuses: list[SeriesStatus]
    shifts: list[Shift]
    family: dict[str, int]
    inputs: list[dict[str, Any]]
    version: str
    loaded: LoadResult | None = None
    context: dict[str, Any] | None = None  # the document's "context" section
    events: pl.DataFrame | None = None  # accepted context events
    without_shift: list[dict[str, Any]] = field(default_factory=list)
    as_of_source: str = "given"  # or "the mapping's as_of", "latest <date column> in the table"
    warnings: list[str] = field(default_factory=list)  # dates far beyond the rest (as_of not given)
    unit_unknown: int = 0  # accepted rows whose unit is blank or declared unknown (not in any series)
    quality: dict[str, Any] | None = None  # tipdrift.quality document of the analysed table
    dependence: dict[str, RunDependence] = field(default_factory=dict)  # the run's dependence floor per kind

    def parameters(self) -> dict[str, Any]:
        p, s = self.params, self.series
        return {"kind": self.table.kind, "unit": self.table.unit, "date": self.table.date,
                "category": self.table.category, "freq": p.freq, "penalty": p.penalty, "min_size": p.segment,
                "alpha": p.alpha, "n_boot": p.n_boot, "seed": p.seed, "pooled": p.pooled,
                "as_of": self.as_of.isoformat() if self.as_of else None, "as_of_source": self.as_of_source,
                "reporting_lag": p.reporting_lag, "rows_without_unit": self.unit_unknown,
                "last_period_analysed": s.last_period.isoformat(),
                "censored_from": s.censored_from.isoformat() if s.censored_from else None,
                "categories": s.categories, "max_boot": p.max_boot, "volume": p.volume,
                "overdispersion": p.overdispersion, "min_cases_per_period": p.min_cases_per_period,
                "dependence": p.dependence, "dependence_rho": p.dependence_rho}

    def document(self) -> dict[str, Any]:
        """The shifts.json document (rounded here, and only here)."""
        doc: dict[str, Any] = {
            "tipdrift_version": self.version, "parameters": self.parameters(), "inputs": self.inputs,
            "tested_candidates": self.family,
            "dependence": {k: d.to_json() for k, d in self.dependence.items()},
            "series": [s.to_json() for s in self.statuses], "shifts": [s.to_json() for s in self.shifts],
        }
        if self.quality is not None:
            doc["quality"] = self.quality
        if self.context is not None:
            doc["context"] = self.context
            doc["context_without_shift"] = self.without_shift
        return doc

    def units(self) -> list[str]:
        return [s.unit for s in self.statuses]

    def save(self, folder: str | Path) -> Path:
        """shifts.json, the count series and the context events in `folder` (aggregates
        and events only: nothing person-level)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        write_json(self.document(), out / "shifts.json")
        self.series.long.write_parquet(out / "series.parquet")
        if self.events is not None:
            self.events.write_parquet(out / "events.parquet")
        return out / "shifts.json"

    @classmethod
    def load(cls, folder: str | Path) -> "DriftRun":
        """A run saved with `save` (its loaded table is not kept)."""
        folder = Path(folder)
        doc = read_document(folder / "shifts.json")
        pr = doc["parameters"]
        settings = {k: pr[k] for k in DriftParams.__dataclass_fields__ if k in pr}
        long = pl.read_parquet(folder / "series.parquet")
        series = CountSeries(long=long, categories=pr["categories"], freq=pr["freq"],
                             first_period=long.get_column("period").min(),
                             last_period=dt.date.fromisoformat(pr["last_period_analysed"]),
                             censored_from=dt.date.fromisoformat(pr["censored_from"]) if pr["censored_from"] else None)
        events = pl.read_parquet(folder / "events.parquet") if (folder / "events.parquet").is_file() else None
        return cls(params=DriftParams.from_dict(settings),
                   table=TableChoice(pr["kind"], pr["unit"], pr["date"], pr["category"]),
                   as_of=dt.date.fromisoformat(pr["as_of"]) if pr["as_of"] else None, series=series,
                   statuses=[SeriesStatus.from_json(s) for s in doc["series"]],
                   shifts=[Shift.from_json(s) for s in doc["shifts"]], family=doc.get("tested_candidates", {}),
                   inputs=doc["inputs"], version=doc["tipdrift_version"], context=doc.get("context"), events=events,
                   without_shift=doc.get("context_without_shift", []), as_of_source=pr.get("as_of_source", "given"),
                   unit_unknown=int(pr.get("rows_without_unit", 0)), quality=doc.get("quality"),
                   dependence={k: RunDependence.from_json(d) for k, d in doc.get("dependence", {}).items()})


def infer_kind(path: str | Path, mapping: Mapping | None = None) -> str:
    """The table kind whose id column (else whose date column: opened_date, arrest_date,
    filing_date) the file carries, after the mapping's renames and derivations."""
    raw, _ = read_raw(path, mapping)
    cols = set(raw.columns)
    for m in ([mapping] + [mapping.for_table(k) for k in DEFAULT_COLUMNS]) if mapping is not None else []:
        cols |= {m.columns.get(c, c) for c in raw.columns} | set(m.derive)
    for column in ("id", "date"):
        for kind, (_, d) in DEFAULT_COLUMNS.items():
            if (SPECS[kind].id_column if column == "id" else d) in cols:
                return kind
    raise InputFileError(str(path), "cannot tell the table kind: no case_id, arrest_id or prosecution_id column "
                                    "(nor opened_date, arrest_date or filing_date); pass --kind")


def choose_table(path: str | Path, mapping: Mapping | None, kind: str | None, unit: str | None, date: str | None,
                 category: str) -> TableChoice:
    kind = kind or infer_kind(path, mapping)
    if kind not in DEFAULT_COLUMNS:
        raise ParameterError(f"drift runs on cases, arrests or prosecutions, not '{kind}'")
    d_unit, d_date = DEFAULT_COLUMNS[kind]
    return TableChoice(kind, unit or d_unit, date or d_date, category)


def _decompose_pooled(run: DriftRun) -> None:
    from tipdrift.decompose import decompose

    for s in run.shifts:
        if s.unit == POOLED:
            s.decomposition = decompose(run.series, s, run.params)


def attach_log(run: DriftRun, context: str | Path) -> None:
    """Annotate the run's shifts with a context log (folder or file)."""
    from tipdrift.context import annotate

    res = annotate(run.shifts, run.statuses, context, seed=run.params.seed, freq=run.params.freq)
    run.context = res.to_json(run.shifts)
    run.events = res.log.events
    run.without_shift = res.without_shift


def run_drift(table: str | Path, params: DriftParams | None = None, *, kind: str | None = None,
              unit: str | None = None, date: str | None = None, category: str = "case_type",
              context: str | Path | None = None, as_of: dt.date | str | None = None,
              mapping: Mapping | str | Path | None = None, max_rejected: float = DEFAULT_MAX_REJECTED,
              **settings: Any) -> DriftRun:
    """Load one table, build its series, detect, decompose pooled shifts, annotate.

    `params` (default `DriftParams()`) with `settings` overriding its fields. Stops with a
    DataError when more than `max_rejected` of the table's rows are rejected, and with a
    ParameterError when the dates are coarser than `params.freq`.
    """
    from tipdrift.detect import DriftDetector

    params = (params or DriftParams()).replace(**settings)
    given_mapping = mapping
    if isinstance(mapping, (str, Path)):
        mapping = Mapping.from_yaml(mapping)
    choice = choose_table(table, mapping, kind, unit, date, category)
    loaded, as_of_date, as_of_source = _load_for_drift(table, choice, mapping, as_of)
    other_unit = choice.unit if choice.unit != DEFAULT_COLUMNS[choice.kind][0] else None
    check_rejected(loaded.summary, max_rejected, rows_at=validate_command(
        choice.kind, table, given_mapping, loaded.summary.get("as_of"), unit=other_unit))
    df = loaded.accepted
    check_precision(df, choice.date, params.freq, str(table))
    warnings = []
    if as_of_date is None and choice.date in df.columns:
        as_of_date = _latest(df, choice.date)
        warnings = outlier_lines(df, choice.date, str(table), SPECS[choice.kind].id_column)
    series = build_series(df, unit=choice.unit, date=choice.date, category=choice.category, freq=params.freq,
                          as_of=as_of_date, reporting_lag=params.reporting_lag, pooled=params.pooled)
    det = DriftDetector(params).fit(series)
    run = DriftRun(params=params, table=choice, as_of=as_of_date, series=series, statuses=det.statuses_,
                   shifts=det.shifts_, family=det.family_, dependence=det.dependence_, inputs=[input_record(table, loaded.summary)],
                   version=version(), loaded=loaded, as_of_source=as_of_source, warnings=warnings,
                   unit_unknown=int(df.get_column(choice.unit).is_null().sum()) if choice.unit in df.columns else 0)
    run.quality = _quality(loaded, as_of_date, params.freq, choice)
    _decompose_pooled(run)
    if context is not None:
        attach_log(run, context)
    return run


def _quality(loaded: LoadResult, as_of: dt.date | None, freq: str, choice: TableChoice) -> dict[str, Any]:
    """The data-quality profile of the analysed table (aggregates), for the report's Data section."""
    from tipdrift.quality import profile_source, quality_document

    unit = choice.unit if choice.unit in loaded.accepted.columns else None
    profile = profile_source(loaded, as_of=as_of or dt.date.today(), freq=freq, date=choice.date, unit=unit)
    return quality_document([profile])


def _latest(df: pl.DataFrame, date: str) -> dt.date | None:
    """The latest date in the column, read as the end of its interval (a year-only 2020 is
    known up to 2020-12-31, so its year is complete, not censored)."""
    from tipdrift.load import interval_end

    prec = f"{date}_precision"
    if prec not in df.columns:
        return df.get_column(date).max()
    return df.select(interval_end(pl.col(date), pl.col(prec).cast(pl.String)).max()).item()


def _load_for_drift(table: str | Path, choice: TableChoice, mapping: Mapping | None,
                    as_of: dt.date | str | None) -> tuple[LoadResult, dt.date | None, str]:
    """The loaded table, the as-of date (given, else the mapping's, else None: the latest
    date, set by the caller) and where it came from. With another unit column than the
    kind's default, the default one (org_id, jurisdiction) is not required."""
    from tipdrift.timeutil import parse_date

    as_of_date = parse_date(as_of, "as_of")
    mapped = mapping.for_table(choice.kind).as_of if mapping is not None else None
    source = "given" if as_of_date else ("the mapping's as_of" if mapped else f"latest {choice.date} in the table")
    as_of_date = as_of_date or mapped
    default_unit = DEFAULT_COLUMNS[choice.kind][0]
    loaded = load_table(choice.kind, table, mapping=mapping, as_of=as_of_date or dt.date.today(),
                        optional=(default_unit,) if choice.unit != default_unit else ())
    return loaded, as_of_date, source


def write_json(doc: dict[str, Any], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def read_document(path: str | Path) -> dict[str, Any]:
    """A shifts.json document, with one clear error for a file that is not one."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(p), "file not found")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(str(p), f"not a shifts.json document: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or "shifts" not in doc:
        raise InputFileError(str(p), "not a shifts.json document (no 'shifts')")
    return doc


def read_shifts(path: str | Path) -> tuple[dict[str, Any], list[Shift]]:
    """The document and its shifts as typed records."""
    doc = read_document(path)
    try:
        return doc, [Shift.from_json(s) for s in doc["shifts"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(str(path), f"a shift lacks a field or has a bad value ({exc}); "
                                        "was it written by this tipdrift version?") from None
