""" "Did you mean": the one place that picks the closest known name for a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: How alike two names must be (difflib's ratio) to be offered as a suggestion.
CUTOFF = 0.5


def closest(name: str, candidates: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """The candidate most like ``name``, or None when none is alike enough."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str], cutoff: float = CUTOFF) -> str | None:
    """A "did you mean" suggestion for a misspelt name (``是不是要写 x？``), or None."""
    found = closest(name, candidates, cutoff)
    return f"是不是要写 {found}？" if found is not None else None
