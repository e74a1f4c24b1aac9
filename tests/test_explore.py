"""The notebook explorers: the figures they show for a choice of filters or settings, their
suppression, their export, and the widgets driving them (headless: no browser needed)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from conftest import write_csv

from tipdrift.explore import ShiftExplorer, TrajectoryExplorer, TrajectoryFilter, flow_table


def _counts(**kw: int) -> dict[str, int]:
    base = {"entries": 100, "prosecuted": 60, "not prosecuted (yet)": 40, "convicted": 40, "dismissed": 12,
            "acquitted": 3, "awaiting outcome": 5}
    return {**base, **kw}


def test_flow_withholds_the_sibling_of_a_lone_small_cell() -> None:
    """3 acquittals show as "<5" and the smallest other outcome (awaiting, 5) as "s":
    otherwise 60 - 40 - 12 - 5 gives the 3 back. No share from either. Catches a flow table
    with primary suppression only, or shares computed from suppressed cells."""
    f = {r["step"]: r for r in flow_table(_counts()).iter_rows(named=True)}
    assert f["acquitted"]["people"] == "<5" and f["awaiting outcome"]["people"] == "s"
    assert f["acquitted"]["share of entries"] == "" and f["awaiting outcome"]["share of entries"] == ""
    assert f["convicted"]["people"] == "40" and f["convicted"]["share of entries"] == "40.0%"


def test_flow_withholds_the_outcomes_when_the_prosecuted_count_is_withheld() -> None:
    """2 of 100 not prosecuted: "<5", so the prosecuted count (98) is withheld as "s"; the
    outcomes then must not all show, or their sum gives 98 back. Catches suppression
    applied level by level without carrying the withheld total down."""
    c = _counts(prosecuted=98, **{"not prosecuted (yet)": 2, "convicted": 70, "dismissed": 20, "acquitted": 0,
                                 "awaiting outcome": 8})
    f = {r["step"]: r["people"] for r in flow_table(c).iter_rows(named=True)}
    assert f["not prosecuted (yet)"] == "<5" and f["prosecuted"] == "s"
    assert {f["convicted"], f["dismissed"], f["awaiting outcome"]} == {"s"} and f["acquitted"] == "0"


def test_flow_of_a_group_below_the_threshold_shows_nothing_but_that() -> None:
    """A group of 3 entries: one row "<5", no step below it. Catches steps shown for a tiny group."""
    t = flow_table(_counts(entries=3, prosecuted=2, **{"not prosecuted (yet)": 1}))
    assert t.rows() == [("entries", "<5", "")]


@pytest.fixture(scope="module")
def trajectories(synth_dir: Path) -> pl.DataFrame:
    from tipdrift.link import link_files

    return link_files(synth_dir / "arrests.parquet", synth_dir / "prosecutions.parquet",
                      synth_dir / "dispositions.parquet").trajectories


def test_trajectory_filters_select_the_matching_trajectories(trajectories: pl.DataFrame) -> None:
    """The flow's entries equal the arrests of that year, jurisdiction and case type counted
    directly, and prosecuted ones those with a filing. Catches a filter that is ignored or
    applied to the wrong date (filing year instead of arrest year)."""
    ex = TrajectoryExplorer(trajectories)
    j = ex.options()["jurisdiction"][0]
    f = TrajectoryFilter(cohort=2015, jurisdiction=j, case_type="sexual_exploitation")
    flow = dict(ex.figures(f).flow.select("step", "people").rows())
    truth = trajectories.filter(pl.col("entry_stage") == "arrest", pl.col("arrest_date").dt.year() == 2015,
                                pl.col("jurisdiction") == j, pl.col("case_type") == "sexual_exploitation")
    assert flow["entries"] == str(truth.height) and truth.height >= 5
    assert flow["prosecuted"] in (str(truth.get_column("filing_date").is_not_null().sum()), "<5", "s")
    everything = dict(ex.figures(TrajectoryFilter()).flow.select("step", "people").rows())
    assert int(everything["entries"]) > truth.height


def test_prosecution_entries_count_filings(trajectories: pl.DataFrame) -> None:
    """Entry stage "prosecution": entries are the trajectories that start at a filing in that
    year, all of them prosecuted, and the curves are drawn against months since filing.
    Catches the arrest stage's rows or labels reused for prosecution entries."""
    ex = TrajectoryExplorer(trajectories)
    year = 2016
    fig = ex.figures(TrajectoryFilter(cohort=year, entry_stage="prosecution"))
    flow = dict(fig.flow.select("step", "people").rows())
    truth = trajectories.filter(pl.col("entry_stage") == "prosecution", pl.col("filing_date").dt.year() == year).height
    assert flow["entries"] == str(truth) == flow["prosecuted"] and "not prosecuted (yet)" not in flow
    assert "months since filing" in json.dumps([c.to_dict() for c in fig.charts()])


