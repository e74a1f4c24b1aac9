"""The drift job and its shifts.json contract."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tipdrift.cli import main


def test_drift_cli_writes_the_contract_byte_identically(synth_dir: Path, tmp_path: Path, capsys) -> None:
    args = ["drift", str(synth_dir / "cases.parquet"), "--pooled", "--context", str(synth_dir / "context_log"),
            "--seed", "3"]
    assert main(args + ["--out", str(tmp_path / "a.json")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.json")]) == 0
    a, b = (tmp_path / "a.json").read_bytes(), (tmp_path / "b.json").read_bytes()
    assert a == b
    doc = json.loads(a)
    assert set(doc) >= {"tipdrift_version", "parameters", "inputs", "series", "shifts", "context_without_shift"}
    assert doc["inputs"][0]["rows"] > 0 and len(doc["inputs"][0]["sha256"]) == 64
    assert {s["status"] for s in doc["series"]} <= {"analysed", "too_sparse"}
    for s in doc["shifts"]:
        assert s["kind"] in ("mix", "volume")
        assert s["status"] in ("explained", "artifact_compatible", "unexplained")
        if s["kind"] == "mix":
            assert abs(sum(s["before"].values()) - 1) < 1e-3 and abs(sum(s["after"].values()) - 1) < 1e-3
    assert any("decomposition" in s for s in doc["shifts"] if s["unit"] == "(pooled)")


def test_shifts_json_round_trips_and_p_adjusted_is_bh_over_the_family(synth_dir: Path, tmp_path: Path) -> None:
    """Shift.from_json(to_json) restores every field that shifts.json carries, and each
    p_adjusted equals BH over all tested candidates of its kind (tested_candidates), the
    eliminated ones counting as 1. Catches rounding before BH, BH over the kept shifts only,
    and a record that loses fields on the way through JSON."""
    from statsmodels.stats.multitest import multipletests

    from tipdrift.drift import DriftRun, run_drift
    from tipdrift.shift import Shift

    run = run_drift(synth_dir / "cases.parquet", pooled=True, context=synth_dir / "context_log", seed=3)
    for s in run.shifts:
        assert Shift.from_json(s.to_json()).to_json() == s.to_json()
    for kind, m in run.family.items():
        mine = [s for s in run.shifts if s.kind == kind]
        if not mine:
            continue
        p = [s.p_value for s in mine]
        want = multipletests(p + [1.0] * (m - len(p)), method="fdr_bh")[1][:len(p)]
        assert [s.p_adjusted for s in mine] == pytest.approx(list(want), rel=1e-9)
    run.save(tmp_path / "run")
    again = DriftRun.load(tmp_path / "run")
    assert again.document() == run.document()


def test_reporting_lag_and_sparse_units_are_in_the_output(tmp_path: Path) -> None:
    import polars as pl

    from tipdrift.drift import run_drift

    rows = [("C%d" % i, "BIG", f"20{15 + i // 600}-{(i // 50) % 12 + 1:02d}-01", ["forced_labour", "other"][i % 2]) for i in range(3600)]
    rows += [("S1", "SMALL", "2020-01-01", "other")]
    path = tmp_path / "cases.csv"
    pl.DataFrame(rows, schema=["case_id", "org_id", "opened_date", "case_type"], orient="row").write_csv(path)
    doc = run_drift(path, as_of="2020-12-31", reporting_lag=3, volume=False).document()
    st = {s["unit"]: s for s in doc["series"]}
    assert st["SMALL"]["status"] == "too_short" and "periods" in st["SMALL"]["reason"]  # one month of records
    assert doc["parameters"]["last_period_analysed"] == "2020-09-01"
    assert doc["parameters"]["censored_from"] == "2020-10-01"
    assert doc["inputs"][0]["rows"] == 3601
