"""A data-quality profile per source, scored on seven criteria from 0 to 10.

The criteria follow the Lighthouse data hub's scoring of trafficking data sources (Bouche
et al., Harvard Data Science Review, 2026): freshness, definitional consistency,
completeness, taxonomic applicability, temporal coverage, geographic coverage and
demographic coverage. Each score here is one short formula over a loaded table, so that
two people scoring the same file get the same number and a reader can check it by hand;
FORMULAS holds the formulas as plain text (README, reports), each also the docstring of
its `score_*` function.

Everything in a profile is an aggregate: counts, shares, column names and vocabulary
labels, never an id or a value of a person field. Counts per period are not suppressed
(see tipdrift.privacy for what a report shows).

"Present" field: a column of the accepted table with at least one value (a blank
column, such as an optional canonical column the loader adds when the source lacks it,
carries no geography or demography). A value is a non-null cell that is not blank text.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tipdrift.errors import ParameterError
from tipdrift.load import LoadResult
from tipdrift.schema import PERSON_FIELDS, TOKEN_FIELDS, spec_for
from tipdrift.series import period_expr
from tipdrift.timeutil import FREQ_EVERY, parse_date
from tipdrift.vocab import UNKNOWN

CRITERIA: tuple[str, ...] = (
    "freshness",
    "definitional_consistency",
    "completeness",
    "taxonomic_applicability",
    "temporal_coverage",
    "geographic_coverage",
    "demographic_coverage",
)

FORMULAS: dict[str, str] = {
    "freshness": "10 * max(0, 1 - days / 1095), where days = as_of minus the date of the latest record "
                 "(the first day of its month or year when it is known only that far): 10 at 0 days, 0 at "
                 "three years or more; 0 when no record is dated.",
    "definitional_consistency": "10 * (1 - changes / (periods - 1)), where periods = periods with records and "
                                "changes = periods whose set of case_type labels in use (unknown excluded) "
                                "differs from the previous period with records; 10 with one period; None for "
                                "a table without case_type.",
    "completeness": "10 * (1 - rejected / rows read) * the mean, over the table's canonical columns (required "
                    "and optional; an optional column the source lacks counts as empty), of the share of "
                    "accepted records with a value.",
    "taxonomic_applicability": "10 * the share of accepted records whose case_type is recorded and specific "
                               "(neither unknown nor other); None for a table without case_type.",
    "temporal_coverage": "10 * (periods with records / periods in the span) * min(1, periods in the span / S), "
                         "where the span runs from the first to the last period with records and S = 10 for "
                         "years, 40 for quarters, 120 for months (ten years).",
    "geographic_coverage": "10 * the share of accepted records with a value in at least one present geographic "
                           "field (GEOGRAPHIC_FIELDS); 0 when none is present.",
    "demographic_coverage": "10 * (the mean, over present demographic fields (DEMOGRAPHIC_FIELDS), of the share "
                            "of accepted records with a value) * min(1, fields present / 3); 0 when none is "
                            "present.",
}

# Source column names, matched ignoring case, '_', '-' and spaces (ageBroad = age_broad).
DEMOGRAPHIC_FIELDS: tuple[str, ...] = (
    "gender", "sex", "age", "ageBroad", "age_group", "majorityStatus", "citizenship", "nationality",
    "ethnicity", "race",
)
# Where a record happened or whom it concerns; org_id (who recorded it) is not geographic.
GEOGRAPHIC_FIELDS: tuple[str, ...] = (
    "jurisdiction", "country", "citizenship", "nationality", "CountryOfExploitation", "district", "region",
    "province", "county",
)

FRESHNESS_HORIZON_DAYS = 1095
# Periods in a span that counts as long enough (ten years) for temporal coverage.
SPAN_SCALE: dict[str, int] = {"year": 10, "quarter": 40, "month": 120}
MAIN_DATE: dict[str, str] = {"cases": "opened_date", "arrests": "arrest_date", "prosecutions": "filing_date",
                             "dispositions": "disposition_date", "context": "date"}
UNIT_COLUMNS: tuple[str, ...] = ("org_id", "jurisdiction", "unit")
NOT_SPECIFIC: tuple[str, ...] = (UNKNOWN, "other")
SHARE_DIGITS = 4


# ---------------------------------------------------------------- results

@dataclass
class LabelChange:
    """A period whose case_type labels in use differ from the previous period with records."""

    period: dt.date
    added: list[str]
    removed: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period.isoformat(), "added": self.added, "removed": self.removed}


@dataclass
class PeriodProfile:
    """One period's aggregates: records, completeness per column, unknown share, labels, units."""

    period: dt.date
    rows: int
    completeness: dict[str, float]
    unknown_share: float | None = None
    labels: list[str] | None = None
    units: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period.isoformat(), "rows": self.rows, "unknown_share": _round(self.unknown_share),
                "completeness": {k: _round(v) for k, v in self.completeness.items()},
                "labels": self.labels, "units": self.units}


