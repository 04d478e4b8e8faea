"""达标与改进结合 (target_or_improvement): hand-computed scores, sentences, diff wording, checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

import kpirules
from kpirules import EvaluationError
from kpirules.diff import compare
from kpirules.methods import METHODS

HEAD = """\
kpirules: 1
id: t
title: 测试
version: "1"
source: 测试
in_force: {from: 2026-01-01}
total_points: 10
weighting: points
metrics:
  settled: {label: 结算率, unit: percent}
  settled_last: {label: 上年结算率, unit: percent}
  errors: {label: 差错率, unit: percent}
  errors_last: {label: 上年差错率, unit: percent}
  visits: {label: 走访次数, unit: count, in: 次}
categories:
  - id: c
    label: 类
    weight: 10
    indicators:
"""

#: 结算率 ≥ 95% 得满分；未达标的，每比上年提高 1 个百分点得 2 分，最多 8 分（满分的 80%）。
SETTLED = (
    "{id: i, label: 结算率, metric: settled, weight: 10, target: ≥ 95%%, %s"
    "scoring: {method: target_or_improvement, baseline: settled_last, step: 1%%, step_points: 2}}"
)
#: 差错率 ≤ 2% 得满分；未达标的，每比上年降低 0.5 个百分点得 1 分，最多 6 分，变差的得 1 分。
ERRORS = (
    "{id: i, label: 差错率, metric: errors, weight: 10, target: ≤ 2%, scoring: "
    "{method: target_or_improvement, baseline: errors_last, step: 0.5%, step_points: 1, "
    "cap: 6, floor: 1}}"
)


def ruleset(indicator: str) -> kpirules.Ruleset:
    return kpirules.load("t.yaml", text=HEAD + f"      - {indicator}\n")


def item(r: kpirules.Ruleset, **metrics: str) -> kpirules.ItemResult:
    return r.evaluate(metrics).item("i")


def test_target_met_scores_full_points() -> None:
    """96% meets ≥ 95%: 10 points, whatever last year was."""
    got = item(ruleset(SETTLED % ""), settled="96%", settled_last="90%")
    assert (got.score, got.status) == (Decimal(10), "met")
    assert got.explanation == "结算率 96.00%，达到目标 ≥ 95%，得满分 10.00分"


def test_improvement_scores_points_per_step() -> None:
    """91% → 93%: 2 percentage points × 2 = 4 points, below the cap of 8."""
    got = item(ruleset(SETTLED % ""), settled="93%", settled_last="91%")
    assert (got.score, got.status) == (Decimal(4), "not_met")
    assert got.explanation == (
        "结算率 93.00%，未达到目标 ≥ 95%，较基期 91.00% 改善 2个百分点，"
        "每改善1个百分点得2分，得 4.00分"
    )


def test_partial_steps_count_pro_rata() -> None:
    """91% → 92.5%: 1.5 percentage points × 2 = 3 points."""
    assert item(ruleset(SETTLED % ""), settled="92.5%", settled_last="91%").score == Decimal(3)


def test_improvement_is_capped_at_80_percent_of_points_by_default() -> None:
    """88% → 94.5%: 6.5 × 2 = 13 points, capped at 80% of 10 = 8."""
    got = item(ruleset(SETTLED % ""), settled="94.5%", settled_last="88%")
    assert got.score == Decimal(8)
    assert got.explanation.endswith("得 8.00分（改善得分上限 8.00分）")


def test_no_change_scores_zero() -> None:
    """92% both years: no improvement, 0 points."""
    got = item(ruleset(SETTLED % ""), settled="92%", settled_last="92%")
    assert got.score == Decimal(0)
    assert got.explanation == "结算率 92.00%，未达到目标 ≥ 95%，较基期 92.00% 没有改善，得 0.00分"


def test_getting_worse_scores_zero() -> None:
    """92% → 90%: worse, 0 points."""
    got = item(ruleset(SETTLED % ""), settled="90%", settled_last="92%")
    assert got.score == Decimal(0)
    assert "较基期 92.00% 反而变差，得 0.00分" in got.explanation


def test_missing_baseline_is_an_error_by_default() -> None:
    """Not met and no baseline: KR616 names the baseline metric (missing: error)."""
    r = ruleset(SETTLED % "")
    with pytest.raises(EvaluationError) as info:
        r.evaluate({"settled": "93%"})
    (problem,) = info.value.problems
    assert (problem.field, problem.code) == ("settled_last", "KR616")
    assert problem.message == "结算率：缺少基期指标 “上年结算率” 的数据"


def test_missing_baseline_counts_as_not_improved_with_missing_zero() -> None:
    """With missing: zero a missing baseline scores as no improvement (the floor, here 0)."""
    got = item(ruleset(SETTLED % "missing: zero, "), settled="93%")
    assert got.score == Decimal(0)
    assert got.explanation == "结算率 93.00%，未达到目标 ≥ 95%，缺少基期数据，按未改善计，得 0.00分"


def test_met_needs_no_baseline() -> None:
    """The baseline is read only when the target is not met."""
    assert item(ruleset(SETTLED % ""), settled="95%").score == Decimal(10)


def test_lower_is_better_improvement_is_a_decrease() -> None:
    """差错率 5% → 3.5%: 1.5 points of decrease ÷ 0.5 × 1 = 3; 5% → 2.5%: 5 ≤ cap 6;
    5% → 2.1%: 5.8; 3% → 4%: worse, floor 1; 1.8% meets ≤ 2%."""
    r = ruleset(ERRORS)
    assert item(r, errors="3.5%", errors_last="5%").score == Decimal(3)
    assert item(r, errors="2.5%", errors_last="5%").score == Decimal(5)
    assert item(r, errors="2.1%", errors_last="5%").score == Decimal("5.8")
    assert item(r, errors="2.05%", errors_last="8%").score == Decimal(6)
    worse = item(r, errors="4%", errors_last="3%")
    assert worse.score == Decimal(1)
    assert worse.explanation == "差错率 4.00%，未达到目标 ≤ 2%，较基期 3.00% 反而变差，得 1.00分"
    assert item(r, errors="1.8%", errors_last="1%").score == Decimal(10)


def test_diff_describes_the_method_and_its_change() -> None:
    """kpirules diff names the method in Chinese with its parameters, old and new."""
    old = ruleset(SETTLED % "")
    new = ruleset((SETTLED % "").replace("step_points: 2}", "step_points: 1, cap: 5}"))
    texts = [c.text for c in compare(old, new) if c.kind == "method"]
    assert texts == [
        "结算率 计分方法 达标与改进结合（基期 settled_last；每改善 1% 得 2分；改善得分上限 满分的80%）"
        " → 达标与改进结合（基期 settled_last；每改善 1% 得 1分；改善得分上限 5分）"
    ]


def test_registry_and_schema_know_the_method() -> None:
    """The module is discovered: listed after change, with its keys in the JSON Schema."""
    from kpirules.schema import schema

    ids = list(METHODS)
    assert ids.index("target_or_improvement") == ids.index("change") + 1
    assert METHODS["target_or_improvement"].words == "达标与改进结合"
    scoring = schema()["$defs"]["scoring"]
    assert "target_or_improvement" in scoring["properties"]["method"]["enum"]
    assert {"step", "step_points"} <= set(scoring["properties"])


def problems(indicator: str) -> list[tuple[str, str]]:
    _, found = kpirules.check("t.yaml", text=HEAD + f"      - {indicator}\n")
    return [(p.code, p.message) for p in found]


def test_bad_parameters_are_reported_in_chinese() -> None:
    """step ≤ 0, a cap above the points, a floor above the cap, an unknown baseline."""
    text = (
        "{id: i, label: 结算率, metric: settled, weight: 10, target: ≥ 95%, scoring: "
        "{method: target_or_improvement, baseline: settled_lst, step: 0%, step_points: 2, "
        "cap: 12, floor: 3}}"
    )
    assert problems(text) == [
        ("KR367", "基期指标 “settled_lst” 没有在 metrics 中声明"),
        ("KR390", "step（每改善多少）必须大于 0，而这里是 0"),
        ("KR357", "得分 12 超出该指标的分值范围 0 到 10"),
    ]
    text = (
        "{id: i, label: 结算率, metric: settled, weight: 10, target: ≥ 95%, scoring: "
        "{method: target_or_improvement, baseline: settled_last, step: 1%, step_points: 2, "
        "floor: 9}}"
    )
    assert problems(text) == [
        ("KR391", "未改善时的得分 floor（9分）高于改善得分的上限（8分，即满分的80%）"),
    ]


def test_missing_parameters_and_equal_direction_are_refused() -> None:
    """step_points is required; a target written with = gives no direction to improve in."""
    no_points = (
        "{id: i, label: 结算率, metric: settled, weight: 10, target: ≥ 95%, scoring: "
        "{method: target_or_improvement, baseline: settled_last, step: 1%}}"
    )
    assert [code for code, _ in problems(no_points)] == ["KR201"]
    equal = no_points.replace("≥ 95%", "= 95%").replace("step: 1%", "step: 1%, step_points: 1")
    assert [code for code, _ in problems(equal)] == ["KR352"]


def test_methods_page_example_is_what_the_engine_says() -> None:
    """The worked example of docs/zh/scoring-methods.md passes its cases, and the sentences the
    page quotes for 甲医院医保办 are the ones `kpirules explain` prints."""
    import io
    from pathlib import Path

    from kpirules.cli import run

    root = Path(__file__).resolve().parent.parent
    example = root / "docs" / "zh" / "examples" / "target_or_improvement"
    out, err = io.StringIO(), io.StringIO()
    assert run(["test", str(example.with_suffix(".yaml"))], out, err) == 0
    assert "5/5 个用例通过" in out.getvalue()
    out = io.StringIO()
    argv = ["explain", str(example.with_suffix(".yaml")), str(example.with_suffix(".csv"))]
    assert run([*argv, "--entity", "甲医院医保办"], out, err) == 0
    page = (root / "docs" / "zh" / "scoring-methods.md").read_text(encoding="utf-8")
    section = page.split("## `target_or_improvement`")[1].split("\n## ")[0]
    quoted = [line[2:] for line in section.splitlines() if line.startswith("> ")]
    assert len(quoted) == 2
    assert [line for line in quoted if line not in out.getvalue()] == []
