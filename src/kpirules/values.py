"""One metric value as people and data systems write it, checked against its declaration.

Used for the metrics in a ruleset's test cases (and for input files): ``95%`` and ``0.95``
are the same percentage, ``95`` where a percentage is expected is an error (it would be
9500%), ``是``/``否`` are yes/no, a list of numbers is several assessors' ratings.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from kpirules._core.yesno import yes_no
from kpirules.characters import ORDINARY_SPACE, refused_character
from kpirules.loader import MAX_DIGITS as MAX_DIGITS  # re-exported: the bound on every number
from kpirules.model import Metric
from kpirules.quantity import (
    QuantityError,
    format_decimal,
    format_percent,
    parse_quantity,
    to_metric_value,
    word_problem,
)
from kpirules.words import english

Value = Decimal | bool | tuple[Decimal, ...]

#: Several ratings in one cell or text: ``88;90;92`` (also ；, | and 、).
RATING_SEPARATORS = (";", "；", "|", "、")

#: The longest text accepted as one value (a number with its unit, or several ratings).
MAX_TEXT = 1000
_INT_LIMIT = 10**MAX_DIGITS
#: The memory a Decimal takes while its digits fit in the object itself: every number
#: within the digit bound does.
SMALL_DECIMAL_SIZE = max(Decimal("9" * (2 * MAX_DIGITS)).__sizeof__(), Decimal(0).__sizeof__())


def read_value(metric: Metric, raw: object) -> Value:
    """Read ``raw`` as a value of ``metric``; raise :class:`QuantityError` saying what is wrong."""
    if isinstance(raw, str):
        if len(raw) > MAX_TEXT:
            raise QuantityError(
                f"指标 “{metric.label}” 的值过长（{len(raw)} 个字符，最多 {MAX_TEXT} 个）"
            )
        hidden = refused_character(raw.strip(ORDINARY_SPACE))
        if hidden is not None:
            raise QuantityError(f"指标 “{metric.label}” 的值{hidden}")
    if metric.unit == "yes_no":
        answer = yes_no(raw)
        if answer is not None:
            return answer
        raise QuantityError(f"是/否指标 “{metric.label}” 的值应写 是 或 否，而不是 “{_show(raw)}”")
    if (
        metric.unit == "rating"
        and isinstance(raw, str)
        and any(sep in raw for sep in RATING_SEPARATORS)
    ):
        for sep in RATING_SEPARATORS[1:]:
            raw = raw.replace(sep, RATING_SEPARATORS[0])
        raw = [part.strip() for part in raw.split(RATING_SEPARATORS[0]) if part.strip()]
    if isinstance(raw, list | tuple):
        if metric.unit != "rating":
            raise QuantityError(f"只有评分指标才能写多个评分，“{metric.label}” 只能有一个值")
        ratings = tuple(_number(metric, item) for item in raw)
        need = metric.ratings.min_raters if metric.ratings else 1
        if len(ratings) < need:
            raise QuantityError(
                f"评分指标 “{metric.label}” 至少要有 {need} 个评分（给了 {len(ratings)} 个）"
            )
        return ratings
    return _number(metric, raw)


def within_digits(value: Decimal) -> bool:
    """Whether a finite number has at most :data:`MAX_DIGITS` digits before and after the
    decimal point: the bound the loader puts on a ruleset's numbers."""
    if value.__sizeof__() > SMALL_DECIMAL_SIZE:
        return False  # more digits than any number within the bound: do not unpack them
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if value.is_zero():
        return -MAX_DIGITS <= exponent <= MAX_DIGITS
    return value.adjusted() < MAX_DIGITS and exponent >= -MAX_DIGITS


def _too_large(metric: Metric) -> QuantityError:
    return QuantityError(
        f"指标 “{metric.label}” 的值超出可用范围（整数部分最多 {MAX_DIGITS} 位，小数最多 {MAX_DIGITS} 位）"
    )


