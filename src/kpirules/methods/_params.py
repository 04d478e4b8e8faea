"""Reading a method's parameters: the shared checks every method module builds on.

A method's ``check(raw, where)`` reads its ``scoring:`` mapping. Like python-jsonschema's
keyword functions it is a generator: it *yields* each located :class:`Problem` it finds
and *returns* the method's frozen parameters (None when they cannot be built, which only
happens after a problem was yielded). The helpers here follow the same shape and are
combined with ``yield from``; :func:`drain` runs one and collects its problems.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal, Inexact, localcontext
from typing import Any, TypeVar

import attrs

from kpirules._core.suggest import did_you_mean, name_hint
from kpirules.errors import Problem
from kpirules.formula import Formula, FormulaError, parse_formula
from kpirules.loader import Document, PathKey
from kpirules.model import Band, Metric, Segment
from kpirules.quantity import (
    QuantityError,
    Target,
    format_decimal,
    format_percent,
    parse_quantity,
    to_metric_value,
    word_problem,
)
from kpirules.words import english

T = TypeVar("T")
#: A check: yields problems, returns what it read.
Check = Generator[Problem, None, T]
#: A JSON Schema fragment for one parameter.
Schema = Mapping[str, Any]
_ZERO = Decimal(0)


@attrs.frozen
class Where:
    """What a method's parameter check needs to know about the indicator it belongs to."""

    doc: Document
    #: Path of the ``scoring`` mapping in the document.
    path: PathKey
    label: str
    metric: Metric
    direction: str
    points: Decimal
    target: Target | None
    #: Ids of every metric declared in the ruleset (built or not).
    declared: frozenset[str]
    #: The metrics that were built without problems, by id.
    metrics: Mapping[str, Metric]

    def at(self, *keys: str | int) -> PathKey:
        """The path of ``keys`` inside the ``scoring`` mapping."""
        return (*self.path, *keys)

    def problem(
        self,
        path: PathKey,
        message: str,
        suggestion: str | None = None,
        *,
        at_key: bool = False,
        code: str,
    ) -> Problem:
        """An error located at ``path``."""
        return self.doc.problem(path, message, suggestion=suggestion, at_key=at_key, code=code)


def drain(check: Check[T], sink: list[Problem]) -> T:
    """Run ``check``, appending each problem it yields to ``sink``; return its value."""
    while True:
        try:
            sink.append(next(check))
        except StopIteration as stop:
            value: T = stop.value
            return value


def dec(value: object) -> Decimal | None:
    """A number as written (YAML numbers load as Decimal), else None."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return None


def quantity(
    doc: Document, raw: object, unit: str, measure: str | None, path: PathKey
) -> Check[Decimal | None]:
    """A quantity in the metric's terms, with unit and exactness checked."""
    try:
        q = parse_quantity(raw)
    except QuantityError as exc:
        yield doc.problem(path, str(exc), code="KR332")
        return None
    problem = word_problem(q, unit, measure)
    if problem:
        yield doc.problem(path, problem, code="KR330")
        return None
    if unit == "percent" and not q.is_percent and isinstance(raw, Decimal) and q.number > 1:
        yield doc.problem(
            path,
            f"百分比要写 % 号：{q.text} 会被当作 {format_percent(q.number)}",
            suggestion=f"写成 {q.text}%",
            code="KR333",
        )
        return None
    with localcontext() as ctx:
        ctx.traps[Inexact] = True
        try:
            return to_metric_value(q, unit, measure)
        except Inexact:
            pass
    yield doc.problem(
        path,
        f"{q.text} 换算为 {measure} 时除不尽",
        suggestion=f"直接用 {measure} 书写",
        code="KR334",
    )
    return None


