"""Attrition: cohorts follow the same people, competing outcomes, censoring, provisional."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from tipdrift.attrition import AttritionFitter, RearrestFitter, cumulative_incidence
from tipdrift.cli import main
from tipdrift.link import TRAJECTORY_COLUMNS, link_files

D = dt.date.fromisoformat


def _traj(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in TRAJECTORY_COLUMNS}
    out = []
    for i, r in enumerate(rows):
        x = {**base, "trajectory_id": f"T{i}", "person_id": f"P{i}", "entry_stage": "arrest", "case_type": "other",
             "jurisdiction": "J1", "link_method": "key", "prosecution_link": "key", "disposition_link": "key", **r}
        out.append(x)
    schema = {c: pl.String for c in TRAJECTORY_COLUMNS}
    schema.update({c: pl.Date for c in ("arrest_date", "filing_date", "disposition_date", "next_arrest_date")})
    schema["sentence_months"] = pl.Float64
    return pl.DataFrame(out, schema=schema)


def test_cohorts_follow_their_own_people_not_calendar_years() -> None:
    # 2018 arrests convicted in 2020; 2020 arrests not yet disposed. A calendar-year ratio
    # would put 2020's convictions against 2020's prosecutions.
    rows = [{"arrest_date": D("2018-03-01"), "filing_date": D("2018-06-01"), "disposition_date": D("2020-02-01"),
             "outcome": "convicted"} for _ in range(10)]
    rows += [{"arrest_date": D("2020-03-01"), "filing_date": D("2020-05-01")} for _ in range(10)]
    fit = AttritionFitter(horizon_months=36, as_of=D("2024-12-31")).fit(_traj(rows))
    c = {r["cohort"]: r for r in fit.cohorts_.to_dicts()}
    assert c[2018]["convicted"]["estimate"] == 1.0
    assert c[2020]["convicted"]["estimate"] == 0.0
    assert c[2020]["prosecuted"]["estimate"] == 1.0


def test_competing_outcomes_and_censoring() -> None:
    rows = []
    for i in range(40):
        r = {"arrest_date": D("2015-01-01"), "filing_date": D("2015-02-01")}
        if i < 20:
            r.update(disposition_date=D("2015-08-01"), outcome="convicted")
        elif i < 30:
            r.update(disposition_date=D("2015-06-01"), outcome="dismissed")
        rows.append(r)  # the last 10 are still open at the as-of date
    rows += [{"arrest_date": D("2015-05-01")} for _ in range(10)]  # never prosecuted
    fit = AttritionFitter(horizon_months=24, as_of=D("2018-12-31")).fit(_traj(rows))
    r = fit.cohorts_.to_dicts()[0]
    assert r["entries"] == 50
    assert r["prosecuted"]["estimate"] == pytest.approx(0.8)
    assert r["convicted"]["estimate"] == pytest.approx(0.4)
    assert r["dismissed"]["estimate"] == pytest.approx(0.2)
    assert r["acquitted"]["estimate"] == 0.0
    assert r["convicted"]["ci_low"] < 0.4 < r["convicted"]["ci_high"]
    assert r["acquitted"]["ci_high"] > 0  # no acquittals in 50 is not proof of none
    assert r["provisional"] is False


def test_cif_is_not_one_minus_km_under_competition() -> None:
    import numpy as np
    from statsmodels.duration.survfunc import SurvfuncRight

    time = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0])
    status = np.array([1, 2, 0, 1, 2, 0, 1, 2, 1, 0])
    cif = cumulative_incidence(time, status, 10, 2)
    km1 = 1 - SurvfuncRight(time, (status == 1).astype(int)).surv_prob[-1]
    assert cif[0]["estimate"] < km1  # 1 - KM treats competing outcomes as censoring and overstates
    assert cif[0]["estimate"] + cif[1]["estimate"] <= 1.0


def test_recent_cohort_is_provisional_and_says_how_far_it_reaches() -> None:
    rows = [{"arrest_date": D("2024-03-01"), "filing_date": D("2024-04-01")} for _ in range(5)]
    fit = AttritionFitter(horizon_months=24, as_of=D("2024-12-31")).fit(_traj(rows))
    r = fit.cohorts_.to_dicts()[0]
    assert r["provisional"] is True
    assert r["estimated_at_months"] == pytest.approx(10.0, abs=0.1)


def test_matches_truth_for_fully_observed_cohorts(synth_dir: Path) -> None:
    res = link_files(synth_dir / "arrests.parquet", synth_dir / "prosecutions.parquet", synth_dir / "dispositions.parquet",
                     as_of="2024-12-31")
    truth = json.loads((synth_dir / "truth.json").read_text())
    fit = AttritionFitter(horizon_months=24, as_of=D(truth["as_of"])).fit(res.trajectories)
    est = {r["cohort"]: r for r in fit.cohorts_.filter(pl.col("entry_stage") == "arrest").to_dicts()}
    checked = 0
    for t in truth["attrition"]:
        if t["horizon_months"] != 24 or not t["fully_observed"]:
            continue
        e = est[t["cohort"]]
        assert e["entries"] == t["entries"]
        for k in ("prosecuted", "convicted", "dismissed", "acquitted"):
            assert abs(e[k]["estimate"] - t[k]) <= 0.02, (t["cohort"], k)
        checked += 1
    assert checked >= 8


def test_rearrest_by_sentence_band() -> None:
    rows = [{"arrest_date": D("2015-01-01"), "filing_date": D("2015-02-01"), "disposition_date": D("2015-06-01"),
             "outcome": "convicted", "sentence_months": 6.0,
             "next_arrest_date": D("2016-01-01") if i < 5 else None} for i in range(10)]
    rows += [{"arrest_date": D("2015-01-01"), "filing_date": D("2015-02-01"), "disposition_date": D("2015-06-01"),
              "outcome": "convicted", "sentence_months": 80.0} for _ in range(10)]
    fit = RearrestFitter(horizon_months=24, as_of=D("2020-12-31")).fit(_traj(rows))
    t = {r["band"]: r for r in fit.table_.to_dicts()}
    assert t["0-12 months"]["estimate"] == pytest.approx(0.5)
    assert t["60-120 months"]["estimate"] == 0.0
    assert t["0-12 months"]["rearrested_by_as_of"] == 5
    assert fit.curve_.filter(pl.col("band") == "0-12 months")["rearrested"].max() == pytest.approx(0.5)


def test_cli_link_then_attrition(synth_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "link"
    rc = main(["link", "--arrests", str(synth_dir / "arrests.parquet"), "--prosecutions", str(synth_dir / "prosecutions.parquet"),
               "--dispositions", str(synth_dir / "dispositions.parquet"), "--out", str(out), "--as-of", "2024-12-31"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["sources"]) == {"arrests", "prosecutions", "dispositions"}
    assert {"key", "person_window", "none"} <= set(summary["links"]["arrest_prosecution"])
    rc = main(["attrition", str(out / "trajectories.parquet"), "--horizon-months", "24", "--by", "case_type",
               "--out", str(tmp_path / "attrition.json")])
    assert rc == 0
    doc = json.loads((tmp_path / "attrition.json").read_text())
    assert doc["horizon_months"] == 24 and doc["as_of"]
    first = doc["cohorts"][0]
    assert set(first) >= {"cohort", "group", "entries", "prosecuted", "convicted", "dismissed", "acquitted", "provisional"}
    assert set(first["convicted"]) == {"estimate", "ci_low", "ci_high"}
    assert {c["group"] for c in doc["cohorts"]} > {"all"}
    assert doc["rearrest"]["bands"]
    assert main(["attrition", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "x.json")]) == 2


def test_no_invented_certainty_at_zero_or_one() -> None:
    """An estimate of 1 up to rounding (0.9999999999999996) with no standard error, or of 0,
    with 30 at risk gets an informative one-sided bound, never [0, 1], and no overflow
    warning. Catches the log-log transform applied at the boundary (it overflowed and
    printed "100.0% (0.0%-100.0%)")."""
    import warnings

    from tipdrift.attrition import interval

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lo, hi = interval(0.9999999999999996, 0.0, 30)
        assert hi == 1.0 and 0.85 < lo < 0.9
        lo, hi = interval(1e-17, float("nan"), 30)
        assert lo == 0.0 and 0.1 < hi < 0.15
        lo, hi = interval(0.5, 0.0, 30)  # no standard error: Wilson, not a point
        assert 0.3 < lo < 0.36 and 0.64 < hi < 0.7
        lo, hi = interval(0.999999, 1e-12, 40)
        assert not (lo == 0.0 and hi == 1.0)


def test_rearrest_says_what_it_can_see() -> None:
    """With no later arrest for anyone, re-arrest is not reported as a measured 0%:
    rearrest_observed is false and the view says so; convicted persons without a sentence
    have their own band instead of vanishing. Catches exact-looking 0% intervals from a
    table that cannot show re-arrests, and silently dropped defendants."""
    import datetime as dt

    import polars as pl

    from tipdrift.attrition import RearrestFitter

    d = dt.date
    traj = pl.DataFrame({
        "outcome": ["convicted"] * 8, "disposition_date": [d(2015, 1, 1)] * 8,
        "sentence_months": [6.0, 6.0, 24.0, 24.0, 130.0, None, None, None],
        "next_arrest_date": [None] * 8, "arrest_date": [d(2014, 1, 1)] * 8, "filing_date": [d(2014, 2, 1)] * 8,
    }, schema_overrides={"next_arrest_date": pl.Date})
    re = RearrestFitter(as_of=d(2020, 1, 1)).fit(traj)
    doc = re.to_dict()
    assert doc["rearrest_observed"] is False and doc["arrests_cover_until"] == "2014-01-01"
    bands = {b["band"]: b for b in doc["bands"]}
    assert bands["no sentence recorded"]["convicted"] == 3
    assert sum(b["convicted"] for b in doc["bands"]) == 8


def _co_defendant_world(cases: int = 250, size: int = 4, follow: float = 0.7, seed: int = 5) -> pl.DataFrame:
    """Cases of `size` co-defendants; each defendant takes the case's outcome with
    probability `follow`, else an independent draw: an intraclass correlation of follow**2."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for c in range(cases):
        case_conv = rng.random() < 0.6
        for _ in range(size):
            conv = case_conv if rng.random() < follow else rng.random() < 0.6
            rows.append({"arrest_date": D("2015-01-01"), "filing_date": D("2015-02-01"),
                         "disposition_date": D("2015-09-01"), "outcome": "convicted" if conv else "dismissed",
                         "case_id": f"K{c}"})
    return _traj(rows)


