"""Series: zero-filled periods, per-unit spans, censoring guard, pooled series."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tipdrift.errors import ParameterError
from tipdrift.series import POOLED, build_series


def _cases(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["org_id", "opened_date", "case_type"], orient="row").with_columns(
        pl.col("opened_date").str.to_date())


def test_months_without_cases_are_zero_rows_and_units_start_at_first_case() -> None:
    df = _cases([("A", "2020-01-10", "forced_labour"), ("A", "2020-04-02", "other"),
                 ("B", "2020-03-05", "forced_labour"), ("B", "2020-03-06", "forced_labour")])
    s = build_series(df)
    assert s.categories == ["forced_labour", "other"]
    periods, y = s.matrix("A")
    assert periods == [dt.date(2020, m, 1) for m in (1, 2, 3, 4)]
    assert y.tolist() == [[1, 0], [0, 0], [0, 0], [0, 1]]
    periods, y = s.matrix("B")
    assert periods == [dt.date(2020, 3, 1)]  # B's records end in March: April is not observed for B
    assert y.sum() == 2
    # total counts reconcile with the records
    assert s.long["count"].sum() == df.height


def test_reporting_lag_excludes_recent_periods_and_marks_them() -> None:
    df = _cases([("A", f"2020-{m:02d}-01", "other") for m in range(1, 13)])
    s = build_series(df, as_of=dt.date(2020, 12, 31), reporting_lag=2)
    assert s.last_period == dt.date(2020, 10, 1)
    assert s.censored_from == dt.date(2020, 11, 1)
    assert s.long["count"].sum() == 10


def test_quarterly_and_pooled() -> None:
    df = _cases([("A", "2020-01-10", "other"), ("B", "2020-05-10", "other"), ("B", "2020-06-10", "forced_labour")])
    s = build_series(df, freq="quarter", pooled=True)
    periods, y = s.matrix(POOLED)
    assert periods == [dt.date(2020, 1, 1), dt.date(2020, 4, 1)]
    assert y.tolist() == [[0, 1], [1, 1]]


def test_bad_parameters_are_clear() -> None:
    df = _cases([("A", "2020-01-10", "other")])
    with pytest.raises(ParameterError, match="freq"):
        build_series(df, freq="week")
    with pytest.raises(ParameterError, match="column 'site'"):
        build_series(df, unit="site")
    with pytest.raises(ParameterError, match="unknown unit 'Z'"):
        build_series(df).matrix("Z")


def test_a_unit_series_runs_from_its_first_to_its_last_record() -> None:
    """A unit that stopped reporting in 2017 has no periods after 2017 (not months of
    observed zeros); an empty month inside its span is a zero. Catches padding every unit
    to the last period analysed, which reads leaving the data as a collapse in cases."""
    import datetime as dt

    import polars as pl

    from tipdrift.series import build_series

    df = pl.DataFrame({"org_id": ["A", "A", "A", "B", "B"],
                       "opened_date": [dt.date(2015, 1, 5), dt.date(2015, 3, 5), dt.date(2017, 6, 1),
                                       dt.date(2015, 1, 1), dt.date(2020, 12, 1)],
                       "case_type": ["other"] * 5})
    s = build_series(df, pooled=True)
    a = s.periods("A")
    assert a[0] == dt.date(2015, 1, 1) and a[-1] == dt.date(2017, 6, 1)
    wide = s.long.filter(pl.col("unit") == "A", pl.col("period") == dt.date(2015, 2, 1))
    assert wide.get_column("count").sum() == 0 and wide.height == len(s.categories)
    assert s.periods("(pooled)")[-1] == dt.date(2020, 12, 1)
