"""Results as tables for people: the columns every writer shares (terminal table, CSV,
XLSX, HTML report), with Chinese headers, exact values and the ruleset's display rounding.

A :class:`Table` keeps every number exact; each :class:`Column` says how it is shown
(its places and rounding mode), so a writer can show rounded figures and still keep the
exact value (``--exact``, or beside the rounded one in a workbook).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import (
    Decimal,
    localcontext,
)
from typing import Literal

import attrs

from kpirules._core.rounding import MODE_WORDS, MODES
from kpirules.engine import CONTEXT
from kpirules.methods import Reason, rounded, value_arg
from kpirules.model import Rounding, Ruleset
from kpirules.quantity import format_decimal
from kpirules.result import ItemResult, Result, decimal_text

Kind = Literal["text", "number", "integer"]
Cell = str | Decimal | int | None
Order = Literal["rank", "input"]


STATUS_WORDS = {
    "met": "达标",
    "not_met": "未达标",
    "no_target": "",
    "missing": "缺数据",
    "excluded": "不计分",
    "monitor": "监测",
    "vetoed": "触发否决",
}

VETO_EFFECT_WORDS = {"zero": "总分记为 0", "cap_total": "总分封顶", "cap_grade": "等级封顶"}

#: Units a shown value is money in, besides the ruleset's own money unit.
MONEY_UNITS = ("元", "万元", "亿元")

#: Characters that make a spreadsheet read a text cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@attrs.frozen
class Column:
    """One column: a stable key, its Chinese header, its id header, and how it is shown."""

    key: str
    header: str
    id_header: str
    kind: Kind = "text"
    places: int | None = None
    mode: str = "half_up"
    unit: str = ""
    #: Money (an outcome amount or a shown value in a money unit): shown with thousands
    #: separators where people read it (terminal table, workbook), plain in CSV.
    money: bool = False

    def shown(self, value: Cell) -> Cell:
        """The value as displayed: numbers rounded to the column's places with its mode."""
        if isinstance(value, Decimal) and self.places is not None:
            return rounded(value, Decimal(1).scaleb(-self.places), MODES[self.mode])
        return value

    def text(self, value: Cell, *, exact: bool = False, grouped: bool = False) -> str:
        """The value as text: rounded for display unless ``exact``; empty for None; money
        with thousands separators when ``grouped`` (``172,839.46``)."""
        if value is None:
            return ""
        if isinstance(value, Decimal):
            text = decimal_text(value if exact else _decimal(self.shown(value)))
            return format(Decimal(text), ",f") if grouped and self.money else text
        return str(value)


