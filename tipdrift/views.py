"""View models: what the notebooks, reports and CLI tables show, computed from a finished
run (a `DriftRun`, a `LinkResult`), with small counts already suppressed. Nothing here
runs detection or linkage, and nothing here writes HTML (`tipdrift.pages` does).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import polars as pl

from tipdrift.errors import ParameterError
from tipdrift.privacy import is_small, suppress_counts, suppress_rows, suppressed_label
from tipdrift.shift import Shift

SHIFT_COLUMNS = {"unit": pl.String, "kind": pl.String, "period": pl.String, "interval": pl.String,
                 "shape": pl.String, "stability": pl.Float64, "p_adj": pl.Float64, "effect": pl.String,
                 "status": pl.String, "events": pl.String}


def shape_label(s: Shift) -> str:
    """'step', 'gradual 2019-03..2020-02', with ' (date may be earlier or later)' when the
    location sits at a minimum-segment boundary."""
    label = s.shape if s.shape == "step" or s.transition is None else \
        f"gradual {s.transition[0].isoformat()[:7]}..{s.transition[1].isoformat()[:7]}"
    return label + (" (date may be earlier or later: at the min_size boundary)" if s.location_constrained else "")


def shifts_frame(shifts: list[Shift], freq: str = "month") -> pl.DataFrame:
    """One row per shift, for printing and notebooks (periods named as `freq` names them)."""
    label = partial(period_label, freq=freq)
    rows = [{"unit": s.unit, "kind": s.kind, "period": label(s.period),
             "interval": f"{label(s.ci[0])}..{label(s.ci[1])}", "shape": shape_label(s),
             "stability": s.stability, "p_adj": None if s.p_adjusted is None else round(s.p_adjusted, 6),
             "effect": s.effect_label(), "status": s.status, "events": ", ".join(a.event_id for a in s.annotations)}
            for s in shifts]
    return pl.DataFrame(rows, schema=SHIFT_COLUMNS)


def period_label(d: dt.date, freq: str) -> str:
    """A period as its frequency names it: 2014 (year), 2014Q2 (quarter), 2014-05 (month)."""
    if freq == "year":
        return str(d.year)
    return f"{d.year}Q{(d.month - 1) // 3 + 1}" if freq == "quarter" else d.isoformat()[:7]


def in_range(col: str, start: str, end: str) -> pl.Expr:
    """Rows whose `col` lies in [start, end] (either bound may be blank)."""
    e = pl.lit(True)
    if start:
        e = e & (pl.col(col) >= dt.date.fromisoformat(start))
    if end:
        e = e & (pl.col(col) <= dt.date.fromisoformat(end))
    return e


@dataclass
class DriftView:
    """One unit's mix, its shifts with context, and (pooled) the decomposition."""

    unit: str
    params: dict[str, Any]
    long: pl.DataFrame  # the run's count series, cropped to start/end
    categories: list[str]
    shifts: list[Shift]
    events: list[dict[str, Any]]
    provenance: dict[str, Any]
    context_without_shift: list[dict[str, Any]] = field(default_factory=list)
    series_status: str = "analysed"
    series_reason: str | None = None
    data: list[tuple[str, str]] = field(default_factory=list)
    quality: dict[str, Any] | None = None  # quality document of the analysed table
    small_moved: list[set[str]] = field(default_factory=list)  # per shift: moved categories with 1-4 cases

    def effect_text(self, i: int) -> str:
        """A shift's effect, naming no share of a category with 1 to small_cell - 1 cases
        before or after it (its change is left out and the omission said)."""
        s, hidden = self.shifts[i], (self.small_moved[i] if i < len(self.small_moved) else set())
        if s.kind != "mix" or not hidden:
            return s.effect_label(categories=3)
        shown = [m for m in s.effect.moved if m.category not in hidden][:3]
        ci = f" [{s.effect.ci[0]:.2f}-{s.effect.ci[1]:.2f}]" if s.effect.ci else ""
        moved = ", ".join(f"{m.category} {m.change:+.2f}" for m in shown)
        return (f"TVD {s.effect.tvd:.2f}{ci}" + (f" ({moved})" if moved else "")
                + f"; {', '.join(sorted(hidden))}: fewer than {self.params['small_cell']} cases, not shown")

    def data_table(self) -> pl.DataFrame:
        """What the report holds: rows read, accepted and rejected by reason, the as-of date
        and how it was set, the periods analysed, and the units not tested and why."""
        return pl.DataFrame(self.data, schema=["what", "value"], orient="row")

    def shifts_table(self) -> pl.DataFrame:
        rows = []
        label = partial(period_label, freq=self.params.get("freq", "month"))
        for i, s in enumerate(self.shifts):
            rows.append({
                "kind": s.kind, "first period": label(s.period),
                "95% interval": f"{label(s.ci[0])} to {label(s.ci[1])}",
                "shape": shape_label(s),
                "stability": "" if s.stability is None else f"{s.stability:.0%}",
                "p (BH-adjusted)": f"{s.p_adjusted:.3f}",
                "effect": self.effect_text(i),
                "status": s.status + (f" ({s.status_reason})" if s.status_reason else ""),
                "recorded context": "; ".join(f"{a.event_id} {a.kind} {a.date.isoformat()} ({a.description})"
                                              for a in s.annotations) or "none recorded",
                "chance rate": "" if s.chance_rate is None else f"{s.chance_rate:.0%}",
            })
            if s.unit_shifts is not None:
                rows[-1]["unit shifts nearby"] = "; ".join(
                    f"{u.unit} {u.period.isoformat()[:7]} {u.status}" + (f" ({', '.join(u.events)})" if u.events else "")
                    for u in s.unit_shifts) or "none"
        if rows:
            return pl.DataFrame(rows)
        if self.series_status != "analysed":
            return pl.DataFrame({"shifts": [f"not tested: {self.series_status} ({self.series_reason})"]})
        return pl.DataFrame({"shifts": ["no significant shift"]})

    def counts_table(self) -> pl.DataFrame:
        """Cases per year and category for this unit, small cells suppressed (and, where a
        year has a lone small cell, its smallest other cell withheld: the year's total is on
        the volume chart)."""
        d = (self.long.filter(pl.col("unit") == self.unit)
             .with_columns(pl.col("period").dt.year().alias("year"))
             .group_by("year", "category").agg(pl.col("count").sum()).sort("year", "category")
             .pivot(on="category", index="year", values="count").sort("year").fill_null(0))
        cats = [c for c in self.categories if c in d.columns]  # fixed order: same inputs, same page
        d = d.select("year", *cats)
        return suppress_rows(d.with_columns(pl.col("year").cast(pl.String)), cats, self.params["small_cell"])


