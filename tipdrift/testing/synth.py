"""Synthetic data with known truth: criminal-justice records and frontline case records.

Everything is drawn from one seeded numpy Generator, whole arrays at a time, so the
same seed and scale give the same files, and a million arrests take seconds.

What it makes real (and records in truth.json):
- persons arrested more than once (re-arrest after release or after a dismissal, and
  re-arrest on bail while the first matter is still open);
- prosecutions with and without `arrest_id`; dispositions with and without
  `prosecution_id`; indictment-first trajectories (filing before arrest);
  prosecutions with no arrest record; charges and jurisdictions that change at filing;
- cases still pending at the extract date (`as_of`);
- organisations with planted case-mix shifts of known date and size, caused by a
  logged event (funding or legal change months ahead, definition or data-system change
  in the same month) or by nothing logged; decoy events far from any shift; units with
  no shift; volume shifts; Dirichlet-multinomial overdispersion of monthly mixes;
- an organisation that joins the data hub mid-way with a different mix.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tipdrift.timeutil import MONTH_DAYS, add_months, month_index
from tipdrift.vocab import KNOWN_CASE_TYPES

EPOCH = dt.date(1970, 1, 1)
MIX_CATEGORIES: tuple[str, ...] = KNOWN_CASE_TYPES  # all six recorded types appear in the case records
# Dirichlet weights of a typical organisation's mix, in MIX_CATEGORIES order.
BASE_MIX_ALPHA = np.array([4.0, 5.0, 1.5, 0.5, 1.5, 0.8])
CAUSES = ("funding", "legal", "definition", "data_system", "none")
CAUSE_PROB = np.array([0.3, 0.1, 0.15, 0.15, 0.3])


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic world. `scale` multiplies arrests and organisations."""

    seed: int = 7
    scale: float = 1.0
    arrests: int = 20_000
    organisations: int = 24
    cj_start: str = "2010-01-01"
    cases_start: str = "2013-01-01"
    as_of: str = "2024-12-31"
    join_month: str = "2019-01-01"
    # Dirichlet-multinomial concentration of monthly mixes: phi = 1 + (n-1)/(c+1).
    mix_concentration: float = 80.0
    # Gamma-Poisson shape of monthly totals (smaller = more overdispersed volumes).
    volume_shape: float = 15.0


def _days(d: str | dt.date) -> int:
    d = dt.date.fromisoformat(d) if isinstance(d, str) else d
    return (d - EPOCH).days


def _date_col(days: np.ndarray, name: str) -> pl.Series:
    return pl.Series(name, days.astype(np.int32)).cast(pl.Date)


def _labels(prefix: str, values: np.ndarray, width: int = 7) -> pl.Series:
    """Identifiers like A0000042 for an integer array, built in polars (no Python loop)."""
    num = pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return pl.select(pl.concat_str([pl.lit(prefix), pl.lit(num)])).to_series()


def _labels_or_null(prefix: str, nums: np.ndarray, width: int = 7) -> pl.Series:
    """Like _labels, with null where nums < 0 (a record the extract does not hold or a blank key)."""
    lab = _labels(prefix, np.maximum(nums, 0), width)
    return pl.select(pl.when(pl.lit(pl.Series(nums)) >= 0).then(pl.lit(lab))).to_series()


def _ids(prefix: str, n: int, start: int = 1) -> pl.Series:
    return _labels(prefix, np.arange(start, start + n), max(7, len(str(n + start))))


def _month_start_days(first: str, n: int) -> np.ndarray:
    return np.array([_days(add_months(first, i)) for i in range(n + 1)])


def _months_between(first: str, last: str) -> int:
    return month_index(last) - month_index(first) + 1


# ---------------------------------------------------------------- criminal justice

@dataclass(frozen=True)
class _CJWorld:
    """Fixed parameters of the criminal-justice simulation, shared by its steps."""

    start: int
    as_of: int
    span: int
    n_jur: int
    jur_names: np.ndarray
    ctypes: np.ndarray
    cum: np.ndarray  # cumulative case-type mix of each jurisdiction
    p_pros: np.ndarray
    p_out: np.ndarray


@dataclass(frozen=True)
class _CJRecords:
    """Simulated arrests and prosecutions, what the extract holds of them, their ids and keys."""

    a: dict[str, np.ndarray]
    arrest_seen: np.ndarray
    pros: dict[str, np.ndarray]
    pros_seen: np.ndarray
    disp_seen: np.ndarray
    arrest_num: np.ndarray
    pros_num: np.ndarray
    d_order: np.ndarray
    disp_num: np.ndarray
    linked_arrest_seen: np.ndarray
    true_arrest_num: np.ndarray
    carries_key: np.ndarray
    disp_carries_key: np.ndarray


