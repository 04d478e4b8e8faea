"""Run a ruleset's own test cases: metrics in, expected results compared, differences in words."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs

from kpirules.api import LoadedRuleset
from kpirules.exact import exact
from kpirules.model import Ruleset, TestCase
from kpirules.result import EvaluationError, Result
from kpirules.words import english


@attrs.frozen
class CaseReport:
    """The outcome of one test case: passed, or the differences found."""

    name: str
    line: int
    differences: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.differences


@exact
def run_case(ruleset: LoadedRuleset, case: TestCase) -> CaseReport:
    """Evaluate one test case and compare with its expectations."""
    expect = case.expect
    try:
        others = [(entity, dict(values)) for entity, values in case.cohort]
        result = ruleset.evaluate_many([(case.name, dict(case.metrics)), *others])[0]
    except EvaluationError as exc:
        message = str(exc)
        if expect.error is not None and expect.error in message:
            return CaseReport(case.name, case.line, ())
        if expect.error is not None:
            return CaseReport(
                case.name, case.line, (f"预期报错包含 “{expect.error}”，实际报错：{message}",)
            )
        return CaseReport(case.name, case.line, (f"计分出错：{message}",))
    if expect.error is not None:
        return CaseReport(
            case.name,
            case.line,
            (f"预期报错包含 “{expect.error}”，实际正常计分（总分 {result.total}）",),
        )
    return CaseReport(case.name, case.line, tuple(_differences(case, result, _labels(ruleset))))


@exact
def run_tests(ruleset: LoadedRuleset) -> tuple[CaseReport, ...]:
    """Run every test case of ``ruleset`` in order."""
    return tuple(run_case(ruleset, case) for case in ruleset.tests)


def _labels(ruleset: Ruleset) -> dict[str, str]:
    """Names of the outcome and veto rules by id."""
    labels = {r.id: r.label for r in ruleset.outcomes}
    labels.update((r.id, r.label) for r in ruleset.vetoes)
    return labels


def _num(value: Decimal) -> str:
    return format(value, "f")


def _differences(case: TestCase, result: Result, labels: dict[str, str]) -> list[str]:
    expect = case.expect
    out: list[str] = []

    def number(what: str, want: Decimal | None, got: Decimal) -> None:
        if want is not None and want != got:
            out.append(f"{what}：预期 {_num(want)}，实际 {_num(got)}（相差 {_num(got - want)}）")

    en = english()
    number("总分 total" if en else "总分", expect.total, result.total)
    if expect.rank is not None and expect.rank != result.rank:
        out.append(
            f"{'名次 rank' if en else '名次'}：预期 {expect.rank}，实际 {result.rank}"
            f"（共 {result.cohort_size} 个）"
        )
    amounts = {o.id: o.amount for o in result.outcomes}
    for outcome_id, want in expect.amounts:
        amount = amounts.get(outcome_id)
        if amount is None:
            out.append(f"结果规则 {outcome_id} 的金额：预期 {_num(want)}，实际未触发")
        elif amount != want:
            out.append(f"结果规则 {outcome_id} 的金额：预期 {_num(want)}，实际 {_num(amount)}")
    number("原始总分 raw_total" if en else "原始总分", expect.raw_total, result.raw_total)
    if expect.grade is not None and expect.grade != result.grade:
        out.append(
            f"{'等级 grade' if en else '等级'}：预期 {expect.grade}，实际 {result.grade or '（无）'}"
        )
    for item_id, want in expect.scores:
        item = result.item(item_id)
        if item.score != want:
            out.append(
                f"指标 {item.label}（{item_id}）得分：预期 {_num(want)}，实际 {_num(item.score)}"
                f"（{item.explanation}）"
            )
    for cat_id, want in expect.subtotals:
        number(f"类别 {cat_id} 小计", want, result.subtotal(cat_id))
    out.extend(_fired(case, result, labels))
    return out


def _fired(case: TestCase, result: Result, labels: dict[str, str]) -> list[str]:
    """Expected against fired outcomes and vetoes: ids under ``--lang en``, else names."""
    expect = case.expect
    out: list[str] = []
    for what, want_ids, fired in (
        ("结果规则 outcomes", expect.outcomes, result.outcomes),
        ("否决项 vetoes", expect.vetoes, result.vetoes),
    ):
        if want_ids is None:
            continue
        got = sorted(f.id for f in fired)
        if sorted(want_ids) == got:
            continue
        if english():
            out.append(f"{what}：预期 [{', '.join(sorted(want_ids))}]，实际 [{', '.join(got)}]")
            continue

        def names(ids: Sequence[str]) -> str:
            return "、".join(f"“{labels.get(i, i)}”" for i in ids) or "无"

        out.append(f"{what.split()[0]}：预期 {names(sorted(want_ids))}，实际 {names(got)}")
    return out