def formula(
    doc: Document,
    raw: object,
    path: PathKey,
    names: AbstractSet[str],
    *,
    condition: bool = False,
    context: str = "公式",
    metrics: Mapping[str, Metric] | None = None,
) -> Check[Formula | None]:
    """A formula that parses, stays in the allowed syntax and uses only ``names``.

    ``metrics``, when given, lets a name written as a data label be pointed at its id, and
    checks that ``== 是`` / ``== 否`` compares only yes/no metrics.
    """
    try:
        parsed = parse_formula(raw, condition=condition)
    except FormulaError as exc:
        shown = raw if isinstance(raw, str | Decimal) else "…"
        yield doc.problem(path, f"{exc}（{context}：{shown}）", code="KR335")
        return None
    known = metrics or {}
    for name in sorted(parsed.names):
        if name not in names:
            yield doc.problem(
                path,
                f"{context}中的名字 “{name}” 没有定义",
                suggestion=did_you_mean(name, names) or available(names)
                if english()
                else name_hint(name, names, {m.label: m.id for m in known.values()}),
                code="KR336",
            )
    for name in sorted(n for n in parsed.yes_no_names if n in names):
        metric = known.get(name)
        if metric is None or metric.unit != "yes_no":
            yield doc.problem(
                path,
                f"“{name}” 不是是/否指标，不能与 是、否、有、无 比较（{context}：{raw}）",
                suggestion="是/否只用于 unit: yes_no 的指标；数值请写比较，如 total >= 90",
                code="KR335",
            )
    return parsed


def number(raw: Mapping[str, Any], key: str) -> Decimal | None:
    """The number under ``key``, None when absent or not a number (the schema says so)."""
    return dec(raw[key]) if key in raw else None


def within_points(where: Where, value: Decimal | None, *path: str | int) -> Iterator[Problem]:
    """KR357 when a declared score lies outside 0..points of the indicator."""
    if value is not None and (value < 0 or value > where.points):
        yield where.problem(
            where.at(*path),
            f"得分 {format_decimal(value)} 超出该指标的分值范围 0 到 {format_decimal(where.points)}",
            code="KR357",
        )


def floor(where: Where, raw: Mapping[str, Any]) -> Check[Decimal | None]:
    """The lowest score a deduction may leave (``floor``), checked against the points."""
    value = number(raw, "floor")
    if value is not None and value < 0:
        yield where.problem(where.at("floor"), "最低得分 floor 不能为负数", code="KR358")
    if value is not None and value > where.points:
        yield where.problem(
            where.at("floor"),
            f"最低得分 {format_decimal(value)} 高于该指标的分值 {format_decimal(where.points)}",
            code="KR359",
        )
    return value


def per(where: Where, raw: Mapping[str, Any], key: str = "per") -> Check[Decimal | None]:
    """A step (``per``) written in the metric's own unit (None when absent or broken)."""
    if key not in raw:
        return None
    m = where.metric
    return (yield from quantity(where.doc, raw[key], m.unit, m.measure, where.at(key)))


def baseline(where: Where, raw: Mapping[str, Any]) -> Check[str | None]:
    """``baseline``: a declared metric (the previous period's value) of the same unit."""
    base = raw.get("baseline")
    if not isinstance(base, str):
        return None
    if base not in where.declared:
        yield where.problem(
            where.at("baseline"),
            f"基期指标 “{base}” 没有在 metrics 中声明",
            did_you_mean(base, where.declared),
            code="KR367",
        )
    elif base in where.metrics and where.metrics[base].unit != where.metric.unit:
        yield where.problem(
            where.at("baseline"),
            f"基期指标 “{base}” 的单位与 “{where.metric.id}” 不同，无法比较",
            code="KR368",
        )
    return base


