"""Formulas: parsed once, checked against an allow-list; every escape in pitfalls.md refused."""

from __future__ import annotations

import pytest

from kpirules.formula import MAX_LENGTH, FormulaError, parse_formula


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("差错件数 / 审核件数", {"差错件数", "审核件数"}),
        ("audit_errors / audits", {"audit_errors", "audits"}),
        ("max(0, 10 - (rate - 2%) * 100)", {"rate"}),
        ("total >= 90 and fund_loss <= 5万元", {"total", "fund_loss"}),
        ("a if b > 1 else c", {"a", "b", "c"}),
        ("clamp(x, 0, 10)", {"x"}),
        ("round_half_up(x / 3, 2)", {"x"}),
        ("x ** 2", {"x"}),
        ("（a ＋ b）× 2 ÷ c", {"a", "b", "c"}),
        ("a ≥ 1 and b ≤ 2 and c ≠ 3", {"a", "b", "c"}),
        ("not done", {"done"}),
        ("-x", {"x"}),
        ("42", set()),
    ],
)
def test_allowed_formulas(text: str, names: set[str]) -> None:
    """Arithmetic, comparisons, logic, conditionals and the listed functions are accepted."""
    try:
        formula = parse_formula(text)
    except FormulaError:
        formula = parse_formula(text, condition=True)
    assert formula.names == frozenset(names)
    assert formula.text == text


def test_percent_literal_normalised() -> None:
    """2% becomes an exact division by 100, not a float."""
    assert parse_formula("rate - 2%").source == "rate - (2/100)"
    assert parse_formula("x > 12.5%", condition=True).source == "x > (12.5/100)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate.real", "公式不能使用属性访问（“.”后跟名字）"),
        ("x.__class__.__mro__", "公式不能使用属性访问（“.”后跟名字）"),
        ("x[0]", "公式不能使用下标（[ ]）"),
        ("'abc'", "公式中不能使用文字（字符串）；按等级判断请在结果规则中写 grades: [...]"),
        (
            "grade == '优秀'",
            "公式中不能使用文字（字符串）；按等级判断请在结果规则中写 grades: [...]",
        ),
        ("lambda: 1", "公式不能使用 lambda"),
        ("[x for x in y]", "公式不能使用推导式"),
        ("(y := 5)", "公式不能赋值"),
        ("[1, 2]", "公式不能使用列表"),
        ("{1: 2}", "公式不能使用字典"),
        ("f'{x}'", "公式不能使用文字"),
        (
            "__import__('os')",
            "不认识的函数 __import__()：可用的函数有 min、max、abs、clamp、round_half_up",
        ),
        ("rand()", "不认识的函数 rand()：可用的函数有 min、max、abs、clamp、round_half_up"),
        ("float(x)", "不认识的函数 float()：可用的函数有 min、max、abs、clamp、round_half_up"),
        ("int(x)", "不认识的函数 int()"),
        ("(lambda: 1)()", "只能调用内置函数：min、max、abs、clamp、round_half_up"),
        ("min(x)", "函数 min() 需要 至少 2 个参数（写了 1 个）"),
        ("abs(x, y)", "函数 abs() 需要 1 个参数（写了 2 个）"),
        ("max(a=1, b=2)", "函数 max() 不接受 名字=值 形式的参数"),
        ("4000000 ** 4000000", "乘方 ** 的指数只能是 0 到 4 的整数常数"),
        ("10 ** x", "乘方 ** 的指数只能是 0 到 4 的整数常数"),
        ("2 ** 0.5", "乘方 ** 的指数只能是 0 到 4 的整数常数"),
        ("x = 5", "公式语法错误第 3 个字符附近：不能赋值；比较是否相等请写 ==（如 a == 1）"),
        ("1; 2", "公式只能是一个表达式：不能包含分号或多条语句"),
        ("(a + b", "公式语法错误"),
        ("x % 3", "不允许的写法（Mod）"),
        ("x // 3", "不允许的写法（FloorDiv）"),
        ("x << 3", "不允许的写法（LShift）"),
        ("1j", "公式中不能使用 1j"),
        ("None", "公式中不能使用 None"),
        ("...", "公式中不能使用 Ellipsis"),
        ("", "公式为空"),
    ],
)
def test_refused_formulas(text: str, message: str) -> None:
    """Each way out of arithmetic is refused with our own message, never a Python error."""
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(a < b) / 2", "算术运算中不能使用条件（比较、and/or、not）的结果：请用 a if 条件 else b"),
        ("min(a > 1, 2)", "函数的参数中不能使用条件"),
        ("a > 1", "公式的结果应是数值，而这里是一个条件（比较或 and/or）"),
        ("a if a > 1 else b > 2", "条件表达式 a if 条件 else b 的两个结果应同为数值或同为条件"),
    ],
)
def test_conditions_are_not_numbers(text: str, message: str) -> None:
    """Arithmetic on a comparison (True / True is a binary float) is refused; so is a condition where a number is due."""
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert message in str(info.value)
    assert parse_formula("10 if a > 1 else 0").names == {"a"}


