"""Quality profiles: each of the seven scores against a value computed by hand on a small
file, the periods (gaps, label changes, unknown share), the JSON document and the frames."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tipdrift import ParameterError, load_table
from tipdrift import quality
from tipdrift.quality import CRITERIA, FORMULAS, profile_frames, profile_source, quality_document

from conftest import REPO, write_csv

AS_OF = dt.date(2020, 6, 30)
HEADER = ["case_id", "org_id", "opened_date", "case_type", "closed_date", "country", "gender", "ageBroad"]
FL, SE, OT, FM, UN = "forced_labour", "sexual_exploitation", "other", "forced_marriage", "unknown"
# 17 accepted rows in 2014, 2015, 2016 and 2018 (no 2017); 3 rejected rows at the end.
ROWS = [
    ["C01", "ORG1", "2014-02-01", FL, "2014-05-01", "GB", "Female", "18--20"],
    ["C02", "ORG1", "2014-03-01", SE, "2014-06-01", "GB", "Male", ""],
    ["C03", "ORG1", "2014-04-01", OT, "2014-07-01", "GB", "Female", ""],
    ["C04", "ORG1", "2014-05-01", UN, "2014-08-01", "", "Female", ""],
    ["C05", "ORG1", "2015-01-10", FL, "2015-03-01", "GB", "Male", "21--23"],
    ["C06", "ORG1", "2015-02-10", SE, "2015-04-01", "GB", "Female", ""],
    ["C07", "ORG1", "2015-03-10", OT, "2015-05-01", "", "Male", ""],
    ["C08", "ORG1", "2016-01-05", FL, "2016-02-05", "GB", "Female", "24--26"],
    ["C09", "ORG1", "2016-02-05", SE, "", "GB", "Female", ""],
    ["C10", "ORG1", "2016-03-05", OT, "", "", "Male", ""],
    ["C11", "ORG1", "2016-04-05", UN, "", "GB", "Female", ""],
    ["C12", "ORG2", "2018-01-15", FL, "", "GB", "Female", "27--29"],
    ["C13", "ORG2", "2018-02-15", SE, "", "GB", "Male", ""],
    ["C14", "ORG1", "2018-03-15", OT, "", "", "Female", ""],
    ["C15", "ORG2", "2018-04-15", FM, "", "GB", "", "30--38"],
    ["C16", "ORG2", "2018-05-15", UN, "", "", "", ""],
    ["C17", "ORG2", "2018-12-31", UN, "", "GB", "Female", "18--20"],
    ["C18", "ORG1", "2016-13-45", FL, "", "GB", "Male", ""],    # bad_date
    ["C19", "ORG1", "2016-06-01", "Labor", "", "GB", "Male", ""],  # unknown_label
    ["C20", "ORG1", "2021-01-01", FL, "", "GB", "Male", ""],    # future_date
]


@pytest.fixture()
def profile(tmp_path: Path) -> quality.SourceProfile:
    path = write_csv(tmp_path / "cases.csv", HEADER, ROWS)
    return profile_source(load_table("cases", path, as_of=AS_OF), as_of=AS_OF)


def _profile(tmp_path: Path, kind: str, header: list[str], rows: list[list[str]], as_of: dt.date = AS_OF,
             **kw: object) -> quality.SourceProfile:
    path = write_csv(tmp_path / f"{kind}.csv", header, rows)
    return profile_source(load_table(kind, path, as_of=as_of), as_of=as_of, **kw)


def test_whole_source_facts(profile: quality.SourceProfile) -> None:
    """Catches counting rejected rows as records, missing the gap year, or reading a period
    as its last day instead of its first."""
    assert (profile.rows, profile.accepted, profile.rejected) == (20, 17, 3)
    assert profile.first_period == dt.date(2014, 1, 1) and profile.last_period == dt.date(2018, 1, 1)
    assert profile.gaps == [dt.date(2017, 1, 1)]
    assert [p.period.year for p in profile.periods] == [2014, 2015, 2016, 2018]
    assert [p.rows for p in profile.periods] == [4, 3, 4, 6]
    assert profile.freshness_days == 547  # 2018-12-31 to 2020-06-30
    assert profile.unit_column == "org_id" and profile.units == 2
    assert [p.units for p in profile.periods] == [1, 1, 1, 2]


def test_freshness_score(profile: quality.SourceProfile, tmp_path: Path) -> None:
    """Catches a freshness that does not fall with age, or one that goes negative (or stays
    above 0) for a last record older than three years."""
    assert profile.scores["freshness"] == round(10 * (1 - 547 / 1095), 1) == 5.0
    old = _profile(tmp_path, "cases", HEADER[:4], [["C1", "O", "2020-06-01", FL]], as_of=dt.date(2024, 12, 31))
    assert old.freshness_days == (dt.date(2024, 12, 31) - dt.date(2020, 6, 1)).days
    assert old.scores["freshness"] == 0.0


def test_definitional_consistency_counts_label_set_changes(profile: quality.SourceProfile) -> None:
    """Catches comparing against the empty gap year (two changes, not one), counting
    unknown as a label, or dividing by the number of periods instead of periods - 1."""
    assert [(c.period, c.added, c.removed) for c in profile.label_changes] == [(dt.date(2018, 1, 1), [FM], [])]
    assert profile.periods[0].labels == sorted([FL, SE, OT])
    assert profile.scores["definitional_consistency"] == round(10 * (1 - 1 / 3), 1) == 6.7


def test_completeness_score_includes_rejections_and_absent_columns(profile: quality.SourceProfile) -> None:
    """Catches ignoring the rejected share, skipping the canonical column the source lacks
    (services), or averaging demographic columns into completeness."""
    # case_id, org_id, opened_date, case_type full; closed_date 8/17; country 12/17; services 0.
    mean = (4 + 8 / 17 + 12 / 17 + 0) / 7
    assert profile.completeness["closed_date"] == pytest.approx(8 / 17)
    assert profile.completeness["services"] == 0.0
    assert profile.scores["completeness"] == round(10 * mean * (1 - 3 / 20), 1) == 6.3


def test_taxonomic_applicability_and_unknown_share(profile: quality.SourceProfile) -> None:
    """Catches counting 'other' (or 'unknown') as a specific type, or an unknown share
    computed over the whole source instead of per period."""
    assert profile.scores["taxonomic_applicability"] == round(10 * 9 / 17, 1) == 5.3
    assert [p.unknown_share for p in profile.periods] == pytest.approx([1 / 4, 0, 1 / 4, 2 / 6])


def test_temporal_coverage_scales_by_frequency(profile: quality.SourceProfile, tmp_path: Path) -> None:
    """Catches ignoring gaps, not penalising a short span, or using the yearly scale (10)
    for months (120)."""
    assert profile.scores["temporal_coverage"] == round(10 * 4 / 5 * 5 / 10, 1) == 4.0
    rows = [[f"C{i}", "O", d, FL] for i, d in enumerate(["2020-01-15", "2020-02-03", "2020-03-09", "2020-05-20"])]
    monthly = _profile(tmp_path, "cases", HEADER[:4], rows, freq="month")
    assert monthly.gaps == [dt.date(2020, 4, 1)]
    assert monthly.scores["temporal_coverage"] == round(10 * 4 / 5 * 5 / 120, 1) == 0.3
    yearly = _profile(tmp_path, "cases", HEADER[:4], rows)
    assert yearly.scores["temporal_coverage"] == 1.0  # the same records by year: 10 * 1/1 * 1/10


def test_geographic_coverage(profile: quality.SourceProfile, tmp_path: Path) -> None:
    """Catches counting org_id (who recorded a case) as geography, or counting a column
    present but blank."""
    assert profile.geographic_fields == ["country"]
    assert profile.scores["geographic_coverage"] == round(10 * 12 / 17, 1) == 7.1
    no_geo = _profile(tmp_path, "cases", HEADER[:4], [r[:4] for r in ROWS[:17]])
    assert no_geo.geographic_fields == [] and no_geo.scores["geographic_coverage"] == 0.0


def test_demographic_coverage(profile: quality.SourceProfile, tmp_path: Path) -> None:
    """Catches a case-sensitive field match, not scaling by fields present / 3, or not
    capping that factor at 1 when more than three fields are present."""
    assert profile.demographic_fields == ["gender", "ageBroad"]
    assert profile.scores["demographic_coverage"] == round(10 * (15 / 17 + 6 / 17) / 2 * 2 / 3, 1) == 4.1
    header = HEADER[:4] + ["GENDER", "Age_Group", "nationality", "MajorityStatus"]
    rows = [["C1", "O", "2020-01-01", FL, "F", "adult", "NG", "Adult"], ["C2", "O", "2020-01-02", FL, "M", "", "", "Minor"]]
    four = _profile(tmp_path, "cases", header, rows)
    assert four.demographic_fields == ["GENDER", "Age_Group", "nationality", "MajorityStatus"]
    assert four.scores["demographic_coverage"] == 10 * (1 + 0.5 + 0.5 + 1) / 4 == 7.5
    none = _profile(tmp_path, "cases", HEADER[:4], [r[:4] for r in ROWS[:17]])
    assert none.demographic_fields == [] and none.scores["demographic_coverage"] == 0.0


def test_tables_without_case_type_and_units(tmp_path: Path) -> None:
    """Catches scoring taxonomy for a table that has no case types (it is not applicable),
    or inventing a unit where the table has none."""
    header = ["disposition_id", "person_id", "disposition_date", "outcome"]
    disp = _profile(tmp_path, "dispositions", header, [["D1", "P1", "2019-05-01", "convicted"]])
    assert disp.scores["taxonomic_applicability"] is None
    assert disp.scores["definitional_consistency"] is None
    assert disp.unit_column is None and disp.units is None
    assert disp.periods[0].unknown_share is None
    arrests = _profile(tmp_path, "arrests", ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"],
                       [["A1", "P1", "2019-05-01", "J1", FL], ["A2", "P2", "2019-06-01", "J2", UN]])
    assert arrests.unit_column == "jurisdiction" and arrests.units == 2
    assert arrests.scores["geographic_coverage"] == 10.0 and arrests.scores["taxonomic_applicability"] == 5.0


def test_year_only_dates_fall_back_to_year(tmp_path: Path) -> None:
    """Catches placing year-only dates in January of a monthly profile (an invented month)."""
    rows = [["C1", "O", "2015", FL], ["C2", "O", "2016-03-04", SE]]
    p = _profile(tmp_path, "cases", HEADER[:4], rows, freq="month")
    assert p.freq == "year" and [x.period for x in p.periods] == [dt.date(2015, 1, 1), dt.date(2016, 1, 1)]
    assert any("year only" in n for n in p.notes)
    with pytest.raises(ParameterError):
        _profile(tmp_path, "cases", HEADER[:4], rows, freq="week")


def test_ctdc_sample_scores_lower_taxonomy_than_synthetic() -> None:
    """Catches a taxonomy score that ignores 'unknown' (CTDC leaves ~43% of types
    unrecorded; the synthetic cases record every type)."""
    ctdc = profile_source(load_table("cases", REPO / "data/examples/ctdc/sample.csv",
                                     mapping=REPO / "data/examples/ctdc/mapping.yaml", as_of="2021-12-31"),
                          as_of=dt.date(2021, 12, 31), freq="month")
    synth = profile_source(load_table("cases", REPO / "data/synthetic/cases.parquet", as_of="2024-12-31"),
                           as_of=dt.date(2024, 12, 31))
    unknown = sum(p.rows * p.unknown_share for p in ctdc.periods) / sum(p.rows for p in ctdc.periods)
    assert 0.40 < unknown < 0.46
    assert ctdc.freq == "year"  # year-only registration dates
    assert ctdc.scores["taxonomic_applicability"] <= synth.scores["taxonomic_applicability"] - 3
    assert synth.scores["taxonomic_applicability"] >= 9.0
    assert ctdc.demographic_fields == ["gender", "ageBroad", "majorityStatus", "citizenship"]


def test_document_round_trips_and_holds_no_record_values(profile: quality.SourceProfile) -> None:
    """Catches dates or numpy values that json cannot write, and ids or person values
    (case ids, org ids, gender, age) leaking into the document."""
    doc = quality_document([profile])
    text = json.dumps(doc)
    assert json.loads(text) == doc
    assert doc["criteria"] == list(CRITERIA) and set(doc["formulas"]) == set(CRITERIA)
    assert doc["sources"][0]["gaps"] == ["2017-01-01"]
    assert doc["sources"][0]["label_changes"] == [{"period": "2018-01-01", "added": [FM], "removed": []}]
    for value in ("C01", "C17", "ORG1", "ORG2", "Female", "18--20", "GB"):
        assert value not in text


def test_profile_frames(profile: quality.SourceProfile) -> None:
    """Catches a heat-map frame that drops 'not applicable' criteria, or a completeness over
    time that averages demographic fields in with the canonical columns."""
    scores, series = profile_frames(quality_document([profile]))
    assert scores.height == 7 and scores.columns == ["source", "criterion", "score"]
    assert dict(zip(scores["criterion"], scores["score"])) == profile.scores
    row = series.filter(series["period"] == dt.date(2018, 1, 1))
    got = dict(zip(row["measure"], row["value"]))
    assert got["completeness"] == pytest.approx((4 + 0 + 4 / 6 + 0) / 7, abs=1e-4)
    assert got["unknown_share"] == pytest.approx(2 / 6, abs=1e-4)
    assert series.columns == ["source", "period", "measure", "value"]


def test_deterministic_under_row_order(tmp_path: Path) -> None:
    """Catches labels, fields or periods listed in the order rows happen to arrive."""
    a = write_csv(tmp_path / "a.csv", HEADER, ROWS)
    b = write_csv(tmp_path / "b.csv", HEADER, ROWS[::-1])
    ja, jb = (profile_source(load_table("cases", p, as_of=AS_OF), as_of=AS_OF).to_json() for p in (a, b))
    ja.pop("source"), jb.pop("source")
    assert ja == jb


def test_formulas_match_docstrings() -> None:
    """Catches a formula changed in code (docstring) but not in FORMULAS (README), or back."""
    for name in CRITERIA:
        doc = getattr(quality, f"score_{name}").__doc__
        assert " ".join(FORMULAS[name].split()) == " ".join(doc.split())


def test_undated_rows_are_noted(tmp_path: Path) -> None:
    """Catches dropping records without the chosen date from the whole-source shares, or
    doing so silently."""
    p = profile_source(load_table("cases", write_csv(tmp_path / "c.csv", HEADER, ROWS[:17]), as_of=AS_OF),
                       as_of=AS_OF, date="closed_date")
    assert sum(x.rows for x in p.periods) == 8
    assert any("9 of 17" in n for n in p.notes)
    assert p.completeness["country"] == pytest.approx(12 / 17)
