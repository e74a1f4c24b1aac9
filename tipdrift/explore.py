"""Explorers for notebooks: defendant-case trajectories and case-mix shifts.

Each explorer has two layers. `figures`/`settings`/`detail` compute what is shown: polars
frames and Altair charts, suppressed exactly as in reports (tested without a browser).
`widget()` wires ipywidgets controls to them and draws through JupyterLab's own Vega
renderer, so nothing is fetched. A click on a chart mark cannot reach Python offline
(Altair's JupyterChart loads vega-embed from a CDN), so a shift is picked from a list.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.attrition import OUTCOMES, AttritionFitter, RearrestFitter, latest_date
from tipdrift.privacy import DEFAULT_THRESHOLD, SECONDARY, suppress_rows, suppressed_label
from tipdrift.views import DriftView, TrajectoryView, drift_view, link_counts, period_label

ALL = "(all)"
STAGES = ("arrest", "prosecution")
PENALTY_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class TrajectoryFilter:
    """Which trajectories to look at; None means all."""

    cohort: int | None = None  # year of the entry (arrest, or filing for prosecution entries)
    jurisdiction: str | None = None
    case_type: str | None = None
    entry_stage: str = "arrest"

    def label(self) -> str:
        parts = [f"{self.entry_stage} cohort {self.cohort if self.cohort is not None else 'all years'}"]
        parts += [f"{k} {v}" for k, v in (("jurisdiction", self.jurisdiction), ("case type", self.case_type)) if v]
        return ", ".join(parts)


def _flow_counts(g: pl.DataFrame, stage: str, as_of: dt.date) -> dict[str, int]:
    """People entering and reaching each step by as-of (observed counts, not estimates)."""
    filed = pl.col("filing_date").is_not_null() & (pl.col("filing_date") <= as_of)
    done = pl.col("disposition_date").is_not_null() & (pl.col("disposition_date") <= as_of)
    row = g.select(pl.len().alias("entries"), filed.sum().alias("prosecuted"),
                   *[(done & (pl.col("outcome") == o)).sum().alias(o) for o in OUTCOMES],
                   (filed & ~done).sum().alias("awaiting outcome")).row(0, named=True)
    row["not prosecuted (yet)"] = row["entries"] - row["prosecuted"]
    if stage == "prosecution":  # every entry is a filing
        row.pop("not prosecuted (yet)")
    return {k: int(v) for k, v in row.items()}


def flow_table(counts: dict[str, int], threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """The flow from entry to outcome as text, suppressed: counts of 1 to threshold - 1
    shown as "<t"; within each level (prosecuted or not; the outcomes of the prosecuted)
    a lone small cell takes its smallest sibling with it ("s"), and when the prosecuted
    count is withheld its outcomes are too (they would add up to it). Shares of entries
    only from shown counts."""
    n = counts["entries"]
    if n < threshold:
        return pl.DataFrame({"step": ["entries"], "people": [suppressed_label(threshold) if n else "0"],
                             "share of entries": [""]})
    top = [k for k in ("prosecuted", "not prosecuted (yet)") if k in counts]
    low = [*OUTCOMES, "awaiting outcome"]
    shown = {"entries": str(n)}
    shown |= suppress_rows(pl.DataFrame([{k: counts[k] for k in top}]), top, threshold).row(0, named=True) \
        if len(top) > 1 else {"prosecuted": str(counts["prosecuted"])}
    under = suppress_rows(pl.DataFrame([{k: counts[k] for k in low}]), low, threshold).row(0, named=True)
    if not shown["prosecuted"].isdigit():
        under = {k: (v if v == "0" or v.startswith("<") else SECONDARY) for k, v in under.items()}
    shown |= under
    steps = ["entries", *top, *low]
    share = [f"{counts[k] / n:.1%}" if shown[k].isdigit() else "" for k in steps]
    return pl.DataFrame({"step": steps, "people": [shown[k] for k in steps], "share of entries": share})


@dataclass
class TrajectoryFigures:
    """What the trajectory explorer shows for one filter (aggregates only, suppressed)."""

    filter: TrajectoryFilter
    flow: pl.DataFrame
    view: TrajectoryView | None  # attrition and re-arrest of the filtered trajectories (None: no entries)
    curve_cohort: int | None  # the cohort whose outcome curves are drawn

    def attrition(self) -> pl.DataFrame:
        """Cumulative-incidence estimates within the horizon, with 95% intervals."""
        if self.view is None:
            return pl.DataFrame({"note": [f"no {self.filter.entry_stage} entries in this selection"]})
        t = self.view.attrition_table()
        t = t.filter(pl.col("entry") == self.filter.entry_stage)
        if self.filter.cohort is None:
            return _withhold_sibling_cohort(t, self.view.params["small_cell"])
        # an outcome the flow withholds (a sibling of a small cell) is withheld here too:
        # its estimate times the cohort size would give the small cell back by subtraction
        return t.filter(pl.col("cohort") == str(self.filter.cohort)).with_columns(
            pl.lit("withheld (s)").alias(k) for k in self._withheld() if k in t.columns)

    def _withheld(self) -> list[str]:
        """Steps the flow withholds as siblings of a small cell ("s")."""
        return [r["step"] for r in self.flow.iter_rows(named=True) if r["people"] == SECONDARY]

    def charts(self) -> list[Any]:
        """Flow bars, attrition by cohort, outcome curves of one cohort, time to each step."""
        from tipdrift.charts import cif_chart, duration_chart, flow_chart, funnel_chart

        if self.view is None:
            return [flow_chart(self.flow, self.filter.label())]
        t, stage = self.view.params["small_cell"], self.filter.entry_stage
        cohorts, gone = self.view.chart_cohorts(), self._withheld()
        if self.filter.cohort is not None and gone:  # what the tables withhold, the charts do not draw
            null = {"estimate": None, "ci_low": None, "ci_high": None}
            chosen = pl.col("cohort") == self.filter.cohort
            cohorts = cohorts.with_columns(pl.when(chosen).then(pl.lit(null)).otherwise(pl.col(k)).alias(k)
                                           for k in gone if k in cohorts.columns)
        out = [flow_chart(self.flow, self.filter.label()), funnel_chart(cohorts, threshold=t, stage=stage)]
        if self.curve_cohort is not None:
            curves = self.view.chart_curves(self.curve_cohort, stage).filter(~pl.col("outcome").is_in(gone))
            out.append(cif_chart(curves, self.curve_cohort, stage=stage))
        out.append(duration_chart(self.view.attrition.durations_, threshold=t, stage=stage))
        return out

    def table(self) -> pl.DataFrame:
        """The selected group's figures as one long table (for export): the flow and the
        estimates, each row naming the filter it belongs to."""
        f = self.filter
        keys = {"entry stage": f.entry_stage, "cohort": "all" if f.cohort is None else str(f.cohort),
                "jurisdiction": f.jurisdiction or "all", "case type": f.case_type or "all"}
        rows = [{**keys, "figure": f"people: {r['step']}", "value": r["people"]} for r in self.flow.iter_rows(named=True)]
        rows += [{**keys, "figure": f"share of entries: {r['step']}", "value": r["share of entries"]}
                 for r in self.flow.iter_rows(named=True) if r["share of entries"]]
        for r in (self.attrition() if self.view is not None else pl.DataFrame()).iter_rows(named=True):
            rows += [{**keys, "figure": f"{k} within {self.view.params['horizon_months']} months, cohort {r['cohort']}",
                      "value": r[k]} for k in ("prosecuted", *OUTCOMES) if r[k]]
        return pl.DataFrame(rows, schema={k: pl.String for k in [*keys, "figure", "value"]})


def _withhold_sibling_cohort(t: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """All cohorts beside the flow's total: one cohort of 1 to threshold - 1 entries would be
    the total less the others, so the smallest other cohort is withheld with it ("s")."""
    small = t.get_column("entries").str.starts_with("<")
    if int(small.sum()) != 1:
        return t
    sizes = t.get_column("entries").cast(pl.Int64, strict=False)
    pick = int(sizes.arg_min())
    figures = [c for c in ("entries", "prosecuted", *OUTCOMES) if c in t.columns]
    return t.with_columns(pl.when(pl.int_range(pl.len()) == pick).then(pl.lit(SECONDARY)).otherwise(pl.col(c)).alias(c)
                          for c in figures)


class TrajectoryExplorer:
    """Filter linked trajectories by cohort, jurisdiction, case type and entry stage and
    see the flow, the competing-outcome curves and the time to each step together.

    `trajectories`: `LinkResult.trajectories`. Person identifiers stay inside: what is
    shown and exported are suppressed aggregates.
    """

    def __init__(self, trajectories: pl.DataFrame, horizon_months: float = 24, as_of: dt.date | None = None,
                 small_cell: int = DEFAULT_THRESHOLD) -> None:
        self.trajectories = trajectories
        self.horizon_months = horizon_months
        self.as_of = as_of
        self.small_cell = small_cell
        self.last_update_ms: float | None = None
        # one extract date for every selection: a subset's own latest date would censor its
        # open cases too early
        self.as_of_ = as_of or latest_date(trajectories)

    def options(self) -> dict[str, list[Any]]:
        """The values each filter can take (cohorts by arrest year)."""
        t = self.trajectories
        years = t.select(pl.coalesce("arrest_date", "filing_date").dt.year().unique().drop_nulls().sort()).to_series()
        return {"cohort": years.to_list(),
                "jurisdiction": sorted(t.get_column("jurisdiction").drop_nulls().unique().to_list()),
                "case_type": sorted(str(c) for c in t.get_column("case_type").drop_nulls().unique().to_list()),
                "entry_stage": list(STAGES)}

    def _subset(self, f: TrajectoryFilter) -> pl.DataFrame:
        t = self.trajectories
        if f.jurisdiction:
            t = t.filter(pl.col("jurisdiction") == f.jurisdiction)
        if f.case_type:
            t = t.filter(pl.col("case_type").cast(pl.String) == f.case_type)
        return t

    def figures(self, f: TrajectoryFilter) -> TrajectoryFigures:
        """Everything the explorer shows for `f`, suppressed."""
        from tipdrift.errors import ParameterError

        if f.entry_stage not in STAGES:
            raise ParameterError(f"entry_stage must be one of {', '.join(STAGES)}, not '{f.entry_stage}'")
        t = self._subset(f)
        if t.filter(pl.col("entry_stage") == f.entry_stage).height == 0:
            return TrajectoryFigures(filter=f, flow=flow_table({"entries": 0}, self.small_cell), view=None,
                                     curve_cohort=None)
        fit = AttritionFitter(horizon_months=self.horizon_months, as_of=self.as_of_).fit(t)
        params = {"small_cell": self.small_cell, "horizon_months": self.horizon_months}
        view = TrajectoryView(params=params, link_summary={"links": link_counts(t)}, attrition=fit,
                              rearrest=RearrestFitter(horizon_months=self.horizon_months, as_of=fit.as_of_).fit(t),
                              provenance={})
        entry = "arrest_date" if f.entry_stage == "arrest" else "filing_date"
        g = t.filter(pl.col("entry_stage") == f.entry_stage, pl.col(entry) <= fit.as_of_)
        if f.cohort is not None:
            g = g.filter(pl.col(entry).dt.year() == f.cohort)
        return TrajectoryFigures(filter=f, flow=flow_table(_flow_counts(g, f.entry_stage, fit.as_of_), self.small_cell),
                                 view=view, curve_cohort=self._curve_cohort(fit, f))

    def _curve_cohort(self, fit: AttritionFitter, f: TrajectoryFilter) -> int | None:
        """The chosen cohort, or (all years) the latest fully observed one of the threshold's size."""
        c = fit.cohorts_.filter((pl.col("entry_stage") == f.entry_stage) & (pl.col("group") == "all")
                                & (pl.col("entries") >= self.small_cell))
        if f.cohort is not None:
            return f.cohort if f.cohort in c.get_column("cohort").to_list() else None
        full = c.filter(~pl.col("provisional"))
        return int(full.get_column("cohort").max()) if full.height else None

    def export(self, path: str | Path, f: TrajectoryFilter) -> Path:
        """Write the group's figures (`TrajectoryFigures.table`) as CSV; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figures(f).table().write_csv(path)
        return path

    def show(self) -> "_TrajectoryWidget":
        """Display dropdowns for the four filters, an export button, and below them the
        figures, redrawn in place on every change; returns the controls."""
        return _TrajectoryWidget(self)


def _choices(values: list[Any]) -> list[tuple[str, Any]]:
    return [(ALL, None)] + [(str(v), v) for v in values]


class Slots:
    """Outputs below the controls, each redrawn in place (IPython display handles, which
    JupyterLab and headless runs both update by display id: no output widget, whose
    outputs travel through the kernel again). Outside IPython the latest bundles are kept
    in `bundles` only."""

    def __init__(self, n: int) -> None:
        from IPython.display import display

        self.bundles: list[dict[str, Any]] = [{"text/plain": ""} for _ in range(n)]
        self.handles = [display(b, raw=True, display_id=True) for b in self.bundles]

    def set(self, i: int, bundle: dict[str, Any]) -> None:
        self.bundles[i] = bundle
        if self.handles[i] is not None:
            self.handles[i].update(bundle, raw=True)

    def html(self, i: int, text: str) -> None:
        self.set(i, {"text/html": text, "text/plain": _plain(text)})

    def chart(self, i: int, chart: Any) -> None:
        """A chart for JupyterLab's own Vega renderer (no static copy: redrawn on every change)."""
        from tipdrift.charts import vega_spec

        self.set(i, {"application/vnd.vega.v5+json": vega_spec(chart.to_dict(validate=False)),
                     "text/plain": "(a chart: open the notebook in JupyterLab)"})


