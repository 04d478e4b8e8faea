"""加分 (bonus): how it scores and how its reason reads."""

from __future__ import annotations

import math
from decimal import Decimal

from kpirules.methods._base import Method, Plan, Pts, Reason, Scored
from kpirules.quantity import format_decimal


def bonus(plan: Plan, v: Decimal) -> Scored:
    """每满 ``per`` 加 ``add`` 分, at most ``cap``."""
    cap = plan.ind.scoring.cap
    assert plan.per is not None and plan.add is not None and cap is not None
    units = Decimal(math.floor(v / plan.per))
    score = min(cap, units * plan.add)
    return score, Reason(
        "每满{0}加{1}分，加 {2}（上限 {3}）",
        (
            plan.per_text,
            format_decimal(plan.add),
            Pts(score, plan.quantum, plan.mode),
            Pts(cap, plan.quantum, plan.mode),
        ),
    )


METHOD = Method(
    id="bonus", words="加分", params=frozenset({"per", "add", "cap"}), score=bonus, simple=True
)
