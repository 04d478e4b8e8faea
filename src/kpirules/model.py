"""The validated ruleset: immutable attrs classes, tuples instead of lists, Decimal numbers.

Every object keeps ``line`` (1-based) of the YAML that declared it, so that results and
explanations can point back to the ruleset text.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Literal, Protocol

import attrs

from kpirules.formula import Formula
from kpirules.quantity import Target

Weighting = Literal["points", "percent_of_total", "percent_of_parent", "share"]
Direction = Literal["higher_better", "lower_better", "equal", "monitor"]
Missing = Literal["error", "zero", "exclude"]
RoundingMode = Literal["half_up", "half_even", "down", "up", "half_down"]


@attrs.frozen
class SourceFile:
    """One file a ruleset is made of: its path (as the ruleset names it) and SHA-256."""

    path: str
    sha256: str


@attrs.frozen
class Rounding:
    """How and where scores are rounded: once, at ``items`` or at the ``total``."""

    places: int = 2
    mode: RoundingMode = "half_up"
    at: Literal["items", "total"] = "total"


@attrs.frozen
class Money:
    """How outcome amounts are expressed: their unit and how they are rounded, once.

    An amount formula is computed exactly; its result is then rounded to ``places`` decimal
    places with ``mode`` (the only rounding an amount ever gets).
    """

    unit: str = "元"
    places: int = 2
    mode: RoundingMode = "half_up"


#: Outcome kinds that may (``reward``, ``penalty``) or must (``settlement``) carry an amount.
MONEY_KINDS = ("reward", "penalty", "settlement")


@attrs.frozen
class InForce:
    """The dates during which a ruleset applies; both ends inclusive, ``to`` may be open."""

    start: str
    end: str | None


@attrs.frozen
class Ratings:
    """How several assessors' ratings of one metric are combined."""

    combine: Literal["mean", "trimmed_mean"]
    min_raters: int


@attrs.frozen
class Metric:
    """An input (or derived) value, with its unit, valid range and aggregation."""

    id: str
    label: str
    unit: str
    measure: str | None
    minimum: Decimal | None
    maximum: Decimal | None
    formula: Formula | None
    aggregate: str
    ratings: Ratings | None
    source: str | None
    line: int
    previous_of: str | None = None
    #: For a rating: the metrics-file columns that each hold one assessor's rating.
    columns: tuple[str, ...] = ()


@attrs.frozen
class Segment:
    """One piece of a piecewise-linear (区间法) scoring: ``start``..``end`` → points."""

    start: Decimal
    end: Decimal
    start_points: Decimal
    end_points: Decimal


@attrs.frozen
class Band:
    """An interval of values: a grade band or a row of a score table.

    ``lower`` is included unless ``lower_closed`` is False (written ``over``); ``upper`` is
    excluded unless ``upper_closed`` is True (written ``to``). None means unbounded.
    """

    lower: Decimal | None
    lower_closed: bool
    upper: Decimal | None
    upper_closed: bool
    value: str
    points: Decimal | None
    line: int

    def contains(self, x: Decimal) -> bool:
        """Whether ``x`` lies in the band."""
        if self.lower is not None and (
            x < self.lower or (x == self.lower and not self.lower_closed)
        ):
            return False
        if self.upper is None:
            return True
        return x <= self.upper if self.upper_closed else x < self.upper


class Params(Protocol):
    """A scoring method's parameters: a frozen class defined by the method's own module.

    The model only knows this much of them, so that it stays free of the methods: which
    metrics the method reads besides the indicator's own (a baseline).
    """

    def reads(self) -> tuple[str, ...]:
        """Ids of the metrics the method reads besides the indicator's own, in order."""
        ...


@attrs.frozen
class Scoring:
    """A scoring method (its id in :data:`kpirules.methods.METHODS`) and its parameters."""

    method: str
    params: Params


@attrs.frozen
class Indicator:
    """A scored item: its metric, target, method and the points it carries."""

    id: str
    label: str
    metric: str
    weight: Decimal | None
    points: Decimal
    direction: Direction
    target: Target | None
    target_value: Decimal | bool | None
    scoring: Scoring
    missing: Missing
    source: str | None
    line: int


@attrs.frozen
class Category:
    """A group of indicators and sub-categories with its own points."""

    id: str
    label: str
    weight: Decimal | None
    points: Decimal
    weighting: Weighting
    categories: tuple[Category, ...]
    indicators: tuple[Indicator, ...]
    source: str | None
    line: int


@attrs.frozen
class Veto:
    """一票否决: when the condition holds, the total is zeroed or capped, or the grade capped."""

    id: str
    label: str
    when: Formula
    effect: Literal["zero", "cap_total", "cap_grade"]
    cap: Decimal | None
    grade: str | None
    source: str | None
    line: int


