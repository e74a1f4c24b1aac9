"""The command line: exit codes and one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

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


COURT = REPO / "data" / "examples" / "court"


def test_the_court_recipe_links_year_only_outcomes(tmp_path: Path, capsys) -> None:
    """Court records with only the year of termination, split into three tables by one
    mapping: no disposition is rejected for an invented 1 January, pending defendants are
    skipped (not rejected), the 2031 arrests are future_date against the mapping's as_of,
    and attrition says how far the year-only dates can move its shares. Catches invented
    days (220 of 1,469 rejected on the real data), pending rows counted as rejects, and
    imprecise durations presented as exact, and attrition taking 1 January of the last
    termination year as "now" (the mapping's extract date is carried by the link step)."""
    d = str(COURT / "defendants.csv")
    rc = main(["link", "--arrests", d, "--prosecutions", d, "--dispositions", d,
               "--mapping", str(COURT / "mapping.yaml"), "--out", str(tmp_path / "court")])
    truth = json.loads((COURT / "truth.json").read_text())
    summary = json.loads((tmp_path / "court" / "summary.json").read_text())
    assert rc == 0
    disp = summary["sources"]["dispositions"]
    assert disp["rejected"] == 0 and disp["rows"] == truth["terminated"]
    assert summary["sources"]["arrests"]["reasons"] == {"future_date": 2}
    assert summary["links"]["prosecution_disposition"]["link_rate"] > 0.99
    capsys.readouterr()
    assert disp["skipped"] == truth["pending"]
    assert main(["attrition", str(tmp_path / "court" / "trajectories.parquet"), "--out", str(tmp_path / "att.json")]) == 0
    out = capsys.readouterr().out
    assert "known only to the month or year" in out
    assert "as of 2021-12-31: the extract date given to the link step" in out  # the mapping's, not 1 January
    att = json.loads((tmp_path / "att.json").read_text())
    assert att["imprecise_dates"]["dates"] == truth["terminated"] and att["imprecise_dates"]["max_change_points"] > 5


def test_too_many_rejected_rows_stop_with_exit_1(tmp_path: Path, capsys) -> None:
    """Above --max-rejected a command stops with exit 1 naming the source, its top reasons
    and a command that lists the rows (it runs, also for a unit column other than the
    default); raising the share lets it go on. Catches a run that silently analyses the
    43% of rows that happened to parse, and a stop that leaves only counts."""
    rows = [[f"C{i}", "R1", "2020-01-05" if i % 2 else "05/01/2020", "other"] for i in range(40)]
    src = write_csv(tmp_path / "cases.csv", ["case_id", "region", "opened_date", "case_type"], rows)
    args = ["drift", str(src), "--unit", "region", "--as-of", "2024-12-31", "--out", str(tmp_path / "s.json")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "20 of 40 rows rejected" in err and "bad_date 20" in err and "cases.csv" in err
    # where the rows themselves are: the command given runs and writes them, with reasons
    listing = err.split("list them with `")[1].split("`")[0]
    assert listing.startswith("tipdrift validate cases ") and "--as-of 2024-12-31" in listing
    assert "--unit region" in listing  # the table has no org_id: validate must not ask for one
    assert main(listing.split()[1:-1] + [str(tmp_path / "rej.csv")]) == 0
    rej = pl.read_csv(tmp_path / "rej.csv")
    assert rej.height == 20 and set(rej.get_column("reason")) == {"bad_date"}
    assert main(args + ["--max-rejected", "0.6"]) == 0


def test_a_link_stopped_by_rejected_rows_writes_them(tmp_path: Path, capsys) -> None:
    """A link run that stops at --max-rejected still writes rejected.csv, with each row's
    source and reason, removes an earlier run's outputs beside it, and its error says where.
    Catches a stop that leaves the user only counts (no table of which rows failed), a file
    holding one source's rows only, and a folder mixing two runs' files."""
    from conftest import write_csv
    from tipdrift.cli import main

    a = write_csv(tmp_path / "a.csv", ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"],
                  [[f"A{i}", f"P{i}", "2020-01-01" if i % 2 else "1 Jan", "J", "other"] for i in range(20)])
    p = write_csv(tmp_path / "p.csv", ["prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type"],
                  [[f"F{i}", f"P{i}", "2020-02-01" if i else "soon", "J", "other"] for i in range(20)])
    d = write_csv(tmp_path / "d.csv", ["disposition_id", "person_id", "disposition_date", "outcome"],
                  [[f"D{i}", f"P{i}", "2020-05-01", "convicted"] for i in range(20)])
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # an earlier run's: it must not pair with this rejected.csv
    assert main(["link", "--arrests", str(a), "--prosecutions", str(p), "--dispositions", str(d),
                 "--out", str(out), "--as-of", "2024-12-31"]) == 1
    err = capsys.readouterr().err
    assert "10 of 20 rows rejected" in err and str(out / "rejected.csv") in err
    assert "earlier run's summary.json removed" in err and not (out / "summary.json").exists()
    rej = pl.read_csv(out / "rejected.csv")
    assert rej.height == 11 and set(rej.get_column("reason")) == {"bad_date"}
    assert rej.get_column("source").str.ends_with("a.csv").sum() == 10
    assert not (out / "trajectories.parquet").exists()
    # the trajectory report links through link_files: its folder takes nothing person-level,
    # so the error names the command that writes the rows
    from tipdrift.errors import DataError
    from tipdrift.link import link_files

    with pytest.raises(DataError, match=r"list them with `tipdrift validate arrests .*a\.csv --as-of 2024-12-31"):
        link_files(a, p, d, as_of="2024-12-31", max_rejected=0.05)


def test_outlying_dates_are_named_when_as_of_is_not_given(tmp_path: Path, capsys) -> None:
    """Without --as-of the latest date stands for the extract date; a date years beyond
    the rest is printed with its record and the exit status is 1. Catches two typos
    silently making every cohort look complete."""
    rows = [[f"C{i}", "O1", f"20{10 + i % 8}-0{1 + i % 9}-15", "other" if i % 3 else "forced_labour"] for i in range(60)]
    rows += [["C998", "O1", "2025-03-01", "other"], ["C999", "O1", "2025-05-01", "other"]]  # two typos, close together
    src = write_csv(tmp_path / "cases.csv", ["case_id", "org_id", "opened_date", "case_type"], rows)
    assert main(["drift", str(src), "--out", str(tmp_path / "s.json")]) == 1
    err = capsys.readouterr().err
    assert "record C998, column 'opened_date': 2025-03-01" in err and "record C999" in err
    assert err.count("stands more than a year beyond") == 2
    assert main(["drift", str(src), "--as-of", "2030-01-01", "--out", str(tmp_path / "s.json")]) == 0


def test_quality_profiles_each_source_and_writes_a_page(tmp_path: Path) -> None:
    """`tipdrift quality` over two sources (one by KIND=PATH, one through a mapping): one
    profile each with the seven scores, the CTDC layout's missing types lowering taxonomic
    applicability, and an HTML page with the quality section. Catches sources dropped,
    scores not computed, and a mapping not applied (43% unknown read as nothing)."""
    ctdc = REPO / "data" / "examples" / "ctdc"
    out = tmp_path / "q.json"
    assert main(["quality", f"cases={ctdc / 'sample.csv'}", "--mapping", str(ctdc / "mapping.yaml"),
                 "--as-of", "2021-12-31", "--out", str(out), "--html", str(tmp_path / "q.html")]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["criteria"]) == 7 and len(doc["sources"]) == 1
    s = doc["sources"][0]
    assert s["rows"] == 3937 and 5.0 <= s["scores"]["taxonomic_applicability"] <= 6.0
    assert '<section class="quality">' in (tmp_path / "q.html").read_text()
    synth = REPO / "data" / "synthetic"
    assert main(["quality", str(synth / "cases.parquet"), str(synth / "arrests.parquet"), "--as-of", "2024-12-31",
                 "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [s["kind"] for s in doc["sources"]] == ["cases", "arrests"]
    assert all(s["scores"]["taxonomic_applicability"] > 8 for s in doc["sources"])


def test_quality_exits_1_on_unmapped_labels(tmp_path: Path, capsys) -> None:
    """`quality` fails like `validate` when a source has labels its mapping does not map.
    Catches exit 0 on the same file that validate rejects."""
    src = REPO / "data" / "examples" / "arrests_source.csv"
    rc = main(["quality", f"arrests={src}", "--mapping", str(src.with_name("arrests_mapping.yaml")),
               "--as-of", "2024-12-31", "--out", str(tmp_path / "q.json")])
    assert rc == 1 and "'Smuggling' (1 rows)" in capsys.readouterr().err


def test_drift_exits_1_on_unmapped_labels_like_validate(tmp_path: Path, capsys) -> None:
    """An unmapped label drops its rows from drift's series: drift names the label and
    exits 1 after writing its output, as validate does on the same file. Catches exit 0
    with 5% of rows silently gone."""
    rows = [[f"C{i}", "O1", f"20{10 + i % 8}-0{1 + i % 9}-15", "Smuggling" if i < 2 else "other"] for i in range(60)]
    src = write_csv(tmp_path / "cases.csv", ["case_id", "org_id", "opened_date", "case_type"], rows)
    out = tmp_path / "s.json"
    assert main(["validate", "cases", str(src), "--as-of", "2020-01-01"]) == 1
    assert main(["drift", str(src), "--as-of", "2020-01-01", "--out", str(out)]) == 1
    assert out.is_file() and "'Smuggling' (2 rows)" in capsys.readouterr().err