def test_co_defendants_widen_intervals_by_the_design_effect() -> None:
    """With co-defendant cases (4 per case, intraclass correlation 0.49: design effect
    1 + 3 x 0.49 = 2.47), the cluster-bootstrap interval of the conviction share is wider
    than the defendant-level one by about sqrt(2.47) = 1.57, and the fitter says which
    intervals it computed. Catches intervals that ignore case_id (ratio 1) and a bootstrap
    that resamples defendants instead of cases (ratio near 1)."""
    traj = _co_defendant_world()
    width = {}
    for cluster in ("case_id", None):
        fit = AttritionFitter(horizon_months=24, as_of=D("2018-12-31"), cluster=cluster).fit(traj)
        c = fit.cohorts_.to_dicts()[0]["convicted"]
        width[cluster] = c["ci_high"] - c["ci_low"]
        if cluster:
            assert "cluster bootstrap over case_id (250 cases" in fit.uncertainty_
        else:
            assert "per defendant" in fit.uncertainty_
    ratio = width["case_id"] / width[None]
    assert 1.3 < ratio < 1.9, ratio
    again = AttritionFitter(horizon_months=24, as_of=D("2018-12-31")).fit(traj).cohorts_
    assert again.equals(AttritionFitter(horizon_months=24, as_of=D("2018-12-31")).fit(traj).cohorts_)


