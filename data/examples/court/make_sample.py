"""Synthetic federal-court-like defendant records (one row per defendant in a case).

Imitates the shape of US federal criminal case data on trafficking prosecutions
(in the spirit of FJC Integrated Database defendant files): co-defendants share a
case number, charge (indictment/complaint) and arrest dates in either order,
termination year, counts by disposition, lead charge, prison months. It holds NO
real records: every case, date, count and sentence is drawn at random below.

Planted problems: 2 arrest dates far in the future (outliers), 1 blank charge_date.
Data are "as of" the end of AS_OF_YEAR: no termination after it; pending = blank.

    python data/examples/court/make_sample.py [--seed 13]
"""
import argparse
import csv
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np

COLUMNS = ["defendant_key", "case_number", "district", "arrest_date", "charge_date", "termination_year",
           "counts_convicted", "counts_acquitted", "counts_dismissed", "lead_charge", "prison_months"]
DISTRICTS = ["S.D. Texas", "E.D. New York", "N.D. Georgia", "C.D. California", "M.D. Florida", "D. Minnesota"]
DISTRICT_P = [0.24, 0.18, 0.16, 0.18, 0.14, 0.10]
CHARGES = ["18 USC 1591", "18 USC 1589", "18 USC 1590", "18 USC 2421"]
CHARGE_P = [0.55, 0.13, 0.07, 0.25]
MEDIAN_MONTHS = {"18 USC 1591": 180, "18 USC 1589": 60, "18 USC 1590": 72, "18 USC 2421": 36}
SIZES, SIZE_P = list(range(1, 9)), [0.42, 0.20, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03]
AS_OF_YEAR, TARGET_ROWS = 2021, 750
PENDING_P = {2016: 0.06, 2017: 0.16, 2018: 0.36, 2019: 0.56, 2020: 0.75}  # by charge year; earlier: 0.02
LAG_P = np.array([0.15, 0.35, 0.25, 0.13, 0.08, 0.04])  # termination year - charge year, 0..5
OUTLIER_DATES = [date(2031, 5, 1), date(2031, 9, 14)]
D0 = date(2008, 1, 1)


def day(rng: np.random.Generator, lo: date, hi: date) -> date:
    return lo + timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))


def case_defendants(rng: np.random.Generator) -> list[dict]:
    """Dates, lead charge and outcome for every defendant of one new case."""
    size = int(rng.choice(SIZES, p=SIZE_P)) if rng.random() > 0.02 else int(rng.integers(9, 17))
    case_charge = CHARGES[rng.choice(4, p=CHARGE_P)]
    people = []
    if rng.random() < 0.68:  # indicted first: shared charge date, arrests 1-120 days later
        charged = day(rng, D0, date(2019, 8, 31))
        dates = [(charged + timedelta(days=int(rng.integers(1, 121))), charged) for _ in range(size)]
        for i in range(size):  # a few co-defendants arrested earlier on a complaint
            if rng.random() < 0.08:
                early = int(rng.integers(0, min(200, (charged - D0).days) + 1))
                dates[i] = (charged - timedelta(days=early), charged)
    else:  # arrested first (complaint): arrests within 20 days, charge 0-200 days after each
        start = day(rng, D0, date(2019, 12, 10))
        charged = start + timedelta(days=int(rng.integers(20, 201)))
        dates = [(start + timedelta(days=int(rng.integers(0, 21))), charged) for _ in range(size)]
    for arrested, charged in dates:
        lead = case_charge if rng.random() < 0.85 else CHARGES[rng.choice(4, p=CHARGE_P)]
        d = {"arrest_date": arrested, "charge_date": charged, "lead_charge": lead, "termination_year": None,
             "counts_convicted": None, "counts_acquitted": None, "counts_dismissed": None, "prison_months": None}
        cy = charged.year
        if rng.random() >= PENDING_P.get(cy, 0.02 if cy < 2017 else 0.9):
            lag_p = LAG_P[: AS_OF_YEAR - cy + 1]
            d["termination_year"] = cy + int(rng.choice(len(lag_p), p=lag_p / lag_p.sum()))
            n = 1 + int(rng.poisson(1.5))
            outcome = rng.choice(3, p=[0.85, 0.12, 0.03])  # convicted / all dismissed / acquitted
            conv = 1 + int(rng.binomial(n - 1, 0.3)) if outcome == 0 else 0
            acq = n if outcome == 2 else int(outcome == 0 and conv < n and rng.random() < 0.05)
            d.update(counts_convicted=conv, counts_acquitted=acq, counts_dismissed=n - conv - acq)
            if conv:
                median = MEDIAN_MONTHS[lead]
                months = 0 if rng.random() < 0.08 else int(np.clip(rng.lognormal(np.log(median), 0.5), 1, 720))
                d["prison_months"] = months
        people.append(d)
    return people


