"""Month arithmetic shared by series, context windows, charts, evaluation and synth."""
from __future__ import annotations

import datetime as dt

from tipdrift.timeutil import add_months, month_index


def test_month_index_and_add_months() -> None:
    assert month_index("2020-03-15") - month_index(dt.date(2019, 11, 1)) == 4
    assert add_months("2019-11-20", 2) == dt.date(2020, 1, 1)
    assert add_months(dt.date(2020, 1, 31), -1) == dt.date(2019, 12, 1)
    assert add_months("2024-12-01", 1) == dt.date(2025, 1, 1)