def _criminal_justice(rng: np.random.Generator, cfg: SynthConfig) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Simulate arrests, prosecutions and dispositions; return the three tables and their truth."""
    n_target = max(50, int(round(cfg.arrests * cfg.scale)))
    w = _cj_world(rng, cfg)
    a = _simulate_arrests(rng, w, n_target)
    # Order arrests in time; ids follow that order.
    order = np.lexsort((a["person"], a["day"]))
    a = {k: v[order] for k, v in a.items()}
    orph = _orphan_prosecutions(rng, w, int(0.05 * a["pros"].sum()))
    pros = _prosecution_table(rng, w, a, orph)
    records = _cj_records(rng, w, a, pros)
    tables = _cj_tables(rng, w, records)
    return tables, _cj_truth(w, records, tables)


def _cj_world(rng: np.random.Generator, cfg: SynthConfig) -> _CJWorld:
    """Draw the jurisdictions' case-type mixes and fix the prosecution and outcome probabilities."""
    start, as_of = _days(cfg.cj_start), _days(cfg.as_of)
    n_jur = 12
    jur_mix = rng.dirichlet(BASE_MIX_ALPHA, size=n_jur)
    # Per case type: probability of prosecution; outcome probabilities (convicted, dismissed, acquitted).
    p_pros = np.array([0.55, 0.68, 0.62, 0.45, 0.5, 0.25])
    p_out = np.array([
        [0.78, 0.15, 0.07], [0.86, 0.10, 0.04], [0.82, 0.12, 0.06],
        [0.70, 0.22, 0.08], [0.75, 0.18, 0.07], [0.60, 0.32, 0.08],
    ])
    return _CJWorld(start=start, as_of=as_of, span=as_of - start, n_jur=n_jur,
                    jur_names=np.array([f"J{j:02d}" for j in range(1, n_jur + 1)]), ctypes=np.array(KNOWN_CASE_TYPES),
                    cum=np.cumsum(jur_mix, axis=1), p_pros=p_pros, p_out=p_out)


_Arrests = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # person, day, jurisdiction, case type


def _first_arrests(rng: np.random.Generator, w: _CJWorld, n_target: int) -> _Arrests:
    """Generation 0: draw each person's first arrest (simulated past the extract date, then cut)."""
    n_first = int(n_target / 1.18)
    person = np.arange(n_first)
    day = w.start + (w.span * rng.random(n_first) ** 0.85).astype(np.int64)  # volumes grow over time
    jur = rng.integers(0, w.n_jur, n_first)
    ctype = (rng.random(n_first)[:, None] > w.cum[jur]).sum(axis=1).clip(0, len(w.ctypes) - 1)
    return person, day, jur, ctype


def _simulate_arrests(rng: np.random.Generator, w: _CJWorld, n_target: int) -> dict[str, np.ndarray]:
    """Simulate up to six generations of arrests and their cases; return them concatenated, unsorted."""
    arrests = [_first_arrests(rng, w, n_target)]
    rows: list[dict[str, np.ndarray]] = []
    gen = 0
    while True:
        person, day, jur, ctype = arrests[-1]
        rows.append(_case_paths(rng, w, person, day, jur, ctype, gen))
        keep, re_day = _rearrest_days(rng, w, rows[-1])
        gen += 1
        if not keep.any() or gen > 5:
            break
        arrests.append(_next_arrests(rng, w, rows[-1], keep, re_day))
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _case_paths(rng: np.random.Generator, w: _CJWorld, person: np.ndarray, day: np.ndarray, jur: np.ndarray,
                ctype: np.ndarray, gen: int) -> dict[str, np.ndarray]:
    """Draw each arrest's prosecution, filing and disposition dates, outcome and sentence."""
    n = len(person)
    pros = rng.random(n) < w.p_pros[ctype]
    indict_first = pros & (rng.random(n) < 0.12)
    filing = np.where(indict_first, day - rng.integers(7, 181, n), day + rng.gamma(2.0, 45.0, n).astype(np.int64) + 1)
    disp = filing + rng.gamma(3.0, 110.0, n).astype(np.int64) + 14
    u = rng.random(n)
    cp = np.cumsum(w.p_out[ctype], axis=1)
    outcome = (u[:, None] > cp).sum(axis=1)  # 0 convicted, 1 dismissed, 2 acquitted
    sentence = np.where(outcome == 0, np.maximum(1, np.round(rng.lognormal(np.log(48), 0.7, n))), np.nan)
    return dict(person=person, day=day, jur=jur, ctype=ctype, pros=pros, indict_first=indict_first,
                filing=filing, disp=disp, outcome=outcome, sentence=sentence, gen=np.full(n, gen))


