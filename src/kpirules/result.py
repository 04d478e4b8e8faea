"""The result of scoring one entity: every number, its reason, and where it came from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, NamedTuple

import attrs

from kpirules._core.canonical import canonical_json
from kpirules.errors import KpirulesError
from kpirules.exact import exact

Status = Literal["met", "not_met", "no_target", "missing", "excluded", "monitor", "vetoed"]
Value = Decimal | bool | tuple[Decimal, ...]


class ItemResult(NamedTuple):
    """One indicator's result: value, target, method, points available, score, reason.

    ``explanation`` renders ``reason`` into one sentence in the ruleset's language.
    """

    id: str
    label: str
    category: str
    metric: str
    value: Decimal | bool | None
    inputs: tuple[tuple[str, Value | None], ...]
    target: str | None
    method: str
    points: Decimal
    score: Decimal
    status: Status
    reason: Any
    line: int

    @property
    def explanation(self) -> str:
        """The reason as text, e.g. ``审核差错率 3.00%，高于目标 ≤ 2%，…，得 9.00分``.

        Rendering passes its own context to every decimal operation: it neither depends on
        nor changes the caller's decimal context.
        """
        text: str = self.reason.render()
        return text

    def as_dict(self) -> dict[str, Any]:
        """Plain data, with the explanation rendered."""
        data = self._asdict()
        del data["reason"]
        data["explanation"] = self.explanation
        data["inputs"] = dict(self.inputs)
        return data


class CategoryResult(NamedTuple):
    """A category's points available and subtotal."""

    id: str
    label: str
    points: Decimal
    subtotal: Decimal
    line: int


class Fired(NamedTuple):
    """A veto, adjustment or outcome rule that applied, with the condition that fired it.

    ``points`` is an adjustment's points or a veto's cap (None for outcomes). An outcome
    with an ``amount:`` formula carries ``amount`` (rounded once, by the ruleset's money
    rule) in ``unit``; ``unrounded`` is the formula's exact result and ``basis`` the value of
    every name the formula used, so the amount can be recomputed by hand.
    """

    id: str
    label: str
    kind: str
    condition: str
    points: Decimal | None
    line: int
    amount: Decimal | None = None
    unit: str | None = None
    unrounded: Decimal | None = None
    basis: tuple[tuple[str, Decimal], ...] = ()

    def rule_dict(self) -> dict[str, Any]:
        """Plain data of a veto or adjustment: its points, no amount."""
        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "condition": self.condition,
            "points": self.points,
            "line": self.line,
        }

    def outcome_dict(self) -> dict[str, Any]:
        """Plain data of an outcome: its amount with unit and basis, no points."""
        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "condition": self.condition,
            "amount": self.amount,
            "unit": self.unit,
            "unrounded": self.unrounded,
            "basis": dict(self.basis),
            "line": self.line,
        }


class ShownValue(NamedTuple):
    """A value the ruleset lists with every result (``show:``): id, label, exact value, unit."""

    id: str
    label: str
    value: Decimal | None
    unit: str


@attrs.frozen
class Provenance:
    """What produced a result: the ruleset's fingerprint, the engine, the decimal context.

    ``engine`` is the package version (``kpirules 0.1.0``); ``engine_digest`` is the SHA-256
    of the scoring code's source (``sha256:…``), so a changed engine shows even under the
    same version number.
    """

    ruleset: str
    version: str
    fingerprint: str
    engine: str
    engine_digest: str
    decimal_context: str
    rounding: str


@attrs.frozen
class Result:
    """Everything about one entity's appraisal."""

    entity: str
    items: tuple[ItemResult, ...]
    categories: tuple[CategoryResult, ...]
    raw_total: Decimal
    adjustments: tuple[Fired, ...]
    adjusted_total: Decimal
    vetoes: tuple[Fired, ...]
    total: Decimal
    grade: str | None
    outcomes: tuple[Fired, ...]
    provenance: Provenance
    rank: int | None = None
    cohort_size: int | None = None
    values: tuple[ShownValue, ...] = ()

    def item(self, item_id: str) -> ItemResult:
        """The result of the indicator with this id (KeyError if none)."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def subtotal(self, category_id: str) -> Decimal:
        """The subtotal of the category with this id (KeyError if none)."""
        for cat in self.categories:
            if cat.id == category_id:
                return cat.subtotal
        raise KeyError(category_id)

    @exact
    def to_dict(self) -> dict[str, Any]:
        """Plain data: Decimals as exact strings, tuples as lists, keys in a fixed order."""
        data: dict[str, Any] = {
            "entity": self.entity,
            "items": [item.as_dict() for item in self.items],
            "categories": [c._asdict() for c in self.categories],
            "raw_total": self.raw_total,
            "adjustments": [a.rule_dict() for a in self.adjustments],
            "adjusted_total": self.adjusted_total,
            "vetoes": [v.rule_dict() for v in self.vetoes],
            "total": self.total,
            "grade": self.grade,
            "outcomes": [o.outcome_dict() for o in self.outcomes],
            "provenance": attrs.asdict(self.provenance),
            "rank": self.rank,
            "cohort_size": self.cohort_size,
        }
        if self.values:
            # Only rulesets that declare show: list values; other results keep their shape.
            data["values"] = [v._asdict() for v in self.values]
        converted: dict[str, Any] = _plain(data)
        return converted

    @exact
    def to_json(self, *, indent: int | None = None) -> str:
        """Canonical JSON: sorted keys, Decimals as strings, UTF-8 text; byte-stable."""
        return canonical_json(self.to_dict(), indent=indent)


def decimal_text(value: Decimal) -> str:
    """Exact decimal text without exponent; trailing zeros kept as computed."""
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@attrs.frozen
class EvaluationProblem:
    """Why an entity could not be scored: which entity, which field, what to do."""

    entity: str
    field: str
    message: str
    code: str = attrs.field(kw_only=True)
    """The problem's stable code such as ``KR604`` (see :mod:`kpirules.codes`)."""

    def __str__(self) -> str:
        where = f"{self.entity}: " if self.entity else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class EvaluationError(KpirulesError):
    """Metrics could not be scored; ``problems`` says what is wrong for each entity."""

    def __init__(self, problems: list[EvaluationProblem] | tuple[EvaluationProblem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