@dataclass
class SourceProfile:
    """The quality profile of one loaded source: whole-source facts, periods and scores."""

    source: str
    kind: str
    rows: int
    accepted: int
    rejected: int
    skipped: int
    as_of: dt.date
    date_column: str
    freq: str
    first_period: dt.date | None
    last_period: dt.date | None
    gaps: list[dt.date]
    freshness_days: int | None
    unit_column: str | None
    units: int | None
    rejected_share: float
    completeness: dict[str, float]
    demographic_fields: list[str]
    geographic_fields: list[str]
    label_changes: list[LabelChange]
    periods: list[PeriodProfile]
    scores: dict[str, float | None]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types: ISO dates, shares to 4 decimals, scores to 1."""
        iso = _iso
        return {
            "source": self.source, "kind": self.kind, "rows": self.rows, "accepted": self.accepted,
            "rejected": self.rejected, "skipped": self.skipped, "as_of": self.as_of.isoformat(),
            "date_column": self.date_column, "freq": self.freq, "first_period": iso(self.first_period),
            "last_period": iso(self.last_period), "gaps": [g.isoformat() for g in self.gaps],
            "freshness_days": self.freshness_days, "unit_column": self.unit_column, "units": self.units,
            "rejected_share": _round(self.rejected_share),
            "completeness": {k: _round(v) for k, v in self.completeness.items()},
            "demographic_fields": self.demographic_fields, "geographic_fields": self.geographic_fields,
            "label_changes": [c.to_json() for c in self.label_changes],
            "periods": [p.to_json() for p in self.periods],
            "scores": {k: (None if v is None else round(v, 1)) for k, v in self.scores.items()},
            "notes": self.notes,
        }


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), SHARE_DIGITS)


# ---------------------------------------------------------------- scores

def _score(x: float) -> float:
    return round(min(10.0, max(0.0, 10.0 * x)), 1)


def score_freshness(days: int | None) -> float:
    """10 * max(0, 1 - days / 1095), where days = as_of minus the date of the latest record
    (the first day of its month or year when it is known only that far): 10 at 0 days, 0 at
    three years or more; 0 when no record is dated."""
    return 0.0 if days is None else _score(1 - max(0, days) / FRESHNESS_HORIZON_DAYS)


def score_definitional_consistency(changes: int, periods: int, has_type: bool = True) -> float | None:
    """10 * (1 - changes / (periods - 1)), where periods = periods with records and
    changes = periods whose set of case_type labels in use (unknown excluded) differs from
    the previous period with records; 10 with one period; None for a table without
    case_type."""
    if not has_type:
        return None
    return 10.0 if periods <= 1 else _score(1 - changes / (periods - 1))


def score_completeness(mean_share: float, rejected_share: float) -> float:
    """10 * (1 - rejected / rows read) * the mean, over the table's canonical columns
    (required and optional; an optional column the source lacks counts as empty), of the
    share of accepted records with a value."""
    return _score((1 - rejected_share) * mean_share)


def score_taxonomic_applicability(specific_share: float | None) -> float | None:
    """10 * the share of accepted records whose case_type is recorded and specific
    (neither unknown nor other); None for a table without case_type."""
    return None if specific_share is None else _score(specific_share)


def score_temporal_coverage(with_records: int, span: int, freq: str) -> float:
    """10 * (periods with records / periods in the span) * min(1, periods in the span / S),
    where the span runs from the first to the last period with records and S = 10 for
    years, 40 for quarters, 120 for months (ten years)."""
    return 0.0 if span == 0 else _score(with_records / span * min(1.0, span / SPAN_SCALE[freq]))


def score_geographic_coverage(share: float) -> float:
    """10 * the share of accepted records with a value in at least one present geographic
    field (GEOGRAPHIC_FIELDS); 0 when none is present."""
    return _score(share)


def score_demographic_coverage(shares: list[float]) -> float:
    """10 * (the mean, over present demographic fields (DEMOGRAPHIC_FIELDS), of the share
    of accepted records with a value) * min(1, fields present / 3); 0 when none is
    present."""
    return 0.0 if not shares else _score(sum(shares) / len(shares) * min(1.0, len(shares) / 3))


# ---------------------------------------------------------------- columns

def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).casefold()


def _has_value(df: pl.DataFrame, col: str) -> pl.Expr:
    """True where a cell holds a value: not null and, for text, not blank."""
    if df.schema[col] == pl.String:
        return pl.col(col).str.strip_chars().str.len_chars().fill_null(0) > 0
    return pl.col(col).is_not_null()


def present_fields(df: pl.DataFrame, names: tuple[str, ...]) -> list[str]:
    """The columns of `df` named in `names` (ignoring case, '_', '-', spaces) that hold at
    least one value, in the table's column order."""
    wanted = {_key(n) for n in names}
    cands = [c for c in df.columns if _key(c) in wanted]
    if not cands or df.height == 0:
        return []
    found = df.select(_has_value(df, c).any().alias(c) for c in cands).row(0, named=True)
    return [c for c in cands if found[c]]