def test_independent_defendants_keep_their_width_under_clustering() -> None:
    """When each case has one defendant the cluster bootstrap agrees with the
    defendant-level interval (ratio near 1). Catches a bootstrap that inflates everything."""
    traj = _co_defendant_world(cases=800, size=1)
    w = [AttritionFitter(horizon_months=24, as_of=D("2018-12-31"), cluster=c).fit(traj).cohorts_.to_dicts()[0]
         ["convicted"] for c in ("case_id", None)]
    ratio = (w[0]["ci_high"] - w[0]["ci_low"]) / (w[1]["ci_high"] - w[1]["ci_low"])
    assert 0.85 < ratio < 1.15, ratio


def test_indictment_first_is_counted_apart_not_clipped_to_zero() -> None:
    """Filings before the arrest (an indictment first, most federal cases) get their own
    share and median lead; the arrest-to-filing median uses the arrests that came first.
    Catches negative gaps clipped to 0, which made the arrest-to-filing median 0."""
    rows = [{"arrest_date": D("2015-03-01"), "filing_date": D("2015-01-01")} for _ in range(12)]  # 2 months before
    rows += [{"arrest_date": D("2015-03-01"), "filing_date": D("2015-07-01")} for _ in range(8)]  # 4 months after
    fit = AttritionFitter(horizon_months=24, as_of=D("2018-12-31"), cluster=None).fit(_traj(rows))
    d = fit.durations_.to_dicts()[0]
    assert d["filing_before_arrest"]["share"] == pytest.approx(0.6)
    assert d["filing_before_arrest"]["median_months"] == pytest.approx(59 / 30.4375, abs=0.05)
    assert d["arrest_to_filing"]["median_months"] == pytest.approx(122 / 30.4375, abs=0.05)


def test_time_to_disposition_interval_resamples_cases() -> None:
    """Co-defendants tried together share their court time: the median's interval from the
    cluster bootstrap is clearly wider than the per-defendant one. Catches medians whose
    intervals ignore case_id while the shares' intervals do not."""
    import numpy as np

    rng = np.random.default_rng(3)
    rows = []
    for c in range(150):
        days = int(rng.integers(60, 900))
        for _ in range(4):
            own = days if rng.random() < 0.8 else int(rng.integers(60, 900))
            rows.append({"arrest_date": D("2015-01-01"), "filing_date": D("2015-02-01"),
                         "disposition_date": D("2015-02-01") + dt.timedelta(days=own), "outcome": "convicted",
                         "case_id": f"K{c}"})
    traj = _traj(rows)
    width = {}
    for cluster in ("case_id", None):
        d = AttritionFitter(horizon_months=36, as_of=D("2019-12-31"), cluster=cluster).fit(traj).durations_.to_dicts()[0]
        m = d["filing_to_disposition"]
        width[cluster] = m["ci_high"] - m["ci_low"]
    assert width["case_id"] > 1.3 * width[None], width
