"""Loaders: every rejection reason, reconciliation of counts, file-level errors, formats."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipdrift import InputFileError, Mapping, load_table
from tipdrift.load import load_tables
from tipdrift.schema import REASONS

from conftest import write_csv

AS_OF = "2024-12-31"
ARREST_HEADER = ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type", "agency"]


def _reasons(res) -> dict[str, str]:
    return {r["record_id"]: r["reason"] for r in res.rejected.iter_rows(named=True)}


def test_each_rejection_reason_arrests(tmp_path: Path) -> None:
    rows = [
        ["A1", "P1", "2020-01-05", "J01", "forced_labour", "x"],          # ok
        ["A2", "", "2020-01-05", "J01", "forced_labour", "x"],            # missing person
        ["A3", "P3", "2020-13-45", "J01", "forced_labour", "x"],          # bad date
        ["A4", "P4", "1850-01-01", "J01", "forced_labour", "x"],          # implausible
        ["A5", "P5", "2031-01-01", "J01", "forced_labour", "x"],          # future of extract
        ["A6", "P6", "2020-01-05", "J01", "Labor", "x"],                  # unknown label
        ["A7", "P7", "2020-01-05", "J01", "sexual_exploitation", "x"],    # exact duplicate: first kept
        ["A7", "P7", "2020-01-05", "J01", "sexual_exploitation", "x"],
        ["A8", "P8", "2020-01-05", "J01", "other", "x"],                  # conflicting duplicate
        ["A8", "P9", "2020-02-05", "J01", "other", "x"],
        ["A9", "P9", "2020-01-05", "J01", "SexualExploitation", "x"],     # HTCDS alias accepted
    ]
    res = load_table("arrests", write_csv(tmp_path / "a.csv", ARREST_HEADER, rows), as_of=AS_OF)
    assert res.summary["rows"] == 11
    assert res.summary["accepted"] + res.summary["rejected"] == 11
    assert sorted(res.accepted["arrest_id"].to_list()) == ["A1", "A7", "A9"]
    assert res.accepted.filter(pl.col("arrest_id") == "A9")["case_type"].item() == "sexual_exploitation"
    got = res.rejected.select("record_id", "reason", "row", "column").rows()
    assert ("A2", "missing_value", 3, "person_id") in got
    assert ("A3", "bad_date", 4, "arrest_date") in got
    assert ("A4", "implausible_date", 5, "arrest_date") in got
    assert ("A5", "future_date", 6, "arrest_date") in got
    assert ("A6", "unknown_label", 7, "case_type") in got
    assert ("A7", "duplicate_record", 9, "arrest_id") in got
    assert [r for r in got if r[0] == "A8"] == [("A8", "conflicting_duplicate_id", 10, "arrest_id"),
                                               ("A8", "conflicting_duplicate_id", 11, "arrest_id")]
    assert res.summary["unmapped_labels"] == {"case_type": {"Labor": 1}}
    assert set(res.summary["reasons"]) <= set(REASONS)
    assert (res.rejected["source"] == str(tmp_path / "a.csv")).all()


def test_dispositions_outcome_and_numbers(tmp_path: Path) -> None:
    header = ["disposition_id", "person_id", "disposition_date", "outcome", "prosecution_id", "sentence_months"]
    rows = [
        ["D1", "P1", "2020-01-05", "convicted", "F1", "36"],
        ["D2", "P2", "2020-01-05", "guilty-ish", "", ""],
        ["D3", "P3", "2020-01-05", "dismissed", "", "-4"],
        ["D4", "P4", "2020-01-05", "Acquitted", "", "NaN"],
    ]
    res = load_table("dispositions", write_csv(tmp_path / "d.csv", header, rows), as_of=AS_OF)
    assert _reasons(res) == {"D2": "unknown_label", "D3": "bad_number"}
    acc = res.accepted.sort("disposition_id")
    assert acc["outcome"].to_list() == ["convicted", "acquitted"]
    assert acc["sentence_months"].to_list() == [36.0, None]
    assert acc["prosecution_id"].to_list() == ["F1", None]


def test_cases_date_order_and_integer_services(tmp_path: Path) -> None:
    header = ["case_id", "org_id", "opened_date", "case_type", "closed_date", "services"]
    rows = [
        ["C1", "O1", "2020-01-05", "forced_labour", "2020-03-01", "2"],
        ["C2", "O1", "2020-01-05", "forced_labour", "2019-03-01", "2"],
        ["C3", "O1", "2020-01-05", "forced_labour", "", "2.5"],
    ]
    res = load_table("cases", write_csv(tmp_path / "c.csv", header, rows), as_of=AS_OF)
    assert _reasons(res) == {"C2": "date_order", "C3": "bad_number"}


def test_mapping_renames_columns_and_labels(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "src.csv", ["ID", "Persona", "Fecha de arresto", "Estado", "Tipo"], [
        ["1", "p1", "05/01/2020", "J1", "Labor"],
        ["2", "p2", "06/01/2020", "J1", "Sex trafficking"],
        ["3", "p3", "07/01/2020", "J1", "CSEC"],
        ["4", "p4", "08/01/2020", "J1", "Smuggling"],
    ])
    m = Mapping(columns={"ID": "arrest_id", "Persona": "person_id", "Fecha de arresto": "arrest_date",
                         "Estado": "jurisdiction", "Tipo": "case_type"},
                labels={"case_type": {"Labor": "forced_labour", "Sex trafficking": "sexual_exploitation",
                                      "CSEC": "sexual_exploitation"}},
                date_format="%d/%m/%Y")
    path = tmp_path / "m.yaml"
    m.to_yaml(path)
    assert Mapping.from_yaml(path) == m  # round trip through YAML
    res = load_table("arrests", src, mapping=path, as_of=AS_OF)
    assert res.accepted["case_type"].to_list() == ["forced_labour", "sexual_exploitation", "sexual_exploitation"]
    assert res.accepted["arrest_date"].to_list()[0] == dt.date(2020, 1, 5)
    assert res.summary["unmapped_labels"] == {"case_type": {"Smuggling": 1}}


def test_mapping_to_unknown_category_is_a_file_error(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "a.csv", ARREST_HEADER, [["A1", "P1", "2020-01-05", "J01", "Labor", "x"]])
    with pytest.raises(InputFileError, match="labour_exploitation"):
        load_table("arrests", src, mapping=Mapping(labels={"case_type": {"Labor": "labour_exploitation"}}))


def test_mapping_per_table_sections(tmp_path: Path) -> None:
    data = {"tables": {"arrests": {"columns": {"Fecha": "arrest_date"}}}}
    m = Mapping.from_dict(data)
    assert m.for_table("arrests").columns == {"Fecha": "arrest_date"}
    assert m.for_table("cases") is m
    assert Mapping.from_dict(m.to_dict()) == m


@pytest.mark.parametrize(
    "content,match",
    [
        (None, "file not found"),
        (b"", "file is empty"),
        (b"arrest_id,person_id,arrest_date,jurisdiction,case_type\n", "header but no rows"),
        (b"arrest_id,person_id,jurisdiction,case_type\nA1,P1,J1,other\n", "column 'arrest_date'"),
        (b"arrest_id,person_id,arrest_date,jurisdiction,case_type\nA1,P1,2020-01-01,J\xe9,other\n", "row 2: wrong encoding"),
        (b"arrest_id,person_id,arrest_date,jurisdiction,case_type\nA1,P1,2020-01-01,J1,other,extra\n", "row 2"),
    ],
)
def test_file_level_errors_are_one_line(tmp_path: Path, content: bytes | None, match: str) -> None:
    path = tmp_path / "arrests.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError, match=match) as info:
        load_table("arrests", path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_parquet_and_xlsx_give_the_same_table(tmp_path: Path) -> None:
    rows = [["A1", "P1", "2020-01-05", "J01", "forced_labour", "x"], ["A2", "P2", "bad", "J01", "other", "y"]]
    csv_res = load_table("arrests", write_csv(tmp_path / "a.csv", ARREST_HEADER, rows), as_of=AS_OF)
    df = pl.DataFrame(rows, schema=ARREST_HEADER, orient="row")
    df.write_parquet(tmp_path / "a.parquet")
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(ARREST_HEADER)
    ws.append(["A1", "P1", dt.datetime(2020, 1, 5), "J01", "forced_labour", "x"])  # a real Excel date cell
    ws.append(rows[1])
    wb.save(tmp_path / "a.xlsx")
    for ext, first_row in (("parquet", 2), ("xlsx", 3)):
        res = load_table("arrests", tmp_path / f"a.{ext}", as_of=AS_OF)
        assert res.accepted.equals(csv_res.accepted), ext
        assert res.rejected["row"].to_list() == [first_row], ext


def test_load_tables_directory_rejects_cross_file_duplicates(tmp_path: Path) -> None:
    write_csv(tmp_path / "a1.csv", ARREST_HEADER, [["A1", "P1", "2020-01-05", "J01", "other", "x"]])
    write_csv(tmp_path / "a2.csv", ARREST_HEADER, [["A1", "P9", "2021-01-05", "J01", "other", "x"],
                                                   ["A2", "P2", "2021-01-05", "J01", "other", "x"]])
    res = load_tables("arrests", tmp_path, as_of=AS_OF)
    assert res.summary["rows"] == 3 and res.summary["accepted"] == 2 and res.summary["rejected"] == 1
    assert res.rejected["reason"].to_list() == ["conflicting_duplicate_id"]


# Garbage in: no crash without a clear error, and the counts always reconcile.
cell = st.one_of(st.text(max_size=12), st.sampled_from(["", "2020-01-01", "forced_labour", "convicted", "1e9", "-1",
                                                        "NaN", "2020-02-30", "0001-01-01", "  other  "]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["arrests", "prosecutions", "dispositions", "cases", "context"]),
       rows=st.lists(st.lists(cell, min_size=8, max_size=8), min_size=1, max_size=25))
def test_garbage_rows_reconcile(tmp_path: Path, kind: str, rows: list[list[str]]) -> None:
    from tipdrift.schema import spec_for

    header = list(spec_for(kind).columns)
    header += [f"extra{i}" for i in range(8 - len(header))]
    path = tmp_path / f"{kind}.csv"
    write_csv(path, header[:8], [r[: len(header[:8])] for r in rows])
    try:
        res = load_table(kind, path, as_of=AS_OF)
    except InputFileError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert res.summary["accepted"] + res.summary["rejected"] == res.summary["rows"] == len(rows)
    assert res.accepted[spec_for(kind).id_column].is_duplicated().sum() == 0
    assert res.rejected["reason"].is_null().sum() == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=300))
def test_garbage_bytes_never_crash(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(data)
    try:
        res = load_table("cases", path, as_of=AS_OF)
    except InputFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert res.summary["accepted"] + res.summary["rejected"] == res.summary["rows"]


def test_the_example_source_and_its_mapping() -> None:
    from conftest import REPO

    src = REPO / "data" / "examples" / "arrests_source.csv"
    res = load_table("arrests", src, mapping=src.with_name("arrests_mapping.yaml"), as_of=AS_OF)
    assert res.summary["rows"] == 14 and res.summary["accepted"] == 7
    assert res.summary["reasons"] == {"bad_date": 1, "conflicting_duplicate_id": 2, "duplicate_record": 1,
                                      "future_date": 1, "missing_value": 1, "unknown_label": 1}
    assert res.summary["unmapped_labels"] == {"case_type": {"Smuggling": 1}}
    assert res.accepted.filter(pl.col("arrest_id") == "X-003")["case_type"].item() == "sexual_exploitation"
    assert res.accepted.filter(pl.col("arrest_id") == "X-001")["arrest_date"].item() == dt.date(2021, 1, 5)


def test_id_hygiene(tmp_path) -> None:
    """Ids are text compared exactly after declared normalisation: 1.0 from a float column
    reads as 1; NA/null/None are missing (never a shared person); scientific notation and
    control characters are bad_id; ids equal only after trimming conflict; an infinite or
    implausible sentence is bad_number. Catches float ids that never match (0 links), a
    literal 'NA' person linking strangers, and silently merged near-duplicate ids."""
    import polars as pl

    from tipdrift import load_table

    arrests = pl.DataFrame({
        "arrest_id": [1.0, 2.0, 3.5, 4.0, 5.0, 6.0],
        "person_id": ["P1", "NA", "P3", "null", " None ", "P6"],
        "arrest_date": ["2020-01-01"] * 6, "jurisdiction": ["J"] * 6, "case_type": ["other"] * 6,
    })
    arrests.write_parquet(tmp_path / "arrests.parquet")
    res = load_table("arrests", tmp_path / "arrests.parquet", as_of="2024-12-31")
    assert res.accepted.get_column("arrest_id").to_list() == ["1", "6"]
    why = {r["record_id"]: r["reason"] for r in res.rejected.to_dicts()}
    assert why == {"2": "missing_value", "3.5": "bad_id", "4": "missing_value", "5": "missing_value"}

    path = tmp_path / "dispositions.csv"
    path.write_text("disposition_id,person_id,disposition_date,outcome,sentence_months\n"
                    "1.234567890123457e+17,P1,2020-01-01,convicted,12\n"
                    "D\x002,P2,2020-01-01,convicted,12\n"
                    "D3,P3,2020-01-01,convicted,inf\n"
                    "D4,P4,2020-01-01,convicted,5000\n"
                    "D5,P5,2020-01-01,convicted,24\n"
                    " D5,P5,2020-01-01,convicted,24\n"
                    "D6,P6,2020-01-01,convicted,1200\n", encoding="utf-8")
    res = load_table("dispositions", path, as_of="2024-12-31")
    reasons = sorted((r["row"], r["reason"]) for r in res.rejected.to_dicts())
    assert reasons == [(2, "bad_id"), (3, "bad_id"), (4, "bad_number"), (5, "bad_number"),
                       (6, "conflicting_duplicate_id"), (7, "conflicting_duplicate_id")]
    assert res.accepted.get_column("disposition_id").to_list() == ["D6"]
    assert res.summary["accepted"] + res.summary["rejected"] == res.summary["rows"]


HEAD = "arrest_id,person_id,arrest_date,jurisdiction,case_type"
ROW1 = "A1,P1,2020-01-05,J01,other"


@pytest.mark.parametrize("name,data", [
    ("utf16_bom", ("\ufeff" + HEAD + "\n" + ROW1 + "\n").encode("utf-16-le")),
    ("utf16_be_bom", (HEAD + "\n" + ROW1 + "\n").encode("utf-16")),
    ("semicolon", (HEAD.replace(",", ";") + "\n" + ROW1.replace(",", ";") + "\n").encode()),
    ("tab", (HEAD.replace(",", "\t") + "\n" + ROW1.replace(",", "\t") + "\n").encode()),
    ("invisible_header", ("\u200b" + HEAD.replace("jurisdiction", "jurisdiction\u00a0") + "\n" + ROW1 + "\n").encode()),
])
def test_files_read_correctly_when_unambiguous(tmp_path: Path, name: str, data: bytes) -> None:
    """UTF-16 with a byte-order mark, ';' or tab delimiters (a header without commas), and
    invisible characters around column names are read as meant. Catches a garbled column
    list, 'missing column' for a delimiter, and a column that differs by a zero-width space."""
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    res = load_table("arrests", path, as_of=AS_OF)
    assert res.accepted.select("arrest_id", "jurisdiction").row(0) == ("A1", "J01"), name


@pytest.mark.parametrize("name,data,match", [
    ("binary", bytes(range(256)) * 8, "not a text file"),
    ("utf16_no_bom", (HEAD + "\n" + ROW1 + "\n").encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
    ("duplicate_header", (HEAD + ",case_type\n" + ROW1 + ",other\n").encode(), "column 'case_type': appears twice"),
    ("pipe", (HEAD.replace(",", "|") + "\n" + ROW1.replace(",", "|") + "\n").encode(), "delimited by"),
    ("invisible_in_message", ("arrest_id,person_id,arrest\u200bdate,jurisdiction,case_type\n" + ROW1 + "\n").encode(),
     r"arrest\\u200bdate"),
])
def test_unreadable_files_get_one_line_naming_the_cause(tmp_path: Path, name: str, data: bytes, match: str) -> None:
    """Binary content, UTF-16 without a mark, a duplicated header and an undetected
    delimiter each stop with one line naming the likely cause; invisible characters in a
    message are spelled out. Catches 'has a header but no rows' for a binary file, a
    silently renamed duplicate column, and messages that show two equal-looking names."""
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    with pytest.raises(InputFileError, match=match) as info:
        load_table("arrests", path, as_of=AS_OF)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_excel_sheet_by_name_or_position(tmp_path: Path) -> None:
    """Data on a second sheet: the default names the sheets and how to choose; `sheet:` by
    name or position reads it. Catches 'file is empty' for a workbook with a cover sheet."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "About"
    ws = wb.create_sheet("Data")
    ws.append(HEAD.split(","))
    ws.append(ROW1.split(","))
    wb.save(tmp_path / "a.xlsx")
    with pytest.raises(InputFileError, match=r"first sheet 'About' is empty; the workbook has sheets \['About', 'Data'\]"):
        load_table("arrests", tmp_path / "a.xlsx", as_of=AS_OF)
    for sheet in ("Data", 2):
        res = load_table("arrests", tmp_path / "a.xlsx", mapping=Mapping(sheet=sheet), as_of=AS_OF)
        assert res.accepted.get_column("arrest_id").to_list() == ["A1"], sheet
    with pytest.raises(InputFileError, match="no sheet 'Dta'"):
        load_table("arrests", tmp_path / "a.xlsx", mapping=Mapping(sheet="Dta"), as_of=AS_OF)


