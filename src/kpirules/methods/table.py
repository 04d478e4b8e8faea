"""分档计分 (table): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import (
    ZERO,
    Given,
    Method,
    Plan,
    Pts,
    ReadsOwnMetric,
    Reason,
    Scored,
    text_of,
    value_arg,
)
from kpirules.methods._params import ROWS, Check, Where, rows, rows_words
from kpirules.model import Band, Metric


@attrs.frozen
class Params(ReadsOwnMetric):
    """``rows``: value bands, each with its points, covering the metric's range once."""

    rows: tuple[Band, ...]


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """Rows in the metric's unit, points in range, no gap or overlap over its range."""
    m = where.metric
    table = yield from rows(where, raw.get("rows"), m.unit, m.measure, m.minimum, m.maximum)
    return Params(table) if table else None


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


def table(plan: Plan, v: Decimal, given: Given) -> Scored:
    """分档: the points of the row the value falls in."""
    params: Params = plan.params
    for band in params.rows:
        if band.contains(v):
            score = band.points or ZERO
            return score, Reason(
                "落在分档 {0}，得 {1}",
                (band_text(band, plan.metric), Pts(score, plan.quantum, plan.mode)),
            )
    raise FormulaEvaluationError(f"值 {text_of(value_arg(plan.metric, v))} 不在分档表的任何一档中")


def describe(params: Params, unit: str) -> list[str]:
    return rows_words(params.rows, unit)


METHOD = Method(
    id="table",
    order=70,
    words="分档计分",
    score=table,
    check=check,
    schema={"rows": ROWS},
    required=("rows",),
    describe=describe,
    simple=True,
)