def _date_column(df: pl.DataFrame, kind: str, date: str | None) -> str:
    date = date or MAIN_DATE.get(kind)
    if date is None or date not in df.columns:
        raise ParameterError(f"date column '{date}' is not in the {kind} table; columns: {', '.join(df.columns)}")
    if df.schema[date] != pl.Date:
        raise ParameterError(f"'{date}' is not a date column of the {kind} table (it holds {df.schema[date]})")
    return date


def _unit_column(df: pl.DataFrame, unit: str | None) -> str | None:
    """The given unit column, else the first of org_id, jurisdiction, unit with a value."""
    if unit is not None:
        if unit not in df.columns:
            raise ParameterError(f"unit column '{unit}' is not in the table; columns: {', '.join(df.columns)}")
        return unit
    found = present_fields(df, tuple(c for c in UNIT_COLUMNS if c in df.columns))
    return next((c for c in UNIT_COLUMNS if c in found), None)


def _effective_freq(df: pl.DataFrame, date: str, freq: str) -> tuple[str, list[str]]:
    """`freq`, or year (with a note) when some dates are known only to the year: a month or
    quarter would invent their month."""
    if freq not in FREQ_EVERY:
        raise ParameterError(f"freq must be one of {', '.join(FREQ_EVERY)}, not '{freq}'")
    prec = f"{date}_precision"
    if freq == "year" or prec not in df.columns:
        return freq, []
    coarse = df.filter(pl.col(prec).cast(pl.String) == "year").height
    if coarse == 0:
        return freq, []
    return "year", [f"{coarse} of {df.height} records have {date} to the year only; profiled by year, "
                    f"not by {freq} (a {freq} would invent their month)"]


# ---------------------------------------------------------------- periods