def test_export_holds_the_group_figures_and_no_person(trajectories: pl.DataFrame, tmp_path: Path) -> None:
    """The exported CSV names its filter on every row, carries the flow and the estimates,
    and no person, arrest or case identifier. Catches exporting the filtered trajectories
    themselves (person-level rows) instead of their figures."""
    ex = TrajectoryExplorer(trajectories)
    path = ex.export(tmp_path / "out" / "group.csv", TrajectoryFilter(cohort=2014))
    table = pl.read_csv(path, infer_schema=False)
    assert set(table.get_column("cohort").to_list()) == {"2014"}
    assert "people: entries" in table.get_column("figure").to_list()
    assert any(f.startswith("convicted within 24 months") for f in table.get_column("figure").to_list())
    text = path.read_text()
    ids = [i for c in ("person_id", "arrest_id", "prosecution_id") for i in trajectories.get_column(c).head(300).drop_nulls()]
    assert ids and not any(i in text for i in ids)


def test_an_estimate_is_withheld_when_the_flow_withholds_its_count(trajectories: pl.DataFrame) -> None:
    """Where the flow shows an outcome as "s", its cumulative-incidence estimate for that
    cohort says "withheld" too (estimate times entries would give the count back).
    Catches the attrition table undoing the flow's secondary suppression."""
    ex = TrajectoryExplorer(trajectories)
    o = ex.options()
    for j in o["jurisdiction"]:
        for ct in o["case_type"]:
            fig = ex.figures(TrajectoryFilter(cohort=2014, jurisdiction=j, case_type=ct))
            withheld = [r["step"] for r in fig.flow.iter_rows(named=True) if r["people"] == "s"]
            cols = [w for w in withheld if w in ("convicted", "dismissed", "acquitted")]
            if cols:
                row = fig.attrition().row(0, named=True)
                assert all(row[c] == "withheld (s)" for c in cols), row
                return
    pytest.skip("no group with a withheld outcome in this world")


