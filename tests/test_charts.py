"""Charts render to static SVG from aggregated frames (no browser, no network)."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from tipdrift.charts import decomposition_chart, funnel_chart, mix_chart, to_svg, volume_chart


def test_mix_and_volume_charts_render(synth_dir: Path) -> None:
    from tipdrift.drift import run_drift
    run = run_drift(synth_dir / "cases.parquet", pooled=True, context=synth_dir / "context_log", volume=False)
    series = run.series
    unit = next(s.unit for s in run.shifts if s.unit != "(pooled)")
    events = [{"event_id": "E1", "kind": "funding", "date": "2018-03-01"}]
    svg = to_svg(mix_chart(series.long, unit, run.shifts, events))
    assert svg.startswith("<svg") and "Case-type mix" in svg
    assert to_svg(volume_chart(series.long, unit)).startswith("<svg")
    pooled = next(s for s in run.shifts if s.unit == "(pooled)" and s.decomposition is not None)
    assert to_svg(decomposition_chart(pooled.decomposition)).startswith("<svg")


def test_funnel_leaves_out_small_cohorts() -> None:
    def est(x: float) -> dict:
        return {"estimate": x, "ci_low": x - 0.05, "ci_high": x + 0.05}

    cohorts = pl.DataFrame([
        {"entry_stage": "arrest", "cohort": 2015, "group": "all", "entries": 100, "prosecuted": est(0.6),
         "convicted": est(0.4), "dismissed": est(0.1), "acquitted": est(0.05), "provisional": False},
        {"entry_stage": "arrest", "cohort": 2016, "group": "all", "entries": 3, "prosecuted": est(0.6),
         "convicted": est(0.4), "dismissed": est(0.1), "acquitted": est(0.05), "provisional": False},
    ])
    spec = funnel_chart(cohorts).to_dict()
    cohorts_shown = {v["cohort"] for v in spec["data"]["values"]} if "data" in spec else set()
    if not cohorts_shown:  # faceted layer: data sits on the top level or the inner spec
        cohorts_shown = {v["cohort"] for v in spec["spec"]["layer"][0]["data"]["values"]} if "spec" in spec else set()
    assert cohorts_shown == {"2015"}
    assert to_svg(funnel_chart(cohorts)).startswith("<svg")


def test_volume_shifts_are_marked_on_the_volume_chart(synth_dir: Path) -> None:
    """A unit's volume shift appears on its volume chart as a rule at its date. Catches a
    volume chart that ignores the shifts (they were listed in the table only)."""
    from tipdrift.drift import run_drift

    run = run_drift(synth_dir / "cases.parquet", context=synth_dir / "context_log")
    vol = next((s for s in run.shifts if s.kind == "volume"), None)
    if vol is None:
        import pytest

        pytest.skip("no volume shift in this world")
    spec = volume_chart(run.series.long, vol.unit, shifts=run.shifts).to_dict()
    assert vol.period.isoformat() in str(spec) and "volume shift" in str(spec)
    assert "layer" in spec and "volume shift" not in str(volume_chart(run.series.long, vol.unit).to_dict())


def test_a_case_type_has_the_same_colour_in_every_chart() -> None:
    """The colour of a case type does not depend on which categories a unit has: two mix
    charts with different category sets give forced_marriage the same colour, and
    not_trafficking is not the suppression grey. Catches colours assigned by position."""
    import datetime as dt

    from tipdrift.charts import SUPPRESSED_COLOUR

    def spec(cats: list[str]) -> dict:
        rows = [{"unit": "U", "period": dt.date(2020, m, 1), "category": c, "count": 50}
                for m in range(1, 4) for c in cats]
        return mix_chart(pl.DataFrame(rows), "U").to_dict()

    def colour(sp: dict, cat: str) -> str:
        scale = next(layer["encoding"]["color"]["scale"] for layer in sp["layer"] if "scale" in layer["encoding"]["color"])
        return scale["range"][scale["domain"].index(cat)]

    a = spec(["forced_marriage", "not_trafficking"])
    b = spec(["forced_labour", "sexual_exploitation", "forced_marriage", "other", "not_trafficking"])
    assert colour(a, "forced_marriage") == colour(b, "forced_marriage")
    nt = colour(a, "not_trafficking")
    assert nt == colour(b, "not_trafficking") != SUPPRESSED_COLOUR
    r, g, b_ = (int(nt[i:i + 2], 16) for i in (1, 3, 5))
    assert max(r, g, b_) - min(r, g, b_) > 24  # a hue, not a grey that reads as suppression


def _walk(spec: object, key: str) -> list:
    """Every value under `key` anywhere in a spec (altair hoists data and params upwards)."""
    if isinstance(spec, dict):
        return ([spec[key]] if key in spec else []) + [x for v in spec.values() for x in _walk(v, key)]
    if isinstance(spec, list):
        return [x for v in spec for x in _walk(v, key)]
    return []


def _small_cell_series() -> pl.DataFrame:
    import datetime as dt

    rows = [{"unit": "U", "period": dt.date(2020, m, 1), "category": c, "count": n}
            for m in range(1, 7) for c, n in (("forced_labour", 40), ("sexual_exploitation", 30), ("other", 3))]
    return pl.DataFrame(rows)


def test_mix_tooltips_give_counts_but_never_a_small_one() -> None:
    """Hovering the mix gives each shown cell's count, and for the pooled small cells the
    text "<5 each", never their count (3 here). Catches a tooltip built from the raw
    counts, which would print the 3 the chart pools away."""
    from tipdrift.charts import mix_chart

    values = [v for vs in _walk(mix_chart(_small_cell_series(), "U").to_dict(), "values") for v in vs
              if isinstance(v, dict) and "cases" in v]
    small = [v for v in values if v["category"].startswith("suppressed")]
    assert small and {v["cases"] for v in small} == {"<5 each"}
    assert {v["cases"] for v in values if v["category"] == "forced_labour"} == {"40"}


def test_linked_chart_brushes_volume_into_mix_and_the_legend_selects() -> None:
    """The linked view: an interval selection on the volume chart's time axis sets the mix
    chart's time domain, and the mix legend is bound to a case-type selection that sets
    opacity. Catches two unlinked charts side by side and a legend that does nothing."""
    from tipdrift.charts import linked_chart

    spec = linked_chart(_small_cell_series(), "U").to_dict()
    params = {p["name"]: p for ps in _walk(spec, "params") for p in ps}
    assert params["time_range"]["select"] == {"type": "interval", "encodings": ["x"]}
    vol_views, mix_views = set(params["time_range"]["views"]), set(params["case_type"]["views"])
    assert vol_views and mix_views and not vol_views & mix_views  # brushed on one chart, picked on the other
    assert params["case_type"]["bind"] == "legend" and params["case_type"]["select"]["fields"] == ["category"]
    encodings = _walk(spec, "encoding")
    assert any(e.get("x", {}).get("scale", {}).get("domain") == {"param": "time_range"} for e in encodings)
    assert any(e.get("opacity", {}).get("condition", {}).get("param") == "case_type" for e in encodings)
