"""Results as text for people (a table, an explanation) and as CSV and JSON for machines."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

from kpirules.exact import exact
from kpirules.methods import rounded
from kpirules.model import Category, Rounding, Ruleset
from kpirules.quantity import format_decimal
from kpirules.result import Result, decimal_text
from kpirules.testing import CaseReport

_STATUS = {
    "met": "达标",
    "not_met": "未达标",
    "no_target": "",
    "missing": "缺数据",
    "excluded": "不计分",
    "monitor": "监测",
    "vetoed": "触发否决",
}


def width(text: str) -> int:
    """Display width in a terminal: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, size: int, right: bool = False) -> str:
    gap = " " * max(0, size - width(text))
    return gap + text if right else text + gap


_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "half_down": ROUND_HALF_DOWN,
}


def _fixed(value: Decimal, rounding: Rounding) -> str:
    """A number for display at the ruleset's places and mode (the data stays exact)."""
    return format(rounded(value, Decimal(1).scaleb(-rounding.places), _MODES[rounding.mode]), "f")


@exact
def table(ruleset: Ruleset, results: Sequence[Result]) -> str:
    """A terminal table: one row per entity, category subtotals, total, grade, rank, outcomes."""
    tops = list(ruleset.categories)
    head = ["对象", *[c.label for c in tops], "总分", "等级", "排名", "结果"]
    rows = []
    for r in results:
        rows.append(
            [
                r.entity,
                *[_fixed(r.subtotal(c.id), ruleset.rounding) for c in tops],
                _fixed(r.total, ruleset.rounding),
                r.grade or "",
                f"{r.rank}/{r.cohort_size}" if r.rank is not None else "",
                "、".join(o.label for o in r.outcomes) or "—",
            ]
        )
    numeric = set(range(1, len(tops) + 2))
    widths = [max(width(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    lines = []
    for n, row in enumerate([head, *rows]):
        cells = [
            _pad(str(cell), widths[i], right=i in numeric and n > 0) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


@exact
def to_csv(ruleset: Ruleset, results: Sequence[Result]) -> str:
    """CSV with one row per entity: total, grade, rank, every item score, outcomes."""
    indicators = ruleset.indicators()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["entity", "total", "grade", "rank", *[i.id for i in indicators], "outcomes", "vetoes"]
    )
    for r in results:
        writer.writerow(
            [
                r.entity,
                decimal_text(r.total),
                r.grade or "",
                r.rank if r.rank is not None else "",
                *[decimal_text(r.item(i.id).score) for i in indicators],
                ";".join(o.id for o in r.outcomes),
                ";".join(v.id for v in r.vetoes),
            ]
        )
    return out.getvalue()


@exact
def to_json(results: Sequence[Result]) -> str:
    """Canonical JSON of all results (sorted keys, Decimals as strings), one document."""
    return (
        json.dumps([r.to_dict() for r in results], ensure_ascii=False, sort_keys=True, indent=2)
        + "\n"
    )


@exact
def explain(ruleset: Ruleset, result: Result) -> str:
    """The full reasoning for one entity, in the ruleset's language."""

    def pts(value: Decimal) -> str:
        return _fixed(value, ruleset.rounding) + "分"

    lines = [
        f"{ruleset.title}（版本 {ruleset.version}，{ruleset.file}）",
        f"对象：{result.entity}",
        "",
    ]
    by_category: dict[str, list[str]] = {}
    for item in result.items:
        status = _STATUS[item.status]
        tag = f"［{status}］" if status else ""
        by_category.setdefault(item.category, []).append(
            f"    - {item.label}（满分 {pts(item.points)}，第 {item.line} 行）{tag}：{item.explanation}"
        )
    depth = _depths(ruleset)
    for cat in result.categories:
        indent = "  " * depth[cat.id]
        lines.append(
            f"{indent}{cat.label}（满分 {pts(cat.points)}）：小计 {pts(cat.subtotal)}，第 {cat.line} 行"
        )
        lines.extend(indent + line for line in by_category.get(cat.id, []))
    lines.append("")
    lines.append(f"各项合计（原始总分）：{pts(result.raw_total)}")
    for adj in result.adjustments:
        sign = "+" if adj.kind == "bonus" else "−"
        lines.append(
            f"加减分：{adj.label} {sign}{pts(adj.points or Decimal(0))}（第 {adj.line} 行）"
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
            f"一票否决：{veto.label}（条件 {veto.condition}，第 {veto.line} 行）：{effect}"
        )
    rounding = ruleset.rounding
    mode = {
        "half_up": "四舍五入",
        "half_even": "四舍六入五成双",
        "down": "舍去",
        "up": "进一",
        "half_down": "五舍六入",
    }[rounding.mode]
    where = "总分" if rounding.at == "total" else "各项得分"
    lines.append(f"总分：{pts(result.total)}（{where}保留 {rounding.places} 位小数，{mode}）")
    lines.append(f"等级：{result.grade or '（无）'}")
    if result.rank is not None:
        lines.append(f"排名：第 {result.rank} 名（共 {result.cohort_size} 个）")
    if result.outcomes:
        for o in result.outcomes:
            amount = f"，金额 {format_decimal(o.points)}" if o.points is not None else ""
            lines.append(
                f"结果：{o.label}（{o.kind}；条件：{o.condition}；第 {o.line} 行{amount}）"
            )
    else:
        lines.append("结果：无")
    p = result.provenance
    lines.append("")
    lines.append(
        f"规则集 {p.ruleset} {p.version}，指纹 {p.fingerprint}；{p.engine}；{p.decimal_context}"
    )
    return "\n".join(lines) + "\n"


def _depths(ruleset: Ruleset) -> dict[str, int]:
    out: dict[str, int] = {}

    def visit(cats: Sequence[Category], depth: int) -> None:
        for cat in cats:
            out[cat.id] = depth
            visit(cat.categories, depth + 1)

    visit(ruleset.categories, 0)
    return out


@exact
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
