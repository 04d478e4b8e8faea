"""Hostile and careless input: each attack refused with our own error, nothing written half-way."""

from __future__ import annotations

import io
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fuzzing import share
from hypothesis import given
from hypothesis import strategies as st

import kpirules
from kpirules import EvaluationError
from kpirules.cli import run

ROOT = Path(__file__).resolve().parent.parent
RULESET_PATH = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"

HEAD = """\
kpirules: 1
id: s
title: 安全
version: "1"
source: 测试
in_force: {from: 2026-01-01}
weighting: points
metrics:
  x: {label: 金额, unit: money}
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: i, label: 项, metric: x, scoring: {method: monitor}}
"""


def formula_problems(formula: str) -> list[str]:
    """Problems of a ruleset whose only adjustment uses ``formula``."""
    text = (
        HEAD
        + f"adjustments:\n  rules:\n    - {{id: a, label: 加分, kind: bonus, points: '{formula}', cap: 5}}\n"
    )
    _, problems = kpirules.check("s.yaml", text=text)
    return [p.message for p in problems]


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("x.real", "公式不能使用属性访问（“.”后跟名字）"),
        ("x.__class__.__bases__", "公式不能使用属性访问（“.”后跟名字）"),
        ('__import__("os").system("ls")', "只能调用内置函数"),
        ('open("/etc/passwd")', "不认识的函数 open()"),
        ("rand()", "不认识的函数 rand()"),
        ("randint(1, 6)", "不认识的函数 randint()"),
        ("float(x)", "不认识的函数 float()"),
        ("int(x)", "不认识的函数 int()"),
        ("str(x)", "不认识的函数 str()"),
        ("4000000 ** 4000000", "乘方 ** 的指数只能是 0 到 4 的整数常数"),
        ("10 ** 4000000 * 10 ** 4000000", "乘方 ** 的指数只能是 0 到 4 的整数常数"),
        ("-" * 600 + "1", "公式"),
        ("-" * 100000 + "1", "公式过长"),
        ("x = 5", "不能赋值"),
        ("1; 2", "公式只能是一个表达式"),
        ("[c for c in ()]", "公式不能使用推导式"),
        ("lambda: 0", "公式不能使用 lambda"),
        ("x[0]", "公式不能使用下标"),
        ('"a" * 10', "公式中不能使用文字"),
    ],
)
def test_formula_escape_hatches_refused_at_load(formula: str, message: str) -> None:
    """Every escape hatch measured in pitfalls.md is refused when the ruleset loads, with our message."""
    found = formula_problems(formula)
    assert found, formula
    assert any(message in m for m in found), found


def _grown(points: str, steps: int) -> kpirules.LoadedRuleset:
    """A ruleset whose derived metrics d1…dN each multiply the previous one by itself ten
    times (inputs are bounded to 30 digits, so huge values can only be computed)."""
    derived = "".join(
        f"  d{n}: {{label: 放大{n}, unit: money, formula: {' * '.join([f'd{n - 1}' if n > 1 else 'x'] * 10)}}}\n"
        for n in range(1, steps + 1)
    )
    text = HEAD.replace("categories:\n", derived + "categories:\n") + (
        f"adjustments:\n  rules:\n    - {{id: a, label: 加分, kind: bonus, points: {points}, cap: 5}}\n"
    )
    return kpirules.load("s.yaml", text=text)


def test_overflow_at_evaluation_is_a_clear_error() -> None:
    """Decimal overflow while scoring becomes a per-rule error naming the formula and values."""
    r = _grown("d4 * d4 * d4 * d4", 4)  # (1E+29)^10000 = 1E+290000, to the 4th: overflow
    with pytest.raises(EvaluationError) as info:
        r.evaluate({"x": Decimal("1E+29")})
    assert "超出可表示的范围" in str(info.value)
    assert "d4 * d4 * d4 * d4" in str(info.value)


def test_power_base_limited_at_evaluation() -> None:
    """A power of a huge value is refused quickly (simpleeval's limit, shared by both paths)."""
    r = _grown("d1 ** 4", 1)  # (1E+10)^10 = 1E+100
    with pytest.raises(EvaluationError, match="乘方的底数过大"):
        r.evaluate({"x": Decimal("1E+10")})


def test_api_numbers_beyond_the_ruleset_bounds_are_refused() -> None:
    """Decimal, int and text values given to the API obey the loader's 30-digit bounds."""
    r = kpirules.load("s.yaml", text=HEAD)
    too_large = "x: 指标 “金额” 的值超出可用范围（整数部分最多 30 位，小数最多 30 位）"
    for value in (
        Decimal("1E+300000"),
        Decimal("1" * 31),
        Decimal("0." + "1" * 31),
        Decimal("1E-31"),
        Decimal("0E+31"),
        Decimal("0." + "1" * 1_000_000),
        10**30,
        -(10**30),
        "1" * 31,
        "0." + "1" * 31,
    ):
        with pytest.raises(EvaluationError) as info:
            r.evaluate({"x": value})
        assert str(info.value) == too_large
    text = "x: 指标 “金额” 的值过长（1001 个字符，最多 1000 个）"
    with pytest.raises(EvaluationError, match=text):
        r.evaluate({"x": "1" * 1001})
    for value in (Decimal("9" * 30), Decimal("0." + "9" * 30), 10**30 - 1, "0." + "1" * 30):
        assert r.evaluate({"x": value}).item("i").value == Decimal(value)


class _Interrupted(BaseException):
    """Stands in for Ctrl-C in the middle of writing."""


def test_interrupted_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run interrupted while writing leaves neither a half-written output nor a temporary file."""
    target = tmp_path / "out.json"

    def boom(fd: int) -> None:
        raise _Interrupted

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(_Interrupted):
        run(
            ["score", str(RULESET_PATH), str(EXAMPLE), "--format", "json", "--output", str(target)],
            io.StringIO(),
            io.StringIO(),
        )
    assert list(tmp_path.iterdir()) == []


def test_existing_output_kept_when_scoring_fails(tmp_path: Path) -> None:
    """A failed run never touches an existing output, even with --force."""
    target = tmp_path / "out.csv"
    target.write_text("前一次的结果\n", "utf-8")
    code = run(
        [
            "score",
            str(RULESET_PATH),
            str(ROOT / "examples" / "a-offices-2026-messy.csv"),
            "--output",
            str(target),
            "--force",
        ],
        io.StringIO(),
        io.StringIO(),
    )
    assert code == 1
    assert target.read_text("utf-8") == "前一次的结果\n"


RULESET = kpirules.load(RULESET_PATH)
INPUT_NAMES = [m.id for m in RULESET.metrics if m.formula is None]
ODD: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(
        ["95%", "0.95", "NaN", "-Infinity", "1e999999", "是", "5万元", "", "  ", "１００"]
    ),
    st.lists(st.one_of(st.integers(-5, 200), st.text(max_size=3)), max_size=7),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@share(2)
@given(
    values=st.dictionaries(
        st.sampled_from([*INPUT_NAMES, "unknown", "payment_accuracy"]), ODD, max_size=12
    )
)
def test_random_metrics_give_a_result_or_our_error(values: dict[str, Any]) -> None:
    """Any metrics mapping gives a result or an EvaluationError, never another exception."""
    try:
        result = RULESET.evaluate(values, entity="fuzz")
    except EvaluationError as exc:
        assert exc.problems
        assert all(p.message for p in exc.problems)
    else:
        assert 0 <= result.total <= RULESET.total_points