def _unit_events(run: Any, unit: str, shifts: list[Shift], start: str, end: str) -> list[dict[str, Any]]:
    """Context events of the unit, of `*`, and of units a pooled shift names as entering or leaving."""
    if run.events is None:
        return []
    units = {unit, "*"}
    for s in shifts:
        if s.decomposition is not None:
            units |= set(s.decomposition.entering_units) | set(s.decomposition.leaving_units)
    ev = run.events.filter(pl.col("unit").is_in(list(units)), in_range("date", start, end))
    return [{**e, "date": e["date"].isoformat()}
            for e in ev.select("event_id", "unit", "date", "kind", "description").to_dicts()]


def _data_rows(run: Any) -> list[tuple[str, str]]:
    """The data section of a drift report (aggregates only)."""
    from pathlib import Path

    rows = []
    for i in run.inputs:
        reasons = ", ".join(f"{k} {v}" for k, v in i.get("reasons", {}).items()) or "none"
        skipped = f" (+{i['skipped']} skipped: not records of this table)" if i.get("skipped") else ""
        rows += [(f"{Path(i['path']).name}: rows read", f"{i['rows']}{skipped}"),
                 ("accepted", str(i.get("accepted", ""))), ("rejected, by reason", f"{i.get('rejected', '')} ({reasons})")]
        rows += [("mapping", note) for note in i.get("mapping_notes", [])]
    rows.append(("as of", f"{run.as_of.isoformat() if run.as_of else ''} ({run.as_of_source})"))
    s = run.series
    rows.append(("periods analysed", f"{s.first_period.isoformat()} to {s.last_period.isoformat()} by {s.freq}"
                 + (f"; from {s.censored_from.isoformat()} excluded (reporting lag)" if s.censored_from else "")))
    if getattr(run, "unit_unknown", 0):
        rows.append((f"rows with no known {run.table.unit}", f"{run.unit_unknown} (blank or declared unknown: "
                                                              "counted in no unit)"))
    for kind, dep in getattr(run, "dependence", {}).items():
        rows.append((f"serial dependence ({kind})", dep.summary(kind)))
    untested = [f"{x.unit}: {x.status} ({x.reason})" for x in run.statuses if x.status != "analysed"]
    rows.append(("units not tested", "; ".join(untested) or "none"))
    if run.context is not None:
        rej = len(run.context.get("rejected", []))
        rows.append(("context events rejected", str(rej)))
    return rows


