"""What every scoring method shares: the plan of an indicator, reasons, cohorts, formats.

A method works on a :class:`Plan`, everything about one indicator that can be prepared
when the ruleset is compiled (its points, target, parameters and the fixed parts of its
sentence), so that scoring an entity does only the arithmetic that depends on its values.

A reason is a :class:`Reason`: a sentence template and the numbers that fill it. It is
rendered to text when read (``ItemResult.explanation``), which keeps scoring fast and the
numbers exact; rendering is deterministic.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal
from typing import NamedTuple

import attrs

from kpirules.compiler import CompiledFormula
from kpirules.model import Indicator, Metric
from kpirules.quantity import format_decimal
from kpirules.result import Status

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
#: Display rounding: half-even like the scoring context, with room for any input's digits.
#: Sentences are rendered with this context passed explicitly to each operation, so they
#: neither read nor change the current context (whoever calls ``render``).
_DISPLAY = Context(
    prec=MAX_PREC, rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX, Emin=MIN_EMIN, capitals=1, clamp=0
)


class Pts(NamedTuple):
    """Points, shown at the ruleset's places with its rounding mode: ``7.60分``.

    Shown with 约 when the display drops digits the exact score has (``约27.83分``).
    """

    value: Decimal
    quantum: Decimal
    mode: str


class Pct(NamedTuple):
    """A proportion shown as a percentage with two places: ``92.00%``."""

    value: Decimal


class Num(NamedTuple):
    """A number with its measure word; more than two places are shown rounded, marked 约."""

    value: Decimal
    word: str


class Reason(NamedTuple):
    """A sentence template and what fills it; ``render()`` gives the text.

    ``formats``, when given, holds one formatter per argument (None: the default), so that
    a prepared sentence can carry bare numbers instead of wrapped ones.
    """

    template: str
    args: tuple[object, ...]
    formats: tuple[Callable[[object], str] | None, ...] = ()

    def render(self) -> str:
        """The sentence, with every number formatted for reading."""
        if self.formats:
            return self.template.format(
                *[(f or text_of)(a) for f, a in zip(self.formats, self.args, strict=True)]
            )
        return self.template.format(*[text_of(a) for a in self.args])


@attrs.frozen
class PointsFormat:
    """Formats bare points like :class:`Pts`."""

    quantum: Decimal
    mode: str

    def __call__(self, value: object) -> str:
        assert isinstance(value, Decimal)
        return text_of(Pts(value, self.quantum, self.mode))


@attrs.frozen
class ValueFormat:
    """Formats a bare metric value like :func:`value_arg`; other objects as themselves."""

    unit: str
    word: str

    def __call__(self, value: object) -> str:
        if isinstance(value, bool):
            return "是" if value else "否"
        if not isinstance(value, Decimal):
            return text_of(value)
        if self.unit == "percent":
            return text_of(Pct(value))
        return text_of(Num(value, self.word))


def rounded(value: Decimal, quantum: Decimal, mode: str = ROUND_HALF_EVEN) -> Decimal:
    """``value`` rounded for display with ``mode``, in its own context: whatever the
    caller's decimal context and whatever the number's size."""
    return value.quantize(quantum, rounding=mode, context=_DISPLAY)


def text_of(arg: object) -> str:
    if isinstance(arg, Pts):
        shown = rounded(arg.value, arg.quantum, arg.mode)
        return ("" if shown == arg.value else "约") + format(shown, "f") + "分"
    if isinstance(arg, Pct):
        return format(rounded(_DISPLAY.multiply(arg.value, HUNDRED), _CENT), "f") + "%"
    if isinstance(arg, Num):
        shown = rounded(arg.value, _CENT)
        if shown != arg.value:
            return "约" + format_decimal(shown) + arg.word
        return format_decimal(arg.value) + arg.word
    if isinstance(arg, Reason):
        return arg.render()
    if isinstance(arg, Decimal):
        return _DISPLAY.to_sci_string(arg)
    return str(arg)


def value_arg(metric: Metric, value: Decimal | bool | None) -> object:
    """How a metric value is shown: ``3.00%``, ``5万元``, ``24小时``, ``是``."""
    if value is None:
        return "（缺失）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if metric.unit == "percent":
        return Pct(value)
    word = metric.measure or ("分" if metric.unit == "rating" else "")
    if metric.unit == "money" and not metric.measure:
        word = "元"
    return Num(value, word)


def ratings_text(metric: Metric, ratings: tuple[Decimal, ...]) -> str:
    """How several assessors' ratings were combined, in words."""
    listed = "、".join(format_decimal(r) for r in ratings)
    if metric.ratings is not None and metric.ratings.combine == "trimmed_mean":
        return f"{len(ratings)} 位评分 {listed}，去掉一个最高分和一个最低分后平均"
    return f"{len(ratings)} 位评分 {listed}，平均"


