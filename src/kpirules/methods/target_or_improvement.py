"""达标与改进结合 (target_or_improvement): its parameters, how it scores, how it reads.

Full points when the target is met. Otherwise the improvement over the previous period
(the ``baseline`` metric) earns points pro rata: ``step_points`` for each ``step`` of
improvement (improvement ÷ step × step_points), at most ``cap`` (default
:data:`DEFAULT_CAP_SHARE` of the indicator's points), at least ``floor`` (default 0). An
improvement is a rise when higher is better and a fall when lower is better; no change
or a change for the worse earns ``floor``.

A missing baseline matters only when the target is not met: with ``missing: error`` (the
default) it is an error naming the baseline (KR616); with ``missing: zero`` or
``exclude`` the item is scored as not improved (``floor``), and its reason says so.
"""

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
    Pts,
    Reason,
    Scored,
    baseline_of,
    met,
    step_text,
    value_arg,
)
from kpirules.methods._params import (
    METRIC_ID,
    NUMBER,
    POSITIVE,
    QUANTITY,
    Check,
    Where,
    baseline,
    floor,
    number,
    per,
    q_text,
    within_points,
)
from kpirules.quantity import format_decimal

#: Without ``cap``, improvement earns at most this share of the indicator's points.
DEFAULT_CAP_SHARE = Decimal("0.8")


@attrs.frozen
class Params:
    """The ``baseline`` metric; ``step_points`` per ``step`` of improvement; ``cap``, ``floor``.

    ``cap`` and ``floor`` are None when not written (then 80% of the points, and 0).
    """

    baseline: str
    step: Decimal
    step_points: Decimal
    cap: Decimal | None = None
    floor: Decimal | None = None

    def reads(self) -> tuple[str, ...]:
        """The baseline metric is read besides the indicator's own."""
        return (self.baseline,)

    def cap_for(self, points: Decimal) -> Decimal:
        """The most improvement can earn on an indicator of ``points``."""
        return self.cap if self.cap is not None else points * DEFAULT_CAP_SHARE


class _Prep(NamedTuple):
    cap: Decimal
    floor: Decimal
    step: str


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """Baseline declared with the metric's unit; step above 0; floor ≤ cap ≤ points."""
    base = yield from baseline(where, raw)
    step = yield from per(where, raw, "step")
    if step is not None and step <= 0:
        yield where.problem(
            where.at("step"),
            f"step（每改善多少）必须大于 0，而这里是 {format_decimal(step)}",
            "写改善幅度的计分单位，如 1%（一个百分点）或 1（件、次）",
            code="KR390",
        )
        step = None
    cap = number(raw, "cap")
    yield from within_points(where, cap, "cap")
    low = yield from floor(where, raw)
    step_points = number(raw, "step_points")
    if base is None or step is None or step_points is None:
        return None
    params = Params(base, step, step_points, cap, low)
    top = params.cap_for(where.points)
    if low is not None and low > top:
        yield where.problem(
            where.at("floor"),
            f"未改善时的得分 floor（{format_decimal(low)}分）高于改善得分的上限"
            f"（{format_decimal(top)}分{'' if cap is not None else '，即满分的80%'}）",
            "调低 floor，或调高 cap",
            code="KR391",
        )
    return params


def prepare(plan: Plan) -> _Prep:
    params: Params = plan.params
    return _Prep(
        params.cap_for(plan.points), params.floor or ZERO, step_text(params.step, plan.metric)
    )


def target_or_improvement(plan: Plan, v: Decimal, given: Given) -> Scored:
    """Full points when the target is met, else points for improvement over the baseline."""
    params: Params = plan.params
    prep: _Prep = plan.prep
    ind = plan.ind
    if ind.target is None or not isinstance(plan.target, Decimal):
        raise FormulaEvaluationError("达标与改进结合需要数值目标 target")
    if met(ind.target.op, v, plan.target):
        return plan.points, Reason(
            "达到目标 {0}，得满分 {1}",
            (plan.target_text, Pts(plan.points, plan.quantum, plan.mode)),
        )
    floor_pts = Pts(prep.floor, plan.quantum, plan.mode)
    if ind.missing != "error" and not isinstance(given.known.get(params.baseline), Decimal):
        return prep.floor, Reason(
            "未达到目标 {0}，缺少基期数据，按未改善计，得 {1}", (plan.target_text, floor_pts)
        )
    base = baseline_of(params.baseline, given)
    gain = v - base if plan.higher else base - v
    base_arg = value_arg(plan.metric, base)
    if gain <= 0:
        return prep.floor, Reason(
            "未达到目标 {0}，较基期 {1} {2}，得 {3}",
            (plan.target_text, base_arg, "没有改善" if gain == 0 else "反而变差", floor_pts),
        )
    raw = gain / params.step * params.step_points
    score = max(prep.floor, min(prep.cap, raw))
    note = (
        Reason("（改善得分上限 {0}）", (Pts(prep.cap, plan.quantum, plan.mode),))
        if raw > prep.cap
        else ""
    )
    return score, Reason(
        "未达到目标 {0}，较基期 {1} 改善 {2}，每改善{3}得{4}分，得 {5}{6}",
        (
            plan.target_text,
            base_arg,
            step_text(gain, plan.metric),
            prep.step,
            format_decimal(params.step_points),
            Pts(score, plan.quantum, plan.mode),
            note,
        ),
    )


def describe(params: Params, unit: str) -> list[str]:
    """``基期 …；每改善 1% 得 0.5分；上限 …；最低 …``."""
    parts = [
        f"基期 {params.baseline}",
        f"每改善 {q_text(params.step, unit)} 得 {format_decimal(params.step_points)}分",
        "改善得分上限 "
        + (format_decimal(params.cap) + "分" if params.cap is not None else "满分的80%"),
    ]
    if params.floor is not None:
        parts.append(f"最低 {format_decimal(params.floor)}")
    return parts


METHOD = Method(
    id="target_or_improvement",
    order=85,
    words="达标与改进结合",
    score=target_or_improvement,
    check=check,
    schema={
        "baseline": METRIC_ID,
        "step": QUANTITY,
        "step_points": POSITIVE,
        "cap": NUMBER,
        "floor": NUMBER,
    },
    required=("baseline", "step", "step_points"),
    describe=describe,
    prepare=prepare,
    no_equal=True,
    needs_target=True,
    needs_direction=True,
)
