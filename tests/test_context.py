"""Context log validation and attaching events to shifts."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from conftest import write_csv
from tipdrift.context import attach_context, chance_rates, context_without_shift, load_context
from tipdrift.shift import Effect, Moved, Shift

HEADER = ["event_id", "unit", "date", "kind", "description", "source", "end_date", "case_types"]


def _shift(unit: str = "ORG1", period: str = "2019-06-01", ci: tuple[str, str] = ("2019-05-01", "2019-07-01"),
           moved: tuple[str, ...] = ("forced_labour",), status: str = "unexplained") -> Shift:
    d = dt.date.fromisoformat
    return Shift(unit=unit, kind="mix", index=10, segment_index=(0, 20), ci_index=(9, 11), period=d(period),
                 segment=(d("2018-01-01"), d("2020-12-01")), ci=(d(ci[0]), d(ci[1])), statistic=10.0, p_value=0.005,
                 replicates=199, phi=1.0, before={}, after={}, effect=Effect(tvd=0.2, moved=[Moved(c, 0.1, 0.3) for c in moved]),
                 status=status)


def _events(rows: list[list[str]], tmp_path: Path) -> pl.DataFrame:
    return load_context(write_csv(tmp_path / "events.csv", HEADER, rows)).events


def test_validation_reports_file_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "events.csv", HEADER, [
        ["E1", "ORG1", "2019-01-01", "funding", "grant", "log", "", ""],
        ["E1", "ORG1", "2019-02-01", "funding", "grant again", "log", "", ""],   # conflicting duplicate id
        ["E2", "ORG1", "2019-01-01", "rumour", "x", "log", "", ""],              # unknown kind
        ["E3", "ORG1", "01/02/2019", "legal", "x", "log", "", ""],               # unparseable date
        ["E4", "ORG1", "2019-05-01", "legal", "x", "log", "2019-04-01", ""],     # end before start
        ["E5", "NOWHERE", "2019-05-01", "legal", "x", "log", "", ""],            # unit in no data
    ])
    log = load_context(path, known_units=["ORG1"])
    got = {(r["record_id"], r["reason"], r["row"]) for r in log.load.rejected.iter_rows(named=True)}
    assert got == {("E1", "conflicting_duplicate_id", 2), ("E1", "conflicting_duplicate_id", 3),
                   ("E2", "unknown_label", 4), ("E3", "bad_date", 5), ("E4", "date_order", 6)}
    assert log.events["event_id"].to_list() == ["E5"]
    assert len(log.warnings) == 1 and "row 7" in log.warnings[0] and str(path) in log.warnings[0]


def test_windows_by_kind_around_the_interval(tmp_path: Path) -> None:
    ev = _events([
        ["F1", "ORG1", "2018-06-10", "funding", "grant", "log", "", "forced_labour"],   # 11 months before ci_low: in
        ["F2", "ORG1", "2018-03-10", "funding", "old grant", "log", "", ""],            # 14 months before: out
        ["D1", "ORG1", "2019-08-20", "definition", "new form", "log", "", ""],          # ci_high + 1 month: in
        ["D2", "ORG1", "2019-03-20", "definition", "older form", "log", "", ""],        # ci_low - 2 months: out
        ["X1", "ORG2", "2019-06-01", "funding", "other unit", "log", "", ""],           # other unit: out
        ["S1", "*", "2019-05-15", "legal", "national law", "log", "", "sexual_exploitation"],  # types do not match: out
    ], tmp_path)
    s = attach_context([_shift()], ev)[0]
    assert [a.event_id for a in s.annotations] == ["D1", "F1"]  # nearest first
    assert s.status == "explained"
    assert s.annotations[1].lag_days == (dt.date(2019, 6, 1) - dt.date(2018, 6, 10)).days
    rest = {e["event_id"] for e in context_without_shift([s], ev)}
    assert rest == {"F2", "D2", "X1", "S1"}


def test_status_recording_only_and_unexplained(tmp_path: Path) -> None:
    ev = _events([["D1", "ORG1", "2019-06-03", "data_system", "new CMS", "log", "", ""]], tmp_path)
    a, b = attach_context([_shift(), _shift(unit="ORG2")], ev)
    assert a.status == "artifact_compatible"
    assert b.status == "unexplained" and b.annotations == []


def test_other_events_are_substantive(tmp_path: Path) -> None:
    """An event of kind `other` explains a shift (one definition of substantive kinds, in
    vocab). Catches a second, disagreeing list of substantive kinds."""
    from tipdrift.vocab import RECORDING_KINDS, SUBSTANTIVE_KINDS

    ev = _events([["O1", "ORG1", "2019-05-20", "other", "new referral partner", "log", "", ""]], tmp_path)
    assert attach_context([_shift()], ev)[0].status == "explained"
    assert "other" in SUBSTANTIVE_KINDS and not SUBSTANTIVE_KINDS & RECORDING_KINDS


def test_chance_rate_grows_with_event_density(tmp_path: Path) -> None:
    sparse = _events([["F1", "ORG1", "2015-01-01", "definition", "x", "log", "", ""]], tmp_path)
    dense = _events([[f"F{i}", "ORG1", f"{2013 + i}-01-01", "funding", "x", "log", "", ""] for i in range(10)], tmp_path)
    spans = {"ORG1": (dt.date(2013, 1, 1), dt.date(2024, 12, 1))}
    lo = chance_rates([_shift()], sparse, spans)[0]
    hi = chance_rates([_shift()], dense, spans)[0]
    assert 0.0 < lo < 0.1
    assert hi > 0.75  # ten yearly funding events in 12 years: most random placements hit a 16-month window


def test_pooled_shift_lists_the_unit_shifts_it_is_made_of() -> None:
    from tipdrift.context import unit_shifts_near

    from tipdrift.shift import Annotation

    pooled = _shift(unit="(pooled)", period="2020-03-01", ci=("2020-02-01", "2020-04-01"))
    near = _shift(unit="ORG1", period="2020-06-01", status="explained")
    near.annotations = [Annotation("E9", "funding", "ORG1", dt.date(2020, 1, 1), 150, "grant")]
    far = _shift(unit="ORG2", period="2021-06-01")
    shifts = [pooled, near, far]
    unit_shifts_near(shifts, margin_months=3)
    assert [u.to_json() for u in pooled.unit_shifts] == [
        {"unit": "ORG1", "period": "2020-06-01", "status": "explained", "events": ["E9"]}]
    assert near.unit_shifts is None


def test_yearly_shift_counts_its_whole_year(tmp_path: Path) -> None:
    """A yearly shift dated 2014 (1 January) takes an event from later in 2014 and a
    funding change from 2013, with windows in whole years. Catches month windows applied
    to a period dated 1 January (the 2014-09 event would never attach)."""
    d = dt.date
    s = _shift(period="2014-01-01", ci=("2014-01-01", "2014-01-01"))
    ev = _events([["D1", "ORG1", "2014-09-10", "definition", "new definition", "log", "", ""],
                  ["F1", "ORG1", "2013-03-01", "funding", "grant", "log", "", ""],
                  ["F2", "ORG1", "2011-03-01", "funding", "old grant", "log", "", ""]], tmp_path)
    got = attach_context([s], ev, freq="year")[0]
    assert {a.event_id for a in got.annotations} == {"D1", "F1"}
    monthly = attach_context([_shift(period="2014-01-01", ci=("2014-01-01", "2014-01-01"))], ev)[0]
    assert "D1" not in {a.event_id for a in monthly.annotations}  # the same dates read as one month
    assert d(2014, 9, 10) > s.ci[1]


def test_unknown_case_type_is_rejected_with_file_and_row(tmp_path: Path) -> None:
    """An event whose case_types names no case type could never attach: it is rejected
    (unknown_label, with file and row) and counts reconcile; HTCDS aliases are accepted.
    Catches case_types that are never checked (a typo silently unexplains a shift)."""
    path = write_csv(tmp_path / "events.csv", HEADER, [
        ["E1", "ORG1", "2019-01-01", "funding", "grant", "log", "", "forced_labor"],            # typo
        ["E2", "ORG1", "2019-02-01", "funding", "grant", "log", "", "ForcedLabour;other"],      # HTCDS alias
        ["E3", "ORG1", "2019-03-01", "legal", "law", "log", "", ""],
    ])
    log = load_context(path)
    assert log.events["event_id"].to_list() == ["E2", "E3"]
    assert log.events.filter(pl.col("event_id") == "E2")["case_types"].to_list() == [["forced_labour", "other"]]
    rej = log.load.rejected.to_dicts()
    assert [(r["record_id"], r["row"], r["reason"], r["value"]) for r in rej] == [("E1", 2, "unknown_label", "forced_labor")]
    assert log.load.summary["accepted"] + log.load.summary["rejected"] == log.load.summary["rows"] == 3


def test_bad_context_rows_change_the_exit_status_of_drift_and_review(synth_dir: Path, tmp_path: Path,
                                                                     capsys) -> None:
    """A rejected context row is printed (file, row, reason) by `drift` and by `review`,
    and both exit 1 after writing their outputs; an acknowledgement that matches no shift
    is a warning. Catches the silent drop that turned explained shifts unexplained."""
    import shutil

    from tipdrift.cli import main

    ctx = tmp_path / "ctx"
    shutil.copytree(synth_dir / "context_log", ctx)
    write_csv(ctx / "extra.csv", HEADER, [["X1", "ORG001", "2019-13-01", "funding", "grant", "log", "", ""]])
    out = tmp_path / "shifts.json"
    assert main(["drift", str(synth_dir / "cases.parquet"), "--context", str(ctx), "--no-volume",
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert out.is_file() and "extra.csv, row 2, column 'date': bad_date" in err
    acks = write_csv(tmp_path / "reviews.csv", ["unit", "period", "reviewer", "note"], [["ORG999", "2019-01", "R", "x"]])
    assert main(["review", str(out), "--acknowledged", str(acks)]) == 1
    err = capsys.readouterr().err
    assert "extra.csv, row 2" in err and "ORG999 2019-01 matches no shift" in err