def test_declared_delimiter_and_encoding(tmp_path: Path) -> None:
    """A pipe-delimited cp1252 file reads with delimiter and encoding in the mapping."""
    path = tmp_path / "a.csv"
    path.write_bytes((HEAD.replace(",", "|") + "\n" + "A1|P1|2020-01-05|Jé|other\n").encode("cp1252"))
    res = load_table("arrests", path, mapping=Mapping(delimiter="|", encoding="cp1252"), as_of=AS_OF)
    assert res.accepted.get_column("jurisdiction").to_list() == ["Jé"]


def test_dates_keep_their_precision(tmp_path: Path) -> None:
    """Year-only and month-only values are kept at their precision, dated by the first day
    of their interval; a day-precision column says day. Catches an invented day read as
    exact, and a year-only value rejected as bad_date."""
    path = write_csv(tmp_path / "d.csv", ["disposition_id", "person_id", "disposition_date", "outcome"],
                     [["D1", "P1", "2014", "convicted"], ["D2", "P2", "2014-03", "convicted"],
                      ["D3", "P3", "2014-03-09", "convicted"], ["D4", "P4", "2014-13", "convicted"]])
    res = load_table("dispositions", path, as_of=AS_OF)
    got = res.accepted.select("disposition_date", "disposition_date_precision").rows()
    assert got == [(dt.date(2014, 1, 1), "year"), (dt.date(2014, 3, 1), "month"), (dt.date(2014, 3, 9), "day")]
    assert res.rejected.get_column("reason").to_list() == ["bad_date"]
    res = load_table("dispositions", path.with_name("d.csv"), mapping=Mapping(date_format="%Y"), as_of=AS_OF)
    assert res.accepted.get_column("disposition_date_precision").to_list() == ["year"]


