"""达标得满分 (pass_fail): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import ZERO, Method, Plan, Reason, Scored, met


def pass_fail(plan: Plan, v: Decimal | bool, shown: object = None) -> Scored:
    """达标得满分, otherwise ``otherwise`` points."""
    assert plan.target is not None and plan.ind.target is not None
    first = v if shown is None else shown
    if met(plan.ind.target.op, v, plan.target):
        return plan.points, Reason(plan.t_pass, (first, plan.points), plan.f_vp)
    other = plan.ind.scoring.otherwise or ZERO
    return other, Reason(plan.t_fail, (first, other), plan.f_vp)


METHOD = Method(
    id="pass_fail",
    words="达标得满分",
    params=frozenset({"otherwise"}),
    score=pass_fail,
    prefixed=True,
)
