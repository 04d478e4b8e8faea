"""达标得满分 (pass_fail): its parameters, how it scores and how its reason reads."""

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
    escape,
    met,
)
from kpirules.methods._params import NUMBER, Check, Where, number, within_points, words


@attrs.frozen
class Params(ReadsOwnMetric):
    """``otherwise``: the points when the target is not met (0 when not written)."""

    otherwise: Decimal | None = None


class _Prep(NamedTuple):
    t_pass: str
    t_fail: str


def check(raw: Mapping[str, Any], where: Where) -> Check[Params]:
    """``otherwise`` lies within the indicator's points."""
    otherwise = number(raw, "otherwise")
    yield from within_points(where, otherwise, "otherwise")
    return Params(otherwise)


def prepare(plan: Plan) -> _Prep:
    label, target = escape(plan.label), escape(plan.target_text)
    return _Prep(
        f"{label} {{0}}，达到目标 {target}，得满分 {{1}}",
        f"{label} {{0}}，未达到目标 {target}，得 {{1}}",
    )


def pass_fail(plan: Plan, v: Decimal | bool, given: Given) -> Scored:
    """达标得满分, otherwise ``otherwise`` points."""
    params: Params = plan.params
    first = given.first(v)
    ind = plan.ind
    if ind.target is None or plan.target is None:
        raise FormulaEvaluationError("达标得满分需要目标 target")
    if met(ind.target.op, v, plan.target):
        return plan.points, Reason(plan.prep.t_pass, (first, plan.points), plan.f_vp)
    other = params.otherwise or ZERO
    return other, Reason(plan.prep.t_fail, (first, other), plan.f_vp)


def describe(params: Params, unit: str) -> list[str]:
    return words(unit, ("未达标得", params.otherwise))


METHOD = Method(
    id="pass_fail",
    order=10,
    words="达标得满分",
    score=pass_fail,
    check=check,
    schema={"otherwise": NUMBER},
    describe=describe,
    prepare=prepare,
    prefixed=True,
    needs_target=True,
    yes_no=True,
    flags=True,
)
