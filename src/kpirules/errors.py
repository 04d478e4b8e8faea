"""Problems found in a ruleset, and the one exception that carries them all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from kpirules.words import english

Severity = Literal["error", "warning"]


@attrs.frozen(order=False)
class Problem:
    """One problem found in a ruleset file, located by file, line, column and path.

    ``line`` and ``column`` are 1-based; 0 means the position is unknown (for example a
    file that could not be read at all). ``path`` is a JSON path into the document such as
    ``$.categories[1].indicators[0].weight``.

    ``cell`` locates a problem in an Excel workbook as ``SHEET!B7``; the problem then reads
    ``FILE!SHEET!B7: …`` (``line`` and ``column`` still hold the row and column numbers).

    ``code`` is the problem's stable code such as ``KR201`` (see :mod:`kpirules.codes`).
    ``where`` names what ``path`` points at in the ruleset's own words (see
    :mod:`kpirules.places`); the text form shows it instead of the path.
    """

    file: str
    line: int
    column: int
    path: str
    severity: Severity
    message: str
    suggestion: str | None = None
    cell: str | None = None
    code: str = attrs.field(kw_only=True)
    where: str = attrs.field(default="", kw_only=True)

    def __str__(self) -> str:
        """One line: ``FILE:LINE:COL: 错误 KR201：类别“…” › 权重：说明（建议）``.

        Under ``--lang en`` the earlier form ``FILE:LINE:COL: error: $.path: …``.
        """
        at = f"{self.file}!{self.cell}" if self.cell else f"{self.file}:{self.line}:{self.column}"
        if english():
            text = f"{at}: {self.severity}: {self.path}: {self.message}"
        else:
            where = self.where or ("" if self.path.startswith("$") else self.path)
            severity = "错误" if self.severity == "error" else "警告"
            text = f"{at}: {severity} {self.code}：{where + '：' if where else ''}{self.message}"
        if self.suggestion:
            text += f"（{self.suggestion}）"
        return text

    def sort_key(self) -> tuple[str, int, int, int, str, str]:
        """Order by file and position; errors before warnings at the same place."""
        return (
            self.file,
            self.line,
            self.column,
            0 if self.severity == "error" else 1,
            self.path,
            self.message,
        )

    def as_dict(self) -> dict[str, str | int | None]:
        """Plain, JSON-ready form of the problem (with ``cell`` for a workbook cell)."""
        out: dict[str, str | int | None] = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
            "suggestion": self.suggestion,
            "code": self.code,
        }
        if self.cell:
            out["cell"] = self.cell
        if self.where:
            out["where"] = self.where
        return out


def sorted_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """Deduplicate and sort problems by file, line and column."""
    return tuple(sorted(set(problems), key=Problem.sort_key))


class KpirulesError(Exception):
    """Base class of every error kpirules raises on purpose."""


class RulesetError(KpirulesError):
    """A ruleset could not be loaded; ``problems`` holds every problem found, sorted."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = sorted_problems(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        shown = errors or list(self.problems)
        head = "\n".join(str(p) for p in shown[:20])
        more = len(shown) - 20
        if more > 0:
            head += f"\n… 另有 {more} 个问题"
        super().__init__(head)

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems of severity ``error``."""
        return tuple(p for p in self.problems if p.severity == "error")
