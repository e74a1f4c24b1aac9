"""Person resolution without a shared person id (tipdrift.resolve, Splink on DuckDB)."""
from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tipdrift.resolve import _fold, resolve_persons


def test_names_are_folded_and_placeholders_are_no_name() -> None:
    """Accents, case, punctuation and particles go; "Unknown" and "Doe" become no name, so
    a placeholder shared by many records cannot glue persons together. Catches comparing
    raw strings (accents and particles split one person) or treating "Doe" as a name."""
    assert _fold("José-María de la Cruz") == _fold("jose maria cruz") == "josemariacruz"
    assert _fold("O'Neil") == "oneil"
    assert _fold("Unknown") is None and _fold(" DOE ") is None and _fold(None) is None


@pytest.fixture(scope="module")
def noisy(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tipdrift.testing.persons import write_noisy_world

    return write_noisy_world(synth_dir, tmp_path_factory.mktemp("noisy"), seed=3)


def test_resolved_persons_link_agency_tables_that_share_no_id(noisy: Path, synth_dir: Path) -> None:
    """Three agency tables with their own person ids, no cross-table keys and 10% typing
    errors, swaps, nicknames, transposed and missing birth dates: linked through resolved
    persons, arrest -> prosecution links reach precision >= 0.95 and recall >= 0.85 at a
    0.5 threshold (measured 0.974 / 0.915 on the committed world), where the agencies' own
    ids link nothing. Catches a resolution that clusters nothing (recall near 0) or glues
    everyone with a shared name (precision falls)."""
    from tipdrift.link import link_trajectories
    from tipdrift.load import load_table
    from tipdrift.testing.evaluate import evaluate_linkage

    tables = {k: load_table(k, noisy / f"{k}.csv", as_of="2024-12-31").accepted
              for k in ("arrests", "prosecutions", "dispositions")}
    truth = json.loads((noisy / "truth.json").read_text())
    own = link_trajectories(*tables.values())
    assert evaluate_linkage(own.trajectories, truth)["arrest_prosecution"]["recall"] < 0.01
    res = resolve_persons(tables, threshold=0.5)
    linked = link_trajectories(*(tables[k].with_columns(res.keys[k]) for k in tables))
    ap = evaluate_linkage(linked.trajectories, truth)["arrest_prosecution"]
    assert ap["precision"] >= 0.95 and ap["recall"] >= 0.85, ap
    review = res.review()
    assert set(review.columns) >= {"unique_id_l", "unique_id_r", "match_probability"}
    assert not {"first_name", "last_name", "birth_date"} & set(review.columns)