def _period_table(df: pl.DataFrame, date: str, freq: str, columns: list[str], unit: str | None) -> pl.DataFrame:
    """One row per period with records: rows, completeness (struct), unknown share, labels, units."""
    aggs = [pl.len().alias("rows"),
            pl.struct(_has_value(df, c).mean().alias(c) for c in columns).alias("completeness")]
    if "case_type" in df.columns:
        t = pl.col("case_type")
        aggs += [(t.is_null() | (t == UNKNOWN)).mean().alias("unknown_share"),
                 t.filter(t.is_not_null() & (t != UNKNOWN)).unique().sort().alias("labels")]
    if unit is not None:
        aggs.append(pl.col(unit).filter(_has_value(df, unit)).n_unique().alias("units"))
    dated = df.filter(pl.col(date).is_not_null())
    return dated.group_by(period_expr(date, freq).alias("period")).agg(aggs).sort("period")


def _periods(table: pl.DataFrame) -> list[PeriodProfile]:
    """Period rows (not records) as PeriodProfile."""
    return [PeriodProfile(period=r["period"], rows=r["rows"], completeness=dict(r["completeness"]),
                          unknown_share=r.get("unknown_share"), labels=r.get("labels"), units=r.get("units"))
            for r in table.iter_rows(named=True)]


def label_changes(periods: list[PeriodProfile]) -> list[LabelChange]:
    """Periods whose labels in use differ from the previous period with records."""
    out = []
    for prev, cur in zip(periods, periods[1:]):
        before, after = set(prev.labels or []), set(cur.labels or [])
        if before != after:
            out.append(LabelChange(cur.period, sorted(after - before), sorted(before - after)))
    return out


def span_and_gaps(periods: list[dt.date], freq: str) -> tuple[int, list[dt.date]]:
    """Periods in the span from the first to the last period given, and those without records."""
    if not periods:
        return 0, []
    span = pl.date_range(min(periods), max(periods), FREQ_EVERY[freq], eager=True).to_list()
    seen = set(periods)
    return len(span), [p for p in span if p not in seen]


# ---------------------------------------------------------------- profile

def _whole_source(df: pl.DataFrame, columns: list[str], geo: list[str]) -> dict[str, Any]:
    """Shares over all accepted records: completeness per column, geography, specific type."""
    exprs = [_has_value(df, c).mean().alias(c) for c in columns]
    geo_any = pl.any_horizontal(_has_value(df, c) for c in geo) if geo else pl.lit(False)
    exprs.append(geo_any.mean().alias("__geo"))
    if "case_type" in df.columns:
        exprs.append(pl.col("case_type").is_in(NOT_SPECIFIC).not_().fill_null(False).mean().alias("__specific"))
    row = df.select(exprs).row(0, named=True)
    return {k: (0.0 if v is None else float(v)) for k, v in row.items()}


def _scores(profile: SourceProfile, whole: dict[str, Any], canonical: list[str], span: int) -> dict[str, float | None]:
    has_type = "__specific" in whole
    n_periods = len(profile.periods)
    return {
        "freshness": score_freshness(profile.freshness_days),
        "definitional_consistency": score_definitional_consistency(len(profile.label_changes), n_periods, has_type),
        "completeness": score_completeness(sum(whole[c] for c in canonical) / len(canonical), profile.rejected_share),
        "taxonomic_applicability": score_taxonomic_applicability(whole.get("__specific")),
        "temporal_coverage": score_temporal_coverage(n_periods, span, profile.freq),
        "geographic_coverage": score_geographic_coverage(whole["__geo"]),
        "demographic_coverage": score_demographic_coverage([whole[c] for c in profile.demographic_fields]),
    }


def _notes(df: pl.DataFrame, date: str, unit: str | None, days: int | None) -> list[str]:
    notes = []
    undated = df.filter(pl.col(date).is_null()).height
    if undated:
        notes.append(f"{undated} of {df.height} accepted records have no {date}: counted in the whole-source "
                     "shares, not in any period")
    if unit is None:
        notes.append("no unit column with values (org_id, jurisdiction): units not counted")
    if days is not None and days < 0:
        notes.append(f"the latest {date} is {-days} days after as_of: freshness counts it as 0 days")
    if "case_type" not in df.columns:
        notes.append("no case_type: definitional consistency and taxonomic applicability do not apply")
    return notes


