"""评分折算 (scale): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import Method, Plan, Reason, Scored, cap_points


def scale(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """评分折算: (value − min)/(max − min) × points on the metric's scale."""
    lo, hi = plan.metric.minimum, plan.metric.maximum
    assert lo is not None and hi is not None
    score = cap_points((v - lo) / (hi - lo) * plan.points, plan.points)
    return score, Reason(plan.t_scale, (v if shown is None else shown, score), plan.f_vp)


METHOD = Method(
    id="scale", words="评分折算", params=frozenset(), score=scale, prefixed=True, simple=True
)
