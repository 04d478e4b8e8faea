"""The "mixed" benchmark model: one indicator of each common method, three ways.

The model is ``models/mixed.yaml`` (a kpirules ruleset with hand-computed test cases):
a derived error rate scored by ``deduct``, satisfaction by ``linear`` (区间法), a derived
settlement rate and a count by ``proportional``, a yes/no item by ``pass_fail``, downtime by
``table``, innovations by ``bonus``, a ``cap_total`` veto, four grade bands and three
outcomes (one on the grade, one on the total, one on a raw fact).

The same model is written as a zen-engine JDM graph (``models/mixed.jdm.json``: expression
nodes for the derived rates, the scores and the total; decision tables for downtime, the grade
bands and the outcomes, the last with hit policy ``collect``) and as :func:`hand_score`, a
hand-written Decimal scorer.
"""

from __future__ import annotations

import decimal
import json
import math
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

MODELS = Path(__file__).resolve().parent / "models"
RULESET = MODELS / "mixed.yaml"
JDM = MODELS / "mixed.jdm.json"

# kpirules scores in this context (its results say so in provenance.decimal_context; run.py
# checks that), so the hand-written scorer gets the same digits from every division.
CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    traps=[decimal.DivisionByZero, decimal.InvalidOperation, decimal.Overflow],
)
CONTEXT_TEXT = "prec=28, rounding=ROUND_HALF_EVEN"

# The scored indicators in ruleset order (the monitor-only item gives no points).
SCORED = (
    "audit_error_score",
    "satisfaction_score",
    "settlement_score",
    "publicity_score",
    "plan_score",
    "downtime_score",
    "innovation_bonus",
)

Normal = tuple[tuple[Decimal, ...], Decimal, str | None, tuple[str, ...]]


def entities(n: int, seed: int = 20261201) -> list[dict[str, Any]]:
    """Deterministic plausible metrics: Decimal numbers and a bool for the yes/no item."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        audits = rng.randint(500, 5000)
        settlements = rng.randint(500, 5000)
        out.append(
            {
                "audits": Decimal(audits),
                "audit_errors": Decimal(rng.randint(0, audits * 8 // 100)),
                "satisfaction": Decimal(rng.randint(7500, 10000)) / 10000,
                "settlements": Decimal(settlements),
                "settled_on_time": Decimal(settlements - rng.randint(0, settlements * 5 // 100)),
                "publicity_events": Decimal(rng.randint(0, 8)),
                "plan_done": rng.random() < 0.8,
                "downtime": Decimal(rng.randint(0, 720)) / 10,
                "innovations": Decimal(rng.choice((0, 0, 0, 1, 1, 2, 3))),
                "fund_incidents": Decimal(1 if rng.random() < 0.03 else 0),
                "fund_loss": (
                    Decimal(rng.randint(0, 10_000_000)) / 100 if rng.random() < 0.05 else Decimal(0)
                ),
            }
        )
    return out


def zen_graph() -> dict[str, Any]:
    """The JDM graph of the model."""
    graph: dict[str, Any] = json.loads(JDM.read_text(encoding="utf-8"))
    return graph


def zen_context(row: dict[str, Any]) -> dict[str, Any]:
    """One entity's metrics as zen-engine takes them (binary floats, a bool)."""
    return {k: v if isinstance(v, bool) else float(v) for k, v in row.items()}


def zen_normal(out: dict[str, Any]) -> Normal:
    """A zen-engine result as (scores, total, grade, outcome ids); numbers as zen printed them."""
    return (
        tuple(Decimal(repr(out[k])) for k in SCORED),
        Decimal(repr(out["total"])),
        out["grade"],
        tuple(o["id"] for o in out["outcomes"]),
    )


ZERO, ONE, TWO, FOUR = Decimal(0), Decimal(1), Decimal(2), Decimal(4)
P10, P12, P20 = Decimal(10), Decimal(12), Decimal(20)
T_ERR, PER_ERR, DEDUCT = Decimal("0.02"), Decimal("0.01"), Decimal(5)
S_LO, S_MID, S_HI = Decimal("0.80"), Decimal("0.90"), Decimal("0.95")
S_LO_SPAN, S_HI_SPAN, S_HI_POINTS = S_MID - S_LO, S_HI - S_MID, P20 - P12
T_SETTLE, T_PUBLICITY = Decimal(1), Decimal(4)
H24, H48, CAP_BONUS, CAP_VETO = Decimal(24), Decimal(48), Decimal(4), Decimal(59)
G90, G80, G60, LOSS = Decimal(90), Decimal(80), Decimal(60), Decimal(50000)
CENT = Decimal("0.01")


def hand_score(m: dict[str, Any]) -> Normal:
    """The model as straight-line Decimal Python, in the order of operations kpirules uses.

    Must run inside ``decimal.localcontext(CONTEXT)``.
    """
    rate = m["audit_errors"] / m["audits"]
    s_err = P20 if rate <= T_ERR else max(ZERO, P20 - (rate - T_ERR) / PER_ERR * DEDUCT)
    sat = m["satisfaction"]
    if sat < S_LO:
        s_sat = ZERO
    elif sat <= S_MID:
        s_sat = ZERO + (sat - S_LO) / S_LO_SPAN * P12
    elif sat <= S_HI:
        s_sat = P12 + (sat - S_MID) / S_HI_SPAN * S_HI_POINTS
    else:
        s_sat = P20
    s_settle = min(P20, m["settled_on_time"] / m["settlements"] / T_SETTLE * P20)
    s_pub = min(P10, m["publicity_events"] / T_PUBLICITY * P10)
    s_plan = P10 if m["plan_done"] else ZERO
    downtime = m["downtime"]
    s_down = P20 if downtime <= H24 else P10 if downtime <= H48 else ZERO
    s_bonus = min(CAP_BONUS, Decimal(math.floor(m["innovations"] / ONE)) * TWO)
    total = max(ZERO, s_err + s_sat + s_settle + s_pub + s_plan + s_down + s_bonus)
    if m["fund_incidents"] > ZERO and total > CAP_VETO:
        total = CAP_VETO
    total = total.quantize(CENT, ROUND_HALF_UP)
    grade = (
        "优秀" if total >= G90 else "良好" if total >= G80 else "合格" if total >= G60 else "不合格"
    )
    outcomes = []
    if grade == "优秀":
        outcomes.append("commend")
    if total < G60:
        outcomes.append("rectify")
    if m["fund_loss"] > LOSS:
        outcomes.append("accountability")
    return (s_err, s_sat, s_settle, s_pub, s_plan, s_down, s_bonus), total, grade, tuple(outcomes)
