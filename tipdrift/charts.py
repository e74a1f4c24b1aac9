"""Charts for notebooks and reports (altair), aggregated in polars first.

Every chart takes small, already aggregated frames, so real data sizes never hit
altair's row limits. `to_svg` renders a chart with vl-convert to a static SVG, so a
report page needs no JavaScript and nothing from the network; `show` displays it in a
notebook inside a `div.tipdrift-chart` (the element the browser tests look for).
Small counts are suppressed before charting (see tipdrift.privacy).
"""
from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import polars as pl

from tipdrift.shift import Decomposition, Shift


def _import_altair():  # noqa: ANN202
    """Import altair without jsonschema's rfc3987_syntax checker.

    jsonschema imports rfc3987_syntax when it is installed (JupyterLab's dependencies
    bring it) and compiles a lark grammar at import: about 1.5 s, most of a report's
    start-up in every kernel. Vega-Lite specs use no IRI formats, so it is hidden while
    altair (and jsonschema) import, then put back for anything else that wants it.
    """
    if "rfc3987_syntax" in sys.modules or "jsonschema" in sys.modules:
        import altair

        return altair
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import of it raises ImportError
    try:
        import altair
    finally:
        del sys.modules["rfc3987_syntax"]
    return altair


alt = _import_altair()

from tipdrift.privacy import DEFAULT_THRESHOLD
from tipdrift.timeutil import add_months
from tipdrift.vocab import CASE_TYPES, UNKNOWN

SUPPRESSED = "suppressed (<{t} per cell)"
# One colour per case type, the same in every report and notebook (never assigned by which
# categories happen to be present); not_trafficking is a hue, not the grey of suppression.
CASE_TYPE_COLOURS: dict[str, str] = {
    "forced_labour": "#4c6ef5", "sexual_exploitation": "#f59f00", "labour_and_sexual": "#e64980",
    "forced_marriage": "#12b886", "other": "#7950f2", "not_trafficking": "#8d6e63",
    "unknown": "#495057",  # type not recorded: a dark neutral, distinct from the light grey of suppression
}
EXTRA_COLOURS = ["#15aabf", "#fab005", "#a9e34b", "#862e9c"]  # labels outside the vocabulary, in sorted order
SUPPRESSED_COLOUR = "#ced4da"
STATUS_COLOURS = {"explained": "#2b8a3e", "artifact_compatible": "#e67700", "unexplained": "#c92a2a"}


def _values(df: pl.DataFrame) -> list[dict[str, Any]]:
    out = df.with_columns([pl.col(c).cast(pl.String) for c, t in df.schema.items() if t in (pl.Date, pl.Datetime)])
    return out.to_dicts()


def period_months(long: pl.DataFrame) -> int:
    """Months per period of a count series (12 yearly, 3 quarterly, 1 monthly), from its spacing."""
    periods = long.get_column("period").unique().sort()
    if periods.len() < 2:
        return 1
    gap = int(periods.diff().dt.total_days().drop_nulls().min())
    return 12 if gap >= 365 else 3 if gap >= 90 else 1


def _with_end(shares: pl.DataFrame, months: int) -> pl.DataFrame:
    """The last period repeated at its end, so a step-after area draws the last period too."""
    if shares.height == 0:
        return shares
    last = shares.filter(pl.col("period") == pl.col("period").max())
    return pl.concat([shares, last.with_columns(pl.col("period").dt.offset_by(f"{months}mo"))])


