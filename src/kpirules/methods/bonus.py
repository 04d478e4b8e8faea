"""加分 (bonus): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.methods._base import (
    Given,
    Method,
    Plan,
    Pts,
    ReadsOwnMetric,
    Reason,
    Scored,
    step_text,
)
from kpirules.methods._params import NUMBER, POSITIVE, QUANTITY, Check, Where, number, per, words
from kpirules.quantity import format_decimal


@attrs.frozen
class Params(ReadsOwnMetric):
    """每满 ``per`` 加 ``add`` 分, at most ``cap`` (the item's points)."""

    per: Decimal
    add: Decimal
    cap: Decimal


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """``per`` is written in the metric's unit."""
    step = yield from per(where, raw)
    add, cap = number(raw, "add"), number(raw, "cap")
    if step is None or add is None or cap is None:
        return None
    return Params(step, add, cap)


def prepare(plan: Plan) -> str:
    params: Params = plan.params
    return step_text(params.per, plan.metric)


def bonus(plan: Plan, v: Decimal, given: Given) -> Scored:
    """每满 ``per`` 加 ``add`` 分, at most ``cap``."""
    params: Params = plan.params
    units = Decimal(math.floor(v / params.per))
    score = min(params.cap, units * params.add)
    return score, Reason(
        "每满{0}加{1}分，加 {2}（上限 {3}）",
        (
            plan.prep,
            format_decimal(params.add),
            Pts(score, plan.quantum, plan.mode),
            Pts(params.cap, plan.quantum, plan.mode),
        ),
    )


def describe(params: Params, unit: str) -> list[str]:
    return words(unit, ("每", params.per), ("加", params.add), ("上限", params.cap))


METHOD = Method(
    id="bonus",
    order=60,
    words="加分",
    score=bonus,
    check=check,
    schema={"per": QUANTITY, "add": POSITIVE, "cap": NUMBER},
    required=("per", "add", "cap"),
    describe=describe,
    prepare=prepare,
    simple=True,
    direction="higher_better",
    counts=False,
    own_points="cap",
)