def _rearrest_days(rng: np.random.Generator, w: _CJWorld, r: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Draw who is arrested again and when; return the mask of re-arrests by as-of and the days."""
    day, pros, disp, outcome, sentence = r["day"], r["pros"], r["disp"], r["outcome"], r["sentence"]
    n = len(r["person"])
    # Re-arrest: after release for the convicted, after the case ends for the others.
    release = np.where(outcome == 0, disp + (np.nan_to_num(sentence) * MONTH_DAYS).astype(np.int64), np.where(pros, disp, day))
    p_re = np.where(pros & (outcome == 0), np.where(sentence < 24, 0.35, 0.2), 0.12)
    re = rng.random(n) < p_re
    re_day = release + 60 + rng.exponential(20 * MONTH_DAYS, n).astype(np.int64)
    # Some are arrested again while the first case is still open (on bail): the two
    # matters overlap in time, which makes keyless links genuinely ambiguous.
    quick = rng.random(n) < 0.05
    re = re | quick
    re_day = np.where(quick, day + rng.integers(20, 240, n), re_day)
    keep = re & (re_day <= w.as_of)
    return keep, re_day


def _next_arrests(rng: np.random.Generator, w: _CJWorld, r: dict[str, np.ndarray], keep: np.ndarray,
                  re_day: np.ndarray) -> _Arrests:
    """Draw the jurisdiction and case type of the re-arrests in `keep` (the next generation)."""
    jur, ctype = r["jur"], r["ctype"]
    same_j = rng.random(keep.sum()) < 0.75
    new_j = np.where(same_j, jur[keep], rng.integers(0, w.n_jur, keep.sum()))
    new_c = np.where(rng.random(keep.sum()) < 0.6, ctype[keep],
                     (rng.random(keep.sum())[:, None] > w.cum[new_j]).sum(axis=1).clip(0, len(w.ctypes) - 1))
    return r["person"][keep], re_day[keep], new_j, new_c


def _orphan_prosecutions(rng: np.random.Generator, w: _CJWorld, n_orph: int) -> dict[str, np.ndarray]:
    """Draw prosecutions without any arrest record (summons cases): dates, charges, outcomes."""
    filing = w.start + (w.span * rng.random(n_orph) ** 0.85).astype(np.int64)
    jur = rng.integers(0, w.n_jur, n_orph)
    ctype = (rng.random(n_orph)[:, None] > w.cum[jur]).sum(axis=1).clip(0, len(w.ctypes) - 1)
    disp = filing + rng.gamma(3.0, 110.0, n_orph).astype(np.int64) + 14
    out = (rng.random(n_orph)[:, None] > np.cumsum(w.p_out[ctype], axis=1)).sum(axis=1)
    sent = np.where(out == 0, np.maximum(1, np.round(rng.lognormal(np.log(48), 0.7, n_orph))), np.nan)
    return dict(filing=filing, jur=jur, ctype=ctype, disp=disp, out=out, sent=sent)


def _prosecution_table(rng: np.random.Generator, w: _CJWorld, a: dict[str, np.ndarray],
                       orph: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Draw filing jurisdictions and charges; join linked and orphan prosecutions in filing order."""
    n_all, n_orph = len(a["day"]), len(orph["filing"])
    max_person = int(a["person"].max()) + 1
    # Filing jurisdiction and charge may differ from the arrest's.
    f_jur = np.where(rng.random(n_all) < 0.93, a["jur"], rng.integers(0, w.n_jur, n_all))
    f_ctype = np.where(rng.random(n_all) < 0.88, a["ctype"], rng.integers(0, len(w.ctypes), n_all))
    # Linked ones then orphans, ordered by filing date.
    p_idx = np.flatnonzero(a["pros"])
    pros = {
        "filing": np.concatenate([a["filing"][p_idx], orph["filing"]]),
        "person": np.concatenate([a["person"][p_idx], max_person + np.arange(n_orph)]),
        "jur": np.concatenate([f_jur[p_idx], orph["jur"]]),
        "ctype": np.concatenate([f_ctype[p_idx], orph["ctype"]]),
        "arrest_row": np.concatenate([p_idx, np.full(n_orph, -1)]),
        "disp": np.concatenate([a["disp"][p_idx], orph["disp"]]),
        "out": np.concatenate([a["outcome"][p_idx], orph["out"]]),
        "sent": np.concatenate([a["sentence"][p_idx], orph["sent"]]),
        "indict": np.concatenate([a["indict_first"][p_idx], np.zeros(n_orph, bool)]),
    }
    porder = np.lexsort((pros["person"], pros["filing"]))
    return {k: v[porder] for k, v in pros.items()}


def _cj_records(rng: np.random.Generator, w: _CJWorld, a: dict[str, np.ndarray],
                pros: dict[str, np.ndarray]) -> _CJRecords:
    """Number the records the extract holds and draw which ones carry the key of the record before."""
    arrest_seen = a["day"] <= w.as_of
    n_all, n_pros = len(a["day"]), len(pros["filing"])
    pros_seen = pros["filing"] <= w.as_of
    disp_seen = pros_seen & (pros["disp"] <= w.as_of)
    # Ids (in the order of each table), numbered only for records the extract holds.
    arrest_num = np.full(n_all, -1)
    arrest_num[arrest_seen] = np.arange(1, int(arrest_seen.sum()) + 1)
    pros_num = np.full(n_pros, -1)
    pros_num[pros_seen] = np.arange(1, int(pros_seen.sum()) + 1)
    d_order = np.flatnonzero(disp_seen)[np.lexsort((pros["person"][disp_seen], pros["disp"][disp_seen]))]
    disp_num = np.full(n_pros, -1)
    disp_num[d_order] = np.arange(1, len(d_order) + 1)

    arrest_row = pros["arrest_row"]
    linked_arrest_seen = (arrest_row >= 0) & arrest_seen[np.maximum(arrest_row, 0)]
    carries_key = linked_arrest_seen & (rng.random(n_pros) < np.where(pros["indict"], 0.3, 0.6))
    disp_carries_key = rng.random(n_pros) < 0.7
    true_arrest_num = np.where(linked_arrest_seen, arrest_num[np.maximum(arrest_row, 0)], -1)
    return _CJRecords(a=a, arrest_seen=arrest_seen, pros=pros, pros_seen=pros_seen, disp_seen=disp_seen,
                      arrest_num=arrest_num, pros_num=pros_num, d_order=d_order, disp_num=disp_num,
                      linked_arrest_seen=linked_arrest_seen, true_arrest_num=true_arrest_num,
                      carries_key=carries_key, disp_carries_key=disp_carries_key)


def _cj_tables(rng: np.random.Generator, w: _CJWorld, r: _CJRecords) -> dict[str, pl.DataFrame]:
    """Build the arrests, prosecutions and dispositions tables, drawing each arrest's agency."""
    a, seen, p, ps, d_order = r.a, r.arrest_seen, r.pros, r.pros_seen, r.d_order
    agency = np.array([f"AG-{j}-{k}" for j in w.jur_names for k in (1, 2)])
    arrests_df = pl.DataFrame({
        "arrest_id": _labels("A", r.arrest_num[seen]),
        "person_id": _labels("P", a["person"][seen] + 1),
        "arrest_date": _date_col(a["day"][seen], "arrest_date"),
        "jurisdiction": w.jur_names[a["jur"][seen]],
        "case_type": w.ctypes[a["ctype"][seen]],
        "agency": agency[a["jur"][seen] * 2 + rng.integers(0, 2, int(seen.sum()))],
    })
    prosecutions_df = pl.DataFrame({
        "prosecution_id": _labels("F", r.pros_num[ps]),
        "person_id": _labels("P", p["person"][ps] + 1),
        "filing_date": _date_col(p["filing"][ps], "filing_date"),
        "jurisdiction": w.jur_names[p["jur"][ps]],
        "case_type": w.ctypes[p["ctype"][ps]],
        "arrest_id": _labels_or_null("A", np.where(r.carries_key, r.true_arrest_num, -1)[ps]),
    })
    outcomes = np.array(["convicted", "dismissed", "acquitted"])
    dispositions_df = pl.DataFrame({
        "disposition_id": _labels("D", r.disp_num[d_order]),
        "person_id": _labels("P", p["person"][d_order] + 1),
        "disposition_date": _date_col(p["disp"][d_order], "disposition_date"),
        "outcome": outcomes[p["out"][d_order]],
        "prosecution_id": _labels_or_null("F", np.where(r.disp_carries_key, r.pros_num, -1)[d_order]),
        "sentence_months": pl.Series(p["sent"][d_order], dtype=pl.Float64, nan_to_null=True),
    })
    return {"arrests": arrests_df, "prosecutions": prosecutions_df, "dispositions": dispositions_df}


def _cj_truth(w: _CJWorld, r: _CJRecords, tables: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Record every true link, the headline counts and the true attrition of arrest cohorts."""
    # Truth: every link between two records the extract holds.
    ap = r.linked_arrest_seen & r.pros_seen
    truth_ap = pl.DataFrame({"a": _labels("A", r.true_arrest_num[ap]), "p": _labels("F", r.pros_num[ap])}).rows()
    truth_pd = pl.DataFrame({"p": _labels("F", r.pros_num[r.d_order]), "d": _labels("D", r.disp_num[r.d_order])}).rows()

    # True attrition of arrest cohorts, from the complete simulation (no censoring).
    attrition = _true_attrition(r.a, r.arrest_seen, w.as_of, horizons=(12, 24, 36))
    arrests_df = tables["arrests"]
    return {
        "links": {
            "arrest_prosecution": truth_ap,
            "prosecution_disposition": truth_pd,
        },
        "counts": {
            "arrests": arrests_df.height,
            "prosecutions": tables["prosecutions"].height,
            "dispositions": tables["dispositions"].height,
            "persons_with_repeat_arrests": int(arrests_df.get_column("person_id").is_duplicated().sum()),
            "indictment_first": int((ap & r.pros["indict"]).sum()),
            "prosecutions_with_arrest_id": int(r.carries_key[r.pros_seen].sum()),
            "dispositions_with_prosecution_id": int(r.disp_carries_key[r.d_order].sum()),
            "prosecutions_without_arrest": int((r.pros_seen & ~r.linked_arrest_seen).sum()),
            "pending_prosecutions": int((r.pros_seen & ~r.disp_seen).sum()),
        },
        "attrition": attrition,
    }


def _true_attrition(a: dict[str, np.ndarray], seen: np.ndarray, as_of: int, horizons: tuple[int, ...]) -> list[dict[str, Any]]:
    """Share of each arrest cohort reaching each stage within h months of the arrest."""
    day = a["day"][seen]
    year = _date_col(day, "d").dt.year().to_numpy()
    pros = a["pros"][seen]
    t_pros = np.where(pros, np.maximum(a["filing"][seen] - day, 0), np.inf)
    t_disp = np.where(pros, a["disp"][seen] - day, np.inf)
    outc = a["outcome"][seen]
    out = []
    for h in horizons:
        hd = h * MONTH_DAYS
        for y in np.unique(year):
            m = year == y
            n = int(m.sum())
            fully = _days(dt.date(int(y), 12, 31)) + hd <= as_of
            rec = {"cohort": int(y), "horizon_months": h, "entries": n, "fully_observed": bool(fully),
                   "prosecuted": float(np.mean(t_pros[m] <= hd))}
            for k, name in enumerate(("convicted", "dismissed", "acquitted")):
                rec[name] = float(np.mean((t_disp[m] <= hd) & (outc[m] == k)))
            out.append(rec)
    return out


# ---------------------------------------------------------------- case mixes

@dataclass(frozen=True)
class _MixCalendar:
    """The monthly grid of the case records, shared by the case-mix steps."""

    as_of: int
    periods: int  # months from cases_start to as_of
    month_days: np.ndarray  # day number of each month's first day (periods + 1 entries)
    join_idx: int  # month in which ORG_JOIN joins the data hub


def _shift_target(rng: np.random.Generator, p: np.ndarray, tvd: float, prefer: int | None) -> tuple[np.ndarray, int, float]:
    """Move mass towards one category so that the total variation distance is `tvd`."""
    order = [prefer] if prefer is not None else []
    order += list(rng.permutation(len(p)))
    for k in order:
        w = tvd / max(1e-9, 1.0 - p[k])
        if w <= 0.85:
            return (1 - w) * p + w * np.eye(len(p))[k], int(k), tvd
    k = int(np.argmin(p))
    return 0.15 * p + 0.85 * np.eye(len(p))[k], k, float(0.85 * (1 - p[k]))


def _case_mix(rng: np.random.Generator, cfg: SynthConfig) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Simulate the organisations' case records and context log; return cases, events and truth."""
    T = _months_between(cfg.cases_start, cfg.as_of)
    cal = _MixCalendar(as_of=_days(cfg.as_of), periods=T, month_days=_month_start_days(cfg.cases_start, T),
                       join_idx=_months_between(cfg.cases_start, cfg.join_month) - 1)
    n_orgs = max(4, int(round(cfg.organisations * cfg.scale)))
    countries = np.array(["GB", "US", "TH", "PH", "NG", "RO", "MX", "IN"])

    org_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    counts_blocks: list[np.ndarray] = []  # per org: T x K monthly counts
    org_ids = [f"ORG{i:03d}" for i in range(1, n_orgs + 1)] + ["ORG_JOIN"]
    for oi, org in enumerate(org_ids):
        row, counts = _simulate_org(rng, cfg, cal, org, str(countries[oi % len(countries)]), events)
        counts_blocks.append(counts)
        org_rows.append(row)

    cases = _cases_table(rng, cal, np.stack(counts_blocks), org_ids, org_rows)
    ev_df = _renumber_events(events, org_rows)
    pooled = {"unit": "(pooled)", "kind": "mix", "period": _iso(cal.month_days[cal.join_idx]), "index": cal.join_idx,
              "cause": "unit_entry", "entering_unit": "ORG_JOIN",
              "event_id": next(e for e in ev_df.iter_rows(named=True) if e["unit"] == "ORG_JOIN")["event_id"]}
    truth = {"units": org_rows, "pooled_shifts": [pooled], "categories": list(MIX_CATEGORIES),
             "periods": T, "first_period": cfg.cases_start}
    return cases, ev_df, truth


def _simulate_org(rng: np.random.Generator, cfg: SynthConfig, cal: _MixCalendar, org: str, country: str,
                  events: list[dict[str, Any]]) -> tuple[dict[str, Any], np.ndarray]:
    """Simulate one organisation: its shifts, logged events (appended to `events`) and monthly counts."""
    joiner = org == "ORG_JOIN"
    lam = 200.0 if joiner else float(np.exp(rng.uniform(np.log(8), np.log(70))))
    p0 = np.array([0.75, 0.08, 0.07, 0.0, 0.10, 0.0]) if joiner else rng.dirichlet(BASE_MIX_ALPHA)
    p0 = np.maximum(p0, 0.0)
    first = cal.join_idx if joiner else 0
    # Planted shifts: 0, 1 or 2, at least 30 months apart and 18 from the ends.
    n_shift = 0 if joiner else int(rng.choice([0, 1, 2], p=[0.35, 0.45, 0.2]))
    taus = _shift_months(rng, cal.periods, n_shift)
    shares, shifts = _plant_mix_shifts(rng, cal, org, p0, taus, lam, events)
    lam_t, vol_shift = _plant_volume_shift(rng, cal, org, lam, taus, joiner, events)
    # Decoys: logged events far (>= 30 months) from every planted shift of the unit.
    planted = taus + ([vol_shift["index"]] if vol_shift else [])
    decoys = _decoy_events(rng, cal, org, first, planted, events)
    if joiner:
        ev = _event(org, cal.month_days[cal.join_idx], "data_system", None, rng,
                    description=f"{org} joins the shared data hub; its records start {_iso(cal.month_days[cal.join_idx])}")
        events.append(ev)
    counts = _monthly_counts(rng, cfg, lam_t, shares, first)
    row = {"unit": org, "cases_per_month": round(lam, 2), "first_period": _iso(cal.month_days[first]),
           "country": country, "shifts": shifts, "volume_shift": vol_shift,
           "decoy_events": decoys, "joins": joiner}
    return row, counts


def _shift_months(rng: np.random.Generator, periods: int, n_shift: int) -> list[int]:
    """Draw up to `n_shift` shift months, at least 30 apart and 18 from the ends, sorted."""
    taus: list[int] = []
    for _ in range(200):
        if len(taus) == n_shift:
            break
        t = int(rng.integers(18, periods - 18))
        if all(abs(t - u) >= 30 for u in taus):
            taus.append(t)
    taus.sort()
    return taus


def _plant_mix_shifts(rng: np.random.Generator, cal: _MixCalendar, org: str, p0: np.ndarray, taus: list[int],
                      lam: float, events: list[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Plant a mix shift at each month in `taus`, logging its cause; return monthly shares and shifts."""
    labour = MIX_CATEGORIES.index("forced_labour")
    month_days = cal.month_days
    shares = np.tile(p0, (cal.periods, 1))
    shifts = []
    p = p0
    for t in taus:
        cause = str(rng.choice(CAUSES, p=CAUSE_PROB))
        tvd = float(rng.uniform(0.06, 0.12)) if rng.random() < 0.15 else float(rng.uniform(0.15, 0.35))
        prefer = labour if cause == "funding" and rng.random() < 0.7 else None
        p_new, k, tvd = _shift_target(rng, p, tvd, prefer)
        shares[t:] = p_new
        shift = {"unit": org, "kind": "mix", "period": _iso(month_days[t]), "index": t, "tvd": round(tvd, 4),
                 "category": MIX_CATEGORIES[k], "cause": cause, "event_id": None,
                 "before": _round_shares(p), "after": _round_shares(p_new), "cases_per_month": round(lam, 2)}
        if cause != "none":
            if cause in ("funding", "legal"):
                lead = int(rng.integers(2, 11))
                ev_day = month_days[t - lead] + int(rng.integers(0, 28))
            else:  # recording change: in the month the new regime starts
                ev_day = month_days[t] + int(rng.integers(0, 20))
            ev = _event(org, ev_day, cause, MIX_CATEGORIES[k], rng)
            events.append(ev)
            shift["event_id"] = ev["event_id"]
        shifts.append(shift)
        p = p_new
    return shares, shifts


def _plant_volume_shift(rng: np.random.Generator, cal: _MixCalendar, org: str, lam: float, taus: list[int],
                        joiner: bool, events: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Maybe change the unit's caseload (staffing, coverage or nothing logged); return monthly means."""
    T, month_days = cal.periods, cal.month_days
    lam_t = np.full(T, lam)
    vol_shift = None
    tv = int(rng.integers(24, T - 24))
    # Kept 24+ months from the mix shifts, so a volume event never sits in a mix shift's window.
    if not joiner and rng.random() < 0.25 and all(abs(tv - t) >= 24 for t in taus):
        factor = float(rng.choice([0.5, 1.8, 2.2]))
        lam_t[tv:] *= factor
        vcause = str(rng.choice(["staffing", "coverage", "none"]))
        vol_shift = {"unit": org, "kind": "volume", "period": _iso(month_days[tv]), "index": tv, "factor": factor,
                     "cause": vcause, "event_id": None}
        if vcause != "none":
            ev = _event(org, month_days[tv - int(rng.integers(1, 4))] + int(rng.integers(0, 28)), vcause, None, rng)
            events.append(ev)
            vol_shift["event_id"] = ev["event_id"]
    return lam_t, vol_shift


def _decoy_events(rng: np.random.Generator, cal: _MixCalendar, org: str, first: int, planted: list[int],
                  events: list[dict[str, Any]]) -> list[str]:
    """Log 0-2 decoy events at least 30 months from every planted shift; return their (temporary) ids."""
    decoys = []
    for _ in range(int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))):
        for _try in range(50):
            t = int(rng.integers(first + 3, cal.periods - 3))
            if all(abs(t - u) >= 30 for u in planted):
                kind = str(rng.choice(["funding", "legal", "staffing", "definition", "data_system", "policy", "other"]))
                ev = _event(org, cal.month_days[t] + int(rng.integers(0, 28)), kind, None, rng)
                events.append(ev)
                decoys.append(ev["event_id"])
                break
    return decoys


def _monthly_counts(rng: np.random.Generator, cfg: SynthConfig, lam_t: np.ndarray, shares: np.ndarray,
                    first: int) -> np.ndarray:
    """Draw monthly totals (gamma-Poisson) and mixes (Dirichlet-multinomial): a T x K count array."""
    n_t = rng.poisson(rng.gamma(cfg.volume_shape, lam_t / cfg.volume_shape))
    n_t[:first] = 0
    alpha = cfg.mix_concentration * np.maximum(shares, 1e-6)
    p_t = rng.gamma(alpha)
    p_t /= p_t.sum(axis=1, keepdims=True)
    return rng.multinomial(n_t, p_t)


def _cases_table(rng: np.random.Generator, cal: _MixCalendar, counts: np.ndarray, org_ids: list[str],
                 org_rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Expand O x T x K counts into one row per case, drawing open and close dates and services."""
    month_days = cal.month_days
    o_idx, t_idx, k_idx = np.nonzero(counts)
    reps = counts[o_idx, t_idx, k_idx]
    o_r, t_r, k_r = np.repeat(o_idx, reps), np.repeat(t_idx, reps), np.repeat(k_idx, reps)
    month_len = month_days[t_r + 1] - month_days[t_r]
    opened = month_days[t_r] + (rng.random(len(t_r)) * month_len).astype(np.int64)
    order = np.lexsort((k_r, opened, o_r))
    o_r, k_r, opened = o_r[order], k_r[order], opened[order]
    closed = opened + rng.gamma(2.0, 60.0, len(opened)).astype(np.int64)
    n_cases = len(opened)
    org_arr = np.array(org_ids)
    country_arr = np.array([r["country"] for r in org_rows])
    return pl.DataFrame({
        "case_id": _ids("C", n_cases),
        "org_id": org_arr[o_r],
        "opened_date": _date_col(opened, "opened_date"),
        "case_type": np.array(MIX_CATEGORIES)[k_r],
        "closed_date": _date_col(closed, "closed_date"),
        "country": country_arr[o_r],
        "services": rng.poisson(2.5, n_cases).astype(np.int64),
    }).with_columns(pl.when(pl.col("closed_date") > dt.date.fromtimestamp(0) + dt.timedelta(days=cal.as_of))
                    .then(None).otherwise(pl.col("closed_date")).alias("closed_date"))


def _renumber_events(events: list[dict[str, Any]], org_rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Number the logged events in date order and rewrite the event ids held in `org_rows`."""
    ev_df = pl.DataFrame(events, schema={"event_id": pl.String, "unit": pl.String, "date": pl.String, "kind": pl.String,
                                         "description": pl.String, "source": pl.String, "end_date": pl.String,
                                         "case_types": pl.String})
    ev_df = ev_df.sort("date", "unit").with_columns(_ids("E", len(events)).alias("new_id"))
    remap = dict(zip(ev_df.get_column("event_id").to_list(), ev_df.get_column("new_id").to_list()))
    ev_df = ev_df.with_columns(pl.col("new_id").alias("event_id")).drop("new_id")
    for r in org_rows:
        for s in r["shifts"] + ([r["volume_shift"]] if r["volume_shift"] else []):
            if s["event_id"]:
                s["event_id"] = remap[s["event_id"]]
        r["decoy_events"] = [remap[e] for e in r["decoy_events"]]
    return ev_df


_EVENT_TEXT = {
    "funding": "Donor grant for {cat} programmes begins",
    "legal": "Amended statute changes what counts as {cat}",
    "definition": "Intake form redefines {cat} cases",
    "data_system": "New case-management system goes live",
    "staffing": "Caseworker team changes size",
    "coverage": "Outreach extended to a new district",
    "policy": "Referral policy revised",
    "other": "Organisational review",
}


def _event(unit: str, day: int, kind: str, category: str | None, rng: np.random.Generator,
           description: str | None = None) -> dict[str, Any]:
    cat = (category or "trafficking").replace("_", " ")
    return {
        "event_id": f"tmp{rng.integers(0, 2**62)}",
        "unit": unit,
        "date": _iso(day),
        "kind": kind,
        "description": description or _EVENT_TEXT[kind].format(cat=cat),
        "source": "synthetic log",
        "end_date": None,
        "case_types": category,
    }


def _iso(day: int | np.integer) -> str:
    return (EPOCH + dt.timedelta(days=int(day))).isoformat()


def _round_shares(p: np.ndarray) -> dict[str, float]:
    return {c: round(float(x), 4) for c, x in zip(MIX_CATEGORIES, p)}


# ---------------------------------------------------------------- public entry point

def generate(cfg: SynthConfig = SynthConfig()) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Generate all tables and the truth, in memory."""
    rng = np.random.default_rng(cfg.seed)
    cj, cj_truth = _criminal_justice(rng, cfg)
    cases, events, mix_truth = _case_mix(rng, cfg)
    tables = {**cj, "cases": cases, "context": events}
    truth = {"config": asdict(cfg), "as_of": cfg.as_of, **cj_truth, "case_mix": mix_truth}
    return tables, truth


def write_synthetic(out_dir: str | Path, cfg: SynthConfig = SynthConfig(), context_dir: str | Path | None = None,
                    fmt: str = "parquet", with_truth_links: bool = True) -> dict[str, str]:
    """Write arrests, prosecutions, dispositions, cases (as `fmt`), the context log (CSV) and truth.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Path(context_dir) if context_dir else out / "context_log"
    ctx.mkdir(parents=True, exist_ok=True)
    tables, truth = generate(cfg)
    written: dict[str, str] = {}
    for name in ("arrests", "prosecutions", "dispositions", "cases"):
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            tables[name].write_parquet(path, compression="zstd", statistics=False)
        elif fmt == "csv":
            tables[name].write_csv(path)
        else:
            raise ValueError(f"unknown format {fmt!r}; use parquet or csv")
        written[name] = str(path)
    ev_path = ctx / "events.csv"
    tables["context"].write_csv(ev_path)
    written["context"] = str(ev_path)
    if not with_truth_links:
        truth["links"] = {k: f"{len(v)} links (omitted)" for k, v in truth["links"].items()}
    (out / "truth.json").write_text(json.dumps(truth, separators=(",", ":"), sort_keys=False) + "\n")
    written["truth"] = str(out / "truth.json")
    return written
