"""较基期变化 (change): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import (
    ONE,
    ZERO,
    Method,
    Pct,
    Plan,
    Pts,
    Reason,
    Scored,
    cap_points,
    met,
    text_of,
    value_arg,
)
from kpirules.quantity import format_decimal


def change(plan: Plan, v: Decimal, base: Decimal) -> Scored:
    """较基期变化 (relative or absolute) scored against the target of the change."""
    t = plan.target
    ind = plan.ind
    assert isinstance(t, Decimal) and ind.target is not None
    if ind.scoring.compare == "relative":
        if base == 0:
            raise FormulaEvaluationError(
                f"基期值为 0，无法计算相对变化（本期 {text_of(value_arg(plan.metric, v))}）"
            )
        delta = (v - base) / base
        delta_arg: object = Pct(delta)
    else:
        delta = v - base
        delta_arg = format_decimal(delta)
    base_arg = value_arg(plan.metric, base)
    ok = met(ind.target.op, delta, t)
    if ind.scoring.change_scoring == "proportional" and not ok:
        ratio = (delta / t) if plan.higher else (t / delta if delta > 0 else ONE)
        score = cap_points(ratio * plan.points, plan.points)
        return score, Reason(
            "较基期 {0} 变化 {1}，未达到目标 {2}，按比例得 {3}",
            (base_arg, delta_arg, plan.target_text, Pts(score, plan.quantum, plan.mode)),
        )
    score = plan.points if ok else ZERO
    return score, Reason(
        "较基期 {0} 变化 {1}，{2}目标 {3}，得 {4}",
        (
            base_arg,
            delta_arg,
            "达到" if ok else "未达到",
            plan.target_text,
            Pts(score, plan.quantum, plan.mode),
        ),
    )


METHOD = Method(
    id="change",
    words="较基期变化",
    params=frozenset({"baseline", "compare", "scoring"}),
    score=change,
    no_equal=True,
)