def _shift_world(path: Path) -> Path:
    """One organisation, 60 months of 20 cases: forced labour 14 -> 4 a month at month 30."""
    rows, n = [], 0
    for m in range(60):
        d = dt.date(2015 + m // 12, m % 12 + 1, 10).isoformat()
        fl = 14 if m < 30 else 4
        for t in ["forced_labour"] * fl + ["sexual_exploitation"] * (20 - fl):
            rows.append([f"C{n}", "ORG", d, t])
            n += 1
    return write_csv(path, ["case_id", "org_id", "opened_date", "case_type"], rows)


@pytest.fixture(scope="module")
def shift_explorer(tmp_path_factory: pytest.TempPathFactory) -> ShiftExplorer:
    from tipdrift.jobs import drift_run_for
    from tipdrift.params import resolve_report_params

    folder = tmp_path_factory.mktemp("shift")
    _shift_world(folder / "cases.csv")
    params = resolve_report_params("drift", {"data_dir": str(folder), "context_dir": "", "as_of": "2019-12-31"})
    return ShiftExplorer(drift_run_for(params), params)


def test_settings_find_the_reported_shift_where_it_is(shift_explorer: ShiftExplorer) -> None:
    """The run's shift at 2017-07 is proposed again at the run's own setting and dated
    there. Catches proposals mapped to the wrong periods (index vs date) or taken from
    another unit's series."""
    ex = shift_explorer
    v = ex.view("ORG")
    assert [s.period for s in v.shifts if s.kind == "mix"] == [dt.date(2017, 7, 1)]
    st = ex.settings("ORG", 1.0)
    assert st.persists.get_column("persists").to_list() == [True]
    assert st.proposed == [dt.date(2017, 7, 1)]


def test_fewer_proposals_at_higher_penalties(synth_dir: Path) -> None:
    """On the generated world's organisation with most shifts, proposals never grow as the
    penalty factor rises, and a quarter of the penalty proposes more than four times it. Catches a
    factor applied the wrong way round or not at all (the counts would rise or stay flat)."""
    from tipdrift.jobs import drift_run_for
    from tipdrift.params import resolve_report_params

    params = resolve_report_params("drift", {"data_dir": str(synth_dir), "context_dir": "", "as_of": "2024-12-31"})
    ex = ShiftExplorer(drift_run_for(params), params)
    st = ex.settings(ex.units()[0], 1.0)
    g = st.grid.filter(pl.col("minimum segment") == ex.run.params.segment).sort("penalty x")
    counts = g.get_column("proposals").to_list()
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1], counts


def test_shift_detail_gives_shares_and_withholds_small_categories(tmp_path: Path) -> None:
    """Before/after shares of a shift: the big categories with their change; a category
    with 1-4 cases on one side has no share. Catches a detail table that shows shares of
    small cells the report hides."""
    from tipdrift.jobs import drift_run_for
    from tipdrift.params import resolve_report_params

    path = _shift_world(tmp_path / "cases.csv")
    lines = path.read_text().splitlines()
    lines += [f"X{i},ORG,2018-0{i + 1}-10,forced_marriage" for i in range(3)]
    path.write_text("\n".join(lines) + "\n")
    params = resolve_report_params("drift", {"data_dir": str(tmp_path), "context_dir": "", "as_of": "2019-12-31"})
    ex = ShiftExplorer(drift_run_for(params), params)
    i = next(k for k, s in enumerate(ex.view("ORG").shifts) if s.kind == "mix")
    d = {r["category"]: r for r in ex.detail("ORG", i).shares.iter_rows(named=True)}
    assert d["forced_marriage"]["before"] == d["forced_marriage"]["after"] == ""
    # with one share hidden, 100% less the shown ones would give it back: the smallest
    # other (forced labour, 20% after) is hidden too, and sexual exploitation keeps its figures
    assert d["forced_labour"]["after"] == ""
    assert d["sexual_exploitation"]["before"] == "30.0%" and d["sexual_exploitation"]["change"].startswith("+")


def test_widgets_update_their_figures_when_a_control_changes(trajectories: pl.DataFrame,
                                                               shift_explorer: ShiftExplorer) -> None:
    """Setting the cohort dropdown redraws the tables with that cohort and the charts with
    its figures (the status line reports the update time); moving the penalty slider
    changes the settings shown. Catches controls whose observers are not wired (the
    figures stay at their first state)."""
    from tipdrift.explore import _ShiftWidget, _TrajectoryWidget

    tw = _TrajectoryWidget(TrajectoryExplorer(trajectories))
    before = json.dumps(tw.slots.bundles)
    tw.controls["cohort"].value = 2016
    assert tw.filter() == TrajectoryFilter(cohort=2016) and "updated in" in tw.status.value
    assert "arrest cohort 2016" in tw.slots.bundles[0]["text/html"] and json.dumps(tw.slots.bundles) != before
    assert "application/vnd.vega.v5+json" in tw.slots.bundles[1]
    first = json.dumps(tw.slots.bundles)
    tw.controls["jurisdiction"].value = tw.ex.options()["jurisdiction"][1]
    assert json.dumps(tw.slots.bundles) != first
    sw = _ShiftWidget(shift_explorer, "ORG")
    assert sw.shift.options and sw.shift.value == 0
    seen: list[tuple[float, int]] = []
    original = shift_explorer.settings
    shift_explorer.settings = lambda u, f, m: seen.append((f, m)) or original(u, f, m)  # type: ignore[method-assign]
    try:
        sw.factor.value = 4.0
    finally:
        del shift_explorer.settings
    assert seen == [(4.0, shift_explorer.run.params.segment)]
    assert "ORG: at penalty x4 and minimum segment" in sw.slots.bundles[2]["text/html"]
    assert "Shares before and after" in sw.slots.bundles[3]["text/html"]


