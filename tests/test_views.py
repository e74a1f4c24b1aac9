"""View models: what a report shows, and what it must not show."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import write_csv

from tipdrift.drift import run_drift
from tipdrift.views import drift_view


def _org_world(path: Path) -> Path:
    """One organisation, 48 months of 10 cases: forced labour 7 -> 3 a month at month 24,
    sexual exploitation the rest, and 4 forced-marriage cases after the change."""
    rows, n = [], 0
    for m in range(48):
        d = dt.date(2015 + m // 12, m % 12 + 1, 10).isoformat()
        fl = 7 if m < 24 else 3
        types = ["forced_labour"] * fl + ["sexual_exploitation"] * (10 - fl)
        if m in (30, 33, 36, 39):
            types[-1] = "forced_marriage"
        for t in types:
            rows.append([f"C{n}", "ORG", d, t])
            n += 1
    return write_csv(path, ["case_id", "org_id", "opened_date", "case_type"], rows)


def test_a_shift_names_no_share_of_a_category_with_fewer_than_five_cases(tmp_path: Path) -> None:
    """The effect shown for a shift leaves out a moved category with 1-4 cases on either
    side (4 forced-marriage cases would read 'forced_marriage +0.02') and says so; the big
    categories keep their shares. Catches effect shares from small cells in the shift table."""
    run = run_drift(_org_world(tmp_path / "cases.csv"), as_of="2018-12-31", volume=False)
    params = {"unit": "ORG", "start": "", "end": "", "small_cell": 5, "freq": "month"}
    view = drift_view(run, params)
    assert len(view.shifts) == 1
    assert "forced_marriage" in {m.category for m in view.shifts[0].effect.moved}
    text = view.effect_text(0)
    assert "forced_marriage: fewer than 5 cases, not shown" in text
    assert "forced_marriage +" not in text and "forced_labour -0.40" in text, text
    assert "forced_marriage" not in view.shifts_table().get_column("effect")[0].split(";")[0]


def test_quality_charts_take_no_unknown_share_from_a_small_cell() -> None:
    """Completeness over time shows a period's share with no recorded type only when both
    the unknown and the recorded counts are 0 or at least 5 (3 of 100 would read 3%, a cell
    of 3); periods of fewer than 5 rows show nothing. Catches shares from small cells."""
    from tipdrift.views import quality_frames

    periods = [{"period": "2014-01-01", "rows": 100, "unknown_share": 0.03, "completeness": {"case_id": 1.0}},
               {"period": "2015-01-01", "rows": 100, "unknown_share": 0.30, "completeness": {"case_id": 1.0}},
               {"period": "2016-01-01", "rows": 100, "unknown_share": 0.0, "completeness": {"case_id": 1.0}},
               {"period": "2017-01-01", "rows": 4, "unknown_share": 0.5, "completeness": {"case_id": 1.0}}]
    doc = {"criteria": ["completeness"], "sources": [{"source": "x/cases.csv", "kind": "cases", "scores": {},
                                                      "completeness": {"case_id": 1.0}, "demographic_fields": [],
                                                      "periods": periods}]}
    _, series = quality_frames(doc, 5)
    unknown = series.filter(series["measure"] == "type not recorded")
    assert unknown.select("period", "value").rows() == [("2015-01-01", 0.30), ("2016-01-01", 0.0)]
    assert "2017-01-01" not in series.get_column("period").to_list()