def small_moved(long: pl.DataFrame, s: Shift, threshold: int, categories: list[str] | None = None) -> set[str]:
    """Categories among a shift's moved ones (or `categories`) with 1 to threshold - 1
    cases before or after it."""
    if s.kind != "mix":
        return set()
    t1, t2 = s.transition or (s.period, s.period)
    names = [m.category for m in s.effect.moved] if categories is None else categories
    unit = long.filter(pl.col("unit") == s.unit, pl.col("category").is_in(names))
    before = unit.filter((pl.col("period") >= s.segment[0]) & (pl.col("period") < t1))
    after = unit.filter((pl.col("period") > t2 if s.shape == "gradual" else pl.col("period") >= t2)
                        & (pl.col("period") <= s.segment[1]))
    small = set()
    for part in (before, after):
        counts = part.group_by("category").agg(pl.col("count").sum())
        small |= {c for c, n in counts.iter_rows() if 0 < n < threshold}
    return small


def _within(d: dt.date, start: str, end: str) -> bool:
    return (not start or d >= dt.date.fromisoformat(start)) and (not end or d <= dt.date.fromisoformat(end))


def drift_view(run: Any, params: dict[str, Any]) -> DriftView:
    """What the drift report shows for `params["unit"]`, from a finished `DriftRun`."""
    units = run.units()
    if params["unit"] not in units:
        raise ParameterError(f"unknown unit '{params['unit']}'; units in the data: {', '.join(units)}")
    shifts = [s for s in run.shifts if s.unit == params["unit"] and _within(s.period, params["start"], params["end"])]
    long = run.series.long.filter(in_range("period", params["start"], params["end"]))
    prov = {"tipdrift_version": run.version, "as_of": run.as_of.isoformat() if run.as_of else None,
            "inputs": run.inputs, "parameters": {k: v for k, v in params.items() if k != "run_dir"}}
    cws = [e for e in run.without_shift if e["unit"] in (params["unit"], "*")]
    st = next(x for x in run.statuses if x.unit == params["unit"])
    data = _data_rows(run)
    if params["start"] or params["end"]:
        data.append(("start / end", f"{params['start'] or 'first period'} to {params['end'] or 'last period'}: the charts, "
                     "tables and shifts shown are cropped to it; detection used the whole history, so a shift's "
                     "p-value and interval are those of the full series"))
    small = [small_moved(run.series.long, s, params["small_cell"]) for s in shifts]
    return DriftView(unit=params["unit"], params=params, long=long, categories=run.series.categories, shifts=shifts,
                     small_moved=small,
                     events=_unit_events(run, params["unit"], shifts, params["start"], params["end"]),
                     provenance=prov, context_without_shift=cws, series_status=st.status, series_reason=st.reason,
                     data=data, quality=run.quality)


