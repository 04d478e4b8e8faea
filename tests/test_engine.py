"""The scoring engine: every built-in method against numbers computed by hand from policy wording."""

from __future__ import annotations

import pickle
import threading
from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules import EvaluationError

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
kpirules: 1
id: t
title: 测试
version: "1"
source: 测试
in_force: {from: 2026-01-01}
weighting: points
metrics:
  rate: {label: 满意度, unit: percent}
  errors: {label: 差错率, unit: percent}
  count: {label: 次数, unit: count, in: 次}
  done: {label: 已完成, unit: yes_no}
  money: {label: 追回金额, unit: money, in: 元}
  eff: {label: 基金使用效率, unit: ratio}
  eff_last: {label: 上年度基金使用效率, unit: ratio}
  score: {label: 评分, unit: rating, min: 0, max: 100, ratings: {combine: trimmed_mean, min_raters: 3}}
"""


def one(indicator: str, *, extra: str = "", weight: int = 10) -> kpirules.LoadedRuleset:
    """A ruleset with one category of ``weight`` points holding one indicator."""
    text = (
        HEAD
        + f"categories:\n  - id: c\n    label: 类\n    weight: {weight}\n    indicators:\n"
        + f"      - {{id: i, label: 指标, weight: {weight}, {indicator}}}\n"
        + extra
    ).replace("weight: 10\nweighting", "weighting")
    return kpirules.load(
        "t.yaml",
        text=text.replace("weighting: points", f"total_points: {weight}\nweighting: points"),
    )


def score_of(ruleset: kpirules.LoadedRuleset, **metrics: object) -> Decimal:
    return ruleset.evaluate(metrics).item("i").score


# -- methods, by hand ------------------------------------------------------------------


def test_linear_segments_example_from_policy() -> None:
    """区间法: 80–90% → 0–6 分, 90–95% → 6–10 分; 92% scores 6 + 2/5×4 = 7.6."""
    r = one(
        "metric: rate, target: ≥ 95%, scoring: {method: linear, segments: "
        "[{from: 80%, to: 90%, points: [0, 6]}, {from: 90%, to: 95%, points: [6, 10]}], below: 0}"
    )
    assert score_of(r, rate="92%") == Decimal("7.6")
    assert score_of(r, rate="85%") == Decimal(3)
    assert score_of(r, rate="90%") == Decimal(6)
    assert score_of(r, rate="79.99%") == Decimal(0)
    assert score_of(r, rate="99%") == Decimal(10)
    item = r.evaluate({"rate": "92%"}).item("i")
    assert item.status == "not_met"
    assert (
        item.explanation
        == "指标 92.00%，落在区间 90.00%–95.00%（6–10分），按区间线性计分，得 7.60分"
    )


@pytest.mark.parametrize(
    ("partial", "value", "expected"),
    [
        ("pro_rata", "92.5%", "7.5"),  # 2.5 个百分点 × 1 分
        ("round_up", "92.5%", "7"),  # 不足1个百分点按1个计：3 分
        ("round_down", "92.5%", "8"),  # 不足1个百分点不扣：2 分
        ("pro_rata", "95%", "10"),  # 恰好达标
        ("pro_rata", "80%", "0"),  # 扣完为止
    ],
)
def test_deduct_per_percentage_point(partial: str, value: str, expected: str) -> None:
    """每低于目标1个百分点扣1分，扣完为止, on a 10-point item with target ≥ 95%."""
    r = one(
        f"metric: rate, target: ≥ 95%, scoring: {{method: deduct, per: 1%, deduct: 1, partial: {partial}}}"
    )
    assert score_of(r, rate=value) == Decimal(expected)


def test_deduct_explanation_lower_is_better() -> None:
    """审核差错率 3% 高于目标 2%，每超1个百分点扣1分，扣1分，得9分."""
    r = one(
        "metric: errors, target: ≤ 2%, scoring: {method: deduct, per: 1%, deduct: 1, partial: pro_rata}"
    )
    item = r.evaluate({"errors": "3%"}).item("i")
    assert item.score == Decimal(9)
    assert item.explanation == "指标 3.00%，高于目标 ≤ 2%，每超1个百分点扣1分，扣 1.00分，得 9.00分"


def test_deduct_with_floor() -> None:
    """A floor keeps a minimum: 10 points, floor 4, 9 points of shortfall → 4."""
    r = one(
        "metric: rate, target: ≥ 95%, scoring: {method: deduct, per: 1%, deduct: 1, partial: pro_rata, floor: 4}"
    )
    assert score_of(r, rate="86%") == Decimal(4)


def test_pass_fail_yes_no_and_threshold() -> None:
    """达标得满分: yes/no and ≥ thresholds, with `otherwise`."""
    r = one("metric: done, target: 是, scoring: {method: pass_fail}")
    assert score_of(r, done="是") == Decimal(10)
    assert score_of(r, done=False) == Decimal(0)
    r = one("metric: count, target: 不少于 4 次, scoring: {method: pass_fail, otherwise: 3}")
    assert score_of(r, count=4) == Decimal(10)
    assert score_of(r, count=3) == Decimal(3)


def test_proportional_both_directions() -> None:
    """实际/目标×分值 capped at full points; 目标/实际×分值 for lower-is-better."""
    r = one("metric: money, target: ≥ 5万元, scoring: {method: proportional}")
    assert score_of(r, money=30000) == Decimal(6)
    assert score_of(r, money="8万元") == Decimal(10)
    r = one("metric: errors, target: ≤ 2%, scoring: {method: proportional}")
    assert score_of(r, errors="4%") == Decimal(5)
    assert score_of(r, errors="0%") == Decimal(10)


def test_per_occurrence() -> None:
    """每发现一次扣2分，扣完为止: 3 次 → 4 分; 6 次 → 0 分."""
    r = one("metric: count, scoring: {method: per_occurrence, deduct: 2}")
    assert score_of(r, count=3) == Decimal(4)
    assert score_of(r, count=6) == Decimal(0)


def test_capped_bonus() -> None:
    """每项加2分，最高5分: 2 项 → 4 分, 4 项 → 5 分 (capped); bonus items add on top."""
    text = (
        HEAD
        + "categories:\n  - id: c\n    label: 类\n    weight: 100\n    indicators:\n"
        + "      - {id: base, label: 基础, metric: done, weight: 100, target: 是, scoring: {method: pass_fail}}\n"
        + "      - {id: i, label: 创新, metric: count, scoring: {method: bonus, per: 1, add: 2, cap: 5}}\n"
        + "grades:\n  - {grade: 优秀, from: 90}\n  - {grade: 其他, below: 90}\n"
    )
    r = kpirules.load("t.yaml", text=text)
    assert r.evaluate({"done": "是", "count": 2}).total == Decimal("104.00")
    result = r.evaluate({"done": "是", "count": 4})
    assert result.item("i").score == Decimal(5)
    assert result.total == Decimal("105.00")


def test_table_with_over_and_to() -> None:
    """≤24小时 10 分；超过24至48小时 5 分；超过48小时 0 分 (24 exactly is full marks)."""
    r = one(
        "metric: count, target: ≤ 24, scoring: {method: table, rows: "
        "[{to: 24, points: 10}, {over: 24, to: 48, points: 5}, {over: 48, points: 0}]}"
    )
    assert [score_of(r, count=v) for v in (0, 24, 25, 48, 49)] == [
        Decimal(x) for x in (10, 10, 5, 5, 0)
    ]


def test_change_relative_and_proportional() -> None:
    """基金使用效率较上年度提升5%: 1.05 vs 1.00 meets it; 1.03 gets 3/5 of the points."""
    r = one(
        "metric: eff, target: ≥ 5%, scoring: {method: change, baseline: eff_last, compare: relative, scoring: proportional}"
    )
    assert score_of(r, eff="1.05", eff_last="1.00") == Decimal(10)
    assert score_of(r, eff="1.03", eff_last="1.00") == Decimal(6)
    assert score_of(r, eff="0.98", eff_last="1.00") == Decimal(0)
    item = r.evaluate({"eff": "1.03", "eff_last": "1.00"}).item("i")
    assert item.explanation == "指标 1.03，较基期 1 变化 3.00%，未达到目标 ≥ 5%，按比例得 6.00分"


def test_change_baseline_zero_is_an_error() -> None:
    """A relative change against a zero baseline is a clear error, not a crash."""
    r = one(
        "metric: eff, target: ≥ 5%, scoring: {method: change, baseline: eff_last, compare: relative}"
    )
    with pytest.raises(EvaluationError, match="基期值为 0，无法计算相对变化"):
        r.evaluate({"eff": "1", "eff_last": "0"})


def test_scale_with_trimmed_mean_ratings() -> None:
    """去掉一个最高分和一个最低分: 70, 80, 90, 95, 100 → (80+90+95)/3 = 88.33…; ×10/100."""
    r = one("metric: score, scoring: {method: scale}")
    item = r.evaluate({"score": [70, 80, 90, 95, 100]}).item("i")
    assert item.score == Decimal(265) / Decimal(3) / Decimal(10)
    assert (
        "5 位评分 70、80、90、95、100，去掉一个最高分和一个最低分后平均 约88.33分"
        in item.explanation
    )
    with pytest.raises(EvaluationError, match="至少要有 3 个评分"):
        r.evaluate({"score": [90, 95]})


def test_formula_method_and_out_of_range() -> None:
    """A custom formula scores; a result beyond the points is an error naming the formula."""
    r = one("metric: count, scoring: {method: formula, formula: 'min(points, value * 2)'}")
    assert score_of(r, count=3) == Decimal(6)
    r = one("metric: count, scoring: {method: formula, formula: value * 2}")
    with pytest.raises(EvaluationError, match=r"计分公式 “value \* 2” 的结果 12 超出 0 到 10 分"):
        r.evaluate({"count": 6})


def test_cohort_methods() -> None:
    """与最优比, 排名 and 百分位 score several entities together."""
    rows = [
        ("甲", {"money": 100000}),
        ("乙", {"money": 50000}),
        ("丙", {"money": 50000}),
        ("丁", {"money": 0}),
    ]
    r = one("metric: money, direction: higher_better, scoring: {method: best_ratio}")
    assert [x.item("i").score for x in r.evaluate_many(rows)] == [
        Decimal(10),
        Decimal(5),
        Decimal(5),
        Decimal(0),
    ]
    r = one(
        "metric: money, direction: higher_better, scoring: {method: rank, points_by_rank: [10, 8, 6], otherwise: 2}"
    )
    results = r.evaluate_many(rows)
    assert [x.item("i").score for x in results] == [Decimal(10), Decimal(8), Decimal(8), Decimal(2)]
    assert results[1].item("i").explanation == "指标 50000元，在 4 个单位中排第 2 名，得 8.00分"
    r = one(
        "metric: money, direction: higher_better, scoring: {method: percentile, rows: "
        "[{from: 50%, points: 10}, {below: 50%, points: 4}]}"
    )
    # 甲 better than 3 of 3 others; 乙/丙 better than 1 of 3; 丁 none.
    assert [x.item("i").score for x in r.evaluate_many(rows)] == [
        Decimal(10),
        Decimal(4),
        Decimal(4),
        Decimal(4),
    ]
    with pytest.raises(EvaluationError, match="evaluate_many"):
        r.evaluate({"money": 1})


def test_monitor_scores_nothing() -> None:
    """Monitor-only indicators are computed and reported, with no points."""
    text = (
        HEAD
        + "categories:\n  - id: c\n    label: 类\n    weight: 100\n    indicators:\n"
        + "      - {id: base, label: 基础, metric: done, weight: 100, target: 是, scoring: {method: pass_fail}}\n"
        + "      - {id: i, label: 监测, metric: count, scoring: {method: monitor}}\n"
    )
    result = kpirules.load("t.yaml", text=text).evaluate({"done": "是", "count": 7})
    assert result.item("i").status == "monitor"
    assert result.item("i").explanation == "监测 7次（仅监测，不计分）"
    assert result.total == Decimal("100.00")


# -- totals, missing data, vetoes, outcomes, rounding -----------------------------------------

TOTALS = (
    HEAD.replace("weighting: points", "weighting: points")
    + """\
  loss: {label: 基金损失, unit: money, in: 元}
  incidents: {label: 重大基金安全事件, unit: count, in: 起}
