"""What the notebooks and reports show, computed in the package so notebook cells stay thin.

`drift_view` and `trajectory_view` validate their parameters first (one clear message for
an unknown unit or a bad date range), run the package, and return small frames with
small counts already suppressed. `table_html` and `provenance_html` render them.
"""
from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.privacy import suppress_counts, suppressed_label


def table_html(df: pl.DataFrame, max_rows: int = 200) -> str:
    """A plain HTML table (no dtype row, no index), values escaped."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        body.append("<tr>" + "".join(f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>")
    more = f"<p>{df.height - max_rows} more rows not shown.</p>" if df.height > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


PATH_PARAMS = ("data_dir", "context_dir", "shifts_path", "trajectories_path")


def provenance_html(prov: dict[str, Any]) -> str:
    """Version, as-of date, each input's rows and sha256, and the parameters. Paths show only
    their last part: the hashes identify the inputs, and a full path can carry a user's name."""
    rows = [("tipdrift version", prov["tipdrift_version"]), ("as of", prov.get("as_of") or "")]
    rows += [(f"input {Path(i['path']).name}", f"{i['rows']} rows, sha256 {i['sha256']}") for i in prov["inputs"]]
    shown = {k: (Path(v).name if k in PATH_PARAMS and v else v) for k, v in prov["parameters"].items()}
    rows += [("parameters", ", ".join(f"{k}={v}" for k, v in shown.items()))]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="provenance">{cells}</table>'


def _input(path: Path) -> dict[str, Any]:
    from tipdrift.drift import sha256_of

    n = pl.scan_parquet(path).select(pl.len()).collect().item() if path.suffix == ".parquet" else \
        pl.scan_csv(path).select(pl.len()).collect().item()
    return {"path": str(path), "sha256": sha256_of(path), "rows": n}


def _in_range(col: str, start: str, end: str) -> pl.Expr:
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
    doc: dict[str, Any]
    series: Any
    shifts: list[dict[str, Any]]
    events: list[dict[str, Any]]
    provenance: dict[str, Any]
    context_without_shift: list[dict[str, Any]] = field(default_factory=list)

    def shifts_table(self) -> pl.DataFrame:
        rows = []
        for s in self.shifts:
            eff = s["effect"]
            rows.append({
                "kind": s["kind"], "first period": s["period"][:7], "95% interval": f"{s['ci'][0][:7]} to {s['ci'][1][:7]}",
                "p (BH-adjusted)": f"{s['p_adjusted']:.3f}",
                "effect": (f"TVD {eff['tvd']:.2f}: " + ", ".join(f"{m['category']} {m['change']:+.2f}" for m in eff["moved"])
                           if s["kind"] == "mix" else f"cases per period x{eff['ratio']:.2f}"),
                "status": s["status"],
                "recorded context": "; ".join(f"{a['event_id']} {a['kind']} {a['date']} ({a['description']})"
                                              for a in s["annotations"]) or "none recorded",
                "chance rate": "" if s.get("chance_rate") is None else f"{s['chance_rate']:.0%}",
            })
            if "unit_shifts" in s:
                rows[-1]["unit shifts nearby"] = "; ".join(
                    f"{u['unit']} {u['period'][:7]} {u['status']}" + (f" ({', '.join(u['events'])})" if u["events"] else "")
                    for u in s["unit_shifts"]) or "none"
        return pl.DataFrame(rows) if rows else pl.DataFrame({"shifts": ["no significant shift"]})

    def counts_table(self) -> pl.DataFrame:
        """Cases per year and category for this unit, small cells suppressed."""
        d = (self.series.long.filter(pl.col("unit") == self.unit)
             .with_columns(pl.col("period").dt.year().alias("year"))
             .group_by("year", "category").agg(pl.col("count").sum()).sort("year", "category")
             .pivot(on="category", index="year", values="count").sort("year").fill_null(0))
        cats = [c for c in self.series.categories if c in d.columns]  # fixed order: same inputs, same page
        d = d.select("year", *cats)
        return suppress_counts(d.with_columns(pl.col("year").cast(pl.String)), cats, self.params["small_cell"])