@dataclass
class TrajectoryView:
    """Linkage, attrition and re-arrest for one jurisdiction (or all), suppressed."""

    params: dict[str, Any]
    link_summary: dict[str, Any]
    attrition: Any
    rearrest: Any
    provenance: dict[str, Any]

    def link_table(self) -> pl.DataFrame:
        """Link counts of this report's trajectories (the unit's own, not all jurisdictions');
        small counts suppressed, and no rate from a row with a suppressed part."""
        t = self.params["small_cell"]
        rows = []
        for name, c in self.link_summary["links"].items():
            parts = (c["key"], c["person_window"], c["none"])
            rate = "" if any(is_small(x, t) for x in parts) or not sum(parts) else f"{(c['key'] + c['person_window']) / sum(parts):.1%}"
            rows.append({"link": name.replace("_", " -> "), "by key": c["key"], "by person and date window":
                         c["person_window"], "unlinked": c["none"], "link rate": rate})
        return suppress_counts(pl.DataFrame(rows), ["by key", "by person and date window", "unlinked"], t)

    def _shown(self, r: dict[str, Any], k: str) -> str:
        """One estimate with its interval, or why it is not shown (cohort or event count small)."""
        t, v = self.params["small_cell"], r[k]
        if is_small(r.get("events", {}).get(k), t):
            return f"suppressed (<{t} people)"
        return "" if v["estimate"] is None else f"{v['estimate']:.1%} ({v['ci_low']:.1%}-{v['ci_high']:.1%})"

    def chart_cohorts(self) -> pl.DataFrame:
        """The cohort rows for charts: cohorts below the threshold dropped, and each estimate
        from 1 to threshold - 1 people set to null (a chart shows no more than the tables)."""
        t = self.params["small_cell"]
        c = self.attrition.cohorts_.filter(pl.col("entries") >= t)
        if "events" not in c.columns:
            return c
        null = {"estimate": None, "ci_low": None, "ci_high": None}
        return c.with_columns(pl.when(pl.col("events").struct.field(k).is_between(1, t - 1)).then(pl.lit(null))
                              .otherwise(pl.col(k)).alias(k) for k in ("prosecuted", "convicted", "dismissed", "acquitted"))

    def chart_curves(self, cohort: int, stage: str = "arrest") -> pl.DataFrame:
        """Cumulative-incidence curves of one arrest (or prosecution) cohort, without the
        outcomes (or the whole cohort) below the threshold."""
        t = self.params["small_cell"]
        row = self.attrition.cohorts_.filter((pl.col("entry_stage") == stage) & (pl.col("group") == "all")
                                             & (pl.col("cohort") == cohort)).to_dicts()
        if not row or row[0]["entries"] < t:
            return self.attrition.curves_.head(0)
        keep = [o for o in ("convicted", "dismissed", "acquitted") if not is_small(row[0]["events"][o], t)]
        return self.attrition.curves_.filter((pl.col("entry_stage") == stage) & (pl.col("cohort") == cohort)
                                             & pl.col("outcome").is_in(keep))

    def attrition_table(self, group: str = "all") -> pl.DataFrame:
        """Estimates in percent with intervals for one group; cohorts below the threshold hidden."""
        t = self.params["small_cell"]
        rows = []
        for r in self.attrition.cohorts_.filter(pl.col("group") == group).iter_rows(named=True):
            small = r["entries"] < t
            row = {"entry": r["entry_stage"], "cohort": str(r["cohort"]), "group": r["group"],
                   "entries": suppressed_label(t) if small else str(r["entries"])}
            for k in ("prosecuted", "convicted", "dismissed", "acquitted"):
                row[k] = "" if small else self._shown(r, k)
            row["note"] = f"provisional (at {r['estimated_at_months']} months)" if r["provisional"] else ""
            rows.append(row)
        return pl.DataFrame(rows)

    def by_group_table(self, outcome: str = "convicted") -> pl.DataFrame:
        """One outcome's share by arrest cohort (rows) and group (columns); small cells hidden."""
        t = self.params["small_cell"]
        c = self.attrition.cohorts_.filter((pl.col("entry_stage") == "arrest") & (pl.col("group") != "all"))
        if c.height == 0:
            return pl.DataFrame({"note": ["no grouping requested"]})
        small = (pl.col("entries") < t) | pl.col("events").struct.field(outcome).is_between(1, t - 1)
        c = c.with_columns(pl.when(small).then(pl.lit(suppressed_label(t) + " people"))
                           .otherwise((pl.col(outcome).struct.field("estimate") * 100).round(1).cast(pl.String) + "%")
                           .alias("v"), pl.col("cohort").cast(pl.String))
        return c.pivot(on="group", index="cohort", values="v").sort("cohort")

    def rearrest_table(self) -> pl.DataFrame:
        """Re-arrest by sentence band, small bands without figures; or, when the arrests
        table holds no later arrest for anyone, that statement instead of zeros."""
        if not self.rearrest.observed_:
            return pl.DataFrame({"re-arrest": ["no re-arrest observed: the arrests table may not cover later arrests"]})
        t = self.params["small_cell"]
        d = self.rearrest.table_
        small = (pl.col("convicted") < t) | pl.col("rearrested_by_as_of").is_between(1, t - 1)
        d = d.with_columns(*(pl.when(small).then(None).otherwise(pl.col(c)).alias(c)
                             for c in ("estimate", "ci_low", "ci_high")))
        return suppress_counts(d, ["convicted", "rearrested_by_as_of"], t)


