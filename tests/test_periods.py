"""Periods, the ruleset version in force for a period, and metrics rolled up from quarters."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules.cli import run
from kpirules.periods import (
    NoPeriodDataError,
    PeriodError,
    choose,
    parse_period,
    period_rows,
    rollup,
)

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
QUARTERLY = ROOT / "examples" / "a-offices-2026-quarterly.csv"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026", "2026-01-01", "2026-12-31"),
        ("2026H2", "2026-07-01", "2026-12-31"),
        ("2026Q1", "2026-01-01", "2026-03-31"),
        ("2024Q1", "2024-01-01", "2024-03-31"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2026-03-15..2026-04-14", "2026-03-15", "2026-04-14"),
    ],
)
def test_parse_period(text: str, start: str, end: str) -> None:
    """Years, halves, quarters, months and explicit ranges, both ends inclusive."""
    p = parse_period(text)
    assert (str(p.start), str(p.end)) == (start, end)


@pytest.mark.parametrize("text", ["2026Q5", "26", "2026-13", "2026-03-01..2026-02-01", "明年"])
def test_bad_periods(text: str) -> None:
    """A period that cannot be read is our own error with the forms that work."""
    with pytest.raises(PeriodError):
        parse_period(text)


def version(tmp_path: Path, name: str, start: str, end: str | None, ver: str) -> Path:
    text = RULESET.read_text("utf-8").replace('version: "2026.1"', f'version: "{ver}"')
    text = text.replace(
        "  from: 2026-01-01\n  to: 2026-12-31\n",
        f"  from: {start}\n" + (f"  to: {end}\n" if end else ""),
    )
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_choose_strictly(tmp_path: Path) -> None:
    """One version per period; none, two, or a change mid-period are errors naming the versions."""
    v2026 = kpirules.load(version(tmp_path, "a.yaml", "2026-01-01", "2026-12-31", "2026.1"))
    v2027 = kpirules.load(version(tmp_path, "b.yaml", "2027-01-01", None, "2027.1"))
    mid = kpirules.load(version(tmp_path, "c.yaml", "2026-07-01", "2026-12-31", "2026.2"))
    early = kpirules.load(version(tmp_path, "d.yaml", "2026-01-01", "2026-06-30", "2026.1"))
    assert choose([v2026, v2027], parse_period("2026Q3")).version == "2026.1"
    assert choose([v2026, v2027], parse_period("2031")).version == "2027.1"
    with pytest.raises(PeriodError, match="没有施行中的规则集版本"):
        choose([v2026, v2027], parse_period("2025"))
    with pytest.raises(PeriodError, match="同时适用多个版本"):
        choose([v2026, early], parse_period("2026Q1"))
    with pytest.raises(PeriodError) as info:
        choose([early, mid], parse_period("2026"))
    message = str(info.value)
    assert "期间规则发生变化" in message
    assert "2026-01-01..2026-06-30 适用" in message and "2026-07-01..2026-12-31 适用" in message
    assert (
        choose([early, mid], parse_period("2026"), as_of=dt.date(2026, 12, 31)).version == "2026.2"
    )


def test_rollup_as_declared() -> None:
    """Counts add up, rates are recomputed from sums, percentages follow their aggregate, ratings combine per period."""
    ruleset = kpirules.load(RULESET)
    q = [
        (
            "2026Q1",
            {
                "payment_errors": Decimal(10),
                "payments": Decimal(2500),
                "satisfaction": Decimal("0.94"),
                "enrollee_data_accuracy": Decimal("0.99"),
                "review_quality": (
                    Decimal(80),
                    Decimal(85),
                    Decimal(90),
                    Decimal(95),
                    Decimal(100),
                ),
            },
        ),
        (
            "2026Q2",
            {
                "payment_errors": Decimal(20),
                "payments": Decimal(2500),
                "satisfaction": Decimal("0.96"),
                "enrollee_data_accuracy": Decimal("0.995"),
                "review_quality": (
                    Decimal(70),
                    Decimal(80),
                    Decimal(80),
                    Decimal(80),
                    Decimal(100),
                ),
            },
        ),
    ]
    year = rollup(ruleset.metrics, q, entity="甲")
    assert year == {
        "payment_errors": Decimal(30),
        "payments": Decimal(5000),
        "satisfaction": Decimal("0.95"),
        "enrollee_data_accuracy": Decimal("0.995"),
        "review_quality": Decimal(85),  # trimmed means 90 and 80, then their mean
    }


def test_rollup_needs_declared_aggregate() -> None:
    """A metric without `aggregate` cannot be combined over periods: an error naming it."""
    text = RULESET.read_text("utf-8").replace(
        "  satisfaction: {label: 参保人员满意度（问卷）, unit: percent, aggregate: mean}",
        "  satisfaction: {label: 参保人员满意度（问卷）, unit: percent}",
    )
    ruleset = kpirules.load("a.yaml", text=text)
    with pytest.raises(PeriodError, match="没有声明 aggregate"):
        rollup(
            ruleset.metrics,
            [("Q1", {"satisfaction": Decimal("0.9")}), ("Q2", {"satisfaction": Decimal("0.8")})],
            entity="甲",
        )


def test_cli_family_and_quarterly_rollup(tmp_path: Path) -> None:
    """A folder of versions and quarterly rows: the 2026 version is chosen and the year rolled up."""
    folder = tmp_path / "family"
    folder.mkdir()
    version(folder, "a-2026.yaml", "2026-01-01", "2026-12-31", "2026.1")
    version(folder, "a-2027.yaml", "2027-01-01", None, "2027.1")
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["score", str(folder), str(QUARTERLY), "--period", "2026", "--format", "csv"], out, err
    )
    assert code == 0, err.getvalue()
    rows = out.getvalue().splitlines()
    # 甲: 19.9 + 19.875 + 10 + 9.9 + 9 + 10 + 8.4 + 4.65 + 4.5 = 96.225 → 96.23 (四舍五入)
    # 乙: the same but 满意度 averages 93.75% → 9.0 instead of 10 → 95.225 → 95.23
    # CSV rows: rank, entity, the four category subtotals, sum of items, adjustments, veto, total
    assert rows[1].startswith("1,甲医院医保办,39.78,28.90,18.40,9.15,96.23,0.00,,96.23,优秀,")
    assert rows[2].startswith("2,乙医院医保办,39.78,28.90,17.40,9.15,95.23,0.00,,95.23,优秀,")
    assert "版本 2026.1" in err.getvalue()
    assert "1 行数据不在期间 2026 内，未使用" in err.getvalue()
    code = run(["score", str(folder), str(QUARTERLY)], io.StringIO(), err := io.StringIO())
    assert code == 2
    assert "用 --period 或 --as-of" in err.getvalue()


def test_cli_period_outside_the_ruleset() -> None:
    """Scoring 2030 with the 2026 ruleset is refused: it is not in force then."""
    err = io.StringIO()
    assert run(["score", str(RULESET), str(QUARTERLY), "--period", "2030"], io.StringIO(), err) == 1
    assert "没有施行中的规则集版本" in err.getvalue()


YOY = """\
kpirules: 1
id: yoy
title: 基金使用效率较上年度提升
version: "1"
source: 医保办年度绩效目标责任书
in_force: {from: 2025-01-01}
weighting: points
metrics:
  eff: {label: 基金使用效率, unit: ratio, aggregate: last}
  eff_last: {label: 上年度基金使用效率, unit: ratio, previous_of: eff}
