"""Synthetic sample in the layout of the CTDC global victim dataset.

Imitates the column layout and coding of the Counter Trafficking Data
Collaborative (IOM, Polaris, Liberty Shared) k-anonymised victim file: year only,
coarse age bands, "-99"/blank for unknown, 0/1 exploitation flags, and many rows
that are exact copies of another row. It holds NO real records: every row is
drawn from the made-up distributions below.

Planted, for tests (see truth.json): MD changes its mix in 2012 (sexual
exploitation -> forced labour); UA's share of rows with no exploitation type
recorded jumps from ~20% to ~60% in 2013 (completeness, not mix). Other
countries are stable.

    python data/examples/ctdc/make_sample.py [--seed 11]
"""
import argparse
import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np

COLUMNS = ("yearOfRegistration,Datasource,gender,ageBroad,majorityStatus,citizenship,CountryOfExploitation,"
           "isForcedLabour,isSexualExploit,isOtherExploit,isSexAndLabour,isForcedMarriage,isForcedMilitary,"
           "isOrganRemoval,isSlaveryAndPractices,typeOfExploitConcatenated").split(",")
MINIMAL = ["yearOfRegistration", "citizenship", "isForcedLabour", "isSexualExploit"]
YEARS = range(2005, 2021)
AGES = ["0--8", "9--17", "18--20", "21--23", "24--26", "27--29", "30--38", "39--47", "48+", "-99"]
AGE_P = [0.02, 0.13, 0.09, 0.09, 0.08, 0.07, 0.12, 0.06, 0.04, 0.30]
# type -> (flags isForcedLabour..isSlaveryAndPractices in COLUMNS order, concatenated text)
TYPES: dict[str, tuple[tuple[int, ...], str]] = {
    "labour": ((1, 0, 0, 0, 0, 0, 0, 0), "Forced labour"),
    "sexual": ((0, 1, 0, 0, 0, 0, 0, 0), "Sexual exploitation"),
    "both": ((1, 1, 0, 1, 0, 0, 0, 0), "Forced labour;Sexual exploitation"),
    "marriage": ((0, 0, 0, 0, 1, 0, 0, 0), "Forced marriage"),
    "other": ((0, 0, 1, 0, 0, 0, 0, 0), "Other"),
    "military": ((0, 0, 0, 0, 0, 1, 0, 0), "Forced military labour"),
    "organ": ((0, 0, 0, 0, 0, 0, 1, 0), "Organ removal"),
    "slavery": ((0, 0, 0, 0, 0, 0, 0, 1), "Slavery and similar practices"),
}
TYPE_NAMES = list(TYPES)
RARE = {"other": 0.02, "military": 0.005, "organ": 0.005, "slavery": 0.01}


def mix(labour: float, sexual: float, both: float = 0.04, marriage: float = 0.03) -> list[float]:
    """Type probabilities over TYPE_NAMES (rare types fixed), rescaled to sum to 1."""
    p = np.array([labour, sexual, both, marriage] + list(RARE.values()))
    return list(p / p.sum())


MD_BEFORE, MD_AFTER = mix(0.12, 0.76), mix(0.66, 0.20)
MIXES = {"UA": mix(0.45, 0.45), "PH": mix(0.60, 0.30), "ID": mix(0.70, 0.20),
         "KH": mix(0.50, 0.33, marriage=0.10), "NG": mix(0.15, 0.75), "0": mix(0.45, 0.45)}
DEST = {"MD": ["RU", "TR", "MD", "AE"], "UA": ["RU", "PL", "UA", "TR"], "PH": ["PH", "MY", "SA", "AE"],
        "ID": ["MY", "SA", "ID"], "KH": ["TH", "MY", "KH", "CN"], "NG": ["IT", "NG", "LY", "ES"],
        "0": ["US", "TH", "RU"]}
MISSING_P = {"MD": 0.42, "PH": 0.44, "ID": 0.45, "KH": 0.43, "NG": 0.41, "0": 0.50}
PROFILE_P = 0.5  # k-anonymised look: a row reuses profile j of its (cell, type) with prob ~ (1-P)^j * P


def exploitation(rng: np.random.Generator, year: int, cit: str) -> tuple[str, list[str], str]:
    """Type of one row: its kind, the eight is* flags and typeOfExploitConcatenated."""
    p_missing = (0.20 if year < 2013 else 0.60) if cit == "UA" else MISSING_P[cit]
    if rng.random() < p_missing:  # type not recorded: all flags blank (60%) or all -99
        return "missing", ["" if rng.random() < 0.6 else "-99"] * 8, ""
    p = (MD_BEFORE if year < 2012 else MD_AFTER) if cit == "MD" else MIXES[cit]
    kind = TYPE_NAMES[rng.choice(len(TYPE_NAMES), p=p)]
    return kind, [str(b) for b in TYPES[kind][0]], TYPES[kind][1]


