"""差额扣分 (deduct): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

import math
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
    step_text,
)
from kpirules.methods._params import (
    NUMBER,
    PARTIAL,
    POSITIVE,
    QUANTITY,
    Check,
    Where,
    floor,
    number,
    per,
    words,
)
from kpirules.quantity import format_decimal

_PARTIAL_NOTES = {"round_up": "，不足1个单位按1个计", "round_down": "，不足1个单位不扣"}


@attrs.frozen
class Params(ReadsOwnMetric):
    """每差 ``per`` 扣 ``deduct`` 分; ``partial`` units pro_rata/round_up/round_down."""

    per: Decimal
    deduct: Decimal
    partial: str
    floor: Decimal | None = None


class _Prep(NamedTuple):
    t_met: str
    t_deduct: str
    limit: Decimal


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """``per`` in the metric's unit and above 0; ``floor`` within the points."""
    low = yield from floor(where, raw)
    step = yield from per(where, raw)
    if step is not None and step <= 0:
        yield where.problem(where.at("per"), "per（每多少扣分）必须大于 0", code="KR365")
    each, partial = number(raw, "deduct"), raw.get("partial")
    if step is None or each is None or not isinstance(partial, str):
        return None
    return Params(step, each, partial, low)


def prepare(plan: Plan) -> _Prep:
    params: Params = plan.params
    label, target = escape(plan.label), escape(plan.target_text)
    relation, word = {"lower_better": ("高于", "超"), "equal": ("偏离", "偏离")}.get(
        plan.direction, ("低于", "低")
    )
    note = _PARTIAL_NOTES.get(params.partial, "")
    return _Prep(
        f"{label} {{0}}，达到目标 {target}，不扣分，得 {{1}}",
        f"{label} {{0}}，{relation}目标 {target}，每{word}{escape(step_text(params.per, plan.metric))}"
        f"扣{format_decimal(params.deduct)}分{note}，扣 {{1}}，得 {{2}}",
        plan.points - (params.floor or ZERO),
    )


def deduct(plan: Plan, v: Decimal, given: Given) -> Scored:
    """每差1个单位扣X分，扣完为止 (with the declared rule for partial units)."""
    t = plan.target
    params: Params = plan.params
    if not isinstance(t, Decimal):
        raise FormulaEvaluationError("差额扣分需要数值目标 target")
    if plan.direction == "lower_better":
        gap = v - t if v > t else ZERO
    elif plan.direction == "equal":
        gap = abs(v - t)
    else:
        gap = t - v if v < t else ZERO
    first = v if given.shown is None else given.shown
    if not gap:
        return plan.points, Reason(plan.prep.t_met, (first, plan.points), plan.f_vp)
    units = gap / params.per
    if params.partial == "round_up":
        units = Decimal(math.ceil(units))
    elif params.partial == "round_down":
        units = Decimal(math.floor(units))
    taken = units * params.deduct
    limit = plan.prep.limit
    if taken > limit:
        taken = limit
    score = plan.points - taken
    return score, Reason(plan.prep.t_deduct, (first, taken, score), plan.f_vpp)


def describe(params: Params, unit: str) -> list[str]:
    return words(
        unit,
        ("每", params.per),
        ("扣", params.deduct),
        ("最低", params.floor),
        ("不足一个单位", params.partial),
    )


METHOD = Method(
    id="deduct",
    order=40,
    words="差额扣分",
    score=deduct,
    check=check,
    schema={"per": QUANTITY, "deduct": POSITIVE, "partial": PARTIAL, "floor": NUMBER},
    required=("per", "deduct", "partial"),
    describe=describe,
    prepare=prepare,
    prefixed=True,
    simple=True,
    needs_target=True,
    needs_direction=True,
)
