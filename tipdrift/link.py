"""Link arrests, prosecutions and dispositions into defendant-case trajectories.

The unit is the defendant-case (one person in one matter), as in the US Federal Justice
Statistics Program. Links, one-to-one:
- arrest -> prosecution: by `arrest_id` on the prosecution when it names a known arrest;
  otherwise by `person_id` and a date window that runs both ways (a sealed indictment is
  filed before the arrest), preferring the same jurisdiction and case type, then the
  nearest date;
- prosecution -> disposition: by `prosecution_id` on the disposition; otherwise by
  `person_id`, the nearest disposition on or after the filing within a window. A
  disposition is never linked to a filing after it; a keyed disposition dated before its
  filing is rejected (`disposition_before_filing`).
Window candidates are resolved by iterated mutual best choice, which for a strict order
(mismatches, day gap, ids) gives the same pairs as a global greedy assignment.

Every accepted record appears in exactly one trajectory row; every other row is in the
rejected table with a reason, and the counts reconcile per source.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tipdrift.load import LoadResult, empty_rejected, load_table
from tipdrift.mapping import Mapping
from tipdrift.timeutil import MONTH_DAYS

TRAJECTORY_COLUMNS = [
    "trajectory_id", "person_id", "arrest_id", "arrest_date", "prosecution_id", "filing_date", "disposition_id",
    "disposition_date", "outcome", "sentence_months", "jurisdiction", "case_type", "entry_stage", "link_method",
    "prosecution_link", "disposition_link", "filing_jurisdiction", "filing_case_type", "next_arrest_date",
]


@dataclass
class LinkResult:
    """Trajectories, the rejected rows of every source, and the reconciled counts."""

    trajectories: pl.DataFrame
    rejected: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> dict[str, str]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.trajectories.write_parquet(out / "trajectories.parquet")
        self.rejected.write_csv(out / "rejected.csv")
        (out / "summary.json").write_text(json.dumps(self.summary, indent=1) + "\n")
        return {k: str(out / f) for k, f in (("trajectories", "trajectories.parquet"), ("rejected", "rejected.csv"),
                                              ("summary", "summary.json"))}


def _mutual_best(cand: pl.DataFrame, left: str, right: str, order: list[str]) -> pl.DataFrame:
    """One-to-one pairs from candidate pairs: repeatedly accept pairs that are each other's
    first choice under `order` (ties broken by the ids), drop their rows, and repeat."""
    order = order + [left, right]
    accepted: list[pl.DataFrame] = []
    cand = cand.sort(order)
    while cand.height:
        best_l = cand.group_by(left, maintain_order=True).first().select(left, right)
        best_r = cand.group_by(right, maintain_order=True).first().select(left, right)
        mutual = best_l.join(best_r, on=[left, right], how="inner")
        accepted.append(cand.join(mutual, on=[left, right], how="semi"))
        cand = cand.join(mutual.select(left), on=left, how="anti").join(mutual.select(right), on=right, how="anti")
    if not accepted:
        return cand
    return pl.concat(accepted)


def link_arrests_prosecutions(arrests: pl.DataFrame, prosecutions: pl.DataFrame, window_days: float) -> pl.DataFrame:
    """Pairs (arrest_id, prosecution_id, prosecution_link) with prosecution_link in {key, person_window}."""
    a = arrests.select("arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type")
    p = prosecutions.select("prosecution_id", pl.col("person_id").alias("p_person"), "filing_date",
                            pl.col("jurisdiction").alias("p_jur"), pl.col("case_type").alias("p_ct"),
                            pl.col("arrest_id").alias("key"))
    # Key links: the named arrest exists. One prosecution per arrest (the earliest filing).
    key = (p.filter(pl.col("key").is_not_null())
           .join(a.select("arrest_id"), left_on="key", right_on="arrest_id", how="semi")
           .sort("filing_date", "prosecution_id")
           .unique(subset="key", keep="first", maintain_order=True)
           .select(pl.col("key").alias("arrest_id"), "prosecution_id"))
    rest_p = p.join(key.select("prosecution_id"), on="prosecution_id", how="anti")
    rest_a = a.join(key.select("arrest_id"), on="arrest_id", how="anti")
    cand = (rest_p.join(rest_a, left_on="p_person", right_on="person_id", how="inner")
            .with_columns((pl.col("filing_date") - pl.col("arrest_date")).dt.total_days().abs().alias("gap"))
            .filter(pl.col("gap") <= window_days)
            .with_columns(((pl.col("p_jur") != pl.col("jurisdiction")).cast(pl.Int8)
                           + (pl.col("p_ct") != pl.col("case_type")).cast(pl.Int8)).alias("mismatch"))
            .select("arrest_id", "prosecution_id", "mismatch", "gap"))
    window = _mutual_best(cand, "prosecution_id", "arrest_id", ["mismatch", "gap"]).select("arrest_id", "prosecution_id")
    return pl.concat([key.with_columns(pl.lit("key").alias("prosecution_link")),
                      window.with_columns(pl.lit("person_window").alias("prosecution_link"))])


def link_prosecutions_dispositions(prosecutions: pl.DataFrame, dispositions: pl.DataFrame,
                                   window_days: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs (prosecution_id, disposition_id, disposition_link), and keyed dispositions dated
    before their filing (to be rejected)."""
    p = prosecutions.select("prosecution_id", "person_id", "filing_date")
    d = dispositions.select("disposition_id", pl.col("person_id").alias("d_person"), "disposition_date",
                            pl.col("prosecution_id").alias("key"))
    keyed = d.filter(pl.col("key").is_not_null()).join(p, left_on="key", right_on="prosecution_id", how="inner")
    before = keyed.filter(pl.col("disposition_date") < pl.col("filing_date")).select("disposition_id", "key")
    key = (keyed.filter(pl.col("disposition_date") >= pl.col("filing_date"))
           .sort("disposition_date", "disposition_id")
           .unique(subset="key", keep="first", maintain_order=True)
           .select(pl.col("key").alias("prosecution_id"), "disposition_id"))
    rest_d = d.join(key.select("disposition_id"), on="disposition_id", how="anti").join(before, on="disposition_id", how="anti")
    rest_p = p.join(key.select("prosecution_id"), on="prosecution_id", how="anti")
    cand = (rest_d.join(rest_p, left_on="d_person", right_on="person_id", how="inner")
            .with_columns((pl.col("disposition_date") - pl.col("filing_date")).dt.total_days().alias("gap"))
            .filter((pl.col("gap") >= 0) & (pl.col("gap") <= window_days))
            .select("prosecution_id", "disposition_id", "gap"))
    window = _mutual_best(cand, "disposition_id", "prosecution_id", ["gap"]).select("prosecution_id", "disposition_id")
    pairs = pl.concat([key.with_columns(pl.lit("key").alias("disposition_link")),
                       window.with_columns(pl.lit("person_window").alias("disposition_link"))])
    return pairs, before


