"""Accuracy and time of person resolution on a world whose agencies share no person id.

    .venv/bin/python benchmarks/resolve_bench.py [--seed 5] [--thresholds 0.15,0.3,0.5,0.9]

The committed synthetic tables (data/synthetic) re-issued as three agencies' files
(`tipdrift.testing.persons`: own person ids, no shared person id, the noise in
`PersonNoise`, co-defendant cases), once with the record references the generator gave
(filings naming their arrest, outcomes their filing) and once without any; persons
resolved (training included, timed), then clustered at each threshold with the trained
model; links scored against truth.json, and the 24-month attrition of fully observed
cohorts against the planted shares. The ceiling row links the same tables by the true
person ids (with the same references, or none).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from tipdrift.link import link_trajectories
from tipdrift.load import load_table
from tipdrift.resolve import resolve_persons
from tipdrift.testing.evaluate import evaluate_attrition, evaluate_linkage
from tipdrift.testing.persons import write_noisy_world

REPO = Path(__file__).resolve().parents[1]
KINDS = ("arrests", "prosecutions", "dispositions")


def row(label: str, traj: pl.DataFrame, truth: dict) -> str:
    lk, at = evaluate_linkage(traj, truth), evaluate_attrition(traj, truth)
    ap, pd_ = lk["arrest_prosecution"], lk["prosecution_disposition"]
    return (f"| {label} | {ap['precision']:.3f} / {ap['recall']:.3f} | {pd_['precision']:.3f} / {pd_['recall']:.3f} | "
            f"{at['max_abs_error'] * 100:.1f} / {at['mean_abs_error'] * 100:.1f} |")


def one_world(tmp: Path, seed: int, thresholds: list[float], references: bool) -> None:
    """The table rows of one re-issued world: by threshold, tokens, and the ceiling."""
    world = write_noisy_world(REPO / "data" / "synthetic", tmp / f"noisy{int(references)}", seed=seed,
                              references=references)
    truth = json.loads((world / "truth.json").read_text())
    tables = {k: load_table(k, world / f"{k}.csv", as_of=truth["as_of"]).accepted for k in KINDS}
    t = time.perf_counter()
    first = resolve_persons(tables)
    print(f"\n{'references kept' if references else 'no references'}: resolution with training "
          f"{time.perf_counter() - t:.1f} s for {first.summary['records']} records; co-defendant links refused "
          f"{first.summary['codefendant_merges_refused']}")
    print("| threshold | arrest->prosecution precision / recall | prosecution->disposition | "
          "24-month attrition error, max / mean (points) |\n|---|---|---|---|")
    for thr in thresholds:
        res = resolve_persons(tables, threshold=thr, model=first.model)
        print(row(f"{thr:g}", link_trajectories(*(tables[k].with_columns(res.keys[k]) for k in KINDS)).trajectories,
                  truth))
    from tipdrift.pseudonymise import pseudonymise

    key = b"benchmark-key-0123456789abcdef"
    tok = {k: pseudonymise(df, key) for k, df in tables.items()}
    res = resolve_persons(tok)
    print(row(f"tokens, {res.threshold:g}", link_trajectories(*(tok[k].with_columns(res.keys[k]) for k in KINDS))
              .trajectories, truth))
    orig = {k: pl.read_parquet(REPO / "data" / "synthetic" / f"{k}.parquet") for k in KINDS}
    ids = {"arrests": "arrest_id", "prosecutions": "prosecution_id", "dispositions": "disposition_id"}
    true = {k: tables[k].drop("person_id").join(orig[k].select(ids[k], "person_id"), on=ids[k], how="left",
                                                maintain_order="left") for k in KINDS}
    print(row("true person ids (the ceiling)", link_trajectories(*true.values()).trajectories, truth))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--thresholds", default="0.15,0.3,0.5,0.9", help="for the world without references")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one_world(Path(tmp), args.seed, [0.3], references=True)
        one_world(Path(tmp), args.seed, [float(x) for x in args.thresholds.split(",")], references=False)


if __name__ == "__main__":
    main()