def _number(metric: Metric, raw: object) -> Decimal:
    if isinstance(raw, int) and not isinstance(raw, bool) and not -_INT_LIMIT < raw < _INT_LIMIT:
        raise _too_large(metric)
    if isinstance(raw, Decimal) and raw.is_finite() and not within_digits(raw):
        raise _too_large(metric)
    if type(raw) is Decimal and raw.is_finite():
        # Fast path for numbers handed over by a program: no text to read.
        value = raw
        if metric.unit == "percent" and value > 1:
            raise QuantityError(
                f"指标 “{metric.label}” 是百分比，{value} 会被当作 {format_percent(value)}："
                f"写成 {value}% 或 {format_decimal(value / 100)}"
            )
        if metric.unit == "count" and value != value.to_integral_value():
            raise QuantityError(f"指标 “{metric.label}” 是计数，应为整数（写的是 {value}）")
        return _in_range(metric, value, str(value))
    if raw is None:
        raise QuantityError(f"指标 “{metric.label}” 的值为空")
    try:
        q = parse_quantity(raw)
    except QuantityError as exc:
        raise QuantityError(f"指标 “{metric.label}” 的值{exc}") from None
    if not within_digits(q.number):
        raise _too_large(metric)
    problem = word_problem(q, metric.unit, metric.measure)
    if problem:
        raise QuantityError(f"指标 “{metric.label}” 的值 “{q.text}”：{problem}")
    if metric.unit == "percent" and not q.is_percent and q.number > 1:
        raise QuantityError(
            f"指标 “{metric.label}” 是百分比，{q.text} 会被当作 {format_percent(q.number)}："
            f"写成 {q.text}% 或 {format_decimal(q.number / 100)}"
        )
    value = to_metric_value(q, metric.unit, metric.measure)
    if metric.unit == "count" and value != value.to_integral_value():
        raise QuantityError(f"指标 “{metric.label}” 是计数，应为整数（写的是 {q.text}）")
    return _in_range(metric, value, q.text)


def _in_range(metric: Metric, value: Decimal, text: str) -> Decimal:
    low, high = metric.minimum, metric.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise QuantityError(
            f"指标 “{metric.label}” 的值 {text} 超出取值范围 {_bound(low, metric)} 到 {_bound(high, metric)}"
            + ("" if english() else f"（{range_fix(metric, value)}）")
        )
    return value


def range_fix(metric: Metric, value: Decimal, what: str = "数据") -> str:
    """Which ``min:`` or ``max:`` to declare on which metric so that ``value`` is accepted."""
    below = metric.minimum is not None and value < metric.minimum
    key, example = ("min", "增长率可为负") if below else ("max", "比值可超过 100%")
    # The bound to write, rounded outward to the places a person writes (104.17%, not
    # 104.1666…%), so that the value written is accepted.
    places = Decimal("0.0001") if metric.unit == "percent" else Decimal("0.01")
    if value.is_finite() and value.as_tuple().exponent < places.as_tuple().exponent:  # type: ignore[operator]
        # In a context of its own, wide enough for any value read (never the caller's).
        wide = Context(prec=max(28, value.adjusted() + 8), Emax=MAX_EMAX, Emin=MIN_EMIN)
        value = value.quantize(
            places, rounding=ROUND_FLOOR if below else ROUND_CEILING, context=wide
        )
    shown = _bound(value, metric)
    default = "；百分比不写 min、max 时为 0% 到 100%" if metric.unit == "percent" else ""
    return (
        f"{what}无误时（如{example}），在规则集 metrics 的 {metric.id} 下写 {key}: {shown}"
        f" 或{'更小' if below else '更大'}的数{default}；否则改正{what}"
    )


def _bound(value: Decimal | None, metric: Metric) -> str:
    if value is None:
        return "不限"
    return format_percent(value) if metric.unit == "percent" else format_decimal(value)


def _show(raw: object) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def combine_ratings(metric: Metric, value: Value) -> Decimal | bool:
    """Several assessors' ratings combined as the metric declares; other values as they are."""
    if not isinstance(value, tuple):
        return value
    ratings = sorted(value)
    if metric.ratings is not None and metric.ratings.combine == "trimmed_mean":
        ratings = ratings[1:-1]
    return sum(ratings, Decimal(0)) / Decimal(len(ratings))
