"""与同组最优比 (best_ratio): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import (
    ONE,
    Cohort,
    Method,
    Plan,
    Pts,
    Reason,
    Scored,
    cap_points,
    value_arg,
)


def best_ratio(plan: Plan, v: Decimal, cohort: Cohort) -> Scored:
    """与同组最优比: value/best (higher) or best/value (lower), times points."""
    best = cohort.best(plan.higher)
    ratio = (ONE if best == 0 else v / best) if plan.higher else (ONE if v == 0 else best / v)
    score = cap_points(ratio * plan.points, plan.points)
    return score, Reason(
        "同组最优 {0}，按与最优之比计分，得 {1}",
        (value_arg(plan.metric, best), Pts(score, plan.quantum, plan.mode)),
    )


METHOD = Method(
    id="best_ratio",
    words="与同组最优比",
    params=frozenset(),
    score=best_ratio,
    cohort=True,
    no_equal=True,
)