def test_date_order_compares_intervals(tmp_path: Path) -> None:
    """A case closed in 2014 (year only) is not before one opened 2014-03-09; one closed in
    2013 is. Catches 1 January invented for the year and the row wrongly rejected."""
    path = write_csv(tmp_path / "c.csv", ["case_id", "org_id", "opened_date", "closed_date", "case_type"],
                     [["C1", "O", "2014-03-09", "2014", "other"], ["C2", "O", "2014-03-09", "2013", "other"]])
    res = load_table("cases", path, as_of=AS_OF)
    assert res.accepted.get_column("case_id").to_list() == ["C1"]
    assert res.rejected.get_column("reason").to_list() == ["date_order"]


def test_text_ids_written_as_whole_floats_read_as_integers(tmp_path: Path) -> None:
    """A CSV written by pandas from a float column holds '1.0': it reads as '1' and links
    with '1' elsewhere; '1.5' stays as it is. Catches 0 links from '1.0' != '1'."""
    path = write_csv(tmp_path / "a.csv", ARREST_HEADER[:5], [["1.0", "7.00", "2020-01-01", "J", "other"],
                                                             ["2.5", "8", "2020-01-01", "J", "other"]])
    res = load_table("arrests", path, as_of=AS_OF)
    assert res.accepted.select("arrest_id", "person_id").rows() == [("1", "7"), ("2.5", "8")]


def test_excel_date_cells_read_whatever_the_declared_format(tmp_path: Path) -> None:
    """A real Excel date cell arrives as 'YYYY-MM-DD 00:00:00' even when the mapping says
    the text dates are %d/%m/%Y: both read. Catches bad_date on every real date cell."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(ARREST_HEADER[:5])
    ws.append(["A1", "P1", dt.datetime(2020, 1, 5), "J01", "other"])
    ws.append(["A2", "P2", "06/01/2020", "J01", "other"])
    wb.save(tmp_path / "a.xlsx")
    res = load_table("arrests", tmp_path / "a.xlsx", mapping=Mapping(date_format="%d/%m/%Y"), as_of=AS_OF)
    assert res.accepted.get_column("arrest_date").to_list() == [dt.date(2020, 1, 5), dt.date(2020, 1, 6)]
