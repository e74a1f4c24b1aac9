"""Mappings that derive: flag rules, constants, concatenations, a row id, missing tokens,
unknown codes, skipped rows, the extract date; and the CTDC-layout recipe end to end."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import REPO, write_csv

from tipdrift import InputFileError, Mapping, load_table
from tipdrift.cli import main

AS_OF = "2024-12-31"
FLAGS = {"flags": [{"value": "labour_and_sexual", "any": ["both"]},
                   {"value": "labour_and_sexual", "all": ["lab", "sex"]},
                   {"value": "forced_labour", "all": ["lab"]},
                   {"value": "sexual_exploitation", "all": ["sex"]},
                   {"value": "other", "any": ["oth"]}],
         "otherwise": "unknown"}


def _cases(tmp_path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    return write_csv(tmp_path / "src.csv", header or ["year", "country", "lab", "sex", "both", "oth"], rows)


def _mapping(**extra) -> Mapping:
    return Mapping.from_dict({"id": "row", "missing": ["-99", ""], "columns": {"year": "opened_date"},
                              "date_format": "%Y", "derive": {"org_id": {"constant": "SRC"}, "case_type": FLAGS},
                              **extra})


def test_flag_rules_in_order_and_unknown_when_nothing_recorded(tmp_path: Path) -> None:
    """Ordered rules: both flags -> labour_and_sexual (not forced_labour, the next rule),
    one flag -> its type, no flag set or all missing -> unknown, never other. Catches
    rules applied in the wrong order, missing flags read as set, and blank types as other."""
    src = _cases(tmp_path, [["2014", "MD", "1", "1", "0", "0"], ["2014", "MD", "1", "0", "0", "0"],
                            ["2014", "MD", "0", "1", "", ""], ["2014", "MD", "-99", "-99", "-99", "-99"],
                            ["2014", "MD", "", "", "", ""], ["2014", "MD", "0", "0", "0", "0"],
                            ["2014", "MD", "0", "0", "1", "0"], ["2014", "MD", "0", "0", "0", "1"]])
    res = load_table("cases", src, mapping=_mapping(), as_of=AS_OF)
    assert res.accepted.get_column("case_type").to_list() == [
        "labour_and_sexual", "forced_labour", "sexual_exploitation", "unknown", "unknown", "unknown",
        "labour_and_sexual", "other"]
    assert res.accepted.get_column("org_id").unique().to_list() == ["SRC"]
    assert any("unknown 3" in n for n in res.summary["notes"])


def test_absent_flag_columns_count_as_not_set_and_are_named(tmp_path: Path) -> None:
    """An extract with only some flag columns loads with the same mapping; the absent ones
    are named in a note. Catches a missing-column error (or a crash) on a partial extract."""
    src = _cases(tmp_path, [["2014", "MD", "1", "0"], ["2015", "UA", "", ""]], ["year", "country", "lab", "sex"])
    res = load_table("cases", src, mapping=_mapping(), as_of=AS_OF)
    assert res.accepted.get_column("case_type").to_list() == ["forced_labour", "unknown"]
    assert any("absent from this file, read as not set: both, oth" in n for n in res.summary["notes"])


def test_row_ids_keep_exact_copies(tmp_path: Path) -> None:
    """With id: row, exact copies (k-anonymised rows) are distinct records: none is
    rejected as duplicate_record, and the ids name file and row. Catches deduplication of
    copies, which would drop most of the CTDC data."""
    src = _cases(tmp_path, [["2014", "MD", "1", "0", "0", "0"]] * 5)
    res = load_table("cases", src, mapping=_mapping(), as_of=AS_OF)
    assert res.summary["accepted"] == 5 and res.summary["rejected"] == 0
    ids = res.accepted.get_column("case_id").to_list()
    assert [i.rsplit("/", 1)[-1] for i in ids] == [f"src.csv:{r}" for r in range(2, 7)]


def test_unreadable_flag_rejects_the_row_naming_the_column(tmp_path: Path) -> None:
    """A flag value that is neither yes/no nor a count is bad_flag, with its column and value.
    Catches a typo read silently as 'not set'."""
    src = _cases(tmp_path, [["2014", "MD", "yes", "0", "0", "0"], ["2014", "MD", "maybe", "0", "0", "0"]])
    res = load_table("cases", src, mapping=_mapping(), as_of=AS_OF)
    assert res.accepted.get_column("case_type").to_list() == ["forced_labour"]
    assert res.rejected.select("row", "column", "reason", "value").to_dicts() == [
        {"row": 3, "column": "lab", "reason": "bad_flag", "value": "maybe"}]


def test_unknown_codes_and_skipped_rows_and_concat(tmp_path: Path) -> None:
    """Declared placeholder codes become missing (never a unit called '0'); rows blank in a
    skip_when_blank column are counted as skipped, not rejected; concat builds an id.
    Catches '0' analysed as a country and skipped rows vanishing from the counts."""
    src = write_csv(tmp_path / "d.csv", ["key", "court", "year", "verdict"],
                    [["1", "A", "2014", "convicted"], ["2", "A", "", ""], ["3", "B", "2015", "dismissed"]])
    m = Mapping.from_dict({"skip_when_blank": ["year"], "date_format": "%Y", "columns": {"year": "disposition_date",
                           "verdict": "outcome"}, "derive": {"disposition_id": {"concat": ["court", "key"], "sep": "-"},
                           "person_id": {"concat": ["key"]}}, "unknown_values": {"court": ["B"]}})
    res = load_table("dispositions", src, mapping=m, as_of=AS_OF)
    assert res.summary["rows"] == 2 and res.summary["skipped"] == 1 and res.summary["accepted"] == 2
    assert res.accepted.get_column("disposition_id").to_list() == ["A-1", "B-3"]
    assert res.accepted.get_column("court").to_list() == ["A", None]


def test_mapping_round_trips_and_rejects_unknown_keys(tmp_path: Path) -> None:
    """The mapping is plain data: YAML out and back gives the same mapping; an unknown key
    or an id other than 'row' is a one-line error. Catches fields lost in to_dict."""
    m = _mapping(unknown_values={"country": ["0"]}, sheet=2, delimiter=";", as_of="2021-12-31",
                 skip_when_blank=["year"])
    m.to_yaml(tmp_path / "m.yaml")
    assert Mapping.from_yaml(tmp_path / "m.yaml") == m
    for bad in ({"idd": "row"}, {"id": "serial"}, {"derive": {"x": {"flags": [{"value": "a"}]}}}):
        with pytest.raises(InputFileError):
            Mapping.from_dict(bad)


def test_table_sections_inherit_the_top_level(tmp_path: Path) -> None:
    """A tables: section overrides what it sets and inherits the rest (missing tokens, date
    format). Catches a section that silently drops the shared settings."""
    m = Mapping.from_dict({"missing": ["-99"], "date_format": "%Y",
                           "tables": {"dispositions": {"columns": {"verdict": "outcome"}}}})
    d = m.for_table("dispositions")
    assert d.missing == ("-99",) and d.date_format == "%Y" and d.columns == {"verdict": "outcome"}


def test_mapping_as_of_is_the_extract_date(tmp_path: Path) -> None:
    """as_of in the mapping rejects later rows as future_date when no --as-of is given.
    Catches the mapping's extract date being ignored (today used instead)."""
    src = _cases(tmp_path, [["2014", "MD", "1", "0", "0", "0"], ["2022", "MD", "1", "0", "0", "0"]])
    res = load_table("cases", src, mapping=_mapping(as_of="2021-12-31"))
    assert res.rejected.get_column("reason").to_list() == ["future_date"]


