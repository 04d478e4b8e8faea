"""按次扣分 (per_occurrence): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

import attrs

from kpirules.methods._base import (
    ZERO,
    Given,
    Method,
    Plan,
    ReadsOwnMetric,
    Reason,
    Scored,
    escape,
)
from kpirules.methods._params import (
    NUMBER,
    POSITIVE,
    Check,
    Where,
    floor,
    number,
    unit_word,
    words,
)
from kpirules.quantity import format_decimal


@attrs.frozen
class Params(ReadsOwnMetric):
    """每发现一次扣 ``deduct`` 分, never below ``floor``."""

    deduct: Decimal
    floor: Decimal | None = None


class _Prep(NamedTuple):
    t_each: str
    limit: Decimal


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """``floor`` within the points; the metric is a count."""
    low = yield from floor(where, raw)
    unit = where.metric.unit
    if unit != "count":
        yield where.problem(
            where.path,
            f"按次扣分（per_occurrence）要求计数指标，而 “{where.label}” 是{unit_word(unit)}",
            code="KR363",
        )
    each = number(raw, "deduct")
    return None if each is None else Params(each, low)


def prepare(plan: Plan) -> _Prep:
    params: Params = plan.params
    return _Prep(
        f"{escape(plan.label)} {{0}}，每次扣{format_decimal(params.deduct)}分，扣 {{1}}，得 {{2}}",
        plan.points - (params.floor or ZERO),
    )


def per_occurrence(plan: Plan, v: Decimal, given: Given) -> Scored:
    """每发现一次扣X分, not below the floor."""
    params: Params = plan.params
    taken = min(v * params.deduct, plan.prep.limit)
    score = plan.points - taken
    return score, Reason(plan.prep.t_each, (given.first(v), taken, score), plan.f_vpp)


def describe(params: Params, unit: str) -> list[str]:
    return words(unit, ("扣", params.deduct), ("最低", params.floor))


METHOD = Method(
    id="per_occurrence",
    order=50,
    words="按次扣分",
    score=per_occurrence,
    check=check,
    schema={"deduct": POSITIVE, "floor": NUMBER},
    required=("deduct",),
    describe=describe,
    prepare=prepare,
    prefixed=True,
    simple=True,
    direction="lower_better",
)
