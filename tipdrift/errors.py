"""Errors a user can act on. File-level problems stop the run with one line."""
from __future__ import annotations

import re

# Characters a terminal does not show: zero-width spaces and joiners, the byte-order mark,
# no-break spaces and control characters. `visible` spells them out in messages.
INVISIBLE = "[\u00a0\u200b\u200c\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def visible(text: str) -> str:
    """`text` with invisible characters written as escapes (a zero-width space as \\u200b)."""
    return re.sub(INVISIBLE, lambda m: m.group(0).encode("unicode_escape").decode("ascii"), str(text))


class InputFileError(Exception):
    """A whole input file cannot be used (missing, unreadable, wrong columns, empty).

    The message is one line naming the file and, where it applies, the column
    and row. The CLI prints it and exits with status 2, without a traceback.
    """

    def __init__(self, path: str, problem: str, *, column: str | None = None, row: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.column = column
        self.row = row
        where = self.path
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{visible(column)}'"
        super().__init__(f"{where}: {problem}")


class ParameterError(Exception):
    """A parameter value cannot be used (bad unit, bad date range, bad preset)."""


class ReportError(Exception):
    """A report notebook failed for a reason other than its parameters (a bug or a data
    problem the package did not catch). The CLI prints it and exits with status 1."""


class DataError(Exception):
    """The data read cannot support the run as asked (too many rows rejected from a source,
    say). Outputs written so far stay; the CLI prints one line and exits with status 1."""
