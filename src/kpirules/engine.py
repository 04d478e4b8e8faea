"""Compile a validated ruleset once; score entities many times, exactly and with reasons.

:class:`Engine` holds everything computed from the ruleset that scoring needs: derived
metrics in dependency order, compiled formulas and conditions, the indicator tree with
the points of every item. It is immutable after construction, picklable, and safe to use
from several threads at once (evaluation keeps all state in local variables).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from typing import Any

import attrs

from kpirules import methods
from kpirules.compiler import CompiledFormula, FormulaEvaluationError
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
    Status,
    Value,
)
from kpirules.validate import did_you_mean
from kpirules.values import read_value

ENGINE_VERSION = "kpirules 0.1.0"
ZERO = Decimal(0)

_ROUNDING = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
    "half_down": ROUND_HALF_DOWN,
}

#: The arithmetic context of every evaluation; recorded in each result.
CONTEXT = decimal.Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    traps=[decimal.DivisionByZero, decimal.InvalidOperation, decimal.Overflow],
)
CONTEXT_TEXT = "prec=28, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999, traps=[DivisionByZero, InvalidOperation, Overflow]"


class _EntityError(Exception):
    """One entity cannot be scored; carries the problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _combine(metric: Metric, value: Value) -> Decimal | bool:
    """Ratings of several assessors combined as the metric declares; other values as is."""
    if not isinstance(value, tuple):
        return value
    ratings = sorted(value)
    if metric.ratings is not None and metric.ratings.combine == "trimmed_mean":
        ratings = ratings[1:-1]
    return sum(ratings, ZERO) / Decimal(len(ratings))


