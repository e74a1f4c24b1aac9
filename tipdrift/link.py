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
  filing is rejected (`disposition_before_filing`). A keyless one whose person's filings
  within the window all come after it is kept as a disposition-only trajectory (its filing
  may predate the extract, as a keyed one's may be missing from it) and counted in the
  summary (`keyless_before_filing`).
Dates known only to the month or year are compared as intervals (`<col>_precision`).
A record whose key names a record missing from the extract is never window-linked to
another one (it would close or open the wrong matter): it starts its own trajectory.
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

import numpy as np
import polars as pl

from tipdrift.errors import InputFileError, ParameterError
from tipdrift.load import LoadResult, interval_end, load_table
from tipdrift.mapping import Mapping
from tipdrift.timeutil import MONTH_DAYS
from tipdrift.vocab import CASE_TYPES

TRAJECTORY_COLUMNS = [
    "trajectory_id", "person_id", "arrest_id", "arrest_date", "prosecution_id", "filing_date", "disposition_id",
    "disposition_date", "outcome", "sentence_months", "jurisdiction", "case_type", "entry_stage", "link_method",
    "prosecution_link", "disposition_link", "filing_case_type", "next_arrest_date", "case_id",
]
# Precision of each date (day, month, year); written when any source date is imprecise.
PRECISION_COLUMNS = ["arrest_date_precision", "filing_date_precision", "disposition_date_precision"]


@dataclass
class LinkResult:
    """Trajectories, the rejected rows of every source, and the reconciled counts."""

    trajectories: pl.DataFrame
    rejected: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    resolution: Any = None  # tipdrift.resolve.Resolution, when persons were resolved from person fields

    def write(self, out_dir: str | Path) -> dict[str, str]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.trajectories.write_parquet(out / "trajectories.parquet")
        self.rejected.write_csv(out / "rejected.csv")
        (out / "summary.json").write_text(json.dumps(self.summary, indent=1) + "\n")
        files = [("trajectories", "trajectories.parquet"), ("rejected", "rejected.csv"), ("summary", "summary.json")]
        if self.resolution is not None:  # the model (reusable with --model) and the clerical-review queue
            (out / "linkage_model.json").write_text(json.dumps(self.resolution.model, indent=1) + "\n")
            self.resolution.review().write_csv(out / "review_links.csv")
            files += [("model", "linkage_model.json"), ("review", "review_links.csv")]
        return {k: str(out / f) for k, f in files}

    @classmethod
    def read(cls, folder: str | Path) -> "LinkResult":
        """A result written with `write` (its three files, read together)."""
        folder = Path(folder)
        for name in ("trajectories.parquet", "rejected.csv", "summary.json"):
            if not (folder / name).is_file():
                raise InputFileError(str(folder / name), "not found: pass a folder written by `tipdrift link`")
        return cls(trajectories=pl.read_parquet(folder / "trajectories.parquet"),
                   rejected=pl.read_csv(folder / "rejected.csv", schema_overrides={"row": pl.Int64}, infer_schema=False),
                   summary=json.loads((folder / "summary.json").read_text(encoding="utf-8")))


_TYPES = {
    "arrests": {"arrest_id": pl.String, "person_id": pl.String, "arrest_date": pl.Date, "jurisdiction": pl.String,
                "case_type": pl.String},
    "prosecutions": {"prosecution_id": pl.String, "person_id": pl.String, "filing_date": pl.Date,
                     "jurisdiction": pl.String, "case_type": pl.String, "arrest_id": pl.String, "case_id": pl.String},
    "dispositions": {"disposition_id": pl.String, "person_id": pl.String, "disposition_date": pl.Date,
                     "outcome": pl.String, "prosecution_id": pl.String, "sentence_months": pl.Float64},
}
LINK = pl.Enum(["key", "person_window", "none"])
STAGE = pl.Enum(["arrest", "prosecution", "disposition"])
OUTCOME = pl.Enum(["convicted", "dismissed", "acquitted"])


def _conform(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Canonical column types (an all-blank column may arrive untyped); optional columns added."""
    fix = [(pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c)
           for c, t in _TYPES[kind].items() if df.schema.get(c) != t]
    # One chunk per column: gathers from a many-chunk column (as Parquet reads give) are
    # several times slower, and rechunking string views is cheap.
    return (df.with_columns(fix) if fix else df).rechunk()


def _mutual_best(cand: pl.DataFrame, left: str, right: str, order: list[str]) -> pl.DataFrame:
    """One-to-one pairs from candidate pairs: repeatedly accept pairs that are each other's
    first choice under `order` (ties broken by the ids), drop their rows, and repeat."""
    order = order + [left, right]
    # Fast path: a pair whose two records have no other candidate is accepted at once.
    alone = _is_unique(cand.get_column(left)) & _is_unique(cand.get_column(right))
    accepted: list[pl.DataFrame] = [cand.filter(alone).select(left, right)]
    cand = cand.filter(~alone).sort(order)
    while cand.height:
        best_l = cand.group_by(left, maintain_order=True).first().select(left, right)
        best_r = cand.group_by(right, maintain_order=True).first().select(left, right)
        mutual = best_l.join(best_r, on=[left, right], how="inner")
        accepted.append(mutual)
        cand = cand.join(mutual.select(left), on=left, how="anti").join(mutual.select(right), on=right, how="anti")
    return pl.concat(accepted)


def _is_unique(s: pl.Series) -> pl.Series:
    """Mask of values that occur once; by sorting, several times faster than polars'
    hash-based is_unique on millions of integers."""
    order = s.arg_sort()
    srt = s.gather(order)
    once = (srt != srt.shift(1)).fill_null(True) & (srt != srt.shift(-1)).fill_null(True)
    return _scatter(len(s), order, once)


def _first_per_key(df: pl.DataFrame, key: str, order: list[str]) -> pl.DataFrame:
    """One row per `key` value, the first under `order`; only duplicated keys are sorted."""
    dup = ~_is_unique(df.get_column(key))
    if not dup.any():
        return df
    return pl.concat([df.filter(~dup), df.filter(dup).sort(order).unique(subset=key, keep="first", maintain_order=True)])


def _hash(col: str) -> pl.Expr:
    # 64-bit hashes make joins on ids and persons cheap; every hash match is checked
    # against the strings afterwards, so a collision can never create a link.
    return pl.col(col).hash(seed=0)


def _rows() -> pl.Expr:
    return pl.int_range(pl.len(), dtype=pl.UInt32)


def _scatter(n: int, at: pl.Series, values: pl.Series) -> pl.Series:
    """A length-n series, null except values[i] at position at[i] (row indices make joins scatters)."""
    return pl.Series([None] * 0, dtype=values.dtype).extend_constant(None, n).scatter(at, values)


def _index_key(frame: pl.DataFrame, key: str, target: pl.DataFrame, target_id: str) -> pl.Series:
    """Row index in `target` of the record each `frame[key]` names (null when unknown)."""
    left = frame.select(_rows().alias("_row"), _hash(key).alias("_h"), pl.col(key)).filter(pl.col(key).is_not_null())
    right = target.select(_rows().alias("_idx"), _hash(target_id).alias("_h"))
    m = left.join(right, on="_h", how="inner")
    m = m.filter(pl.col(key) == pl.lit(target.get_column(target_id)).gather(pl.col("_idx")))
    return _scatter(frame.height, m.get_column("_row"), m.get_column("_idx"))


def _same_person(df: pl.DataFrame, lp: pl.Series, li: str, rp: pl.Series, ri: str) -> pl.DataFrame:
    return df.filter(pl.lit(lp).gather(pl.col(li)) == pl.lit(rp).gather(pl.col(ri)))


@dataclass
class Indexed:
    """The three sources as row indices with hashed persons, dates and keys."""

    arrests: pl.DataFrame
    prosecutions: pl.DataFrame
    dispositions: pl.DataFrame
    A: pl.DataFrame
    P: pl.DataFrame
    D: pl.DataFrame

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.arrests.height, self.prosecutions.height, self.dispositions.height

    def person(self, kind: str) -> pl.Series:
        return getattr(self, kind).get_column("person_id")


def index_sources(arrests: pl.DataFrame, prosecutions: pl.DataFrame, dispositions: pl.DataFrame) -> Indexed:
    arrests = _conform(arrests, "arrests")
    prosecutions = _conform(prosecutions, "prosecutions")
    dispositions = _conform(dispositions, "dispositions")
    A = arrests.select(_rows().alias("ai"), _hash("person_id").alias("ph"), "arrest_date", _end(arrests, "arrest_date"),
                       _hash("jurisdiction").alias("jh"), _hash("case_type").alias("ch"))
    P = prosecutions.select(_rows().alias("pi"), _hash("person_id").alias("ph"), "filing_date",
                            _end(prosecutions, "filing_date"),
                            _hash("jurisdiction").alias("jh"), _hash("case_type").alias("ch"))
    P = P.with_columns(_index_key(prosecutions, "arrest_id", arrests, "arrest_id").alias("key_ai"),
                       prosecutions.get_column("arrest_id").is_not_null().alias("has_key"))
    D = dispositions.select(_rows().alias("di"), _hash("person_id").alias("ph"), "disposition_date",
                            _end(dispositions, "disposition_date"))
    D = D.with_columns(_index_key(dispositions, "prosecution_id", prosecutions, "prosecution_id").alias("key_pi"),
                       dispositions.get_column("prosecution_id").is_not_null().alias("has_key"))
    return Indexed(arrests, prosecutions, dispositions, A, P, D)


def _end(df: pl.DataFrame, col: str) -> pl.Expr:
    """`<col>_end`: the last day of each date's interval (the date itself at day precision).
    Imprecise dates are compared as intervals: a disposition in 2014 is not before a filing
    in 2014-03, and a year-only arrest is within any window that its year reaches."""
    prec = f"{col}_precision"
    if prec not in df.columns:
        return pl.col(col).alias(f"{col}_end")
    return interval_end(pl.col(col), pl.col(prec).cast(pl.String)).alias(f"{col}_end")


def _mask(n: int, at: pl.Series) -> pl.Series:
    """Length-n boolean mask, True at the row indices `at`."""
    return _scatter(n, at, pl.Series(np.ones(len(at), bool))).is_not_null()


def arrest_prosecution_links(ix: Indexed, window_months: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(key links, window links) as (ai, pi) pairs: keys first (one prosecution per arrest,
    the earliest filing), then the same person within the window, both ways."""
    na, npr, _ = ix.sizes
    key_ap = _first_per_key(ix.P.filter(pl.col("key_ai").is_not_null()), "key_ai", ["filing_date", "pi"]).select(
        pl.col("key_ai").alias("ai"), "pi")
    a_keyed, p_keyed = _mask(na, key_ap["ai"]), _mask(npr, key_ap["pi"])
    # a prosecution whose key names an arrest missing from the extract is not guessed onto another arrest
    cand = (ix.P.filter(~p_keyed & ~pl.col("has_key"))
            .join(ix.A.filter(~a_keyed), on="ph", how="inner", suffix="_a")
            .with_columns(pl.max_horizontal((pl.col("filing_date") - pl.col("arrest_date_end")).dt.total_days(),
                                            (pl.col("arrest_date") - pl.col("filing_date_end")).dt.total_days(),
                                            pl.lit(0)).alias("gap"))
            .filter(pl.col("gap") <= window_months * MONTH_DAYS)
            .with_columns(((pl.col("jh") != pl.col("jh_a")).cast(pl.Int8) + (pl.col("ch") != pl.col("ch_a")).cast(pl.Int8))
                          .alias("mismatch"))
            .select("ai", "pi", "mismatch", "gap"))
    cand = _same_person(cand, ix.person("arrests"), "ai", ix.person("prosecutions"), "pi")
    return key_ap, _mutual_best(cand, "pi", "ai", ["mismatch", "gap"]).select("ai", "pi")


def prosecution_disposition_links(ix: Indexed, window_months: float) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """(key links, window links, keyed dispositions dated before their filing): keys never
    before the filing, then the nearest disposition on or after the filing within the window."""
    _, npr, nd = ix.sizes
    keyed = ix.D.filter(pl.col("key_pi").is_not_null()).join(ix.P.select("pi", "filing_date"), left_on="key_pi",
                                                               right_on="pi")
    is_before = pl.col("disposition_date_end") < pl.col("filing_date")  # the whole interval before the filing
    before = keyed.filter(is_before).get_column("di")
    key_pd = _first_per_key(keyed.filter(~is_before), "key_pi",
                            ["disposition_date", "di"]).select(pl.col("key_pi").alias("pi"), "di")
    d_taken = _mask(nd, key_pd["di"]) | _mask(nd, before)
    p_closed = _mask(npr, key_pd["pi"])
    # a disposition whose key names a filing missing from the extract closes that filing, not another one
    cand = (ix.D.filter(~d_taken & ~pl.col("has_key"))
            .join(ix.P.filter(~p_closed).select("pi", "ph", "filing_date"), on="ph", how="inner")
            .with_columns((pl.col("disposition_date") - pl.col("filing_date")).dt.total_days().clip(0).alias("gap"),
                          is_before.alias("before"))
            .filter(~pl.col("before") & (pl.col("gap") <= window_months * MONTH_DAYS))
            .select("pi", "di", "gap"))
    cand = _same_person(cand, ix.person("prosecutions"), "pi", ix.person("dispositions"), "di")
    win_pd = _mutual_best(cand, "di", "pi", ["gap"]).select("pi", "di")
    return key_pd, win_pd, before


def keyless_before(ix: Indexed, placed: pl.Series, window_months: float) -> int:
    """How many unlinked keyless dispositions come before every filing of their person
    within the window. They are kept, as disposition-only trajectories, not rejected: their
    own filing may lie before the extract's first filing (a keyed disposition whose filing
    is missing from the extract is kept the same way); the count is reported."""
    d = ix.D.filter(~placed & ~pl.col("has_key")).select("di", "ph", "disposition_date", "disposition_date_end")
    pairs = (d.join(ix.P.select("pi", "ph", "filing_date"), on="ph", how="inner")
             .filter((pl.col("filing_date") - pl.col("disposition_date_end")).dt.total_days()
                     <= window_months * MONTH_DAYS))
    pairs = _same_person(pairs, ix.person("prosecutions"), "pi", ix.person("dispositions"), "di")
    return int(pairs.group_by("di").agg((pl.col("filing_date") > pl.col("disposition_date_end")).all().alias("after"))
               .get_column("after").sum())


def _tagged(key: pl.DataFrame, win: pl.DataFrame) -> pl.DataFrame:
    """Key links tagged 0, window links 1 (column m)."""
    return pl.concat([key.with_columns(pl.lit(0, pl.UInt8).alias("m")), win.with_columns(pl.lit(1, pl.UInt8).alias("m"))])


@dataclass
class RowPlan:
    """Which record sits in each trajectory row: every arrest (input order), then the
    prosecutions without an arrest (`p_alone`), then the dispositions without a
    prosecution (`d_alone`); `idx` has columns ai, pi, di, stage (0/1/2), plink, dlink."""

    idx: pl.DataFrame
    p_alone: pl.Series
    d_alone: pl.Series


def trajectory_index(ix: Indexed, ap: pl.DataFrame, pd_: pl.DataFrame, before: pl.Series) -> RowPlan:
    """The row plan from the (tagged) links; see `RowPlan`."""
    na, npr, nd = ix.sizes
    pi_of_a, plink_of_a = _scatter(na, ap["ai"], ap["pi"]), _scatter(na, ap["ai"], ap["m"])
    ai_of_p, plink_of_p = _scatter(npr, ap["pi"], ap["ai"]), _scatter(npr, ap["pi"], ap["m"])
    di_of_p, dlink_of_p = _scatter(npr, pd_["pi"], pd_["di"]), _scatter(npr, pd_["pi"], pd_["m"])
    placed_d = _mask(nd, pd_["di"]) | _mask(nd, before)
    p_alone = ai_of_p.is_null().arg_true().cast(pl.UInt32)
    d_alone = (~placed_d).arg_true().cast(pl.UInt32)
    n_p, n_d = len(p_alone), len(d_alone)
    ai = pl.Series(np.arange(na, dtype=np.uint32)).extend_constant(None, n_p + n_d)
    pi = pl.concat([pi_of_a, p_alone]).extend_constant(None, n_d)
    di = pl.concat([di_of_p.gather(pi).head(na + n_p), d_alone])
    stage = pl.Series(np.repeat(np.array([0, 1, 2], np.uint8), [na, n_p, n_d]))
    plink = pl.concat([plink_of_a, plink_of_p.gather(p_alone)]).extend_constant(None, n_d)
    idx = pl.DataFrame({"ai": ai, "pi": pi, "di": di, "stage": stage, "plink": plink, "dlink": dlink_of_p.gather(pi)})
    return RowPlan(idx, p_alone, d_alone)


def assemble(ix: Indexed, plan: RowPlan) -> pl.DataFrame:
    """Trajectory columns from the row plan. Arrest rows come in input order, so their
    attributes are the input columns themselves; the rest are gathered by index."""
    arrests, prosecutions, dispositions = ix.arrests, ix.prosecutions, ix.dispositions
    idx, p_alone, d_alone = plan.idx, plan.p_alone, plan.d_alone
    n_rest = len(p_alone) + len(d_alone)
    pi, di = idx.get_column("pi"), idx.get_column("di")
    case_type = pl.Enum(CASE_TYPES)

    def entry(col: str, dtype: pl.DataType = pl.String) -> pl.Series:
        d_part = (dispositions.get_column(col).gather(d_alone) if col in dispositions.columns
                  else pl.Series([], dtype=dtype).extend_constant(None, len(d_alone)))
        return pl.concat([arrests.get_column(col).cast(dtype), prosecutions.get_column(col).gather(p_alone).cast(dtype),
                          d_part.cast(dtype)])

    link_name = {0: "key", 1: "person_window"}
    prec = {"arrest_date_precision": _precision(arrests, "arrest_date").extend_constant(None, n_rest),
            "filing_date_precision": _precision(prosecutions, "filing_date").gather(pi),
            "disposition_date_precision": _precision(dispositions, "disposition_date").gather(di)}
    return pl.DataFrame({**prec,
        "trajectory_id": pl.Series(np.arange(1, idx.height + 1, dtype=np.uint64)),
        "person_id": entry("person_id"),
        "arrest_id": arrests.get_column("arrest_id").extend_constant(None, n_rest),
        "arrest_date": arrests.get_column("arrest_date").extend_constant(None, n_rest),
        "prosecution_id": prosecutions.get_column("prosecution_id").gather(pi),
        "case_id": prosecutions.get_column("case_id").gather(pi),
        "filing_date": prosecutions.get_column("filing_date").gather(pi),
        "disposition_id": dispositions.get_column("disposition_id").gather(di),
        "disposition_date": dispositions.get_column("disposition_date").gather(di),
        "outcome": dispositions.get_column("outcome").cast(OUTCOME).gather(di),
        "sentence_months": dispositions.get_column("sentence_months").gather(di),
        "jurisdiction": entry("jurisdiction"),
        "case_type": entry("case_type", case_type),
        "filing_case_type": prosecutions.get_column("case_type").cast(case_type).gather(pi),
        "stage": idx.get_column("stage"), "plink": idx.get_column("plink"), "dlink": idx.get_column("dlink"),
    }).with_columns(
        pl.col("stage").replace_strict({0: "arrest", 1: "prosecution", 2: "disposition"}, return_dtype=STAGE).alias("entry_stage"),
        pl.col("plink").replace_strict(link_name, default="none", return_dtype=LINK).alias("prosecution_link"),
        pl.col("dlink").replace_strict(link_name, default="none", return_dtype=LINK).alias("disposition_link"),
    ).with_columns(
        pl.when(pl.col("stage") == 0).then(pl.col("prosecution_link"))
        .when(pl.col("stage") == 1).then(pl.col("disposition_link"))
        .otherwise(pl.lit("none", LINK)).alias("link_method"),
    )


def _precision(df: pl.DataFrame, col: str) -> pl.Series:
    """The precision of each date (day when the source did not say)."""
    if f"{col}_precision" in df.columns:
        return df.get_column(f"{col}_precision").cast(pl.String)
    return pl.Series(f"{col}_precision", ["day"] * df.height, pl.String)


def check_reconciled(idx: pl.DataFrame, ix: Indexed, n_before: int) -> None:
    """Every accepted record in exactly one row (the rest rejected); raise if not."""
    na, npr, nd = ix.sizes
    for col, n in (("ai", na), ("pi", npr), ("di", nd - n_before)):
        got = idx.get_column(col).drop_nulls()
        if got.len() != n or got.n_unique() != n:
            raise LinkageInvariantError(f"{col}: {got.len()} trajectory rows ({got.n_unique()} distinct) for {n} records")


class LinkageInvariantError(RuntimeError):
    """A bug, not a data problem: linkage lost or doubled a record."""


def link_trajectories(arrests: pl.DataFrame, prosecutions: pl.DataFrame, dispositions: pl.DataFrame,
                      window_months: float = 24, disposition_window_months: float = 60) -> LinkResult:
    """Link accepted records (canonical schema) into trajectories; see the module docstring.

    Internally every record is its row index; persons and ids are joined on 64-bit hashes
    (checked against the strings), so the work is integer joins, scatters and gathers.
    """
    ix = index_sources(arrests, prosecutions, dispositions)
    key_ap, win_ap = arrest_prosecution_links(ix, window_months)
    key_pd, win_pd, before = prosecution_disposition_links(ix, disposition_window_months)
    ap, pd_ = _tagged(key_ap, win_ap), _tagged(key_pd, win_pd)
    plan = trajectory_index(ix, ap, pd_, before)
    check_reconciled(plan.idx, ix, len(before))
    traj = assemble(ix, plan)
    ph_rows = pl.concat([ix.A.get_column("ph"), ix.P.get_column("ph").gather(plan.p_alone),
                         ix.D.get_column("ph").gather(plan.d_alone)])
    traj = _add_next_arrest(traj, ix.A, ph_rows, ix.person("arrests")).select(TRAJECTORY_COLUMNS + PRECISION_COLUMNS)
    na, npr, nd = ix.sizes
    stages = dict(plan.idx.get_column("stage").value_counts().iter_rows())
    summary = {
        "links": {
            "arrest_prosecution": _counts(int((ap["m"] == 0).sum()), int((ap["m"] == 1).sum()), npr),
            "prosecution_disposition": {**_counts(int((pd_["m"] == 0).sum()), int((pd_["m"] == 1).sum()),
                                                  nd - len(before)),
                                        "keyless_before_filing": keyless_before(
                                            ix, _mask(nd, pd_["di"]) | _mask(nd, before), disposition_window_months)},
        },
        "trajectories": traj.height,
        "entry_stage": {name: int(stages.get(code, 0)) for code, name in ((0, "arrest"), (1, "prosecution"),
                                                                          (2, "disposition"))},
        "window_months": window_months, "disposition_window_months": disposition_window_months,
    }
    rejected = (ix.dispositions.select("disposition_id", "disposition_date")[before]
                .select(pl.lit("dispositions").alias("source"), pl.lit(None, pl.Int64).alias("row"),
                        pl.col("disposition_id").alias("record_id"), pl.lit("disposition_date").alias("column"),
                        pl.lit("disposition_before_filing").alias("reason"),
                        pl.col("disposition_date").cast(pl.String).alias("value")))
    return LinkResult(trajectories=traj, rejected=rejected, summary=summary)


def _counts(key: int, win: int, total_right: int) -> dict[str, Any]:
    return {"key": key, "person_window": win, "none": total_right - key - win,
            "link_rate": round((key + win) / total_right, 4) if total_right else None}


def _add_next_arrest(traj: pl.DataFrame, A: pl.DataFrame, ph: pl.Series, a_person: pl.Series) -> pl.DataFrame:
    """The person's next arrest strictly after this trajectory's disposition.

    Arrests and dispositions sorted by person hash, date, then kind (arrests first on the
    same day, so a same-day arrest is not "after"); each disposition takes the next arrest
    below it by a backward fill, if it belongs to the same person (checked on the hash,
    then on the person id strings, so a collision yields no next arrest, never a wrong one).
    `ph` is the person hash of each trajectory row; trajectory_id is the row number.
    """
    disp = traj.select(pl.col("trajectory_id").alias("tid"), ph.alias("ph"), pl.col("disposition_date").alias("date"),
                       (pl.col("entry_stage") != "arrest").alias("no_arrest"))
    disp = disp.filter(pl.col("date").is_not_null())
    # Only persons with two or more arrests, or a trajectory that entered without one,
    # can have an arrest after a disposition; the sort is over their events alone.
    a_ph = A.get_column("ph").sort()
    who = pl.concat([a_ph.filter(a_ph == a_ph.shift(1)), disp.filter(pl.col("no_arrest")).get_column("ph")]).unique()
    ev = pl.concat([
        A.filter(pl.col("ph").is_in(who.implode())).select(
            "ph", pl.col("arrest_date").alias("date"), pl.lit(0, pl.UInt8).alias("kind"), "ai",
            pl.lit(None, pl.UInt64).alias("tid")),
        disp.filter(pl.col("ph").is_in(who.implode())).select(
            "ph", "date", pl.lit(1, pl.UInt8).alias("kind"), pl.lit(None, pl.UInt32).alias("ai"), "tid"),
    ]).sort("ph", "date", "kind")
    is_arrest = pl.col("kind") == 0
    ev = ev.with_columns(*(pl.when(is_arrest).then(pl.col(c)).backward_fill().alias(f"next_{c}") for c in ("date", "ph", "ai")))
    nxt = ev.filter((pl.col("kind") == 1) & (pl.col("next_ph") == pl.col("ph"))).select(
        "tid", pl.col("next_date").alias("next_arrest_date"), "next_ai")
    row = (pl.col("tid") - 1).cast(pl.UInt32)
    nxt = nxt.filter(pl.lit(traj.get_column("person_id")).gather(row) == pl.lit(a_person).gather(pl.col("next_ai")))
    return traj.with_columns(_scatter(traj.height, nxt.select(row).to_series(), nxt.get_column("next_arrest_date"))
                             .alias("next_arrest_date"))


def link_files(arrests: str | Path, prosecutions: str | Path, dispositions: str | Path,
               mapping: Mapping | str | Path | None = None, window_months: float = 24,
               disposition_window_months: float = 60, as_of: dt.date | str | None = None,
               max_rejected: float | None = None) -> LinkResult:
    """Load and validate the three sources, link them, and reconcile every source's rows.
    With `max_rejected`, stop (DataError) when a source has a larger share rejected."""
    from tipdrift.checks import check_rejected, validate_command

    paths = {"arrests": arrests, "prosecutions": prosecutions, "dispositions": dispositions}
    loads: dict[str, LoadResult] = {kind: load_table(kind, path, mapping=mapping, as_of=as_of)
                                    for kind, path in paths.items()}
    for kind, l in loads.items():
        if max_rejected is not None:
            check_rejected(l.summary, max_rejected,
                           rows_at=validate_command(kind, paths[kind], mapping, l.summary.get("as_of")))
    return link_loaded(loads, window_months, disposition_window_months)


def link_loaded(loads: dict[str, LoadResult], window_months: float = 24,
                disposition_window_months: float = 60, match: str = "key", threshold: float | None = None,
                model: str | Path | None = None, backend: str = "duckdb", spark_master: str = "local[*]") -> LinkResult:
    """Link already loaded sources (keys arrests, prosecutions, dispositions); the rejected
    table and per-source counts include the rows loading and linking rejected. With
    `match="probabilistic"` persons are first resolved from the person fields
    (`tipdrift.resolve`, on the `backend` engine) and every record's person_id becomes its
    resolved person key."""
    frames = {k: loads[k].accepted for k in ("arrests", "prosecutions", "dispositions")}
    resolution = None
    if match == "probabilistic":
        from tipdrift.resolve import DEFAULT_THRESHOLD, resolve_persons

        resolution = resolve_persons(frames, threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                                     model=model, backend=backend, spark_master=spark_master)
        frames = {k: df.with_columns(resolution.keys[k]) for k, df in frames.items()}
    elif match != "key":
        raise ParameterError(f"match must be 'key' or 'probabilistic', not '{match}'")
    res = link_trajectories(frames["arrests"], frames["prosecutions"], frames["dispositions"],
                            window_months, disposition_window_months)
    res.resolution = resolution
    if resolution is not None:
        from tipdrift.resolve import link_probabilities

        res.trajectories = link_probabilities(res.trajectories, resolution.pairs)
        p = {s: res.trajectories.get_column(f"{s}_link_probability") for s in ("prosecution", "disposition")}
        res.summary["persons"] = {"method": "probabilistic (Splink, Fellegi-Sunter with EM)", **resolution.summary,
                                  "review_pairs": resolution.review().height,
                                  "window_links_scored_directly": {s: int(v.is_not_null().sum()) for s, v in p.items()},
                                  # linked although their own pair scored below the threshold: joined through
                                  # other records of the person (worth a look)
                                  "window_links_below_threshold": {s: int((v < resolution.threshold).sum())
                                                                   for s, v in p.items()}}
    link_rej = res.rejected.with_columns(pl.lit(loads["dispositions"].source).alias("source"))
    res.rejected = pl.concat([*(l.rejected for l in loads.values()), link_rej])
    sources = {}
    for kind, l in loads.items():
        extra = link_rej.height if kind == "dispositions" else 0
        sources[kind] = {"path": l.source, "rows": l.summary["rows"], "accepted": l.summary["accepted"] - extra,
                         "rejected": l.summary["rejected"] + extra,
                         "reasons": {**l.summary["reasons"], **({"disposition_before_filing": extra} if extra else {})},
                         "unmapped_labels": l.summary["unmapped_labels"], "skipped": l.summary.get("skipped", 0)}
        if sources[kind]["accepted"] + sources[kind]["rejected"] != sources[kind]["rows"]:
            raise LinkageInvariantError(f"{kind}: accepted + rejected != rows read ({sources[kind]})")
    res.summary = {"sources": sources, **res.summary}
    return res
