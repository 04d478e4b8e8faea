"""Targets and quantities as policy staff write them, parsed exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpirules.quantity import (
    QuantityError,
    format_decimal,
    format_percent,
    parse_quantity,
    parse_target,
    to_metric_value,
    word_problem,
)


@pytest.mark.parametrize(
    ("text", "op", "number", "word"),
    [
        ("≤ 2%", "<=", "2", "%"),
        ("<= 2%", "<=", "2", "%"),
        (">= 95%", ">=", "95", "%"),
        ("≥95%", ">=", "95", "%"),
        ("≥ 4", ">=", "4", ""),
        ("= 100%", "=", "100", "%"),
        ("== 0", "=", "0", ""),
        ("< 3", "<", "3", ""),
        ("＞ 3", ">", "3", ""),
        ("不少于 4 次", ">=", "4", "次"),
        ("不少于4次", ">=", "4", "次"),
        ("不超过 24 小时", "<=", "24", "小时"),
        ("≥ 5万元", ">=", "5", "万元"),
        ("≤ 3个工作日", "<=", "3", "工作日"),
        ("≤ 24个小时", "<=", "24", "小时"),
        ("≤ 0.5", "<=", "0.5", ""),
        ("≥ 12.50%", ">=", "12.50", "%"),
    ],
)
def test_parse_target(text: str, op: str, number: str, word: str) -> None:
    """Comparison words and symbols, numbers and measure words are read exactly."""
    target = parse_target(text)
    assert target.op == op
    assert target.quantity is not None
    assert target.quantity.number == Decimal(number)
    assert str(target.quantity.number) == number
    assert target.quantity.word == word


@pytest.mark.parametrize(
    ("text", "flag"), [("是", True), ("否", False), (True, True), (False, False)]
)
def test_yes_no_targets(text: object, flag: bool) -> None:
    """Yes/no targets are 是/否 or true/false."""
    target = parse_target(text)
    assert target.flag is flag
    assert target.quantity is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2%", "目标 “2%” 缺少比较符号：只写数值时无法知道是下限还是上限（写成 “≥ 2%” 或 “≤ 2%”）"),
        ("95", "目标 “95” 缺少比较符号：只写数值时无法知道是下限还是上限（写成 “≥ 95” 或 “≤ 95”）"),
        (
            Decimal(4),
            "目标 “4” 缺少比较符号：只写数值时无法知道是下限还是上限（写成 “≥ 4” 或 “≤ 4”）",
        ),
        (
            "about 4",
            "无法读出目标 “about 4”：应写成比较符号加数值，如 “≤ 2%”、“≥ 95%”、“不少于 4 次”、“= 100%”",
        ),
        (
            "≥",
            "无法读出目标 “≥”：应写成比较符号加数值，如 “≤ 2%”、“≥ 95%”、“不少于 4 次”、“= 100%”",
        ),
        (
            "≥ lots",
            "无法读出目标 “≥ lots”：应写成比较符号加数值，如 “≤ 2%”、“≥ 95%”、“不少于 4 次”、“= 100%”",
        ),
        ("yes", "“yes” 不会被当作是/否：是/否目标请写 是 或 否"),
        ("off", "“off” 不会被当作是/否：是/否目标请写 是 或 否"),
        ("≥ 095%", "目标中的数值“095%” 以 0 开头，不按数值读取：写成 95%"),
    ],
)
def test_bad_targets(text: object, message: str) -> None:
    """A target without a comparison, a number or a proper yes/no says what to write instead."""
    with pytest.raises(QuantityError) as info:
        parse_target(text)
    assert str(info.value) == message


def test_leading_zero_is_not_a_number() -> None:
    """060 is not read as 60 (nor as octal 48): it is refused with the fix."""
    with pytest.raises(QuantityError) as info:
        parse_quantity("060")
    assert str(info.value) == "“060” 以 0 开头，不按数值读取：写成 60"
    assert parse_quantity("0.5").number == Decimal("0.5")


@pytest.mark.parametrize(
    ("text", "unit", "measure", "expected"),
    [
        ("2%", "percent", None, "0.02"),
        ("95%", "percent", None, "0.95"),
        ("0.5‰", "percent", None, "0.0005"),
        ("5万元", "money", "元", "50000"),
        ("50000元", "money", "万元", "5"),
        ("30分钟", "duration", "小时", "0.5"),
        ("2小时", "duration", "分钟", "120"),
        ("3个工作日", "duration", "工作日", "3"),
        ("4次", "count", "次", "4"),
    ],
)
def test_to_metric_value(text: str, unit: str, measure: str | None, expected: str) -> None:
    """Quantities convert exactly into the metric's own terms."""
    q = parse_quantity(text)
    assert word_problem(q, unit, measure) is None
    assert to_metric_value(q, unit, measure) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "unit", "measure", "message"),
    [
        ("4%", "count", None, "计数指标不能用百分数 “4%”：写成不带 % 的数值"),
        ("5美元", "money", "元", "金额的单位 “美元” 无法识别：可用 元、万元、亿元"),
        (
            "3天",
            "duration",
            "工作日",
            "时长单位 “天” 与指标的单位 “工作日” 无法换算（工作日不能换算为自然时间）",
        ),
        ("4场", "count", "次", "计数单位 “场” 与指标的单位 “次” 不一致"),
        ("5元", "percent", None, "百分比/比值指标不能用单位 “元”"),
    ],
)
def test_unit_mismatches(text: str, unit: str, measure: str | None, message: str) -> None:
    """A quantity whose measure word does not fit the metric is explained."""
    assert word_problem(parse_quantity(text), unit, measure) == message


def test_formatting() -> None:
    """Decimals print without exponent or trailing zeros; fractions as percent."""
    assert format_decimal(Decimal("30.0")) == "30"
    assert format_decimal(Decimal("1E+2")) == "100"
    assert format_decimal(Decimal("0.50")) == "0.5"
    assert format_percent(Decimal("0.45")) == "45%"
    assert format_percent(Decimal("0.025")) == "2.5%"
