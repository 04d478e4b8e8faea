"""Periods, rulesets in force by date, and metrics rolled up from shorter periods.

A period is written ``2026`` (a year), ``2026H1``/``2026H2``, ``2026Q1``…``2026Q4``,
``2026-07`` (a month) or ``2026-01-01..2026-03-31`` (any range, both ends inclusive).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import attrs

from kpirules.api import LoadedRuleset, load, part_of_rulesets
from kpirules.errors import KpirulesError
from kpirules.exact import exact
from kpirules.model import Metric, Ruleset
from kpirules.result import Value
from kpirules.values import combine_ratings

_YEAR = re.compile(r"(\d{4})")
_HALF = re.compile(r"(\d{4})\s*[Hh]([12])")
_QUARTER = re.compile(r"(\d{4})\s*[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|至|~)\s*(\d{4}-\d{2}-\d{2})")


class PeriodError(KpirulesError):
    """A period cannot be read, or no single ruleset version is in force for it."""


@attrs.frozen(order=True)
class Period:
    """A span of days, both ends inclusive, with the text it was written as."""

    start: dt.date
    end: dt.date
    text: str

    def contains(self, other: Period) -> bool:
        """Whether ``other`` lies entirely within this period."""
        return self.start <= other.start and other.end <= self.end

    def __str__(self) -> str:
        return self.text


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def parse_period(text: str) -> Period:
    """Read ``2026``, ``2026H1``, ``2026Q3``, ``2026-07`` or ``2026-01-01..2026-03-31``."""
    t = text.strip()
    try:
        if m := _RANGE.fullmatch(t):
            start, end = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
            if end < start:
                raise PeriodError(f"期间 “{text}” 的结束日早于开始日")
            return Period(start, end, t)
        if m := _QUARTER.fullmatch(t):
            year, q = int(m.group(1)), int(m.group(2))
            return Period(dt.date(year, 3 * q - 2, 1), _month_end(year, 3 * q), t)
        if m := _HALF.fullmatch(t):
            year, h = int(m.group(1)), int(m.group(2))
            return Period(dt.date(year, 6 * h - 5, 1), _month_end(year, 6 * h), t)
        if m := _MONTH.fullmatch(t):
            year, month = int(m.group(1)), int(m.group(2))
            return Period(dt.date(year, month, 1), _month_end(year, month), t)
        if m := _YEAR.fullmatch(t):
            year = int(m.group(1))
            return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), t)
    except ValueError:
        pass
    raise PeriodError(
        f"无法读出期间 “{text}”：写成 2026、2026H1、2026Q3、2026-07 或 2026-01-01..2026-03-31"
    )


def previous(period: Period) -> Period:
    """The period of the same kind just before: 2025 for 2026, 2026Q2 for 2026Q3, …"""
    t = period.text
    if m := _QUARTER.fullmatch(t):
        year, q = int(m.group(1)), int(m.group(2))
        return parse_period(f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}")
    if m := _HALF.fullmatch(t):
        year, h = int(m.group(1)), int(m.group(2))
        return parse_period(f"{year - 1}H2" if h == 1 else f"{year}H1")
    if m := _MONTH.fullmatch(t):
        year, month = int(m.group(1)), int(m.group(2))
        return parse_period(f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}")
    if _YEAR.fullmatch(t):
        return parse_period(str(int(t) - 1))
    length = period.end - period.start
    end = period.start - dt.timedelta(days=1)
    start = end - length
    return Period(start, end, f"{start}..{end}")


def in_force(ruleset: Ruleset) -> Period:
    """The dates a ruleset is in force (open-ended: to the end of 9999)."""
    start = dt.date.fromisoformat(ruleset.in_force.start)
    end = (
        dt.date.fromisoformat(ruleset.in_force.end)
        if ruleset.in_force.end
        else dt.date(9999, 12, 31)
    )
    return Period(start, end, f"{start}..{ruleset.in_force.end or '长期'}")


#: A ruleset, or a ruleset loaded for scoring: :func:`choose` gives back what it was given.
R = TypeVar("R", bound=Ruleset)


@exact
def choose(versions: Sequence[R], period: Period, *, as_of: dt.date | None = None) -> R:
    """The one version in force for ``period`` (or on ``as_of``); strict, with reasons.

    Raises :class:`PeriodError` when no version covers the period, when two claim it, or
    when the rules change inside it (naming the versions and how to proceed).
    """

    def name(r: Ruleset) -> str:
        return f"{r.file}（版本 {r.version}，施行 {in_force(r)}）"

    if as_of is not None:
        hits = [r for r in versions if in_force(r).start <= as_of <= in_force(r).end]
        when = f"{as_of}"
    else:
        hits = [r for r in versions if in_force(r).contains(period)]
        when = f"期间 {period}（{period.start}..{period.end}）"
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise PeriodError(f"{when} 同时适用多个版本：" + "；".join(name(r) for r in hits))
    overlapping = [
        r for r in versions if in_force(r).start <= period.end and period.start <= in_force(r).end
    ]
    if as_of is None and len(overlapping) > 1:
        parts = "；".join(
            f"{max(period.start, in_force(r).start)}..{min(period.end, in_force(r).end)} 适用 {name(r)}"
            for r in sorted(overlapping, key=lambda r: in_force(r).start)
        )
        raise PeriodError(
            f"{when} 期间规则发生变化：{parts}。请把期间拆开分别计分（--period 起..止），"
            "或用 --as-of 日期 指定按哪一天施行的版本计分"
        )
    listed = "；".join(name(r) for r in versions) or "（没有）"
    raise PeriodError(f"{when} 没有施行中的规则集版本。已有版本：{listed}")


@exact
def family(paths: Iterable[Path]) -> list[LoadedRuleset]:
    """Every ruleset version in ``paths`` (tests files, bases and fragments are skipped);
    RulesetError if any is invalid."""
    out: list[LoadedRuleset] = []
    for path in paths:
        if path.name.endswith(".tests.yaml") or part_of_rulesets(path):
            continue  # tests files, base rulesets and fragments are not versions
        out.append(load(path))
    ids = {r.id for r in out}
    if len(ids) > 1:
        raise PeriodError(
            "目录中的规则集 id 不一致，不是同一规则集的各个版本：" + "、".join(sorted(ids))
        )
    return out


@exact
def rollup(
    metrics: Sequence[Metric], parts: Sequence[tuple[str, dict[str, Value]]], *, entity: str
) -> dict[str, Value]:
    """Combine one entity's metrics of several periods (in time order) into one period's.

    Each input metric aggregates as it declares: ``sum``, ``mean``, ``last``, ``max``,
    ``min``, ``any``/``all``. Derived metrics are not given: they are recomputed from the
    combined inputs (a yearly rate is the sum of numerators over the sum of denominators).
    """
    out: dict[str, Value] = {}
    for metric in metrics:
        if metric.formula is not None:
            continue
        seen = [(label, values[metric.id]) for label, values in parts if metric.id in values]
        if not seen:
            continue
        how = metric.aggregate
        if not how:
            raise PeriodError(
                f"{entity}：指标 “{metric.label}”（{metric.id}）没有声明 aggregate，无法把 "
                f"{len(seen)} 个期间的数据合并（在规则集中写 aggregate: mean / last / max …）"
            )
        # Ratings are combined within each period first, as the metric declares.
        values = [combine_ratings(metric, v) for _, v in seen]
        if how == "last":
            out[metric.id] = values[-1]
        elif how in ("any", "all"):
            flags = [bool(v) for v in values]
            out[metric.id] = any(flags) if how == "any" else all(flags)
        else:
            numbers = [v for v in values if isinstance(v, Decimal)]
            if how == "sum":
                out[metric.id] = sum(numbers, Decimal(0))
            elif how == "mean":
                out[metric.id] = sum(numbers, Decimal(0)) / Decimal(len(numbers))
            elif how == "max":
                out[metric.id] = max(numbers)
            elif how == "min":
                out[metric.id] = min(numbers)
    return out


#: One row of a metrics file with its period column: entity, period text, values.
Record = tuple[str, str, dict[str, Value]]


class NoPeriodDataError(PeriodError):
    """No row of the metrics lies within the period; ``notes`` says what was set aside."""

    def __init__(self, message: str, notes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.notes = notes


@attrs.frozen
class PeriodRows:
    """The rows to score for one period, and one note per thing done to the data."""

    rows: tuple[tuple[str, dict[str, Value]], ...]
    notes: tuple[str, ...]


def period_rows(
    ruleset: Ruleset, records: Sequence[Record], period: Period, *, source: str
) -> PeriodRows:
    """The rows to score for ``period`` from rows that each name their own period.

    Rows within the period are rolled up per entity (:func:`rollup`); rows outside it are
    set aside; metrics declared ``previous_of`` are filled from the previous period's rows
    unless given. Without any period in the rows, they are returned as they are.
    ``source`` names the metrics file in the notes.

    Raises:
        PeriodError: a period cannot be read or cannot be rolled up.
        NoPeriodDataError: no row lies within ``period``.
    """
    if not any(part for _, part, _ in records):
        return PeriodRows(tuple((entity, values) for entity, _, values in records), ())
    notes: list[str] = []
    by_entity = _within(records, period)
    outside = len(records) - sum(len(parts) for parts in by_entity.values())
    if outside:
        notes.append(f"{source}: {outside} 行数据不在期间 {period} 内，未使用")
    rows: list[tuple[str, dict[str, Value]]] = []
    for entity, parts in by_entity.items():
        listed = "、".join(p.text for p, _ in parts)
        notes.append(f"{source}: {entity} 按期间 {period} 汇总了 {len(parts)} 期数据（{listed}）")
        rows.append(
            (entity, rollup(ruleset.metrics, [(p.text, v) for p, v in parts], entity=entity))
        )
    if not rows:
        raise NoPeriodDataError(f"{source} 中没有期间 {period} 内的数据", tuple(notes))
    filled = _with_previous(source, ruleset, period, records, rows, notes)
    return PeriodRows(tuple(filled), tuple(notes))


def _within(
    records: Sequence[Record], period: Period
) -> dict[str, list[tuple[Period, dict[str, Value]]]]:
    """Each entity's rows within ``period``, in time order."""
    by_entity: dict[str, list[tuple[Period, dict[str, Value]]]] = {}
    for entity, text, values in records:
        part = parse_period(text)
        if period.contains(part):
            by_entity.setdefault(entity, []).append((part, values))
    for parts in by_entity.values():
        parts.sort(key=lambda p: p[0])
    return by_entity


def _with_previous(
    source: str,
    ruleset: Ruleset,
    period: Period,
    records: Sequence[Record],
    rows: list[tuple[str, dict[str, Value]]],
    notes: list[str],
) -> list[tuple[str, dict[str, Value]]]:
    """Fill metrics declared ``previous_of`` from the previous period's rows, noting so."""
    linked = [(m, m.previous_of) for m in ruleset.metrics if m.previous_of]
    if not linked:
        return rows
    before = previous(period)
    parts = _within(records, before)
    out: list[tuple[str, dict[str, Value]]] = []
    for entity, values in rows:
        filled = dict(values)
        earlier = parts.get(entity, [])
        rolled = (
            rollup(ruleset.metrics, [(p.text, v) for p, v in earlier], entity=entity)
            if earlier
            else {}
        )
        for metric, of in linked:
            if metric.id in filled:
                notes.append(f"{source}: {entity} 的 {metric.label} 用数据中直接给出的值")
            elif of in rolled:
                filled[metric.id] = rolled[of]
                notes.append(
                    f"{source}: {entity} 的 {metric.label} 取自上一期 {before} 的数据"
                    f"（{'、'.join(p.text for p, _ in earlier)}）"
                )
        out.append((entity, filled))
    return out
