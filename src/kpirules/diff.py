"""What changed between two versions of a ruleset, in policy terms, and what it does to scores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol, TypeVar

import attrs

from kpirules._core.rounding import MODE_WORDS
from kpirules.exact import exact
from kpirules.methods import METHODS
from kpirules.methods._params import band_words
from kpirules.model import Adjustment, Band, Indicator, Metric, Outcome, Rounding, Ruleset, Veto
from kpirules.quantity import format_decimal
from kpirules.result import Result
from kpirules.words import ADJUSTMENT_KINDS, OUTCOME_KINDS, english, field, value


@attrs.frozen
class Change:
    """One change, in words, with where it is in each file (0 when absent)."""

    kind: str
    text: str
    old_line: int
    new_line: int
    #: The file of each line when it is not the ruleset's own (an inherited item's base).
    old_file: str = ""
    new_file: str = ""


def _pts(value: Decimal) -> str:
    return format_decimal(value) + "分"


def _band(band: Band, unit: str = "") -> str:
    return band_words(band, unit)


def _method(ind: Indicator, unit: str) -> str:
    """A scoring method and its parameters in words (each method describes its own)."""
    method = METHODS[ind.scoring.method]
    parts = method.describe(ind.scoring.params, unit)
    return f"{method.words}（{'；'.join(parts)}）" if parts else method.words


def _header(name: str, old: object, new: object) -> str:
    if name == "cycle":
        old, new = value(old), value(new)
    return f"{field(name)}：{old} → {new}"


def _mode(mode: str) -> str:
    return mode if english() else MODE_WORDS.get(mode, mode)


def _rounding(r: Rounding) -> str:
    return f"{r.places} 位 {_mode(r.mode)}（{value(r.at)}）"


def _adjustment(r: Adjustment) -> str:
    kind = r.kind if english() else ADJUSTMENT_KINDS.get(r.kind, r.kind)
    return f"{r.label}：{kind} {r.points.text}（上限 {r.cap}）"


@exact
def compare(old: Ruleset, new: Ruleset) -> list[Change]:
    """Every difference between two rulesets that changes what is scored or how."""
    out: list[Change] = []
    if old.id != new.id:
        out.append(
            Change(
                "note",
                f"注意：两个规则集的 id 不同（{old.id} 与 {new.id}），可能不是同一规则集的两个版本",
                0,
                0,
            )
        )

    def add(kind: str, text: str, o: int = 0, n: int = 0, *, item: str = "") -> None:
        out.append(Change(kind, text, o, n, *_files(old, new, item, o, n)))

    for name in ("title", "version", "source", "cycle"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            add("header", _header(name, a, b))
    if old.in_force != new.in_force:
        add(
            "header",
            f"施行期间：{old.in_force.start}–{old.in_force.end or '长期'} → {new.in_force.start}–{new.in_force.end or '长期'}",
        )
    if old.total_points != new.total_points:
        add("header", f"总分：{_pts(old.total_points)} → {_pts(new.total_points)}")
    if old.rounding != new.rounding:
        r1, r2 = old.rounding, new.rounding
        add(
            "header",
            f"取整：{_rounding(r1)} → {_rounding(r2)}",
        )
    if old.money != new.money:
        m1, m2 = old.money, new.money
        add(
            "header",
            f"金额：{m1.unit}，{m1.places} 位 {_mode(m1.mode)} → {m2.unit}，{m2.places} 位 {_mode(m2.mode)}",
        )
    if old.show != new.show:
        add("header", f"列示：{'、'.join(old.show) or '无'} → {'、'.join(new.show) or '无'}")

    old_metrics = {m.id: m for m in old.metrics}
    new_metrics = {m.id: m for m in new.metrics}
    _metric_changes(add, old_metrics, new_metrics)
    _indicator_changes(add, old, new, old_metrics, new_metrics)
    _category_and_grade_changes(add, old, new)
    _rules(out, "否决项", list(old.vetoes), list(new.vetoes), _veto_text, (old, new))
    _rules(out, "结果规则", list(old.outcomes), list(new.outcomes), _outcome_text, (old, new))
    old_adj = [_adjustment(r) for r in old.adjustments.rules]
    new_adj = [_adjustment(r) for r in new.adjustments.rules]
    if old_adj != new_adj or (old.adjustments.max_bonus, old.adjustments.max_penalty) != (
        new.adjustments.max_bonus,
        new.adjustments.max_penalty,
    ):
        add(
            "adjustment",
            f"加减分规则：{'；'.join(old_adj) or '（无）'} → {'；'.join(new_adj) or '（无）'}",
        )
    return sorted(out, key=lambda c: (c.kind != "note", c.new_line or c.old_line, c.text))


class _Add(Protocol):
    def __call__(self, kind: str, text: str, o: int = 0, n: int = 0, *, item: str = "") -> None: ...


def _metric_changes(
    add: _Add, old_metrics: dict[str, Metric], new_metrics: dict[str, Metric]
) -> None:
    for mid in old_metrics.keys() - new_metrics.keys():
        add(
            "metric",
            f"删除指标数据 {old_metrics[mid].label}（{mid}）",
            old_metrics[mid].line,
            item=mid,
        )
    for mid in new_metrics.keys() - old_metrics.keys():
        add(
            "metric",
            f"新增指标数据 {new_metrics[mid].label}（{mid}）",
            0,
            new_metrics[mid].line,
            item=mid,
        )
    for mid in old_metrics.keys() & new_metrics.keys():
        a, b = old_metrics[mid], new_metrics[mid]
        fa, fb = (a.formula.text if a.formula else None), (b.formula.text if b.formula else None)
        if fa != fb:
            add(
                "metric",
                f"{b.label}（{mid}）的计算公式：{fa or '（输入）'} → {fb or '（输入）'}",
                a.line,
                b.line,
                item=mid,
            )
        if (a.unit, a.measure, a.minimum, a.maximum) != (b.unit, b.measure, b.minimum, b.maximum):
            add("metric", f"{b.label}（{mid}）的单位或取值范围改变", a.line, b.line, item=mid)


def _indicator_changes(
    add: _Add,
    old: Ruleset,
    new: Ruleset,
    old_metrics: dict[str, Metric],
    new_metrics: dict[str, Metric],
) -> None:
    old_ind, new_ind = {i.id: i for i in old.indicators()}, {i.id: i for i in new.indicators()}
    for iid in [i for i in old_ind if i not in new_ind]:
        add(
            "indicator",
            f"删除指标 {old_ind[iid].label}（{_pts(old_ind[iid].points)}）",
            old_ind[iid].line,
            item=iid,
        )
    for iid in [i for i in new_ind if i not in old_ind]:
        ind = new_ind[iid]
        target = f"，目标 {ind.target.text}" if ind.target else ""
        add(
            "indicator",
            f"新增指标 {ind.label}（{_pts(ind.points)}{target}）",
            0,
            ind.line,
            item=iid,
        )
    for iid in [i for i in new_ind if i in old_ind]:
        a, b = old_ind[iid], new_ind[iid]
        if a.points != b.points:
            add(
                "weight",
                f"{b.label} 分值 {_pts(a.points)} → {_pts(b.points)}",
                a.line,
                b.line,
                item=iid,
            )
        ta, tb = (a.target.text if a.target else None), (b.target.text if b.target else None)
        if a.target_value != b.target_value or (ta is None) != (tb is None):
            add(
                "target",
                f"{b.label} 目标 {ta or '（无）'} → {tb or '（无）'}",
                a.line,
                b.line,
                item=iid,
            )
        if a.scoring != b.scoring:
            unit_a = old_metrics[a.metric].unit if a.metric in old_metrics else ""
            unit_b = new_metrics[b.metric].unit if b.metric in new_metrics else ""
            add(
                "method",
                f"{b.label} 计分方法 {_method(a, unit_a)} → {_method(b, unit_b)}",
                a.line,
                b.line,
                item=iid,
            )
        if a.direction != b.direction:
            add(
                "method",
                f"{b.label} 方向 {value(a.direction)} → {value(b.direction)}",
                a.line,
                b.line,
                item=iid,
            )
        if a.missing != b.missing:
            add(
                "method",
                f"{b.label} 缺数据时 {value(a.missing)} → {value(b.missing)}",
                a.line,
                b.line,
                item=iid,
            )
        if a.metric != b.metric:
            add(
                "indicator",
                f"{b.label} 改用指标数据 {a.metric} → {b.metric}",
                a.line,
                b.line,
                item=iid,
            )


def _category_and_grade_changes(add: _Add, old: Ruleset, new: Ruleset) -> None:
    old_cats = {c.id: c for c in old.all_categories()}
    new_cats = {c.id: c for c in new.all_categories()}
    for cid in old_cats.keys() & new_cats.keys():
        if old_cats[cid].points != new_cats[cid].points:
            add(
                "weight",
                f"类别 {new_cats[cid].label} 分值 {_pts(old_cats[cid].points)} → {_pts(new_cats[cid].points)}",
                old_cats[cid].line,
                new_cats[cid].line,
                item=cid,
            )
    for cid in old_cats.keys() - new_cats.keys():
        add("indicator", f"删除类别 {old_cats[cid].label}", old_cats[cid].line, item=cid)
    for cid in new_cats.keys() - old_cats.keys():
        add("indicator", f"新增类别 {new_cats[cid].label}", 0, new_cats[cid].line, item=cid)

    old_grades = {b.value: b for b in old.grades}
    new_grades = {b.value: b for b in new.grades}
    for g in old_grades.keys() | new_grades.keys():
        a, b = old_grades.get(g), new_grades.get(g)
        if a is None and b is not None:
            add("grade", f"新增等级 {g}（{_band(b)}）", 0, b.line, item=f"grade:{g}")
        elif b is None and a is not None:
            add("grade", f"删除等级 {g}", a.line, item=f"grade:{g}")
        elif (
            a is not None
            and b is not None
            and (a.lower, a.lower_closed, a.upper, a.upper_closed)
            != (b.lower, b.lower_closed, b.upper, b.upper_closed)
        ):
            add("grade", f"等级 {g}：{_band(a)} → {_band(b)}", a.line, b.line, item=f"grade:{g}")


def _veto_text(v: Veto) -> str:
    effect = {
        "zero": "总分记 0",
        "cap_total": f"总分封顶 {v.cap}",
        "cap_grade": f"等级封顶 {v.grade}",
    }[v.effect]
    return f"当 {v.when.text} 时{effect}"


def _outcome_text(o: Outcome) -> str:
    parts = []
    if o.grades:
        parts.append("等级为" + "或".join(o.grades))
    if o.when is not None:
        parts.append(o.when.text)
    amount = f"，金额 {o.amount.text}" if o.amount is not None else ""
    kind = OUTCOME_KINDS.get(o.kind, o.kind)
    return f"{kind}：{'，且'.join(parts)}{amount}"


R = TypeVar("R", Veto, Outcome)


def _rules(
    out: list[Change],
    what: str,
    old: Sequence[R],
    new: Sequence[R],
    describe: Callable[[R], str],
    rulesets: tuple[Ruleset, Ruleset],
) -> None:
    a = {r.id: r for r in old}
    b = {r.id: r for r in new}

    def change(text: str, rid: str, o: int, n: int) -> Change:
        return Change("rule", text, o, n, *_files(*rulesets, rid, o, n))

    for rid in a.keys() - b.keys():
        out.append(change(f"删除{what} {a[rid].label}", rid, a[rid].line, 0))
    for rid in b.keys() - a.keys():
        out.append(change(f"新增{what} {b[rid].label}：{describe(b[rid])}", rid, 0, b[rid].line))
    for rid in a.keys() & b.keys():
        before, after = describe(a[rid]), describe(b[rid])
        if before != after:
            text = f"{what} {b[rid].label}：{before} → {after}"
            out.append(change(text, rid, a[rid].line, b[rid].line))


def _files(old: Ruleset, new: Ruleset, item: str, o: int, n: int) -> tuple[str, str]:
    """The file of each side's line, when the item is written in another file (a base)."""

    def one(ruleset: Ruleset, line: int) -> str:
        file = ruleset.file_of(item) if item and line else ruleset.file
        return "" if file == ruleset.file else file

    return one(old, o), one(new, n)


@exact
def effect(old: Sequence[Result], new: Sequence[Result]) -> list[str]:
    """How each entity's total, grade and outcomes change between two scorings."""
    lines = []
    for a, b in zip(old, new, strict=True):
        delta = b.total - a.total
        sign = "+" if delta > 0 else ""
        grade = f"，等级 {a.grade} → {b.grade}" if a.grade != b.grade else f"，等级仍为 {b.grade}"
        fired_a = {o.id for o in a.outcomes}
        fired_b = {o.id for o in b.outcomes}
        more = [o.label for o in b.outcomes if o.id not in fired_a]
        less = [o.label for o in a.outcomes if o.id not in fired_b]
        outcome = ""
        if more:
            outcome += "；新触发：" + "、".join(more)
        if less:
            outcome += "；不再触发：" + "、".join(less)
        lines.append(
            f"{a.entity}：总分 {a.total} → {b.total}（{sign}{b.total - a.total}）{grade}{outcome}"
        )
    return lines
