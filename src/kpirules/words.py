"""The language of what people read, and the Chinese names of the ids a ruleset uses.

Text for policy staff is Chinese. Developers may ask for the earlier wording, which keeps
ids and English words (``kpirules --lang en``): :func:`language` switches it for the
current thread or task only, so a service answering several requests is not affected.
JSON output always keeps the ids.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

_LANGUAGE: ContextVar[Language] = ContextVar("kpirules_language", default="zh")

#: Outcome kinds (``outcomes[].kind``) by their Chinese names.
OUTCOME_KINDS = {
    "reward": "奖励",
    "honour": "表彰",
    "penalty": "处罚",
    "settlement": "结算返还",
    "warning": "警告",
    "rectification": "整改",
    "accountability": "问责",
    "notice": "通报",
}

#: Adjustment kinds (``adjustments.rules[].kind``).
ADJUSTMENT_KINDS = {"bonus": "加分", "penalty": "减分"}


def english() -> bool:
    """Whether the earlier wording (ids and English words) was asked for."""
    return _LANGUAGE.get() == "en"


@contextlib.contextmanager
def language(lang: Language) -> Iterator[None]:
    """Use ``lang`` for the text produced inside the ``with`` block (this context only)."""
    token = _LANGUAGE.set(lang)
    try:
        yield
    finally:
        _LANGUAGE.reset(token)


def outcome_kind(kind: str) -> str:
    """An outcome kind as policy staff name it (the id itself under ``--lang en``)."""
    return kind if english() else OUTCOME_KINDS.get(kind, kind)


#: Heading fields of a ruleset as ``diff`` names them.
FIELDS = {"title": "方案名称", "version": "版本", "source": "出处", "cycle": "考核周期"}

#: Values of ``direction``, ``missing``, ``cycle`` and ``rounding.at`` (the ruleset guide's names).
VALUES = {
    "higher_better": "越高越好",
    "lower_better": "越低越好",
    "equal": "越接近越好",
    "monitor": "仅监测",
    "error": "报错",
    "zero": "按 0 分",
    "exclude": "不计入",
    "year": "年度",
    "half_year": "半年",
    "quarter": "季度",
    "month": "月度",
    "total": "只对总分取舍",
    "items": "对各项得分取舍",
}


def field(name: str) -> str:
    """A heading field's Chinese name (the key itself under ``--lang en``)."""
    return name if english() else FIELDS.get(name, name)


def value(word: object) -> str:
    """A value such as ``higher_better`` in words (as written under ``--lang en``)."""
    text = str(word)
    return text if english() else VALUES.get(text, text)


_DATE_PARTS = re.compile(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*")
DATE_FORMS = "日期写成 年-月-日，月和日各两位，如 2026-01-01、2026-12-31"


def date_fix(text: str) -> str:
    """How to write a date that was written another way (``2026/1/1``, ``2026年1月1日``)."""
    parts = _DATE_PARTS.fullmatch(text)
    if parts is None:
        return DATE_FORMS
    year, month, day = parts.groups()
    return f"{DATE_FORMS}：“{text}” 写成 {year}-{int(month):02d}-{int(day):02d}"
