"""The built-in scoring methods: each returns a score and the sentence that explains it.

Every function takes the indicator (with its points and parameters), the value, and what
the method needs besides (a baseline, cohort statistics); arithmetic happens in the
caller's decimal context. Scores never leave 0..points (bonus: 0..cap).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import attrs

from kpirules.compiler import CompiledFormula, FormulaEvaluationError
from kpirules.model import Band, Indicator, Metric
from kpirules.quantity import OP_TEXT, format_decimal

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


@attrs.frozen
class Cohort:
    """Values of one indicator across the entities scored together."""

    values: tuple[Decimal, ...]

    def best(self, higher: bool) -> Decimal:
        """The best value: highest when higher is better, else lowest."""
        return max(self.values) if higher else min(self.values)

    def rank(self, value: Decimal, higher: bool) -> int:
        """Competition rank (1224): one plus the number of strictly better values."""
        better = sum(1 for v in self.values if (v > value if higher else v < value))
        return better + 1

    def share_worse(self, value: Decimal, higher: bool) -> Decimal:
        """Share of the other entities that are strictly worse (0..1)."""
        n = len(self.values)
        if n <= 1:
            return ONE
        worse = sum(1 for v in self.values if (v < value if higher else v > value))
        return Decimal(worse) / Decimal(n - 1)


class Show:
    """Formats values and points the way the ruleset's readers write them."""

    def __init__(self, places: int) -> None:
        self.q = Decimal(1).scaleb(-places)

    def points(self, value: Decimal) -> str:
        """Points for display, at the ruleset's number of places (display only)."""
        return format(value.quantize(self.q), "f") + "分"

    def value(self, metric: Metric, value: Decimal | bool | None) -> str:
        """A metric value in its unit: ``3.00%``, ``5万元``, ``24小时``, ``是``."""
        if value is None:
            return "（缺失）"
        if isinstance(value, bool):
            return "是" if value else "否"
        if metric.unit == "percent":
            return format((value * HUNDRED).quantize(Decimal("0.01")), "f") + "%"
        word = metric.measure or ("分" if metric.unit == "rating" else "")
        if metric.unit == "money" and not metric.measure:
            word = "元"
        shown = value.quantize(Decimal("0.01"))
        if shown != value:  # e.g. a mean of ratings: show two places and say it is rounded
            return "约" + format_decimal(shown) + word
        return format_decimal(value) + word

    def ratings(self, metric: Metric, ratings: tuple[Decimal, ...]) -> str:
        """How several assessors' ratings were combined, in words."""
        listed = "、".join(format_decimal(r) for r in ratings)
        if metric.ratings is not None and metric.ratings.combine == "trimmed_mean":
            return f"{len(ratings)} 位评分 {listed}，去掉一个最高分和一个最低分后平均"
        return f"{len(ratings)} 位评分 {listed}，平均"


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


def _target_text(ind: Indicator) -> str:
    return ind.target.text if ind.target else ""


def _per_text(ind: Indicator, metric: Metric, per: Decimal) -> str:
    if metric.unit == "percent":
        return format_decimal(per * HUNDRED) + "个百分点"
    return format_decimal(per) + (metric.measure or "")


def _cap(score: Decimal, points: Decimal) -> Decimal:
    return max(ZERO, min(points, score))


Scored = tuple[Decimal, str]


def pass_fail(ind: Indicator, metric: Metric, v: Decimal | bool, show: Show) -> Scored:
    """达标得满分, otherwise ``otherwise`` points."""
    assert ind.target is not None and ind.target_value is not None
    if met(ind.target.op, v, ind.target_value):
        return ind.points, f"达到目标 {_target_text(ind)}，得满分 {show.points(ind.points)}"
    other = ind.scoring.otherwise or ZERO
    return other, f"未达到目标 {_target_text(ind)}，得 {show.points(other)}"


