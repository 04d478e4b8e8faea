""" "Did you mean": the one place that picks the closest known name for a misspelt one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

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


#: Words a condition compares yes/no metrics with (see :mod:`kpirules.formula`).
_YES_NO_WORDS = ("是", "否", "有", "无")


def name_hint(name: str, names: Iterable[str], labels: Mapping[str, str]) -> str:
    """What to write instead of an undefined ``name`` in a formula: a few close names (never
    the whole list), the id of a data item whose label was written, or what a name may be.

    ``labels`` maps data labels to their ids.
    """
    known = sorted(names)
    best = did_you_mean(name, known)
    if best is not None:
        return best
    if name in _YES_NO_WORDS:
        return f"“{name}” 只能与是/否指标比较，如 重大差错 == {name}"
    by_label = {label: mid for label, mid in labels.items() if mid in known}
    if name in by_label:
        return f"“{name}” 是数据的名称，公式中写它的 id：{by_label[name]}"
    close_labels = difflib.get_close_matches(name, sorted(by_label), n=3, cutoff=CUTOFF)
    if close_labels:
        shown = " 或 ".join(f"{by_label[label]}（{label}）" for label in close_labels)
        return f"公式中写数据的 id：是不是要写 {shown}？"
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.3)
    if close:
        return f"是不是要写 {' 或 '.join(close)}？"
    return "公式中的名字应是 metrics 中的数据、指标或类别的 id，或 total、raw_total 等内置名字"
