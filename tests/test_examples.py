"""The example metrics files score exactly as docs/rulesets.md states."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules.inputs import read_metrics

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"
EXAMPLES = ROOT / "examples"

# (ruleset, example file, {entity: (total, grade, rank, outcome ids)}), as in docs/rulesets.md.
Expected = dict[str, tuple[str, str, int, list[str]]]
CASES: list[tuple[str, str, Expected]] = [
    (
        "a-office-annual.yaml",
        "a-offices-2026.csv",
        {
            "第一医院医保办": ("97.00", "优秀", 2, ["commend"]),
            "第二医院医保办": ("93.20", "优秀", 3, ["commend"]),
            "第三医院医保办": ("83.47", "良好", 4, []),
            "中医院医保办": ("97.12", "优秀", 1, ["commend"]),
        },
    ),
    (
        "b-position-leader.yaml",
        "b-leader-2026.csv",
        {
            "张主任": ("92.83", "优秀", 1, []),
            "李副主任": ("83.93", "良好", 2, []),
            "王副主任": ("70.70", "合格", 3, []),
            "赵副主任": ("56.63", "不合格", 4, []),
        },
    ),
    (
        "b-position-policy-research.yaml",
        "b-policy-research-2026.csv",
        {
            "陈研究员": ("92.73", "优秀", 1, []),
            "刘研究员": ("81.97", "良好", 2, []),
            "周助理研究员": ("68.80", "合格", 3, []),
            "吴助理研究员": ("53.67", "不合格", 4, []),
        },
    ),
    (
        "b-position-cost-management.yaml",
        "b-cost-management-2026.csv",
        {
            "孙会计": ("93.67", "优秀", 1, []),
            "郑会计": ("85.67", "良好", 2, []),
            "冯出纳": ("72.33", "合格", 3, []),
            "何专员": ("57.67", "不合格", 4, []),
        },
    ),
    (
        "c-staff-halfyear.yaml",
        "c-staff-2026h1.csv",
        {
            "黄敏": ("97.60", "优秀", 1, ["excellent_bonus", "honour_roll"]),
            "林涛": ("81.72", "良好", 2, ["honour_roll"]),
            "郭静": ("71.90", "合格", 3, []),
            "高峰": ("64.83", "待提高", 4, []),
            "马丽": ("34.22", "不合格", 5, []),
        },
    ),
    (
        "d-internal-quarterly.yaml",
        "d-departments-2026q1.csv",
        {
            "医保结算科": ("98.67", "优秀", 1, ["bonus_excellent", "honour_certificate"]),
            "医保审核科": ("84.61", "不及格", 3, ["warning", "fine", "record_violation"]),
            "医保稽核科": ("73.88", "及格", 4, ["bonus_pass", "warning"]),
            "医保信息科": ("39.33", "不及格", 5, ["warning"]),
            "医保服务窗口": (
                "96.00",
                "优秀",
                2,
                ["bonus_excellent", "honour_certificate", "promotion"],
            ),
        },
    ),
    (
        "d-internal-quarterly.yaml",
        "d-departments-2026q2.csv",
        {
            "医保结算科": (
                "100.00",
                "优秀",
                1,
                ["bonus_excellent", "honour_certificate", "promotion"],
            ),
            "医保审核科": ("88.81", "良好", 2, ["bonus_good"]),
            "医保稽核科": ("83.14", "良好", 4, ["bonus_good"]),
            "医保信息科": ("56.81", "不及格", 5, ["warning"]),
            "医保服务窗口": ("87.27", "良好", 3, ["bonus_good"]),
        },
    ),
    (
        "e-annual-letter.yaml",
        "e-office-2026.yaml",
        {
            "城东医院医保办": ("99.70", "优秀", 1, ["commend", "innovation_reward"]),
            "城西医院医保办": ("86.02", "良好", 3, []),
            "县人民医院医保办": ("68.52", "不合格", 5, ["rectify", "accountability"]),
            "妇幼保健院医保办": ("99.27", "不合格", 2, []),
            "中医院医保办": ("69.00", "不合格", 4, ["rectify", "accountability"]),
        },
    ),
]


@pytest.mark.parametrize(
    ("ruleset_file", "example_file", "expected"),
    CASES,
    ids=[example for _, example, _ in CASES],
)
def test_example_scores_as_documented(
    ruleset_file: str, example_file: str, expected: Expected
) -> None:
    """Each example file gives the totals, grades, ranks and outcomes stated in the docs."""
    ruleset = kpirules.load(RULESETS / ruleset_file)
    results = ruleset.evaluate_many(read_metrics(EXAMPLES / example_file, ruleset))
    actual = {r.entity: (r.total, r.grade, r.rank, [o.id for o in r.outcomes]) for r in results}
    assert actual == {
        entity: (Decimal(total), grade, rank, outcomes)
        for entity, (total, grade, rank, outcomes) in expected.items()
    }
    assert all(r.cohort_size == len(expected) for r in results)


def test_example_vetoes_adjustments_and_amounts() -> None:
    """The vetoes, the carried-forward archive penalty and the amounts the docs mention."""
    d = kpirules.load(RULESETS / "d-internal-quarterly.yaml")
    q1 = {
        r.entity: r for r in d.evaluate_many(read_metrics(EXAMPLES / "d-departments-2026q1.csv", d))
    }
    assert [v.id for v in q1["医保审核科"].vetoes] == ["major_violation_veto"]
    assert [(str(o.amount), o.unit) for o in q1["医保审核科"].outcomes if o.id == "fine"] == [
        ("1000.00", "元")
    ]
    assert q1["医保信息科"].item("efficiency_change_score").score == 0
    q2 = {
        r.entity: r for r in d.evaluate_many(read_metrics(EXAMPLES / "d-departments-2026q2.csv", d))
    }
    review = q2["医保审核科"]
    assert [(a.id, a.kind, a.points) for a in review.adjustments] == [
        ("archive_penalty", "penalty", Decimal(3))
    ]
    assert review.raw_total.quantize(Decimal("0.01")) == Decimal("91.81")

    c = kpirules.load(RULESETS / "c-staff-halfyear.yaml")
    staff = {r.entity: r for r in c.evaluate_many(read_metrics(EXAMPLES / "c-staff-2026h1.csv", c))}
    assert [
        (str(o.amount), o.unit) for o in staff["黄敏"].outcomes if o.id == "excellent_bonus"
    ] == [("2400.00", "元")]

    e = kpirules.load(RULESETS / "e-annual-letter.yaml")
    offices = {
        r.entity: r for r in e.evaluate_many(read_metrics(EXAMPLES / "e-office-2026.yaml", e))
    }
    assert [v.id for v in offices["妇幼保健院医保办"].vetoes] == ["fund_safety_veto"]
    assert [v.id for v in offices["中医院医保办"].vetoes] == ["data_security_veto"]
    assert offices["中医院医保办"].raw_total.quantize(Decimal("0.01")) == Decimal("99.93")
    assert not any(
        r.vetoes for name, r in offices.items() if name not in ("妇幼保健院医保办", "中医院医保办")
    )


def test_example_with_missing_value_is_refused() -> None:
    """An empty cell on a missing: error indicator stops scoring and names the metric."""
    c = kpirules.load(RULESETS / "c-staff-halfyear.yaml")
    rows = read_metrics(EXAMPLES / "c-staff-2026h1-missing.csv", c)
    with pytest.raises(kpirules.EvaluationError) as info:
        c.evaluate_many(rows)
    assert [(p.entity, p.field) for p in info.value.problems] == [("罗晨", "report_quality")]
    assert "统计分析报告质量评分" in info.value.problems[0].message