@attrs.frozen
class Adjustment:
    """A total-level bonus or penalty, computed by formula and capped."""

    id: str
    label: str
    kind: Literal["bonus", "penalty"]
    points: Formula
    cap: Decimal | None
    when: Formula | None
    source: str | None
    line: int


@attrs.frozen
class Adjustments:
    """All total-level adjustments with their overall caps."""

    rules: tuple[Adjustment, ...] = ()
    max_bonus: Decimal | None = None
    max_penalty: Decimal | None = None


@attrs.frozen
class Outcome:
    """A reward, penalty, settlement, rectification or accountability rule and when it fires.

    ``amount`` (money in the ruleset's :class:`Money` unit) is allowed on the kinds in
    :data:`MONEY_KINDS` and required on ``settlement``.
    """

    id: str
    label: str
    kind: str
    when: Formula | None
    grades: tuple[str, ...]
    amount: Formula | None
    source: str | None
    line: int


@attrs.frozen
class Expectation:
    """What a test case expects; absent parts are not checked."""

    total: Decimal | None = None
    raw_total: Decimal | None = None
    grade: str | None = None
    scores: tuple[tuple[str, Decimal], ...] = ()
    subtotals: tuple[tuple[str, Decimal], ...] = ()
    outcomes: tuple[str, ...] | None = None
    vetoes: tuple[str, ...] | None = None
    error: str | None = None
    amounts: tuple[tuple[str, Decimal], ...] = ()
    rank: int | None = None


@attrs.frozen
class TestCase:
    """A ruleset's own worked example: metrics in, expected results out."""

    __test__ = False  # not a pytest test class

    name: str
    metrics: tuple[tuple[str, Decimal | bool | tuple[Decimal, ...]], ...]
    expect: Expectation
    line: int
    cohort: tuple[
        tuple[str, tuple[tuple[str, Decimal | bool | tuple[Decimal, ...]], ...]], ...
    ] = ()


@attrs.frozen
class Ruleset:
    """A validated, immutable ruleset: data only.

    Scoring needs its compiled program (:func:`kpirules.engine.compile_ruleset`);
    :func:`kpirules.load` returns the two together.
    """

    id: str
    title: str
    version: str
    source: str
    in_force: InForce
    cycle: str | None
    total_points: Decimal
    rounding: Rounding
    weighting: Weighting
    metrics: tuple[Metric, ...]
    categories: tuple[Category, ...]
    vetoes: tuple[Veto, ...]
    adjustments: Adjustments
    grades: tuple[Band, ...]
    outcomes: tuple[Outcome, ...]
    tests: tuple[TestCase, ...]
    file: str
    text: str
    fingerprint: str = ""
    #: The unit and rounding of outcome amounts.
    money: Money = Money()
    #: Metric ids whose values every result lists in ``Result.values`` (e.g. a deposit).
    show: tuple[str, ...] = ()
    #: Extra names of the entity column in metrics files (``data: {entity_column: …}``).
    entity_columns: tuple[str, ...] = ()
    #: Every file the ruleset is made of (``extends``/``include``), the main file first.
    sources: tuple[SourceFile, ...] = ()
    #: (id, file) of each item written in another file than ``file``; grades as ``grade:NAME``.
    origins: tuple[tuple[str, str], ...] = ()

    def file_of(self, item_id: str) -> str:
        """The file an item (by id; a grade as ``grade:NAME``) is written in."""
        return next((f for i, f in self.origins if i == item_id), self.file)

    def metric(self, metric_id: str) -> Metric:
        """The metric with this id (KeyError if none)."""
        return self._metric_index[metric_id]

    @functools.cached_property
    def _metric_index(self) -> dict[str, Metric]:
        """Metric id → metric, built on first use (readers and writers look up every one)."""
        return {m.id: m for m in reversed(self.metrics)}

    def all_categories(self) -> tuple[Category, ...]:
        """Every category, depth first in file order (a category before its sub-categories)."""
        out: list[Category] = []

        def visit(cats: tuple[Category, ...]) -> None:
            for cat in cats:
                out.append(cat)
                visit(cat.categories)

        visit(self.categories)
        return tuple(out)

    def indicators(self) -> tuple[Indicator, ...]:
        """Every indicator, depth first in file order."""
        out: list[Indicator] = []

        def visit(cat: Category) -> None:
            for sub in cat.categories:
                visit(sub)
            out.extend(cat.indicators)

        for cat in self.categories:
            visit(cat)
        return tuple(out)
