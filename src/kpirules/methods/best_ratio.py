"""与同组最优比 (best_ratio): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.methods._base import (
    ONE,
    Given,
    Method,
    NoCohortError,
    Plan,
    Pts,
    ReadsOwnMetric,
    Reason,
    Scored,
    cap_points,
    value_arg,
)
from kpirules.methods._params import Check, Where


@attrs.frozen
class Params(ReadsOwnMetric):
    """No parameters: the best value of the batch sets the scale."""


def check(raw: Mapping[str, Any], where: Where) -> Check[Params]:
    """Nothing to check beyond the direction (checked for every method)."""
    yield from ()
    return Params()


def best_ratio(plan: Plan, v: Decimal, given: Given) -> Scored:
    """与同组最优比: value/best (higher) or best/value (lower), times points."""
    if given.cohort is None:
        raise NoCohortError
    best = given.cohort.best(plan.higher)
    ratio = (ONE if best == 0 else v / best) if plan.higher else (ONE if v == 0 else best / v)
    score = cap_points(ratio * plan.points, plan.points)
    return score, Reason(
        "同组最优 {0}，按与最优之比计分，得 {1}",
        (value_arg(plan.metric, best), Pts(score, plan.quantum, plan.mode)),
    )


METHOD = Method(
    id="best_ratio",
    order=90,
    words="与同组最优比",
    score=best_ratio,
    check=check,
    cohort=True,
    no_equal=True,
    needs_direction=True,
)
