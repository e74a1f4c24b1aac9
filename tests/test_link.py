"""Linkage: keys, windows both ways, preferences, one-to-one, rejections, reconciliation."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tipdrift.link import link_files, link_trajectories

D = dt.date.fromisoformat


def _arrests(rows):  # (arrest_id, person, date, jurisdiction, case_type)
    return pl.DataFrame([(a, p, D(d), j, c) for a, p, d, j, c in rows],
                        schema=["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"], orient="row")


def _pros(rows):  # (prosecution_id, person, date, jurisdiction, case_type, arrest_id)
    return pl.DataFrame([(f, p, D(d), j, c, k) for f, p, d, j, c, k in rows],
                        schema=["prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type", "arrest_id"],
                        orient="row")


def _disp(rows):  # (disposition_id, person, date, outcome, prosecution_id, sentence)
    return pl.DataFrame([(i, p, D(d), o, k, s) for i, p, d, o, k, s in rows],
                        schema={"disposition_id": pl.String, "person_id": pl.String, "disposition_date": pl.Date,
                                "outcome": pl.String, "prosecution_id": pl.String, "sentence_months": pl.Float64},
                        orient="row")


def _pairs(res, left: str, right: str) -> dict[str, str]:
    t = res.trajectories.filter(pl.col(left).is_not_null() & pl.col(right).is_not_null())
    return dict(t.select(left, right).iter_rows())


def test_keys_windows_and_preferences() -> None:
    arrests = _arrests([
        ("A1", "P1", "2015-01-10", "J1", "forced_labour"),
        ("A2", "P2", "2016-05-01", "J1", "forced_labour"),        # indictment first: filed 3 months earlier
        ("A3", "P3", "2015-01-01", "J1", "sexual_exploitation"),   # first arrest, not prosecuted
        ("A4", "P3", "2015-09-01", "J1", "sexual_exploitation"),   # second arrest: the filing follows it
        ("A5", "P4", "2017-01-01", "J2", "other"),                 # nearer, but other jurisdiction and type
        ("A6", "P4", "2017-04-01", "J1", "forced_labour"),         # same jurisdiction and type: preferred
        ("A7", "P5", "2012-01-01", "J1", "other"),                 # keyed link beyond any window
    ])
    pros = _pros([
        ("F1", "P1", "2015-03-01", "J1", "forced_labour", "A1"),
        ("F2", "P2", "2016-02-01", "J1", "forced_labour", None),
        ("F3", "P3", "2015-10-01", "J1", "sexual_exploitation", None),
        ("F4", "P4", "2017-02-01", "J1", "forced_labour", None),
        ("F5", "P5", "2016-01-01", "J1", "other", "A7"),
        ("F6", "P6", "2016-01-01", "J1", "other", "A999"),         # dangling key, no arrest for this person
    ])
    res = link_trajectories(arrests, pros, _disp([]))
    ap = _pairs(res, "arrest_id", "prosecution_id")
    assert ap == {"A1": "F1", "A2": "F2", "A4": "F3", "A6": "F4", "A7": "F5"}
    t = res.trajectories
    methods = dict(t.select("prosecution_id", "link_method").drop_nulls().iter_rows())
    assert methods["F1"] == "key" and methods["F2"] == "person_window" and methods["F5"] == "key"
    assert t.filter(pl.col("prosecution_id") == "F6")["entry_stage"].item() == "prosecution"
    assert t.filter(pl.col("arrest_id") == "A3")["link_method"].item() == "none"
    assert res.summary["links"]["arrest_prosecution"] == {"key": 2, "person_window": 3, "none": 1, "link_rate": 0.8333}


def test_links_are_one_to_one_and_windows_bound() -> None:
    arrests = _arrests([("A1", "P1", "2015-01-01", "J1", "other")])
    pros = _pros([("F1", "P1", "2015-02-01", "J1", "other", None),
                  ("F2", "P1", "2015-03-01", "J1", "other", None),
                  ("F3", "P9", "2015-03-01", "J1", "other", None)])
    res = link_trajectories(arrests, pros, _disp([]), window_months=24)
    assert _pairs(res, "arrest_id", "prosecution_id") == {"A1": "F1"}
    assert res.trajectories.height == 3
    far = link_trajectories(arrests, _pros([("F1", "P1", "2018-02-01", "J1", "other", None)]), _disp([]), window_months=24)
    assert _pairs(far, "arrest_id", "prosecution_id") == {}


def test_dispositions_never_precede_their_filing() -> None:
    """A keyed disposition dated before its filing is `disposition_before_filing`; a keyless
    one that precedes every filing of its person is kept as its own trajectory (its filing
    may predate the extract) and counted, never silent. Catches a disposition linked to a
    later filing, and keyless ones before their filings vanishing without a count."""
    arrests = _arrests([("A1", "P1", "2015-01-01", "J1", "other")])
    pros = _pros([("F1", "P1", "2015-02-01", "J1", "other", "A1"),
                  ("F2", "P2", "2015-06-01", "J1", "other", None)])
    disp = _disp([
        ("D1", "P1", "2014-12-01", "convicted", None, 12.0),  # keyless, before the only filing: kept, counted
        ("D2", "P1", "2016-01-01", "dismissed", None, None),  # keyless, after: linked to F1
        ("D3", "P2", "2015-05-01", "convicted", "F2", 6.0),   # keyed but before its filing: rejected
        ("D4", "P7", "2015-05-01", "convicted", None, 6.0),   # no filing for P7 in the extract: its own row
    ])
    res = link_trajectories(arrests, pros, disp)
    assert _pairs(res, "prosecution_id", "disposition_id") == {"F1": "D2"}
    assert res.rejected["record_id"].to_list() == ["D3"]
    assert res.rejected["reason"].to_list() == ["disposition_before_filing"]
    for d in ("D1", "D4"):
        assert res.trajectories.filter(pl.col("disposition_id") == d)["entry_stage"].item() == "disposition"
    assert res.summary["links"]["prosecution_disposition"]["keyless_before_filing"] == 1


def test_year_only_dispositions_link_without_invented_days() -> None:
    """A disposition known only to the year (termination year 2014) links to a filing of
    2014-03-09, keyed or not: the year is an interval that reaches past the filing. One of
    2013 keyed to a 2014 filing is before it and rejected (keyless: not linked). Catches 1 January invented for the year, which
    rejects the first as dated before its filing."""
    arrests = _arrests([("A1", "P1", "2014-02-01", "J1", "other")])
    pros = _pros([("F1", "P1", "2014-03-09", "J1", "other", "A1"), ("F2", "P2", "2014-03-09", "J1", "other", None)])
    disp = _disp([("D1", "P1", "2014-01-01", "convicted", "F1", 12.0), ("D2", "P2", "2013-01-01", "convicted", "F2", 6.0)])
    disp = disp.with_columns(pl.lit("year").alias("disposition_date_precision"))
    for keyed, d in ((True, disp), (False, disp.with_columns(pl.lit(None, pl.String).alias("prosecution_id")))):
        res = link_trajectories(arrests, pros, d)
        assert _pairs(res, "prosecution_id", "disposition_id") == {"F1": "D1"}
        assert res.rejected["record_id"].to_list() == (["D2"] if keyed else [])
        row = res.trajectories.filter(pl.col("disposition_id") == "D1")
        assert row["disposition_date_precision"].item() == "year"


def test_next_arrest_after_disposition() -> None:
    arrests = _arrests([("A1", "P1", "2015-01-01", "J1", "other"), ("A2", "P1", "2019-06-01", "J1", "other"),
                        ("A3", "P1", "2015-03-01", "J1", "other")])  # before the disposition: not "next"
    pros = _pros([("F1", "P1", "2015-02-01", "J1", "other", "A1")])
    disp = _disp([("D1", "P1", "2016-01-01", "convicted", "F1", 24.0)])
    res = link_trajectories(arrests, pros, disp)
    row = res.trajectories.filter(pl.col("arrest_id") == "A1")
    assert row["next_arrest_date"].item() == D("2019-06-01")


def test_synthetic_links_match_truth_and_reconcile(synth_dir: Path, tmp_path: Path) -> None:
    res = link_files(synth_dir / "arrests.parquet", synth_dir / "prosecutions.parquet", synth_dir / "dispositions.parquet",
                     as_of="2024-12-31")
    truth = json.loads((synth_dir / "truth.json").read_text())
    for name, (l, r) in (("arrest_prosecution", ("arrest_id", "prosecution_id")),
                         ("prosecution_disposition", ("prosecution_id", "disposition_id"))):
        true = set(map(tuple, truth["links"][name]))
        got = set(_pairs(res, l, r).items())
        tp = len(true & got)
        assert tp / len(got) >= 0.98 and tp / len(true) >= 0.98, name
    # indictment-first and keyless records are among the correct links
    t = res.trajectories
    assert t.filter((pl.col("filing_date") < pl.col("arrest_date")) & (pl.col("prosecution_link") == "person_window")).height > 0
    for kind, col in (("arrests", "arrest_id"), ("prosecutions", "prosecution_id"), ("dispositions", "disposition_id")):
        s = res.summary["sources"][kind]
        assert s["accepted"] + s["rejected"] == s["rows"]
        assert t[col].drop_nulls().n_unique() == t[col].drop_nulls().len() == s["accepted"]
    written = res.write(tmp_path / "out")
    assert pl.read_parquet(written["trajectories"]).height == t.height
    assert "person_id" in t.columns  # kept in the analysis file; reports never show it


people = st.sampled_from(["P1", "P2", "P3"])
days = st.integers(0, 2000).map(lambda d: (D("2015-01-01") + dt.timedelta(days=d)).isoformat())


@settings(max_examples=60, deadline=None)
@given(a=st.lists(st.tuples(people, days, st.sampled_from(["J1", "J2"])), max_size=8),
       p=st.lists(st.tuples(people, days, st.sampled_from(["J1", "J2"]), st.integers(-1, 9)), max_size=8),
       d=st.lists(st.tuples(people, days, st.sampled_from(["convicted", "dismissed", "acquitted"]), st.integers(-1, 9)),
                  max_size=8))
def test_every_record_in_exactly_one_trajectory(a, p, d) -> None:
    arrests = _arrests([(f"A{i}", pp, dd, j, "other") for i, (pp, dd, j) in enumerate(a)])
    pros = _pros([(f"F{i}", pp, dd, j, "other", f"A{k}" if k >= 0 else None) for i, (pp, dd, j, k) in enumerate(p)])
    disp = _disp([(f"D{i}", pp, dd, o, f"F{k}" if k >= 0 else None, None) for i, (pp, dd, o, k) in enumerate(d)])
    res = link_trajectories(arrests, pros, disp)
    t = res.trajectories
    assert sorted(t["arrest_id"].drop_nulls().to_list()) == sorted(arrests["arrest_id"].to_list())
    assert sorted(t["prosecution_id"].drop_nulls().to_list()) == sorted(pros["prosecution_id"].to_list())
    placed = t["disposition_id"].drop_nulls().to_list() + res.rejected["record_id"].to_list()
    assert sorted(placed) == sorted(disp["disposition_id"].to_list())
    linked = t.filter(pl.col("disposition_id").is_not_null() & pl.col("filing_date").is_not_null())
    assert (linked["disposition_date"] >= linked["filing_date"]).all()
    assert t["trajectory_id"].n_unique() == t.height


def test_link_loaded_reconciles_linkage_rejections(tmp_path: Path) -> None:
    from conftest import write_csv

    from tipdrift.link import link_loaded
    from tipdrift.load import load_table

    a = write_csv(tmp_path / "a.csv", ["arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type"],
                  [["A1", "P1", "2015-01-01", "J1", "other"]])
    p = write_csv(tmp_path / "p.csv", ["prosecution_id", "person_id", "filing_date", "jurisdiction", "case_type", "arrest_id"],
                  [["F1", "P1", "2015-06-01", "J1", "other", "A1"]])
    d = write_csv(tmp_path / "d.csv", ["disposition_id", "person_id", "disposition_date", "outcome", "prosecution_id"],
                  [["D1", "P1", "2015-03-01", "convicted", "F1"], ["D2", "P1", "2015-09-01", "dismissed", ""]])
    loads = {k: load_table(k, f, as_of="2024-12-31") for k, f in (("arrests", a), ("prosecutions", p), ("dispositions", d))}
    res = link_loaded(loads)
    s = res.summary["sources"]["dispositions"]
    assert (s["rows"], s["accepted"], s["rejected"]) == (2, 1, 1)
    assert s["reasons"] == {"disposition_before_filing": 1}
    assert res.rejected.select("source", "record_id", "reason").rows() == [(str(d), "D1", "disposition_before_filing")]
