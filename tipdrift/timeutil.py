"""Shared time conventions: one month is 365.25/12 days everywhere in tipdrift."""
from __future__ import annotations

import datetime as dt

MONTH_DAYS: float = 365.25 / 12.0
FREQ_EVERY: dict[str, str] = {"month": "1mo", "quarter": "1q", "year": "1y"}


def month_index(d: dt.date | str) -> int:
    """Months since year 0 (differences give whole months between two dates)."""
    d = dt.date.fromisoformat(d[:10]) if isinstance(d, str) else d
    return d.year * 12 + d.month - 1


def add_months(d: dt.date | str, n: int) -> dt.date:
    """The first day of the month n months after d's month."""
    m = month_index(d) + n
    return dt.date(m // 12, m % 12 + 1, 1)


def parse_date(value: str | dt.date | None, what: str = "date") -> dt.date | None:
    """Parse an ISO date given as a parameter; a clear error names the parameter."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        from tipdrift.errors import ParameterError

        raise ParameterError(f"{what}: '{value}' is not an ISO date (YYYY-MM-DD)") from None
