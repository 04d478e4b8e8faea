"""百分位计分 (percentile): its parameters, how it scores and how its reason reads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import (
    ONE,
    ZERO,
    Given,
    Method,
    NoCohortError,
    Pct,
    Plan,
    Pts,
    ReadsOwnMetric,
    Reason,
    Scored,
)
from kpirules.methods._params import ROWS, Check, Where, rows, rows_words
from kpirules.model import Band


@attrs.frozen
class Params(ReadsOwnMetric):
    """``rows``: bands of the share of the batch outperformed (0%–100%), with points."""

    rows: tuple[Band, ...]


def check(raw: Mapping[str, Any], where: Where) -> Check[Params | None]:
    """Rows in percent, points in range, covering 0%–100% once."""
    table = yield from rows(where, raw.get("rows"), "percent", None, ZERO, ONE)
    return Params(table) if table else None


def percentile(plan: Plan, v: Decimal, given: Given) -> Scored:
    """百分位: points by the share of the cohort this entity is better than."""
    params: Params = plan.params
    if given.cohort is None:
        raise NoCohortError
    p = given.cohort.share_worse(v, plan.higher)
    for band in params.rows:
        if band.contains(p):
            score = band.points or ZERO
            return score, Reason(
                "优于同组 {0} 的单位，得 {1}", (Pct(p), Pts(score, plan.quantum, plan.mode))
            )
    raise FormulaEvaluationError("百分位不在分档表的任何一档中")


def describe(params: Params, unit: str) -> list[str]:
    return rows_words(params.rows, unit)


METHOD = Method(
    id="percentile",
    order=110,
    words="百分位计分",
    score=percentile,
    check=check,
    schema={"rows": ROWS},
    required=("rows",),
    describe=describe,
    cohort=True,
    no_equal=True,
    needs_direction=True,
)