def generate(seed: int) -> tuple[list[dict], dict]:
    rng = np.random.default_rng(seed)
    cases, used, n = [], set(), 0
    while n < TARGET_ROWS:
        people = case_defendants(rng)
        district = DISTRICTS[rng.choice(len(DISTRICTS), p=DISTRICT_P)]
        year = min(p["charge_date"] for p in people).year
        while (number := f"{rng.integers(1, 5)}:{year % 100:02d}-cr-{rng.integers(1, 700):05d}") in used:
            pass
        used.add(number)
        cases.append((min(p["charge_date"] for p in people), number, district, people))
        n += len(people)
    rows = []
    for _, number, district, people in sorted(cases, key=lambda c: (c[0], c[1])):
        for p in people:
            rows.append({"defendant_key": f"DF-{len(rows) + 1:06d}", "case_number": number, "district": district, **p})
    picks = [int(i) for i in rng.choice(len(rows), size=3, replace=False)]
    for i, when in zip(picks[:2], OUTLIER_DATES):
        rows[i]["arrest_date"] = when
    rows[picks[2]]["charge_date"] = None
    planted = {"outlier_arrest_keys": [rows[i]["defendant_key"] for i in picks[:2]],
               "blank_charge_date_keys": [rows[picks[2]]["defendant_key"]]}
    return rows, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    rows, planted = generate(args.seed)
    with open(here / "defendants.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows({k: ("" if r[k] is None else str(r[k])) for k in COLUMNS} for r in rows)
    pending = sum(r["termination_year"] is None for r in rows)
    bad = set(planted["outlier_arrest_keys"] + planted["blank_charge_date_keys"])
    clean = [r for r in rows if r["defendant_key"] not in bad]
    first = sum(r["charge_date"] < r["arrest_date"] for r in clean) / len(clean)
    outcome = {"convicted": sum((r["counts_convicted"] or 0) > 0 for r in rows),
               "acquitted_only": sum((r["counts_acquitted"] or 0) > 0 and not r["counts_convicted"] for r in rows),
               "dismissed_only": sum((r["counts_dismissed"] or 0) > 0 and not r["counts_convicted"]
                                     and not r["counts_acquitted"] for r in rows)}
    truth = {"seed": args.seed, "as_of_year": AS_OF_YEAR, "rows": len(rows),
             "cases": len({r["case_number"] for r in rows}), "pending": pending, "terminated": len(rows) - pending,
             "defendant_outcomes": outcome, "probation_only": sum(r["prison_months"] == 0 for r in rows),
             "indictment_first_share": round(first, 4),
             "indictment_first_definition": "charge_date < arrest_date, rows with both dates, planted rows excluded",
             **planted}
    (here / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"rows: {len(rows)}  cases: {truth['cases']}  pending: {pending}  terminated: {len(rows) - pending}  "
          f"indictment first: {first:.1%}  outcomes: {outcome}  planted: {planted}")


if __name__ == "__main__":
    main()
