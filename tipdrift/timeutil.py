"""Shared time conventions: one month is 365.25/12 days everywhere in tipdrift."""
from __future__ import annotations

import datetime as dt

MONTH_DAYS: float = 365.25 / 12.0
FREQ_EVERY: dict[str, str] = {"month": "1mo", "quarter": "1q", "year": "1y"}


def parse_date(value: str | dt.date | None, what: str = "date") -> dt.date | None:
    """Parse an ISO date given as a parameter; a clear error names the parameter."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        from tipdrift.errors import ParameterError

        raise ParameterError(f"{what}: '{value}' is not an ISO date (YYYY-MM-DD)") from None