def test_saving_a_tracked_notebook_drops_its_outputs_and_a_copy_keeps_them() -> None:
    """The lab's pre-save hook empties outputs, execution counts and widget state of
    notebooks/explore.ipynb, and leaves a notebook saved under another name alone.
    Catches a hook that strips everything (users lose their saved work) or nothing."""
    from tipdrift.labhooks import strip_tracked_outputs

    def model() -> dict:
        return {"type": "notebook", "content": {"metadata": {"widgets": {"state": {}}}, "cells": [
            {"cell_type": "code", "execution_count": 3, "outputs": [{"output_type": "stream", "text": "P0001"}]},
            {"cell_type": "markdown", "source": "text"}]}}

    from types import SimpleNamespace

    from conftest import REPO

    tracked, copy, from_notebooks = model(), model(), model()
    strip_tracked_outputs(tracked, "notebooks/explore.ipynb")
    strip_tracked_outputs(copy, "notebooks/my_exploration.ipynb")
    # a lab started inside notebooks/ sees the same file as "explore.ipynb"
    strip_tracked_outputs(from_notebooks, "explore.ipynb", contents_manager=SimpleNamespace(root_dir=str(REPO / "notebooks")))
    assert from_notebooks["content"]["cells"][0]["outputs"] == []
    assert tracked["content"]["cells"][0]["outputs"] == [] and tracked["content"]["cells"][0]["execution_count"] is None
    assert "widgets" not in tracked["content"]["metadata"] and tracked["content"]["cells"][1]["source"] == "text"
    assert copy == model()


def test_a_lone_small_cell_cannot_be_read_off_the_mix() -> None:
    """A period with 6, 9 and 2 cases: the 2 is pooled into the grey band with the 6 (its
    smallest sibling), so neither the band's share nor the total less the shown counts
    gives 2. Catches primary-only suppression in the mix chart's data."""
    from tipdrift.charts import mix_shares

    long = pl.DataFrame({"unit": ["U"] * 3, "period": [dt.date(2020, 1, 1)] * 3,
                         "category": ["forced_labour", "sexual_exploitation", "other"], "count": [6, 9, 2]})
    shares = {r["category"]: r for r in mix_shares(long, "U").iter_rows(named=True)}
    assert set(shares) == {"sexual_exploitation", "suppressed (<5 per cell)"}
    assert abs(shares["suppressed (<5 per cell)"]["share"] - 8 / 17) < 1e-9


def _values_in(spec: object) -> list:
    if isinstance(spec, dict):
        return ([spec["values"]] if isinstance(spec.get("values"), list) else []) + [x for v in spec.values()
                                                                                   for x in _values_in(v)]
    return [x for v in spec for x in _values_in(v)] if isinstance(spec, list) else []


