"""A world whose agencies share no person id: the generator's three tables re-issued as
each agency would keep them, with names, birth dates and genders, and realistic noise.

Every person gets a synthetic name (syllable-built, Zipf-frequent: many share common
surnames), a gender and a birth date; relatives share a surname and have close birth
dates. Filings get a `case_id`; some cases have two co-defendants, made relatives (a
fifth of them father and son with one first name). Each agency then writes its own person
ids and its own errors (rates in `PersonNoise`, applied per record independently): typing
errors, first and last name swapped, a nickname (the first name cut short), day and month
transposed, the birth date missing or year-only, and a placeholder name ("Unknown",
"Doe"). With `references` the filings keep the arrest ids and the outcomes the filing ids
the generator gave them; without, those are removed too, so only the person fields and
dates can link. Record ids stay, so the original truth links score it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

SYLLABLES = ("ka", "ri", "mo", "na", "te", "lu", "sa", "vi", "do", "ra", "ne", "li", "ta", "ko", "mi", "za", "be",
             "lo", "da", "shi", "an", "el", "or", "ya", "ju", "fe", "go", "pa", "tu", "ve")
PLACEHOLDERS = ("unknown", "doe")


@dataclass(frozen=True)
class PersonNoise:
    """Per-record error rates of each agency's copy (independent across agencies)."""

    typo: float = 0.10  # one character substituted, dropped or doubled in the first or last name
    swap: float = 0.03  # first and last name swapped
    nickname: float = 0.03  # first name cut to its first 3-4 letters
    transpose: float = 0.03  # day and month of birth swapped (where the day is 12 or less)
    missing_birth: float = 0.05
    year_only_birth: float = 0.05
    placeholder: float = 0.01  # last name "Unknown" or "Doe"
    relatives: float = 0.10  # share of persons given the surname of another person with a close birth date
    codefendants: float = 0.3  # share of filing pairs (same court and case type, filed within 30 days) made one case
    namesake: float = 0.2  # share of co-defendants who also carry their relative's first name (father and son)


def _names(rng: np.random.Generator, n: int, parts: tuple[int, int]) -> list[str]:
    """n distinct syllable names of parts[0] to parts[1] syllables."""
    out: set[str] = set()
    while len(out) < n:
        k = rng.integers(parts[0], parts[1] + 1)
        out.add("".join(rng.choice(SYLLABLES, k)))
    return sorted(out)


def _zipf_pick(rng: np.random.Generator, pool: list[str], n: int, a: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, len(pool) + 1) ** a
    return rng.choice(np.array(pool), n, p=w / w.sum())


def persons_table(person_ids: list[str], seed: int, noise: PersonNoise = PersonNoise()) -> pl.DataFrame:
    """One row per true person: first_name, last_name, birth_date, gender (title case names)."""
    rng = np.random.default_rng(seed)
    n = len(person_ids)
    first = _zipf_pick(rng, _names(rng, 900, (2, 3)), n, 0.9)
    last = _zipf_pick(rng, _names(rng, 4000, (2, 4)), n, 1.05)
    birth = np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, n).astype("timedelta64[D]")
    rel = np.nonzero(rng.random(n) < noise.relatives)[0]
    kin = rng.integers(0, n, rel.size)
    last[rel] = last[kin]
    birth[rel] = birth[kin] + rng.integers(-8 * 365, 8 * 365, rel.size).astype("timedelta64[D]")
    return pl.DataFrame({"true_person": person_ids, "first_name": [s.title() for s in first],
                         "last_name": [s.title() for s in last], "birth_date": birth.astype("datetime64[D]"),
                         "gender": rng.choice(np.array(["female", "male"]), n, p=[0.3, 0.7])})


def _typo(rng: np.random.Generator, s: str) -> str:
    i = int(rng.integers(0, len(s)))
    op = rng.integers(0, 3)
    if op == 0:
        return s[:i] + str(rng.choice(list("aeioukrnst"))) + s[i + 1:]
    if op == 1 and len(s) > 3:
        return s[:i] + s[i + 1:]
    return s[:i] + s[i] + s[i:]


def _birth_text(d: dt.date, rng: np.random.Generator, noise: PersonNoise) -> str:
    u = rng.random()
    if u < noise.missing_birth:
        return ""
    if u < noise.missing_birth + noise.year_only_birth:
        return str(d.year)
    if u < noise.missing_birth + noise.year_only_birth + noise.transpose and d.day <= 12 and d.day != d.month:
        return dt.date(d.year, d.day, d.month).isoformat()
    return d.isoformat()


