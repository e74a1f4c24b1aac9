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
