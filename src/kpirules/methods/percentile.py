"""百分位计分 (percentile): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import ZERO, Cohort, Method, Pct, Plan, Pts, Reason, Scored


def percentile(plan: Plan, v: Decimal, cohort: Cohort) -> Scored:
    """百分位: points by the share of the cohort this entity is better than."""
    p = cohort.share_worse(v, plan.higher)
    for band in plan.ind.scoring.rows:
        if band.contains(p):
            score = band.points or ZERO
            return score, Reason(
                "优于同组 {0} 的单位，得 {1}", (Pct(p), Pts(score, plan.quantum, plan.mode))
            )
    raise FormulaEvaluationError("百分位不在分档表的任何一档中")


METHOD = Method(
    id="percentile",
    words="百分位计分",
    params=frozenset({"rows"}),
    score=percentile,
    cohort=True,
    no_equal=True,
)
