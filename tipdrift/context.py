"""Context events and shifts (methods.md section 8).

Each event kind has a window fixed before detection: an event qualifies for a shift when
    ci_low - lead <= event date <= ci_high + lag
in months, the bounds read as whole months, so the window sits around the shift's
location interval (for a gradual shift, its whole transition), not only its point
estimate. For quarterly and yearly series a period counts as the whole span it covers
(a yearly interval 2014..2014 runs January to December) and lead and lag are rounded up
to whole periods. Events for unit `*` apply to
every unit; an event's `case_types`, when given, must intersect the categories that
moved. A pooled shift also takes the events of the units the decomposition names as
entering or leaving.

Status: `artifact_compatible` when the shift is mostly a change in recording completeness
(the share of type `unknown`; `Effect.completeness_driven`), when the decomposition calls a
pooled shift a composition artefact, or when only recording events (`vocab.RECORDING_KINDS`: definition, data_system)
qualify; `explained` when a substantive event (`vocab.SUBSTANTIVE_KINDS`: every other
kind) qualifies; `unexplained` otherwise.

Chance rate: how often the shift would have looked annotated had the unit's event dates
been moved by a random circular shift within its series (same offset for all of the
unit's events, keeping their spacing). A high chance rate means the annotation says little.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tipdrift.load import ROW, LoadResult, load_tables, read_raw
from tipdrift.params import MONTHS_PER_PERIOD
from tipdrift.series import POOLED
from tipdrift.shift import Annotation, SeriesStatus, Shift, UnitShiftRef
from tipdrift.timeutil import month_index
from tipdrift.vocab import CASE_TYPES, HTCDS_CASE_TYPE_ALIASES, SUBSTANTIVE_KINDS

# (lead, lag) in months by event kind: the defaults of methods.md section 8.
DEFAULT_WINDOWS: dict[str, tuple[int, int]] = {
    "funding": (12, 1),
    "legal": (12, 1),
    "policy": (12, 1),
    "staffing": (6, 1),
    "coverage": (3, 1),
    "other": (3, 1),
    "definition": (1, 1),
    "data_system": (1, 1),
}
CHANCE_DRAWS = 500


@dataclass
class ContextLog:
    """Validated events plus what loading found (rejected rows, warnings)."""

    events: pl.DataFrame
    load: LoadResult
    warnings: list[str] = field(default_factory=list)


def load_context(path: str | Path, known_units: list[str] | None = None, as_of: dt.date | None = None) -> ContextLog:
    """Load `context_log/*.csv` (or one file). Bad rows are rejected with file and row;
    events for units that appear in no data are kept and reported as warnings."""
    res = load_tables("context", path, as_of=as_of or dt.date(2999, 12, 31))
    ev = res.accepted.with_columns(
        pl.col("case_types").str.split(";").list.eval(pl.element().str.strip_chars()).list.eval(
            pl.element().filter(pl.element() != "")).alias("case_types"))
    ev = _reject_unknown_case_types(ev, res, path)
    warnings: list[str] = []
    if known_units is not None:
        known = set(known_units) | {"*"}
        raw_rows = _rows_by_id(path)
        for r in ev.filter(~pl.col("unit").is_in(list(known))).iter_rows(named=True):
            src, row = raw_rows.get(r["event_id"], (str(path), None))
            warnings.append(f"warning: {src}, row {row}, column 'unit': event {r['event_id']} names unit "
                            f"'{r['unit']}', which appears in no data")
    return ContextLog(events=ev, load=res, warnings=warnings)


def _reject_unknown_case_types(ev: pl.DataFrame, res: LoadResult, path: str | Path) -> pl.DataFrame:
    """Events whose `case_types` name a type outside the vocabulary (or its HTCDS aliases)
    could never attach to a shift: reject them with file, row and the bad value (in place
    on `res`, whose counts stay reconciled) and map aliases to their case types."""
    lookup = {c.casefold(): c for c in CASE_TYPES} | {k.casefold(): v for k, v in HTCDS_CASE_TYPE_ALIASES.items()}
    mapped = ev.with_columns(pl.col("case_types").list.eval(
        pl.element().str.to_lowercase().replace_strict(lookup, default=None, return_dtype=pl.String)).alias("__ct"))
    bad = mapped.filter(pl.col("__ct").list.eval(pl.element().is_null()).list.any().fill_null(False))
    if bad.height:
        rows = _rows_by_id(path)
        rejected = pl.DataFrame([
            {"source": rows.get(r["event_id"], (str(path), None))[0], "row": rows.get(r["event_id"], (None, None))[1],
             "record_id": r["event_id"], "column": "case_types", "reason": "unknown_label",
             "value": ";".join(c for c, m in zip(r["case_types"], r["__ct"]) if m is None)}
            for r in bad.iter_rows(named=True)], schema=res.rejected.schema)
        res.rejected = pl.concat([res.rejected, rejected])
        res.accepted = res.accepted.filter(~pl.col("event_id").is_in(bad.get_column("event_id").implode()))
        res.summary = {**res.summary, "accepted": res.accepted.height, "rejected": res.rejected.height,
                       "reasons": dict(sorted(Counter(res.rejected.get_column("reason").to_list()).items()))}
    return (mapped.filter(~pl.col("event_id").is_in(bad.get_column("event_id").implode()))
            .with_columns(pl.col("__ct").alias("case_types")).drop("__ct"))


def rejected_lines(rejected: list[dict[str, Any]]) -> list[str]:
    """One line per rejected context row: file, row, column, reason and value."""
    return [f"error: {r['source']}, row {r['row']}, column '{r['column']}': {r['reason']} ({r['value']!r}); "
            f"event {r['record_id']} was not used" for r in rejected]


def _rows_by_id(path: str | Path) -> dict[str, tuple[str, int]]:
    p = Path(path)
    files = sorted(x for x in p.iterdir() if x.suffix.lower() in (".csv", ".parquet", ".xlsx")) if p.is_dir() else [p]
    out: dict[str, tuple[str, int]] = {}
    for f in files:
        raw, _ = read_raw(f)
        if "event_id" in raw.columns:
            for eid, row in zip(raw["event_id"].to_list(), raw[ROW].to_list()):
                out.setdefault(str(eid), (str(f), int(row)))
    return out


def _applicable(events: pl.DataFrame, shift: Shift) -> pl.DataFrame:
    units = {shift.unit, "*"}
    dec = shift.decomposition
    if dec is not None:
        units |= set(dec.entering_units) | set(dec.leaving_units)
    return events.filter(pl.col("unit").is_in(list(units)))


def _moved(shift: Shift) -> set[str]:
    return {m.category for m in shift.effect.moved}


def qualifies(event_month: int, kind: str, lo_month: int, hi_month: int,
              windows: dict[str, tuple[int, int]] = DEFAULT_WINDOWS, freq: str = "month") -> bool:
    lead, lag = period_window(windows[kind], freq)
    return lo_month - lead <= event_month <= hi_month + lag


def period_window(window: tuple[int, int], freq: str) -> tuple[int, int]:
    """A (lead, lag) window in months rounded up to whole periods of `freq` (a yearly
    shift's funding window is one year before, a definition change's one year too)."""
    ppm = MONTHS_PER_PERIOD[freq]
    return tuple(-(-m // ppm) * ppm for m in window)  # type: ignore[return-value]


def span_months(shift: Shift, freq: str) -> tuple[int, int]:
    """First and last month the shift's interval covers: a period counts as its whole span."""
    return month_index(shift.ci[0]), month_index(shift.ci[1]) + MONTHS_PER_PERIOD[freq] - 1