categories:
  - id: c
    label: 基金
    weight: 100
    indicators:
      - {id: up, label: 较上年度提升, metric: eff, weight: 100, target: ≥ 5%, scoring: {method: change, baseline: eff_last, compare: relative, scoring: proportional}}
"""


def test_baseline_from_the_previous_period(tmp_path: Path) -> None:
    """基金使用效率较上年度提升5%: last year's value comes from last year's rows, and the run says so."""
    ruleset = tmp_path / "yoy.yaml"
    ruleset.write_text(YOY, "utf-8")
    data = tmp_path / "eff.csv"
    data.write_text(
        "entity,period,eff\n甲,2025Q3,0.98\n甲,2025Q4,1.00\n甲,2026Q2,1.02\n甲,2026Q4,1.03\n"
        "乙,2025Q4,1.00\n乙,2026Q4,1.06\n",
        "utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert (
        run(["score", str(ruleset), str(data), "--period", "2026", "--format", "csv"], out, err)
        == 0
    ), err.getvalue()
    # 甲: last of 2026 = 1.03 against last of 2025 = 1.00 → +3%, 3/5 of 100 = 60; 乙: +6% → 100
    # Sorted by rank: 乙 first. Columns: rank, entity, category c, sum, adjustment, veto,
    # total, grade, outcomes, then the indicator's score.
    assert out.getvalue().splitlines()[1:] == [
        "1,乙,100.00,100.00,0.00,,100.00,,,100.00",
        "2,甲,60.00,60.00,0.00,,60.00,,,60.00",
    ]
    assert "甲 的 上年度基金使用效率 取自上一期 2025 的数据（2025Q3、2025Q4）" in err.getvalue()


def test_previous_of_must_name_an_input() -> None:
    """previous_of names an existing input metric of the same unit."""
    _, problems = kpirules.check(
        "y.yaml", text=YOY.replace("previous_of: eff}", "previous_of: ef}")
    )
    assert [p.message for p in problems] == ["previous_of 引用的指标 “ef” 没有在 metrics 中声明"]


def test_period_rows_as_an_api(tmp_path: Path) -> None:
    """period_rows rolls up the period, fills previous_of from the year before and notes both."""
    ruleset = tmp_path / "yoy.yaml"
    ruleset.write_text(YOY, "utf-8")
    records = [
        ("甲", "2025Q3", {"eff": Decimal("0.98")}),
        ("甲", "2025Q4", {"eff": Decimal("1.00")}),
        ("甲", "2026Q2", {"eff": Decimal("1.02")}),
        ("甲", "2026Q4", {"eff": Decimal("1.03")}),
        ("甲", "2027Q1", {"eff": Decimal("2.00")}),
    ]
    chosen = period_rows(kpirules.load(ruleset), records, parse_period("2026"), source="eff.csv")
    # eff aggregates as last: 2026 → 1.03 (2026Q4), 2025 → 1.00 (2025Q4).
    assert chosen.rows == (("甲", {"eff": Decimal("1.03"), "eff_last": Decimal("1.00")}),)
    assert chosen.notes == (
        "eff.csv: 3 行数据不在期间 2026 内，未使用",
        "eff.csv: 甲 按期间 2026 汇总了 2 期数据（2026Q2、2026Q4）",
        "eff.csv: 甲 的 上年度基金使用效率 取自上一期 2025 的数据（2025Q3、2025Q4）",
    )


def test_period_rows_without_data_in_the_period(tmp_path: Path) -> None:
    """No row in the period is an error that still carries the note of what was set aside."""
    ruleset = tmp_path / "yoy.yaml"
    ruleset.write_text(YOY, "utf-8")
    records = [("甲", "2025Q3", {"eff": Decimal("0.98")})]
    with pytest.raises(NoPeriodDataError, match=r"^eff\.csv 中没有期间 2026 内的数据$") as info:
        period_rows(kpirules.load(ruleset), records, parse_period("2026"), source="eff.csv")
    assert info.value.notes == ("eff.csv: 1 行数据不在期间 2026 内，未使用",)


def test_period_rows_without_periods_keep_the_rows(tmp_path: Path) -> None:
    """Rows that name no period are scored as they are."""
    ruleset = tmp_path / "yoy.yaml"
    ruleset.write_text(YOY, "utf-8")
    records = [("甲", "", {"eff": Decimal("0.98")})]
    chosen = period_rows(kpirules.load(ruleset), records, parse_period("2026"), source="x")
    assert chosen.rows == (("甲", {"eff": Decimal("0.98")}),)
    assert chosen.notes == ()
