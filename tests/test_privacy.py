"""Small-count suppression."""
from __future__ import annotations

import polars as pl

from tipdrift.charts import SUPPRESSED, mix_shares
from tipdrift.privacy import suppress_counts, suppress_shares


def test_counts_below_threshold_become_labels() -> None:
    """Counts 1 to 4 become '<5'; a true zero stays 0 (an empty cell identifies no one, and
    '<5' would read as data). Catches over-suppression of zeros and leaks of 1-4."""
    df = pl.DataFrame({"a": [0, 4, 5, 12], "b": [1, 2, 3, 100]})
    out = suppress_counts(df, ["a"], 5)
    assert out["a"].to_list() == ["0", "<5", "5", "12"]
    assert out["b"].to_list() == [1, 2, 3, 100]
    assert suppress_counts(df, ["b"], 3)["b"].to_list() == ["<3", "<3", "3", "100"]


def test_shares_from_small_cells_are_hidden() -> None:
    df = pl.DataFrame({"n": [3, 10], "share": [0.1, 0.4]})
    assert suppress_shares(df, "share", "n", 5)["share"].to_list() == [None, 0.4]


def test_mix_shares_never_compute_a_share_from_a_small_cell() -> None:
    import datetime as dt

    long = pl.DataFrame({
        "unit": ["U"] * 6, "period": [dt.date(2020, 1, 1)] * 3 + [dt.date(2020, 2, 1)] * 3,
        "category": ["a", "b", "c"] * 2, "count": [20, 3, 2, 10, 10, 10],
    })
    s = mix_shares(long, "U", threshold=5)
    jan = dict(s.filter(pl.col("period") == dt.date(2020, 1, 1)).select("category", "share").iter_rows())
    assert set(jan) == {"a", SUPPRESSED.format(t=5)}
    assert abs(jan[SUPPRESSED.format(t=5)] - 5 / 25) < 1e-12
    assert s.group_by("period").agg(pl.col("share").sum())["share"].to_list() == [1.0, 1.0]


def test_a_lone_small_cell_cannot_be_derived_from_its_row_total() -> None:
    """In a row with one suppressed cell, the smallest other non-zero cell is withheld
    ('s'), so the row total (published on the volume chart) minus the shown cells does not
    give the suppressed count; rows with two small cells or none are left alone. Catches
    primary suppression only, which subtraction undoes."""
    from tipdrift.privacy import suppress_rows

    df = pl.DataFrame({"y": ["2020", "2021", "2022"], "a": [3, 2, 50], "b": [40, 4, 60], "c": [12, 30, 0]})
    out = suppress_rows(df, ["a", "b", "c"], 5)
    assert out.row(0) == ("2020", "<5", "40", "s")
    assert out.row(1) == ("2021", "<5", "<5", "30")
    assert out.row(2) == ("2022", "50", "60", "0")
