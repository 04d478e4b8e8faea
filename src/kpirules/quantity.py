"""Quantities and targets as policy staff write them: ``≤ 2%``, ``不少于 4 次``, ``≥ 5万元``.

Every number is parsed from its text into :class:`decimal.Decimal`; a percentage is stored
as a fraction (``2%`` is ``Decimal('0.02')``), money and durations in the unit the metric
declares (``5万元`` on a metric kept in 元 is ``Decimal('50000')``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

import attrs

from kpirules._core.yesno import ENGLISH_YES_NO, yes_no

Unit = Literal["percent", "ratio", "count", "money", "duration", "yes_no", "rating"]
UNITS: tuple[Unit, ...] = ("percent", "ratio", "count", "money", "duration", "yes_no", "rating")
Op = Literal["<=", "<", ">=", ">", "="]

UNIT_LABELS: dict[str, str] = {
    "percent": "百分比",
    "ratio": "比值",
    "count": "计数",
    "money": "金额",
    "duration": "时长",
    "yes_no": "是/否",
    "rating": "评分",
}

#: Measure words for money and durations, with their factor to a base measure.
MONEY_WORDS: dict[str, Decimal] = {
    "元": Decimal(1),
    "万元": Decimal(10000),
    "亿元": Decimal(10) ** 8,
}
DURATION_WORDS: dict[str, Decimal] = {
    "秒": Decimal(1),
    "分钟": Decimal(60),
    "小时": Decimal(3600),
    "天": Decimal(86400),
}
#: Working days cannot be converted to calendar time; they only match themselves.
WORKING_DAY_WORDS = ("工作日",)
PERCENT_WORDS: dict[str, Decimal] = {
    "%": Decimal("0.01"),
    "％": Decimal("0.01"),
    "‰": Decimal("0.001"),
}

_OPS: tuple[tuple[str, Op], ...] = (
    ("不少于", ">="),
    ("不低于", ">="),
    ("至少", ">="),
    ("不小于", ">="),
    ("不超过", "<="),
    ("不高于", "<="),
    ("不多于", "<="),
    ("至多", "<="),
    ("不大于", "<="),
    ("低于", "<"),
    ("少于", "<"),
    ("小于", "<"),
    ("高于", ">"),
    ("多于", ">"),
    ("超过", ">"),
    ("大于", ">"),
    ("等于", "="),
    ("<=", "<="),
    ("=<", "<="),
    ("≤", "<="),
    ("≦", "<="),
    ("⩽", "<="),
    (">=", ">="),
    ("=>", ">="),
    ("≥", ">="),
    ("≧", ">="),
    ("⩾", ">="),
    ("==", "="),
    ("=", "="),
    ("＝", "="),
    ("<", "<"),
    ("＜", "<"),
    (">", ">"),
    ("＞", ">"),
)
_QUANTITY = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(\S*?)\s*")
_LEADING_ZERO = re.compile(r"[-+]?0\d")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)")

OP_TEXT: dict[str, str] = {"<=": "≤", "<": "<", ">=": "≥", ">": ">", "=": "="}


class QuantityError(ValueError):
    """A quantity or target could not be read; the message says what to write instead."""


class LeadingZeroError(QuantityError):
    """A number written with a leading zero (``060``), which is never read as a number."""


@attrs.frozen
class Quantity:
    """A number as written, with its measure word (``%``, ``万元``, ``次`` or empty)."""

    number: Decimal
    word: str
    text: str

    @property
    def is_percent(self) -> bool:
        """True when written with ``%`` or ``‰``."""
        return self.word in PERCENT_WORDS


@attrs.frozen
class Target:
    """A comparison such as ``≤ 2%``: the operator and the quantity as written."""

    op: Op
    quantity: Quantity | None
    flag: bool | None
    text: str


def parse_quantity(value: object) -> Quantity:
    """Read ``2%``, ``5万元``, ``24 小时`` or a plain number into a :class:`Quantity`."""
    if isinstance(value, bool):
        raise QuantityError("这里要写数值，不能写 true/false")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise QuantityError(f"“{value}” 不是一个有限的数值")
        return Quantity(value, "", format_decimal(value))
    if isinstance(value, int):
        return Quantity(Decimal(value), "", str(value))
    if not isinstance(value, str):
        raise QuantityError("这里要写数值，如 95%、4、5万元")
    if _THOUSANDS.match(value.strip()):
        value = value.replace(",", "")  # 10,000 as Excel writes it
    m = _QUANTITY.fullmatch(value)
    if m is None:
        raise QuantityError(f"无法读出数值 “{value}”：应写成数字加可选单位，如 95%、4次、5万元")
    if _LEADING_ZERO.match(m.group(1)):
        plain = format_decimal(Decimal(m.group(1)))
        raise LeadingZeroError(
            f"“{value.strip()}” 以 0 开头，不按数值读取：写成 {plain}{m.group(2)}"
        )
    word = m.group(2)
    if word.startswith("个") and len(word) > 1:
        word = word[1:]  # 3个工作日, 24个小时, 1个百分点: the classifier adds nothing
    return Quantity(Decimal(m.group(1)), word, value.strip())


def parse_target(value: object) -> Target:
    """Read a target such as ``≤ 2%``, ``>= 95%``, ``不少于 4 次``, ``= 100%`` or ``是``."""
    if isinstance(value, bool):
        return Target("=", None, value, "是" if value else "否")
    if value is None:
        raise QuantityError("目标为空：写比较符号和数值，如 “≤ 2%”、“≥ 95%”，或删除 target")
    if not isinstance(value, str):
        if not isinstance(value, Decimal | int):
            raise QuantityError("目标要写成文字，如 “≤ 2%”、“≥ 95%”")
        shown = format_decimal(value) if isinstance(value, Decimal) else str(value)
        raise QuantityError(
            f"目标 “{shown}” 缺少比较符号：只写数值时无法知道是下限还是上限"
            f"（写成 “≥ {shown}” 或 “≤ {shown}”）"
        )
    text = value.strip()
    answer = yes_no(text)
    if answer is not None:
        return Target("=", None, answer, text)
    if text in ENGLISH_YES_NO:
        raise QuantityError(f"“{text}” 不会被当作是/否：是/否目标请写 是 或 否")
    try:
        bare = parse_quantity(text)
    except QuantityError:
        bare = None
    if bare is not None:
        raise QuantityError(
            f"目标 “{text}” 缺少比较符号：只写数值时无法知道是下限还是上限"
            f"（写成 “≥ {text}” 或 “≤ {text}”）"
        )
    for word, op in _OPS:
        if text.startswith(word):
            rest = text[len(word) :]
            try:
                quantity = parse_quantity(rest)
            except LeadingZeroError as exc:
                raise QuantityError(f"目标中的数值{exc}") from None
            except QuantityError:
                break
            return Target(op, quantity, None, text)
    raise QuantityError(
        f"无法读出目标 “{text}”：应写成比较符号加数值，如 “≤ 2%”、“≥ 95%”、“不少于 4 次”、“= 100%”"
    )


def word_problem(quantity: Quantity, unit: str, measure: str | None) -> str | None:
    """Why ``quantity`` cannot apply to a metric of ``unit`` kept in ``measure``, or None."""
    word = quantity.word
    label = UNIT_LABELS.get(unit, unit)
    if unit in ("percent", "ratio"):
        if word and word not in PERCENT_WORDS:
            return f"百分比/比值指标不能用单位 “{word}”"
        return None
    if word in PERCENT_WORDS:
        return f"{label}指标不能用百分数 “{quantity.text}”：写成不带 % 的数值"
    if unit == "money":
        if word and word not in MONEY_WORDS:
            return f"金额的单位 “{word}” 无法识别：可用 元、万元、亿元"
        return None
    if unit == "duration":
        if not word:
            return None
        base = measure or ""
        if word in WORKING_DAY_WORDS or base in WORKING_DAY_WORDS:
            if (word in WORKING_DAY_WORDS) != (base in WORKING_DAY_WORDS):
                return (
                    f"时长单位 “{word}” 与指标的单位 “{base}” 无法换算（工作日不能换算为自然时间）"
                )
            return None
        if word not in DURATION_WORDS:
            return f"时长单位 “{word}” 无法识别：可用 秒、分钟、小时、天、工作日"
        return None
    if unit == "count":
        if word and measure and word not in (measure, "个"):
            return f"计数单位 “{word}” 与指标的单位 “{measure}” 不一致"
        if word and any(ch.isdigit() for ch in word):
            return f"无法识别的单位 “{word}”"
        return None
    if unit == "rating":
        if word and word != "分":
            return f"评分不能带单位 “{word}”"
        return None
    return f"{label}指标不能写数值目标"


def to_metric_value(quantity: Quantity, unit: str, measure: str | None) -> Decimal:
    """The quantity in the metric's own terms (fractions for percentages, converted money)."""
    word = quantity.word
    if word in PERCENT_WORDS:
        return quantity.number * PERCENT_WORDS[word]
    if unit == "money" and word in MONEY_WORDS:
        return quantity.number * MONEY_WORDS[word] / MONEY_WORDS.get(measure or "元", Decimal(1))
    if unit == "duration" and word in DURATION_WORDS and (measure or "") in DURATION_WORDS:
        return quantity.number * DURATION_WORDS[word] / DURATION_WORDS[measure or ""]
    return quantity.number


def format_decimal(value: Decimal) -> str:
    """Plain decimal text without exponent and without trailing zeros (``30``, ``0.5``).

    Works on the digits alone, so no decimal context can round or reject a long number.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_percent(fraction: Decimal) -> str:
    """A fraction as percent text: ``Decimal('0.45')`` → ``45%``."""
    return format_decimal(fraction * 100) + "%"