def mix_shares(long: pl.DataFrame, unit: str, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Per period: each category's share, with cells below the threshold pooled into one
    grey "suppressed" band, so no share is computed from a small cell."""
    d = long.filter(pl.col("unit") == unit).with_columns(pl.col("count").sum().over("period").alias("total"))
    small = pl.col("count") < threshold
    # a period with one small non-zero cell pools its smallest other cell with it: the band's
    # share (or the period total less the shown cells) would otherwise give the cell back
    lone = ((pl.col("count") > 0) & small).sum().over("period") == 1
    big = pl.when(pl.col("count") >= threshold).then(pl.col("count"))
    small = small | (lone & (pl.col("count") == big.min().over("period")))
    d = d.with_columns(pl.when(small).then(pl.lit(SUPPRESSED.format(t=threshold))).otherwise(pl.col("category")).alias("category"))
    d = d.group_by("period", "category").agg(pl.col("count").sum(), pl.col("total").first())
    order = {c: i for i, c in enumerate(CASE_TYPES)}
    # the tooltip's count: the cell's own, or for the pooled band "<t each" (no sum shown)
    cases = (pl.when(pl.col("category") == SUPPRESSED.format(t=threshold)).then(pl.lit(f"<{threshold} each"))
             .otherwise(pl.col("count").cast(pl.String)))
    return (d.filter(pl.col("total") > 0)
            .with_columns((pl.col("count") / pl.col("total")).alias("share"), cases.alias("cases"),
                          pl.col("category").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("order"))
            .select("period", "category", "share", "cases", "order").sort("period", "order"))


def category_scale(present: list[str], suppressed: str) -> tuple[list[str], list[str]]:
    """Domain and colours for the categories present: each case type its fixed colour,
    other labels the extra colours in sorted order, suppressed cells grey."""
    extra = sorted(c for c in present if c not in CASE_TYPE_COLOURS and c != suppressed)
    domain = [c for c in CASE_TYPES if c in present] + extra
    palette = [CASE_TYPE_COLOURS.get(c) or EXTRA_COLOURS[extra.index(c) % len(EXTRA_COLOURS)] for c in domain]
    if suppressed in present:
        domain, palette = domain + [suppressed], palette + [SUPPRESSED_COLOUR]
    return domain, palette


def mix_chart(long: pl.DataFrame, unit: str, shifts: list[Shift] | None = None,
              events: list[dict[str, Any]] | None = None, threshold: int = DEFAULT_THRESHOLD,
              width: int = 720, height: int = 260, x_domain: alt.Parameter | None = None) -> alt.LayerChart:
    """Stacked case-type shares per period, shift dates as rules, their intervals as
    bands (coloured by status), and context events as labelled ticks. Clicking a case
    type in the legend highlights it (shift-click adds more); the wheel and a drag zoom
    and pan along time, unless `x_domain` (a brush on another chart) sets the time range."""
    months = period_months(long)
    shares = _with_end(mix_shares(long, unit, threshold), months)
    present = shares.get_column("category").unique().to_list()
    suppressed = SUPPRESSED.format(t=threshold)
    domain, palette = category_scale(present, suppressed)
    pick = alt.selection_point(fields=["category"], bind="legend", name="case_type")
    x = alt.X("period:T", title=None) if x_domain is None else alt.X("period:T", title=None,
                                                                     scale=alt.Scale(domain=x_domain))
    base = alt.Chart(alt.Data(values=_values(shares))).mark_area(interpolate="step-after", clip=True).encode(
        x=x, y=alt.Y("share:Q", stack="normalize", title="share of cases", axis=alt.Axis(format="%")),
        color=alt.Color("category:N", title="case type (click to select)", scale=alt.Scale(domain=domain, range=palette)),
        order=alt.Order("order:Q"), opacity=alt.condition(pick, alt.value(1.0), alt.value(0.2)),
        tooltip=["period:T", "category:N", alt.Tooltip("share:Q", format=".1%"), alt.Tooltip("cases:N", title="cases")],
    ).add_params(pick)
    if x_domain is None:
        base = base.add_params(zoom_x())
    layers: list[alt.Chart] = [base]
    mix = [s for s in (shifts or []) if s.unit == unit and s.kind == "mix"]
    if mix:
        layers += _shift_layers(mix, months)
    if events:
        layers += _event_layers(events, height)
    if x_domain is not None:  # every layer: Vega-Lite drops a selection domain it would have to union
        layers = [_with_x_domain(layer, x_domain) for layer in layers]
    return alt.layer(*layers).properties(width=width, height=height, title=f"Case-type mix: {unit}").resolve_scale(color="independent")


def _with_x_domain(layer: alt.Chart, domain: alt.Parameter) -> alt.Chart:
    """The layer (just built here) with its time scale's domain set by a selection, in
    place: `encode` would copy the layer with all its data."""
    layer.encoding.x.scale = alt.Scale(domain=domain)
    return layer


def _shift_layers(mix: list[Shift], months: int) -> list[alt.Chart]:
    """Each mix shift: its 95% interval as a band over whole periods (coloured by status),
    a gradual change's transition as a hatched band, and a rule at its date whose tooltip
    gives status, shape and stability."""
    def label(s: Shift) -> str:
        stab = "" if s.stability is None else f", stability {s.stability:.0%}"
        return f"shift {s.period.isoformat()[:7]} ({s.status}; {s.shape}{stab})"

    bands = pl.DataFrame([{"start": s.ci[0].isoformat(), "end": add_months(s.ci[1], months).isoformat(),
                           "period": s.period.isoformat(), "status": s.status, "label": label(s)} for s in mix])
    status_scale = alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))
    out = [alt.Chart(alt.Data(values=_values(bands))).mark_rect(opacity=0.25, clip=True).encode(
               x="start:T", x2="end:T", color=alt.Color("status:N", scale=status_scale, title="shift status"),
               tooltip=["label:N"]),
           alt.Chart(alt.Data(values=_values(bands))).mark_rule(strokeWidth=2, clip=True).encode(
               x="period:T", color=alt.Color("status:N", scale=status_scale, legend=None), tooltip=["label:N"])]
    gradual = [{"start": s.transition[0].isoformat(), "end": add_months(s.transition[1], months).isoformat(),
                "label": f"gradual change {s.transition[0].isoformat()[:7]} to {s.transition[1].isoformat()[:7]}"}
               for s in mix if s.shape == "gradual" and s.transition]
    if gradual:
        out.append(alt.Chart(alt.Data(values=gradual)).mark_rect(
            clip=True, fill="none", stroke="#212529", strokeDash=[3, 2], strokeWidth=1.5).encode(
            x="start:T", x2="end:T", tooltip=["label:N"]))
    return out


def _event_layers(events: list[dict[str, Any]], height: int) -> list[alt.Chart]:
    """Context events as ticks at the bottom with labels on three staggered rows, so
    events close in time do not print over each other."""
    ev = pl.DataFrame([{"date": e["date"], "label": f"{e['event_id']} {e['kind']}", "row": i % 3}
                       for i, e in enumerate(sorted(events, key=lambda e: e["date"]))])
    ev = ev.with_columns((height - 16 - 22 * pl.col("row")).alias("y"))
    return [alt.Chart(alt.Data(values=_values(ev))).mark_tick(color="black", thickness=2, size=14, clip=True).encode(
                x="date:T", y=alt.value(height - 6), tooltip=["label:N", "date:T"]),
            alt.Chart(alt.Data(values=_values(ev))).mark_text(align="left", dx=3, fontSize=9, clip=True).encode(
                x="date:T", y=alt.Y("y:Q", scale=None), text="label:N")]


def volume_chart(long: pl.DataFrame, unit: str, threshold: int = DEFAULT_THRESHOLD, width: int = 720,
                 shifts: list[Shift] | None = None, brush: alt.Parameter | None = None) -> alt.Chart | alt.LayerChart:
    """Cases per period; periods below the threshold are drawn as suppressed (no value,
    tooltip "<5"); volume shifts as rules at their date with their interval shaded. With
    `brush`, dragging selects a time range (for `linked_chart`) instead of zooming."""
    months = period_months(long)
    d = (long.filter(pl.col("unit") == unit).group_by("period").agg(pl.col("count").sum().alias("cases")).sort("period")
         .with_columns(pl.when((pl.col("cases") > 0) & (pl.col("cases") < threshold)).then(None)
                       .otherwise(pl.col("cases")).alias("cases"),
                       pl.col("period").dt.offset_by(f"{months}mo").alias("end")))
    d = d.with_columns(pl.col("cases").cast(pl.String).fill_null(f"<{threshold}").alias("shown"))
    bars = alt.Chart(alt.Data(values=_values(d))).mark_rect(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("period:T", title=None), x2="end:T", y=alt.Y("cases:Q", title=f"cases (<{threshold} hidden)"),
        y2=alt.datum(0), tooltip=["period:T", alt.Tooltip("shown:N", title="cases")])
    bars = bars.add_params(brush) if brush is not None else bars.add_params(zoom_x())
    vol = [s for s in (shifts or []) if s.unit == unit and s.kind == "volume"]
    if not vol:
        return bars.properties(width=width, height=120, title=f"Cases per period: {unit}")
    marks = pl.DataFrame([{"start": s.ci[0].isoformat(), "end": add_months(s.ci[1], months).isoformat(),
                           "period": s.period.isoformat(), "label": f"volume shift {s.period.isoformat()[:7]} "
                           f"({s.effect_label()})"} for s in vol])
    band = alt.Chart(alt.Data(values=_values(marks))).mark_rect(opacity=0.2, color="#868e96").encode(x="start:T",
                                                                                                     x2="end:T")
    rule = alt.Chart(alt.Data(values=_values(marks))).mark_rule(strokeWidth=2, color="#212529").encode(
        x="period:T", tooltip=["label:N"])
    return alt.layer(bars, band, rule).properties(width=width, height=120, title=f"Cases per period: {unit}")


def linked_chart(long: pl.DataFrame, unit: str, shifts: list[Shift] | None = None,
                 events: list[dict[str, Any]] | None = None, threshold: int = DEFAULT_THRESHOLD,
                 width: int = 720, marks: tuple[list[dt.date], str] | None = None) -> alt.VConcatChart:
    """Volume above mix, linked: dragging across the volume chart selects a time range and
    the mix chart below shows that range (double-click clears it). `marks`: extra dates
    drawn as dashed rules on the mix, with their tooltip text (the shift explorer's
    proposals at another setting)."""
    brush = alt.selection_interval(encodings=["x"], name="time_range")
    vol = volume_chart(long, unit, threshold, width, shifts, brush=brush)
    mix = mix_chart(long, unit, shifts, events, threshold, width, x_domain=brush)
    if marks and marks[0]:
        d = [{"period": p.isoformat(), "label": marks[1]} for p in marks[0]]
        mix = alt.layer(mix, alt.Chart(alt.Data(values=d)).mark_rule(
            strokeDash=[6, 3], strokeWidth=2, color="#212529", clip=True).encode(
            x=alt.X("period:T", scale=alt.Scale(domain=brush)), tooltip=["period:T", "label:N"]))
    return alt.vconcat(vol.properties(title=f"Cases per period: {unit} (drag to select a time range)"), mix)


def completeness_shares(long: pl.DataFrame, unit: str, threshold: int = DEFAULT_THRESHOLD) -> pl.DataFrame:
    """Per period: the share of records whose type was not recorded (`unknown`), left
    empty when either the unknown or the recorded count is below the threshold (a share
    from a small cell would reveal it)."""
    d = (long.filter(pl.col("unit") == unit)
         .group_by("period").agg(pl.col("count").filter(pl.col("category") == UNKNOWN).sum().alias("unknown"),
                                 pl.col("count").sum().alias("total")).sort("period"))
    small = (pl.col("unknown") < threshold) | ((pl.col("total") - pl.col("unknown")) < threshold)
    return d.select("period", pl.when(small | (pl.col("total") == 0)).then(None)
                    .otherwise(pl.col("unknown") / pl.col("total")).alias("unknown_share"))


def completeness_chart(long: pl.DataFrame, unit: str, threshold: int = DEFAULT_THRESHOLD, width: int = 720,
                       shifts: list[Shift] | None = None) -> alt.LayerChart:
    """Share of records with no recorded type per period (recording completeness), with
    the dates of shifts flagged as completeness changes."""
    d = completeness_shares(long, unit, threshold)
    line = alt.Chart(alt.Data(values=_values(d))).mark_line(point=True, color=CASE_TYPE_COLOURS[UNKNOWN]).encode(
        x=alt.X("period:T", title=None),
        y=alt.Y("unknown_share:Q", title="type not recorded", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["period:T", alt.Tooltip("unknown_share:Q", format=".1%", title="type not recorded")])
    marks = pl.DataFrame([{"period": s.period.isoformat(), "label": f"{s.period.isoformat()[:7]}: {s.status_reason}"}
                          for s in (shifts or []) if s.unit == unit and s.status_reason == "recording completeness"],
                         schema={"period": pl.String, "label": pl.String})
    rule = alt.Chart(alt.Data(values=_values(marks))).mark_rule(strokeDash=[4, 3], color="#e67700").encode(
        x="period:T", tooltip=["label:N"])
    return alt.layer(line, rule).properties(width=width, height=110, title=f"Recording completeness: {unit}")


def quality_heatmap(scores: pl.DataFrame, criteria: list[str], width: int = 560) -> alt.LayerChart:
    """Sources x the seven quality criteria, each cell its 0-10 score (blank: not applicable)."""
    d = scores.with_columns(pl.col("criterion").str.replace_all("_", " "))
    order = [c.replace("_", " ") for c in criteria]
    base = alt.Chart(alt.Data(values=_values(d))).encode(
        x=alt.X("criterion:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("source:N", title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("score:Q", scale=alt.Scale(domain=[0, 10], scheme="blues"), title="score (0-10)"),
        tooltip=["source:N", "criterion:N", alt.Tooltip("score:Q", format=".1f")])
    text = base.transform_filter("isValid(datum.score)").mark_text(fontSize=11).encode(text=alt.Text("score:Q", format=".1f"),
                                              color=alt.condition("datum.score > 6", alt.value("white"), alt.value("black")))
    return alt.layer(cells, text).properties(width=width, title="Data quality by source (0-10 per criterion)")


def quality_over_time(series: pl.DataFrame, width: int = 720) -> alt.Chart:
    """Per source and period: the share of canonical fields complete and the share with no
    recorded type (periods below the small-cell threshold left out)."""
    return alt.Chart(alt.Data(values=_values(series))).mark_line(point=True).encode(
        x=alt.X("period:T", title=None),
        y=alt.Y("value:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]), title=None),
        color=alt.Color("measure:N", title=None),
        tooltip=["source:N", "period:T", "measure:N", alt.Tooltip("value:Q", format=".1%")],
    ).properties(width=width, height=90).facet(
        row=alt.Row("source:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top"))
    ).properties(
        title="Completeness over time")


def funnel_chart(cohorts: pl.DataFrame, threshold: int = DEFAULT_THRESHOLD, width: int = 720,
                 stage: str = "arrest") -> alt.Chart:
    """Share of each arrest (or prosecution) cohort reaching each stage within the horizon
    (group "all"), with 95% intervals; cohorts below the threshold are left out,
    provisional ones marked."""
    rows = []
    for r in cohorts.filter((pl.col("entry_stage") == stage) & (pl.col("group") == "all")).iter_rows(named=True):
        if r["entries"] < threshold:
            continue
        for stage in ("prosecuted", "convicted", "dismissed", "acquitted"):
            if r[stage]["estimate"] is None:  # suppressed: from fewer than the threshold
                continue
            rows.append({"cohort": f"{r['cohort']}{' (provisional)' if r['provisional'] else ''}", "stage": stage,
                         "estimate": r[stage]["estimate"], "lo": r[stage]["ci_low"], "hi": r[stage]["ci_high"]})
    d = pl.DataFrame(rows)
    base = alt.Chart(alt.Data(values=_values(d)))
    order = ["prosecuted", "convicted", "dismissed", "acquitted"]
    bars = base.mark_bar().encode(
        x=alt.X("stage:N", sort=order, title=None), y=alt.Y("estimate:Q", axis=alt.Axis(format="%"), title="share of cohort"),
        color=alt.Color("stage:N", sort=order, legend=None), tooltip=["cohort:N", "stage:N", alt.Tooltip("estimate:Q", format=".1%")])
    err = base.mark_errorbar().encode(x=alt.X("stage:N", sort=order), y="lo:Q", y2="hi:Q")
    return alt.layer(bars, err).properties(width=70, height=160).facet(
        facet=alt.Facet("cohort:N", title=f"{stage} cohort"), columns=8).properties(title=f"Attrition by {stage} cohort")


def cif_chart(curves: pl.DataFrame, cohort: int, width: int = 520, stage: str = "arrest") -> alt.Chart:
    """Cumulative incidence of conviction, dismissal and acquittal after arrest (or filing; one cohort)."""
    d = curves.filter(pl.col("cohort") == cohort)
    since = "arrest" if stage == "arrest" else "filing"
    return alt.Chart(alt.Data(values=_values(d))).mark_line(interpolate="step-after").encode(
        x=alt.X("months:Q", title=f"months since {since}"),
        y=alt.Y("estimate:Q", axis=alt.Axis(format="%"), title="cumulative incidence"),
        color=alt.Color("outcome:N", title="outcome"), tooltip=["outcome:N", "months:Q", alt.Tooltip("estimate:Q", format=".1%")],
    ).properties(width=width, height=240, title=f"Court outcomes after {since}, cohort {cohort} (competing risks)")


def duration_chart(durations: pl.DataFrame, width: int = 520, threshold: int = DEFAULT_THRESHOLD,
                   stage: str = "arrest") -> alt.Chart:
    """Median months per cohort, with 95% intervals: arrest to filing (arrest first),
    filing before arrest (an indictment first: months it came before), filing to
    disposition; none from fewer than `threshold` people or events."""
    rows = []
    for r in durations.filter(pl.col("entry_stage") == stage).iter_rows(named=True):
        for step in ("arrest_to_filing", "filing_before_arrest", "filing_to_disposition"):
            m = r.get(step)
            if m is None:
                continue
            if m["median_months"] is not None and m["n"] >= threshold and m["events"] >= threshold:
                rows.append({"cohort": str(r["cohort"]), "step": step.replace("_", " "), "median": m["median_months"],
                             "lo": m["ci_low"], "hi": m["ci_high"]})
    d = pl.DataFrame(rows)
    base = alt.Chart(alt.Data(values=_values(d)))
    return alt.layer(
        base.mark_point(filled=True).encode(x=alt.X("cohort:O"), y=alt.Y("median:Q", title="median months"),
                                            color="step:N", tooltip=["cohort:O", "step:N", "median:Q"]),
        base.mark_errorbar().encode(x="cohort:O", y="lo:Q", y2="hi:Q", color="step:N"),
    ).properties(width=width, height=200, title="Time to each step (Kaplan-Meier medians)")


def flow_chart(flow: pl.DataFrame, title: str, width: int = 520) -> alt.Chart:
    """People at each step (`explore.flow_table`): bars only for counts shown as numbers
    (suppressed steps keep their label with the text "<5" or "s" and no bar)."""
    d = flow.with_columns(pl.col("people").cast(pl.Int64, strict=False).alias("n"))
    order = flow.get_column("step").to_list()
    base = alt.Chart(alt.Data(values=_values(d))).encode(y=alt.Y("step:N", sort=order, title=None))
    bars = base.mark_bar(color="#1971c2").encode(
        x=alt.X("n:Q", title="people (by the extract date)"),
        tooltip=["step:N", alt.Tooltip("people:N", title="people"), "share of entries:N"])
    text = base.mark_text(align="left", dx=3).encode(x=alt.X("n:Q"), text="people:N")
    text_small = base.transform_filter("datum.n == null").mark_text(align="left", x=3).encode(text="people:N")
    return alt.layer(bars, text, text_small).properties(width=width, height=22 * len(order), title=f"Flow: {title}")


def decomposition_chart(decomposition: Decomposition, width: int = 360) -> alt.Chart:
    """The four parts of a pooled share change (within, unit mix, entering, leaving)."""
    parts = ["within", "unit_mix", "entering", "leaving"]
    d = pl.DataFrame([{"part": p.replace("_", " "), "change": round(float(getattr(decomposition, p) or 0.0), 6)}
                      for p in parts])
    return alt.Chart(alt.Data(values=_values(d))).mark_bar().encode(
        x=alt.X("part:N", sort=[p.replace("_", " ") for p in parts], title=None),
        y=alt.Y("change:Q", axis=alt.Axis(format="+.1%"), title=f"change in share of {decomposition.category}"),
        color=alt.condition("datum.change > 0", alt.value("#1971c2"), alt.value("#e03131")),
        tooltip=["part:N", alt.Tooltip("change:Q", format="+.2%")],
    ).properties(width=width, height=200, title="Pooled shift: within units vs composition")


VL_VERSION = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]  # "v6.4.1" -> "6.4"


def to_svg(chart: alt.TopLevelMixin | dict[str, Any]) -> str:
    """A static SVG of the chart or of its Vega-Lite spec (vl-convert; no browser, no network)."""
    import vl_convert as vlc

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    # allowed_base_urls=[]: the charts carry their data inline; nothing may be fetched.
    return vlc.vegalite_to_svg(spec, vl_version=VL_VERSION, allowed_base_urls=[])


def chart_html(chart: alt.TopLevelMixin) -> str:
    """The chart as static SVG (what prints, and what shows without JavaScript) inside
    div.tipdrift-chart, with its Vega-Lite spec beside it: a report page that loads the
    offline Vega bundle (`pages.VEGA_ASSET`) replaces the SVG by the interactive chart
    (tooltips, zoom along time)."""
    import json

    spec = chart.to_dict()  # once: altair validates the spec on every to_dict
    text = json.dumps(spec, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return (f'<div class="tipdrift-chart"><div class="static">{to_svg(spec)}</div>'
            f'<script type="application/json" class="vega-spec">{text}</script></div>')


def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (from vl-convert: nothing is downloaded)."""
    import vl_convert as vlc

    return vlc.javascript_bundle(vl_version=VL_VERSION)


def zoom_x() -> alt.Parameter:
    """Zoom and pan along time (the x scale), by wheel and drag."""
    return alt.selection_interval(bind="scales", encodings=["x"])


def vega_spec(chart: alt.TopLevelMixin | dict[str, Any]) -> dict[str, Any]:
    """The chart compiled to a Vega spec (vl-convert, offline) for JupyterLab's own Vega
    renderer, which reads `application/vnd.vega.v5+json` (the compiled spec is Vega 6;
    the constructs the charts use are the same in 5)."""
    import vl_convert as vlc

    spec = vlc.vegalite_to_vega(chart if isinstance(chart, dict) else chart.to_dict(), vl_version=VL_VERSION)
    return {**spec, "$schema": "https://vega.github.io/schema/vega/v5.json"}


def show(chart: alt.TopLevelMixin, report: bool = False) -> None:
    """Display a chart in a notebook (works in loops too). In JupyterLab it is drawn live by
    the lab's own bundled Vega renderer (tooltips, zoom along time; nothing fetched), with
    a static SVG for other front ends. `report=True` (the report notebooks) outputs the
    static SVG with its spec as HTML (`chart_html`), which the report page brings to life
    with its folder's Vega bundle: JupyterLab prefers HTML over Vega, and nbconvert knows
    only HTML and SVG, so the two uses need the two bundles."""
    from IPython.display import display

    if report:
        display({"text/html": chart_html(chart)}, raw=True)
    else:
        spec = chart.to_dict()
        display({"application/vnd.vega.v5+json": vega_spec(spec), "image/svg+xml": to_svg(spec)}, raw=True)
