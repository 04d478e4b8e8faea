"""分档计分 (table): how it scores and how its reason reads."""

from __future__ import annotations

from decimal import Decimal

from kpirules.compiler import FormulaEvaluationError
from kpirules.methods._base import ZERO, Method, Plan, Pts, Reason, Scored, text_of, value_arg
from kpirules.model import Band, Metric


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


def table(plan: Plan, v: Decimal) -> Scored:
    """分档: the points of the row the value falls in."""
    for band in plan.ind.scoring.rows:
        if band.contains(v):
            score = band.points or ZERO
            return score, Reason(
                "落在分档 {0}，得 {1}",
                (band_text(band, plan.metric), Pts(score, plan.quantum, plan.mode)),
            )
    raise FormulaEvaluationError(f"值 {text_of(value_arg(plan.metric, v))} 不在分档表的任何一档中")


METHOD = Method(id="table", words="分档计分", params=frozenset({"rows"}), score=table, simple=True)
