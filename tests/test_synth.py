"""The synthetic generator: reproducible, and its truth is visible in the data it writes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from tipdrift.testing.synth import SynthConfig, generate


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, ta = generate(SynthConfig(seed=3, scale=0.2))
    b, tb = generate(SynthConfig(seed=3, scale=0.2))
    c, _ = generate(SynthConfig(seed=4, scale=0.2))
    for k in a:
        assert a[k].equals(b[k]), k
    assert json.dumps(ta, sort_keys=True) == json.dumps(tb, sort_keys=True)
    assert not a["cases"].equals(c["cases"])


def test_hard_parts_are_present(synth_dir: Path) -> None:
    truth = json.loads((synth_dir / "truth.json").read_text())
    arrests = pl.read_parquet(synth_dir / "arrests.parquet")
    pros = pl.read_parquet(synth_dir / "prosecutions.parquet")
    disp = pl.read_parquet(synth_dir / "dispositions.parquet")
    # persons arrested more than once
    assert arrests["person_id"].is_duplicated().sum() > 0.05 * arrests.height
    # keys present and absent
    assert 0.3 < pros["arrest_id"].is_not_null().mean() < 0.8
    assert 0.5 < disp["prosecution_id"].is_not_null().mean() < 0.9
    # indictment first: filing before the truly linked arrest
    links = pl.DataFrame(truth["links"]["arrest_prosecution"], schema=["arrest_id", "prosecution_id"], orient="row")
    j = links.join(arrests, on="arrest_id").join(pros.drop("arrest_id"), on="prosecution_id", suffix="_p")
    n_indict = (j["filing_date"] < j["arrest_date"]).sum()
    assert n_indict == truth["counts"]["indictment_first"] > 0
    assert (j["person_id"] == j["person_id_p"]).all()
    # pending at the extract date: prosecutions with no disposition
    pd_links = {p for p, _ in truth["links"]["prosecution_disposition"]}
    assert pros.height - len(pd_links) == truth["counts"]["pending_prosecutions"] > 0
    # nothing dated after the extract
    as_of = pl.Series([truth["as_of"]]).str.to_date()[0]
    for df, col in ((arrests, "arrest_date"), (pros, "filing_date"), (disp, "disposition_date")):
        assert df[col].max() <= as_of


def test_planted_shifts_appear_in_monthly_mixes(synth_dir: Path) -> None:
    truth = json.loads((synth_dir / "truth.json").read_text())
    cases = pl.read_parquet(synth_dir / "cases.parquet")
    cats = truth["case_mix"]["categories"]
    checked = 0
    for unit in truth["case_mix"]["units"]:
        for s in unit["shifts"]:
            if s["tvd"] < 0.15 or unit["cases_per_month"] < 15:
                continue
            t = pl.Series([s["period"]]).str.to_date()[0]
            df = cases.filter(pl.col("org_id") == unit["unit"])
            near = df.filter((pl.col("opened_date") >= t.replace(year=t.year - 1)) & (pl.col("opened_date") < t.replace(year=t.year + 1)))
            before = near.filter(pl.col("opened_date") < t)["case_type"].value_counts(normalize=True)
            after = near.filter(pl.col("opened_date") >= t)["case_type"].value_counts(normalize=True)

            def share(vc: pl.DataFrame) -> np.ndarray:
                d = dict(vc.rows())
                return np.array([d.get(c, 0.0) for c in cats])

            observed_tvd = 0.5 * np.abs(share(after) - share(before)).sum()
            # the year after differs from the year before by about the planted distance
            assert observed_tvd > 0.5 * s["tvd"], (unit["unit"], s)
            moved = cats.index(s["category"])
            assert share(after)[moved] > share(before)[moved], (unit["unit"], s)
            checked += 1
    assert checked >= 3


def test_context_log_matches_truth(synth_dir: Path) -> None:
    truth = json.loads((synth_dir / "truth.json").read_text())
    events = pl.read_csv(synth_dir / "context_log" / "events.csv")
    ids = set(events["event_id"].to_list())
    assert events["event_id"].n_unique() == events.height
    causes = [s for u in truth["case_mix"]["units"] for s in u["shifts"]]
    assert {s["cause"] for s in causes} >= {"funding", "none"}
    for s in causes:
        assert (s["event_id"] is None) == (s["cause"] == "none")
        if s["event_id"]:
            assert s["event_id"] in ids
    decoys = [e for u in truth["case_mix"]["units"] for e in u["decoy_events"]]
    assert decoys and set(decoys) <= ids
    no_shift = [u for u in truth["case_mix"]["units"] if not u["shifts"]]
    assert len(no_shift) >= 2
    joiner = [u for u in truth["case_mix"]["units"] if u["joins"]]
    assert len(joiner) == 1
    cases = pl.read_parquet(synth_dir / "cases.parquet")
    first = cases.filter(pl.col("org_id") == joiner[0]["unit"])["opened_date"].min()
    assert str(first)[:7] == joiner[0]["first_period"][:7]


def test_overdispersion_is_mild_but_present() -> None:
    tables, truth = generate(SynthConfig(seed=5, scale=1.0))
    cases = tables["cases"]
    # Pearson X^2/df within a unit's no-shift units (constant shares): above 1, below 3.
    ratios = []
    for unit in truth["case_mix"]["units"]:
        if unit["shifts"] or unit["joins"]:
            continue
        m = (cases.filter(pl.col("org_id") == unit["unit"])
             .with_columns(pl.col("opened_date").dt.truncate("1mo").alias("m"))
             .group_by("m", "case_type").len().pivot(on="case_type", index="m", values="len").fill_null(0))
        y = m.drop("m").to_numpy().astype(float)
        n = y.sum(1, keepdims=True)
        p = y.sum(0) / y.sum()
        keep = p > 0
        e = n * p[keep]
        x2 = ((y[:, keep] - e) ** 2 / e).sum()
        ratios.append(x2 / ((len(y) - 1) * (keep.sum() - 1)))
    assert 1.05 < float(np.median(ratios)) < 3.0


def test_million_arrests_scale_generates(tmp_path: Path) -> None:
    # Not a timing test: checks the arrays path works at scale (about 50x the committed set).
    tables, truth = generate(SynthConfig(seed=1, scale=10.0, organisations=2))
    assert tables["arrests"].height > 150_000
    assert tables["arrests"]["arrest_id"].n_unique() == tables["arrests"].height
