"""Compile a validated ruleset once; score entities many times, exactly and with reasons.

:class:`Engine` holds everything computed from the ruleset that scoring needs: derived
metrics in dependency order, compiled formulas and conditions, the indicator tree with
the points of every item. It is immutable after construction, picklable, and safe to use
from several threads at once (evaluation keeps all state in local variables).
"""

from __future__ import annotations

import bisect
import decimal
import gc
import hashlib
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import (
    Decimal,
)
from importlib import resources
from types import MappingProxyType
from typing import Any

import attrs

from kpirules import methods
from kpirules._core.rounding import MODES
from kpirules._core.suggest import did_you_mean
from kpirules._version import __version__
from kpirules.characters import MAX_ENTITY_LENGTH, entity_problem, refused_character, visible
from kpirules.compiler import CompiledFormula, FormulaEvaluationError
from kpirules.exact import CONTEXT as CONTEXT  # re-exported: the context scoring runs in
from kpirules.exact import CONTEXT_TEXT, exact
from kpirules.methods import Reason
from kpirules.model import Band, Category, Indicator, Metric, Ruleset
from kpirules.quantity import QuantityError
from kpirules.result import (
    CategoryResult,
    EvaluationError,
    EvaluationProblem,
    Fired,
    ItemResult,
    Provenance,
    Result,
    ShownValue,
    Status,
    Value,
    decimal_text,
)
from kpirules.twopass import CohortSummary, UnreadableRowError
from kpirules.values import MAX_DIGITS, SMALL_DECIMAL_SIZE, combine_ratings, range_fix, read_value
from kpirules.words import english

ENGINE_VERSION = f"kpirules {__version__}"

#: The modules whose code decides a score or how a result is written (every module of the
#: methods package, in name order).
ENGINE_MODULES = (
    "compiler.py",
    "engine.py",
    "formula.py",
    *sorted(
        f"methods/{f.name}"
        for f in resources.files("kpirules").joinpath("methods").iterdir()
        if f.name.endswith(".py")
    ),
    "quantity.py",
    "result.py",
    "values.py",
)


def _engine_digest() -> str:
    """SHA-256 over the source of :data:`ENGINE_MODULES`, each preceded by its name and size."""
    digest = hashlib.sha256()
    package = resources.files("kpirules")
    for name in ENGINE_MODULES:
        source = package.joinpath(name).read_bytes()
        digest.update(f"{name}\0{len(source)}\0".encode())
        digest.update(source)
    return "sha256:" + digest.hexdigest()


#: Identifies the scoring code itself: a changed method or rounding step changes it even when
#: the version number stays. Computed once, at import; recorded in every result.
ENGINE_DIGEST = _engine_digest()
_ITEM = "{0} {1}，{2}"
ZERO = Decimal(0)
_ONE = Decimal(1)


_pause_lock = threading.Lock()
_pausers = 0
_collecting = False


def _pause_collector() -> None:
    """Pause the cyclic garbage collector; :func:`_resume_collector` undoes it.

    The collector is one switch for the whole process: a lock and a count of the batches
    running make the first batch to start remember its state and the last one to finish
    put it back, however the batches of several threads overlap.
    """
    global _pausers, _collecting
    with _pause_lock:
        if _pausers == 0:
            _collecting = gc.isenabled()
            gc.disable()
        _pausers += 1


def _resume_collector() -> None:
    global _pausers
    with _pause_lock:
        _pausers -= 1
        if _pausers == 0 and _collecting:
            gc.enable()