CTDC = REPO / "data" / "examples" / "ctdc"


def test_the_ctdc_recipe_runs_with_the_mapping_alone(tmp_path: Path, capsys) -> None:
    """The CTDC-layout sample: every row accounted for (none dropped as a duplicate
    although most are exact copies), placeholder citizenship not a unit, the planted MD
    mix change found at 2012 as a change among recorded types, and the UA completeness
    change flagged as recording completeness. Catches deduplication, '0' as a unit,
    'unknown' folded into other, a completeness change read as a trend, and a lone-series
    dependence bound applied to 16 yearly points, too few to bound anything (6 countries
    are not pooled; at the grid's top UA's change is lost)."""
    out = tmp_path / "shifts.json"
    rc = main(["drift", str(CTDC / "sample.csv"), "--mapping", str(CTDC / "mapping.yaml"), "--freq", "year",
               "--unit", "citizenship", "--out", str(out)])
    truth = json.loads((CTDC / "truth.json").read_text())
    assert rc == 0
    doc = json.loads(out.read_text())
    inp = doc["inputs"][0]
    assert inp["rows"] == truth["n_rows"] == inp["accepted"]
    assert "0" not in {s["unit"] for s in doc["series"]}
    shifts = {(s["unit"], s["period"][:4]): s for s in doc["shifts"] if s["kind"] == "mix"}
    md, ua = shifts[("MD", "2012")], shifts[("UA", "2013")]
    assert md["status"] == "unexplained" and abs(md["effect"]["unknown_change"]) < 0.1
    assert md["effect"]["known_after"]["forced_labour"] > 0.6 > md["effect"]["known_before"]["forced_labour"]
    assert ua["status"] == "artifact_compatible" and ua["status_reason"] == "recording completeness"
    assert ua["effect"]["unknown_change"] > 0.3
    assert "74 accepted rows have no known citizenship" in capsys.readouterr().out


