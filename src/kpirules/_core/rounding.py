"""Rounding modes: the one map from a ruleset's ``mode:`` to Python's and to Chinese words."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP
from types import MappingProxyType

#: Each ``rounding.mode`` / ``money.mode`` of a ruleset as a :mod:`decimal` rounding.
MODES = MappingProxyType(
    {
        "half_up": ROUND_HALF_UP,
        "half_even": ROUND_HALF_EVEN,
        "down": ROUND_DOWN,
        "up": ROUND_UP,
        "half_down": ROUND_HALF_DOWN,
    }
)

#: Each rounding mode in the words of the rules (四舍五入 …).
MODE_WORDS = MappingProxyType(
    {
        "half_up": "四舍五入",
        "half_even": "四舍六入五成双",
        "down": "舍去",
        "up": "进一",
        "half_down": "五舍六入",
    }
)