class Cohort:
    """Values of one indicator across the entities scored together (kept sorted)."""

    __slots__ = ("size", "values")

    def __init__(self, values: tuple[Decimal, ...]) -> None:
        self.values = tuple(sorted(values))
        self.size = len(self.values)

    def best(self, higher: bool) -> Decimal:
        """The best value: highest when higher is better, else lowest."""
        return self.values[-1] if higher else self.values[0]

    def rank(self, value: Decimal, higher: bool) -> int:
        """Competition rank (1224): one plus the number of strictly better values."""
        if higher:
            return 1 + self.size - bisect.bisect_right(self.values, value)
        return 1 + bisect.bisect_left(self.values, value)

    def share_worse(self, value: Decimal, higher: bool) -> Decimal:
        """Share of the other entities that are strictly worse (0..1)."""
        if self.size <= 1:
            return ONE
        if higher:
            worse = bisect.bisect_left(self.values, value)
        else:
            worse = self.size - bisect.bisect_right(self.values, value)
        return Decimal(worse) / Decimal(self.size - 1)


def met(op: str, value: Decimal | bool, target: Decimal | bool) -> bool:
    """Whether ``value`` satisfies ``op target``."""
    if isinstance(value, bool) or isinstance(target, bool):
        return value == target
    if op == "<=":
        return value <= target
    if op == "<":
        return value < target
    if op == ">=":
        return value >= target
    if op == ">":
        return value > target
    return value == target