class Engine:
    """A ruleset compiled for scoring."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.metrics = {m.id: m for m in ruleset.metrics}
        self.inputs = tuple(m.id for m in ruleset.metrics if m.formula is None)
        self.derived = tuple((mid, CompiledFormula(f)) for mid, f in self._derived_order())
        self.indicators = ruleset.indicators()
        self.category_of = _category_of(ruleset.categories)
        self.item_formulas = {
            ind.id: CompiledFormula(ind.scoring.formula)
            for ind in self.indicators
            if ind.scoring.formula is not None
        }
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
        self.quantum = Decimal(1).scaleb(-ruleset.rounding.places)
        self.rounding = _ROUNDING[ruleset.rounding.mode]
        self.show = methods.Show(ruleset.rounding.places)
        self.grade_rank = _grade_rank(ruleset.grades)
        self.top_ids = frozenset(c.id for c in ruleset.categories)
        self.provenance = Provenance(
            ruleset=ruleset.id,
            version=ruleset.version,
            fingerprint=ruleset.fingerprint,
            engine=ENGINE_VERSION,
            decimal_context=CONTEXT_TEXT,
            rounding=(
                f"{ruleset.rounding.places} places, {ruleset.rounding.mode}, at {ruleset.rounding.at}"
            ),
        )

    def _derived_order(self) -> list[tuple[str, Any]]:
        done: set[str] = set()
        order: list[tuple[str, Any]] = []

        def visit(mid: str) -> None:
            if mid in done:
                return
            done.add(mid)
            formula = self.metrics[mid].formula
            if formula is None:
                return
            for name in sorted(formula.names):
                if name in self.metrics:
                    visit(name)
            order.append((mid, formula))

        for m in self.ruleset.metrics:
            visit(m.id)
        return order

    def __getstate__(self) -> Ruleset:
        return self.ruleset

    def __setstate__(self, state: Ruleset) -> None:
        self.__init__(state)  # type: ignore[misc]

    # -- inputs ---------------------------------------------------------------------------

    def read_inputs(self, entity: str, metrics: Mapping[str, object]) -> dict[str, Value]:
        """Check and convert raw input values; every problem of the entity at once."""
        problems: list[EvaluationProblem] = []
        values: dict[str, Value] = {}
        for key, raw in metrics.items():
            metric = self.metrics.get(key)
            if metric is None:
                hint = did_you_mean(key, self.inputs)
                problems.append(
                    EvaluationProblem(
                        entity, key, f"规则集中没有指标 “{key}”" + (f"（{hint}）" if hint else "")
                    )
                )
                continue
            if metric.formula is not None:
                problems.append(
                    EvaluationProblem(entity, key, f"“{key}” 是派生指标，由公式计算，不能直接给值")
                )
                continue
            if raw is None or raw == "":
                continue
            if isinstance(raw, float):
                problems.append(
                    EvaluationProblem(
                        entity,
                        key,
                        '不接受二进制浮点数（float）：请传入 Decimal、整数或文字，如 "0.95"',
                    )
                )
                continue
            try:
                values[key] = read_value(metric, raw)
            except QuantityError as exc:
                problems.append(EvaluationProblem(entity, key, str(exc)))
        if problems:
            raise EvaluationError(problems)
        return values

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self, metrics: Mapping[str, object], *, entity: str = "") -> Result:
        """Score one entity. Raises :class:`EvaluationError` with every problem found."""
        if self.cohort_items:
            names = "、".join(i.label for i in self.cohort_items)
            raise EvaluationError(
                [
                    EvaluationProblem(
                        entity, "", f"指标 {names} 要与同组比较，请用 evaluate_many 一起计分"
                    )
                ]
            )
        values = self.read_inputs(entity, metrics)
        with decimal.localcontext(CONTEXT):
            return self._score(entity, values, {})

    def evaluate_many(self, rows: Iterable[tuple[str, Mapping[str, object]]]) -> tuple[Result, ...]:
        """Score several entities together (needed by cohort methods and ranking).

        ``rows`` are (entity id, metrics) pairs; results come back in input order, each
        with its rank by total within the cohort (competition ranking: 1, 2, 2, 4).
        """
        rows = list(rows)
        problems: list[EvaluationProblem] = []
        seen: dict[str, int] = {}
        parsed: list[tuple[str, dict[str, Value]]] = []
        for index, (entity, metrics) in enumerate(rows):
            if entity in seen:
                problems.append(
                    EvaluationProblem(
                        entity,
                        "",
                        f"编号重复：第 {seen[entity] + 1} 条和第 {index + 1} 条都是 “{entity}”",
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
        with decimal.localcontext(CONTEXT):
            cohorts = self._cohorts(parsed)
            results: list[Result] = []
            for entity, values in parsed:
                try:
                    results.append(self._score(entity, values, cohorts))
                except EvaluationError as exc:
                    problems.extend(exc.problems)
        if problems:
            raise EvaluationError(problems)
        totals = [r.total for r in results]
        n = len(results)
        return tuple(_with_rank(r, 1 + sum(1 for t in totals if t > r.total), n) for r in results)

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
                            )
                        ]
                    )
            cohorts[ind.id] = methods.Cohort(tuple(collected))
        return cohorts

    def _metric_values(self, values: Mapping[str, Value]) -> dict[str, Decimal | bool | None]:
        known: dict[str, Decimal | bool | None] = {
            mid: _combine(self.metrics[mid], v) for mid, v in values.items()
        }
        for mid, compiled in self.derived:
            needed = [n for n in compiled.formula.names if n in self.metrics]
            if any(known.get(n) is None for n in needed):
                known[mid] = None
                continue
            try:
                result = compiled(dict(known))
            except FormulaEvaluationError as exc:
                raise _EntityError(mid, f"派生指标 “{self.metrics[mid].label}”：{exc}") from None
            metric = self.metrics[mid]
            if isinstance(result, Decimal) and (
                (metric.minimum is not None and result < metric.minimum)
                or (metric.maximum is not None and result > metric.maximum)
            ):
                raise _EntityError(
                    mid,
                    f"派生指标 “{metric.label}” 的计算结果 {self.show.value(metric, result)} 超出取值范围",
                )
            known[mid] = result
        return known

    def _score(
        self, entity: str, values: dict[str, Value], cohorts: Mapping[str, methods.Cohort]
    ) -> Result:
        try:
            return self._score_or_fail(entity, values, cohorts)
        except _EntityError as exc:
            raise EvaluationError([EvaluationProblem(entity, exc.field, exc.message)]) from None

    def _score_or_fail(
        self, entity: str, values: dict[str, Value], cohorts: Mapping[str, methods.Cohort]
    ) -> Result:
        known = self._metric_values(values)
        missing = [
            ind
            for ind in self.indicators
            if known.get(ind.metric) is None
            and ind.missing == "error"
            and ind.scoring.method != "monitor"
        ]
        if missing:
            labels = "、".join(f"{self.metrics[i.metric].label}（{i.metric}）" for i in missing)
            raise _EntityError(
                missing[0].metric, f"缺少数据：{labels}；这些指标规定缺失时报错（missing: error）"
            )
        items = {ind.id: self._item(ind, known, values, cohorts) for ind in self.indicators}
        items = self._reweight(items)
        if self.ruleset.rounding.at == "items":
            items = {
                k: _evolve_score(v, v.score.quantize(self.quantum, self.rounding))
                for k, v in items.items()
            }
        categories = self._categories(items)
        raw_total = sum((c.subtotal for c in categories if c.id in self.top_ids), ZERO)
        names: dict[str, Any] = dict(known)
        names.update({k: v.score for k, v in items.items()})
        names.update({c.id: c.subtotal for c in categories})
        names["raw_total"] = raw_total
        adjustments, adjusted = self._adjust(names, raw_total)
        vetoes, total, grade_cap = self._veto(names, adjusted)
        total = (
            total.quantize(self.quantum, self.rounding)
            if self.ruleset.rounding.at == "total"
            else total
        )
        grade = self._grade(total, grade_cap)
        names["total"] = total
        outcomes = self._outcomes(names, grade)
        return Result(
            entity=entity,
            items=tuple(items[i.id] for i in self.indicators),
            categories=tuple(categories),
            raw_total=raw_total,
            adjustments=tuple(adjustments),
            vetoes=tuple(vetoes),
            total=total,
            grade=grade,
            outcomes=tuple(outcomes),
            provenance=self.provenance,
        )

    def _item(
        self,
        ind: Indicator,
        known: Mapping[str, Decimal | bool | None],
        values: Mapping[str, Value],
        cohorts: Mapping[str, methods.Cohort],
    ) -> ItemResult:
        metric = self.metrics[ind.metric]
        v = known.get(ind.metric)
        label = ind.label
        shown = self.show.value(metric, v)
        given = values.get(ind.metric)
        if isinstance(given, tuple):
            shown = f"{self.show.ratings(metric, given)} {shown}"
        inputs = self._inputs_used(ind, known, values)
        status: Status
        if v is None:
            if ind.scoring.method == "monitor":
                return self._make(
                    ind, None, inputs, ZERO, "monitor", f"{label} 缺少数据（仅监测，不计分）"
                )
            if ind.missing == "zero":
                return self._make(
                    ind,
                    None,
                    inputs,
                    ZERO,
                    "missing",
                    f"{label} 缺少数据，按规定（missing: zero）记 {self.show.points(ZERO)}",
                )
            return self._make(
                ind,
                None,
                inputs,
                ZERO,
                "excluded",
                f"{label} 缺少数据，按规定（missing: exclude）不参与计分，本类别其余指标按比例折算",
            )
        method = ind.scoring.method
        try:
            if method == "monitor":
                return self._make(
                    ind, v, inputs, ZERO, "monitor", f"{label} {shown}（仅监测，不计分）"
                )
            if method == "pass_fail":
                score, why = methods.pass_fail(ind, metric, v, self.show)
            elif isinstance(v, bool):
                raise FormulaEvaluationError("是/否指标只能用 pass_fail 计分")
            elif method in methods.SIMPLE:
                score, why = methods.SIMPLE[method](ind, metric, v, self.show)
            elif method in methods.COHORT:
                score, why = methods.COHORT[method](ind, metric, v, cohorts[ind.id], self.show)
            elif method == "change":
                assert ind.scoring.baseline is not None
                base = known.get(ind.scoring.baseline)
                if not isinstance(base, Decimal):
                    raise _EntityError(
                        ind.scoring.baseline,
                        f"{label}：缺少基期指标 “{self.metrics[ind.scoring.baseline].label}” 的数据",
                    )
                score, why = methods.change(ind, metric, v, base, self.show)
            else:
                names: dict[str, object] = dict(known)
                names.update(value=v, target=ind.target_value, points=ind.points)
                score, why = methods.formula(
                    ind, metric, self.item_formulas[ind.id], names, self.show
                )
        except FormulaEvaluationError as exc:
            raise _EntityError(ind.id, f"{label}：{exc}") from None
        if ind.target is None or ind.target_value is None:
            status = "no_target"
        elif method == "change":
            status = "met" if score == ind.points else "not_met"
        else:
            status = "met" if methods.met(ind.target.op, v, ind.target_value) else "not_met"
        return self._make(ind, v, inputs, score, status, f"{label} {shown}，{why}")

    def _inputs_used(
        self,
        ind: Indicator,
        known: Mapping[str, Decimal | bool | None],
        values: Mapping[str, Value],
    ) -> tuple[tuple[str, Value | None], ...]:
        out: dict[str, Value | None] = {}
        stack = [ind.metric] + ([ind.scoring.baseline] if ind.scoring.baseline else [])
        while stack:
            mid = stack.pop(0)
            if mid in out:
                continue
            metric = self.metrics[mid]
            raw = values.get(mid)
            out[mid] = raw if raw is not None else known.get(mid)
            if metric.formula is not None:
                stack.extend(n for n in sorted(metric.formula.names) if n in self.metrics)
        return tuple(out.items())

    def _make(
        self,
        ind: Indicator,
        v: Decimal | bool | None,
        inputs: tuple[tuple[str, Value | None], ...],
        score: Decimal,
        status: Status,
        explanation: str,
    ) -> ItemResult:
        return ItemResult(
            id=ind.id,
            label=ind.label,
            category=self.category_of[ind.id],
            metric=ind.metric,
            value=v,
            inputs=inputs,
            target=ind.target.text if ind.target else None,
            method=ind.scoring.method,
            points=ind.points,
            score=score,
            status=status,
            explanation=explanation,
            line=ind.line,
        )

    def _reweight(self, items: dict[str, ItemResult]) -> dict[str, ItemResult]:
        """Excluded items hand their points to the rest of their category, in proportion."""
        if not any(i.status == "excluded" for i in items.values()):
            return items
        out = dict(items)

        def visit(cat: Category) -> None:
            for sub in cat.categories:
                visit(sub)
            scored = [
                items[i.id]
                for i in cat.indicators
                if items[i.id].status not in ("excluded", "monitor") and i.scoring.method != "bonus"
            ]
            excluded = [items[i.id] for i in cat.indicators if items[i.id].status == "excluded"]
            if not excluded:
                return
            kept = sum((i.points for i in scored), ZERO)
            if kept == 0:
                raise _EntityError(cat.id, f"类别“{cat.label}”的指标全部缺少数据，无法按比例折算")
            share = sum((i.points for i in scored), ZERO) + sum((i.points for i in excluded), ZERO)
            factor = share / kept
            for item in scored:
                new_points = item.points * factor
                new_score = item.score * factor
                out[item.id] = _evolve_score(
                    item,
                    new_score,
                    points=new_points,
                    explanation=item.explanation
                    + f"；因同类别有指标缺少数据，按比例折算为 {self.show.points(new_score)}（满分 {self.show.points(new_points)}）",
                )
            for item in excluded:
                out[item.id] = _evolve_score(item, ZERO, points=ZERO)

        for cat in self.ruleset.categories:
            visit(cat)
        return out

    def _categories(self, items: Mapping[str, ItemResult]) -> list[CategoryResult]:
        out: list[CategoryResult] = []

        def visit(cat: Category) -> Decimal:
            subtotal = sum((visit(sub) for sub in cat.categories), ZERO)
            subtotal += sum((items[i.id].score for i in cat.indicators), ZERO)
            out.append(CategoryResult(cat.id, cat.label, cat.points, subtotal, cat.line))
            return subtotal

        for cat in self.ruleset.categories:
            visit(cat)
        order = {c.id: n for n, c in enumerate(_walk(self.ruleset.categories))}
        return sorted(out, key=lambda c: order[c.id])

    def _condition(self, compiled: CompiledFormula, names: dict[str, Any], what: str) -> Any:
        used_missing = [
            n for n in compiled.formula.names if names.get(n) is None and n in self.metrics
        ]
        if used_missing:
            labels = "、".join(self.metrics[n].label for n in used_missing)
            raise _EntityError(used_missing[0], f"{what}用到的指标 {labels} 缺少数据")
        try:
            return compiled(names)
        except FormulaEvaluationError as exc:
            raise _EntityError("", f"{what}：{exc}") from None

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
            value = (
                self._condition(amount, names, f"结果规则“{outcome.label}”的金额")
                if amount
                else None
            )
            fired.append(
                Fired(
                    outcome.id,
                    outcome.label,
                    outcome.kind,
                    "，且".join(parts),
                    value if isinstance(value, Decimal) else None,
                    outcome.line,
                )
            )
        return fired


def _evolve_score(
    item: ItemResult,
    score: Decimal,
    *,
    points: Decimal | None = None,
    explanation: str | None = None,
) -> ItemResult:
    changes: dict[str, Any] = {"score": score}
    if points is not None:
        changes["points"] = points
    if explanation is not None:
        changes["explanation"] = explanation
    return attrs.evolve(item, **changes)


def _with_rank(result: Result, rank: int, size: int) -> Result:
    return attrs.evolve(result, rank=rank, cohort_size=size)


def _walk(categories: Iterable[Category]) -> list[Category]:
    out: list[Category] = []
    for cat in categories:
        out.append(cat)
        out.extend(_walk(cat.categories))
    return out


def _category_of(categories: Iterable[Category]) -> dict[str, str]:
    out: dict[str, str] = {}
    for cat in _walk(categories):
        for ind in cat.indicators:
            out[ind.id] = cat.id
    return out


def _grade_rank(grades: Iterable[Band]) -> dict[str, int]:
    """0 for the best grade (highest band), 1 for the next, …"""
    neg = Decimal("-Infinity")
    ordered = sorted(grades, key=lambda b: b.lower if b.lower is not None else neg, reverse=True)
    return {b.value: n for n, b in enumerate(ordered)}
