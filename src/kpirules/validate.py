"""Semantic validation: from a loaded document to an immutable :class:`~kpirules.model.Ruleset`.

The JSON Schema checks shape; this module checks meaning, and reports every problem it
finds, not just the first: unique ids, names that exist (with "did you mean"), weights
that add up per category, grade bands and score tables without gaps or overlaps,
ordered thresholds, targets whose unit fits the metric, directions that agree with
their targets, formulas that parse and stay inside the allowed syntax.

The builder reads the raw data defensively: after a schema error it still checks
everything it can, so that one run shows every mistake.
"""

from __future__ import annotations

import datetime as dt
import keyword
import re
from collections.abc import Callable, Iterator, KeysView, Sequence
from collections.abc import Set as AbstractSet
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, TypeVar, cast, get_args

import attrs

from kpirules import model
from kpirules._core.rounding import MODE_WORDS
from kpirules._core.suggest import closest
from kpirules._core.suggest import did_you_mean as did_you_mean  # re-exported for older callers
from kpirules.errors import Problem
from kpirules.formula import FUNCTIONS, Formula
from kpirules.loader import Document, PathKey, json_path
from kpirules.methods import METHODS
from kpirules.methods._params import (
    Where,
    bands,
    coverage,
    drain,
)
from kpirules.methods._params import available as _available
from kpirules.methods._params import dec as _dec
from kpirules.methods._params import formula as read_formula
from kpirules.methods._params import quantity as read_quantity
from kpirules.methods._params import show_q as _show_q
from kpirules.methods._params import unit_word as _unit_word
from kpirules.quantity import (
    OP_TEXT,
    UNITS,
    QuantityError,
    Target,
    format_decimal,
    parse_quantity,
    parse_target,
    word_problem,
)
from kpirules.schema import schema_problems
from kpirules.values import Value, range_fix, read_value
from kpirules.words import date_fix, english

#: Names with a fixed meaning in formulas and conditions; no id may take them.
RESERVED = frozenset({"total", "raw_total", "value", "target", "points", "baseline", *FUNCTIONS})

_METHOD_PARAMS: dict[str, frozenset[str]] = {m.id: m.params for m in METHODS.values()}
_DIRECTION_OF_OP = {
    "<=": "lower_better",
    "<": "lower_better",
    ">=": "higher_better",
    ">": "higher_better",
    "=": "equal",
}
_DEFAULT_DIRECTION = {m.id: m.direction for m in METHODS.values() if m.direction}
_DIRECTIONS = ("higher_better", "lower_better", "equal", "monitor")
_WEIGHTINGS = ("points", "percent_of_total", "percent_of_parent", "share")
#: Methods that only make sense when more (or less) is better.
_NO_EQUAL = frozenset(m.id for m in METHODS.values() if m.no_equal)
_NEEDS_TARGET = frozenset(m.id for m in METHODS.values() if m.needs_target)
_NEEDS_DIRECTION = frozenset(m.id for m in METHODS.values() if m.needs_direction)
_YES_NO = [m.id for m in METHODS.values() if m.yes_no]
#: The methods that may score a yes/no metric, in words: ``pass_fail、monitor 或 formula``.
_YES_NO_METHODS = "、".join(_YES_NO[:-1]) + " 或 " + _YES_NO[-1]
_INPUT_SUM_UNITS = frozenset({"count", "money", "duration"})
#: Metrics ``show:`` may list: quantities written with a measure (元, 件, 小时).
_SHOWN_UNITS = frozenset({"count", "money", "duration"})
#: Validation's own arithmetic context: never the caller's, and no trap can escape.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999, traps=[])
T = TypeVar("T")
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_TOLERANCE = Decimal("1e-12")


def validate_document(doc: Document, text: str) -> tuple[model.Ruleset | None, list[Problem]]:
    """Check a loaded document; return the ruleset (None if any error) and all problems."""
    if not isinstance(doc.data, dict):
        problems = schema_problems(doc)
        return None, problems or [
            doc.problem((), "规则集文件的顶层应是映射（键: 值）", code="KR212")
        ]
    _, ruleset, problems = _check_ruleset(doc, text)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return ruleset, problems


def _check_ruleset(
    doc: Document, text: str
) -> tuple[_Builder, model.Ruleset | None, list[Problem]]:
    """Both layers on a ruleset document: the schema, then the semantic builder."""
    problems = schema_problems(doc)
    builder = _Builder(doc, text, schema_failed=bool(problems))
    with localcontext(_CONTEXT):
        ruleset = builder.build()
    # Where the semantic check has something to say about a value, its message is the more
    # specific one: drop the schema's message for the same value.
    said = {p.path for p in builder.problems}
    return builder, ruleset, [*(p for p in problems if p.path not in said), *builder.problems]


