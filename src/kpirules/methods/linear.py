"""区间法 (linear): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.methods._base import Method, Plan, Pts, Reason, Scored, value_arg
from kpirules.quantity import format_decimal


def linear(plan: Plan, v: Decimal) -> Scored:
    """区间法: straight lines between segment ends; ``below``/``above`` outside."""
    segs = plan.ind.scoring.segments
    first, last = segs[0], segs[-1]
    metric = plan.metric
    if v < first.start:
        score = plan.below if plan.below is not None else first.start_points
        return score, Reason(
            "低于区间下限 {0}，得 {1}",
            (value_arg(metric, first.start), Pts(score, plan.quantum, plan.mode)),
        )
    if v > last.end:
        above = plan.ind.scoring.above
        score = above if above is not None else last.end_points
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


METHOD = Method(
    id="linear",
    words="区间法",
    params=frozenset({"segments", "below", "above"}),
    score=linear,
    simple=True,
)