def drift_view(params: dict[str, Any]) -> DriftView:
    """Validate, detect (or read shifts.json), and gather what the drift report shows."""
    from tipdrift.load import load_table
    from tipdrift.report import resolve_params, validate_drift_params
    from tipdrift.review import load_shifts
    from tipdrift.series import build_series

    p = resolve_params("drift", params)
    table = Path(p["data_dir"]) / p["table"]
    if p["shifts_path"]:
        doc = load_shifts(p["shifts_path"])
    else:
        from tipdrift.drift import run_drift  # detection (statsmodels, ruptures) only when no shifts.json is given

        doc, _ = run_drift(table, pooled=True, context=p["context_dir"] or None, freq=p["freq"], penalty=p["penalty"],
                           min_size=p["min_size"], alpha=p["alpha"], n_boot=p["n_boot"], seed=p["seed"],
                           as_of=p["as_of"] or None)
    units = [s["unit"] for s in doc["series"]]
    validate_drift_params(p, units)
    pr = doc["parameters"]
    cases = load_table(pr["kind"], table, as_of=pr["as_of"]).accepted
    series = build_series(cases, unit=pr["unit"], date=pr["date"], category=pr["category"], freq=pr["freq"],
                          as_of=dt.date.fromisoformat(pr["as_of"]), reporting_lag=pr["reporting_lag"], pooled=True)
    series.long = series.long.filter(_in_range("period", p["start"], p["end"]))
    shifts = [s for s in doc["shifts"] if s["unit"] == p["unit"]]
    ev_units = {p["unit"], "*"}
    for s in shifts:
        dec = s.get("decomposition") or {}
        ev_units |= set(dec.get("entering_units", [])) | set(dec.get("leaving_units", []))
    events = []
    if p["context_dir"]:
        from tipdrift.context import load_context

        ev = load_context(p["context_dir"]).events.filter(pl.col("unit").is_in(list(ev_units)))
        ev = ev.filter(_in_range("date", p["start"], p["end"]))
        events = [{**e, "date": e["date"].isoformat()} for e in ev.select("event_id", "unit", "date", "kind", "description").to_dicts()]
    prov = {"tipdrift_version": doc["tipdrift_version"], "as_of": pr["as_of"], "inputs": doc["inputs"],
            "parameters": {k: v for k, v in p.items() if k not in ("shifts_path",)}}
    cws = [e for e in doc.get("context_without_shift", []) if e["unit"] in (p["unit"], "*")]
    return DriftView(unit=p["unit"], params=p, doc=doc, series=series, shifts=shifts, events=events, provenance=prov,
                     context_without_shift=cws)


