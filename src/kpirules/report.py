"""Results as text for people (a table, an explanation) and as CSV and JSON for machines."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from kpirules import summary
from kpirules._core.rounding import MODE_WORDS, MODES
from kpirules.exact import exact as in_engine_context
from kpirules.methods import rounded
from kpirules.model import Category, Rounding, Ruleset
from kpirules.quantity import format_decimal, format_percent
from kpirules.result import Fired, Result
from kpirules.testing import CaseReport
from kpirules.words import english, outcome_kind


def width(text: str) -> int:
    """Display width in a terminal: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, size: int, right: bool = False) -> str:
    """``text`` padded to ``size`` columns of the terminal (right-aligned when ``right``)."""
    gap = " " * max(0, size - width(text))
    return gap + text if right else text + gap


def _fixed(value: Decimal, rounding: Rounding) -> str:
    """A number for display at the ruleset's places and mode (the data stays exact)."""
    return format(rounded(value, Decimal(1).scaleb(-rounding.places), MODES[rounding.mode]), "f")


Headers = Literal["zh", "id"]


def title_line(ruleset: Ruleset, *, period: str = "", exact: bool = False) -> str:
    """The line above a terminal table: title, version, period and how numbers are shown."""
    parts = [f"版本 {ruleset.version}"]
    if period:
        parts.append(f"期间 {period}")
    shown = "数字为精确值" if exact else summary.rounding_words(ruleset.rounding)
    return f"{ruleset.title}（{'，'.join(parts)}；{shown}）"