_TYPES = {
    "arrests": {"arrest_id": pl.String, "person_id": pl.String, "arrest_date": pl.Date, "jurisdiction": pl.String,
                "case_type": pl.String},
    "prosecutions": {"prosecution_id": pl.String, "person_id": pl.String, "filing_date": pl.Date,
                     "jurisdiction": pl.String, "case_type": pl.String, "arrest_id": pl.String},
    "dispositions": {"disposition_id": pl.String, "person_id": pl.String, "disposition_date": pl.Date,
                     "outcome": pl.String, "prosecution_id": pl.String, "sentence_months": pl.Float64},
}


def _conform(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Canonical column types (an all-blank column may arrive untyped); optional columns added."""
    types = _TYPES[kind]
    return df.with_columns([(pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c) for c, t in types.items()])


def link_trajectories(arrests: pl.DataFrame, prosecutions: pl.DataFrame, dispositions: pl.DataFrame,
                      window_months: float = 24, disposition_window_months: float = 60) -> LinkResult:
    """Link accepted records (canonical schema) into trajectories; see the module docstring."""
    arrests = _conform(arrests, "arrests")
    prosecutions = _conform(prosecutions, "prosecutions")
    dispositions = _conform(dispositions, "dispositions")
    ap = link_arrests_prosecutions(arrests, prosecutions, window_months * MONTH_DAYS)
    pd_, before = link_prosecutions_dispositions(prosecutions, dispositions, disposition_window_months * MONTH_DAYS)
    disp_ok = dispositions.join(before.select("disposition_id"), on="disposition_id", how="anti")
    rejected_link = (dispositions.join(before, on="disposition_id", how="semi")
                     .select(pl.lit("dispositions").alias("source"), pl.lit(None, pl.Int64).alias("row"),
                             pl.col("disposition_id").alias("record_id"), pl.lit("disposition_date").alias("column"),
                             pl.lit("disposition_before_filing").alias("reason"),
                             pl.col("disposition_date").cast(pl.String).alias("value")))

    a = arrests.select("arrest_id", "person_id", "arrest_date", "jurisdiction", "case_type")
    p = prosecutions.select("prosecution_id", pl.col("person_id").alias("p_person"), "filing_date",
                            pl.col("jurisdiction").alias("filing_jurisdiction"), pl.col("case_type").alias("filing_case_type"))
    d = disp_ok.select("disposition_id", pl.col("person_id").alias("d_person"), "disposition_date", "outcome",
                       "sentence_months")
    # prosecution + its disposition
    pdx = (p.join(pd_, on="prosecution_id", how="left")
           .join(d, on="disposition_id", how="left")
           .join(ap, on="prosecution_id", how="left"))
    from_arrest = (a.join(pdx.filter(pl.col("arrest_id").is_not_null()), on="arrest_id", how="left")
                   .with_columns(pl.lit("arrest").alias("entry_stage"),
                                 pl.col("prosecution_link").fill_null("none").alias("link_method")))
    from_pros = (pdx.filter(pl.col("arrest_id").is_null())
                 .with_columns(pl.col("p_person").alias("person_id"), pl.col("filing_jurisdiction").alias("jurisdiction"),
                               pl.col("filing_case_type").alias("case_type"), pl.lit("prosecution").alias("entry_stage"),
                               pl.col("disposition_link").fill_null("none").alias("link_method")))
    from_disp = (d.join(pd_.select("disposition_id"), on="disposition_id", how="anti")
                 .with_columns(pl.col("d_person").alias("person_id"), pl.lit("disposition").alias("entry_stage"),
                               pl.lit("none").alias("link_method")))
    traj = pl.concat([from_arrest, from_pros, from_disp], how="diagonal_relaxed")
    traj = traj.with_columns(pl.col("prosecution_link").fill_null("none"), pl.col("disposition_link").fill_null("none"))
    traj = traj.with_columns(pl.coalesce("arrest_date", "filing_date", "disposition_date").alias("_entry"))
    traj = traj.sort("_entry", "person_id", "arrest_id", "prosecution_id", "disposition_id", nulls_last=True)
    traj = traj.with_row_index("_i", offset=1).with_columns(
        pl.format("T{}", pl.col("_i").cast(pl.String).str.zfill(8)).alias("trajectory_id"))
    traj = _add_next_arrest(traj, arrests)
    for c in TRAJECTORY_COLUMNS:
        if c not in traj.columns:
            traj = traj.with_columns(pl.lit(None).alias(c))
    traj = traj.select(TRAJECTORY_COLUMNS)

    summary = {
        "links": {
            "arrest_prosecution": _counts(ap, "prosecution_link", prosecutions.height),
            "prosecution_disposition": _counts(pd_, "disposition_link", disp_ok.height),
        },
        "trajectories": traj.height,
        "entry_stage": dict(sorted(traj.group_by("entry_stage").len().iter_rows())),
        "window_months": window_months, "disposition_window_months": disposition_window_months,
    }
    # Reconcile: every accepted record in exactly one row.
    for col, n in (("arrest_id", arrests.height), ("prosecution_id", prosecutions.height),
                   ("disposition_id", disp_ok.height)):
        ids = traj.get_column(col).drop_nulls()
        assert ids.len() == n and ids.n_unique() == n, f"{col}: {ids.len()} rows for {n} records"
    return LinkResult(trajectories=traj, rejected=rejected_link, summary=summary)


def _counts(pairs: pl.DataFrame, col: str, total_right: int) -> dict[str, Any]:
    by = dict(pairs.group_by(col).len().iter_rows())
    key, win = int(by.get("key", 0)), int(by.get("person_window", 0))
    return {"key": key, "person_window": win, "none": total_right - key - win,
            "link_rate": round((key + win) / total_right, 4) if total_right else None}


def _add_next_arrest(traj: pl.DataFrame, arrests: pl.DataFrame) -> pl.DataFrame:
    """The person's next arrest strictly after this trajectory's disposition."""
    nxt = arrests.select("person_id", pl.col("arrest_date").alias("next_arrest_date")).sort("person_id", "next_arrest_date")
    left = traj.filter(pl.col("disposition_date").is_not_null()).select("_i", "person_id", "disposition_date")
    left = left.sort("person_id", "disposition_date")
    joined = left.join_asof(nxt, left_on="disposition_date", right_on="next_arrest_date", by="person_id",
                            strategy="forward", allow_exact_matches=False, check_sortedness=False)
    return traj.join(joined.select("_i", "next_arrest_date"), on="_i", how="left")


def link_files(arrests: str | Path, prosecutions: str | Path, dispositions: str | Path,
               mapping: Mapping | str | Path | None = None, window_months: float = 24,
               disposition_window_months: float = 60, as_of: dt.date | str | None = None) -> LinkResult:
    """Load and validate the three sources, link them, and reconcile every source's rows."""
    loads: dict[str, LoadResult] = {
        kind: load_table(kind, path, mapping=mapping, as_of=as_of)
        for kind, path in (("arrests", arrests), ("prosecutions", prosecutions), ("dispositions", dispositions))
    }
    res = link_trajectories(loads["arrests"].accepted, loads["prosecutions"].accepted, loads["dispositions"].accepted,
                            window_months, disposition_window_months)
    link_rej = res.rejected.with_columns(pl.lit(loads["dispositions"].source).alias("source"))
    res.rejected = pl.concat([*(l.rejected for l in loads.values()), link_rej]) if loads else empty_rejected()
    sources = {}
    for kind, l in loads.items():
        extra = link_rej.height if kind == "dispositions" else 0
        sources[kind] = {"path": l.source, "rows": l.summary["rows"], "accepted": l.summary["accepted"] - extra,
                         "rejected": l.summary["rejected"] + extra,
                         "reasons": {**l.summary["reasons"], **({"disposition_before_filing": extra} if extra else {})},
                         "unmapped_labels": l.summary["unmapped_labels"]}
        assert sources[kind]["accepted"] + sources[kind]["rejected"] == sources[kind]["rows"]
    res.summary = {"sources": sources, **res.summary}
    return res
