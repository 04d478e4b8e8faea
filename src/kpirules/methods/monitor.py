"""仅监测 (monitor): no parameters and no score; the evaluator shows the value only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import Given, Method, Plan, ReadsOwnMetric, Scored
from kpirules.methods._params import Check, Where


@attrs.frozen
class Params(ReadsOwnMetric):
    """No parameters."""


def check(raw: Mapping[str, Any], where: Where) -> Check[Params]:
    """Nothing to check."""
    yield from ()
    return Params()


def monitor(plan: Plan, v: object, given: Given) -> Scored:
    """仅监测: never scored (``scored`` is False); the evaluator shows the value without points."""
    raise FormulaEvaluationError(f"计分方法 {plan.method} 不能直接调用")


METHOD = Method(
    id="monitor",
    order=130,
    words="仅监测",
    score=monitor,
    check=check,
    direction="monitor",
    scored=False,
    counts=False,
    yes_no=True,
)
