"""The built-in scoring methods: each returns a score and the reason that explains it.

A method works on a :class:`Plan`, everything about one indicator that can be prepared
when the ruleset is compiled (its points, target, parameters and the fixed parts of its
sentence), so that scoring an entity does only the arithmetic that depends on its values.

A reason is a :class:`Reason`: a sentence template and the numbers that fill it. It is
rendered to text when read (``ItemResult.explanation``), which keeps scoring fast and the
numbers exact; rendering is deterministic.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_HALF_EVEN, Context, Decimal
from typing import NamedTuple

import attrs

from kpirules.compiler import CompiledFormula, FormulaEvaluationError
from kpirules.model import Band, Indicator, Metric
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
                *[(f or _text)(a) for f, a in zip(self.formats, self.args, strict=True)]
            )
        return self.template.format(*[_text(a) for a in self.args])


@attrs.frozen
class PointsFormat:
    """Formats bare points like :class:`Pts`."""

    quantum: Decimal
    mode: str

    def __call__(self, value: object) -> str:
        assert isinstance(value, Decimal)
        return _text(Pts(value, self.quantum, self.mode))


@attrs.frozen
class ValueFormat:
    """Formats a bare metric value like :func:`value_arg`; other objects as themselves."""

    unit: str
    word: str

    def __call__(self, value: object) -> str:
        if isinstance(value, bool):
            return "是" if value else "否"
        if not isinstance(value, Decimal):
            return _text(value)
        if self.unit == "percent":
            return _text(Pct(value))
        return _text(Num(value, self.word))


def rounded(value: Decimal, quantum: Decimal, mode: str = ROUND_HALF_EVEN) -> Decimal:
    """``value`` rounded for display with ``mode``, in its own context: whatever the
    caller's decimal context and whatever the number's size."""
    return value.quantize(quantum, rounding=mode, context=_DISPLAY)


def _text(arg: object) -> str:
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
        self.score: Callable[..., Scored] = _METHODS[s.method]
        self.id, self.label, self.line, self.method = ind.id, ind.label, ind.line, s.method
        self.metric_id = ind.metric
        self.target_or_none = ind.target.text if ind.target else None
        self.fast = s.method in SIMPLE and inputs == (ind.metric,)
        self.prefixed = s.method in PREFIXED
        probe = value_arg(metric, ONE)
        self.fv = ValueFormat(metric.unit, probe.word if isinstance(probe, Num) else "")
        self.fp = PointsFormat(quantum, mode)
        label = _escape(ind.label)
        target = _escape(self.target_text)
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
            f"{label} {{0}}，{relation}目标 {target}，每{word}{_escape(self.per_text)}"
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


#: Methods whose reasons already name the indicator and its value.
PREFIXED = frozenset({"deduct", "pass_fail", "proportional", "per_occurrence", "scale"})


def _escape(text: str) -> str:
    """Text for a str.format template: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def _cap(score: Decimal, points: Decimal) -> Decimal:
    return ZERO if score < ZERO else points if score > points else score


def pass_fail(plan: Plan, v: Decimal | bool, shown: object = None) -> Scored:
    """达标得满分, otherwise ``otherwise`` points."""
    assert plan.target is not None and plan.ind.target is not None
    first = v if shown is None else shown
    if met(plan.ind.target.op, v, plan.target):
        return plan.points, Reason(plan.t_pass, (first, plan.points), plan.f_vp)
    other = plan.ind.scoring.otherwise or ZERO
    return other, Reason(plan.t_fail, (first, other), plan.f_vp)