@in_engine_context
def table(
    ruleset: Ruleset,
    results: Sequence[Result],
    *,
    headers: Headers = "zh",
    exact: bool = False,
    order: summary.Order = "rank",
    period: str = "",
) -> str:
    """A terminal table under a title line: rank, entity, category subtotals, the sum of
    items, adjustments, vetoes, total, grade and outcomes in words, sorted by rank unless
    ``order="input"``. Numbers are rounded as the ruleset declares unless ``exact``."""
    data = summary.ranking(ruleset, results, order=order)
    head = data.headers(ids=headers == "id")
    rows = [[text or "—" for text in row] for row in data.texts(exact=exact, grouped=True)]
    numeric = {i for i, col in enumerate(data.columns) if col.kind != "text"}
    widths = [max(width(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = [title_line(ruleset, period=period, exact=exact)]
    for n, row in enumerate([head, *rows]):
        cells = [pad(cell, widths[i], right=i in numeric and n > 0) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


@in_engine_context
def to_csv(
    ruleset: Ruleset,
    results: Sequence[Result],
    *,
    headers: Headers = "zh",
    exact: bool = False,
    order: summary.Order = "rank",
) -> str:
    """CSV with one row per entity: the summary columns (rank, entity, category subtotals,
    sum of items, adjustments, vetoes, total, grade, outcomes) then every indicator's score.

    Headers are Chinese unless ``headers="id"``; numbers are rounded as the ruleset declares
    unless ``exact``; rows are sorted by rank unless ``order="input"``. No title line, so the
    file stays one machine-readable table. Text cells that a spreadsheet would read as a
    formula are neutralised (:func:`kpirules.summary.neutralise`); numbers stay numbers.
    """
    data = summary.ranking_with_items(ruleset, results, order=order)
    return csv_header(data, headers) + "".join(csv_rows(data, exact=exact))


def csv_header(data: summary.Table, headers: Headers = "zh") -> str:
    """The header line of :func:`to_csv` for this table."""
    return _csv_line([summary.neutralise(h) for h in data.headers(ids=headers == "id")])


def csv_rows(data: summary.Table, *, exact: bool = False) -> Iterator[str]:
    """The data lines of :func:`to_csv` for this table, one per row."""
    for row in data.rows:
        yield _csv_line(
            [
                summary.neutralise(col.text(cell))
                if col.kind == "text"
                else col.text(cell, exact=exact)
                for col, cell in zip(data.columns, row, strict=True)
            ]
        )


def _csv_line(cells: Sequence[str]) -> str:
    """One CSV record ending in ``\\n``, with every field holding ``\\r`` or ``\\n`` quoted."""
    # Python 3.11's csv quotes only the characters of the line terminator; with "\r\n" as
    # terminator both are quoted, and the record's own terminator is then replaced.
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()[:-2] + "\n"


@in_engine_context
def to_json(results: Sequence[Result]) -> str:
    """Canonical JSON of all results (sorted keys, Decimals as strings), one document."""
    return (
        json.dumps([r.to_dict() for r in results], ensure_ascii=False, sort_keys=True, indent=2)
        + "\n"
    )


@in_engine_context
def explain(ruleset: Ruleset, result: Result, *, verbose: bool = False) -> str:
    """The full reasoning for one entity, in the ruleset's language.

    The decimal context the score was computed in ends the last line only when
    ``verbose`` (or under ``--lang en``); JSON results always carry it.
    """

    def pts(value: Decimal) -> str:
        return _fixed(value, ruleset.rounding) + "分"

    lines = [
        f"{ruleset.title}（版本 {ruleset.version}，{ruleset.file}）",
        f"对象：{result.entity}",
        "",
    ]
    by_category: dict[str, list[str]] = {}
    for item in result.items:
        status = summary.STATUS_WORDS[item.status]
        tag = f"［{status}］" if status else ""
        by_category.setdefault(item.category, []).append(
            f"    - {item.label}（满分 {pts(item.points)}，{_at(ruleset, item.id, item.line)}）{tag}：{item.explanation}"
        )
    depth = _depths(ruleset)
    for cat in result.categories:
        indent = "  " * depth[cat.id]
        lines.append(
            f"{indent}{cat.label}（满分 {pts(cat.points)}）：小计 {pts(cat.subtotal)}，{_at(ruleset, cat.id, cat.line)}"
        )
        lines.extend(indent + line for line in by_category.get(cat.id, []))
    lines.append("")
    lines.append(f"各项合计（原始总分）：{pts(result.raw_total)}")
    for adj in result.adjustments:
        sign = "+" if adj.kind == "bonus" else "−"
        lines.append(
            f"加减分：{adj.label} {sign}{pts(adj.points or Decimal(0))}（{_at(ruleset, adj.id, adj.line)}）"
        )
    if result.adjustments:
        lines.append(f"加减分后：{pts(result.adjusted_total)}")
    for veto in result.vetoes:
        effect = {
            "zero": "总分记为 0",
            "cap_total": f"总分不超过 {pts(veto.points or Decimal(0))}",
            "cap_grade": "等级封顶",
        }.get(veto.kind, veto.kind)
        lines.append(
            f"一票否决：{veto.label}（条件 {veto.condition}，{_at(ruleset, veto.id, veto.line)}）：{effect}"
        )
    rounding = ruleset.rounding
    mode = MODE_WORDS[rounding.mode]
    where = "总分" if rounding.at == "total" else "各项得分"
    lines.append(f"总分：{pts(result.total)}（{where}保留 {rounding.places} 位小数，{mode}）")
    lines.append(f"等级：{result.grade or '（无）'}")
    if result.rank is not None:
        lines.append(f"排名：第 {result.rank} 名（共 {result.cohort_size} 个）")
    for shown in result.values:
        value = "缺数据" if shown.value is None else _quantity(shown.value, shown.unit, ruleset)
        lines.append(f"列示：{shown.label} {value}")
    if result.outcomes:
        for o in result.outcomes:
            amount = f"：{amount_text(ruleset, o)}" if o.amount is not None else ""
            lines.append(
                f"结果：{o.label}（{_kind(o.kind)}；条件：{o.condition}；{_at(ruleset, o.id, o.line)}）{amount}"
            )
    else:
        lines.append("结果：无")
    p = result.provenance
    lines.append("")
    context = f"；{p.decimal_context}" if verbose or english() else ""
    lines.append(f"规则集 {p.ruleset} {p.version}，指纹 {p.fingerprint}；{p.engine}{context}")
    return "\n".join(lines) + "\n"


def _at(ruleset: Ruleset, item_id: str, line: int) -> str:
    """Where an item is written: its line, and its file when it is not the ruleset's own."""
    file = ruleset.file_of(item_id)
    return f"第 {line} 行" if file == ruleset.file else f"{file} 第 {line} 行"


_NAME = re.compile(r"(?<![\w.])[^\W\d]\w*")


def money_text(value: Decimal, places: int) -> str:
    """Money with thousands separators, at ``places`` decimals when that loses nothing.

    ``172839.455`` at 2 places stays ``172,839.455`` (exact), ``103703.673900`` gives
    ``103,703.6739`` and ``184000.0000`` gives ``184,000.00``.
    """
    quantum = Decimal(1).scaleb(-places)
    if value == rounded(value, quantum, ROUND_DOWN):
        text = format(rounded(value, quantum), ",f")
    else:
        text = format(value, ",f").rstrip("0")  # exact: every digit that is not a trailing 0
    return text[1:] if text.startswith("-") and value == 0 else text


def _quantity(value: Decimal, unit: str, ruleset: Ruleset) -> str:
    if unit in ("元", "万元", "亿元", ruleset.money.unit):
        return f"{money_text(value, ruleset.money.places)} {unit}"
    return f"{format_decimal(value)} {unit}".rstrip()


def amount_text(ruleset: Ruleset, fired: Fired) -> str:
    """An outcome's amount with its unit and how it was computed, names in words.

    ``金额 103,703.67 元（= 考核预留保证金 172,839.4565 元 × 总分 60.00 / 100 = 103,703.6739 元，按 2 位小数四舍五入）``
    """
    assert fired.amount is not None
    money = ruleset.money
    unit = fired.unit or money.unit
    head = f"金额 {money_text(fired.amount, money.places)} {unit}"
    outcome = next((o for o in ruleset.outcomes if o.id == fired.id), None)
    if outcome is None or outcome.amount is None:
        return head
    basis = dict(fired.basis)
    formula = _NAME.sub(
        lambda m: (
            _named(ruleset, m.group(0), basis[m.group(0)]) if m.group(0) in basis else m.group(0)
        ),
        outcome.amount.text.strip(),
    )
    formula = formula.replace("**", "^").replace("*", "×")
    exact = ""
    # A bare name already shows its exact value; anything else shows the exact result too.
    if (
        fired.unrounded is not None
        and fired.unrounded != fired.amount
        and outcome.amount.text.strip() not in basis
    ):
        exact = f" = {money_text(fired.unrounded, money.places)} {unit}"
    how = f"按 {money.places} 位小数{MODE_WORDS[money.mode]}"
    return f"{head}（= {formula}{exact}，{how}）"


def _named(ruleset: Ruleset, name: str, value: Decimal) -> str:
    """A name of an amount formula as its label and value: ``总分 93.93``, ``保证金 184,000.00 元``."""
    if name in ("total", "raw_total"):
        return f"{'总分' if name == 'total' else '原始总分'} {_score(value, ruleset)}"
    for metric in ruleset.metrics:
        if metric.id == name:
            if metric.unit == "money":
                return f"{metric.label} {_quantity(value, metric.measure or '元', ruleset)}"
            if metric.unit == "percent":
                return f"{metric.label} {format_percent(value)}"
            if metric.unit == "yes_no":
                return f"{metric.label} {'是' if value else '否'}"
            return f"{metric.label} {format_decimal(value)} {metric.measure or ''}".rstrip()
    for ind in ruleset.indicators():
        if ind.id == name:
            return f"{ind.label}得分 {_score(value, ruleset)}"
    for cat in ruleset.all_categories():
        if cat.id == name:
            return f"{cat.label}小计 {_score(value, ruleset)}"
    return f"{name} {format_decimal(value)}"


def _score(value: Decimal, ruleset: Ruleset) -> str:
    """Points at the ruleset's places when that loses nothing, else every digit."""
    quantum = Decimal(1).scaleb(-ruleset.rounding.places)
    if value == rounded(value, quantum, ROUND_DOWN):
        return format(rounded(value, quantum), "f")
    return format_decimal(value)


def _depths(ruleset: Ruleset) -> dict[str, int]:
    out: dict[str, int] = {}

    def visit(cats: Sequence[Category], depth: int) -> None:
        for cat in cats:
            out[cat.id] = depth
            visit(cat.categories, depth + 1)

    visit(ruleset.categories, 0)
    return out


@in_engine_context
def format_test_report(file: str, reports: Sequence[CaseReport]) -> str:
    """Pass/fail per test case with the differences, and a summary line."""
    lines = []
    for rep in reports:
        mark = "通过" if rep.passed else "失败"
        lines.append(f"{file}:{rep.line}: {mark}: {rep.name}")
        lines.extend(f"    {d}" for d in rep.differences)
    passed = sum(r.passed for r in reports)
    lines.append(f"{file}: {passed}/{len(reports)} 个用例通过")
    return "\n".join(lines) + "\n"


def _kind(kind: str) -> str:
    return kind if english() else f"种类：{outcome_kind(kind)}"
