"""The scoring methods: one module per method, and the registry that lists them.

Each method module holds everything about its method: its frozen ``Params`` class and the
``check`` that reads them from a ``scoring:`` mapping (yielding located problems), how it
scores (``score(plan, value, given)``, one signature for every method), how its reason
reads and how ``kpirules diff`` describes it, gathered in a
:class:`~kpirules.methods._base.Method` record named ``METHOD``.

:data:`METHODS` below is the only list of methods: the validator, the JSON Schema, the
evaluator and ``kpirules diff`` read it. It is discovered, not written out: every module
of this package whose name does not start with ``_`` is a method, and the methods are
listed in the order of their ``order`` field (then by id), the order the documentation
lists them in. Adding a method is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from decimal import Decimal
from types import MappingProxyType

from kpirules.methods._base import (
    BARE,
    Cohort,
    Given,
    Method,
    MissingInputError,
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


def _discover() -> list[Method]:
    found: list[Method] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            method = importlib.import_module(f"{__name__}.{info.name}").METHOD
            assert isinstance(method, Method) and method.id == info.name
            found.append(method)
    return sorted(found, key=lambda m: (m.order, m.id))


#: Every scoring method by id, in the order the documentation lists them.
METHODS = MappingProxyType({m.id: m for m in _discover()})
#: Methods whose reasons already name the indicator and its value.
PREFIXED = frozenset(m.id for m in METHODS.values() if m.prefixed)
#: Methods scored from the indicator's own value alone (the evaluator's fast path).
SIMPLE = frozenset(m.id for m in METHODS.values() if m.simple)
#: Methods scored against the other entities of the batch (``given.cohort``).
COHORT = frozenset(m.id for m in METHODS.values() if m.cohort)


def plan(
    ind: Indicator,
    metric: Metric,
    category: str,
    inputs: tuple[str, ...],
    quantum: Decimal,
    mode: str,
) -> Plan:
    """The :class:`Plan` of one indicator, scored by its declared method."""
    return Plan(ind, metric, category, inputs, quantum, mode, METHODS[ind.scoring.method])


__all__ = [
    "BARE",
    "COHORT",
    "METHODS",
    "PREFIXED",
    "SIMPLE",
    "Cohort",
    "Given",
    "Method",
    "MissingInputError",
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