def annotations_for(shift: Shift, events: pl.DataFrame,
                    windows: dict[str, tuple[int, int]] = DEFAULT_WINDOWS, freq: str = "month") -> list[Annotation]:
    """The events that qualify for one shift, nearest first."""
    lo, hi = span_months(shift, freq)
    moved = _moved(shift)
    notes = []
    for e in _applicable(events, shift).iter_rows(named=True):
        if not qualifies(month_index(e["date"]), e["kind"], lo, hi, windows, freq):
            continue
        if shift.kind == "mix" and e["case_types"] and not (set(e["case_types"]) & moved):
            continue
        notes.append(Annotation(e["event_id"], e["kind"], e["unit"], e["date"], (shift.period - e["date"]).days,
                                e["description"] or ""))
    return sorted(notes, key=lambda n: (abs(n.lag_days), n.event_id))


def status_of(shift: Shift) -> str:
    """explained, artifact_compatible or unexplained, from the annotations and decomposition."""
    kinds = {n.kind for n in shift.annotations}
    if shift.kind == "mix" and shift.effect.completeness_driven:
        return "artifact_compatible"  # recording completeness moved, with or without an event
    dec = shift.decomposition
    if dec is not None and (dec.composition_artefact or dec.attributed_to in ("entering", "leaving")):
        return "artifact_compatible"
    if kinds & SUBSTANTIVE_KINDS:
        return "explained"
    return "artifact_compatible" if kinds else "unexplained"


def attach_context(shifts: list[Shift], events: pl.DataFrame,
                   windows: dict[str, tuple[int, int]] = DEFAULT_WINDOWS, freq: str = "month") -> list[Shift]:
    """Fill `annotations` and `status` of each shift (in place) and return the shifts."""
    for s in shifts:
        s.annotations = annotations_for(s, events, windows, freq)
        s.status = status_of(s)
    return shifts


