"""The shared result tables: columns, order, display rounding, aggregates, neutralising."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules import summary
from kpirules.inputs import read_metrics
from kpirules.model import Ruleset
from kpirules.result import Result

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scored() -> tuple[Ruleset, tuple[Result, ...]]:
    ruleset = kpirules.load(ROOT / "rulesets/a-office-annual.yaml")
    rows = read_metrics(ROOT / "examples/a-offices-2026.csv", ruleset)
    return ruleset, ruleset.evaluate_many(rows)


def test_ranking_sorted_by_rank_with_chinese_headers(
    scored: tuple[Ruleset, tuple[Result, ...]],
) -> None:
    """The summary lists entities by rank, with each category's points in its header."""
    ruleset, results = scored
    table = summary.ranking(ruleset, results)
    assert table.headers() == [
        "排名",
        "对象",
        "资金管理（40分）",
        "医保业务管理（30分）",
        "医保服务质量（20分）",
        "安全管理（10分）",
        "各项合计",
        "加减分",
        "一票否决",
        "总分",
        "等级",
        "奖惩结果",
    ]
    texts = table.texts()
    assert [row[1] for row in texts] == [
        "中医院医保办",
        "第一医院医保办",
        "第二医院医保办",
        "第三医院医保办",
    ]
    assert texts[2] == [
        "3",
        "第二医院医保办",
        "39.50",
        "28.42",
        "15.93",
        "9.35",
        "93.20",
        "0.00",
        "",
        "93.20",
        "优秀",
        "综合评分排名靠前，予以表彰",
    ]
    assert table.headers(ids=True) == [
        "rank",
        "entity",
        "fund",
        "business",
        "service",
        "security",
        "raw_total",
        "adjustment",
        "vetoes",
        "total",
        "grade",
        "outcomes",
    ]


def test_input_order_kept_when_asked(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """order="input" keeps the metrics file's order."""
    ruleset, results = scored
    table = summary.ranking(ruleset, results, order="input")
    assert [row[1] for row in table.rows] == [r.entity for r in results]


def test_display_rounding_keeps_exact_values(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """Cells stay exact; text is rounded to the ruleset's places unless exact is asked for."""
    column = summary.Column("x", "x", "x", "number", 2, "half_up")
    assert column.text(Decimal("84.125")) == "84.13"
    assert column.text(Decimal("84.125"), exact=True) == "84.125"
    even = summary.Column("x", "x", "x", "number", 0, "half_even")
    assert even.text(Decimal("84.5")) == "84"
    assert summary.Column("x", "x", "x", "number", 0, "half_up").text(Decimal("84.5")) == "85"


def test_grade_counts_best_first(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """Three 优秀 (97.12, 97.00, 93.20) and one 良好 (83.47); empty grades listed with 0."""
    ruleset, results = scored
    assert summary.grade_counts(ruleset, results) == (
        ("优秀", 3),
        ("良好", 1),
        ("合格", 0),
        ("不合格", 0),
    )


def test_attainment_per_indicator(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """基金收付准确性 (20 points): the mean of the four scores, and their share of 4 × 20."""
    ruleset, results = scored
    first = summary.attainment(ruleset, results)[0]
    scores = [r.item("payment_accuracy_score").score for r in results]
    assert first.label == "医疗保险基金收付准确性"
    assert first.met + first.not_met + first.other == 4
    assert first.mean_score == sum(scores, Decimal(0)) / 4
    assert first.mean_score == Decimal("19.7125")
    assert first.score_rate == Decimal("0.985625")


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_neutralise_each_formula_prefix(prefix: str) -> None:
    """A text starting with a formula character gets a leading quote (OWASP)."""
    assert summary.neutralise(prefix + "HYPERLINK(1)") == "'" + prefix + "HYPERLINK(1)"


def test_neutralise_leaves_ordinary_text() -> None:
    """Ordinary names are untouched."""
    assert summary.neutralise("第一医院医保办") == "第一医院医保办"
    assert summary.neutralise("A=1") == "A=1"


def test_explanations_with_values(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """values=True adds 取值 after 目标, shown as the sentence shows it; the default is unchanged."""
    ruleset, results = scored
    plain = summary.explanations(ruleset, results)
    assert "value" not in [c.key for c in plain.columns]
    table = summary.explanations(ruleset, results, values=True)
    assert table.headers()[3:5] == ["目标", "取值"]
    third = [row for row in table.texts() if row[0] == "第三医院医保办"]
    assert [row[4] for row in third] == [
        "96.50%",
        "96.09%",  # 2210 / 2300, shown like the sentence shows it
        "96.00%",
        "90.00%",
        "77分",
        "85.00%",
        "70分",
        "88分",
        "85分",
    ]
    assert [row[:4] + row[5:] for row in table.texts()] == plain.texts()
