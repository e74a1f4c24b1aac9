"""Three agencies' files that share no person id and no record references: the keyless,
name-only source of `make demo` (step 2b).

The committed synthetic tables (data/synthetic), restricted to two jurisdictions, re-issued
by `tipdrift.testing.persons.write_noisy_world` with `references=False`: each agency keeps
its own person ids, synthetic names and birth dates with typing errors, swaps, nicknames,
transposed and missing dates, co-defendant cases; no filing names its arrest and no outcome
its filing. All names are built from syllables at random: no real person. truth.json holds
the true links of these records only, so the demo can score itself.

    .venv/bin/python data/examples/persons/make_sample.py
"""
import json
import tempfile
from pathlib import Path

import polars as pl

from tipdrift.testing.persons import write_noisy_world

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1] / "synthetic"
JURISDICTIONS = ("J01", "J02")


def main() -> None:
    arrests = pl.read_parquet(SOURCE / "arrests.parquet").filter(pl.col("jurisdiction").is_in(JURISDICTIONS))
    filings = pl.read_parquet(SOURCE / "prosecutions.parquet").filter(pl.col("jurisdiction").is_in(JURISDICTIONS))
    persons = pl.concat([arrests.select("person_id"), filings.select("person_id")]).unique()
    outcomes = pl.read_parquet(SOURCE / "dispositions.parquet").join(persons, on="person_id", how="semi")
    truth = json.loads((SOURCE / "truth.json").read_text())
    ids = {"arrests": set(arrests["arrest_id"]), "prosecutions": set(filings["prosecution_id"]),
           "dispositions": set(outcomes["disposition_id"])}
    links = {"arrest_prosecution": [p for p in truth["links"]["arrest_prosecution"]
                                    if p[0] in ids["arrests"] and p[1] in ids["prosecutions"]],
             "prosecution_disposition": [p for p in truth["links"]["prosecution_disposition"]
                                         if p[0] in ids["prosecutions"] and p[1] in ids["dispositions"]]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, df in (("arrests", arrests), ("prosecutions", filings), ("dispositions", outcomes)):
            df.write_parquet(Path(tmp) / f"{name}.parquet")
        (Path(tmp) / "truth.json").write_text(json.dumps({"as_of": truth["as_of"], "links": links}))
        write_noisy_world(tmp, HERE, seed=5, references=False)
    print({k: len(v) for k, v in ids.items()})


if __name__ == "__main__":
    main()
