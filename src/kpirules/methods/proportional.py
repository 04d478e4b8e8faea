"""按比例计分 (proportional): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import (
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
    """No parameters: the target and the points say everything."""


class _Prep(NamedTuple):
    t_prop: str
    t_zero: str
    f_prop: tuple[Any, ...]


def check(raw: Mapping[str, Any], where: Where) -> Check[Params]:
    """实际/目标 needs a target above 0."""
    t = where.target
    if t is not None and t.quantity is not None and t.quantity.number <= 0:
        yield where.problem(where.path, "按比例计分（实际/目标）要求目标大于 0", code="KR362")
    return Params()


def prepare(plan: Plan) -> _Prep:
    label, target = escape(plan.label), escape(plan.target_text)
    how = "实际/目标" if plan.higher else "目标/实际"
    return _Prep(
        f"{label} {{0}}，目标 {target}，按 {how} 计分：{{1}} ÷ {{2}} × "
        f"{format_decimal(plan.points)}，得 {{3}}{{4}}",
        f"{label} {{0}}，目标 {target}，实际为 0，得满分 {{1}}",
        (plan.fv, plan.fv, plan.fv, plan.fp, None),
    )


def proportional(plan: Plan, v: Decimal, given: Given) -> Scored:
    """实际/目标×分值 (higher is better) or 目标/实际×分值 (lower is better), capped."""
    t = plan.target
    if not isinstance(t, Decimal):
        raise FormulaEvaluationError("按比例计分需要数值目标 target")
    first = given.first(v)
    if not plan.higher:
        if v <= 0:
            return plan.points, Reason(plan.prep.t_zero, (first, plan.points), plan.f_vp)
        raw = t / v * plan.points
        a, b = t, v
    else:
        raw = v / t * plan.points
        a, b = v, t
    score = cap_points(raw, plan.points)
    capped = "（封顶）" if raw > plan.points else ""
    return score, Reason(plan.prep.t_prop, (first, a, b, score, capped), plan.prep.f_prop)


METHOD = Method(
    id="proportional",
    order=20,
    words="按比例计分",
    score=proportional,
    check=check,
    prepare=prepare,
    prefixed=True,
    simple=True,
    no_equal=True,
    needs_target=True,
    needs_direction=True,
)
