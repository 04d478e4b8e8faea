"""仅监测 (monitor): how it scores and how its reason reads."""

from __future__ import annotations

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import Method, Plan, Scored


def monitor(plan: Plan, *args: object) -> Scored:
    """仅监测: never scored; the evaluator shows the value without points."""
    raise FormulaEvaluationError(f"计分方法 {plan.ind.scoring.method} 不能直接调用")


METHOD = Method(id="monitor", words="仅监测", params=frozenset(), score=monitor)
