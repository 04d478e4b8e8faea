"""Rows sent as JSON, checked against the ruleset's metrics like a metrics file's rows."""

from __future__ import annotations

from collections.abc import Sequence

from kpirules.errors import Problem
from kpirules.inputs import InputError, Row
from kpirules.model import Ruleset
from kpirules.quantity import QuantityError
from kpirules.result import Value
from kpirules.service.models import Row as JsonRow
from kpirules.validate import did_you_mean
from kpirules.values import read_value

#: How problems in a JSON request name their "file".
REQUEST = "请求"


def read_rows(ruleset: Ruleset, rows: Sequence[JsonRow]) -> list[Row]:
    """Each row's values read as the ruleset declares its metrics (by id or label).

    Raises :class:`InputError` with every problem at its JSON path (``$.rows[2].metrics.x``).
    """
    names: dict[str, str] = {}
    for m in ruleset.metrics:
        if m.formula is None:
            names[m.id] = m.id
            names.setdefault(m.label, m.id)
    problems: list[Problem] = []
    out: list[Row] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"$.rows[{i}]"
        if row.entity in seen:
            problems.append(_problem(f"{where}.entity", f"对象 “{row.entity}” 重复", code="KR544"))
            continue
        seen.add(row.entity)
        values: dict[str, Value] = {}
        for key, raw in row.metrics.items():
            mid = names.get(key)
            path = f"{where}.metrics.{key}"
            if mid is None:
                problems.append(
                    _problem(
                        path,
                        f"规则集中没有指标 “{key}”（派生指标由公式计算，不需要给值）",
                        did_you_mean(key, names),
                        code="KR543",
                    )
                )
                continue
            if isinstance(raw, str) and not raw.strip():
                continue
            try:
                values[mid] = read_value(ruleset.metric(mid), raw)
            except QuantityError as exc:
                problems.append(_problem(path, str(exc), code="KR534"))
        out.append((row.entity, values))
    if problems:
        raise InputError(problems)
    return out


def _problem(path: str, message: str, suggestion: str | None = None, *, code: str) -> Problem:
    return Problem(REQUEST, 0, 0, path, "error", message, suggestion, code=code)