@attrs.frozen
class Table:
    """A titled table: columns and rows of exact cells (one row per entity, or per item)."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def headers(self, *, ids: bool = False) -> list[str]:
        """The header row, in Chinese or (``ids``) by id."""
        return [c.id_header if ids else c.header for c in self.columns]

    def texts(self, *, exact: bool = False, grouped: bool = False) -> list[list[str]]:
        """Every row as display text (money with thousands separators when ``grouped``)."""
        return [
            [
                col.text(cell, exact=exact, grouped=grouped)
                for col, cell in zip(self.columns, row, strict=True)
            ]
            for row in self.rows
        ]


@attrs.frozen
class Heading:
    """What a report says at its top: which ruleset, which version, which period."""

    title: str
    ruleset_id: str
    version: str
    fingerprint: str
    file: str
    period: str
    entities: int
    rounding: str


@attrs.frozen
class Attainment:
    """How all entities fared on one indicator."""

    id: str
    label: str
    category: str
    points: Decimal
    met: int
    not_met: int
    other: int
    mean_score: Decimal
    #: Scores as a share of the points available, over every entity (0 to 1).
    score_rate: Decimal


def _decimal(value: Cell) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def neutralise(text: str) -> str:
    """A text cell made safe for a spreadsheet: one that would be read as a formula
    (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading ``'``."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def rounding_words(rounding: Rounding) -> str:
    """The ruleset's rounding rule in words, e.g. ``总分保留 2 位小数，四舍五入``."""
    where = "总分" if rounding.at == "total" else "各项得分"
    return f"{where}保留 {rounding.places} 位小数，{MODE_WORDS[rounding.mode]}"


def ordered(results: Sequence[Result], order: Order = "rank") -> list[Result]:
    """Results in input order, or by rank (ties and unranked results keep input order)."""
    if order == "input":
        return list(results)
    indexed = list(enumerate(results))
    indexed.sort(key=lambda p: (p[1].rank is None, p[1].rank or 0, p[0]))
    return [r for _, r in indexed]


def heading(ruleset: Ruleset, results: Sequence[Result], *, period: str = "") -> Heading:
    """The title block of a report."""
    return Heading(
        title=ruleset.title,
        ruleset_id=ruleset.id,
        version=ruleset.version,
        fingerprint=ruleset.fingerprint,
        file=ruleset.file,
        period=period,
        entities=len(results),
        rounding=rounding_words(ruleset.rounding),
    )


def _score_column(ruleset: Ruleset, key: str, header: str, id_header: str) -> Column:
    r = ruleset.rounding
    return Column(key, header, id_header, "number", r.places, r.mode, "分")


def money_columns(ruleset: Ruleset) -> tuple[Column, ...]:
    """One column per outcome with an ``amount:`` formula (``考核保证金按总分返还（元）``,
    id header the outcome's id), then one per shown value (``show:``) with its unit.

    Amounts and shown values in a money unit are displayed at the ruleset's money places
    with its money mode: an amount is already rounded once by that rule, so display leaves
    it as it is. Other shown values are displayed exact.
    """
    money = ruleset.money
    columns = [
        Column(
            f"amount:{o.id}",
            f"{o.label}（{money.unit}）",
            o.id,
            "number",
            money.places,
            money.mode,
            money.unit,
            money=True,
        )
        for o in ruleset.outcomes
        if o.amount is not None
    ]
    metrics = {m.id: m for m in ruleset.metrics}
    for mid in ruleset.show:
        metric = metrics[mid]
        unit = metric.measure or ("元" if metric.unit == "money" else "")
        is_money = metric.unit == "money" or unit in MONEY_UNITS or unit == money.unit
        header = f"{metric.label}（{unit}）" if unit else metric.label
        places, mode = (money.places, money.mode) if is_money else (None, "half_up")
        columns.append(
            Column(f"value:{mid}", header, mid, "number", places, mode, unit, money=is_money)
        )
    return tuple(columns)


def _money_cells(ruleset: Ruleset, result: Result) -> tuple[Cell, ...]:
    """The cells of :func:`money_columns` for one result: each amount if its outcome fired
    (else empty), then each shown value (empty when missing)."""
    amounts = {o.id: o.amount for o in result.outcomes}
    values = {v.id: v.value for v in result.values}
    return (
        *[amounts.get(o.id) for o in ruleset.outcomes if o.amount is not None],
        *[values.get(mid) for mid in ruleset.show],
    )


def unrounded_amounts(
    ruleset: Ruleset, results: Sequence[Result], *, order: Order = "rank"
) -> Table:
    """Each amount as its formula computed it, before the money rule rounded it: one
    column per outcome with an ``amount:`` formula (``…（元，取舍前）``, id ``ID_unrounded``)."""
    outcomes = [o for o in ruleset.outcomes if o.amount is not None]
    unit = ruleset.money.unit
    columns = tuple(
        Column(f"unrounded:{o.id}", f"{o.label}（{unit}，取舍前）", f"{o.id}_unrounded", "number")
        for o in outcomes
    )
    rows = []
    for r in ordered(results, order):
        fired = {f.id: f.unrounded for f in r.outcomes}
        rows.append(tuple(fired.get(o.id) for o in outcomes))
    return Table("金额取舍前", columns, tuple(rows))


def ranking(ruleset: Ruleset, results: Sequence[Result], *, order: Order = "rank") -> Table:
    """The summary: one row per entity with rank, category subtotals, adjustments,
    veto, total, grade, outcomes in words, then the amount of each outcome with an
    ``amount:`` formula and the shown values (:func:`money_columns`)."""
    tops = ruleset.categories
    columns = [
        Column("rank", "排名", "rank", "integer"),
        Column("entity", "对象", "entity"),
        *[
            _score_column(
                ruleset, f"category:{c.id}", f"{c.label}（{format_decimal(c.points)}分）", c.id
            )
            for c in tops
        ],
        _score_column(ruleset, "raw_total", "各项合计", "raw_total"),
        _score_column(ruleset, "adjustment", "加减分", "adjustment"),
        Column("vetoes", "一票否决", "vetoes"),
        _score_column(ruleset, "total", "总分", "total"),
        Column("grade", "等级", "grade"),
        Column("outcomes", "奖惩结果", "outcomes"),
        *money_columns(ruleset),
    ]
    rows = []
    for r in ordered(results, order):
        rows.append(
            (
                r.rank,
                r.entity,
                *[r.subtotal(c.id) for c in tops],
                r.raw_total,
                r.adjusted_total - r.raw_total,
                "；".join(
                    f"{v.label}（{VETO_EFFECT_WORDS.get(v.kind, v.kind)}）" for v in r.vetoes
                ),
                r.total,
                r.grade or "",
                "、".join(o.label for o in r.outcomes),
                *_money_cells(ruleset, r),
            )
        )
    return Table("汇总", tuple(columns), tuple(rows))


def ranking_with_items(
    ruleset: Ruleset, results: Sequence[Result], *, order: Order = "rank"
) -> Table:
    """The summary columns followed by every indicator's score: one row per entity
    (the CSV table, and the exact values of a workbook)."""
    head = ranking(ruleset, results, order=order)
    items = item_scores(ruleset, results, order=order)
    # item_scores() starts with rank and entity and ends with the total, which the summary
    # already has: keep only the indicator columns.
    columns = head.columns + items.columns[2:-1]
    rows = tuple(a + b[2:-1] for a, b in zip(head.rows, items.rows, strict=True))
    return Table("汇总及各项得分", columns, rows)


def _category_of(ruleset: Ruleset) -> dict[str, str]:
    """Indicator id → the label of the category that holds it."""
    return {i.id: c.label for c in ruleset.all_categories() for i in c.indicators}


def item_scores(ruleset: Ruleset, results: Sequence[Result], *, order: Order = "rank") -> Table:
    """Every indicator's score: one row per entity, one column per indicator."""
    indicators = ruleset.indicators()
    labels = Counter(i.label for i in indicators)
    category_of = _category_of(ruleset)
    columns = [Column("rank", "排名", "rank", "integer"), Column("entity", "对象", "entity")]
    for ind in indicators:
        # Two indicators may share a label in different categories: name the category then.
        label = ind.label if labels[ind.label] == 1 else f"{category_of[ind.id]}·{ind.label}"
        columns.append(
            _score_column(
                ruleset, f"item:{ind.id}", f"{label}（{format_decimal(ind.points)}分）", ind.id
            )
        )
    columns.append(_score_column(ruleset, "total", "总分", "total"))
    rows = []
    for r in ordered(results, order):
        rows.append((r.rank, r.entity, *[r.item(i.id).score for i in indicators], r.total))
    return Table("各项得分", tuple(columns), tuple(rows))


def value_text(ruleset: Ruleset, item: ItemResult) -> str:
    """An item's metric value as its sentence shows it: ``96.50%``, ``77分``, ``是``."""
    try:
        metric = ruleset.metric(item.metric)
    except KeyError:
        # An indicator scored by a formula over several metrics has no single value.
        return "" if item.value is None else Reason("{}", (item.value,)).render()
    return Reason("{}", (value_arg(metric, item.value),)).render()


def explanations(
    ruleset: Ruleset,
    results: Sequence[Result],
    *,
    order: Order = "rank",
    values: bool = False,
) -> Table:
    """Every indicator of every entity with its status, score and explanation sentence;
    with ``values``, also the metric value (column ``value``, 取值, after the target)."""
    categories = {c.id: c.label for c in ruleset.all_categories()}
    value_columns = (Column("value", "取值", "value"),) if values else ()
    columns = (
        Column("entity", "对象", "entity"),
        Column("category", "类别", "category"),
        Column("indicator", "指标", "indicator"),
        Column("target", "目标", "target"),
        *value_columns,
        _score_column(ruleset, "points", "满分", "points"),
        _score_column(ruleset, "score", "得分", "score"),
        Column("status", "状态", "status"),
        Column("explanation", "计分说明", "explanation"),
        Column("line", "规则集行号", "line", "integer"),
    )
    rows = []
    for r in ordered(results, order):
        for item in r.items:
            rows.append(
                (
                    r.entity,
                    categories.get(item.category, item.category),
                    item.label,
                    item.target or "",
                    *((value_text(ruleset, item),) if values else ()),
                    item.points,
                    item.score,
                    STATUS_WORDS[item.status],
                    item.explanation,
                    item.line,
                )
            )
    return Table("计分说明", columns, tuple(rows))


def grade_counts(ruleset: Ruleset, results: Sequence[Result]) -> tuple[tuple[str, int], ...]:
    """How many entities got each grade, in the ruleset's order from the best grade down
    (grades nobody got are listed with 0; results without a grade as “无等级”)."""
    names = [b.value for b in sorted(ruleset.grades, key=_band_order, reverse=True)]
    counts = dict.fromkeys(names, 0)
    none = 0
    for r in results:
        if r.grade is None:
            none += 1
        else:
            counts[r.grade] = counts.get(r.grade, 0) + 1
    out = list(counts.items())
    if none:
        out.append(("无等级", none))
    return tuple(out)


def _band_order(band: object) -> Decimal:
    lower = getattr(band, "lower", None)
    return lower if isinstance(lower, Decimal) else Decimal("-Infinity")


def attainment(ruleset: Ruleset, results: Sequence[Result]) -> tuple[Attainment, ...]:
    """Per indicator: how many entities met or missed its target, the mean score and the
    score rate (scores as a share of points available), exact."""
    indicators = ruleset.indicators()
    category_of = _category_of(ruleset)
    out = []
    for ind in indicators:
        met = not_met = other = 0
        total = points = Decimal(0)
        for r in results:
            item = r.item(ind.id)
            if item.status == "met":
                met += 1
            elif item.status == "not_met":
                not_met += 1
            else:
                other += 1
            total += item.score
            points += item.points
        n = len(results)
        with localcontext(CONTEXT):
            mean = total / n if n else Decimal(0)
            rate = total / points if points else Decimal(0)
        out.append(
            Attainment(
                id=ind.id,
                label=ind.label,
                category=category_of[ind.id],
                points=ind.points,
                met=met,
                not_met=not_met,
                other=other,
                mean_score=mean,
                score_rate=rate,
            )
        )
    return tuple(out)
