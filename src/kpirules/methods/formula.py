"""自定义公式 (formula): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.compiler import CompiledFormula, FormulaEvaluationError
from kpirules.formula import Formula
from kpirules.methods._base import (
    ONE,
    ZERO,
    Given,
    Method,
    Plan,
    Pts,
    ReadsOwnMetric,
    Reason,
    Scored,
)
from kpirules.methods._params import Check, Where
from kpirules.methods._params import formula as read_formula
from kpirules.quantity import format_decimal

_FORMULA = {
    "anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}],
    "errorMessage": "写公式，如 差错件数 / 审核件数",
}


@attrs.frozen
class Params(ReadsOwnMetric):
    """The ``formula`` giving the score from value, target, points and any metric."""

    formula: Formula


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """The formula parses and names only value, target, points, baseline and metrics."""
    if "formula" not in raw:
        return None
    names = {"value", "target", "points", "baseline", *where.declared}
    parsed = yield from read_formula(
        where.doc, raw["formula"], where.at("formula"), names, context="计分公式"
    )
    return None if parsed is None else Params(parsed)


def prepare(plan: Plan) -> CompiledFormula:
    params: Params = plan.params
    return CompiledFormula(params.formula)


def formula(plan: Plan, v: Decimal | bool, given: Given) -> Scored:
    """自定义公式; a result outside 0..points is an error, never silently clamped."""
    compiled: CompiledFormula = plan.prep
    names: dict[str, object] = {
        k: (ONE if x else ZERO) if x.__class__ is bool else x for k, x in given.known.items()
    }
    names.update(value=v, target=plan.target, points=plan.points)
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


def describe(params: Params, unit: str) -> list[str]:
    return [params.formula.text]


METHOD = Method(
    id="formula",
    order=140,
    words="自定义公式",
    score=formula,
    check=check,
    schema={"formula": _FORMULA},
    required=("formula",),
    describe=describe,
    prepare=prepare,
    yes_no=True,
)