def test_charts_do_not_draw_what_the_tables_withhold(trajectories: pl.DataFrame) -> None:
    """Where a cohort's flow withholds a step ("s"), the attrition-by-cohort chart has no
    estimate for it and the outcome curves leave it out. Catches charts that redraw what
    the tables withhold (a tooltip of 71.4% of 7 gives 5 back)."""
    ex = TrajectoryExplorer(trajectories)
    o = ex.options()
    for j in o["jurisdiction"]:
        for ct in o["case_type"]:
            fig = ex.figures(TrajectoryFilter(cohort=2012, jurisdiction=j, case_type=ct))
            gone = fig._withheld()
            if not gone:
                continue
            funnel, *rest = fig.charts()[1:]
            rows = [v for vs in _values_in(funnel.to_dict()) for v in vs if str(v.get("cohort", "")).startswith("2012")]
            assert rows and not {v["stage"] for v in rows} & set(gone)
            curves = [v for c in rest for vs in _values_in(c.to_dict()) for v in vs if "outcome" in v]
            assert not {v["outcome"] for v in curves} & set(gone)
            return
    pytest.skip("no group with a withheld step in this world")


def test_the_settings_grid_agrees_with_the_shifts_stability(synth_dir: Path) -> None:
    """For each reported step, the share of the four settings `stability` uses (penalty
    x0.5 and x2, minimum segment -1 and +1) at which the explorer says it persists equals
    its stability. Catches an explorer that re-searches with other noise or other rules
    than the column it is there to make visible."""
    from tipdrift.detect import STABILITY_GRID
    from tipdrift.jobs import drift_run_for
    from tipdrift.params import resolve_report_params

    params = resolve_report_params("drift", {"data_dir": str(synth_dir), "context_dir": "", "as_of": "2024-12-31"})
    ex = ShiftExplorer(drift_run_for(params), params)
    m0, checked = ex.run.params.segment, 0
    for unit in ex.units()[:4]:
        hits = [ex.settings(unit, f, m0 + d).persists.get_column("persists").to_list() for f, d in STABILITY_GRID]
        for i, s in enumerate(x for x in ex.view(unit).shifts if x.kind == "mix"):
            if s.shape == "step":
                assert sum(h[i] for h in hits) / len(hits) == pytest.approx(s.stability), (unit, s.period)
                checked += 1
    assert checked >= 3


def test_all_cohorts_withhold_a_sibling_of_a_lone_small_cohort() -> None:
    """Cohorts 7, 3 and 20 beside a flow total of 30: the 3 shows as "<5" and the 7 is
    withheld ("s") with its estimates, or 30 - 7 - 20 gives the 3 back. Catches a
    per-cohort table that only suppresses the small cohort itself."""
    from tipdrift.explore import _withhold_sibling_cohort

    t = pl.DataFrame({"entry": ["arrest"] * 3, "cohort": ["2010", "2011", "2012"], "entries": ["7", "<5", "20"],
                      "prosecuted": ["50%", "", "40%"], "convicted": ["30%", "", "20%"]})
    out = _withhold_sibling_cohort(t, 5)
    assert out.row(0) == ("arrest", "2010", "s", "s", "s") and out.row(2) == t.row(2)
    assert _withhold_sibling_cohort(t.with_columns(pl.lit("9").alias("entries")), 5).equals(t.with_columns(pl.lit("9").alias("entries")))


def test_returning_to_a_selection_redraws_it_as_it_was(trajectories: pl.DataFrame) -> None:
    """Back to an earlier cohort, the explorer shows exactly the outputs it drew for it
    (from its cache), and another cohort still gets its own. Catches a cache keyed on the
    wrong thing (every selection showing the first one's figures)."""
    from tipdrift.explore import _TrajectoryWidget

    tw = _TrajectoryWidget(TrajectoryExplorer(trajectories))
    tw.controls["cohort"].value = 2015
    first = json.dumps(tw.slots.bundles)
    tw.controls["cohort"].value = 2016
    assert json.dumps(tw.slots.bundles) != first and "arrest cohort 2016" in tw.slots.bundles[0]["text/html"]
    tw.controls["cohort"].value = 2015
    assert json.dumps(tw.slots.bundles) == first