def agency_copy(records: pl.DataFrame, persons: pl.DataFrame, prefix: str, seed: int,
                noise: PersonNoise = PersonNoise()) -> pl.DataFrame:
    """An agency's copy: its own person ids (`prefix` + a number per true person), noisy
    person fields per record, the true person id removed."""
    rng = np.random.default_rng(seed)
    df = records.join(persons, left_on="person_id", right_on="true_person", how="left")
    ids = {p: f"{prefix}{i:06d}" for i, p in enumerate(rng.permutation(df.get_column("person_id").unique().sort().to_list()))}
    rows = []
    for r in df.select("first_name", "last_name", "birth_date").iter_rows():
        first, last, birth = r
        if rng.random() < noise.nickname and len(first) > 4:
            first = first[: int(rng.integers(3, 5))]
        if rng.random() < noise.typo:
            if rng.random() < 0.5:
                first = _typo(rng, first)
            else:
                last = _typo(rng, last)
        if rng.random() < noise.swap:
            first, last = last, first
        if rng.random() < noise.placeholder:
            last = str(rng.choice(PLACEHOLDERS)).title()
        rows.append((first, last, _birth_text(birth, rng, noise)))
    noisy = pl.DataFrame(rows, schema=["first_name", "last_name", "birth_date"], orient="row")
    return df.drop("first_name", "last_name", "birth_date").with_columns(
        pl.col("person_id").replace_strict(ids).alias("person_id"), *noisy.get_columns())


def cases(prosecutions: pl.DataFrame, seed: int, noise: PersonNoise = PersonNoise()) -> pl.DataFrame:
    """The filings with a `case_id`: of two consecutive filings of other persons in one
    court and case type, filed within 30 days, a share `noise.codefendants` become one case
    (co-defendants); every other filing is its own case."""
    rng = np.random.default_rng(seed)
    df = prosecutions.with_row_index("_r").sort("jurisdiction", "case_type", "filing_date", "_r")
    nxt = [pl.col(c).shift(-1) for c in ("jurisdiction", "case_type", "person_id")]
    near = ((pl.col("jurisdiction") == nxt[0]) & (pl.col("case_type") == nxt[1]) & (pl.col("person_id") != nxt[2])
            & ((pl.col("filing_date").shift(-1) - pl.col("filing_date")).dt.total_days() <= 30)).fill_null(False)
    pair = df.select(near & (pl.int_range(pl.len()) % 2 == 0)).to_series().to_numpy() & (rng.random(df.height) < noise.codefendants)
    joined = np.concatenate([[False], pair[:-1]])  # the second filing of a pair takes the first's case
    number = np.cumsum(~joined)
    return df.with_columns(pl.Series("case_id", [f"C{k:07d}" for k in number])).sort("_r").drop("_r")


def kin_of_codefendants(persons: pl.DataFrame, filings: pl.DataFrame, seed: int, noise: PersonNoise) -> pl.DataFrame:
    """Co-defendants made relatives: the second shares the first's surname and a close
    birth date; a share `noise.namesake` also has the first's first name and was born
    18-35 years later (father and son)."""
    rng = np.random.default_rng(seed + 1)
    two = filings.filter(pl.len().over("case_id") == 2).sort("case_id", "prosecution_id")
    pairs = two.group_by("case_id", maintain_order=True).agg(pl.col("person_id").first().alias("a"),
                                                             pl.col("person_id").last().alias("b"))
    rows = {p: i for i, p in enumerate(persons.get_column("true_person").to_list())}
    first, last = persons.get_column("first_name").to_list(), persons.get_column("last_name").to_list()
    birth = persons.get_column("birth_date").to_numpy().copy()
    for a, b in pairs.select("a", "b").iter_rows():
        i, j = rows[a], rows[b]
        last[j] = last[i]
        if rng.random() < noise.namesake:
            first[j] = first[i]
            birth[j] = birth[i] + np.timedelta64(int(rng.integers(18 * 365, 35 * 365)), "D")
        else:
            birth[j] = birth[i] + np.timedelta64(int(rng.integers(-8 * 365, 8 * 365)), "D")
    return persons.with_columns(pl.Series("first_name", first), pl.Series("last_name", last),
                                pl.Series("birth_date", birth))


def write_noisy_world(source: str | Path, out: str | Path, seed: int = 5, noise: PersonNoise = PersonNoise(),
                      references: bool = True) -> Path:
    """The generator's tables in `source` re-issued into `out` as three agencies' CSV files
    (no shared person id; co-defendant cases), with truth.json copied for scoring. With
    `references`, filings keep the arrest ids and outcomes the filing ids the generator
    gave them (about half the filings, most outcomes); without, no record names another."""
    import json
    import shutil

    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {k: pl.read_parquet(source / f"{k}.parquet") for k in ("arrests", "prosecutions", "dispositions")}
    everyone = pl.concat([t.select("person_id") for t in tables.values()]).unique().sort("person_id")
    persons = persons_table(everyone.get_column("person_id").to_list(), seed, noise)
    tables["prosecutions"] = cases(tables["prosecutions"], seed, noise)
    persons = kin_of_codefendants(persons, tables["prosecutions"], seed, noise)
    if not references:
        tables["prosecutions"] = tables["prosecutions"].with_columns(pl.lit(None, pl.String).alias("arrest_id"))
        tables["dispositions"] = tables["dispositions"].with_columns(pl.lit(None, pl.String).alias("prosecution_id"))
    for i, (kind, prefix) in enumerate((("arrests", "POL"), ("prosecutions", "PRS"), ("dispositions", "CRT"))):
        agency_copy(tables[kind], persons, prefix, seed * 10 + i, noise).write_csv(out / f"{kind}.csv")
    shutil.copy(source / "truth.json", out / "truth.json")
    (out / "noise.json").write_text(json.dumps({**noise.__dict__, "references": references}, indent=1))
    return out
