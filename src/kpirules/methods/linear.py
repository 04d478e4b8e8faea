"""区间法 (linear): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

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
    value_arg,
)
from kpirules.methods._params import (
    NUMBER,
    Check,
    Where,
    number,
    q_text,
    segments,
    within_points,
    words,
)
from kpirules.model import Segment
from kpirules.quantity import format_decimal

_SEGMENTS = {"type": "array", "items": {"$ref": "#/$defs/segment"}, "minItems": 1}


@attrs.frozen
class Params(ReadsOwnMetric):
    """Straight lines between ``segments`` ends; ``below``/``above`` the points outside."""

    segments: tuple[Segment, ...]
    below: Decimal | None = None
    above: Decimal | None = None


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """``below``/``above`` within the points; segments ordered and touching."""
    below, above = number(raw, "below"), number(raw, "above")
    yield from within_points(where, below, "below")
    yield from within_points(where, above, "above")
    segs = yield from segments(where, raw.get("segments"))
    return Params(segs, below, above) if segs else None


def linear(plan: Plan, v: Decimal, given: Given) -> Scored:
    """区间法: straight lines between segment ends; ``below``/``above`` outside."""
    params: Params = plan.params
    segs = params.segments
    first, last = segs[0], segs[-1]
    metric = plan.metric
    if v < first.start:
        score = params.below if params.below is not None else first.start_points
        return score, Reason(
            "低于区间下限 {0}，得 {1}",
            (value_arg(metric, first.start), Pts(score, plan.quantum, plan.mode)),
        )
    if v > last.end:
        score = params.above if params.above is not None else last.end_points
        return score, Reason(
            "高于区间上限 {0}，得 {1}",
            (value_arg(metric, last.end), Pts(score, plan.quantum, plan.mode)),
        )
    seg = next(s for s in segs if s.start <= v <= s.end)
    score = seg.start_points + (v - seg.start) / (seg.end - seg.start) * (
        seg.end_points - seg.start_points
    )
    return score, Reason(
        "落在区间 {0}–{1}（{2}–{3}分），按区间线性计分，得 {4}",
        (
            value_arg(metric, seg.start),
            value_arg(metric, seg.end),
            format_decimal(seg.start_points),
            format_decimal(seg.end_points),
            Pts(score, plan.quantum, plan.mode),
        ),
    )


def describe(params: Params, unit: str) -> list[str]:
    parts = words(unit, ("低于区间得", params.below), ("高于区间得", params.above))
    parts.extend(
        f"{q_text(g.start, unit)}–{q_text(g.end, unit)} 得 "
        f"{format_decimal(g.start_points)}–{format_decimal(g.end_points)}分"
        for g in params.segments
    )
    return parts


METHOD = Method(
    id="linear",
    order=30,
    words="区间法",
    score=linear,
    check=check,
    schema={"segments": _SEGMENTS, "below": NUMBER, "above": NUMBER},
    required=("segments",),
    describe=describe,
    simple=True,
    direction="higher_better",
)
