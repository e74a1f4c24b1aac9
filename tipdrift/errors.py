"""Errors a user can act on. File-level problems stop the run with one line."""
from __future__ import annotations


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
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")


class ParameterError(Exception):
    """A parameter value cannot be used (bad unit, bad date range, bad preset)."""


class ReportError(Exception):
    """A report notebook failed for a reason other than its parameters (a bug or a data
    problem the package did not catch). The CLI prints it and exits with status 1."""