def person(rng: np.random.Generator, cit: str, kind: str) -> list[str]:
    """Coarse victim profile: Datasource, gender, ageBroad, majorityStatus, CountryOfExploitation."""
    source = "Hotline" if rng.random() < 0.25 else "Case Management"
    p_female = {"sexual": 0.93, "both": 0.8, "marriage": 0.97, "labour": 0.4}.get(kind, 0.65)
    g = rng.random()
    gender = "-99" if g < 0.05 else ("Female" if g < 0.05 + 0.95 * p_female else "Male")
    age = AGES[rng.choice(len(AGES), p=AGE_P)]
    majority = (["Adult", "Minor", "-99"][rng.choice(3, p=[0.40, 0.15, 0.45])] if age == "-99"
                else "Minor" if age in ("0--8", "9--17") else "Adult")
    dests = DEST[cit]  # first destination gets 55%, the rest share 45%; 10% unknown
    p_dest = [0.55] + [0.45 / (len(dests) - 1)] * (len(dests) - 1)
    dest = "-99" if rng.random() < 0.10 else dests[rng.choice(len(dests), p=p_dest)]
    return [source, gender, age, majority, dest]


def generate(seed: int) -> list[list[str]]:
    """Rows per (citizenship, year) cell: type drawn per row, profile from a few per (cell, type)."""
    rng = np.random.default_rng(seed)
    cells = [(c, y, int(rng.integers(37, 44))) for c in ["MD", "UA", "PH", "ID", "KH", "NG"] for y in YEARS]
    cells += [("0", y, int(rng.integers(3, 8))) for y in YEARS]  # ~2% unknown citizenship
    rows: list[list[str]] = []
    for cit, year, n in cells:
        pools: dict[tuple[str, ...], list[list[str]]] = {}
        for _ in range(n):
            kind, flags, text = exploitation(rng, year, cit)
            pool = pools.setdefault((kind, *flags), [])
            j = int(rng.geometric(PROFILE_P)) - 1
            while len(pool) <= j:
                pool.append(person(rng, cit, kind))
            src, gender, age, majority, dest = pool[j]
            rows.append([str(year), src, gender, age, majority, cit, dest, *flags, text])
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def design(p: list[float]) -> dict[str, float]:
    """Designed shares of recorded rows with isSexualExploit / isForcedLabour = 1."""
    w = dict(zip(TYPE_NAMES, p))
    return {"sexual": round(w["sexual"] + w["both"], 4), "forced_labour": round(w["labour"] + w["both"], 4)}


def shares(rows: list[list[str]], cit: str, years: range) -> dict[str, float]:
    """Observed not-recorded share and, among recorded rows, labour/sexual shares."""
    sub = [r for r in rows if r[5] == cit and int(r[0]) in years]
    rec = [r for r in sub if r[7] in ("0", "1") or r[8] in ("0", "1")]
    return {"rows": len(sub), "not_recorded": round(1 - len(rec) / len(sub), 4),
            "forced_labour_among_recorded": round(sum(r[7] == "1" for r in rec) / len(rec), 4),
            "sexual_among_recorded": round(sum(r[8] == "1" for r in rec) / len(rec), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    here = Path(__file__).resolve().parent
    rows = generate(args.seed)
    counts = Counter(map(tuple, rows))
    n_dup = sum(c for c in counts.values() if c > 1)  # rows that have an identical twin
    assert n_dup >= 0.5 * len(rows), "k-anonymisation: at least half the rows must be copies"
    idx = [COLUMNS.index(c) for c in MINIMAL]
    for name, header, body in [("sample.csv", COLUMNS, rows),
                               ("sample_minimal.csv", MINIMAL, [[r[i] for i in idx] for r in rows])]:
        with open(here / name, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([header, *body])
    not_rec = sum(r[7] not in ("0", "1") and r[8] not in ("0", "1") for r in rows) / len(rows)
    truth = {
        "seed": args.seed, "n_rows": len(rows), "n_unique_rows": len(counts),
        "n_rows_with_exact_copy": n_dup, "share_rows_with_exact_copy": round(n_dup / len(rows), 4),
        "not_recorded_share_overall": round(not_rec, 4),
        "not_recorded_definition": "isForcedLabour and isSexualExploit both blank or -99",
        "recorded_definition": "isForcedLabour or isSexualExploit is 0/1; shares are rows with the flag = 1",
        "mix_change": {"citizenship": "MD", "year": 2012, "kind": "mix",
                       "design": {"before": design(MD_BEFORE), "after": design(MD_AFTER)},
                       "observed": {"before": shares(rows, "MD", range(2005, 2012)),
                                    "after": shares(rows, "MD", range(2012, 2021))}},
        "completeness_change": {"citizenship": "UA", "year": 2013, "kind": "completeness",
                                "design": {"before": {"not_recorded": 0.20}, "after": {"not_recorded": 0.60}},
                                "observed": {"before": shares(rows, "UA", range(2005, 2013)),
                                             "after": shares(rows, "UA", range(2013, 2021))}},
        "stable_citizenships": ["PH", "ID", "KH", "NG"], "unknown_citizenship_code": "0",
    }
    (here / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"rows: {len(rows)}  unique: {len(counts)}  rows with an exact copy: {n_dup} "
          f"({n_dup / len(rows):.1%})  surplus copies (rows - unique): {len(rows) - len(counts)}")


if __name__ == "__main__":
    main()
