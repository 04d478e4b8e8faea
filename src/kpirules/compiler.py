"""Formulas compiled once into Python code over Decimal, with simpleeval as the reference.

A formula that passed :mod:`kpirules.formula`'s allow-list contains only arithmetic,
comparisons, boolean logic, conditionals, names and calls of a fixed set of functions, so
compiling it to bytecode is safe. Each number literal becomes a ``Decimal`` built from its
exact source text once, at compile time; nothing on the per-entity path parses text.

:func:`reference_eval` evaluates the same formula with simpleeval (parse once,
``previously_parsed``); a differential test proves that both agree.
"""

from __future__ import annotations

import ast
import decimal
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import simpleeval

from kpirules.errors import KpirulesError
from kpirules.formula import Formula


class FormulaEvaluationError(KpirulesError):
    """A formula failed while scoring (division by zero, overflow, a value out of range)."""


def _clamp(x: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, x))


def _round_half_up(x: Decimal, places: Decimal) -> Decimal:
    if places != places.to_integral_value() or not 0 <= places <= 10:
        raise FormulaEvaluationError("round_half_up 的位数应为 0 到 10 的整数")
    return x.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)


#: The largest base (and exponent) a power may have: simpleeval's limit, kept so that the
#: compiled formula and the reference agree and no power runs for long.
MAX_POWER_BASE = simpleeval.MAX_POWER


def _pow(base: Decimal, exponent: Decimal) -> Decimal:
    if abs(base) > MAX_POWER_BASE or abs(exponent) > MAX_POWER_BASE:
        raise FormulaEvaluationError(f"乘方的底数过大：{base} ** {exponent}")
    result: Decimal = base**exponent
    return result


def _min(*args: Decimal) -> Decimal:
    return min(args)


def _max(*args: Decimal) -> Decimal:
    return max(args)


def _abs(x: Decimal) -> Decimal:
    return abs(x)


FUNCTIONS: dict[str, Callable[..., Decimal]] = {
    "min": _min,
    "max": _max,
    "abs": _abs,
    "clamp": _clamp,
    "round_half_up": _round_half_up,
}


class _Literals(ast.NodeTransformer):
    """Number literals become names bound to ``Decimal(<exact text>)``; ``a ** b`` a call
    of the same bounded power simpleeval uses."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.constants: dict[str, Decimal | bool] = {}

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        name = f"_k{len(self.constants)}"
        if isinstance(node.value, bool):
            self.constants[name] = node.value
        else:
            text = ast.get_source_segment(self.source, node) or repr(node.value)
            self.constants[name] = Decimal(text)
        return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            call = ast.Call(
                func=ast.Name(id="_pow", ctx=ast.Load()), args=[node.left, node.right], keywords=[]
            )
            return ast.copy_location(call, node)
        return node


class CompiledFormula:
    """A formula compiled to bytecode; picklable (it recompiles from its text when loaded)."""

    __slots__ = ("_code", "_globals", "formula")

    def __init__(self, formula: Formula) -> None:
        self.formula = formula
        tree = ast.parse(formula.source, mode="eval")
        literals = _Literals(formula.source)
        tree = ast.fix_missing_locations(literals.visit(tree))
        self._code = compile(tree, f"<formula {formula.text}>", "eval")
        self._globals: dict[str, Any] = {
            "__builtins__": {},
            "_pow": _pow,
            **FUNCTIONS,
            **literals.constants,
        }

    def __call__(self, names: dict[str, Any]) -> Any:
        """Evaluate with ``names``; decimal errors become :class:`FormulaEvaluationError`."""
        try:
            return eval(self._code, self._globals, names)
        except (decimal.DivisionByZero, decimal.InvalidOperation, ZeroDivisionError) as exc:
            raise FormulaEvaluationError(_division_message(self.formula, names, exc)) from None
        except decimal.Overflow:
            raise FormulaEvaluationError(
                f"公式 “{self.formula.text}” 的结果超出可表示的范围（{_shown(self.formula, names)}）"
            ) from None

    def __getstate__(self) -> Formula:
        return self.formula

    def __setstate__(self, state: Formula) -> None:
        self.__init__(state)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"CompiledFormula({self.formula.text!r})"


def _shown(formula: Formula, names: Mapping[str, Any]) -> str:
    used = sorted(n for n in formula.names if n in names)
    return "，".join(f"{n} = {names[n]}" for n in used) or "没有用到变量"


def _division_message(formula: Formula, names: Mapping[str, Any], exc: Exception) -> str:
    if isinstance(exc, decimal.InvalidOperation) and not isinstance(exc, decimal.DivisionByZero):
        what = "无法计算（如 0/0）"
    else:
        what = "除数为 0"
    return f"公式 “{formula.text}” {what}（{_shown(formula, names)}）"


class _DecimalLiterals(ast.NodeTransformer):
    """For simpleeval: number literals become Decimal constants of their exact text."""

    def __init__(self, source: str) -> None:
        self.source = source

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            return node
        text = ast.get_source_segment(self.source, node) or repr(node.value)
        constant = ast.Constant(value=Decimal(text))  # type: ignore[arg-type]
        return ast.copy_location(constant, node)


def reference_eval(formula: Formula, names: Mapping[str, Any]) -> Any:
    """Evaluate ``formula`` with simpleeval: the reference semantics for compiled formulas."""
    tree = ast.parse(formula.source, mode="eval")
    tree = _DecimalLiterals(formula.source).visit(tree)
    evaluator = simpleeval.SimpleEval(
        operators=dict(simpleeval.DEFAULT_OPERATORS),
        functions=dict(FUNCTIONS),
        names=dict(names),
    )
    try:
        return evaluator.eval(formula.source, previously_parsed=tree.body)
    except (decimal.DivisionByZero, decimal.InvalidOperation, ZeroDivisionError) as exc:
        raise FormulaEvaluationError(_division_message(formula, names, exc)) from None
    except simpleeval.NumberTooHigh:
        raise FormulaEvaluationError(f"公式 “{formula.text}” 中乘方的底数过大") from None
    except decimal.Overflow:
        raise FormulaEvaluationError(f"公式 “{formula.text}” 的结果超出可表示的范围") from None