def test_conditions_must_be_conditions() -> None:
    """A `when:` that is arithmetic is refused; a comparison or a bare (yes/no) name is a condition."""
    with pytest.raises(FormulaError, match="条件应是比较或判断"):
        parse_formula("r + 1", condition=True)
    assert parse_formula("done", condition=True).names == {"done"}
    assert parse_formula("not done and x > 1", condition=True).names == {"done", "x"}


@pytest.mark.parametrize("literal", ["0x1F", "0o7", "0b1", "1_000", "1e999"])
def test_only_decimal_literals(literal: str) -> None:
    """Hex, octal, binary, underscored and huge-exponent literals are refused."""
    with pytest.raises(FormulaError, match="只能写十进制数"):
        parse_formula(f"x + {literal}")


def test_deep_unary_minus_refused() -> None:
    """'-' * 600 + '1' (RecursionError in simpleeval) is our own error."""
    with pytest.raises(FormulaError):
        parse_formula("-" * 600 + "1")


def test_length_cap() -> None:
    """Formulas longer than the cap are refused before parsing."""
    with pytest.raises(FormulaError, match=f"上限 {MAX_LENGTH}"):
        parse_formula("x + " * 300 + "x")


def test_node_cap() -> None:
    """Formulas with too many syntax nodes are refused."""
    with pytest.raises(FormulaError, match="公式过于复杂"):
        parse_formula("+".join(["a"] * 200))


def test_bool_is_not_a_formula() -> None:
    """`when: true` is refused: a condition must be written out."""
    with pytest.raises(FormulaError, match="true/false"):
        parse_formula(True)


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("重大差错 == 是", "(重大差错)"),
        ("重大差错 == 否", "(not 重大差错)"),
        ("重大差错 != 有", "(not 重大差错)"),
        ("无 == 重大差错", "(not 重大差错)"),
        ("total >= 90 and 重大差错 == 否", "total >= 90 and (not 重大差错)"),
        ("(a == 是) or b == 无", "((a)) or (not b)"),
    ],
)
def test_yes_no_words_in_conditions(text: str, source: str) -> None:
    """是/有 and 否/无 compared with a name read as the name itself or its negation."""
    formula = parse_formula(text, condition=True)
    assert formula.source == source
    assert formula.yes_no_names == formula.names - {"total"}


def test_yes_no_words_stay_names_elsewhere() -> None:
    """Inside arithmetic, against another name, or in a number formula 是 stays a name."""
    assert parse_formula("x + a == 是", condition=True).names == {"x", "a", "是"}
    assert parse_formula("重大差错 == 严重", condition=True).yes_no_names == frozenset()
    assert parse_formula("是 + 1").source == "是 + 1"
