"""The results as one self-contained HTML report in Chinese, for reading and printing.

The page has no external resource of any kind (styles inline, charts as inline SVG drawn
here, a system font stack) and a Content-Security-Policy that forbids every request, so it
can be mailed, archived and opened offline. Every text from the ruleset or the data is
escaped (Jinja2 autoescape; :class:`markupsafe.Markup` for the charts). The output is
deterministic: the same ruleset, results and notes give the same bytes.

Printed on A4 it gives the summary first, then one page per entity.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from importlib import resources

import attrs
import jinja2
from markupsafe import Markup

from kpirules import report, summary
from kpirules._core.rounding import MODES
from kpirules.engine import CONTEXT
from kpirules.methods import rounded
from kpirules.model import Ruleset
from kpirules.result import Fired, Result
from kpirules.words import english

#: The length of a full bar of a horizontal chart, and the height of a full column.
BAR_LENGTH = Decimal(400)
COLUMN_HEIGHT = Decimal(160)

_PX = Decimal("0.01")
_HUNDRED = Decimal(100)
_ROW = 26
_BAR = 16
_TOP = 8
_VALUE_WIDTH = 90
_CHAR = Decimal(7)  # a little over half the width of a 13px Chinese character
_LABEL_MAX = 34  # display columns (a Chinese character counts 2) before a label is cut
#: Bars per horizontal chart: 30 rows fit on an A4 page (an SVG cannot break across pages).
CHUNK = 30


@attrs.frozen
class Bar:
    """One bar of a chart: its label, its exact value and the value as shown."""

    label: str
    value: Decimal
    text: str


@attrs.frozen
class Finding:
    """A veto or outcome rule and the entities it applied to, for the short list."""

    kind: str
    label: str
    entities: tuple[str, ...]


@attrs.frozen
class EntitySection:
    """One entity's page: its figures and its items with their explanations."""

    anchor: str
    entity: str
    facts: tuple[tuple[str, str], ...]
    table: summary.Table
    categories: tuple[tuple[str, str, str], ...]
    rules: tuple[str, ...]
    provenance: str


def _length(value: Decimal, maximum: Decimal, full: Decimal) -> Decimal:
    """``value`` as a share of ``maximum`` times ``full``, kept within 0..full, to 0.01."""
    if maximum <= 0 or value <= 0:
        return Decimal(0)
    with localcontext(CONTEXT):
        share = min(value, maximum) / maximum * full
    return rounded(share, _PX, ROUND_HALF_EVEN)


def _px(value: Decimal | int) -> str:
    """A coordinate as SVG text: ``388.48``, ``0``, ``12``."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _width(text: str) -> int:
    """Display columns in a Chinese font: wide, full-width and ambiguous characters (“”、…)
    count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 1 for ch in text)


def _short(label: str) -> str:
    """A label cut to fit the chart's label area (the full label stays in a tooltip)."""
    if _width(label) <= _LABEL_MAX:
        return label
    out = ""
    for ch in label:
        if _width(out + ch + "…") > _LABEL_MAX:
            break
        out += ch
    return out + "…"


def _svg_open(title: str, width: int, height: int) -> tuple[Markup, Markup]:
    """The opening tag of a chart's SVG, with its title for screen readers."""
    return (
        Markup(
            '<svg class="chart" role="img" aria-label="{}" width="{}" height="{}" '
            'viewBox="0 0 {} {}">'
        ).format(title, width, height, width, height),
        Markup("<title>{}</title>").format(title),
    )


