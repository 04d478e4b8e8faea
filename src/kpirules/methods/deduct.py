"""差额扣分 (deduct): how it scores and how its reason reads."""

from __future__ import annotations

import math
from decimal import Decimal

from kpirules.methods._base import ZERO, Method, Plan, Reason, Scored


def deduct(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """每差1个单位扣X分，扣完为止 (with the declared rule for partial units)."""
    t = plan.target
    assert isinstance(t, Decimal) and plan.per is not None and plan.deduct is not None
    if plan.direction == "lower_better":
        gap = v - t if v > t else ZERO
    elif plan.direction == "equal":
        gap = abs(v - t)
    else:
        gap = t - v if v < t else ZERO
    first = v if shown is None else shown
    if not gap:
        return plan.points, Reason(plan.t_met, (first, plan.points), plan.f_vp)
    units = gap / plan.per
    if plan.partial == "round_up":
        units = Decimal(math.ceil(units))
    elif plan.partial == "round_down":
        units = Decimal(math.floor(units))
    taken = units * plan.deduct
    limit = plan.points - plan.floor
    if taken > limit:
        taken = limit
    score = plan.points - taken
    return score, Reason(plan.t_deduct, (first, taken, score), plan.f_vpp)


METHOD = Method(
    id="deduct",
    words="差额扣分",
    params=frozenset({"per", "deduct", "partial", "floor"}),
    score=deduct,
    prefixed=True,
    simple=True,
)
