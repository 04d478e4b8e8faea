"""按次扣分 (per_occurrence): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import Method, Plan, Reason, Scored


def per_occurrence(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """每发现一次扣X分, not below the floor."""
    assert plan.deduct is not None
    taken = min(v * plan.deduct, plan.points - plan.floor)
    score = plan.points - taken
    return score, Reason(plan.t_each, (v if shown is None else shown, taken, score), plan.f_vpp)


METHOD = Method(
    id="per_occurrence",
    words="按次扣分",
    params=frozenset({"deduct", "floor"}),
    score=per_occurrence,
    prefixed=True,
    simple=True,
)