def _plain(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", text)


def _status(ms: float) -> str:
    return f"<span class='tipdrift-status'>updated in {ms:.0f} ms</span>"


class _TrajectoryWidget:
    """The ipywidgets wiring of a TrajectoryExplorer: controls, then five slots (tables,
    flow, attrition by cohort, outcome curves, time to each step)."""

    def __init__(self, ex: TrajectoryExplorer) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.ex = ex
        opts = ex.options()
        self.controls = {
            "cohort": w.Dropdown(options=_choices(opts["cohort"]), description="cohort"),
            "jurisdiction": w.Dropdown(options=_choices(opts["jurisdiction"]), description="jurisdiction"),
            "case_type": w.Dropdown(options=_choices(opts["case_type"]), description="case type"),
            "entry_stage": w.Dropdown(options=list(STAGES), description="entry stage"),
        }
        self.path = w.Text(value="trajectory_figures.csv", description="export to")
        self.button = w.Button(description="Export table", icon="download")
        self.status = w.HTML()
        for c in self.controls.values():
            c.observe(lambda _: self.update(), names="value")
        self.button.on_click(lambda _: self.export())
        self.box = w.VBox([w.HBox(list(self.controls.values())[:2]), w.HBox(list(self.controls.values())[2:]),
                           w.HBox([self.path, self.button]), self.status])
        self.box.add_class("tipdrift-trajectory-explorer")
        display(self.box)
        self.slots = Slots(5)
        self.cache: dict[TrajectoryFilter, list[dict[str, Any]]] = {}
        self.update()

    def filter(self) -> TrajectoryFilter:
        return TrajectoryFilter(**{k: c.value for k, c in self.controls.items()})

    def update(self) -> None:
        start = time.perf_counter()
        if self.filter() in self.cache:  # a selection seen before: its outputs as they were
            for i, bundle in enumerate(self.cache[self.filter()]):
                self.slots.set(i, bundle)
        else:
            self._draw()
            self.cache[self.filter()] = list(self.slots.bundles)
        self.ex.last_update_ms = (time.perf_counter() - start) * 1000
        self.status.value = _status(self.ex.last_update_ms)

    def _draw(self) -> None:
        from tipdrift.pages import table_html

        fig = self.ex.figures(self.filter())
        self.slots.html(0, f"<h4 class='tipdrift-selection'>{fig.filter.label()}</h4>" + table_html(fig.flow)
                        + table_html(fig.attrition()))
        charts = fig.charts()
        if fig.curve_cohort is None:  # no cohort of the threshold's size: say so where the curves go
            charts.insert(2, None)
        charts += [""] * (4 - len(charts))  # an empty selection: no chart of the last one stays
        for i, chart in enumerate(charts, start=1):
            if isinstance(chart, str):
                self.slots.html(i, chart)
            elif chart is None:
                self.slots.html(i, "<p>No outcome curves: no cohort of at least "
                                   f"{self.ex.small_cell} people fully observed in this selection.</p>")
            else:
                self.slots.chart(i, chart)

    def export(self) -> None:
        path = self.ex.export(self.path.value, self.filter())
        self.status.value = f"<span class='tipdrift-status'>wrote {path}</span>"


@dataclass
class SettingsFigures:
    """What the search proposes for one unit at one penalty factor and minimum segment,
    and which of the run's shifts it still proposes (proposals are not tested)."""

    unit: str
    factor: float
    min_size: int
    proposed: list[dt.date]
    persists: pl.DataFrame  # one row per reported mix shift
    grid: pl.DataFrame  # for each setting: proposals, reported shifts still proposed


@dataclass
class ShiftDetail:
    """One shift: shares before and after (small categories hidden), context, chance rate."""

    summary: pl.DataFrame
    shares: pl.DataFrame
    annotations: pl.DataFrame


class ShiftExplorer:
    """One unit's mix, volume and completeness with its shifts and context; how the shifts
    fare at other penalties and minimum segments; a shift's before/after shares,
    annotations and chance rate.

    `run`: a finished `DriftRun`; `params`: resolved drift report parameters
    (`tipdrift.params.resolve_report_params("drift", ...)`).
    """

    def __init__(self, run: Any, params: dict[str, Any], factors: tuple[float, ...] = PENALTY_FACTORS) -> None:
        self.run = run
        self.params = params
        self.factors = factors
        self.last_update_ms: float | None = None
        self._views: dict[str, DriftView] = {}
        self._works: dict[str, Any] = {}
        self._matrices: dict[str, Any] | None = None

    def units(self) -> list[str]:
        """Units with the ones that have shifts first (most shifts first), then the rest;
        the pooled series last."""
        from tipdrift.series import POOLED

        n = {u: sum(s.unit == u for s in self.run.shifts) for u in self.run.units()}
        return sorted(n, key=lambda u: (u == POOLED, -n[u], u))

    def view(self, unit: str) -> DriftView:
        if unit not in self._views:
            self._views[unit] = drift_view(self.run, {**self.params, "unit": unit})
        return self._views[unit]

    def charts(self, unit: str, settings: SettingsFigures | None = None) -> list[Any]:
        """The linked volume and mix chart (proposals at `settings` as dashed rules), and
        recording completeness when some types were not recorded."""
        from tipdrift.charts import completeness_chart, linked_chart

        v, t = self.view(unit), self.params["small_cell"]
        marks = None
        if settings is not None and (settings.factor, settings.min_size) != (1.0, self.run.params.segment):
            marks = (settings.proposed, f"proposed at penalty x{settings.factor:g}, minimum segment {settings.min_size}")
        out = [linked_chart(v.long, unit, v.shifts, v.events, threshold=t, marks=marks)]
        if "unknown" in v.categories:
            out.append(completeness_chart(v.long, unit, threshold=t, shifts=v.shifts))
        return out

    def _work(self, unit: str) -> Any:
        """The unit's mix search as the run made it (cached: its cost matrices serve every setting)."""
        from tipdrift.detect import search_series

        if unit not in self._works:
            if self._matrices is None:
                self._matrices = self.run.series.matrices()
            self._works[unit] = search_series(unit, "mix", self._matrices[unit][1], self.run.params)
        return self._works[unit]

    def _proposed(self, unit: str, factor: float, m: int) -> list[int]:
        """What the search proposes at penalty x factor and minimum segment m, as the
        shifts' `stability` counts it (the run's noise; where the search proposes nothing, the
        best single change of the series)."""
        from tipdrift.detect import propose

        w = self._work(unit)
        return propose(w.model, w.noise, w.penalty * factor, w.length_penalty, m, w.matrix(m))

    def settings(self, unit: str, factor: float = 1.0, min_size: int | None = None) -> SettingsFigures:
        """Proposals at one setting, whether each reported mix shift is among them (a
        proposal within max(1, m0 // 2) periods of its date or transition, m0 the run's
        minimum segment, as `stability` counts), and the same count over the grid of
        factors and minimum segments m0 - 2 to m0 + 2."""
        from tipdrift.errors import ParameterError

        m0 = self.run.params.segment
        m = min_size or m0
        if m < 2:
            raise ParameterError(f"min_size must be at least 2 periods, not {m}")
        shifts = [s for s in self.view(unit).shifts if s.kind == "mix"]
        status = next(s for s in self.run.statuses if s.unit == unit)
        if status.status != "analysed":
            empty = pl.DataFrame(schema={"shift": pl.String, "persists": pl.Boolean})
            return SettingsFigures(unit, factor, m, [], empty, pl.DataFrame())
        periods = self._matrices[unit][0] if self._matrices else self.run.series.matrices()[unit][0]
        cands = self._proposed(unit, factor, m)
        label = lambda s: period_label(s.period, self.run.params.freq)  # noqa: E731
        persists = pl.DataFrame({"shift": [label(s) for s in shifts],
                                 "persists": [_hit(s, cands, m0) for s in shifts]}, schema={"shift": pl.String, "persists": pl.Boolean})
        grid = [{"penalty x": f, "minimum segment": mm, "proposals": len(c := self._proposed(unit, f, mm)),
                 "reported shifts still proposed": sum(_hit(s, c, m0) for s in shifts)}
                for mm in range(max(2, m0 - 2), m0 + 3) for f in self.factors]
        return SettingsFigures(unit, factor, m, [periods[c] for c in cands], persists, pl.DataFrame(grid))

    def detail(self, unit: str, i: int) -> ShiftDetail:
        """Shift i of the unit (in `view(unit).shifts` order)."""
        v = self.view(unit)
        s, t = v.shifts[i], self.params["small_cell"]
        summary = v.shifts_table()[i].select("kind", "first period", "95% interval", "shape", "stability",
                                             "p (BH-adjusted)", "effect", "status", "chance rate")
        cols = {k: pl.String for k in ("category", "before", "after", "change")}
        if s.kind != "mix":  # volume: cases per period before and after (means over many periods)
            shares = pl.DataFrame([{"category": "cases per period", "before": f"{s.before['cases_per_period']:.1f}",
                                    "after": f"{s.after['cases_per_period']:.1f}", "change": s.effect_label()}],
                                  schema=cols)
            return ShiftDetail(summary=summary, shares=shares, annotations=_annotations(s))
        hidden = _small_categories(v.long, s, t)
        if len(hidden) == 1:  # a lone hidden share is 100% less the shown ones: hide the smallest other too
            rest = [c for c in s.before if c not in hidden]
            hidden |= {min(rest, key=lambda c: min(s.before.get(c, 0), s.after.get(c, 0)))} if rest else set()
        shares = pl.DataFrame([{"category": c, "before": "" if c in hidden else f"{s.before.get(c, 0):.1%}",
                                "after": "" if c in hidden else f"{s.after.get(c, 0):.1%}",
                                "change": f"withheld (fewer than {t} cases here or in a sibling)" if c in hidden else
                                f"{s.after.get(c, 0) - s.before.get(c, 0):+.1%}"}
                               for c in s.before], schema=cols)
        return ShiftDetail(summary=summary, shares=shares, annotations=_annotations(s))

    def show(self, unit: str | None = None) -> "_ShiftWidget":
        """Display a unit list, penalty and minimum-segment sliders and a shift list, with
        the figures below them redrawn in place on every change; returns the controls."""
        return _ShiftWidget(self, unit)


def _annotations(s: Any) -> pl.DataFrame:
    """The context events attached to a shift, one row each."""
    return pl.DataFrame([{"event": a.event_id, "kind": a.kind, "date": a.date.isoformat(),
                          "days from shift": a.lag_days, "description": a.description} for a in s.annotations],
                        schema={"event": pl.String, "kind": pl.String, "date": pl.String,
                                "days from shift": pl.Int64, "description": pl.String})


def _hit(s: Any, candidates: list[int], m: int) -> bool:
    """A proposal within max(1, m // 2) periods (m: the run's minimum segment) of the
    shift's date or transition."""
    lo, hi = s.transition_index or (s.index, s.index)
    margin = max(1, m // 2)
    return any(lo - margin <= c <= hi + margin for c in candidates)


def _small_categories(long: pl.DataFrame, s: Any, threshold: int) -> set[str]:
    """Categories with 1 to threshold - 1 cases before or after the shift (their shares stay hidden)."""
    from tipdrift.views import small_moved

    return small_moved(long, s, threshold, categories=list(s.before))


class _ShiftWidget:
    """The ipywidgets wiring of a ShiftExplorer: controls, then four slots (linked volume
    and mix, completeness, the settings, the picked shift)."""

    def __init__(self, ex: ShiftExplorer, unit: str | None) -> None:
        import ipywidgets as w
        from IPython.display import display

        self.ex = ex
        units = ex.units()
        m0 = ex.run.params.segment
        self.unit = w.Dropdown(options=units, value=unit or units[0], description="unit")
        self.factor = w.SelectionSlider(options=[(f"x{f:g}", f) for f in ex.factors], value=1.0, description="penalty")
        self.min_size = w.IntSlider(value=m0, min=max(2, m0 - 2), max=m0 + 2, description="min segment")
        self.shift = w.Dropdown(options=[], description="shift")
        self.status = w.HTML()
        self.unit.observe(lambda _: self.update(new_unit=True), names="value")
        for c in (self.factor, self.min_size):
            c.observe(lambda _: self.update(), names="value")
        self.shift.observe(lambda _: self.show_detail(), names="value")
        self.box = w.VBox([w.HBox([self.unit, self.factor, self.min_size]), w.HBox([self.shift, self.status])])
        self.box.add_class("tipdrift-shift-explorer")
        display(self.box)
        self.slots = Slots(4)
        self.cache: dict[tuple[str, float, int], list[dict[str, Any]]] = {}
        self.update(new_unit=True)

    def update(self, new_unit: bool = False) -> None:
        start = time.perf_counter()
        u, key = self.unit.value, (self.unit.value, self.factor.value, self.min_size.value)
        if key in self.cache:  # a setting seen before: its outputs as they were
            for i, bundle in enumerate(self.cache[key]):
                self.slots.set(i, bundle)
        else:
            self._draw(u)
            self.cache[key] = list(self.slots.bundles[:3])
        if new_unit:
            v = self.ex.view(u)
            self.shift.options = [(f"{s.kind} {period_label(s.period, self.ex.run.params.freq)}", i)
                                  for i, s in enumerate(v.shifts)]
            self.shift.value = 0 if v.shifts else None  # the first shift's detail
            self.show_detail()
        self.ex.last_update_ms = (time.perf_counter() - start) * 1000
        self.status.value = _status(self.ex.last_update_ms)

    def _draw(self, u: str) -> None:
        from tipdrift.pages import table_html

        st = self.ex.settings(u, self.factor.value, self.min_size.value)
        v = self.ex.view(u)
        charts = self.ex.charts(u, st)
        self.slots.chart(0, charts[0])
        if len(charts) > 1:
            self.slots.chart(1, charts[1])
        else:
            self.slots.html(1, "")
        note = (f"{u}: at penalty x{st.factor:g} and minimum segment {st.min_size} the search proposes "
                f"{len(st.proposed)} change(s) (dashed; proposals only, not tested). Reported shifts:")
        self.slots.html(2, f"<p class='tipdrift-settings'>{note}</p>" + table_html(st.persists) + table_html(st.grid)
                        if st.grid.height else f"<p>not tested: {v.series_status} ({v.series_reason})</p>")

    def show_detail(self) -> None:
        from tipdrift.pages import table_html

        if self.shift.value is None:
            self.slots.html(3, "<p>No shift reported for this unit.</p>")
            return
        d = self.ex.detail(self.unit.value, self.shift.value)
        self.slots.html(3, "<h4>Shift</h4>" + table_html(d.summary) + "<h4>Shares before and after</h4>"
                        + table_html(d.shares) + "<h4>Recorded context</h4>"
                        + (table_html(d.annotations) if d.annotations.height else "<p>none recorded near this shift</p>"))