class _EntityError(Exception):
    """One entity cannot be scored; carries the problem."""

    def __init__(self, field: str, message: str, *, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


class Engine:
    """A ruleset compiled for scoring (built by :func:`compile_ruleset`).

    Pickling sends only the ruleset's data; the program is compiled again on arrival.
    """

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.metrics = {m.id: m for m in ruleset.metrics}
        self.inputs = tuple(m.id for m in ruleset.metrics if m.formula is None)
        self.derived = tuple((mid, CompiledFormula(f)) for mid, f in self._derived_order())
        self.indicators = ruleset.indicators()
        self.category_of = _category_of(ruleset.all_categories())
        self.quantum = Decimal(1).scaleb(-ruleset.rounding.places)
        self.plans = tuple(
            methods.plan(
                ind,
                self.metrics[ind.metric],
                self.category_of[ind.id],
                self._inputs_of(ind),
                self.quantum,
                MODES[ruleset.rounding.mode],
            )
            for ind in self.indicators
        )
        self.by_category = {
            cat.id: tuple(
                n for n, ind in enumerate(self.indicators) if self.category_of[ind.id] == cat.id
            )
            for cat in ruleset.all_categories()
        }
        self.has_flags = any(m.unit == "yes_no" for m in ruleset.metrics)
        # Only indicators' metrics are looked up (to name missing inputs).
        self.inputs_of_metric = {
            mid: tuple(x for x in self._inputs_of_id(mid) if self.metrics[x].formula is None)
            for mid in dict.fromkeys(ind.metric for ind in self.indicators)
        }
        self.needs_names = bool(ruleset.vetoes or ruleset.adjustments.rules or ruleset.outcomes)
        self.must_have = tuple(
            ind
            for ind in self.indicators
            if ind.missing == "error" and methods.METHODS[ind.scoring.method].scored
        )
        self.vetoes = tuple((v, CompiledFormula(v.when)) for v in ruleset.vetoes)
        self.adjustments = tuple(
            (a, CompiledFormula(a.points), CompiledFormula(a.when) if a.when else None)
            for a in ruleset.adjustments.rules
        )
        self.outcomes = tuple(
            (
                o,
                CompiledFormula(o.when) if o.when else None,
                CompiledFormula(o.amount) if o.amount else None,
            )
            for o in ruleset.outcomes
        )
        self.cohort_items = tuple(
            ind for ind in self.indicators if ind.scoring.method in methods.COHORT
        )
        self.rounding = MODES[ruleset.rounding.mode]
        self.money_quantum = Decimal(1).scaleb(-ruleset.money.places)
        self.money_rounding = MODES[ruleset.money.mode]
        self.shown = tuple(
            (mid, self.metrics[mid].label, _unit_text(self.metrics[mid])) for mid in ruleset.show
        )
        self.fast_bounds = {
            m.id: (m.minimum, m.maximum, m.unit == "count")
            for m in ruleset.metrics
            if m.formula is None and m.unit in ("percent", "ratio", "count", "money", "duration")
        }
        self.grade_rank = _grade_rank(ruleset.grades)
        self.top_ids = frozenset(c.id for c in ruleset.categories)
        self.all_categories = ruleset.all_categories()
        self.provenance = Provenance(
            ruleset=ruleset.id,
            version=ruleset.version,
            fingerprint=ruleset.fingerprint,
            engine=ENGINE_VERSION,
            engine_digest=ENGINE_DIGEST,
            decimal_context=CONTEXT_TEXT,
            rounding=(
                f"{ruleset.rounding.places} places, {ruleset.rounding.mode}, at {ruleset.rounding.at}"
            ),
        )
        # Nothing an evaluation reads can be changed afterwards.
        for name in (
            "metrics",
            "category_of",
            "by_category",
            "inputs_of_metric",
            "fast_bounds",
            "grade_rank",
        ):
            setattr(self, name, MappingProxyType(getattr(self, name)))

    @staticmethod
    def _numeric(known: Mapping[str, Decimal | bool | None]) -> dict[str, Any]:
        """Names for formulas: yes/no values as 1 and 0, so arithmetic stays Decimal."""
        return {k: (_ONE if v else ZERO) if v.__class__ is bool else v for k, v in known.items()}

    def _inputs_of(self, ind: Indicator) -> tuple[str, ...]:
        """The metrics an indicator's value comes from: itself, its baseline, their inputs."""
        return self._inputs_of_id(ind.metric, *ind.scoring.params.reads())

    def _inputs_of_id(self, metric: str, *reads: str) -> tuple[str, ...]:
        """``metric``, what its method reads (a baseline) and every metric their formulas
        use, breadth first."""
        out: list[str] = []
        seen: set[str] = set()
        for mid in (metric, *reads):
            if mid not in seen:
                seen.add(mid)
                out.append(mid)
        queue = deque(out)
        while queue:
            formula = self.metrics[queue.popleft()].formula
            if formula is None:
                continue
            for name in sorted(formula.names):
                if name in self.metrics and name not in seen:
                    seen.add(name)
                    out.append(name)
                    queue.append(name)
        return tuple(out)

    def _derived_order(self) -> list[tuple[str, Any]]:
        """Derived metrics, each after the metrics its formula uses (depth first, no recursion)."""
        done: set[str] = set()
        order: list[tuple[str, Any]] = []
        for m in self.ruleset.metrics:
            if m.id in done:
                continue
            done.add(m.id)
            if m.formula is None:
                continue
            stack = [(m.id, m.formula, iter(sorted(m.formula.names)))]
            while stack:
                mid, formula, names = stack[-1]
                for name in names:
                    if name in self.metrics and name not in done:
                        done.add(name)
                        used = self.metrics[name].formula
                        if used is not None:
                            stack.append((name, used, iter(sorted(used.names))))
                            break
                else:
                    stack.pop()
                    order.append((mid, formula))
        return order

    def __getstate__(self) -> Ruleset:
        return self.ruleset

    @exact
    def __setstate__(self, state: Ruleset) -> None:
        self.__init__(state)  # type: ignore[misc]

    # -- inputs ---------------------------------------------------------------------------

    @staticmethod
    def check_entity(entity: object) -> EvaluationProblem | None:
        """What is wrong with an entity id given to the API (the rules of files), or None."""
        if entity.__class__ is not str:
            return EvaluationProblem(
                visible(str(entity))[:MAX_ENTITY_LENGTH],
                "",
                f"编号应是文字（str），而不是 {type(entity).__name__}",
                code="KR601",
            )
        assert isinstance(entity, str)
        wrong = entity_problem(entity)
        if wrong is None:
            return None
        shown = visible(entity)
        if len(shown) > MAX_ENTITY_LENGTH:
            shown = shown[:MAX_ENTITY_LENGTH] + "…"
        return EvaluationProblem(shown, "", wrong, code="KR602")

    def read_inputs(self, entity: str, metrics: Mapping[str, object]) -> dict[str, Value]:
        """Check and convert raw input values; every problem of the entity at once."""
        problems: list[EvaluationProblem] = []
        values: dict[str, Value] = {}
        for key, raw in metrics.items():
            metric = self.metrics.get(key)
            if metric is None:
                if key.__class__ is not str or refused_character(key) is not None:
                    problems.append(
                        EvaluationProblem(
                            entity,
                            visible(str(key))[:MAX_ENTITY_LENGTH],
                            "规则集中没有这个指标（指标名应是文字，不能含控制字符或不可见字符）",
                            code="KR603",
                        )
                    )
                    continue
                hint = did_you_mean(key, self.inputs)
                problems.append(
                    EvaluationProblem(
                        entity,
                        key,
                        f"规则集中没有指标 “{key}”" + (f"（{hint}）" if hint else ""),
                        code="KR604",
                    )
                )
                continue
            if metric.formula is not None:
                problems.append(
                    EvaluationProblem(
                        entity, key, f"“{key}” 是派生指标，由公式计算，不能直接给值", code="KR605"
                    )
                )
                continue
            bounds = self.fast_bounds.get(key)
            if bounds is not None and type(raw) is Decimal and raw.is_finite():
                low, high, whole = bounds
                if (
                    (low is None or raw >= low)
                    and (high is None or raw <= high)
                    and (not whole or raw == raw.to_integral_value())
                    # Within the digit bound (see values.within_digits): short plain text.
                    and raw.__sizeof__() <= SMALL_DECIMAL_SIZE
                    and len(text := str(raw)) <= MAX_DIGITS
                    and "E" not in text
                ):
                    values[key] = raw  # a program's Decimal within range: nothing to read
                    continue
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            if isinstance(raw, float):
                problems.append(
                    EvaluationProblem(
                        entity,
                        key,
                        '不接受二进制浮点数（float）：请传入 Decimal、整数或文字，如 "0.95"',
                        code="KR606",
                    )
                )
                continue
            try:
                values[key] = read_value(metric, raw)
            except QuantityError as exc:
                problems.append(EvaluationProblem(entity, key, str(exc), code="KR607"))
        if problems:
            raise EvaluationError(problems)
        return values

    # -- evaluation -----------------------------------------------------------------------

    @exact
    def evaluate(self, metrics: Mapping[str, object], *, entity: str = "") -> Result:
        """Score one entity. Raises :class:`EvaluationError` with every problem found."""
        wrong = self.check_entity(entity)
        if wrong is not None:
            raise EvaluationError([wrong])
        if self.cohort_items:
            names = "、".join(i.label for i in self.cohort_items)
            raise EvaluationError(
                [
                    EvaluationProblem(
                        entity,
                        "",
                        f"指标 {names} 要与同组比较，请用 evaluate_many 一起计分",
                        code="KR608",
                    )
                ]
            )
        values = self.read_inputs(entity, metrics)
        return self._score(entity, values, {})

    def evaluate_many(self, rows: Iterable[tuple[str, Mapping[str, object]]]) -> tuple[Result, ...]:
        """Score several entities together (needed by cohort methods and ranking).

        ``rows`` are (entity id, metrics) pairs; results come back in input order, each
        with its rank by total within the cohort (competition ranking: 1, 2, 2, 4).
        """
        # Scoring allocates many small, acyclic objects that all stay alive in the results;
        # the cyclic garbage collector would rescan them again and again for nothing (it
        # doubled the time per entity on 10,000 entities). It is switched back on after,
        # outside the decimal context switch, so that the collection that follows runs at
        # the caller's next allocation rather than inside this call.
        _pause_collector()
        try:
            return self._evaluate_many(rows)
        finally:
            _resume_collector()

    @exact
    def _evaluate_many(
        self, rows: Iterable[tuple[str, Mapping[str, object]]]
    ) -> tuple[Result, ...]:
        rows = list(rows)
        problems: list[EvaluationProblem] = []
        seen: dict[str, int] = {}
        parsed: list[tuple[str, dict[str, Value]]] = []
        for index, (entity, metrics) in enumerate(rows):
            wrong = self.check_entity(entity)
            if wrong is not None:
                problems.append(wrong)
                continue
            if entity in seen:
                problems.append(
                    EvaluationProblem(
                        entity,
                        "",
                        f"编号重复：第 {seen[entity] + 1} 条和第 {index + 1} 条都是 “{entity}”",
                        code="KR609",
                    )
                )
                continue
            seen[entity] = index
            try:
                parsed.append((entity, self.read_inputs(entity, metrics)))
            except EvaluationError as exc:
                problems.extend(exc.problems)
        if problems:
            raise EvaluationError(problems)
        cohorts = self._cohorts(parsed)
        results: list[Result] = []
        for entity, values in parsed:
            try:
                results.append(self._score(entity, values, cohorts))
            except EvaluationError as exc:
                problems.extend(exc.problems)
        if problems:
            raise EvaluationError(problems)
        totals = sorted(r.total for r in results)
        n = len(results)
        # Competition ranking: 1 + the number of strictly higher totals.
        return tuple(
            attrs.evolve(r, rank=1 + n - bisect.bisect_right(totals, r.total), cohort_size=n)
            for r in results
        )

    def _cohorts(self, parsed: Sequence[tuple[str, dict[str, Value]]]) -> dict[str, methods.Cohort]:
        cohorts: dict[str, methods.Cohort] = {}
        for ind in self.cohort_items:
            collected: list[Decimal] = []
            for entity, values in parsed:
                try:
                    known = self._metric_values(values)
                except _EntityError:
                    continue
                v = known.get(ind.metric)
                if isinstance(v, Decimal):
                    collected.append(v)
                elif v is None and ind.missing == "error":
                    raise EvaluationError(
                        [
                            EvaluationProblem(
                                entity,
                                ind.metric,
                                f"缺少指标 “{self.metrics[ind.metric].label}” 的数据",
                                code="KR610",
                            )
                        ]
                    )
            cohorts[ind.id] = methods.Cohort(tuple(collected))
        return cohorts

    @exact
    def cohort_summary(self, rows: Iterable[tuple[str, Mapping[str, object]]]) -> CohortSummary:
        """The cohort pass (see :mod:`kpirules.twopass`): each cohort indicator's values.

        Rows that cannot be read are skipped here; the scoring pass reports them.
        """
        collected: dict[str, list[Decimal]] = {ind.id: [] for ind in self.cohort_items}
        count = 0
        for entity, metrics in rows:
            count += 1
            if not self.cohort_items or self.check_entity(entity) is not None:
                continue
            try:
                known = self._metric_values(self.read_inputs(entity, metrics))
            except (EvaluationError, _EntityError):
                continue
            for ind in self.cohort_items:
                v = known.get(ind.metric)
                if isinstance(v, Decimal):
                    collected[ind.id].append(v)
                elif v is None and ind.missing == "error":
                    label = self.metrics[ind.metric].label
                    raise EvaluationError(
                        [
                            EvaluationProblem(
                                entity, ind.metric, f"缺少指标 “{label}” 的数据", code="KR610"
                            )
                        ]
                    )
        return CohortSummary({k: tuple(v) for k, v in collected.items()}, count)

    def score_each(
        self, rows: Iterable[tuple[str, Mapping[str, object]]], summary: CohortSummary
    ) -> Iterator[Result | EvaluationError]:
        """The scoring pass (see :mod:`kpirules.twopass`): one result or error per row."""
        cohorts = summary.cohorts()
        for entity, metrics in rows:
            yield self.score_one(entity, metrics, cohorts)

    @exact
    def score_one(
        self, entity: str, metrics: Mapping[str, object], cohorts: Mapping[str, methods.Cohort]
    ) -> Result | EvaluationError:
        """One entity's result without rank, or why it cannot be scored (an
        :class:`~kpirules.twopass.UnreadableRowError` when its values cannot even be read)."""
        wrong = self.check_entity(entity)
        if wrong is not None:
            return UnreadableRowError([wrong])
        try:
            values = self.read_inputs(entity, metrics)
        except EvaluationError as exc:
            return UnreadableRowError(list(exc.problems))
        try:
            return self._score(entity, values, cohorts)
        except EvaluationError as exc:
            return exc

    def _metric_values(self, values: Mapping[str, Value]) -> dict[str, Decimal | bool | None]:
        known: dict[str, Decimal | bool | None] = {
            mid: combine_ratings(self.metrics[mid], v) if isinstance(v, tuple) else v
            for mid, v in values.items()
        }
        for mid, compiled in self.derived:
            needed = [n for n in compiled.formula.names if n in self.metrics]
            if any(known.get(n) is None for n in needed):
                known[mid] = None
                continue
            try:
                result = compiled(self._numeric(known) if self.has_flags else known)
            except FormulaEvaluationError as exc:
                raise _EntityError(
                    mid, f"派生指标 “{self.metrics[mid].label}”：{exc}", code="KR611"
                ) from None
            metric = self.metrics[mid]
            if isinstance(result, Decimal) and (
                (metric.minimum is not None and result < metric.minimum)
                or (metric.maximum is not None and result > metric.maximum)
            ):
                raise _EntityError(
                    mid,
                    f"派生指标 “{metric.label}” 的计算结果 "
                    f"{Reason('{0}', (methods.value_arg(metric, result),)).render()} 超出取值范围"
                    + ("" if english() else f"（{range_fix(metric, result)}）"),
                    code="KR612",
                )
            known[mid] = result
        return known

    def _score(
        self, entity: str, values: dict[str, Value], cohorts: Mapping[str, methods.Cohort]
    ) -> Result:
        try:
            return self._score_or_fail(entity, values, cohorts)
        except _EntityError as exc:
            raise EvaluationError(
                [EvaluationProblem(entity, exc.field, exc.message, code=exc.code)]
            ) from None
        except decimal.DecimalException:
            # A safety net: every formula and method reports its own decimal errors; what
            # reaches here is a total too large to round to the ruleset's places.
            raise EvaluationError(
                [
                    EvaluationProblem(
                        entity,
                        "",
                        "计算结果超出可表示的范围（数值过大），请检查输入数据的数量级",
                        code="KR613",
                    )
                ]
            ) from None

    def _score_or_fail(
        self, entity: str, values: dict[str, Value], cohorts: Mapping[str, methods.Cohort]
    ) -> Result:
        known = self._metric_values(values)
        missing = [ind for ind in self.must_have if known.get(ind.metric) is None]
        if missing:
            # Name the inputs the user can supply, not the derived metrics computed from them.
            absent: dict[str, None] = {}
            for ind in missing:
                for mid in self.inputs_of_metric[ind.metric]:
                    if mid not in values:
                        absent[mid] = None
            labels = "、".join(f"{self.metrics[m].label}（{m}）" for m in absent)
            raise _EntityError(
                next(iter(absent), missing[0].metric),
                f"缺少数据：{labels}；这些指标规定缺失时报错（missing: error）",
                code="KR614",
            )
        items: list[ItemResult] = []
        append = items.append
        for plan in self.plans:
            if plan.fast:
                # The common case, inline: one input, a method that needs only the value.
                mid = plan.metric_id
                v = known.get(mid)
                if v.__class__ is Decimal:
                    raw = values.get(mid, v)
                    if raw.__class__ is not tuple:
                        try:
                            score, reason = plan.score(plan, v, methods.BARE)
                        except FormulaEvaluationError as exc:
                            raise _EntityError(
                                plan.id, f"{plan.label}：{exc}", code="KR615"
                            ) from None
                        if not plan.prefixed:
                            reason = Reason(plan.t_item, (v, reason), plan.f_item)
                        append(
                            ItemResult(
                                plan.id,
                                plan.label,
                                plan.category,
                                mid,
                                v,
                                ((mid, raw),),
                                plan.target_or_none,
                                plan.method,
                                plan.points,
                                score,
                                plan.status(v),
                                reason,
                                plan.line,
                            )
                        )
                        continue
            append(self._item(plan, known, values, cohorts))
        if any(item.status == "excluded" for item in items):
            items = self._reweight(items)
        if self.ruleset.rounding.at == "items":
            items = [
                item._replace(score=item.score.quantize(self.quantum, self.rounding))
                for item in items
            ]
        categories = self._categories(items)
        raw_total = ZERO
        for cat in categories:
            if cat.id in self.top_ids:
                raw_total += cat.subtotal
        adjustments: list[Fired] = []
        vetoes: list[Fired] = []
        outcomes: list[Fired] = []
        total, grade_cap = raw_total, None
        adjusted_total = raw_total
        names: dict[str, Any] = {}
        if self.needs_names:
            names = self._numeric(known)
            names.update({item.id: item.score for item in items})
            names.update({c.id: c.subtotal for c in categories})
            names["raw_total"] = raw_total
            adjustments, total = self._adjust(names, raw_total)
            adjusted_total = total
            vetoes, total, grade_cap = self._veto(names, total)
            if vetoes:
                items = self._mark_vetoed(items, vetoes)
        if self.ruleset.rounding.at == "total":
            total = total.quantize(self.quantum, self.rounding)
        grade = self._grade(total, grade_cap)
        if self.needs_names:
            names["total"] = total
            outcomes = self._outcomes(names, grade)
        return Result(
            entity=entity,
            items=tuple(items),
            categories=tuple(categories),
            raw_total=raw_total,
            adjustments=tuple(adjustments),
            adjusted_total=adjusted_total,
            vetoes=tuple(vetoes),
            total=total,
            grade=grade,
            outcomes=tuple(outcomes),
            provenance=self.provenance,
            values=tuple(
                [
                    ShownValue(mid, label, _shown(known.get(mid)), unit)
                    for mid, label, unit in self.shown
                ]
            )
            if self.shown
            else (),
        )

    def _item(
        self,
        plan: methods.Plan,
        known: Mapping[str, Decimal | bool | None],
        values: Mapping[str, Value],
        cohorts: Mapping[str, methods.Cohort],
    ) -> ItemResult:
        ind = plan.ind
        v = known.get(ind.metric)
        inputs = tuple([(mid, values.get(mid, known.get(mid))) for mid in plan.inputs])
        if v is None:
            if not plan.scored:
                why = Reason("{0} 缺少数据（仅监测，不计分）", (ind.label,))
                return self._make(plan, None, inputs, ZERO, "monitor", why)
            if ind.missing == "zero":
                why = Reason("{0} 缺少数据，按规定（missing: zero）记 0 分", (ind.label,))
                return self._make(plan, None, inputs, ZERO, "missing", why)
            why = Reason(
                "{0} 缺少数据，按规定（missing: exclude）不参与计分，本类别其余指标按比例折算",
                (ind.label,),
            )
            return self._make(plan, None, inputs, ZERO, "excluded", why)
        shown: object = methods.value_arg(plan.metric, v)
        given = values.get(ind.metric)
        if isinstance(given, tuple):
            shown = Reason("{0} {1}", (methods.ratings_text(plan.metric, given), shown))
        if not plan.scored:
            why = Reason("{0} {1}（仅监测，不计分）", (ind.label, shown))
            return self._make(plan, v, inputs, ZERO, "monitor", why)
        try:
            if isinstance(v, bool) and not plan.flags:
                raise FormulaEvaluationError("是/否指标只能用 pass_fail 计分")
            at = methods.Given(shown, known, cohorts.get(ind.id), self.metrics)
            score, reason = plan.score(plan, v, at)
        except methods.MissingInputError as exc:
            raise _EntityError(exc.field, f"{ind.label}：{exc.message}", code=exc.code) from None
        except FormulaEvaluationError as exc:
            raise _EntityError(ind.id, f"{ind.label}：{exc}", code="KR615") from None
        status: Status
        if ind.target is None or ind.target_value is None:
            status = "no_target"
        elif plan.met_by_score:
            status = "met" if score == ind.points else "not_met"
        else:
            status = "met" if methods.met(ind.target.op, v, ind.target_value) else "not_met"
        if not plan.prefixed:
            reason = Reason(_ITEM, (ind.label, shown, reason))
        return self._make(plan, v, inputs, score, status, reason)

    def _mark_vetoed(self, items: list[ItemResult], fired: list[Fired]) -> list[ItemResult]:
        """Items whose metric a fired veto's condition uses are marked ``vetoed``."""
        used: set[str] = set()
        for veto, when in self.vetoes:
            if any(f.id == veto.id for f in fired):
                used |= when.formula.names
        return [
            item._replace(status="vetoed") if item.metric in used or item.id in used else item
            for item in items
        ]

    def _make(
        self,
        plan: methods.Plan,
        v: Decimal | bool | None,
        inputs: tuple[tuple[str, Value | None], ...],
        score: Decimal,
        status: Status,
        reason: Reason,
    ) -> ItemResult:
        ind = plan.ind
        return ItemResult(
            ind.id,
            ind.label,
            plan.category,
            ind.metric,
            v,
            inputs,
            plan.target_text or None,
            ind.scoring.method,
            ind.points,
            score,
            status,
            reason,
            ind.line,
        )

    def _reweight(self, items: list[ItemResult]) -> list[ItemResult]:
        """Excluded items hand their points to the rest of their category, in proportion."""
        out = list(items)
        for indexes in self.by_category.values():
            excluded = [n for n in indexes if items[n].status == "excluded"]
            if not excluded:
                continue
            scored = [
                n
                for n in indexes
                if items[n].status not in ("excluded", "monitor")
                and methods.METHODS[items[n].method].counts
            ]
            kept = sum((items[n].points for n in scored), ZERO)
            if kept == 0:
                cat = items[excluded[0]].category
                raise _EntityError(
                    cat, f"类别 {cat} 的指标全部缺少数据，无法按比例折算", code="KR617"
                )
            factor = (kept + sum((items[n].points for n in excluded), ZERO)) / kept
            for n in scored:
                item = items[n]
                points, score = item.points * factor, item.score * factor
                note = Reason(
                    "{0}；因同类别有指标缺少数据，按比例折算为 {1}（满分 {2}）",
                    (
                        item.reason,
                        methods.Pts(score, self.quantum, self.rounding),
                        methods.Pts(points, self.quantum, self.rounding),
                    ),
                )
                out[n] = item._replace(points=points, score=score, reason=note)
            for n in excluded:
                out[n] = items[n]._replace(points=ZERO)
        return out

    def _categories(self, items: Sequence[ItemResult]) -> list[CategoryResult]:
        subtotal: dict[str, Decimal] = {}

        def visit(cat: Category) -> Decimal:
            total = ZERO
            for sub in cat.categories:
                total += visit(sub)
            for n in self.by_category[cat.id]:
                total += items[n].score
            subtotal[cat.id] = total
            return total

        for cat in self.ruleset.categories:
            visit(cat)
        return [
            CategoryResult(cat.id, cat.label, cat.points, subtotal[cat.id], cat.line)
            for cat in self.all_categories
        ]

    def _condition(self, compiled: CompiledFormula, names: dict[str, Any], what: str) -> Any:
        used_missing = [
            n for n in compiled.formula.names if names.get(n) is None and n in self.metrics
        ]
        if used_missing:
            labels = "、".join(self.metrics[n].label for n in used_missing)
            raise _EntityError(used_missing[0], f"{what}用到的指标 {labels} 缺少数据", code="KR618")
        try:
            return compiled(names)
        except FormulaEvaluationError as exc:
            raise _EntityError("", f"{what}：{exc}", code="KR619") from None

    def _adjust(self, names: dict[str, Any], raw_total: Decimal) -> tuple[list[Fired], Decimal]:
        fired: list[Fired] = []
        bonus = penalty = ZERO
        for rule, points, when in self.adjustments:
            if when is not None and not self._condition(
                when, names, f"加减分规则“{rule.label}”的条件"
            ):
                continue
            value = self._condition(points, names, f"加减分规则“{rule.label}”")
            if not isinstance(value, Decimal) or value <= 0:
                continue
            if rule.cap is not None:
                value = min(value, rule.cap)
            if self.ruleset.rounding.at == "items":
                value = value.quantize(self.quantum, self.rounding)
            condition = rule.when.text if rule.when else rule.points.text
            fired.append(Fired(rule.id, rule.label, rule.kind, condition, value, rule.line))
            if rule.kind == "bonus":
                bonus += value
            else:
                penalty += value
        caps = self.ruleset.adjustments
        if caps.max_bonus is not None:
            bonus = min(bonus, caps.max_bonus)
        if caps.max_penalty is not None:
            penalty = min(penalty, caps.max_penalty)
        return fired, max(ZERO, raw_total + bonus - penalty)

    def _veto(
        self, names: dict[str, Any], total: Decimal
    ) -> tuple[list[Fired], Decimal, str | None]:
        fired: list[Fired] = []
        grade_cap: str | None = None
        for veto, when in self.vetoes:
            if not self._condition(when, names, f"否决项“{veto.label}”的条件"):
                continue
            fired.append(
                Fired(veto.id, veto.label, veto.effect, veto.when.text, veto.cap, veto.line)
            )
            if veto.effect == "zero":
                total = ZERO
            elif veto.effect == "cap_total" and veto.cap is not None:
                total = min(total, veto.cap)
            elif veto.grade is not None and (
                grade_cap is None or self.grade_rank[veto.grade] > self.grade_rank[grade_cap]
            ):
                grade_cap = veto.grade
        return fired, total, grade_cap

    def _grade(self, total: Decimal, cap: str | None) -> str | None:
        grade = next((b.value for b in self.ruleset.grades if b.contains(total)), None)
        # Rank 0 is the best grade: a grade better than the cap is lowered to the cap.
        if grade is not None and cap is not None and self.grade_rank[grade] < self.grade_rank[cap]:
            return cap
        return grade

    def _outcomes(self, names: dict[str, Any], grade: str | None) -> list[Fired]:
        fired: list[Fired] = []
        for outcome, when, amount in self.outcomes:
            if outcome.grades and grade not in outcome.grades:
                continue
            if when is not None and not self._condition(
                when, names, f"结果规则“{outcome.label}”的条件"
            ):
                continue
            parts = []
            if outcome.grades:
                parts.append("等级为" + "或".join(outcome.grades))
            if outcome.when is not None:
                parts.append(outcome.when.text)
            value: Decimal | None = None
            unrounded: Decimal | None = None
            basis: tuple[tuple[str, Decimal], ...] = ()
            if amount is not None:
                exact = self._condition(amount, names, f"结果规则“{outcome.label}”的金额")
                if isinstance(exact, Decimal):
                    unrounded, value = exact, self._money(exact, outcome.label)
                    basis = tuple((n, names[n]) for n in sorted(amount.formula.names))
            fired.append(
                Fired(
                    outcome.id,
                    outcome.label,
                    outcome.kind,
                    "，且".join(parts),
                    None,
                    outcome.line,
                    value,
                    self.ruleset.money.unit if value is not None else None,
                    unrounded,
                    basis,
                )
            )
        return fired

    def _money(self, value: Decimal, label: str) -> Decimal:
        """An amount rounded once, by the ruleset's money rule, in the engine's context."""
        try:
            return value.quantize(self.money_quantum, self.money_rounding)
        except decimal.InvalidOperation:
            raise _EntityError(
                "",
                f"结果规则“{label}”的金额 {decimal_text(value)} 过大，无法按金额规则取舍",
                code="KR620",
            ) from None


def compile_ruleset(ruleset: Ruleset) -> Engine:
    """Compile a validated ruleset into the program that scores it: derived metrics in
    dependency order, compiled formulas and conditions, one prepared plan per indicator."""
    return Engine(ruleset)


def _unit_text(metric: Metric) -> str:
    """The unit a shown value is written in: the metric's measure (元, 万元, 件, 小时)."""
    return metric.measure or ("元" if metric.unit == "money" else "")


def _shown(value: Decimal | bool | None) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def _category_of(categories: Iterable[Category]) -> dict[str, str]:
    out: dict[str, str] = {}
    for cat in categories:
        for ind in cat.indicators:
            out[ind.id] = cat.id
    return out


def _grade_rank(grades: Iterable[Band]) -> dict[str, int]:
    """0 for the best grade (highest band), 1 for the next, …"""
    neg = Decimal("-Infinity")
    ordered = sorted(grades, key=lambda b: b.lower if b.lower is not None else neg, reverse=True)
    return {b.value: n for n, b in enumerate(ordered)}
