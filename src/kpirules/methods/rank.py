"""排名计分 (rank): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import ZERO, Cohort, Method, Plan, Pts, Reason, Scored


def rank(plan: Plan, v: Decimal, cohort: Cohort) -> Scored:
    """排名: points by competition rank within the cohort."""
    r = cohort.rank(v, plan.higher)
    by_rank = plan.ind.scoring.points_by_rank
    score = by_rank[r - 1] if r <= len(by_rank) else (plan.ind.scoring.otherwise or ZERO)
    return score, Reason(
        "在 {0} 个单位中排第 {1} 名，得 {2}", (cohort.size, r, Pts(score, plan.quantum, plan.mode))
    )


METHOD = Method(
    id="rank",
    words="排名计分",
    params=frozenset({"points_by_rank", "otherwise"}),
    score=rank,
    cohort=True,
    no_equal=True,
)