class Plan:
    """One indicator prepared for scoring: parameters and fixed sentence parts."""

    __slots__ = (
        "add",
        "below",
        "category",
        "deduct",
        "deduct_note",
        "deduct_text",
        "direction",
        "f_item",
        "f_prop",
        "f_vp",
        "f_vpp",
        "fast",
        "floor",
        "formula",
        "fp",
        "fv",
        "higher",
        "id",
        "ind",
        "inputs",
        "label",
        "line",
        "method",
        "metric",
        "metric_id",
        "mode",
        "partial",
        "per",
        "per_text",
        "points",
        "prefixed",
        "quantum",
        "score",
        "status",
        "t_deduct",
        "t_each",
        "t_fail",
        "t_item",
        "t_met",
        "t_pass",
        "t_prop",
        "t_scale",
        "t_zero",
        "target",
        "target_or_none",
        "target_text",
    )

    def __init__(
        self,
        ind: Indicator,
        metric: Metric,
        category: str,
        inputs: tuple[str, ...],
        quantum: Decimal,
        mode: str,
        formula: CompiledFormula | None,
        method: Method,
    ) -> None:
        self.ind = ind
        self.metric = metric
        self.category = category
        self.inputs = inputs
        self.quantum = quantum
        self.formula = formula
        self.points = ind.points
        self.target = ind.target_value
        self.target_text = ind.target.text if ind.target else ""
        self.direction = ind.direction
        self.higher = ind.direction != "lower_better"
        self.mode = mode
        s = ind.scoring
        self.per = s.per
        self.deduct = s.deduct
        self.add = s.add
        self.floor = s.floor or ZERO
        self.below = s.below
        self.partial = s.partial
        self.per_text = ""
        if s.per is not None:
            self.per_text = (
                format_decimal(s.per * HUNDRED) + "个百分点"
                if metric.unit == "percent"
                else format_decimal(s.per) + (metric.measure or "")
            )
        self.deduct_text = format_decimal(s.deduct) if s.deduct is not None else ""
        self.deduct_note = {
            "round_up": "，不足1个单位按1个计",
            "round_down": "，不足1个单位不扣",
        }.get(s.partial or "", "")
        self.score: Callable[..., Scored] = method.score
        self.id, self.label, self.line, self.method = ind.id, ind.label, ind.line, s.method
        self.metric_id = ind.metric
        self.target_or_none = ind.target.text if ind.target else None
        self.fast = method.simple and inputs == (ind.metric,)
        self.prefixed = method.prefixed
        probe = value_arg(metric, ONE)
        self.fv = ValueFormat(metric.unit, probe.word if isinstance(probe, Num) else "")
        self.fp = PointsFormat(quantum, mode)
        label = escape(ind.label)
        target = escape(self.target_text)
        self.t_item = label + " {0}，{1}"
        self.f_item: tuple[Callable[[object], str] | None, ...] = (self.fv, None)
        self.t_met = f"{label} {{0}}，达到目标 {target}，不扣分，得 {{1}}"
        self.t_pass = f"{label} {{0}}，达到目标 {target}，得满分 {{1}}"
        self.t_fail = f"{label} {{0}}，未达到目标 {target}，得 {{1}}"
        self.f_vp: tuple[Callable[[object], str] | None, ...] = (self.fv, self.fp)
        relation, word = {"lower_better": ("高于", "超"), "equal": ("偏离", "偏离")}.get(
            ind.direction, ("低于", "低")
        )
        self.t_deduct = (
            f"{label} {{0}}，{relation}目标 {target}，每{word}{escape(self.per_text)}"
            f"扣{self.deduct_text}分{self.deduct_note}，扣 {{1}}，得 {{2}}"
        )
        self.f_vpp: tuple[Callable[[object], str] | None, ...] = (self.fv, self.fp, self.fp)
        how = "实际/目标" if self.higher else "目标/实际"
        self.t_prop = (
            f"{label} {{0}}，目标 {target}，按 {how} 计分：{{1}} ÷ {{2}} × "
            f"{format_decimal(ind.points)}，得 {{3}}{{4}}"
        )
        self.f_prop: tuple[Callable[[object], str] | None, ...] = (
            self.fv,
            self.fv,
            self.fv,
            self.fp,
            None,
        )
        self.t_zero = f"{label} {{0}}，目标 {target}，实际为 0，得满分 {{1}}"
        self.t_each = f"{label} {{0}}，每次扣{self.deduct_text}分，扣 {{1}}，得 {{2}}"
        lo, hi = metric.minimum, metric.maximum
        self.t_scale = (
            f"{label} {{0}}，按 {format_decimal(lo or ZERO)}–{format_decimal(hi or ZERO)} 分制"
            f"折算为 {format_decimal(ind.points)} 分，得 {{1}}"
        )
        self.status: Callable[[Decimal], Status] = _status_of(ind)


Scored = tuple[Decimal, Reason]


@attrs.frozen
class Method:
    """One scoring method as the rest of kpirules sees it.

    ``params`` are the keys its ``scoring:`` mapping may hold besides ``method``; ``words``
    names it in Chinese (in ``kpirules diff``). ``score`` is called as ``score(plan, value)``
    when ``simple``; with the shown value as well when ``prefixed`` (its reason already
    names the indicator and value); with the cohort when ``cohort``.
    """

    id: str
    words: str
    params: frozenset[str]
    score: Callable[..., Scored]
    prefixed: bool = False
    simple: bool = False
    cohort: bool = False
    #: Whether the method needs direction higher_better or lower_better (not equal).
    no_equal: bool = False


def _status_of(ind: Indicator) -> Callable[[Decimal], Status]:
    """met / not_met for a value, with the comparison chosen once."""
    target = ind.target_value
    if ind.target is None or not isinstance(target, Decimal):
        return lambda v: "no_target"
    op = ind.target.op
    if op == "<=":
        return lambda v: "met" if v <= target else "not_met"
    if op == "<":
        return lambda v: "met" if v < target else "not_met"
    if op == ">=":
        return lambda v: "met" if v >= target else "not_met"
    if op == ">":
        return lambda v: "met" if v > target else "not_met"
    return lambda v: "met" if v == target else "not_met"


def escape(text: str) -> str:
    """Text for a str.format template: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def cap_points(score: Decimal, points: Decimal) -> Decimal:
    """``score`` kept within 0..``points``."""
    return ZERO if score < ZERO else points if score > points else score