def segments(where: Where, raw: object) -> Check[tuple[Segment, ...]]:
    """区间法 segments: ordered, touching, each scored within the indicator's points."""
    if not isinstance(raw, list):
        return ()
    unit, measure, path = where.metric.unit, where.metric.measure, where.at("segments")
    out: list[Segment] = []
    for i, seg in enumerate(raw):
        if not isinstance(seg, dict):
            continue
        start = (
            (yield from quantity(where.doc, seg.get("from"), unit, measure, (*path, i, "from")))
            if "from" in seg
            else None
        )
        end = (
            (yield from quantity(where.doc, seg.get("to"), unit, measure, (*path, i, "to")))
            if "to" in seg
            else None
        )
        pts = seg.get("points")
        if start is None or end is None or not (isinstance(pts, list) and len(pts) == 2):
            continue
        p0, p1 = dec(pts[0]), dec(pts[1])
        if p0 is None or p1 is None:
            continue
        if start >= end:
            yield where.problem(
                (*path, i), f"区间起点 {seg.get('from')} 应小于终点 {seg.get('to')}", code="KR370"
            )
        for p in (p0, p1):
            yield from within_points(where, p, "segments", i, "points")
        if out:
            prev = out[-1]
            if start < prev.end:
                yield where.problem(
                    (*path, i, "from"),
                    f"区间应从低到高排列且不重叠：本区间从 {show_q(start, unit)} 开始，上一区间到 {show_q(prev.end, unit)} 才结束",
                    code="KR371",
                )
            elif start > prev.end:
                yield where.problem(
                    (*path, i, "from"),
                    f"区间之间有空档：上一区间到 {show_q(prev.end, unit)} 结束，本区间从 {show_q(start, unit)} 开始",
                    code="KR372",
                )
        out.append(Segment(start, end, p0, p1))
    return tuple(out)


def bands(
    doc: Document, raw: list[Any], path: PathKey, unit: str, measure: str | None, value_key: str
) -> Check[list[tuple[int, Band]]]:
    """Rows or grade bands with their index in the list (rows with errors are left out)."""
    out: list[tuple[int, Band]] = []
    for i, row in enumerate(raw):
        if not isinstance(row, dict):
            continue
        bpath = (*path, i)
        if "below" in row and "to" in row:
            yield doc.problem(bpath, "below（不含）和 to（含）只能写一个", code="KR373")
            continue
        if "from" in row and "over" in row:
            yield doc.problem(bpath, "from（含）和 over（不含）只能写一个", code="KR374")
            continue
        lo_key = "from" if "from" in row else "over" if "over" in row else None
        up_key = "below" if "below" in row else "to" if "to" in row else None
        lo = (
            (yield from quantity(doc, row[lo_key], unit, measure, (*bpath, lo_key)))
            if lo_key
            else None
        )
        hi = (
            (yield from quantity(doc, row[up_key], unit, measure, (*bpath, up_key)))
            if up_key
            else None
        )
        if (lo_key and lo is None) or (up_key and hi is None):
            continue
        empty = (
            lo is not None
            and hi is not None
            and (hi < lo or (hi == lo and (up_key == "below" or lo_key == "over")))
        )
        if empty:
            yield doc.problem(
                bpath, f"下限 {show_q(lo, unit)} 应小于上限 {show_q(hi, unit)}", code="KR375"
            )
            continue
        value = row.get(value_key)
        band = Band(
            lower=lo,
            lower_closed=lo_key != "over",
            upper=hi,
            upper_closed=up_key == "to",
            value=str(value) if value_key == "grade" else "",
            points=dec(value) if value_key == "points" else None,
            line=doc.position(bpath).line,
        )
        out.append((i, band))
    return out


def rows(
    where: Where,
    raw: object,
    unit: str,
    measure: str | None,
    lo: Decimal | None,
    hi: Decimal | None,
) -> Check[tuple[Band, ...]]:
    """A score table (``rows``): bands with points in range, covering ``lo``..``hi`` once."""
    if not isinstance(raw, list):
        return ()
    path = where.at("rows")
    read = yield from bands(where.doc, raw, path, unit, measure, "points")
    for i, band in read:
        yield from within_points(where, band.points, "rows", i, "points")
    if len(read) == len(raw):
        yield from coverage(where.doc, read, lo, hi, path, "分段表", unit)
    return tuple(band for _, band in read)


def _band_name(band: Band) -> str:
    return f"“{band.value}”（第 {band.line} 行）" if band.value else f"第 {band.line} 行"


