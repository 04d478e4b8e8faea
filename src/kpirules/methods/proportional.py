"""按比例计分 (proportional): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import Method, Plan, Reason, Scored, cap_points


def proportional(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """实际/目标×分值 (higher is better) or 目标/实际×分值 (lower is better), capped."""
    t = plan.target
    assert isinstance(t, Decimal)
    first = v if shown is None else shown
    if not plan.higher:
        if v <= 0:
            return plan.points, Reason(plan.t_zero, (first, plan.points), plan.f_vp)
        raw = t / v * plan.points
        a, b = t, v
    else:
        raw = v / t * plan.points
        a, b = v, t
    score = cap_points(raw, plan.points)
    capped = "（封顶）" if raw > plan.points else ""
    return score, Reason(plan.t_prop, (first, a, b, score, capped), plan.f_prop)


METHOD = Method(
    id="proportional",
    words="按比例计分",
    params=frozenset(),
    score=proportional,
    prefixed=True,
    simple=True,
    no_equal=True,
)