def validate_tests_document(
    ruleset_doc: Document, ruleset_text: str, tests_doc: Document
) -> tuple[model.Ruleset | None, list[Problem]]:
    """Check a tests file against the ruleset it names.

    Returns the ruleset with the file's test cases appended (None if either has an error),
    and every problem of both files.
    """
    problems = schema_problems(tests_doc, tests_file=True)
    if not isinstance(ruleset_doc.data, dict):
        return None, [*problems, *schema_problems(ruleset_doc)]
    builder, ruleset, ruleset_problems = _check_ruleset(ruleset_doc, ruleset_text)
    if any(p.severity == "error" for p in ruleset_problems) or ruleset is None:
        return None, [*problems, *ruleset_problems]
    start = len(builder.problems)
    builder.schema_failed = bool(problems)
    with localcontext(_CONTEXT):
        tests = builder.tests_from(tests_doc)
    own_names = {t.name: t.line for t in ruleset.tests}
    for case in tests:
        if case.name in own_names:
            builder.err(
                ("tests",),
                f"测试用例名 “{case.name}” 与规则集中第 {own_names[case.name]} 行的用例重名（第 {case.line} 行）",
                code="KR401",
            )
    tests_problems = builder.problems[start:]
    said = {p.path for p in tests_problems}
    problems = [p for p in problems if p.path not in said]
    problems.extend(tests_problems)
    problems.extend(ruleset_problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return attrs.evolve(ruleset, tests=(*ruleset.tests, *tests)), problems


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _pct(value: Decimal) -> str:
    return format_decimal(value) + "%"


class _Builder:
    def __init__(self, doc: Document, text: str, *, schema_failed: bool = False) -> None:
        self.doc = doc
        self.schema_failed = schema_failed
        self.data: dict[str, Any] = doc.data
        self.text = text
        self.problems: list[Problem] = []
        self.metrics: dict[str, model.Metric] = {}
        self.metric_data: dict[str, Any] = {}
        self.ids: dict[str, PathKey] = {}
        self.indicator_ids: set[str] = set()
        self.category_ids: set[str] = set()
        self.grade_names: list[str] = []
        self.total_points = Decimal(100)
        self.bonus_caps: list[Decimal] = []
        self.built_indicators: list[model.Indicator] = []
        self.condition_formulas: list[Formula] = []
        self.money = model.Money()
        #: Items whose weight was rejected: sums over them would only repeat the problem.
        self.bad_weights: set[PathKey] = set()
        self.expectations_skipped = False

    # -- reporting -------------------------------------------------------------------

    def err(
        self,
        path: PathKey,
        message: str,
        suggestion: str | None = None,
        *,
        at_key: bool = False,
        code: str,
    ) -> None:
        self.problems.append(
            self.doc.problem(path, message, suggestion=suggestion, at_key=at_key, code=code)
        )

    def warn(
        self, path: PathKey, message: str, suggestion: str | None = None, *, code: str
    ) -> None:
        self.problems.append(
            self.doc.problem(path, message, severity="warning", suggestion=suggestion, code=code)
        )

    def line(self, path: PathKey) -> int:
        return self.doc.position(path).line

    def label_of(self, path: PathKey, raw: object) -> str:
        if isinstance(raw, dict):
            label = raw.get("label") or raw.get("id")
            if isinstance(label, str):
                return label
        return json_path(path)

    # -- top level ----------------------------------------------------------------------

    def build(self) -> model.Ruleset | None:
        d = self.data
        tp = _dec(d.get("total_points", Decimal(100)))
        if tp is not None and tp > 0:
            self.total_points = tp
        guard = self._guard
        guard("ids", self._collect_ids, None)
        in_force = guard("in_force", self._in_force, model.InForce("", None))
        rounding = guard("rounding", self._rounding, model.Rounding())
        self.money = guard("money", self._money, model.Money())
        guard("metrics", self._metrics, None)
        show = guard("show", self._show, tuple[str, ...]())
        weighting_raw = d.get("weighting", "points")
        # An unknown weighting (reported by the schema) turns weight checks off, not on.
        weighting = cast(
            model.Weighting, weighting_raw if weighting_raw in _WEIGHTINGS else "unknown"
        )
        categories = guard(
            "categories",
            lambda: self._categories(
                d.get("categories"), ("categories",), weighting, self.total_points, None
            ),
            list[model.Category](),
        )
        guard(
            "categories",
            lambda: self._check_weight_sum(
                d.get("categories"),
                ("categories",),
                weighting,
                self.total_points,
                None,
                "总分",
                ("categories",),
            ),
            None,
        )
        grades = guard("grades", self._grades, list[tuple[int, model.Band]]())
        vetoes = guard("vetoes", self._vetoes, list[model.Veto]())
        adjustments = guard("adjustments", self._adjustments, model.Adjustments())
        guard("grades", lambda: self._check_grade_coverage(grades, adjustments), None)
        grade_bands = [band for _, band in grades]
        outcomes = guard("outcomes", self._outcomes, list[model.Outcome]())
        self.condition_formulas = [
            *(v.when for v in vetoes),
            *(f for r in adjustments.rules for f in (r.points, r.when) if f is not None),
            *(f for o in outcomes for f in (o.when, o.amount) if f is not None),
        ]
        tests = guard("tests", lambda: self._tests(d.get("tests")), list[model.TestCase]())
        try:
            return model.Ruleset(
                id=str(d.get("id", "")),
                title=str(d.get("title", "")),
                version=format_decimal(d["version"])
                if isinstance(d.get("version"), Decimal)
                else str(d.get("version", "")),
                source=str(d.get("source", "")),
                in_force=in_force,
                cycle=_text(d.get("cycle")),
                total_points=self.total_points,
                rounding=rounding,
                weighting=weighting,
                metrics=tuple(self.metrics.values()),
                categories=tuple(categories),
                vetoes=tuple(vetoes),
                adjustments=adjustments,
                grades=tuple(grade_bands),
                outcomes=tuple(outcomes),
                tests=tuple(tests),
                file=self.doc.file,
                text=self.text,
                money=self.money,
                show=show,
                entity_columns=guard("data", self._entity_columns, ()),
            )
        except (TypeError, ValueError, KeyError):
            # Only reachable when earlier problems were reported; the caller discards it.
            return None

    def _guard(self, section: str, check: Callable[[], T], default: T) -> T:
        """Run one section's checks; a value of an unexpected shape never escapes as an exception.

        The schema reports a value of the wrong shape; when it already has, what the semantic
        check tripped over is that same value, so nothing more is said. Otherwise the check
        itself has a gap, reported as such (and covered by the fuzz tests).
        """
        try:
            return check()
        except (TypeError, AttributeError, ValueError, KeyError, IndexError, ArithmeticError):
            if not self.schema_failed:
                self.err(
                    (section,),
                    f"无法完成对 {section} 的检查：其中有无法识别的写法",
                    "请对照 docs/ruleset-format.md 检查这一节",
                    code="KR301",
                )
            return default

    def _collect_ids(self) -> None:
        """Every id lives in one namespace, because formulas refer to all of them by name."""
        d = self.data
        metrics = d.get("metrics")
        if isinstance(metrics, dict):
            for key in metrics:
                self._claim(str(key), ("metrics", key), at_key=True)

        def visit(items: object, path: PathKey) -> None:
            if not isinstance(items, list):
                return
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                ipath = (*path, i)
                if isinstance(item.get("id"), str):
                    self._claim(item["id"], (*ipath, "id"))
                    if path[-1] == "categories":
                        self.category_ids.add(item["id"])
                    else:
                        self.indicator_ids.add(item["id"])
                visit(item.get("categories"), (*ipath, "categories"))
                visit(item.get("indicators"), (*ipath, "indicators"))

        visit(d.get("categories"), ("categories",))
        for section in ("vetoes", "outcomes"):
            items = d.get(section)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        self._claim(item["id"], (section, i, "id"))
        adj = d.get("adjustments")
        if isinstance(adj, dict) and isinstance(adj.get("rules"), list):
            for i, item in enumerate(adj["rules"]):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    self._claim(item["id"], ("adjustments", "rules", i, "id"))

    def _claim(self, name: str, path: PathKey, *, at_key: bool = False) -> None:
        if name in RESERVED or keyword.iskeyword(name) or name in ("True", "False", "None"):
            self.err(
                path, f"“{name}” 是保留名字，不能用作 id", "换一个名字", at_key=at_key, code="KR302"
            )
            return
        if name in self.ids:
            first = self.doc.key_position(self.ids[name]).line
            self.err(
                path,
                f"id “{name}” 重复（第 {first} 行已使用）：指标、类别、否决项、加减分和结果规则的 id 必须各不相同",
                at_key=at_key,
                code="KR303",
            )
            return
        self.ids[name] = path

    def _in_force(self) -> model.InForce:
        raw = self.data.get("in_force")
        if not isinstance(raw, dict):
            return model.InForce("", None)
        dates: dict[str, dt.date] = {}
        for key in ("from", "to"):
            value = raw.get(key)
            if isinstance(value, str):
                try:
                    dates[key] = dt.date.fromisoformat(value)
                except ValueError:
                    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                        self.err(("in_force", key), f"日期 “{value}” 不存在", code="KR304")
                    else:
                        message = f"日期 “{value}” 的写法不对"
                        self.err(("in_force", key), message, date_fix(value), code="KR207")
        if "from" in dates and "to" in dates and dates["to"] < dates["from"]:
            self.err(
                ("in_force", "to"),
                f"施行期间的结束日期 {raw['to']} 早于开始日期 {raw['from']}",
                code="KR305",
            )
        return model.InForce(str(raw.get("from", "")), _text(raw.get("to")))

    def _rounding(self) -> model.Rounding:
        raw = self.data.get("rounding")
        if not isinstance(raw, dict):
            return model.Rounding()
        places = _dec(raw.get("places", 2))
        return model.Rounding(
            places=int(places) if places is not None else 2,
            mode=cast(model.RoundingMode, raw.get("mode", "half_up")),
            at=cast(Any, raw.get("at", "total")),
        )

    def _money(self) -> model.Money:
        raw = self.data.get("money")
        if not isinstance(raw, dict):
            return model.Money()
        places = _dec(raw.get("places", 2))
        unit, mode = raw.get("unit", "元"), raw.get("mode", "half_up")
        return model.Money(
            unit=unit if isinstance(unit, str) and unit.strip() else "元",
            places=int(places) if places is not None and 0 <= places <= 4 else 2,
            mode=cast(
                model.RoundingMode, mode if mode in get_args(model.RoundingMode) else "half_up"
            ),
        )

    def _show(self) -> tuple[str, ...]:
        """Metrics listed with every result: they exist and are quantities with a measure."""
        raw = self.data.get("show")
        if not isinstance(raw, list):
            return ()
        out: list[str] = []
        for i, mid in enumerate(raw):
            if not isinstance(mid, str):
                continue
            path: PathKey = ("show", i)
            if mid not in self.metric_data and mid in self.ids:
                self.err(
                    path,
                    f"“{mid}” 不是指标：show 只能列出 metrics 中的指标",
                    "结果规则的金额已随结果列出，不必写在 show 中",
                    code="KR306",
                )
                continue
            if mid not in self.metric_data:
                self.err(
                    path,
                    f"show 中的指标 “{mid}” 没有定义：show 只能列出 metrics 中的指标",
                    did_you_mean(mid, self.metric_data) or _available(self.metric_data),
                    code="KR307",
                )
                continue
            metric = self.metrics.get(mid)
            if metric is None:
                continue  # the metric itself was reported
            if metric.unit not in _SHOWN_UNITS:
                self.err(
                    path,
                    f"show 只能列出金额、计数或时长指标：“{metric.label}”（{mid}）是"
                    f"{_unit_word(metric.unit)}",
                    "百分比、比值和评分已在各项得分的说明中列出",
                    code="KR308",
                )
                continue
            if mid not in out:
                out.append(mid)
        return tuple(out)

    # -- metrics ------------------------------------------------------------------------

    def _metrics(self) -> None:
        raw = self.data.get("metrics")
        if not isinstance(raw, dict):
            return
        for mid, spec in raw.items():
            if not isinstance(spec, dict):
                continue
            self.metric_data[mid] = spec
        for mid, spec in self.metric_data.items():
            metric = self._metric(mid, spec, ("metrics", mid))
            if metric is not None:
                self.metrics[mid] = metric
        self._check_metric_cycles()

    def _metric(self, mid: str, spec: dict[str, Any], path: PathKey) -> model.Metric | None:
        unit = spec.get("unit")
        measure = _text(spec.get("in"))
        if unit not in UNITS:
            return None  # the schema reported it; checks that depend on the unit would echo it
        if unit == "duration" and measure is None:
            self.err(path, "时长指标要用 in 写明单位：分钟、小时、天或工作日", code="KR309")
        if measure is not None:
            self._check_measure(unit, measure, (*path, "in"))
        bounds: dict[str, Decimal | None] = {"min": None, "max": None}
        for key in ("min", "max"):
            if key in spec:
                bounds[key] = self._quantity(spec[key], unit, measure, (*path, key))
        lo, hi = bounds["min"], bounds["max"]
        if unit == "percent":
            lo = _ZERO if lo is None else lo
            hi = Decimal(1) if hi is None and "max" not in spec else hi
        elif unit in ("count", "money", "duration") and lo is None:
            lo = _ZERO
        if unit == "rating" and (bounds["min"] is None or bounds["max"] is None):
            self.err(path, "评分指标要写明评分范围 min 和 max，如 min: 0、max: 100", code="KR310")
        if lo is not None and hi is not None and lo >= hi:
            self.err(
                (*path, "max"),
                f"max（{format_decimal(hi)}）必须大于 min（{format_decimal(lo)}）",
                code="KR311",
            )
        if "ratings" in spec and unit != "rating":
            self.err(
                (*path, "ratings"),
                "ratings（多人评分合成）只用于 unit: rating 的指标",
                code="KR312",
            )
        ratings = None
        if isinstance(spec.get("ratings"), dict):
            r = spec["ratings"]
            combine = r.get("combine", "mean")
            min_raters = _dec(r.get("min_raters"))
            n = (
                int(min_raters)
                if min_raters is not None
                else (3 if combine == "trimmed_mean" else 1)
            )
            if combine == "trimmed_mean" and n < 3:
                self.err(
                    (*path, "ratings", "min_raters"),
                    "去掉最高分和最低分后至少要剩 1 个评分：trimmed_mean 的 min_raters 至少为 3",
                    code="KR313",
                )
            ratings = model.Ratings(combine=combine, min_raters=n)
        formula = None
        if "formula" in spec:
            formula = self._formula(
                spec["formula"], (*path, "formula"), _AllBut(self.metric_data.keys(), mid)
            )
            if unit == "rating":
                self.err((*path, "formula"), "评分指标由评分人打分，不能用公式派生", code="KR314")
        aggregate = spec.get("aggregate")
        if formula is not None:
            if aggregate not in (None, "recompute"):
                self.err(
                    (*path, "aggregate"),
                    f"派生指标按公式由汇总后的输入重新计算（率 = 分子之和 / 分母之和），不能写 aggregate: {aggregate}",
                    "删除 aggregate 或写 recompute",
                    code="KR315",
                )
            aggregate = "recompute"
        elif aggregate == "recompute":
            self.err(
                (*path, "aggregate"), "只有派生指标（有 formula）才能用 recompute", code="KR316"
            )
        elif aggregate is None and unit in _INPUT_SUM_UNITS:
            aggregate = "sum"
        elif aggregate == "sum" and unit in ("percent", "ratio", "rating"):
            self.err(
                (*path, "aggregate"),
                f"{'百分比' if unit == 'percent' else '比值或评分'}不能跨期相加",
                "率应由分子、分母两个计数指标派生（formula: 分子 / 分母），或写 aggregate: mean / last",
                code="KR317",
            )
        elif aggregate in ("any", "all") and unit != "yes_no":
            self.err((*path, "aggregate"), f"aggregate: {aggregate} 只用于是/否指标", code="KR318")
        return model.Metric(
            id=mid,
            label=str(spec.get("label", mid)),
            unit=unit,
            measure=measure,
            minimum=lo,
            maximum=hi,
            formula=formula,
            aggregate=str(aggregate) if aggregate is not None else "",
            ratings=ratings,
            source=_text(spec.get("source")),
            line=self.line(path),
            previous_of=self._previous_of(mid, spec, path, unit, formula),
            columns=self._rating_columns(mid, spec, path, unit),
        )

    def _rating_columns(
        self, mid: str, spec: dict[str, Any], path: PathKey, unit: str
    ) -> tuple[str, ...]:
        """The assessor columns a rating declares: one column per assessor in metrics files."""
        raw = spec.get("columns")
        if not isinstance(raw, list):
            return ()
        if unit != "rating":
            self.err(
                (*path, "columns"),
                "columns（每位评委一列）只用于 unit: rating 的指标",
                code="KR319",
            )
            return ()
        names = tuple(c.strip() for c in raw if isinstance(c, str))
        for i, name in enumerate(names):
            for other, other_spec in self.metric_data.items():
                if not isinstance(other_spec, dict):
                    continue
                if name in (other, other_spec.get("label")):
                    self.err(
                        (*path, "columns", i),
                        f"列名 “{name}” 已是指标 {other} 的名称",
                        code="KR320",
                    )
                elif (
                    other != mid
                    and isinstance(other_spec.get("columns"), list)
                    and name in other_spec["columns"]
                ):
                    self.err(
                        (*path, "columns", i),
                        f"列名 “{name}” 也是指标 {other} 的评委列",
                        code="KR321",
                    )
            if name in names[:i]:
                self.err((*path, "columns", i), f"列名 “{name}” 重复", code="KR322")
        return names

    def _entity_columns(self) -> tuple[str, ...]:
        """Extra entity-column names from ``data: {entity_column: …}``."""
        data = self.data.get("data")
        if not isinstance(data, dict):
            return ()
        raw = data.get("entity_column")
        names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        out: list[str] = []
        for i, name in enumerate(names):
            if not isinstance(name, str):
                continue
            at: PathKey = (
                ("data", "entity_column", i)
                if isinstance(raw, list)
                else (
                    "data",
                    "entity_column",
                )
            )
            for mid, spec in self.metric_data.items():
                if isinstance(spec, dict) and name.strip() in (
                    mid,
                    spec.get("label"),
                    *(spec.get("columns") or []),
                ):
                    self.err(at, f"编号列名 “{name}” 与指标 {mid} 的列名相同", code="KR323")
            out.append(name.strip())
        return tuple(out)

    def _previous_of(
        self, mid: str, spec: dict[str, Any], path: PathKey, unit: str, formula: Formula | None
    ) -> str | None:
        source = spec.get("previous_of")
        if not isinstance(source, str):
            return None
        if formula is not None:
            self.err(
                (*path, "previous_of"), "上一期的值由数据汇总得到，不能同时写 formula", code="KR324"
            )
            return None
        other = self.metric_data.get(source)
        if other is None or source == mid:
            self.err(
                (*path, "previous_of"),
                f"previous_of 引用的指标 “{source}” 没有在 metrics 中声明",
                did_you_mean(source, set(self.metric_data) - {mid}),
                code="KR325",
            )
            return None
        if "formula" in other:
            self.err(
                (*path, "previous_of"),
                f"“{source}” 是派生指标：previous_of 只能引用输入指标",
                code="KR326",
            )
            return None
        if other.get("unit") != unit:
            self.err(
                (*path, "previous_of"),
                f"“{mid}” 与 “{source}” 的单位不同，无法作为上一期的值",
                code="KR327",
            )
            return None
        return source

    def _check_measure(self, unit: str, measure: str, path: PathKey) -> None:
        try:
            probe = parse_quantity("1" + measure)
        except QuantityError:
            self.err(
                path,
                f"单位 “{measure}” 无法识别：写一个词，如 次、件、元、万元、小时、工作日",
                code="KR328",
            )
            return
        problem = word_problem(probe, unit, measure)
        if unit in ("percent", "ratio", "yes_no", "rating"):
            self.err(path, f"{unit} 指标不需要 in（单位）", code="KR329")
        elif problem:
            self.err(path, problem, code="KR330")

    def _check_metric_cycles(self) -> None:
        """Report each formula reference that closes a loop (depth first, no recursion)."""
        deps = {
            mid: sorted({n for n in m.formula.names if n in self.metrics})
            for mid, m in self.metrics.items()
            if m.formula is not None
        }
        state: dict[str, int] = {}
        for start in deps:
            if start in state:
                continue
            # ``trail`` is the path being walked; ``at`` gives each of its nodes' place in it.
            trail = [start]
            at = {start: 0}
            state[start] = 1
            stack = [iter(deps[start])]
            while stack:
                node = trail[-1]
                for nxt in stack[-1]:
                    if state.get(nxt) == 1:
                        cycle = [*trail[at[nxt] :], nxt]
                        self.err(
                            ("metrics", node, "formula"),
                            "派生指标相互引用，形成循环：" + " → ".join(cycle),
                            code="KR331",
                        )
                    elif nxt not in state:
                        state[nxt] = 1
                        at[nxt] = len(trail)
                        trail.append(nxt)
                        stack.append(iter(deps.get(nxt, ())))
                        break
                else:
                    state[node] = 2
                    del at[node]
                    trail.pop()
                    stack.pop()

    def _quantity(
        self, raw: object, unit: str, measure: str | None, path: PathKey
    ) -> Decimal | None:
        """A quantity in the metric's terms, with unit and exactness checked."""
        return drain(read_quantity(self.doc, raw, unit, measure, path), self.problems)

    def _formula(
        self,
        raw: object,
        path: PathKey,
        names: AbstractSet[str],
        *,
        condition: bool = False,
        context: str = "公式",
    ) -> Formula | None:
        check = read_formula(
            self.doc,
            raw,
            path,
            names,
            condition=condition,
            context=context,
            metrics=self.metrics,
        )
        return drain(check, self.problems)

    # -- categories and indicators ---------------------------------------------------------

    def _weight(self, raw: object, weighting: str, path: PathKey) -> Decimal | None:
        """The weight as written, or None (recorded as bad) when it cannot be used."""
        value = self._read_weight(raw, weighting, path)
        if value is None and raw is not None:
            self.bad_weights.add(path[:-1])
        return value

    def _read_weight(self, raw: object, weighting: str, path: PathKey) -> Decimal | None:
        """The weight as written: points, a share, or a percent (returned as the number, 30 for 30%)."""
        if raw is None:
            return None
        try:
            q = parse_quantity(raw)
        except QuantityError as exc:
            self.err(path, f"权重{exc}", code="KR337")
            return None
        if weighting not in _WEIGHTINGS:
            return q.number
        percent_mode = weighting in ("percent_of_total", "percent_of_parent")
        if percent_mode and not q.is_percent:
            self.err(
                path,
                f"权重按百分比计（weighting: {weighting}），应写成百分数",
                f"写成 {q.text}%",
                code="KR338",
            )
            return None
        if not percent_mode and q.is_percent:
            what = "分值" if weighting == "points" else "份额"
            self.err(
                path,
                f"权重按{what}计（weighting: {weighting}），不能写百分数 {q.text}",
                "去掉 % 号，或把上级的 weighting 改为 percent_of_total / percent_of_parent",
                code="KR339",
            )
            return None
        if q.word and not q.is_percent:
            self.err(path, f"权重不能带单位 “{q.word}”", code="KR340")
            return None
        if q.number < 0:
            self.err(path, "权重不能为负数", code="KR341")
            return None
        return q.number

    def _child_points(
        self, weight: Decimal | None, weighting: str, parent_points: Decimal, share_total: Decimal
    ) -> Decimal:
        if weight is None:
            return _ZERO
        if weighting == "points":
            return weight
        if weighting == "percent_of_total":
            return self.total_points * weight / _HUNDRED
        if weighting == "percent_of_parent":
            return parent_points * weight / _HUNDRED
        if share_total == 0:
            return _ZERO
        return parent_points * weight / share_total

    def _counts(self, item: object) -> bool:
        """Whether an item takes part in its parent's weights (monitor and bonus items do not)."""
        if not isinstance(item, dict):
            return False
        scoring = item.get("scoring")
        method = scoring.get("method") if isinstance(scoring, dict) else None
        if "metric" in item:
            known = METHODS.get(method) if isinstance(method, str) else None
            return (known is None or known.counts) and item.get("direction") != "monitor"
        return True

    def _children(
        self, raw: dict[str, Any] | None, path: PathKey
    ) -> list[tuple[PathKey, dict[str, Any]]]:
        out: list[tuple[PathKey, dict[str, Any]]] = []
        keys = ("categories", "indicators") if raw is not None else ("categories",)
        source: dict[str, Any] = raw if raw is not None else self.data
        for key in keys:
            items = source.get(key)
            if isinstance(items, list):
                base = (*path, key) if raw is not None else (key,)
                out.extend(
                    ((*base, i), item) for i, item in enumerate(items) if isinstance(item, dict)
                )
        return out

    def _share_total(
        self, children: Sequence[tuple[PathKey, dict[str, Any]]], weighting: str
    ) -> Decimal:
        total = _ZERO
        if weighting != "share":
            return total
        for _, item in children:
            if self._counts(item):
                w = _dec(item.get("weight"))
                total += w if w is not None else _ZERO
        return total

    def _categories(
        self,
        items: object,
        path: PathKey,
        weighting: model.Weighting,
        parent_points: Decimal,
        parent: dict[str, Any] | None,
    ) -> list[model.Category]:
        if not isinstance(items, list):
            return []
        siblings = (
            self._children(parent, path[:-1]) if parent is not None else self._children(None, ())
        )
        share_total = self._share_total(siblings, weighting)
        out = []
        for i, raw in enumerate(items):
            if not isinstance(raw, dict):
                continue
            cpath = (*path, i)
            weight = self._weight(raw.get("weight"), weighting, (*cpath, "weight"))
            if "weight" not in raw:
                self.err(cpath, f"类别 “{self.label_of(cpath, raw)}” 缺少权重 weight", code="KR342")
            points = self._child_points(weight, weighting, parent_points, share_total)
            declared = raw.get("weighting", weighting)
            child_weighting = cast(
                model.Weighting, declared if declared in _WEIGHTINGS else "unknown"
            )
            subcats = self._categories(
                raw.get("categories"), (*cpath, "categories"), child_weighting, points, raw
            )
            indicators = self._indicators(raw, cpath, child_weighting, points)
            if not raw.get("categories") and not raw.get("indicators"):
                self.err(cpath, f"类别 “{self.label_of(cpath, raw)}” 下没有指标", code="KR343")
            self._check_weight_sum(
                raw,
                cpath,
                child_weighting,
                points,
                weight,
                f"类别“{self.label_of(cpath, raw)}”",
                cpath,
                parent_weighting=weighting,
            )
            out.append(
                model.Category(
                    id=str(raw.get("id", "")),
                    label=str(raw.get("label", "")),
                    weight=weight,
                    points=points,
                    weighting=child_weighting,
                    categories=tuple(subcats),
                    indicators=tuple(indicators),
                    source=_text(raw.get("source")),
                    line=self.line(cpath),
                )
            )
        return out

    def _check_weight_sum(
        self,
        raw: object,
        path: PathKey,
        weighting: str,
        points: Decimal,
        weight: Decimal | None,
        what: str,
        at: PathKey,
        *,
        parent_weighting: str | None = None,
    ) -> None:
        """Children's weights must add up to what their parent declares."""
        if weighting not in _WEIGHTINGS or weighting == "share" or at in self.bad_weights:
            return
        children = self._children(raw, path) if isinstance(raw, dict) else self._children(None, ())
        counted = [(cpath, item) for cpath, item in children if self._counts(item)]
        weights = []
        for cpath, item in counted:
            w = self._weight_quiet(item.get("weight"))
            if w is None or cpath in self.bad_weights:
                return  # a missing or malformed weight was reported already
            weights.append(w)
        if not weights:
            return
        summed = sum(weights, _ZERO)
        unit = " 分" if weighting == "points" else "%"
        summed_text = format_decimal(summed) + unit
        if weighting == "points":
            expected = points
            declared = f"{format_decimal(points)} 分"
        elif weighting == "percent_of_total":
            expected = points / self.total_points * _HUNDRED
            declared = (
                _pct(weight)
                if weight is not None and parent_weighting == "percent_of_total"
                else f"{_pct(expected)}（折合）"
            )
        else:
            expected = _HUNDRED
            declared = "100%"
        if abs(summed - expected) <= _TOLERANCE:
            return
        parts = "、".join(
            f"{item.get('label', item.get('id', '?'))} {format_decimal(w)}"
            + ("" if weighting == "points" else "%")
            for (_, item), w in zip(counted, weights, strict=True)
        )
        top = at == ("categories",)
        if weighting == "percent_of_parent":
            owner = "各类别" if top else f"{what}下各项"
            message = f"{owner}权重（占上级的百分比）合计为 {summed_text}（{parts}），应为 100%"
        elif top:
            message = f"各类别权重合计为 {summed_text}（{parts}），但{what}为 {declared}"
        else:
            message = f"{what}的权重为 {declared}，但其下各项权重合计为 {summed_text}（{parts}）"
        where = "在顶层" if top else "在该类别"
        self.err(
            at,
            message,
            f"请修改权重使两者相等；如果下级权重只表示相对份额，可{where}写 weighting: share",
            code="KR344",
        )

    def _weight_quiet(self, raw: object) -> Decimal | None:
        try:
            q = parse_quantity(raw)
        except QuantityError:
            return None
        return q.number

    def _indicators(
        self,
        parent: dict[str, Any],
        ppath: PathKey,
        weighting: str,
        parent_points: Decimal,
    ) -> list[model.Indicator]:
        items = parent.get("indicators")
        if not isinstance(items, list):
            return []
        share_total = self._share_total(self._children(parent, ppath), weighting)
        out = []
        for i, raw in enumerate(items):
            if not isinstance(raw, dict):
                continue
            ind = self._indicator(
                raw, (*ppath, "indicators", i), weighting, parent_points, share_total
            )
            if ind is not None:
                out.append(ind)
                self.built_indicators.append(ind)
        return out

    def _indicator(
        self,
        raw: dict[str, Any],
        path: PathKey,
        weighting: str,
        parent_points: Decimal,
        share_total: Decimal,
    ) -> model.Indicator | None:
        label = self.label_of(path, raw)
        scoring_raw = raw.get("scoring") if isinstance(raw.get("scoring"), dict) else {}
        assert isinstance(scoring_raw, dict)
        method_raw = scoring_raw.get("method")
        method = (
            method_raw if isinstance(method_raw, str) and method_raw in _METHOD_PARAMS else None
        )
        counts = self._counts(raw)
        weight = None
        if counts:
            if "weight" not in raw:
                self.err(path, f"指标 “{label}” 缺少权重 weight", code="KR345")
            weight = self._weight(raw.get("weight"), weighting, (*path, "weight"))
        elif "weight" in raw:
            w = self._weight_quiet(raw.get("weight"))
            if w is not None and w != 0:
                own = METHODS[method].own_points if method else None
                why = f"加分项的上限写在 scoring.{own}" if own else "监测指标只计算和报告，不计分"
                self.err((*path, "weight"), f"{why}，不能有权重", "删除 weight", code="KR346")
        points = self._child_points(weight, weighting, parent_points, share_total)
        own_points = METHODS[method].own_points if method else None
        if own_points:
            points = _dec(scoring_raw.get(own_points)) or _ZERO
            self.bonus_caps.append(points)

        metric_id = raw.get("metric")
        metric = self.metrics.get(metric_id) if isinstance(metric_id, str) else None
        if isinstance(metric_id, str) and metric_id not in self.metric_data:
            self.err(
                (*path, "metric"),
                f"指标 “{label}” 使用的 metric “{metric_id}” 没有在 metrics 中声明",
                did_you_mean(metric_id, self.metric_data),
                code="KR347",
            )

        declared = raw.get("direction")
        direction = declared if declared in _DIRECTIONS else None
        if declared is not None and direction is None:
            return None  # the schema reported the unknown direction; checks would echo it
        target: Target | None = None
        target_value: Decimal | bool | None = None
        target_broken = False
        if "target" in raw:
            try:
                target = parse_target(raw["target"])
            except QuantityError as exc:
                target_broken = True
                if metric is not None and metric.unit == "yes_no":
                    self.err(
                        (*path, "target"),
                        f"是/否指标 “{metric.label}” 的目标应写 是 或 否，而不是 “{raw['target']}”",
                        code="KR348",
                    )
                else:
                    self.err((*path, "target"), str(exc), code="KR349")
            if target is not None and metric is not None:
                target_value = self._target_value(target, metric, (*path, "target"), method)
                target_broken = target_value is None
        inferred = False
        if direction is None and target is not None and not target_broken:
            direction = _DIRECTION_OF_OP[target.op]
            inferred = True
        if direction is None:
            direction = _DEFAULT_DIRECTION.get(method or "")
        if direction is None:
            if method in _NEEDS_DIRECTION and not target_broken and metric is not None:
                self.err(
                    path,
                    f"指标 “{label}” 要写 direction（higher_better / lower_better），或写带比较符号的 target",
                    code="KR350",
                )
            direction = "higher_better"
        if target is not None and target.quantity is not None and not target_broken:
            self._check_direction(direction, target, (*path, "target"), label)
        if method in _NEEDS_TARGET and "target" not in raw:
            self.err(path, f"指标 “{label}” 的计分方法 {method} 需要目标 target", code="KR351")
        missing = raw.get("missing", "error")
        if target_broken or metric is None:
            # Method checks that depend on the target or the metric would only repeat the
            # problem already reported.
            return None
        if inferred and direction == "equal" and method in _NO_EQUAL:
            assert target is not None
            self.err(
                (*path, "target"),
                f"目标 “{target.text}” 使方向成为“等于目标值”（equal），而计分方法 {method} 要求越高越好或越低越好",
                "目标是上限或下限时写 ≥ 或 ≤（如 ≥ 100%），或改用 pass_fail、deduct",
                code="KR352",
            )
            return None
        scoring = self._scoring(
            scoring_raw, (*path, "scoring"), metric, direction, points, target, label
        )
        if metric is None or scoring is None:
            return None
        return model.Indicator(
            id=str(raw.get("id", "")),
            label=str(raw.get("label", "")),
            metric=metric.id,
            weight=weight,
            points=points,
            direction=cast(model.Direction, direction),
            target=target,
            target_value=target_value,
            scoring=scoring,
            missing=cast(model.Missing, missing),
            source=_text(raw.get("source")),
            line=self.line(path),
        )

    def _target_value(
        self, target: Target, metric: model.Metric, path: PathKey, method: object
    ) -> Decimal | bool | None:
        if metric.unit == "yes_no":
            if target.flag is None:
                self.err(
                    path,
                    f"是/否指标 “{metric.label}” 的目标应写 是 或 否，而不是 “{target.text}”",
                    code="KR348",
                )
                return None
            return target.flag
        if target.flag is not None:
            self.err(
                path,
                f"指标 “{metric.label}” 是{_unit_word(metric.unit)}，目标不能写 “{target.text}”",
                code="KR353",
            )
            return None
        assert target.quantity is not None
        if isinstance(method, str) and METHODS[method].change_target:
            # The target of a change is a change: relative changes are percentages.
            return self._quantity(target.quantity.text, "ratio", None, path)
        value = self._quantity(
            target.quantity.text if target.quantity.word else target.quantity.number,
            metric.unit,
            metric.measure,
            path,
        )
        if value is None:
            return None
        if (metric.minimum is not None and value < metric.minimum) or (
            metric.maximum is not None and value > metric.maximum
        ):
            self.err(
                path,
                f"目标 {target.text} 超出指标 “{metric.label}” 的取值范围"
                f"（{_show_value(metric.minimum, metric)} 到 {_show_value(metric.maximum, metric)}）",
                None if english() else range_fix(metric, value, "目标"),
                code="KR354",
            )
        return value

    def _check_direction(self, direction: str, target: Target, path: PathKey, label: str) -> None:
        op = target.op
        contradicts = (
            (direction == "lower_better" and op in (">=", ">"))
            or (direction == "higher_better" and op in ("<=", "<"))
            or (direction == "equal" and op != "=")
        )
        if contradicts:
            words = {
                "lower_better": "越低越好",
                "higher_better": "越高越好",
                "equal": "等于目标值",
            }[direction]
            self.warn(
                path,
                f"指标 “{label}” 的方向是{words}（{direction}），但目标写的是 {OP_TEXT[op]}：两者矛盾",
                "检查 direction 或目标的比较符号",
                code="KR355",
            )

    # -- scoring methods ---------------------------------------------------------------------

    def _scoring(
        self,
        raw: dict[str, Any],
        path: PathKey,
        metric: model.Metric,
        direction: str,
        points: Decimal,
        target: Target | None,
        label: str,
    ) -> model.Scoring | None:
        """The method's own check reads its parameters; what every method shares is here."""
        method = raw.get("method")
        if not isinstance(method, str) or method not in _METHOD_PARAMS:
            return None
        allowed = _METHOD_PARAMS[method]
        for key in raw:
            if key != "method" and key not in allowed:
                users = sorted(m for m, ps in _METHOD_PARAMS.items() if key in ps)
                self.err(
                    (*path, key),
                    f"参数 {key} 不适用于计分方法 {method}"
                    + (f"（它用于 {'、'.join(users)}）" if users else ""),
                    at_key=True,
                    code="KR356",
                )
        if metric.unit == "yes_no" and not METHODS[method].yes_no:
            self.err(path, f"是/否指标 “{label}” 只能用 {_YES_NO_METHODS} 计分", code="KR360")
        if method in _NO_EQUAL and direction not in ("higher_better", "lower_better"):
            self.err(
                path, f"计分方法 {method} 要求方向为 higher_better 或 lower_better", code="KR361"
            )
        where = Where(
            self.doc,
            path,
            label,
            metric,
            direction,
            points,
            target,
            frozenset(self.metric_data),
            self.metrics,
        )
        params = drain(METHODS[method].check(raw, where), self.problems)
        return None if params is None else model.Scoring(method, cast(model.Params, params))

    def _bands(
        self, raw: list[Any], path: PathKey, unit: str, measure: str | None, value_key: str
    ) -> list[tuple[int, model.Band]]:
        """Rows or grade bands with their index in the list (rows with errors are left out)."""
        return drain(bands(self.doc, raw, path, unit, measure, value_key), self.problems)

    def _coverage(
        self,
        listed: list[tuple[int, model.Band]],
        lo: Decimal | None,
        hi: Decimal | None,
        path: PathKey,
        what: str,
        unit: str,
    ) -> None:
        """Bands must cover [lo, hi] exactly once: no gap, no overlap."""
        self.problems.extend(coverage(self.doc, listed, lo, hi, path, what, unit))

    # -- grades, vetoes, adjustments, outcomes --------------------------------------------

    def _grades(self) -> list[tuple[int, model.Band]]:
        raw = self.data.get("grades")
        if not isinstance(raw, list):
            return []
        bands = self._bands(raw, ("grades",), "rating", None, "grade")
        seen: dict[str, int] = {}
        for i, band in bands:
            if band.value in seen:
                self.err(
                    ("grades", i, "grade"),
                    f"等级 “{band.value}” 重复（第 {seen[band.value]} 行已有）",
                    code="KR380",
                )
            seen[band.value] = band.line
        self.grade_names = [b.value for _, b in bands]
        return bands

    def _check_grade_coverage(
        self, grades: list[tuple[int, model.Band]], adjustments: model.Adjustments
    ) -> None:
        hi: Decimal | None = self.total_points + sum(self.bonus_caps, _ZERO)
        bonus_rules = [r for r in adjustments.rules if r.kind == "bonus"]
        if adjustments.max_bonus is not None:
            assert hi is not None
            hi += adjustments.max_bonus
        elif any(r.cap is None for r in bonus_rules):
            hi = None
        else:
            assert hi is not None
            hi += sum((r.cap or _ZERO for r in bonus_rules), _ZERO)
        raw = self.data.get("grades")
        if isinstance(raw, list) and len(grades) == len(raw):
            self._coverage(grades, _ZERO, hi, ("grades",), "等级", "rating")

    def _condition_names(self, *, with_total: bool) -> set[str]:
        names = set(self.metric_data) | self.indicator_ids | self.category_ids | {"raw_total"}
        if with_total:
            names.add("total")
        return names

    def _vetoes(self) -> list[model.Veto]:
        raw = self.data.get("vetoes")
        out: list[model.Veto] = []
        if not isinstance(raw, list):
            return out
        names = self._condition_names(with_total=False)
        for i, v in enumerate(raw):
            if not isinstance(v, dict):
                continue
            path: PathKey = ("vetoes", i)
            when = (
                self._formula(
                    v.get("when"), (*path, "when"), names, condition=True, context="否决条件"
                )
                if "when" in v
                else None
            )
            effect = v.get("effect")
            cap = _dec(v.get("cap"))
            if effect != "cap_total" and "cap" in v:
                self.err((*path, "cap"), "cap 只用于 effect: cap_total", code="KR381")
            if effect != "cap_grade" and "grade" in v:
                self.err((*path, "grade"), "grade 只用于 effect: cap_grade", code="KR382")
            if cap is not None and (cap < 0 or cap > self.total_points):
                self.err(
                    (*path, "cap"),
                    f"封顶分 {format_decimal(cap)} 应在 0 到 {format_decimal(self.total_points)} 之间",
                    code="KR383",
                )
            grade = _text(v.get("grade"))
            if grade is not None and self.grade_names and grade not in self.grade_names:
                self.err(
                    (*path, "grade"),
                    f"等级 “{grade}” 没有在 grades 中定义",
                    did_you_mean(grade, self.grade_names),
                    code="KR384",
                )
            if grade is not None and not self.data.get("grades"):
                self.err((*path, "grade"), "按等级封顶需要先定义 grades", code="KR385")
            if when is None or effect not in ("zero", "cap_total", "cap_grade"):
                continue
            out.append(
                model.Veto(
                    str(v.get("id", "")),
                    str(v.get("label", "")),
                    when,
                    effect,
                    cap,
                    grade,
                    _text(v.get("source")),
                    self.line(path),
                )
            )
        return out

    def _adjustments(self) -> model.Adjustments:
        raw = self.data.get("adjustments")
        if not isinstance(raw, dict):
            return model.Adjustments()
        names = self._condition_names(with_total=False)
        rules = []
        for i, r in enumerate(raw.get("rules") or []):
            if not isinstance(r, dict):
                continue
            path: PathKey = ("adjustments", "rules", i)
            pts = (
                self._formula(r.get("points"), (*path, "points"), names, context="加减分公式")
                if "points" in r
                else None
            )
            when = (
                self._formula(
                    r.get("when"), (*path, "when"), names, condition=True, context="加减分条件"
                )
                if "when" in r
                else None
            )
            kind = r.get("kind")
            if pts is None or kind not in ("bonus", "penalty"):
                continue
            rules.append(
                model.Adjustment(
                    str(r.get("id", "")),
                    str(r.get("label", "")),
                    kind,
                    pts,
                    _dec(r.get("cap")),
                    when,
                    _text(r.get("source")),
                    self.line(path),
                )
            )
        return model.Adjustments(
            tuple(rules), _dec(raw.get("max_bonus")), _dec(raw.get("max_penalty"))
        )

    def _outcomes(self) -> list[model.Outcome]:
        raw = self.data.get("outcomes")
        out: list[model.Outcome] = []
        if not isinstance(raw, list):
            return out
        names = self._condition_names(with_total=True)
        for i, o in enumerate(raw):
            if not isinstance(o, dict):
                continue
            path: PathKey = ("outcomes", i)
            when = (
                self._formula(
                    o.get("when"), (*path, "when"), names, condition=True, context="结果条件"
                )
                if "when" in o
                else None
            )
            amount = (
                self._formula(o.get("amount"), (*path, "amount"), names, context="金额公式")
                if "amount" in o
                else None
            )
            self._check_amount(o, path, amount)
            listed = o.get("grades")
            grades = (
                tuple(g for g in listed if isinstance(g, str)) if isinstance(listed, list) else ()
            )
            for j, g in enumerate(grades):
                if g not in self.grade_names:
                    self.err(
                        (*path, "grades", j),
                        f"等级 “{g}” 没有在 grades 中定义",
                        did_you_mean(g, self.grade_names),
                        code="KR384",
                    )
            out.append(
                model.Outcome(
                    str(o.get("id", "")),
                    str(o.get("label", "")),
                    str(o.get("kind", "")),
                    when,
                    grades,
                    amount,
                    _text(o.get("source")),
                    self.line(path),
                )
            )
        return out

    def _check_amount(self, o: dict[str, Any], path: PathKey, amount: Formula | None) -> None:
        """Amounts belong to money outcomes, once rounded, in the money unit."""
        kind = o.get("kind")
        if kind == "settlement" and "amount" not in o:
            self.err(
                (*path, "kind"),
                "结算（settlement）类结果规则要写 amount：返还或结算的金额公式",
                "如 amount: deposit * total / 100",
                code="KR386",
            )
        if "amount" in o and isinstance(kind, str) and kind not in model.MONEY_KINDS:
            self.err(
                (*path, "amount"),
                f"只有 reward、penalty、settlement 类结果规则可以写金额 amount（这里是 {kind}）",
                "金额是奖金的把 kind 改为 reward，是罚款的改为 penalty，是返还的改为 settlement；"
                "否则删去 amount",
                code="KR387",
            )
        if amount is None:
            return
        if "round_half_up(" in amount.source.replace(" ", ""):
            money = self.money
            self.warn(
                (*path, "amount"),
                f"金额按 money 的规定只取舍一次（{money.places} 位小数，"
                f"{MODE_WORDS[money.mode]}）："
                "公式中的 round_half_up 会让金额先后取舍两次",
                "删去 round_half_up，需要别的位数或方式时改写 money: {places: …, mode: …}",
                code="KR388",
            )
        for name in sorted(amount.names):
            metric = self.metrics.get(name)
            if metric is None or metric.unit != "money":
                continue
            measure = metric.measure or "元"
            if measure != self.money.unit:
                self.warn(
                    (*path, "amount"),
                    f"金额公式用到的 “{metric.label}”（{name}）以 {measure} 计，"
                    f"而金额的单位是 {self.money.unit}",
                    f"在公式中换算，或把 money 的 unit 改为 {measure}",
                    code="KR389",
                )

    # -- tests ----------------------------------------------------------------------------

    def _unchecked_expectations(self, path: PathKey) -> bool:
        """Whether the ruleset's own errors make expected scores meaningless to compare.

        One wrong weight would otherwise be repeated for every test case that expects a
        score: the first such case says once that the expectations were not checked.
        """
        if english() or not any(
            p.severity == "error" and not p.path.startswith("$.tests") for p in self.problems
        ):
            return False
        if not self.expectations_skipped:
            self.expectations_skipped = True
            self.warn(
                path[:1],
                "规则集有错误，测试用例的预期得分未检查",
                "先改正上面的错误，再运行 kpirules validate 和 kpirules test",
                code="KR416",
            )
        return True

    def tests_from(self, doc: Document) -> list[model.TestCase]:
        """Check the test cases of a separate tests file against this (built) ruleset."""
        self.doc = doc  # locate problems in the tests file from now on
        data = doc.data if isinstance(doc.data, dict) else {}
        return self._tests(data.get("tests"))

    def _tests(self, raw: object) -> list[model.TestCase]:
        out: list[model.TestCase] = []
        if not isinstance(raw, list):
            return out
        names: dict[str, int] = {}
        parsed: dict[str, dict[str, Value]] = {}
        inputs = {k for k, m in self.metrics.items() if m.formula is None}
        needed = self._needed_inputs()
        for i, t in enumerate(raw):
            if not isinstance(t, dict):
                continue
            path: PathKey = ("tests", i)
            name = str(t.get("name", ""))
            if name in names:
                self.err(
                    (*path, "name"),
                    f"测试用例名 “{name}” 重复（第 {names[name]} 行已使用）",
                    code="KR402",
                )
            names[name] = self.line(path)
            given = t.get("metrics") if isinstance(t.get("metrics"), dict) else {}
            assert isinstance(given, dict)
            values: dict[str, Value] = {}
            rejected: set[str] = set()
            base = t.get("base")
            if base is not None:
                if base in parsed:
                    values.update(parsed[base])
                else:
                    self.err(
                        (*path, "base"),
                        f"base 引用的测试用例 “{base}” 不存在或不在本用例之前",
                        did_you_mean(str(base), parsed),
                        code="KR403",
                    )
            rejected |= self._test_values(given, (*path, "metrics"), values, inputs)
            cohort = self._test_cohort(t.get("cohort"), (*path, "cohort"), inputs, values)
            expect = t.get("expect") if isinstance(t.get("expect"), dict) else {}
            assert isinstance(expect, dict)
            if "error" not in expect:
                absent = sorted(needed - values.keys() - rejected, key=list(self.metrics).index)
                if absent:
                    self.err(
                        (*path, "metrics"),
                        "测试用例缺少输入："
                        + "、".join(f"{m}（{self.metrics[m].label}）" for m in absent)
                        + "；这些指标缺失时按规定会报错",
                        "补上这些值，或在 expect 中写 error 表示预期报错",
                        code="KR404",
                    )
            parsed[name] = values
            e = self._expectation(expect, (*path, "expect"))
            out.append(model.TestCase(name, tuple(values.items()), e, self.line(path), cohort))
        return out

    def _test_values(
        self, given: dict[str, Any], path: PathKey, values: dict[str, Value], inputs: set[str]
    ) -> set[str]:
        """Read a test's metric values into ``values``; return the names that were rejected."""
        rejected: set[str] = set()
        for key, raw_value in given.items():
            if key not in self.metric_data:
                self.err(
                    (*path, key),
                    f"测试用例中的指标 “{key}” 没有在 metrics 中声明",
                    did_you_mean(key, inputs),
                    at_key=True,
                    code="KR405",
                )
                # The misspelt name is probably the input reported missing: say it once.
                near = closest(key, inputs)
                if near is not None:
                    rejected.add(near)
            elif key not in inputs:
                if key in self.metrics:
                    self.err(
                        (*path, key),
                        f"“{key}” 是派生指标，由公式计算，不能直接给值",
                        at_key=True,
                        code="KR406",
                    )
            elif raw_value is None:
                values.pop(key, None)  # null removes a value inherited from base
            else:
                try:
                    values[key] = read_value(self.metrics[key], raw_value)
                except QuantityError as exc:
                    self.err((*path, key), str(exc), code="KR407")
                    rejected.add(key)
        return rejected

    def _test_cohort(
        self, raw: object, path: PathKey, inputs: set[str], start: dict[str, Value]
    ) -> tuple[tuple[str, tuple[tuple[str, Value], ...]], ...]:
        """The other entities a test is scored with (for ranks and cohort methods).

        Each starts from the test's own metrics and changes what it lists.
        """
        if not isinstance(raw, list):
            return ()
        out = []
        for i, row in enumerate(raw):
            if not isinstance(row, dict):
                continue
            entity = str(row.get("entity", f"同组第{i + 1}个"))
            values: dict[str, Value] = dict(start)
            given = {k: v for k, v in row.items() if k != "entity"}
            self._test_values(given, (*path, i), values, inputs)
            out.append((entity, tuple(values.items())))
        return tuple(out)

    def _needed_inputs(self) -> set[str]:
        """Input metrics whose absence is an error when scoring (used to check test cases)."""
        roots: set[str] = set()
        for ind in self.built_indicators:
            if ind.missing == "error":
                roots.add(ind.metric)
                roots.update(ind.scoring.params.reads())
        known = self.metrics.keys()
        for formula in self.condition_formulas:
            roots |= formula.names & known
        out: set[str] = set()
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            mid = stack.pop()
            if mid in seen or mid not in self.metrics:
                continue
            seen.add(mid)
            derived = self.metrics[mid].formula
            if derived is None:
                out.add(mid)
            else:
                stack.extend(derived.names)
        return out

    def _expectation(self, raw: dict[str, Any], path: PathKey) -> model.Expectation:
        def check_ids(key: str, known: set[str], what: str) -> None:
            value = raw.get(key)
            items = (
                value.keys()
                if isinstance(value, dict)
                else value
                if isinstance(value, list)
                else []
            )
            for item in items:
                if item not in known:
                    self.err(
                        (*path, key),
                        f"{what} “{item}” 不存在",
                        did_you_mean(str(item), known),
                        code="KR408",
                    )

        check_ids("scores", self.indicator_ids, "指标")
        points = {i.id: i.points for i in self.built_indicators}
        scores = raw.get("scores")
        if isinstance(scores, dict):
            for key, value in scores.items():
                limit = points.get(key)
                if isinstance(value, Decimal) and limit is not None and not 0 <= value <= limit:
                    if self._unchecked_expectations(path):
                        continue
                    self.err(
                        (*path, "scores", key),
                        f"预期得分 {format_decimal(value)} 超出指标的分值范围 0 到 {format_decimal(limit)}",
                        code="KR409",
                    )
        check_ids("subtotals", self.category_ids, "类别")
        outcome_ids = {
            o["id"]
            for o in self.data.get("outcomes") or []
            if isinstance(o, dict) and isinstance(o.get("id"), str)
        }
        veto_ids = {
            o["id"]
            for o in self.data.get("vetoes") or []
            if isinstance(o, dict) and isinstance(o.get("id"), str)
        }
        check_ids("outcomes", outcome_ids, "结果规则")
        check_ids("amounts", outcome_ids, "结果规则")
        without_amount = {
            o["id"]
            for o in self.data.get("outcomes") or []
            if isinstance(o, dict) and isinstance(o.get("id"), str) and "amount" not in o
        }
        amounts = raw.get("amounts")
        for key in amounts if isinstance(amounts, dict) else ():
            if key in without_amount:
                self.err(
                    (*path, "amounts", key),
                    f"结果规则 “{key}” 没有金额公式（amount），不能在 amounts 中预期金额",
                    "在 outcomes 中给它写 amount，或从 amounts 中删去",
                    code="KR410",
                )
        check_ids("vetoes", veto_ids, "否决项")
        grade = raw.get("grade")
        if isinstance(grade, str) and self.grade_names and grade not in self.grade_names:
            self.err(
                (*path, "grade"),
                f"等级 “{grade}” 没有在 grades 中定义",
                did_you_mean(grade, self.grade_names),
                code="KR411",
            )

        def pairs(key: str) -> tuple[tuple[str, Decimal], ...]:
            value = raw.get(key)
            if not isinstance(value, dict):
                return ()
            return tuple((k, v) for k, v in value.items() if isinstance(v, Decimal))

        def idlist(key: str) -> tuple[str, ...] | None:
            value = raw.get(key)
            return tuple(str(v) for v in value) if isinstance(value, list) else None

        return model.Expectation(
            total=_dec(raw.get("total")),
            raw_total=_dec(raw.get("raw_total")),
            grade=_text(grade),
            scores=pairs("scores"),
            subtotals=pairs("subtotals"),
            outcomes=idlist("outcomes"),
            vetoes=idlist("vetoes"),
            error=_text(raw.get("error")),
            amounts=pairs("amounts"),
            rank=int(raw["rank"]) if isinstance(raw.get("rank"), Decimal) else None,
        )


class _AllBut(AbstractSet[str]):
    """``set(names) - {left_out}``, built only if iterated (when a name is unknown)."""

    def __init__(self, names: KeysView[str], left_out: str) -> None:
        self.names = names
        self.left_out = left_out

    def __contains__(self, name: object) -> bool:
        return name != self.left_out and name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(set(self.names) - {self.left_out})

    def __len__(self) -> int:
        return len(self.names) - (self.left_out in self.names)


def _show_value(value: Decimal | None, metric: model.Metric) -> str:
    if value is None:
        return "不限"
    return _show_q(value, metric.unit)


__all__ = ["RESERVED", "did_you_mean", "validate_document", "validate_tests_document"]
