"""Review: one line per shift, counts by status, --strict exit codes, acknowledgements."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import write_csv
from tipdrift.cli import main


def _doc(tmp_path: Path) -> Path:
    import datetime as dt

    from tipdrift.shift import Annotation, Effect, Moved, Shift

    d = dt.date.fromisoformat

    def shift(unit: str, period: str, ci: tuple[str, str], status: str, moved: list, notes: list) -> dict:
        return Shift(unit=unit, kind="mix", index=10, segment_index=(0, 30), ci_index=(9, 11), period=d(period),
                     segment=(d("2018-01-01"), d("2021-06-01")), ci=(d(ci[0]), d(ci[1])), statistic=12.0,
                     p_value=0.005, replicates=199, phi=1.0, before={}, after={}, effect=Effect(tvd=0.2, moved=moved),
                     p_adjusted=0.01, annotations=notes, status=status, chance_rate=0.2, annotated=True).to_json()

    shifts = [shift("ORG1", "2019-06-01", ("2019-05-01", "2019-07-01"), "explained", [Moved("forced_labour", 0.2, 0.4)],
                    [Annotation("E1", "funding", "ORG1", d("2018-12-01"), 182, "grant")]),
              shift("ORG2", "2020-03-01", ("2020-02-01", "2020-04-01"), "unexplained", [], [])]
    path = tmp_path / "shifts.json"
    path.write_text(json.dumps({"shifts": shifts, "context_without_shift": []}))
    return path


def test_strict_exit_codes_and_acknowledgement(tmp_path: Path, capsys) -> None:
    doc = _doc(tmp_path)
    assert main(["review", str(doc)]) == 0
    out = capsys.readouterr().out
    assert "ORG1" in out and "E1 funding 2018-12-01" in out
    assert "2 shifts: explained 1, unexplained 1" in out
    assert main(["review", str(doc), "--strict"]) == 1
    acks = write_csv(tmp_path / "reviews.csv", ["unit", "period", "reviewer", "note"],
                     [["ORG2", "2020-03", "R. Analyst", "checked with the organisation: new outreach team"]])
    assert main(["review", str(doc), "--strict", "--acknowledged", str(acks)]) == 0
    capsys.readouterr()
    assert main(["review", str(doc), "--format", "json", "--acknowledged", str(acks)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unexplained_unacknowledged"] == 0
    assert result["shifts"][1]["reviewer"] == "R. Analyst"


def test_bad_review_inputs_exit_2(tmp_path: Path, capsys) -> None:
    doc = _doc(tmp_path)
    bad = write_csv(tmp_path / "reviews.csv", ["unit", "period", "reviewer", "note"], [["ORG2", "March", "R", "x"]])
    assert main(["review", str(doc), "--acknowledged", str(bad)]) == 2
    assert "row 2" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "missing.json")]) == 2
