"""评分折算 (scale): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import (
    ZERO,
    Given,
    Method,
    Plan,
    ReadsOwnMetric,
    Reason,
    Scored,
    cap_points,
    escape,
)
from kpirules.methods._params import Check, Where
from kpirules.quantity import format_decimal


@attrs.frozen
class Params(ReadsOwnMetric):
    """No parameters: the metric's min and max are the scale."""


class _Prep(NamedTuple):
    t_scale: str
    lo: Decimal | None
    hi: Decimal | None


def check(raw: Mapping[str, Any], where: Where) -> Check[Params]:
    """The metric declares min and max (a rating without them is reported on the metric)."""
    m = where.metric
    if m.unit != "rating" and (m.minimum is None or m.maximum is None):
        yield where.problem(
            where.path, f"折算计分（scale）要求指标 “{m.label}” 写明 min 和 max", code="KR364"
        )
    return Params()


def prepare(plan: Plan) -> _Prep:
    lo, hi = plan.metric.minimum, plan.metric.maximum
    return _Prep(
        f"{escape(plan.label)} {{0}}，按 {format_decimal(lo or ZERO)}–{format_decimal(hi or ZERO)} 分制"
        f"折算为 {format_decimal(plan.points)} 分，得 {{1}}",
        lo,
        hi,
    )


def scale(plan: Plan, v: Decimal, given: Given) -> Scored:
    """评分折算: (value − min)/(max − min) × points on the metric's scale."""
    lo, hi = plan.prep.lo, plan.prep.hi
    if lo is None or hi is None:
        raise FormulaEvaluationError("评分折算需要指标写明 min 和 max")
    score = cap_points((v - lo) / (hi - lo) * plan.points, plan.points)
    return score, Reason(plan.prep.t_scale, (given.first(v), score), plan.f_vp)


METHOD = Method(
    id="scale",
    order=120,
    words="评分折算",
    score=scale,
    check=check,
    prepare=prepare,
    prefixed=True,
    simple=True,
    direction="higher_better",
)
