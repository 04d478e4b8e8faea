"""Scoring in two passes, for data too large to hold at once or split into partitions.

Most indicators score an entity from its own values alone. A few compare it with the other
entities scored with it (the cohort): ``best_ratio`` (best in cohort), ``percentile`` and
``rank``; and every result's rank is its place among all totals. Those need the whole cohort,
but only a few numbers of it:

1. **Cohort pass** — :meth:`Engine.cohort_summary` (or :func:`cohort_summary`) reads the rows
   and keeps, for each cohort indicator, one number per entity. Summaries of partitions
   combine (:meth:`CohortSummary.combine`), in any order, into the summary of all of them.
2. **Scoring pass** — :meth:`Engine.score_each` scores rows given the summary, one result
   (or one :class:`~kpirules.EvaluationError`) per row, in input order, with no rank yet.
3. **Ranking** — :class:`Ranking` holds the totals (one number per entity); rankings of
   partitions combine too; :meth:`Ranking.rank` gives a total's competition rank (1, 2, 2, 4),
   the same as :meth:`Ruleset.evaluate_many` gives.

Scored this way, every result equals the one ``evaluate_many`` gives for all rows together.
Duplicate entity ids are not looked for across partitions: that is the reader's job (the
metrics-file readers refuse them, naming both rows).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules import methods
from kpirules.result import EvaluationError

Rows = Iterable[tuple[str, Mapping[str, object]]]


@attrs.frozen
class CohortSummary:
    """What the scoring pass needs to know of the whole cohort.

    ``values`` maps each cohort indicator's id to its metric's value for every entity that
    has one (unordered); ``entities`` counts the rows summarised.
    """

    values: Mapping[str, tuple[Decimal, ...]] = attrs.field(factory=dict)
    entities: int = 0

    def combine(self, other: CohortSummary) -> CohortSummary:
        """The summary of both partitions' rows together."""
        keys = dict.fromkeys([*self.values, *other.values])
        return CohortSummary(
            {k: self.values.get(k, ()) + other.values.get(k, ()) for k in keys},
            self.entities + other.entities,
        )

    def cohorts(self) -> dict[str, methods.Cohort]:
        """One sorted :class:`~kpirules.methods.Cohort` per cohort indicator."""
        return {k: methods.Cohort(v) for k, v in self.values.items()}


@attrs.frozen
class Ranking:
    """Every total of a cohort, sorted: what ranks need. Rankings of partitions combine."""

    totals: tuple[Decimal, ...] = ()

    @classmethod
    def of(cls, totals: Iterable[Decimal]) -> Ranking:
        """The ranking of these totals."""
        return cls(tuple(sorted(totals)))

    def combine(self, other: Ranking) -> Ranking:
        """The ranking of both partitions' totals together."""
        return Ranking.of((*self.totals, *other.totals))

    @property
    def size(self) -> int:
        """The number of entities ranked."""
        return len(self.totals)

    def rank(self, total: Decimal) -> int:
        """Competition rank: one plus the number of strictly higher totals."""
        return 1 + len(self.totals) - bisect.bisect_right(self.totals, total)


class UnreadableRowError(EvaluationError):
    """A row whose values cannot be read at all (a wrong id, a value of the wrong kind).

    :meth:`Ruleset.evaluate_many` reports such problems of every row before any scoring
    problem; a caller of the scoring pass can do the same by telling the two apart.
    """


def cohort_summary(ruleset: Any, rows: Rows) -> CohortSummary:
    """The cohort pass over ``rows`` ((entity, metrics) pairs) of a loaded ruleset."""
    summary: CohortSummary = ruleset.program.cohort_summary(rows)
    return summary


def score_each(ruleset: Any, rows: Rows, summary: CohortSummary) -> Iterator[Any]:
    """The scoring pass: for each row, its :class:`~kpirules.Result` (no rank yet) or the
    :class:`~kpirules.EvaluationError` that says why it cannot be scored."""
    yield from ruleset.program.score_each(rows, summary)
