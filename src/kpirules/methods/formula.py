"""自定义公式 (formula): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import Method, Plan, Pts, Reason, Scored
from kpirules.quantity import format_decimal


def formula(plan: Plan, v: Decimal | bool, names: dict[str, object]) -> Scored:
    """自定义公式; a result outside 0..points is an error, never silently clamped."""
    compiled = plan.formula
    assert compiled is not None
    raw = compiled(names)
    if isinstance(raw, bool) or not isinstance(raw, Decimal):
        raise FormulaEvaluationError(f"计分公式 “{compiled.formula.text}” 的结果不是数值")
    if raw < 0 or raw > plan.points:
        raise FormulaEvaluationError(
            f"计分公式 “{compiled.formula.text}” 的结果 {format_decimal(raw)} 超出 0 到 "
            f"{format_decimal(plan.points)} 分（可用 clamp(…, 0, points) 限定）"
        )
    return raw, Reason(
        "按公式 {0} 计算，得 {1}", (compiled.formula.text, Pts(raw, plan.quantum, plan.mode))
    )


METHOD = Method(id="formula", words="自定义公式", params=frozenset({"formula"}), score=formula)