def coverage(
    doc: Document,
    listed: list[tuple[int, Band]],
    lo: Decimal | None,
    hi: Decimal | None,
    path: PathKey,
    what: str,
    unit: str,
) -> Iterator[Problem]:
    """Bands must cover [lo, hi] exactly once: no gap, no overlap.

    Each problem is reported at the band whose bound is wrong, naming both bands.
    """
    if not listed:
        return
    neg = Decimal("-Infinity")
    ordered = sorted(
        listed,
        key=lambda ib: (ib[1].lower if ib[1].lower is not None else neg, not ib[1].lower_closed),
    )
    name = _band_name
    first_i, first = ordered[0]
    if first.lower is not None and (
        lo is None or first.lower > lo or (first.lower == lo and not first.lower_closed)
    ):
        start = show_q(lo, unit) if lo is not None else "负无穷"
        yield doc.problem(
            (*path, first_i),
            f"{what}没有覆盖 {start} 到 {show_q(first.lower, unit)} 之间的值：最低一档{name(first)}从 {show_q(first.lower, unit)} {'开始' if first.lower_closed else '以上开始'}",
            suggestion="把最低一档的 from 放宽，或删除它表示不设下限",
            code="KR376",
        )
    for (a_i, a), (_, b) in itertools.pairwise(ordered):
        yield from _between(doc, (*path, a_i), a, b, what, unit)
    last_i, last = ordered[-1]
    if last.upper is not None:
        short = hi is None or last.upper < hi or (last.upper == hi and not last.upper_closed)
        if short:
            end = show_q(hi, unit) if hi is not None else "无上限"
            above = "以上" if last.upper_closed else "及以上"
            yield doc.problem(
                (*path, last_i),
                f"{what}没有覆盖 {show_q(last.upper, unit)} {above}（到 {end}）的值：最高一档{name(last)}到 {show_q(last.upper, unit)} 为止",
                suggestion="最高一档只写 from，不写上限",
                code="KR379",
            )


def _between(
    doc: Document, path: PathKey, a: Band, b: Band, what: str, unit: str
) -> Iterator[Problem]:
    """An overlap or a gap between two neighbouring bands (``b`` starts no lower than ``a``)."""
    name = _band_name
    if a.upper is None or b.lower is None:
        overlap, gap = True, False
    else:
        touching = b.lower == a.upper
        overlap = b.lower < a.upper or (touching and a.upper_closed and b.lower_closed)
        gap = b.lower > a.upper or (touching and not a.upper_closed and not b.lower_closed)
    if overlap:
        where = overlap_text(a, b, unit)
        if a.upper is not None and b.lower is not None and b.lower <= a.upper:
            bound = (
                f"below: {show_q(b.lower, unit)}"
                if b.lower_closed
                else f"to: {show_q(b.lower, unit)}"
            )
            fix = f"把{name(a)}的上限改为 {bound}"
        else:
            fix = "每一档都要写明上限或下限，使各档首尾相接"
        yield doc.problem(
            path,
            f"{what}{name(a)}和{name(b)}重叠：{where} 同时落在两档中",
            suggestion=fix,
            code="KR377",
        )
    elif gap:
        assert a.upper is not None and b.lower is not None
        gap_a, gap_b = show_q(a.upper, unit), show_q(b.lower, unit)
        left = "不含" if a.upper_closed else "含"
        right = "不含" if b.lower_closed else "含"
        example = gap_a if a.upper == b.lower else show_q((a.upper + b.lower) / 2, unit)
        yield doc.problem(
            path,
            f"{what}{name(a)}和{name(b)}之间有空档：{gap_a}（{left}）到 {gap_b}（{right}）之间的值（如 {example}）不属于任何一档",
            suggestion=f"把{name(a)}的上限改为 below: {gap_b}",
            code="KR378",
        )


