"""较基期变化 (change): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import (
    ONE,
    ZERO,
    Given,
    Method,
    Pct,
    Plan,
    Pts,
    Reason,
    Scored,
    baseline_of,
    cap_points,
    met,
    text_of,
    value_arg,
)
from kpirules.methods._params import METRIC_ID, Check, Where, baseline, words
from kpirules.quantity import format_decimal

_COMPARE = {"enum": ["relative", "absolute"]}
_SCORING = {"enum": ["pass_fail", "proportional"]}


@attrs.frozen
class Params:
    """The ``baseline`` metric, ``compare`` relative/absolute, ``scoring`` when not met."""

    baseline: str
    compare: str
    scoring: str = "pass_fail"

    def reads(self) -> tuple[str, ...]:
        """The baseline metric is read besides the indicator's own."""
        return (self.baseline,)


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """The baseline is a declared metric of the same unit; absolute changes not in %."""
    base = yield from baseline(where, raw)
    if base is None:
        return None
    metric, compare = where.metric, raw.get("compare")
    t = where.target
    if (
        compare == "absolute"
        and t is not None
        and t.quantity is not None
        and t.quantity.is_percent
        and metric.unit not in ("percent", "ratio")
    ):
        yield where.problem(
            where.at("compare"),
            "按绝对变化比较时，目标应写成指标本身的单位，不能写百分数；按相对变化（提升 5%）请写 compare: relative",
            code="KR369",
        )
    scoring = raw.get("scoring", "pass_fail")
    if not isinstance(compare, str) or not isinstance(scoring, str):
        return None
    return Params(base, compare, scoring)


def change(plan: Plan, v: Decimal, given: Given) -> Scored:
    """较基期变化 (relative or absolute) scored against the target of the change."""
    params: Params = plan.params
    base = baseline_of(params.baseline, given)
    t = plan.target
    ind = plan.ind
    if not isinstance(t, Decimal) or ind.target is None:
        raise FormulaEvaluationError("较基期变化需要数值目标 target")
    if params.compare == "relative":
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
    if params.scoring == "proportional" and not ok:
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


def describe(params: Params, unit: str) -> list[str]:
    return words(
        unit, ("基期", params.baseline), ("比较", params.compare), ("未达标时", params.scoring)
    )


METHOD = Method(
    id="change",
    order=80,
    words="较基期变化",
    score=change,
    check=check,
    schema={"baseline": METRIC_ID, "compare": _COMPARE, "scoring": _SCORING},
    required=("baseline", "compare"),
    describe=describe,
    no_equal=True,
    needs_target=True,
    needs_direction=True,
    change_target=True,
    met_by_score=True,
)
