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
from collections.abc import Callable, Mapping
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._params import Check, Schema, Where
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
    """One indicator prepared for scoring: its parameters and the fixed parts of its sentence.

    ``params`` are the method's own parameters; ``prep`` is what its module prepared from
    them once (templates, texts), read back by its ``score``.
    """

    __slots__ = (
        "category",
        "direction",
        "f_item",
        "f_vp",
        "f_vpp",
        "fast",
        "flags",
        "fp",
        "fv",
        "higher",
        "id",
        "ind",
        "inputs",
        "label",
        "line",
        "met_by_score",
        "method",
        "metric",
        "metric_id",
        "mode",
        "params",
        "points",
        "prefixed",
        "prep",
        "quantum",
        "score",
        "scored",
        "status",
        "t_item",
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
        method: Method,
    ) -> None:
        self.ind = ind
        self.metric = metric
        self.category = category
        self.inputs = inputs
        self.quantum = quantum
        self.points = ind.points
        self.target = ind.target_value
        self.target_text = ind.target.text if ind.target else ""
        self.direction = ind.direction
        self.higher = ind.direction != "lower_better"
        self.mode = mode
        self.params: Any = ind.scoring.params
        self.score: Callable[[Plan, Any, Given], Scored] = method.score
        self.id, self.label, self.line, self.method = ind.id, ind.label, ind.line, method.id
        self.metric_id = ind.metric
        self.target_or_none = ind.target.text if ind.target else None
        self.fast = method.simple and inputs == (ind.metric,)
        self.prefixed = method.prefixed
        self.scored = method.scored
        self.flags = method.flags
        self.met_by_score = method.met_by_score
        probe = value_arg(metric, ONE)
        self.fv = ValueFormat(metric.unit, probe.word if isinstance(probe, Num) else "")
        self.fp = PointsFormat(quantum, mode)
        self.t_item = escape(ind.label) + " {0}，{1}"
        self.f_item: tuple[Callable[[object], str] | None, ...] = (self.fv, None)
        self.f_vp: tuple[Callable[[object], str] | None, ...] = (self.fv, self.fp)
        self.f_vpp: tuple[Callable[[object], str] | None, ...] = (self.fv, self.fp, self.fp)
        self.status: Callable[[Decimal], Status] = _status_of(ind)
        self.prep: Any = method.prepare(self)


class Given(NamedTuple):
    """What scoring one value may need besides the plan and the value itself.

    ``shown`` is how the value reads (its ratings, its unit), None to show the value
    itself; ``known`` every metric value of the entity; ``cohort`` the values of the
    indicator across the batch (cohort methods only); ``metrics`` the ruleset's metrics.
    """

    shown: object = None
    known: Mapping[str, Decimal | bool | None] = MappingProxyType({})
    cohort: Cohort | None = None
    metrics: Mapping[str, Metric] = MappingProxyType({})

    def first(self, v: object) -> object:
        """What a prefixed sentence starts with: the shown value, else the value."""
        return v if self.shown is None else self.shown


#: Nothing given: the value alone (the evaluator's fast path).
BARE = Given()


class MissingInputError(FormulaEvaluationError):
    """A metric the method needs (a baseline) has no value: reported on that metric."""

    def __init__(self, field: str, message: str, *, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


def baseline_of(base_id: str, given: Given) -> Decimal:
    """The baseline's value; :class:`MissingInputError` (KR616) when it has none."""
    base = given.known.get(base_id)
    if not isinstance(base, Decimal):
        metric = given.metrics.get(base_id)
        raise MissingInputError(
            base_id,
            f"缺少基期指标 “{metric.label if metric else base_id}” 的数据",
            code="KR616",
        )
    return base


class NoCohortError(FormulaEvaluationError):
    """A cohort method was called without the values of the batch."""

    def __init__(self) -> None:
        super().__init__("这个计分方法要与同组其他单位一起计分（批量计分）")


class ReadsOwnMetric:
    """Parameters of a method that reads no metric besides the indicator's own."""

    __slots__ = ()

    def reads(self) -> tuple[str, ...]:
        """Metrics read besides the indicator's own: none."""
        return ()


def _nothing(plan: Plan) -> object:
    return None


def _no_words(params: object, unit: str) -> list[str]:
    return []


Scored = tuple[Decimal, Reason]


@attrs.frozen
class Method:
    """One scoring method as the rest of kpirules sees it: everything about it in one record.

    ``check(raw, where)`` reads its ``scoring:`` mapping (yielding problems, returning its
    frozen parameters); ``schema`` gives the JSON Schema of each parameter it takes and
    ``required`` those it must have; ``prepare(plan)`` prepares sentence parts once;
    ``score(plan, value, given)`` scores one value; ``describe(params, unit)`` lists its
    parameters in words for ``kpirules diff``; ``words`` names it in Chinese.

    The flags say how the rest of kpirules treats it: its reasons already name the
    indicator and value (``prefixed``); it needs only the value (``simple``, the fast
    path) or the batch (``cohort``); it needs direction higher_better or lower_better
    (``no_equal``), a target (``needs_target``) or a direction (``needs_direction``); its
    default ``direction``; whether it scores at all (``scored``), counts in its parent's
    weights (``counts``), may score yes/no metrics (``yes_no``) and is given yes/no values
    (``flags``); its target is a change (``change_target``); an item is met when it gets
    full points (``met_by_score``); its points are one of its parameters (``own_points``).
    """

    id: str
    #: Where the method stands in every listing (the documentation's order).
    order: int
    words: str
    score: Callable[[Plan, Any, Given], Scored]
    check: Callable[[Mapping[str, Any], Where], Check[object | None]]
    schema: Mapping[str, Schema] = MappingProxyType({})
    required: tuple[str, ...] = ()
    describe: Callable[[Any, str], list[str]] = _no_words
    prepare: Callable[[Plan], object] = _nothing
    prefixed: bool = False
    simple: bool = False
    cohort: bool = False
    no_equal: bool = False
    needs_target: bool = False
    needs_direction: bool = False
    direction: str | None = None
    scored: bool = True
    counts: bool = True
    yes_no: bool = False
    flags: bool = False
    change_target: bool = False
    met_by_score: bool = False
    own_points: str | None = None

    @property
    def params(self) -> frozenset[str]:
        """The keys its ``scoring:`` mapping may hold besides ``method``."""
        return frozenset(self.schema)


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


def step_text(step: Decimal, metric: Metric) -> str:
    """A step (``per``) in words: ``1个百分点``, ``5万元``."""
    if metric.unit == "percent":
        return format_decimal(step * HUNDRED) + "个百分点"
    return format_decimal(step) + (metric.measure or "")
