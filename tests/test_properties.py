"""Hypothesis properties of scoring: bounds, monotonicity, weight scaling, compiled = reference."""

from __future__ import annotations

import decimal
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

import kpirules
from kpirules.compiler import CompiledFormula, FormulaEvaluationError, reference_eval
from kpirules.engine import CONTEXT
from kpirules.formula import FormulaError, parse_formula

HEAD = """\
kpirules: 1
id: p
title: 性质
version: "1"
source: 测试
in_force: {from: 2026-01-01}
total_points: 10
weighting: points
metrics:
  rate: {label: 满意度, unit: percent}
  errors: {label: 差错率, unit: percent}
categories:
  - id: c
    label: 类
    weight: 10
    indicators:
"""

HIGHER = {
    "proportional": "metric: rate, target: ≥ 90%, scoring: {method: proportional}",
    "deduct": "metric: rate, target: ≥ 95%, scoring: {method: deduct, per: 1%, deduct: 1.5, partial: round_up}",
    "linear": "metric: rate, target: ≥ 95%, scoring: {method: linear, segments: [{from: 60%, to: 80%, points: [0, 4]}, {from: 80%, to: 95%, points: [4, 10]}], below: 0}",
    "pass_fail": "metric: rate, target: ≥ 95%, scoring: {method: pass_fail, otherwise: 2}",
    "table": "metric: rate, target: ≥ 90%, scoring: {method: table, rows: [{below: 60%, points: 0}, {from: 60%, below: 90%, points: 6}, {from: 90%, points: 10}]}",
}
LOWER = {
    "proportional": "metric: errors, target: ≤ 2%, scoring: {method: proportional}",
    "deduct": "metric: errors, target: ≤ 2%, scoring: {method: deduct, per: 0.5%, deduct: 1, partial: pro_rata}",
}

PERCENTS = st.decimals(min_value=0, max_value=1, places=4)


def ruleset(indicator: str) -> kpirules.LoadedRuleset:
    return kpirules.load(
        "p.yaml", text=HEAD + f"      - {{id: i, label: 项, weight: 10, {indicator}}}\n"
    )


COMPILED_HIGHER = {k: ruleset(v) for k, v in HIGHER.items()}
COMPILED_LOWER = {k: ruleset(v) for k, v in LOWER.items()}


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(sorted(HIGHER)), a=PERCENTS, b=PERCENTS)
def test_higher_is_better_scores_are_bounded_and_monotonic(
    method: str, a: Decimal, b: Decimal
) -> None:
    """For higher-is-better items: 0 ≤ score ≤ points, and a higher value never scores less."""
    r = COMPILED_HIGHER[method]
    low, high = sorted((a, b))
    s_low = r.evaluate({"rate": low}).item("i").score
    s_high = r.evaluate({"rate": high}).item("i").score
    assert 0 <= s_low <= s_high <= 10


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(sorted(LOWER)), a=PERCENTS, b=PERCENTS)
def test_lower_is_better_scores_are_bounded_and_monotonic(
    method: str, a: Decimal, b: Decimal
) -> None:
    """For lower-is-better items: 0 ≤ score ≤ points, and a lower value never scores less."""
    r = COMPILED_LOWER[method]
    low, high = sorted((a, b))
    assert (
        0
        <= r.evaluate({"errors": high}).item("i").score
        <= r.evaluate({"errors": low}).item("i").score
        <= 10
    )


SHARE = """\
kpirules: 1
id: s
title: 份额
version: "1"
source: 测试
in_force: {from: 2026-01-01}
weighting: percent_of_total
metrics:
  a: {label: 甲, unit: percent}
  b: {label: 乙, unit: percent}
  c: {label: 丙, unit: percent}
categories:
  - id: k
    label: 类
    weight: 100%
    weighting: share
    indicators:
      - {id: ia, label: 甲, metric: a, weight: WA, target: ≥ 100%, scoring: {method: proportional}}
      - {id: ib, label: 乙, metric: b, weight: WB, target: ≥ 100%, scoring: {method: proportional}}
      - {id: ic, label: 丙, metric: c, weight: WC, target: ≥ 100%, scoring: {method: proportional}}
"""


def share_ruleset(weights: tuple[int, int, int], factor: int) -> kpirules.LoadedRuleset:
    text = SHARE
    for name, w in zip(("WA", "WB", "WC"), weights, strict=True):
        text = text.replace(name, str(w * factor))
    return kpirules.load("s.yaml", text=text)


@settings(max_examples=60, deadline=None)
@given(
    weights=st.tuples(st.integers(1, 50), st.integers(1, 50), st.integers(1, 50)),
    factor=st.integers(2, 9),
    values=st.tuples(PERCENTS, PERCENTS, PERCENTS),
)
def test_scaling_share_weights_changes_no_total(
    weights: tuple[int, int, int], factor: int, values: tuple[Decimal, Decimal, Decimal]
) -> None:
    """Multiplying every share of a category by the same factor leaves the total unchanged."""
    metrics = dict(zip(("a", "b", "c"), values, strict=True))
    one = share_ruleset(weights, 1).evaluate(metrics)
    scaled = share_ruleset(weights, factor).evaluate(metrics)
    assert one.total == scaled.total
    assert [(i.points, i.score) for i in one.items] == [(i.points, i.score) for i in scaled.items]


NAMES = ("a", "b", "c")


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(NAMES),
        st.decimals(min_value=-100, max_value=100, places=2, allow_nan=False).map(str),
        st.integers(0, 100).map(lambda n: f"{n}%"),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, inner).map(lambda t: f"min({t[0]}, {t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"max({t[0]}, {t[1]}, {t[2]})"),
            inner.map(lambda x: f"abs({x})"),
            inner.map(lambda x: f"-{x}"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} > 0 else {t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} and {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} or {t[1]})"),
            inner.map(lambda x: f"({x}) ** 2"),
            st.tuples(inner).map(lambda t: f"clamp({t[0]}, 0, 10)"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=500, deadline=None)
@given(
    text=_expressions(),
    values=st.tuples(*[st.decimals(min_value=-1000, max_value=1000, places=3) for _ in NAMES]),
)
def test_compiled_formulas_agree_with_simpleeval(text: str, values: tuple[Decimal, ...]) -> None:
    """Compiled bytecode and simpleeval (the reference semantics) give the same results."""
    try:
        formula = parse_formula(text)
    except FormulaError:
        try:
            formula = parse_formula(text, condition=True)
        except FormulaError:
            return
    names = dict(zip(NAMES, values, strict=True))
    with decimal.localcontext(CONTEXT):
        try:
            expected = reference_eval(formula, names)
        except FormulaEvaluationError:
            expected = "error"
        try:
            got = CompiledFormula(formula)(dict(names))
        except FormulaEvaluationError:
            got = "error"
    assert got == expected
    assert type(got) is type(expected)
