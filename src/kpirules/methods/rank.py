"""排名计分 (rank): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.methods._base import (
    ZERO,
    Given,
    Method,
    NoCohortError,
    Plan,
    Pts,
    ReadsOwnMetric,
    Reason,
    Scored,
)
from kpirules.methods._params import NUMBER, Check, Where, dec, number, within_points, words
from kpirules.quantity import format_decimal

_BY_RANK = {"type": "array", "items": {"type": "number"}, "minItems": 1}


@attrs.frozen
class Params(ReadsOwnMetric):
    """``points_by_rank``: points of the 1st, 2nd, … place; ``otherwise`` for the rest."""

    points_by_rank: tuple[Decimal, ...]
    otherwise: Decimal | None = None


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """Points fall with the rank and lie within the indicator's points."""
    otherwise = number(raw, "otherwise")
    yield from within_points(where, otherwise, "otherwise")
    listed = raw.get("points_by_rank")
    if not isinstance(listed, list):
        return None
    ranks = [dec(v) or ZERO for v in listed]
    for i, (a, b) in enumerate(itertools.pairwise(ranks)):
        if b > a:
            yield where.problem(
                where.at("points_by_rank", i + 1),
                f"名次越靠后得分应越低：第 {i + 2} 名 {format_decimal(b)} 分高于第 {i + 1} 名 {format_decimal(a)} 分",
                code="KR366",
            )
    for i, v in enumerate(ranks):
        yield from within_points(where, v, "points_by_rank", i)
    return Params(tuple(ranks), otherwise)


def rank(plan: Plan, v: Decimal, given: Given) -> Scored:
    """排名: points by competition rank within the cohort."""
    params: Params = plan.params
    cohort = given.cohort
    if cohort is None:
        raise NoCohortError
    r = cohort.rank(v, plan.higher)
    by_rank = params.points_by_rank
    score = by_rank[r - 1] if r <= len(by_rank) else (params.otherwise or ZERO)
    return score, Reason(
        "在 {0} 个单位中排第 {1} 名，得 {2}", (cohort.size, r, Pts(score, plan.quantum, plan.mode))
    )


def describe(params: Params, unit: str) -> list[str]:
    parts = words(unit, ("未达标得", params.otherwise))
    parts.append("各名次得 " + "/".join(format_decimal(p) for p in params.points_by_rank) + " 分")
    return parts


METHOD = Method(
    id="rank",
    order=100,
    words="排名计分",
    score=rank,
    check=check,
    schema={"points_by_rank": _BY_RANK, "otherwise": NUMBER},
    required=("points_by_rank",),
    describe=describe,
    cohort=True,
    no_equal=True,
    needs_direction=True,
)