categories:
  - id: a
    label: 甲类
    weight: 60
    indicators:
      - {id: x, label: 满意度, metric: rate, weight: 30, target: ≥ 95%, scoring: {method: deduct, per: 1%, deduct: 2, partial: pro_rata}}
      - {id: y, label: 次数, metric: count, weight: 30, target: ≥ 4, scoring: {method: proportional}, missing: exclude}
  - id: b
    label: 乙类
    weight: 40
    indicators:
      - {id: z, label: 完成, metric: done, weight: 40, target: 是, scoring: {method: pass_fail}, missing: zero}
grades:
  - {grade: 优秀, from: 90}
  - {grade: 良好, from: 80, below: 90}
  - {grade: 合格, from: 60, below: 80}
  - {grade: 不合格, below: 60}
outcomes:
  - {id: commend, kind: reward, label: 表彰, when: total >= 90}
  - {id: rectify, kind: rectification, label: 限期整改, when: total < 70}
  - {id: accountability, kind: accountability, label: 追究责任, when: loss > 5万元}
"""
)
BASE_METRICS = {"rate": "95%", "count": 4, "done": "是", "loss": 0, "incidents": 0}


def with_veto(effect: str) -> kpirules.LoadedRuleset:
    veto = {
        "zero": "effect: zero",
        "cap_total": "effect: cap_total, cap: 59",
        "cap_grade": "effect: cap_grade, grade: 不合格",
    }[effect]
    return kpirules.load(
        "t.yaml",
        text=TOTALS
        + f"vetoes:\n  - {{id: v, label: 重大基金安全事件, when: incidents > 0, {veto}}}\n",
    )


@pytest.mark.parametrize(
    ("effect", "total", "grade"),
    [
        ("zero", "0.00", "不合格"),
        ("cap_total", "59.00", "不合格"),
        ("cap_grade", "93.00", "不合格"),
    ],
)
def test_veto_on_a_total_of_93(effect: str, total: str, grade: str) -> None:
    """一票否决 on a total of 93 (满意度 91.5% costs 7 points): zero, cap at 59, or cap the grade."""
    r = with_veto(effect)
    clean = r.evaluate({**BASE_METRICS, "rate": "91.5%"})
    assert (clean.total, clean.grade) == (Decimal("93.00"), "优秀")
    vetoed = r.evaluate({**BASE_METRICS, "rate": "91.5%", "incidents": 1})
    assert (vetoed.raw_total, vetoed.total, vetoed.grade) == (Decimal(93), Decimal(total), grade)
    assert [v.id for v in vetoed.vetoes] == ["v"]


def test_cap_grade_veto_still_lets_total_conditions_fire() -> None:
    """With a cap_grade veto the total stays 93, so `total >= 90` still fires (documented)."""
    vetoed = with_veto("cap_grade").evaluate({**BASE_METRICS, "rate": "91.5%", "incidents": 1})
    assert [o.id for o in vetoed.outcomes] == ["commend"]


def test_accountability_fires_whatever_the_total() -> None:
    """基金损失超5万元 → 追究责任, alongside 表彰 at 100 points."""
    result = with_veto("zero").evaluate({**BASE_METRICS, "loss": 80000})
    assert result.total == Decimal("100.00")
    assert [o.id for o in result.outcomes] == ["commend", "accountability"]
    assert result.outcomes[1].condition == "loss > 5万元"


def test_missing_zero_and_exclude() -> None:
    """missing: zero scores 0; missing: exclude re-weights the rest of its category."""
    r = with_veto("zero")
    result = r.evaluate({"rate": "95%", "count": 4, "loss": 0, "incidents": 0})
    assert result.item("z").status == "missing"
    assert result.total == Decimal("60.00")
    result = r.evaluate({"rate": "94%", "done": "是", "loss": 0, "incidents": 0})
    # 满意度 28/30 scaled to the category's 60 points: 56; 次数 excluded.
    assert result.item("y").status == "excluded"
    assert (result.item("x").score, result.item("x").points) == (Decimal(56), Decimal(60))
    assert result.total == Decimal("96.00")


def test_missing_error_names_every_metric() -> None:
    """The default for a missing value is an error naming the metric."""
    with pytest.raises(EvaluationError) as info:
        with_veto("zero").evaluate({"count": 4, "done": "是", "loss": 0, "incidents": 0})
    assert "缺少数据：满意度（rate）" in str(info.value)


def test_rounding_applied_once_half_up() -> None:
    """四舍五入 at the total: 84.5 → 85 with 0 places (Python's round() would give 84)."""
    text = (
        HEAD.replace("weighting: points", "rounding: {places: 0, mode: half_up}\nweighting: points")
        + "categories:\n  - id: c\n    label: 类\n    weight: 100\n    indicators:\n"
        + "      - {id: i, label: 满意度, metric: rate, weight: 100, target: ≥ 100%, scoring: {method: proportional}}\n"
    )
    r = kpirules.load("t.yaml", text=text)
    assert r.evaluate({"rate": "84.5%"}).total == Decimal(85)
    even = kpirules.load("t.yaml", text=text.replace("half_up", "half_even"))
    assert even.evaluate({"rate": "84.5%"}).total == Decimal(84)


def test_rounding_at_items() -> None:
    """at: items rounds each item once; the total is the exact sum of rounded items."""
    text = (
        HEAD.replace("weighting: points", "rounding: {places: 1, at: items}\nweighting: share")
        + "categories:\n  - id: c\n    label: 类\n    weight: 1\n    indicators:\n"
        + "      - {id: a, label: 甲, metric: rate, weight: 1, target: ≥ 100%, scoring: {method: proportional}}\n"
        + "      - {id: b, label: 乙, metric: errors, weight: 2, target: ≥ 100%, scoring: {method: proportional}}\n"
    )
    result = kpirules.load("t.yaml", text=text).evaluate({"rate": "50%", "errors": "50%"})
    # 甲 33.33… × 50% = 16.666… → 16.7; 乙 66.66… × 50% = 33.333… → 33.3; total 50.0
    assert [i.score for i in result.items] == [Decimal("16.7"), Decimal("33.3")]
    assert result.total == Decimal("50.0")


# -- inputs and errors ------------------------------------------------------------------


def test_bad_inputs_all_reported() -> None:
    """Unknown metrics (did you mean), a ratio given as 95, floats and text: all at once."""
    r = one("metric: rate, target: ≥ 95%, scoring: {method: pass_fail}")
    with pytest.raises(EvaluationError) as info:
        r.evaluate({"rat": "95%", "rate": 95, "count": 0.5, "money": "很多"}, entity="甲")
    assert [str(p) for p in info.value.problems] == [
        "甲: rat: 规则集中没有指标 “rat”（是不是要写 rate？）",
        "甲: rate: 指标 “满意度” 是百分比，95 会被当作 9500%：写成 95% 或 0.95",
        '甲: count: 不接受二进制浮点数（float）：请传入 Decimal、整数或文字，如 "0.95"',
        "甲: money: 指标 “追回金额” 的值无法读出数值 “很多”：应写成数字加可选单位，如 95%、4次、5万元",
    ]


def test_duplicate_entities_refused() -> None:
    """evaluate_many refuses a duplicated entity id."""
    r = one("metric: rate, target: ≥ 95%, scoring: {method: pass_fail}")
    with pytest.raises(EvaluationError, match="编号重复"):
        r.evaluate_many([("甲", {"rate": "95%"}), ("甲", {"rate": "96%"})])


def test_division_by_zero_in_derived_metric() -> None:
    """差错件数/审核件数 with 0 审核件数 is an error naming the formula and values."""
    text = (
        HEAD.replace(
            "metrics:\n",
            "metrics:\n  e: {label: 差错件数, unit: count}\n  n: {label: 审核件数, unit: count}\n  er: {label: 审核差错率, unit: percent, formula: e / n}\n",
        )
        + "categories:\n  - id: c\n    label: 类\n    weight: 100\n    indicators:\n"
        + "      - {id: i, label: 差错率, metric: er, weight: 100, target: ≤ 2%, scoring: {method: pass_fail}}\n"
    )
    r = kpirules.load("t.yaml", text=text)
    with pytest.raises(EvaluationError) as info:
        r.evaluate({"e": 1, "n": 0}, entity="甲")
    assert str(info.value) == "甲: er: 派生指标 “审核差错率”：公式 “e / n” 除数为 0（e = 1，n = 0）"


# -- results: rank, provenance, determinism, threads, pickling ----------------------------


def test_scheme_a_examples_ranked_in_input_order() -> None:
    """evaluate_many keeps input order and ranks by total (competition ranking)."""
    from kpirules.inputs import read_metrics

    r = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    results = r.evaluate_many(read_metrics(ROOT / "examples" / "a-offices-2026.csv", r))
    assert [(x.entity, x.total, x.rank) for x in results] == [
        ("第一医院医保办", Decimal("97.00"), 2),
        ("第二医院医保办", Decimal("93.20"), 3),
        ("第三医院医保办", Decimal("83.47"), 4),
        ("中医院医保办", Decimal("97.12"), 1),
    ]
    p = results[0].provenance
    assert p.fingerprint.startswith("sha256:") and len(p.fingerprint) == 71
    assert "ROUND_HALF_EVEN" in p.decimal_context


def test_fingerprint_ignores_layout_not_content() -> None:
    """Comments and layout leave the fingerprint alone; a changed number changes it."""
    text = (ROOT / "rulesets" / "a-office-annual.yaml").read_text("utf-8")
    a = kpirules.load("x.yaml", text=text)
    b = kpirules.load("x.yaml", text="# 注释\n" + text)
    c = kpirules.load("x.yaml", text=text.replace("weight: 40%", "weight: 40.0%"))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_json_is_byte_identical_and_in_input_order() -> None:
    """Evaluating twice gives byte-identical canonical JSON."""
    r = kpirules.load(ROOT / "rulesets" / "a-office-annual.tests.yaml")
    metrics = dict(r.tests[1].metrics)
    first = r.evaluate(metrics, entity="甲").to_json()
    again = (
        kpirules.load(ROOT / "rulesets" / "a-office-annual.tests.yaml")
        .evaluate(metrics, entity="甲")
        .to_json()
    )
    assert first == again
    assert '"total":"94.30"' in first


def test_threads_agree_with_sequential() -> None:
    """One compiled ruleset evaluated from several threads gives the sequential results."""
    r = kpirules.load(ROOT / "rulesets" / "a-office-annual.tests.yaml")
    cases = [dict(t.metrics) for t in r.tests[:3]] * 20
    expected = [r.evaluate(m).to_json() for m in cases]
    got: list[str | None] = [None] * len(cases)

    def work(start: int) -> None:
        for i in range(start, len(cases), 4):
            got[i] = r.evaluate(cases[i]).to_json()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


def test_pickle_round_trip() -> None:
    """A compiled ruleset pickles and scores the same after loading."""
    r = kpirules.load(ROOT / "rulesets" / "a-office-annual.tests.yaml")
    copy = pickle.loads(pickle.dumps(r))
    metrics = dict(r.tests[0].metrics)
    assert copy.evaluate(metrics).to_json() == r.evaluate(metrics).to_json()


def test_program_pickles_as_its_ruleset() -> None:
    """A compiled program pickles as its ruleset's data and is compiled again when unpickled."""
    from kpirules.engine import compile_ruleset

    r = kpirules.load(ROOT / "rulesets" / "a-office-annual.tests.yaml")
    program = compile_ruleset(r.ruleset)
    payload = pickle.dumps(program)
    assert b"Plan" not in payload
    assert b"CompiledFormula" not in payload
    assert len(payload) <= len(pickle.dumps(r.ruleset)) + 200
    copy = pickle.loads(payload)
    assert copy is not program
    assert copy.ruleset == program.ruleset
    assert len(copy.plans) == len(program.plans) == len(r.ruleset.indicators())
    scored = [dict(c.metrics) for c in r.tests if c.expect.error is None and not c.cohort]
    assert len(scored) >= 3
    for metrics in scored:
        assert copy.evaluate(metrics).to_json() == program.evaluate(metrics).to_json()


def test_shipped_test_cases_pass() -> None:
    """Every shipped ruleset's own hand-computed test cases pass."""
    from kpirules.testing import run_tests

    for path in sorted((ROOT / "rulesets").glob("*.yaml")):
        ruleset = kpirules.load(path)
        failures = [(c.name, c.differences) for c in run_tests(ruleset) if not c.passed]
        assert failures == [], f"{path.name}: {failures}"


def test_vetoed_items_and_adjusted_total() -> None:
    """Items a fired veto's condition uses are marked vetoed; adjusted_total sits before vetoes."""
    text = TOTALS.replace(
        "categories:\n",
        "categories:\n",
    ) + (
        "vetoes:\n  - {id: v, label: 重大基金安全事件, when: incidents > 0, effect: cap_total, cap: 59}\n"
        "adjustments:\n  rules:\n    - {id: pen, label: 违规扣分, kind: penalty, points: 2 * incidents, cap: 5}\n"
    )
    text = text.replace(
        "      - {id: z, label: 完成, metric: done,",
        "      - {id: w, label: 事件监测, metric: incidents, scoring: {method: monitor}}\n      - {id: z, label: 完成, metric: done,",
    )
    result = kpirules.load("t.yaml", text=text).evaluate({**BASE_METRICS, "incidents": 2})
    assert (result.raw_total, result.adjusted_total, result.total) == (
        Decimal(100),
        Decimal(96),
        Decimal("59.00"),
    )
    assert result.item("w").status == "vetoed"
    assert result.item("x").status == "met"


def _chain(n: int, *, loop: bool = False) -> str:
    """A ruleset whose ``n`` derived metrics form a chain (``d1 = x + y``, ``d{i} = d{i-1} + x``),
    an indicator on the last; with ``loop``, ``d1`` uses ``d{n}`` instead of ``y``."""
    lines = [
        "kpirules: 1",
        "id: chain",
        "title: 链",
        'version: "1"',
        "source: 测试",
        "in_force: {from: 2026-01-01}",
        "total_points: 10",
        "weighting: points",
        "metrics:",
        "  x: {label: 基数, unit: count, in: 件}",
        "  y: {label: 增量, unit: count, in: 件}",
        f"  d1: {{label: 派生1, unit: count, in: 件, formula: x + {f'd{n}' if loop else 'y'}}}",
        *(
            f"  d{i}: {{label: 派生{i}, unit: count, in: 件, formula: d{i - 1} + x}}"
            for i in range(2, n + 1)
        ),
        "categories:",
        "  - {id: c, label: 类, weight: 10, indicators: [{id: i, label: 链尾, metric: "
        f"d{n}, weight: 10, target: 不少于 1 件, scoring: {{method: proportional}}}}]}}",
    ]
    return "\n".join(lines) + "\n"


def test_long_derived_chain_compiles_and_scores() -> None:
    """2,000 derived metrics in a chain (deeper than Python's recursion limit) compile;
    the value is x + y + 1,999·x; the item lists the chain breadth first."""
    r = kpirules.load("t.yaml", text=_chain(2000))
    item = r.evaluate({"x": 2, "y": 5}).item("i")
    assert item.value == Decimal(2 + 5 + 1999 * 2)
    assert [name for name, _ in item.inputs][:4] == ["d2000", "d1999", "x", "d1998"]
    assert [name for name, _ in item.inputs][-3:] == ["d2", "d1", "y"]
    assert len(item.inputs) == 2002


def test_missing_input_of_a_long_chain_is_named() -> None:
    """A missing input at the far end of a long chain is named, not the derived metric."""
    r = kpirules.load("t.yaml", text=_chain(1500))
    with pytest.raises(EvaluationError) as caught:
        r.evaluate({"x": 1})
    assert [p.field for p in caught.value.problems] == ["y"]
    assert "缺少数据：增量（y）" in caught.value.problems[0].message


def test_long_derived_loop_is_one_problem() -> None:
    """A loop through 1,200 derived metrics is reported once, where it closes (d2 uses d1,
    reached from d1 through d1200, d1199, …), naming every link in order."""
    _, problems = kpirules.check("t.yaml", text=_chain(1200, loop=True))
    loops = [p for p in problems if p.code == "KR331"]
    assert len(loops) == 1
    assert loops[0].path == "$.metrics.d2.formula"
    names = ["d1", *(f"d{i}" for i in range(1200, 1, -1)), "d1"]
    assert loops[0].message == "派生指标相互引用，形成循环：" + " → ".join(names)


def test_result_and_ruleset_lookups_by_id() -> None:
    """Items, subtotals and metrics are found by id (KeyError naming the id otherwise); the
    index built on first use changes neither equality, hashing nor pickling."""
    r = one("metric: count, target: 不少于 4 次, scoring: {method: proportional}")
    result = r.evaluate({"count": 3})
    twin = r.evaluate({"count": 3})
    assert result.item("i").score == Decimal("7.5")
    assert result.subtotal("c") == Decimal("7.5")
    assert r.metric("count").label == "次数"
    for lookup, name in ((result.item, "j"), (result.subtotal, "d"), (r.metric, "nope")):
        with pytest.raises(KeyError) as caught:
            lookup(name)
        assert caught.value.args == (name,)
    assert result == twin
    assert hash(result) == hash(twin)
    copy = pickle.loads(pickle.dumps(result))
    assert copy == result
    assert copy.item("i") == result.item("i")
