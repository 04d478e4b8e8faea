"""The scoring methods: one module per method, and the registry that lists them.

Each method module holds its scoring function, the sentence that explains its score and a
:class:`~kpirules.methods._base.Method` record (``METHOD``) saying which parameters it takes,
how it is named in Chinese and how the evaluator calls it. :data:`METHODS` below is the
only list of methods: the validator, the evaluator and ``kpirules diff`` read it.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

from kpirules.compiler import CompiledFormula
from kpirules.methods import (
    best_ratio,
    bonus,
    change,
    deduct,
    formula,
    linear,
    monitor,
    pass_fail,
    per_occurrence,
    percentile,
    proportional,
    rank,
    scale,
    table,
)
from kpirules.methods._base import (
    Cohort,
    Method,
    Num,
    Pct,
    Plan,
    PointsFormat,
    Pts,
    Reason,
    Scored,
    ValueFormat,
    met,
    ratings_text,
    rounded,
    value_arg,
)
from kpirules.model import Indicator, Metric

#: Every scoring method by id, in the order the documentation lists them.
METHODS = MappingProxyType(
    {
        m.METHOD.id: m.METHOD
        for m in (
            pass_fail,
            proportional,
            linear,
            deduct,
            per_occurrence,
            bonus,
            table,
            change,
            best_ratio,
            rank,
            percentile,
            scale,
            monitor,
            formula,
        )
    }
)
#: Methods whose reasons already name the indicator and its value.
PREFIXED = frozenset(m.id for m in METHODS.values() if m.prefixed)
#: Methods scored from the indicator's own value alone: ``score(plan, value)``.
SIMPLE = frozenset(m.id for m in METHODS.values() if m.simple)
#: Methods scored against the other entities of the batch: ``score(plan, value, cohort)``.
COHORT = frozenset(m.id for m in METHODS.values() if m.cohort)


def plan(
    ind: Indicator,
    metric: Metric,
    category: str,
    inputs: tuple[str, ...],
    quantum: Decimal,
    mode: str,
    compiled: CompiledFormula | None,
) -> Plan:
    """The :class:`Plan` of one indicator, scored by its declared method."""
    return Plan(ind, metric, category, inputs, quantum, mode, compiled, METHODS[ind.scoring.method])


__all__ = [
    "COHORT",
    "METHODS",
    "PREFIXED",
    "SIMPLE",
    "Cohort",
    "Method",
    "Num",
    "Pct",
    "Plan",
    "PointsFormat",
    "Pts",
    "Reason",
    "Scored",
    "ValueFormat",
    "met",
    "plan",
    "ratings_text",
    "rounded",
    "value_arg",
]