def test_the_ctdc_mapping_reads_a_partial_extract(tmp_path: Path) -> None:
    """The same mapping reads an extract with only year, citizenship and two flags."""
    res = load_table("cases", CTDC / "sample_minimal.csv", mapping=CTDC / "mapping.yaml", as_of="2021-12-31")
    assert res.summary["rejected"] == 0 and res.summary["accepted"] == res.summary["rows"]
    assert set(res.accepted.get_column("case_type").unique()) <= {"forced_labour", "sexual_exploitation",
                                                                  "labour_and_sexual", "unknown"}
    assert (res.accepted.get_column("opened_date_precision") == "year").all()


def test_typed_parquet_sources_read_like_their_csv(tmp_path: Path) -> None:
    """The CTDC sample as Parquet with integer flags (-99 as a number), NaN in float
    flags, and a float year column with date_format %Y gives the same case types as the
    CSV. Catches tokens applied to text columns only (662 rows rejected as bad_flag), NaN
    read as 'set' (labour_and_sexual 1,112 instead of 72), and '2014.0' as a bad date."""
    csv = load_table("cases", CTDC / "sample.csv", mapping=CTDC / "mapping.yaml", as_of="2021-12-31")
    raw = pl.read_csv(CTDC / "sample.csv", infer_schema_length=10000)
    flags = [c for c in raw.columns if c.startswith("is")]
    typed = raw.with_columns(pl.col("yearOfRegistration").cast(pl.Float64),
                             *(pl.col(c).cast(pl.Float64) for c in flags))
    nan = typed.with_columns(*(pl.when(pl.col(c).is_null()).then(float("nan")).otherwise(pl.col(c)).alias(c)
                               for c in flags))
    for name, frame in (("typed", typed), ("nan", nan)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
        res = load_table("cases", tmp_path / f"{name}.parquet", mapping=CTDC / "mapping.yaml", as_of="2021-12-31")
        assert res.summary["rejected"] == 0, (name, res.summary["reasons"])
        assert res.accepted.get_column("case_type").to_list() == csv.accepted.get_column("case_type").to_list(), name


def test_mapping_mistakes_are_named(tmp_path: Path) -> None:
    """A table section with a typo, a flag rule giving a value outside the vocabulary, and
    a YAML yes/no read as a boolean each stop with a message naming the mapping file.
    Catches a silently ignored section and advice to 'add labels' for a typo in a rule."""
    bad = {"tables": {"arrest": {"columns": {"a": "arrest_id"}}}}
    with pytest.raises(InputFileError, match="unknown table 'arrest'"):
        Mapping.from_dict(bad, "m.yaml")
    (tmp_path / "m.yaml").write_text("derive:\n  case_type: {flags: [{value: forced_labour, all: [lab]}], otherwise: unkown}\n")
    src = _cases(tmp_path, [["2014", "MD", "1", "0", "0", "0"]])
    with pytest.raises(InputFileError, match=r"m.yaml.*derive.case_type gives 'unkown'"):
        load_table("cases", src, mapping=tmp_path / "m.yaml", as_of=AS_OF)
    with pytest.raises(InputFileError, match="quote it"):
        Mapping.from_dict({"missing": [False]})


def test_row_ids_stay_distinct_across_a_folder(tmp_path: Path) -> None:
    """id: row over extracts with the same file name in two folders gives distinct ids
    (no conflicting_duplicate_id), and the combined summary keeps skipped rows and notes."""
    from tipdrift.load import load_tables

    for year in ("2019", "2020"):
        (tmp_path / year).mkdir()
        _cases(tmp_path / year, [[year, "MD", "1", "0", "0", "0"]] * 3)
    m = _mapping()
    res = load_tables("cases", [tmp_path / "2019" / "src.csv", tmp_path / "2020" / "src.csv"], mapping=m, as_of=AS_OF)
    assert res.summary["accepted"] == 6 and res.summary["rejected"] == 0
    assert res.summary["notes"] and "skipped" in res.summary
