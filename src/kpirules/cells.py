"""The cells of a metrics table as read from a file, where they sit, and what can go wrong.

Shared by every reader of metrics files (:mod:`kpirules.inputs`, :mod:`kpirules.tables`,
:mod:`kpirules.xlsx`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

from kpirules.errors import KpirulesError, Problem, sorted_problems
from kpirules.values import Value

Row = tuple[str, dict[str, Value]]
Record = tuple[str, str, dict[str, Value]]


@attrs.define
class Locations:
    """Where each entity's row, and each of its values, sits in the file (1-based).

    ``sheet`` is the worksheet read from an Excel workbook (None for other files);
    ``header`` the row number of the header.
    """

    rows: dict[str, int] = attrs.Factory(dict)
    cells: dict[tuple[str, str], tuple[int, int]] = attrs.Factory(dict)
    sheet: str | None = None
    header: int = 1

    def place(self, file: str, line: int, column: int) -> str:
        """``FILE:LINE:COL``, or ``FILE!SHEET!B7`` in a workbook."""
        if self.sheet is not None:
            return f"{file}!{cell_name(self.sheet, line, column)}"
        return f"{file}:{line}:{column}"


class SheetError(KpirulesError):
    """The worksheet asked for does not exist (or the file is not a workbook): a usage error."""


class InputError(KpirulesError):
    """A metrics file has problems; ``problems`` lists each with file, row and column."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted_problems(problems)
        super().__init__("\n".join(str(p) for p in self.problems[:50]))


def cell_name(sheet: str, row: int, column: int) -> str:
    """A workbook cell as Excel names it: ``Sheet1!B7``."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{sheet}!{letters}{row}"


@attrs.frozen
class Cell:
    """One cell of a metrics table as read from a file.

    ``text`` is what the cell holds as text (a workbook number as its exact decimal text, a
    percent-formatted number as ``95%``, a boolean as 是/否, a date as ``2026-03-01``);
    ``problem`` says why the cell cannot be read at all (an error value, a formula without
    a result); ``merged`` names the merged range the cell belongs to, when not its first cell.
    """

    text: str = ""
    kind: Literal["text", "number", "bool", "date"] = "text"
    problem: str | None = None
    merged: str | None = None


EMPTY = Cell()

TableRows = Iterable[tuple[int, Sequence[Cell]]]