def overlap_text(a: Band, b: Band, unit: str) -> str:
    """Which values two overlapping bands (``b`` starting no lower than ``a``) share."""
    if b.lower is None:
        return "最低一档以下的值"
    if b.lower_closed:
        return f"{show_q(b.lower, unit)}"
    return f"高于 {show_q(b.lower, unit)} 的值"


def available(names: Iterable[str], limit: int = 12) -> str:
    """The names one may use, sorted, at most ``limit`` of them."""
    ordered = sorted(names)
    shown = "、".join(ordered[:limit])
    more = f" 等 {len(ordered)} 个" if len(ordered) > limit else ""
    return f"可用的名字：{shown}{more}"


def unit_word(unit: str | None) -> str:
    """A metric's kind in words: ``百分比指标``."""
    return {
        "percent": "百分比指标",
        "ratio": "比值指标",
        "count": "计数指标",
        "money": "金额指标",
        "duration": "时长指标",
        "yes_no": "是/否指标",
        "rating": "评分指标",
    }.get(unit or "", "指标")


def show_q(value: Decimal | None, unit: str) -> str:
    """A bound in a message: ``95%``, ``24``, or 无穷 when open."""
    if value is None:
        return "无穷"
    if unit == "percent":
        return format_percent(value)
    return format_decimal(value)


#: How ``kpirules diff`` shows a choice written as a word.
CHOICE_WORDS = {
    "pro_rata": "按比例扣",
    "round_up": "按一个计",
    "round_down": "不扣",
    "relative": "相对变化",
    "absolute": "绝对变化",
    "pass_fail": "不得分",
    "proportional": "按比例得分",
}


def q_text(value: Decimal, unit: str) -> str:
    """A quantity in ``kpirules diff``: a percentage for percent metrics."""
    return format_percent(value) if unit == "percent" else format_decimal(value)


def band_words(band: Band, unit: str = "") -> str:
    """A band in ``kpirules diff``: ``≥90% 且 <95%``."""
    lo = (
        "" if band.lower is None else ("≥" if band.lower_closed else ">") + q_text(band.lower, unit)
    )
    hi = (
        "" if band.upper is None else ("≤" if band.upper_closed else "<") + q_text(band.upper, unit)
    )
    return " 且 ".join(x for x in (lo, hi) if x) or "全部"


def words(unit: str, *named: tuple[str, object]) -> list[str]:
    """Declared parameters in ``kpirules diff`` words, skipping those not declared.

    Each pair is (the parameter's word, its value); ``每`` (a step) is shown in the
    metric's unit, other numbers as written, choices in words.
    """
    parts: list[str] = []
    for word, value in named:
        if value is None:
            continue
        if isinstance(value, Decimal):
            shown = q_text(value, unit) if word == "每" else format_decimal(value)
        else:
            shown = CHOICE_WORDS.get(str(value), str(value))
        parts.append(f"{word} {shown}")
    return parts


def rows_words(table: tuple[Band, ...], unit: str) -> list[str]:
    """A score table in ``kpirules diff`` words."""
    return [f"{band_words(b, unit)} 得 {format_decimal(b.points or _ZERO)}分" for b in table]


#: JSON Schema fragments shared by several methods' parameters.
NUMBER: Schema = {"type": "number"}
QUANTITY: Schema = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": "^\\s*[-+]?(\\d+(\\.\\d*)?|\\.\\d+)\\s*\\S*\\s*$"},
    ],
    "errorMessage": "写数值，可带单位，如 95%、4、5万元、24小时",
}
POSITIVE: Schema = {"type": "number", "exclusiveMinimum": 0}
PARTIAL: Schema = {"enum": ["pro_rata", "round_up", "round_down"]}
ROWS: Schema = {"type": "array", "items": {"$ref": "#/$defs/row"}, "minItems": 1}
METRIC_ID: Schema = {
    "type": "string",
    "pattern": "^[^\\W\\d_]\\w*$",
    "errorMessage": "id 只能由字母、汉字、数字和下划线组成，且以字母或汉字开头",
}