def chance_rates(shifts: list[Shift], events: pl.DataFrame, spans: dict[str, tuple[dt.date, dt.date]],
                 windows: dict[str, tuple[int, int]] = DEFAULT_WINDOWS, draws: int = CHANCE_DRAWS,
                 seed: int = 0, freq: str = "month") -> list[float | None]:
    """Per shift: share of random circular shifts of its unit's event dates that would annotate it."""
    out: list[float | None] = []
    for i, s in enumerate(shifts):
        ev = _applicable(events, s)
        if s.kind == "mix":
            ev = ev.filter(pl.col("case_types").list.len().fill_null(0).eq(0)
                           | pl.col("case_types").list.eval(pl.element().is_in(list(_moved(s)))).list.any()
                           .fill_null(False))
        start, end = spans.get(s.unit, (None, None))
        if ev.height == 0 or start is None:
            out.append(0.0 if start is not None else None)
            continue
        m0, T = month_index(start), month_index(end) + MONTHS_PER_PERIOD[freq] - month_index(start)
        em = np.array([month_index(d) - m0 for d in ev.get_column("date").to_list()])
        lead = np.array([period_window(windows[k], freq)[0] for k in ev.get_column("kind").to_list()])
        lag = np.array([period_window(windows[k], freq)[1] for k in ev.get_column("kind").to_list()])
        lo, hi = (x - m0 for x in span_months(s, freq))
        offsets = np.random.default_rng([seed, i, T, 8]).integers(0, T, draws)
        moved_m = (em[None, :] + offsets[:, None]) % T
        hit = ((moved_m >= lo - lead[None, :]) & (moved_m <= hi + lag[None, :])).any(axis=1)
        out.append(float(hit.mean()))
    return out


def unit_shifts_near(shifts: list[Shift], margin_months: int = 3, freq: str = "month") -> None:
    """For each pooled shift, the unit-level shifts of the same kind whose date falls within
    its interval widened by `margin_months`: what a pooled change is made of, with each
    unit shift's own status and recorded events (in place, as `unit_shifts`)."""
    for p in shifts:
        if p.unit != POOLED:
            continue
        lo, hi = span_months(p, freq)
        p.unit_shifts = [UnitShiftRef(s.unit, s.period, s.status, [a.event_id for a in s.annotations])
                         for s in shifts
                         if s.unit != POOLED and s.kind == p.kind
                         and lo - margin_months <= month_index(s.period) <= hi + margin_months]


def context_without_shift(shifts: list[Shift], events: pl.DataFrame) -> list[dict[str, Any]]:
    """Events that annotate no detected shift: a change that changed nothing is a finding too."""
    used = {n.event_id for s in shifts for n in s.annotations}
    rest = events.filter(~pl.col("event_id").is_in(list(used))).sort("date", "event_id")
    return [{"event_id": r["event_id"], "unit": r["unit"], "kind": r["kind"], "date": r["date"].isoformat(),
             "description": r["description"]} for r in rest.iter_rows(named=True)]


@dataclass
class ContextResult:
    """What annotation added to a run: the log, the window table and the events no shift used."""

    path: str
    log: ContextLog
    windows: dict[str, tuple[int, int]]
    without_shift: list[dict[str, Any]]

    def to_json(self, shifts: list[Shift]) -> dict[str, Any]:
        s = self.log.load.summary
        return {
            "sources": [{"path": self.path, "rows": s["rows"], "accepted": s["accepted"], "rejected": s["rejected"]}],
            "windows": {k: {"lead_months": v[0], "lag_months": v[1]} for k, v in self.windows.items()},
            "rejected": self.log.load.rejected.to_dicts(),
            "warnings": self.log.warnings,
            "status_counts": dict(sorted(Counter(x.status for x in shifts).items())),
        }


def annotate(shifts: list[Shift], statuses: list[SeriesStatus], context: str | Path, seed: int = 0,
             windows: dict[str, tuple[int, int]] = DEFAULT_WINDOWS, freq: str = "month") -> ContextResult:
    """Annotate shifts (in place) with the context log's events, statuses, the pooled
    shifts' unit shifts and chance rates; return the log and what it left unused."""
    log = load_context(context, known_units=[s.unit for s in statuses if s.unit != POOLED])
    ev = log.events
    attach_context(shifts, ev, windows, freq)
    unit_shifts_near(shifts, margin_months=max(3, MONTHS_PER_PERIOD[freq]), freq=freq)
    spans = {s.unit: (s.first_period, s.last_period) for s in statuses}
    for s, c in zip(shifts, chance_rates(shifts, ev, spans, windows, seed=seed, freq=freq)):
        s.chance_rate, s.annotated = c, True
    return ContextResult(path=str(context), log=log, windows=dict(windows),
                         without_shift=context_without_shift(shifts, ev))