@dataclass
class TrajectoryView:
    """Linkage, attrition and re-arrest for one jurisdiction (or all), suppressed."""

    params: dict[str, Any]
    link_summary: dict[str, Any]
    attrition: Any
    rearrest: Any
    provenance: dict[str, Any]

    def link_table(self) -> pl.DataFrame:
        t = self.params["small_cell"]
        rows = [{"link": name.replace("_", " -> "), "by key": c["key"], "by person and date window": c["person_window"],
                 "unlinked": c["none"], "link rate": f"{c['link_rate']:.1%}" if c["link_rate"] is not None else ""}
                for name, c in self.link_summary["links"].items()]
        return suppress_counts(pl.DataFrame(rows), ["by key", "by person and date window", "unlinked"], t)

    def attrition_table(self, group: str = "all") -> pl.DataFrame:
        """Estimates in percent with intervals for one group; cohorts below the threshold hidden."""
        t = self.params["small_cell"]
        rows = []
        for r in self.attrition.cohorts_.filter(pl.col("group") == group).iter_rows(named=True):
            small = r["entries"] < t
            row = {"entry": r["entry_stage"], "cohort": str(r["cohort"]), "group": r["group"],
                   "entries": suppressed_label(t) if small else str(r["entries"])}
            for k in ("prosecuted", "convicted", "dismissed", "acquitted"):
                v = r[k]
                row[k] = "" if small or v["estimate"] is None else \
                    f"{v['estimate']:.1%} ({v['ci_low']:.1%}-{v['ci_high']:.1%})"
            row["note"] = f"provisional (at {r['estimated_at_months']} months)" if r["provisional"] else ""
            rows.append(row)
        return pl.DataFrame(rows)

    def by_group_table(self, outcome: str = "convicted") -> pl.DataFrame:
        """One outcome's share by arrest cohort (rows) and group (columns); small cells hidden."""
        t = self.params["small_cell"]
        c = self.attrition.cohorts_.filter((pl.col("entry_stage") == "arrest") & (pl.col("group") != "all"))
        if c.height == 0:
            return pl.DataFrame({"note": ["no grouping requested"]})
        c = c.with_columns(pl.when(pl.col("entries") < t).then(pl.lit(suppressed_label(t) + " cases"))
                           .otherwise((pl.col(outcome).struct.field("estimate") * 100).round(1).cast(pl.String) + "%")
                           .alias("v"), pl.col("cohort").cast(pl.String))
        return c.pivot(on="group", index="cohort", values="v").sort("cohort")

    def rearrest_table(self) -> pl.DataFrame:
        t = self.params["small_cell"]
        d = self.rearrest.table_
        d = d.with_columns(pl.when(pl.col("convicted") < t).then(None).otherwise(pl.col("estimate")).alias("estimate"))
        return suppress_counts(d, ["convicted", "rearrested"], t)


def trajectory_view(params: dict[str, Any]) -> TrajectoryView:
    """Validate, link, and compute attrition for the trajectory report (no person ids leave)."""
    from tipdrift.attrition import AttritionFitter, RearrestFitter
    from tipdrift.load import find_table
    from tipdrift.link import link_files
    from tipdrift.report import resolve_params, validate_trajectory_params

    p = resolve_params("trajectories", params)
    data = Path(p["data_dir"])
    paths = {k: find_table(data, k) for k in ("arrests", "prosecutions", "dispositions")}
    as_of = p["as_of"] or None
    if p["trajectories_path"]:  # linked once for many pages (run_all_units)
        import json

        traj = pl.read_parquet(p["trajectories_path"])
        link_summary = json.loads((Path(p["trajectories_path"]).parent / "summary.json").read_text())
    else:
        res = link_files(paths["arrests"], paths["prosecutions"], paths["dispositions"],
                         as_of=as_of or dt.date.today().isoformat())
        traj, link_summary = res.trajectories, res.summary
    units = sorted(traj.get_column("jurisdiction").drop_nulls().unique().to_list())
    validate_trajectory_params(p, units)
    if p["unit"]:
        traj = traj.filter(pl.col("jurisdiction") == p["unit"])
    traj = traj.filter(_in_range("arrest_date", p["start"], p["end"]) | pl.col("arrest_date").is_null())
    as_of_date = dt.date.fromisoformat(as_of) if as_of else None
    fit = AttritionFitter(horizon_months=p["horizon_months"], by=p["by"] or None, as_of=as_of_date).fit(traj)
    re = RearrestFitter(horizon_months=p["horizon_months"], as_of=as_of_date).fit(traj)
    prov = {"tipdrift_version": _version(), "as_of": fit.as_of_.isoformat(),
            "inputs": [_input(Path(x)) for x in paths.values()], "parameters": p}
    prov["parameters"] = {k: v for k, v in p.items() if k != "trajectories_path"}
    return TrajectoryView(params=p, link_summary=link_summary, attrition=fit, rearrest=re, provenance=prov)


def _version() -> str:
    from tipdrift import __version__

    return __version__
