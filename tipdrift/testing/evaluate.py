"""Scoring detections against truth (methods.md section 6; van den Burg & Williams 2020).

Change points are the first index of a new segment; 0 is added to both the true and the
predicted sets, as TCPDBench does, so a series with no change and no detection scores
F1 = 1.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import numpy as np

from tipdrift.shift import Shift
from tipdrift.timeutil import month_index


def true_positives(truth: Iterable[int], predicted: Iterable[int], margin: int) -> int:
    """For each true tau, the nearest unused prediction within the margin counts once."""
    used: set[int] = set()
    tp = 0
    preds = sorted(set(predicted))
    for tau in sorted(set(truth)):
        close = [x for x in preds if abs(tau - x) <= margin and x not in used]
        if close:
            used.add(min(close, key=lambda x: (abs(tau - x), x)))
            tp += 1
    return tp


def f_measure(truth: Iterable[int], predicted: Iterable[int], margin: int = 3) -> dict[str, float]:
    """Precision, recall and F1 with 0 added to both sets."""
    t = {0, *truth}
    x = {0, *predicted}
    tp = true_positives(t, x, margin)
    p = tp / len(x)
    r = tp / len(t)
    return {"precision": p, "recall": r, "f1": 0.0 if p + r == 0 else 2 * p * r / (p + r)}


def _segments(cps: Iterable[int], n: int) -> list[tuple[int, int]]:
    b = sorted({0, *[c for c in cps if 0 < c < n], n})
    return list(zip(b[:-1], b[1:]))


def covering(truth: Iterable[int], predicted: Iterable[int], n: int) -> float:
    """C(G', G) = (1/T) sum_{A in G} |A| max_{A' in G'} |A & A'| / |A | A'|."""
    total = 0.0
    pred = _segments(predicted, n)
    for a0, a1 in _segments(truth, n):
        best = 0.0
        for b0, b1 in pred:
            inter = max(0, min(a1, b1) - max(a0, b0))
            union = max(a1, b1) - min(a0, b0)
            best = max(best, inter / union)
        total += (a1 - a0) * best
    return total / n


def score_units(truth_by_unit: dict[str, list[int]], found_by_unit: dict[str, list[int]], lengths: dict[str, int],
                margin: int = 3) -> dict[str, Any]:
    """Pooled F1 over units (TP, |X| and |T| summed; the 0s are not counted), mean F1 and
    covering per unit, and the false-alarm rate on units with no true change."""
    tp = n_pred = n_true = 0
    f1s, covs = [], []
    no_change = alarms = 0
    for unit, n in lengths.items():
        t = truth_by_unit.get(unit, [])
        x = found_by_unit.get(unit, [])
        tp += true_positives(t, x, margin)
        n_pred += len(set(x))
        n_true += len(set(t))
        f1s.append(f_measure(t, x, margin)["f1"])
        covs.append(covering(t, x, n))
        if not t:
            no_change += 1
            alarms += bool(x)
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    return {
        "units": len(lengths), "true": n_true, "predicted": n_pred, "true_positives": tp,
        "precision": p, "recall": r, "f1": 0.0 if p + r == 0 else 2 * p * r / (p + r),
        "mean_unit_f1": float(np.mean(f1s)) if f1s else float("nan"),
        "mean_covering": float(np.mean(covs)) if covs else float("nan"),
        "no_change_units": no_change, "false_alarm_rate": alarms / no_change if no_change else float("nan"),
    }


def _month_index(date: dt.date | str, first: str) -> int:
    return month_index(date) - month_index(first)


def evaluate_mix_shifts(truth: dict[str, Any], shifts: list[Shift], margin: int = 3, min_tvd: float = 0.15,
                        min_cases: float = 20.0) -> dict[str, Any]:
    """Score detected mix shifts against a synthetic world's truth.json (monthly series).

    - `eligible`: units with at least `min_cases` cases a month; their shifts with TVD >=
      `min_tvd` are the truth; a detection within the margin of a smaller planted shift
      is neither a hit nor a false alarm.
    - `all`: every unit and every planted shift.
    - false-alarm rate: share of units with no planted shift that get any mix shift.
    - interval coverage: share of detected true shifts whose 95% interval holds the date.
    """
    first = truth["case_mix"]["first_period"]
    T = int(truth["case_mix"]["periods"])
    found: dict[str, list[int]] = {}
    found_ci: dict[str, list[tuple[int, int, int]]] = {}
    for s in shifts:
        if s.kind != "mix":
            continue
        i = _month_index(s.period, first)
        found.setdefault(s.unit, []).append(i)
        found_ci.setdefault(s.unit, []).append((i, _month_index(s.ci[0], first), _month_index(s.ci[1], first)))
    units = [u for u in truth["case_mix"]["units"] if not u["joins"]]
    all_truth = {u["unit"]: [s["index"] for s in u["shifts"]] for u in units}
    lengths = {u["unit"]: T for u in units}
    overall = score_units(all_truth, found, lengths, margin)
    elig_truth: dict[str, list[int]] = {}
    elig_found: dict[str, list[int]] = {}
    for u in units:
        if u["cases_per_month"] < min_cases:
            continue
        big = [s["index"] for s in u["shifts"] if s["tvd"] >= min_tvd]
        small = [s["index"] for s in u["shifts"] if s["tvd"] < min_tvd]
        elig_truth[u["unit"]] = big
        elig_found[u["unit"]] = [x for x in found.get(u["unit"], [])
                                 if not any(abs(x - t) <= margin for t in small) or any(abs(x - t) <= margin for t in big)]
    eligible = score_units(elig_truth, elig_found, {u: T for u in elig_truth}, margin)
    covered = detected = 0
    for u in units:
        for s in u["shifts"]:
            near = [c for c in found_ci.get(u["unit"], []) if abs(c[0] - s["index"]) <= margin]
            if near:
                x, lo, hi = min(near, key=lambda c: abs(c[0] - s["index"]))
                detected += 1
                covered += lo <= s["index"] <= hi
    return {"margin": margin, "min_tvd": min_tvd, "min_cases_per_month": min_cases, "all": overall,
            "eligible": eligible, "false_alarm_rate": overall["false_alarm_rate"],
            "no_change_units": overall["no_change_units"],
            "interval_coverage": covered / detected if detected else float("nan"), "detected_true_shifts": detected}


def evaluate_context(truth: dict[str, Any], shifts: list[Shift], margin: int = 3) -> dict[str, Any]:
    """How annotations of detected true mix shifts match the logged causes in truth.json.

    - `cause_attached`: share of detected true shifts with a logged cause whose event is
      among the shift's annotations;
    - `uncaused_unexplained`: share of detected true shifts with no logged cause whose
      status is `unexplained` (decoys and other units' events not attached);
    - `pooled_entry`: status of the pooled shift nearest the joining unit's entry.
    """
    first = truth["case_mix"]["first_period"]
    by_unit: dict[str, list[Shift]] = {}
    for s in shifts:
        if s.kind == "mix":
            by_unit.setdefault(s.unit, []).append(s)
    caused = attached = uncaused = unexplained = 0
    for u in truth["case_mix"]["units"]:
        for t in u["shifts"]:
            near = [s for s in by_unit.get(u["unit"], []) if abs(_month_index(s.period, first) - t["index"]) <= margin]
            if not near:
                continue
            s = min(near, key=lambda s: abs(_month_index(s.period, first) - t["index"]))
            if t["event_id"]:
                caused += 1
                attached += t["event_id"] in {a.event_id for a in s.annotations}
            else:
                uncaused += 1
                unexplained += s.status == "unexplained"
    pooled = []
    for p in truth["case_mix"].get("pooled_shifts", []):
        near = [s for s in by_unit.get("(pooled)", []) if abs(_month_index(s.period, first) - p["index"]) <= margin]
        pooled.append({"period": p["period"], "detected": bool(near),
                       "status": near[0].status if near else None,
                       "event_attached": bool(near) and p["event_id"] in {a.event_id for a in near[0].annotations}})
    return {"caused_detected": caused, "cause_attached": attached / caused if caused else float("nan"),
            "uncaused_detected": uncaused,
            "uncaused_unexplained": unexplained / uncaused if uncaused else float("nan"), "pooled": pooled}


def evaluate_volume_shifts(truth: dict[str, Any], shifts: list[Shift], margin: int = 3) -> dict[str, Any]:
    """Detected volume shifts (cases per month) against the planted ones: pooled F1 and the
    false-alarm rate on units with no planted volume change (the joining unit left out)."""
    first = truth["case_mix"]["first_period"]
    T = int(truth["case_mix"]["periods"])
    units = [u for u in truth["case_mix"]["units"] if not u["joins"]]
    true = {u["unit"]: ([u["volume_shift"]["index"]] if u["volume_shift"] else []) for u in units}
    found: dict[str, list[int]] = {}
    for s in shifts:
        if s.kind == "volume" and s.unit in true:
            found.setdefault(s.unit, []).append(_month_index(s.period, first))
    return score_units(true, found, {u: T for u in true}, margin)


def evaluate_linkage(trajectories: Any, truth: dict[str, Any]) -> dict[str, Any]:
    """Precision and recall of both link types against the planted links."""
    import polars as pl

    links = {}
    for name, (l, r) in (("arrest_prosecution", ("arrest_id", "prosecution_id")),
                         ("prosecution_disposition", ("prosecution_id", "disposition_id"))):
        true = pl.DataFrame(truth["links"][name], schema=[l, r], orient="row")
        got = trajectories.filter(pl.col(l).is_not_null() & pl.col(r).is_not_null()).select(l, r)
        tp = got.join(true, on=[l, r], how="semi").height
        links[name] = {"true": true.height, "found": got.height, "precision": tp / max(got.height, 1),
                       "recall": tp / max(true.height, 1)}
    return links


def evaluate_attrition(trajectories: Any, truth: dict[str, Any]) -> dict[str, Any]:
    """Largest and mean gap between estimated and true 24-month shares of fully observed cohorts."""
    import polars as pl

    from tipdrift.attrition import AttritionFitter

    fit = AttritionFitter(horizon_months=24, as_of=dt.date.fromisoformat(truth["as_of"])).fit(trajectories)
    est = {r["cohort"]: r for r in fit.cohorts_.filter(pl.col("entry_stage") == "arrest").to_dicts()}
    gaps = [abs(est[x["cohort"]][k]["estimate"] - x[k]) for x in truth["attrition"]
            if x["horizon_months"] == 24 and x["fully_observed"] for k in ("prosecuted", "convicted", "dismissed", "acquitted")]
    return {"fully_observed_cohorts": len(gaps) // 4, "max_abs_error": max(gaps), "mean_abs_error": sum(gaps) / len(gaps)}


def evaluate_drift(tables: dict[str, Any], truth: dict[str, Any], margin: int = 3) -> dict[str, Any]:
    """Mix and volume shifts, intervals and context annotation against the planted truth."""
    import polars as pl

    from tipdrift.context import attach_context
    from tipdrift.decompose import decompose_pooled_shift
    from tipdrift.detect import DriftDetector
    from tipdrift.series import POOLED, build_series

    series = build_series(tables["cases"], pooled=True)
    det = DriftDetector(volume=True).fit(series)
    shifts = [s for s in det.shifts_ if s.kind == "mix"]
    for s in shifts:
        if s.unit == POOLED:
            s.decomposition = decompose_pooled_shift(series, s)
    events = tables["context"].with_columns(pl.col("date").str.to_date(), pl.col("end_date").str.to_date(),
                                            pl.col("case_types").str.split(";"))
    attach_context(shifts, events)
    return {"volume": evaluate_volume_shifts(truth, det.shifts_, margin=margin),
            "drift": evaluate_mix_shifts(truth, [s for s in shifts if s.unit != POOLED], margin=margin),
            "context": evaluate_context(truth, shifts, margin=margin), "tested_candidates": det.family_,
            "dependence": {k: d.to_json() for k, d in det.dependence_.items()}}


def evaluate_world(seed: int = 2024, scale: float = 10.0, margin: int = 3) -> dict[str, Any]:
    """Generate a synthetic world and score every stage against its truth: linkage
    precision and recall, attrition error of fully observed cohorts, drift (F1, covering,
    false alarms, interval coverage) and context annotation."""
    from tipdrift.link import link_trajectories
    from tipdrift.testing.synth import SynthConfig, generate

    tables, truth = generate(SynthConfig(seed=seed, scale=scale))
    out: dict[str, Any] = {"seed": seed, "scale": scale, "counts": truth["counts"]}
    traj = link_trajectories(tables["arrests"], tables["prosecutions"], tables["dispositions"]).trajectories
    out["linkage"] = evaluate_linkage(traj, truth)
    out["attrition"] = evaluate_attrition(traj, truth)
    out.update(evaluate_drift(tables, truth, margin))
    return out


def evaluate_probabilistic(seed: int = 2024, scale: float = 1.0, tokens: bool = False,
                           threshold: float | None = None, noise_seed: int = 5,
                           references: bool = True) -> dict[str, Any]:
    """Generate a world, re-issue its tables as three agencies' files that share no person
    id (`tipdrift.testing.persons`; with or without the records' references to each other),
    resolve persons (from names, or from pseudonymised tokens) and score the links and the
    24-month attrition against the truth."""
    import json
    import tempfile
    from pathlib import Path

    from tipdrift.link import link_trajectories
    from tipdrift.load import load_table
    from tipdrift.pseudonymise import pseudonymise
    from tipdrift.resolve import DEFAULT_THRESHOLD, resolve_persons
    from tipdrift.testing.persons import PersonNoise, write_noisy_world
    from tipdrift.testing.synth import SynthConfig, generate

    tables, truth = generate(SynthConfig(seed=seed, scale=scale))
    kinds = ("arrests", "prosecutions", "dispositions")
    with tempfile.TemporaryDirectory() as tmp:
        for k in kinds:
            tables[k].write_parquet(Path(tmp) / f"{k}.parquet")
        (Path(tmp) / "truth.json").write_text(json.dumps(truth, default=str))
        world = write_noisy_world(tmp, Path(tmp) / "agencies", seed=noise_seed, references=references)
        frames = {k: load_table(k, world / f"{k}.csv", as_of=str(truth["as_of"])).accepted for k in kinds}
    if tokens:
        frames = {k: pseudonymise(df, b"evaluation-key-0123456789abcdef") for k, df in frames.items()}
    res = resolve_persons(frames, threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    traj = link_trajectories(*(frames[k].with_columns(res.keys[k]) for k in kinds)).trajectories
    return {"seed": seed, "scale": scale, "match": "probabilistic", "tokens": tokens, "references": references,
            "noise": PersonNoise().__dict__,
            "persons": res.summary, "linkage": evaluate_linkage(traj, truth), "attrition": evaluate_attrition(traj, truth)}