def trajectory_view(linked: Any, params: dict[str, Any], inputs: list[dict[str, Any]]) -> TrajectoryView:
    """Attrition and re-arrest for the trajectory report, from a finished `LinkResult`
    (no person ids leave: the view holds aggregates only)."""
    from tipdrift.attrition import AttritionFitter, RearrestFitter

    traj = linked.trajectories
    units = sorted(traj.get_column("jurisdiction").drop_nulls().unique().to_list())
    if params["unit"] and params["unit"] not in units:
        raise ParameterError(f"unknown jurisdiction '{params['unit']}'; jurisdictions in the data: {', '.join(units)}")
    if params["unit"]:
        traj = traj.filter(pl.col("jurisdiction") == params["unit"])
    traj = traj.filter(in_range("arrest_date", params["start"], params["end"]) | pl.col("arrest_date").is_null())
    as_of = dt.date.fromisoformat(params["as_of"]) if params["as_of"] else None
    fit = AttritionFitter(horizon_months=params["horizon_months"], by=params["by"] or None, as_of=as_of).fit(traj)
    re = RearrestFitter(horizon_months=params["horizon_months"], as_of=as_of).fit(traj)
    from tipdrift.provenance import version

    prov = {"tipdrift_version": version(), "as_of": fit.as_of_.isoformat(), "inputs": inputs,
            "parameters": {k: v for k, v in params.items() if k != "linked_dir"}}
    return TrajectoryView(params=params, link_summary={**linked.summary, "links": link_counts(traj)}, attrition=fit,
                          rearrest=re, provenance=prov)


def link_counts(traj: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Key, window and unlinked counts of the trajectories shown (a unit report's own):
    prosecutions by how they reached an arrest, dispositions by how they reached a prosecution."""
    pros = traj.filter(pl.col("prosecution_id").is_not_null())
    disp = traj.filter(pl.col("disposition_id").is_not_null())
    out = {}
    for name, frame, col in (("arrest_prosecution", pros, "prosecution_link"),
                             ("prosecution_disposition", disp, "disposition_link")):
        vc = dict(frame.get_column(col).cast(pl.String).value_counts().iter_rows())
        out[name] = {"key": int(vc.get("key", 0)), "person_window": int(vc.get("person_window", 0)),
                     "none": int(vc.get("none", 0))}
    return out


def quality_frames(doc: dict[str, Any], threshold: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """From a quality document: (source, criterion, score) for the heat map, and (source,
    period, measure, value) with the completeness of the canonical fields and the share with
    no recorded type per period, periods of fewer than `threshold` rows left out (a share
    of two records says who they are). Sources are named by file name only."""
    from pathlib import Path

    scores, series = [], []
    for s in doc["sources"]:
        name = f"{Path(s['source'].split(';')[0]).name} ({s['kind']})"
        scores += [{"source": name, "criterion": c, "score": s["scores"].get(c)} for c in doc["criteria"]]
        canonical = [c for c in s["completeness"] if c not in s["demographic_fields"]]
        for p in s["periods"]:
            if p["rows"] < threshold:
                continue
            shares = [p["completeness"][c] for c in canonical if c in p["completeness"]]
            series.append({"source": name, "period": p["period"], "measure": "fields complete",
                           "value": sum(shares) / len(shares) if shares else None})
            share = p.get("unknown_share")
            unknown = None if share is None else round(share * p["rows"])
            if unknown is not None and not is_small(unknown, threshold) and not is_small(p["rows"] - unknown, threshold):
                series.append({"source": name, "period": p["period"], "measure": "type not recorded", "value": share})
    return (pl.DataFrame(scores, schema={"source": pl.String, "criterion": pl.String, "score": pl.Float64}),
            pl.DataFrame(series, schema={"source": pl.String, "period": pl.String, "measure": pl.String,
                                         "value": pl.Float64}))