def proportional(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """实际/目标×分值 (higher is better) or 目标/实际×分值 (lower is better), capped."""
    t = ind.target_value
    assert isinstance(t, Decimal)
    tv = show.value(metric, t)
    if ind.direction == "lower_better":
        if v <= 0:
            return (
                ind.points,
                f"目标 {_target_text(ind)}，实际为 0，得满分 {show.points(ind.points)}",
            )
        raw = t / v * ind.points
        how = f"按 目标/实际 计分：{tv} ÷ {show.value(metric, v)} × {format_decimal(ind.points)}"
    else:
        raw = v / t * ind.points
        how = f"按 实际/目标 计分：{show.value(metric, v)} ÷ {tv} × {format_decimal(ind.points)}"
    score = _cap(raw, ind.points)
    capped = "（封顶）" if raw > ind.points else ""
    return score, f"目标 {_target_text(ind)}，{how}，得 {show.points(score)}{capped}"


def linear(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """区间法: straight lines between segment ends; ``below``/``above`` outside."""
    segs = ind.scoring.segments
    first, last = segs[0], segs[-1]
    if v < first.start:
        score = ind.scoring.below if ind.scoring.below is not None else first.start_points
        return score, f"低于区间下限 {show.value(metric, first.start)}，得 {show.points(score)}"
    if v > last.end:
        score = ind.scoring.above if ind.scoring.above is not None else last.end_points
        return score, f"高于区间上限 {show.value(metric, last.end)}，得 {show.points(score)}"
    seg = next(s for s in segs if s.start <= v <= s.end)
    score = seg.start_points + (v - seg.start) / (seg.end - seg.start) * (
        seg.end_points - seg.start_points
    )
    return score, (
        f"落在区间 {show.value(metric, seg.start)}–{show.value(metric, seg.end)}"
        f"（{format_decimal(seg.start_points)}–{format_decimal(seg.end_points)}分），"
        f"按区间线性计分，得 {show.points(score)}"
    )


def _shortfall(ind: Indicator, v: Decimal) -> tuple[Decimal, str]:
    t = ind.target_value
    assert isinstance(t, Decimal)
    if ind.direction == "lower_better":
        return max(ZERO, v - t), "超"
    if ind.direction == "equal":
        return abs(v - t), "偏离"
    return max(ZERO, t - v), "低"


def deduct(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """每差1个单位扣X分，扣完为止 (with the declared rule for partial units)."""
    gap, word = _shortfall(ind, v)
    if gap == 0:
        return ind.points, f"达到目标 {_target_text(ind)}，不扣分，得 {show.points(ind.points)}"
    per = ind.scoring.per
    d = ind.scoring.deduct
    assert per is not None and d is not None
    units = gap / per
    partial = ind.scoring.partial
    if partial == "round_up":
        units = Decimal(math.ceil(units))
        note = "，不足1个单位按1个计"
    elif partial == "round_down":
        units = Decimal(math.floor(units))
        note = "，不足1个单位不扣"
    else:
        note = ""
    floor_ = ind.scoring.floor or ZERO
    taken = min(units * d, ind.points - floor_)
    score = ind.points - taken
    relation = {"低": "低于", "超": "高于", "偏离": "偏离"}[word]
    return score, (
        f"{relation}目标 {_target_text(ind)}，每{word}{_per_text(ind, metric, per)}"
        f"扣{format_decimal(d)}分{note}，扣 {show.points(taken)}，得 {show.points(score)}"
    )


def per_occurrence(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """每发现一次扣X分, not below the floor."""
    d = ind.scoring.deduct
    assert d is not None
    floor_ = ind.scoring.floor or ZERO
    taken = min(v * d, ind.points - floor_)
    score = ind.points - taken
    return score, (f"每次扣{format_decimal(d)}分，扣 {show.points(taken)}，得 {show.points(score)}")


def bonus(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """每满 ``per`` 加 ``add`` 分, at most ``cap``."""
    per, add, cap = ind.scoring.per, ind.scoring.add, ind.scoring.cap
    assert per is not None and add is not None and cap is not None
    units = Decimal(math.floor(v / per))
    raw = units * add
    score = min(cap, raw)
    capped = f"（上限 {show.points(cap)}）"
    return score, (
        f"每满{format_decimal(per)}{metric.measure or ''}加{format_decimal(add)}分，"
        f"加 {show.points(score)}{capped}"
    )


def _band_text(band: Band, metric: Metric, show: Show) -> str:
    lo = (
        f"{show.value(metric, band.lower)}{'（含）' if band.lower_closed else '（不含）'}"
        if band.lower is not None
        else ""
    )
    hi = (
        f"{show.value(metric, band.upper)}{'（含）' if band.upper_closed else '（不含）'}"
        if band.upper is not None
        else ""
    )
    if lo and hi:
        return f"{lo}至{hi}"
    return f"{lo}以上" if lo else f"{hi}以下"


def table(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """分档: the points of the row the value falls in."""
    for band in ind.scoring.rows:
        if band.contains(v):
            score = band.points or ZERO
            return score, f"落在分档 {_band_text(band, metric, show)}，得 {show.points(score)}"
    raise FormulaEvaluationError(f"值 {show.value(metric, v)} 不在分档表的任何一档中")


def change(ind: Indicator, metric: Metric, v: Decimal, base: Decimal, show: Show) -> Scored:
    """较基期变化 (relative or absolute) scored against the target of the change."""
    t = ind.target_value
    assert isinstance(t, Decimal) and ind.target is not None
    if ind.scoring.compare == "relative":
        if base == 0:
            raise FormulaEvaluationError(
                f"基期值为 0，无法计算相对变化（本期 {show.value(metric, v)}）"
            )
        delta = (v - base) / base
        delta_text = f"较基期 {show.value(metric, base)} 变化 {format((delta * HUNDRED).quantize(Decimal('0.01')), 'f')}%"
    else:
        delta = v - base
        delta_text = f"较基期 {show.value(metric, base)} 变化 {format_decimal(delta)}"
    ok = met(ind.target.op, delta, t)
    if ind.scoring.change_scoring == "proportional" and not ok:
        higher = ind.direction != "lower_better"
        ratio = (delta / t) if higher else (t / delta if delta > 0 else ONE)
        score = _cap(ratio * ind.points, ind.points)
        return score, f"{delta_text}，未达到目标 {ind.target.text}，按比例得 {show.points(score)}"
    score = ind.points if ok else ZERO
    verdict = "达到" if ok else "未达到"
    return score, f"{delta_text}，{verdict}目标 {ind.target.text}，得 {show.points(score)}"


def best_ratio(ind: Indicator, metric: Metric, v: Decimal, cohort: Cohort, show: Show) -> Scored:
    """与同组最优比: value/best (higher) or best/value (lower), times points."""
    higher = ind.direction != "lower_better"
    best = cohort.best(higher)
    ratio = (ONE if best == 0 else v / best) if higher else (ONE if v == 0 else best / v)
    score = _cap(ratio * ind.points, ind.points)
    return score, (
        f"同组最优 {show.value(metric, best)}，按与最优之比计分，得 {show.points(score)}"
    )


def rank(ind: Indicator, metric: Metric, v: Decimal, cohort: Cohort, show: Show) -> Scored:
    """排名: points by competition rank within the cohort."""
    r = cohort.rank(v, ind.direction != "lower_better")
    table_ = ind.scoring.points_by_rank
    score = table_[r - 1] if r <= len(table_) else (ind.scoring.otherwise or ZERO)
    return score, f"在 {len(cohort.values)} 个单位中排第 {r} 名，得 {show.points(score)}"


def percentile(ind: Indicator, metric: Metric, v: Decimal, cohort: Cohort, show: Show) -> Scored:
    """百分位: points by the share of the cohort this entity is better than."""
    p = cohort.share_worse(v, ind.direction != "lower_better")
    for band in ind.scoring.rows:
        if band.contains(p):
            score = band.points or ZERO
            shown = format((p * HUNDRED).quantize(Decimal("0.01")), "f")
            return score, f"优于同组 {shown}% 的单位，得 {show.points(score)}"
    raise FormulaEvaluationError("百分位不在分档表的任何一档中")


def scale(ind: Indicator, metric: Metric, v: Decimal, show: Show) -> Scored:
    """评分折算: (value − min)/(max − min) × points on the metric's scale."""
    lo, hi = metric.minimum, metric.maximum
    assert lo is not None and hi is not None
    score = _cap((v - lo) / (hi - lo) * ind.points, ind.points)
    return score, (
        f"按 {format_decimal(lo)}–{format_decimal(hi)} 分制折算为 {format_decimal(ind.points)} 分，"
        f"得 {show.points(score)}"
    )


def formula(
    ind: Indicator, metric: Metric, compiled: CompiledFormula, names: dict[str, object], show: Show
) -> Scored:
    """自定义公式; a result outside 0..points is an error, never silently clamped."""
    raw = compiled(names)
    if isinstance(raw, bool) or not isinstance(raw, Decimal):
        raise FormulaEvaluationError(f"计分公式 “{compiled.formula.text}” 的结果不是数值")
    if raw < 0 or raw > ind.points:
        raise FormulaEvaluationError(
            f"计分公式 “{compiled.formula.text}” 的结果 {format_decimal(raw)} 超出 0 到 "
            f"{format_decimal(ind.points)} 分（可用 clamp(…, 0, points) 限定）"
        )
    return raw, f"按公式 {compiled.formula.text} 计算，得 {show.points(raw)}"


SIMPLE: dict[str, Callable[[Indicator, Metric, Decimal, Show], Scored]] = {
    "proportional": proportional,
    "linear": linear,
    "deduct": deduct,
    "per_occurrence": per_occurrence,
    "bonus": bonus,
    "table": table,
    "scale": scale,
}
COHORT: dict[str, Callable[[Indicator, Metric, Decimal, Cohort, Show], Scored]] = {
    "best_ratio": best_ratio,
    "rank": rank,
    "percentile": percentile,
}

__all__ = ["COHORT", "OP_TEXT", "SIMPLE", "Cohort", "Show", "met"]
