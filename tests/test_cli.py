"""The command line: exit codes and one-line errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, write_csv

from tipdrift.cli import main


def test_validate_ok_and_rejected_file(tmp_path: Path, capsys) -> None:
    src = write_csv(tmp_path / "a.csv", ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"],
                    [["A1", "P1", "2020-01-01", "J1", "other"], ["A2", "P2", "2020-01-01", "J1", "Labor"]])
    out = tmp_path / "rej.csv"
    rc = main(["validate", "arrests", str(src), "--rejected", str(out), "--as-of", "2024-12-31"])
    captured = capsys.readouterr()
    assert rc == 1  # an unmapped label is an error that lists it
    assert "'Labor' (1 rows)" in captured.err
    assert "rows 2, accepted 1, rejected 1" in captured.out
    assert out.read_text().count("\n") == 2


def test_missing_column_exits_2_without_traceback(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "a.csv", ["arrest_id", "person_id"], [["A1", "P1"]])
    proc = subprocess.run([sys.executable, "-m", "tipdrift.cli", "validate", "arrests", str(src)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "column 'arrest_date'" in proc.stderr


def test_every_command_has_help() -> None:
    from tipdrift.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        proc = subprocess.run([sys.executable, "-m", "tipdrift.cli", name, "--help"], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0 and "usage:" in proc.stdout, name


def test_a_link_step_that_links_almost_nothing_warns(tmp_path, capsys) -> None:
    """Tables whose person ids share nothing link nothing: the command says so and names
    likely causes instead of reporting 0% prosecuted as a finding. Catches a silent 0 links."""
    from conftest import write_csv
    from tipdrift.cli import main

    a = write_csv(tmp_path / "a.csv", ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"],
                  [[f"A{i}", f"P{i}", "2020-01-01", "J", "other"] for i in range(20)])
    p = write_csv(tmp_path / "p.csv", ["prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type"],
                  [[f"F{i}", f"X{i}", "2020-02-01", "J", "other"] for i in range(20)])
    d = write_csv(tmp_path / "d.csv", ["disposition_id", "person_id", "disposition_date", "outcome"],
                  [[f"D{i}", f"X{i}", "2020-05-01", "convicted"] for i in range(20)])
    assert main(["link", "--arrests", str(a), "--prosecutions", str(p), "--dispositions", str(d),
                 "--out", str(tmp_path / "out"), "--as-of", "2024-12-31"]) == 0
    err = capsys.readouterr().err
    assert "arrest -> prosecution linked only 0.0%" in err and "share person ids" in err
    assert "prosecution -> disposition linked only" not in err