def proportional(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """实际/目标×分值 (higher is better) or 目标/实际×分值 (lower is better), capped."""
    t = plan.target
    assert isinstance(t, Decimal)
    first = v if shown is None else shown
    if not plan.higher:
        if v <= 0:
            return plan.points, Reason(plan.t_zero, (first, plan.points), plan.f_vp)
        raw = t / v * plan.points
        a, b = t, v
    else:
        raw = v / t * plan.points
        a, b = v, t
    score = _cap(raw, plan.points)
    capped = "（封顶）" if raw > plan.points else ""
    return score, Reason(plan.t_prop, (first, a, b, score, capped), plan.f_prop)


def linear(plan: Plan, v: Decimal) -> Scored:
    """区间法: straight lines between segment ends; ``below``/``above`` outside."""
    segs = plan.ind.scoring.segments
    first, last = segs[0], segs[-1]
    metric = plan.metric
    if v < first.start:
        score = plan.below if plan.below is not None else first.start_points
        return score, Reason(
            "低于区间下限 {0}，得 {1}",
            (value_arg(metric, first.start), Pts(score, plan.quantum, plan.mode)),
        )
    if v > last.end:
        above = plan.ind.scoring.above
        score = above if above is not None else last.end_points
        return score, Reason(
            "高于区间上限 {0}，得 {1}",
            (value_arg(metric, last.end), Pts(score, plan.quantum, plan.mode)),
        )
    seg = next(s for s in segs if s.start <= v <= s.end)
    score = seg.start_points + (v - seg.start) / (seg.end - seg.start) * (
        seg.end_points - seg.start_points
    )
    return score, Reason(
        "落在区间 {0}–{1}（{2}–{3}分），按区间线性计分，得 {4}",
        (
            value_arg(metric, seg.start),
            value_arg(metric, seg.end),
            format_decimal(seg.start_points),
            format_decimal(seg.end_points),
            Pts(score, plan.quantum, plan.mode),
        ),
    )


def deduct(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """每差1个单位扣X分，扣完为止 (with the declared rule for partial units)."""
    t = plan.target
    assert isinstance(t, Decimal) and plan.per is not None and plan.deduct is not None
    if plan.direction == "lower_better":
        gap = v - t if v > t else ZERO
    elif plan.direction == "equal":
        gap = abs(v - t)
    else:
        gap = t - v if v < t else ZERO
    first = v if shown is None else shown
    if not gap:
        return plan.points, Reason(plan.t_met, (first, plan.points), plan.f_vp)
    units = gap / plan.per
    if plan.partial == "round_up":
        units = Decimal(math.ceil(units))
    elif plan.partial == "round_down":
        units = Decimal(math.floor(units))
    taken = units * plan.deduct
    limit = plan.points - plan.floor
    if taken > limit:
        taken = limit
    score = plan.points - taken
    return score, Reason(plan.t_deduct, (first, taken, score), plan.f_vpp)


def per_occurrence(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """每发现一次扣X分, not below the floor."""
    assert plan.deduct is not None
    taken = min(v * plan.deduct, plan.points - plan.floor)
    score = plan.points - taken
    return score, Reason(plan.t_each, (v if shown is None else shown, taken, score), plan.f_vpp)


def bonus(plan: Plan, v: Decimal) -> Scored:
    """每满 ``per`` 加 ``add`` 分, at most ``cap``."""
    cap = plan.ind.scoring.cap
    assert plan.per is not None and plan.add is not None and cap is not None
    units = Decimal(math.floor(v / plan.per))
    score = min(cap, units * plan.add)
    return score, Reason(
        "每满{0}加{1}分，加 {2}（上限 {3}）",
        (
            plan.per_text,
            format_decimal(plan.add),
            Pts(score, plan.quantum, plan.mode),
            Pts(cap, plan.quantum, plan.mode),
        ),
    )


def band_text(band: Band, metric: Metric) -> Reason:
    """A table row or grade band in words: ``24小时（不含）至48小时（含）``."""
    lo = (
        Reason(
            "{0}{1}", (value_arg(metric, band.lower), "（含）" if band.lower_closed else "（不含）")
        )
        if band.lower is not None
        else None
    )
    hi = (
        Reason(
            "{0}{1}", (value_arg(metric, band.upper), "（含）" if band.upper_closed else "（不含）")
        )
        if band.upper is not None
        else None
    )
    if lo is not None and hi is not None:
        return Reason("{0}至{1}", (lo, hi))
    return Reason("{0}以上", (lo,)) if lo is not None else Reason("{0}以下", (hi,))


def table(plan: Plan, v: Decimal) -> Scored:
    """分档: the points of the row the value falls in."""
    for band in plan.ind.scoring.rows:
        if band.contains(v):
            score = band.points or ZERO
            return score, Reason(
                "落在分档 {0}，得 {1}",
                (band_text(band, plan.metric), Pts(score, plan.quantum, plan.mode)),
            )
    raise FormulaEvaluationError(f"值 {_text(value_arg(plan.metric, v))} 不在分档表的任何一档中")


def change(plan: Plan, v: Decimal, base: Decimal) -> Scored:
    """较基期变化 (relative or absolute) scored against the target of the change."""
    t = plan.target
    ind = plan.ind
    assert isinstance(t, Decimal) and ind.target is not None
    if ind.scoring.compare == "relative":
        if base == 0:
            raise FormulaEvaluationError(
                f"基期值为 0，无法计算相对变化（本期 {_text(value_arg(plan.metric, v))}）"
            )
        delta = (v - base) / base
        delta_arg: object = Pct(delta)
    else:
        delta = v - base
        delta_arg = format_decimal(delta)
    base_arg = value_arg(plan.metric, base)
    ok = met(ind.target.op, delta, t)
    if ind.scoring.change_scoring == "proportional" and not ok:
        ratio = (delta / t) if plan.higher else (t / delta if delta > 0 else ONE)
        score = _cap(ratio * plan.points, plan.points)
        return score, Reason(
            "较基期 {0} 变化 {1}，未达到目标 {2}，按比例得 {3}",
            (base_arg, delta_arg, plan.target_text, Pts(score, plan.quantum, plan.mode)),
        )
    score = plan.points if ok else ZERO
    return score, Reason(
        "较基期 {0} 变化 {1}，{2}目标 {3}，得 {4}",
        (
            base_arg,
            delta_arg,
            "达到" if ok else "未达到",
            plan.target_text,
            Pts(score, plan.quantum, plan.mode),
        ),
    )


def best_ratio(plan: Plan, v: Decimal, cohort: Cohort) -> Scored:
    """与同组最优比: value/best (higher) or best/value (lower), times points."""
    best = cohort.best(plan.higher)
    ratio = (ONE if best == 0 else v / best) if plan.higher else (ONE if v == 0 else best / v)
    score = _cap(ratio * plan.points, plan.points)
    return score, Reason(
        "同组最优 {0}，按与最优之比计分，得 {1}",
        (value_arg(plan.metric, best), Pts(score, plan.quantum, plan.mode)),
    )


def rank(plan: Plan, v: Decimal, cohort: Cohort) -> Scored:
    """排名: points by competition rank within the cohort."""
    r = cohort.rank(v, plan.higher)
    by_rank = plan.ind.scoring.points_by_rank
    score = by_rank[r - 1] if r <= len(by_rank) else (plan.ind.scoring.otherwise or ZERO)
    return score, Reason(
        "在 {0} 个单位中排第 {1} 名，得 {2}", (cohort.size, r, Pts(score, plan.quantum, plan.mode))
    )


def percentile(plan: Plan, v: Decimal, cohort: Cohort) -> Scored:
    """百分位: points by the share of the cohort this entity is better than."""
    p = cohort.share_worse(v, plan.higher)
    for band in plan.ind.scoring.rows:
        if band.contains(p):
            score = band.points or ZERO
            return score, Reason(
                "优于同组 {0} 的单位，得 {1}", (Pct(p), Pts(score, plan.quantum, plan.mode))
            )
    raise FormulaEvaluationError("百分位不在分档表的任何一档中")


def scale(plan: Plan, v: Decimal, shown: object = None) -> Scored:
    """评分折算: (value − min)/(max − min) × points on the metric's scale."""
    lo, hi = plan.metric.minimum, plan.metric.maximum
    assert lo is not None and hi is not None
    score = _cap((v - lo) / (hi - lo) * plan.points, plan.points)
    return score, Reason(plan.t_scale, (v if shown is None else shown, score), plan.f_vp)


def formula(plan: Plan, v: Decimal | bool, names: dict[str, object]) -> Scored:
    """自定义公式; a result outside 0..points is an error, never silently clamped."""
    compiled = plan.formula
    assert compiled is not None
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


def _unsupported(plan: Plan, *args: object) -> Scored:
    raise FormulaEvaluationError(f"计分方法 {plan.ind.scoring.method} 不能直接调用")


_METHODS: dict[str, Callable[..., Scored]] = {
    "pass_fail": pass_fail,
    "proportional": proportional,
    "linear": linear,
    "deduct": deduct,
    "per_occurrence": per_occurrence,
    "bonus": bonus,
    "table": table,
    "scale": scale,
    "change": change,
    "best_ratio": best_ratio,
    "rank": rank,
    "percentile": percentile,
    "formula": formula,
    "monitor": _unsupported,
}
SIMPLE = frozenset(
    {"proportional", "linear", "deduct", "per_occurrence", "bonus", "table", "scale"}
)
COHORT = frozenset({"best_ratio", "rank", "percentile"})