def profile_source(loaded: LoadResult, *, as_of: dt.date | str, freq: str = "year", date: str | None = None,
                   unit: str | None = None) -> SourceProfile:
    """The quality profile of one loaded source, by period of `date` (default: the table's
    main date) at `freq` (year, quarter, month; year when the dates are coarser)."""
    as_of_date = parse_date(as_of, "as_of")
    df, summary = loaded.accepted, loaded.summary
    date = _date_column(df, loaded.kind, date)
    unit = _unit_column(df, unit)
    freq, notes = _effective_freq(df, date, freq)
    # person fields a source does not have are not its gaps (they serve person resolution only)
    canonical = [c for c in spec_for(loaded.kind).columns if c in df.columns
                 and not (c in PERSON_FIELDS + TOKEN_FIELDS and df.get_column(c).null_count() == df.height)]
    demo, geo = present_fields(df, DEMOGRAPHIC_FIELDS), present_fields(df, GEOGRAPHIC_FIELDS)
    periods = _periods(_period_table(df, date, freq, canonical + demo, unit))
    span, gaps = span_and_gaps([p.period for p in periods], freq)
    last = df.get_column(date).max()
    days = None if last is None else (as_of_date - last).days
    rows = int(summary.get("rows", df.height + loaded.rejected.height))
    whole = _whole_source(df, canonical + demo, geo)
    profile = SourceProfile(
        source=loaded.source, kind=loaded.kind, rows=rows, accepted=df.height, rejected=loaded.rejected.height,
        skipped=int(summary.get("skipped", 0)), as_of=as_of_date, date_column=date, freq=freq,
        first_period=periods[0].period if periods else None, last_period=periods[-1].period if periods else None,
        gaps=gaps, freshness_days=days, unit_column=unit,
        units=None if unit is None else df.select(pl.col(unit).filter(_has_value(df, unit)).n_unique()).item(),
        rejected_share=loaded.rejected.height / rows if rows else 0.0,
        completeness={c: whole[c] for c in canonical + demo}, demographic_fields=demo, geographic_fields=geo,
        label_changes=label_changes(periods) if "case_type" in df.columns else [], periods=periods, scores={},
        notes=notes + _notes(df, date, unit, days))
    profile.scores = _scores(profile, whole, canonical, span)
    return profile


# ---------------------------------------------------------------- documents and frames

def quality_document(profiles: list[SourceProfile]) -> dict[str, Any]:
    """The JSON document of several profiles, with the criteria and their formulas."""
    return {"criteria": list(CRITERIA), "formulas": dict(FORMULAS), "sources": [p.to_json() for p in profiles]}


def profile_frames(doc: dict[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(source, criterion, score) for a heat map, and (source, period, measure, value) with
    measures completeness (mean over the canonical columns) and unknown_share, for charts
    over time. Aggregates only: no ids, no values of person fields."""
    scores = pl.DataFrame(
        [{"source": s["source"], "criterion": c, "score": s["scores"].get(c)} for s in doc["sources"] for c in CRITERIA],
        schema={"source": pl.String, "criterion": pl.String, "score": pl.Float64})
    rows: list[dict[str, Any]] = []
    for s in doc["sources"]:
        canonical = set(spec_for(s["kind"]).columns)
        for p in s["periods"]:
            shares = [v for k, v in p["completeness"].items() if k in canonical and v is not None]
            period = dt.date.fromisoformat(p["period"])
            rows.append({"source": s["source"], "period": period, "measure": "completeness",
                         "value": sum(shares) / len(shares) if shares else None})
            if p.get("unknown_share") is not None:
                rows.append({"source": s["source"], "period": period, "measure": "unknown_share",
                             "value": p["unknown_share"]})
    series = pl.DataFrame(rows, schema={"source": pl.String, "period": pl.Date, "measure": pl.String,
                                        "value": pl.Float64})
    return scores, series.sort("source", "period", "measure")