def bar_chart(title: str, bars: Sequence[Bar], *, maximum: Decimal) -> Markup:
    """A horizontal bar chart as inline SVG: one row per bar, the label on the left, a bar
    ``value / maximum × 400`` px long, and the shown value at its end."""
    label_width = max([_width(_short(b.label)) for b in bars] or [0])
    left = int((label_width * _CHAR).to_integral_value()) + 12
    width = left + int(BAR_LENGTH) + _VALUE_WIDTH
    height = _TOP * 2 + _ROW * len(bars)
    parts = [
        *_svg_open(title, width, height),
        Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            left, _TOP // 2, left, height - _TOP // 2
        ),
    ]
    for n, bar in enumerate(bars):
        y = _TOP + n * _ROW
        length = _length(bar.value, maximum, BAR_LENGTH)
        middle = y + _ROW // 2
        parts.append(
            Markup(
                '<g class="bar"><title>{}：{}</title>'
                '<text class="label" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}"/>'
                '<text class="value" x="{}" y="{}" dominant-baseline="middle">{}</text></g>'
            ).format(
                bar.label,
                bar.text,
                left - 6,
                middle,
                _short(bar.label),
                left,
                y + (_ROW - _BAR) // 2,
                _px(length),
                _BAR,
                _px(left + length + 6),
                middle,
                bar.text,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def column_chart(title: str, bars: Sequence[Bar], *, maximum: Decimal) -> Markup:
    """A vertical column chart as inline SVG: one column per bar, ``value / maximum × 160``
    px high, the shown value above it and the label below."""
    slot = 96
    base = int(COLUMN_HEIGHT) + 28
    width = max(slot * len(bars), slot)
    height = base + 28
    parts = [
        *_svg_open(title, width, height),
        Markup('<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/>').format(base, width, base),
    ]
    for n, bar in enumerate(bars):
        size = _length(bar.value, maximum, COLUMN_HEIGHT)
        middle = n * slot + slot // 2
        parts.append(
            Markup(
                '<g class="bar"><title>{}：{}</title>'
                '<rect x="{}" y="{}" width="{}" height="{}"/>'
                '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>'
                '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text></g>'
            ).format(
                bar.label,
                bar.text,
                middle - 24,
                _px(base - size),
                48,
                _px(size),
                middle,
                _px(base - size - 6),
                bar.text,
                middle,
                base + 18,
                _short(bar.label),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _total_column(ruleset: Ruleset) -> summary.Column:
    r = ruleset.rounding
    return summary.Column("total", "总分", "total", "number", r.places, r.mode, "分")


def percent_text(ruleset: Ruleset, fraction: Decimal) -> str:
    """A share as percent, at the ruleset's places and rounding mode: ``98.56%``."""
    r = ruleset.rounding
    with localcontext(CONTEXT):
        percent = fraction * _HUNDRED
    shown = rounded(percent, Decimal(1).scaleb(-r.places), MODES[r.mode])
    return format(shown, "f") + "%"


def _chunks(title: str, bars: Sequence[Bar], maximum: Decimal) -> tuple[Markup, ...]:
    """A long chart as several charts of at most :data:`CHUNK` bars on the same scale."""
    return tuple(
        bar_chart(title if n == 0 else f"{title}（续）", bars[n : n + CHUNK], maximum=maximum)
        for n in range(0, max(len(bars), 1), CHUNK)
    )


def total_chart(ruleset: Ruleset, results: Sequence[Result]) -> tuple[Markup, ...]:
    """Each entity's total, by rank, on a scale of the ruleset's total points (one chart per
    30 entities)."""
    column = _total_column(ruleset)
    bars = [Bar(r.entity, r.total, column.text(r.total)) for r in summary.ordered(results)]
    maximum = max([ruleset.total_points, *(r.total for r in results)])
    return _chunks("各对象总分", bars, maximum)


def grade_chart(ruleset: Ruleset, results: Sequence[Result]) -> Markup:
    """How many entities got each grade, best grade first."""
    counts = summary.grade_counts(ruleset, results)
    bars = [Bar(grade, Decimal(n), f"{n} 个") for grade, n in counts]
    maximum = Decimal(max([1, *(n for _, n in counts)]))
    return column_chart("等级分布", bars, maximum=maximum)


def attainment_chart(ruleset: Ruleset, results: Sequence[Result]) -> tuple[Markup, ...]:
    """Each indicator's score rate (scores as a share of the points available), 0–100%
    (one chart per 30 indicators). Indicators worth no points (monitored only) have no rate
    and are left out."""
    bars = [
        Bar(a.label, a.score_rate, percent_text(ruleset, a.score_rate))
        for a in summary.attainment(ruleset, results)
        if a.points
    ]
    return _chunks("各指标得分率", bars, Decimal(1))


def findings(ruleset: Ruleset, results: Sequence[Result]) -> tuple[Finding, ...]:
    """Every veto and outcome rule that applied to someone, with the entities (by rank)."""
    out: list[Finding] = []
    ranked = summary.ordered(results)
    for veto in ruleset.vetoes:
        hit = tuple(r.entity for r in ranked if any(v.id == veto.id for v in r.vetoes))
        if hit:
            effect = summary.VETO_EFFECT_WORDS.get(veto.effect, veto.effect)
            out.append(Finding("一票否决", f"{veto.label}（{effect}）", hit))
    for outcome in ruleset.outcomes:
        named = []
        for r in ranked:
            for fired in r.outcomes:
                if fired.id == outcome.id:
                    amount = (
                        f"（{report.money_text(fired.amount, ruleset.money.places)} "
                        f"{fired.unit or ruleset.money.unit}）"
                        if fired.amount is not None
                        else ""
                    )
                    named.append(r.entity + amount)
        if named:
            out.append(Finding("奖惩结果", outcome.label, tuple(named)))
    return tuple(out)


def _rule_lines(ruleset: Ruleset, r: Result) -> list[str]:
    """The adjustments, vetoes and outcomes that applied, with their conditions and lines."""
    total = _total_column(ruleset)

    def pts(fired: Fired) -> str:
        return total.text(fired.points or Decimal(0)) + "分"

    lines = []
    for adj in r.adjustments:
        sign = "+" if adj.kind == "bonus" else "−"
        lines.append(f"加减分：{adj.label} {sign}{pts(adj)}（第 {adj.line} 行）")
    for veto in r.vetoes:
        effect = f"总分不超过 {pts(veto)}" if veto.kind == "cap_total" else ""
        effect = effect or summary.VETO_EFFECT_WORDS.get(veto.kind, veto.kind)
        lines.append(
            f"一票否决：{veto.label}（条件 {veto.condition}，第 {veto.line} 行）：{effect}"
        )
    for o in r.outcomes:
        amount = f"，{report.amount_text(ruleset, o)}" if o.amount is not None else ""
        lines.append(f"奖惩结果：{o.label}（条件：{o.condition}；第 {o.line} 行{amount}）")
    return lines


def _sections(ruleset: Ruleset, results: Sequence[Result]) -> list[EntitySection]:
    total = _total_column(ruleset)
    sections = []
    for n, r in enumerate(summary.ordered(results), start=1):
        table = summary.explanations(ruleset, [r], values=True)
        keep = [i for i, c in enumerate(table.columns) if c.key != "entity"]
        table = summary.Table(
            table.title,
            tuple(table.columns[i] for i in keep),
            tuple(tuple(row[i] for i in keep) for row in table.rows),
        )
        adjustment = r.adjusted_total - r.raw_total
        facts = [
            ("总分", total.text(r.total) + "分"),
            ("等级", r.grade or "无"),
            ("排名", f"第 {r.rank} 名（共 {r.cohort_size} 个）" if r.rank is not None else "—"),
            ("各项合计", total.text(r.raw_total) + "分"),
        ]
        if r.adjustments:
            facts.append(("加减分", total.text(adjustment) + "分"))
        facts.append(
            (
                "一票否决",
                "；".join(
                    f"{v.label}（{summary.VETO_EFFECT_WORDS.get(v.kind, v.kind)}）"
                    for v in r.vetoes
                )
                or "无",
            )
        )
        facts.append(("奖惩结果", "、".join(o.label for o in r.outcomes) or "无"))
        categories = tuple(
            (c.label, total.text(c.points), total.text(c.subtotal)) for c in r.categories
        )
        p = r.provenance
        sections.append(
            EntitySection(
                anchor=f"entity-{n}",
                entity=r.entity,
                facts=tuple(facts),
                table=table,
                categories=categories,
                rules=tuple(_rule_lines(ruleset, r)),
                provenance=(
                    f"规则集 {p.ruleset} {p.version}，指纹 {p.fingerprint}；{p.engine}"
                    + (f"；{p.decimal_context}" if english() else "")
                ),
            )
        )
    return sections


@functools.cache
def _template() -> jinja2.Template:
    text = (resources.files("kpirules") / "templates" / "report.html").read_text(encoding="utf-8")
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.from_string(text)


def render(
    ruleset: Ruleset,
    results: Sequence[Result],
    *,
    period: str = "",
    notes: Sequence[str] = (),
) -> str:
    """The whole report as one HTML document.

    Args:
        ruleset: the ruleset the results were scored with.
        results: every entity's result (any order; the report lists them by rank).
        period: the appraisal period shown in the title block (omitted when empty).
        notes: extra lines for the title block, e.g. where the run was recorded or when
            the report was made (nothing time-dependent is added otherwise).

    Returns:
        The HTML text (UTF-8, no external resources).
    """
    ranking = summary.ranking(ruleset, results)
    entity_column = [c.key for c in ranking.columns].index("entity")
    sections = _sections(ruleset, results)
    anchors = {s.entity: s.anchor for s in sections}
    return _template().render(
        heading=summary.heading(ruleset, results, period=period),
        notes=list(notes),
        ranking=ranking,
        entity_column=entity_column,
        anchors=anchors,
        total_charts=total_chart(ruleset, results),
        grade_chart=grade_chart(ruleset, results),
        attainment_charts=attainment_chart(ruleset, results),
        findings=findings(ruleset, results),
        sections=sections,
    )
