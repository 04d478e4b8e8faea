"""Money: outcome amounts rounded once by the ruleset's money rule, shown with unit and basis."""

from __future__ import annotations

import decimal
import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kpirules
from kpirules import report, workbook
from kpirules.cli import run
from kpirules.diff import compare
from kpirules.model import Money
from kpirules.testing import run_case, run_tests

ROOT = Path(__file__).resolve().parent.parent
DEPOSIT = ROOT / "examples" / "deposit-refund.yaml"
DEPOSIT_DATA = ROOT / "examples" / "deposit-refund-2026.csv"

#: 统筹支付数额 3,456,789.13 元 → 保证金 × 5% = 172,839.4565 元 (kept exact).
PAYMENT = "3456789.13"


def deposit_result(total: str) -> kpirules.Result:
    """Both ratings equal to ``total`` give that total (60% + 40% of the same rating)."""
    ruleset = kpirules.load(DEPOSIT)
    return ruleset.evaluate(
        {"pooled_payment": PAYMENT, "work_quality": total, "service_rating": total}
    )


@pytest.mark.parametrize(
    ("total", "outcome", "amount", "unrounded"),
    [
        # ≥ 95: the whole deposit, 172,839.4565 → 172,839.46
        ("95", "deposit_full_refund", "172839.46", "172839.4565"),
        # 172,839.4565 × 94.99 / 100 = 164,180.19972935 → 164,180.20
        ("94.99", "deposit_refund", "164180.20", "164180.19972935"),
        # 172,839.4565 × 77.50 / 100 = 133,950.5787875 → 133,950.58 (the total has 2 places)
        ("77.5", "deposit_refund", "133950.58", "133950.5787875"),
        # 172,839.4565 × 60.00 / 100 = 103,703.6739 → 103,703.67
        ("60", "deposit_refund", "103703.67", "103703.673900"),
        # < 60: nothing refunded
        ("59.99", "deposit_forfeited", "0.00", "0"),
    ],
)
def test_deposit_refund_at_the_edges(total: str, outcome: str, amount: str, unrounded: str) -> None:
    """Full refund at 95, pro rata from 60 to 94.99, none at 59.99; amounts to the cent."""
    result = deposit_result(total)
    assert result.total == Decimal(total)
    [fired] = result.outcomes
    assert fired.id == outcome
    assert (str(fired.amount), fired.unit, str(fired.unrounded)) == (amount, "元", unrounded)
    assert fired.points is None


def test_amount_rounded_once_not_at_each_step() -> None:
    """At total 60 rounding once gives 103,703.67; rounding the deposit first would give .68."""
    fired = deposit_result("60").outcomes[0]
    assert fired.amount == Decimal("103703.67")
    # Rounding the deposit first: 172,839.46 × 60 / 100 = 103,703.676 → 103,703.68.
    assert fired.amount != Decimal("103703.68")
    assert fired.basis == (("deposit", Decimal("172839.4565")), ("total", Decimal("60.00")))


def test_callers_decimal_context_changes_no_amount() -> None:
    """A caller's coarse decimal context (5 digits, round down) changes no amount."""
    with decimal.localcontext(decimal.Context(prec=5, rounding=decimal.ROUND_DOWN)):
        fired = deposit_result("94.99").outcomes[0]
    assert str(fired.amount) == "164180.20"


BONUS = """\
kpirules: 1
id: bonus
title: 奖金
version: "1"
source: 测试
in_force: {from: 2026-01-01}
weighting: points
MONEY
metrics:
  rate: {label: 满意度, unit: percent}
  bonus_base: {label: 奖金基数, unit: money, in: 元}
categories:
  - id: c
    label: 服务
    weight: 100
    indicators:
      - {id: i, label: 满意度, metric: rate, weight: 100, target: ≥ 90%, scoring: {method: pass_fail}}
outcomes:
  - {id: bonus, kind: reward, label: 奖金, when: total >= 90, amount: bonus_base * 10%}
"""


@pytest.mark.parametrize(
    ("money", "amount", "unit"),
    [
        # 12,345.65 × 10% = 1,234.565: an exact half at the third decimal.
        ("", "1234.57", "元"),  # default: 元, 2 places, half_up
        ("money: {mode: half_even}", "1234.56", "元"),
        ("money: {mode: down}", "1234.56", "元"),
        ("money: {mode: up}", "1234.57", "元"),
        ("money: {places: 0}", "1235", "元"),
        ("money: {places: 4, unit: 人民币元}", "1234.5650", "人民币元"),
    ],
)
def test_money_rule_places_mode_and_unit(money: str, amount: str, unit: str) -> None:
    """The declared places, mode and unit apply to the amount; the defaults are 元/2/half_up."""
    ruleset = kpirules.load("b.yaml", text=BONUS.replace("MONEY", money))
    fired = ruleset.evaluate({"rate": "95%", "bonus_base": "12345.65"}).outcomes[0]
    assert (str(fired.amount), fired.unit) == (amount, unit)


def test_default_money_rule() -> None:
    """A ruleset without money: has 元, 2 places, half_up."""
    ruleset = kpirules.load("b.yaml", text=BONUS.replace("MONEY", ""))
    assert ruleset.money == Money(unit="元", places=2, mode="half_up")


def test_shown_values_are_exact_with_label_and_unit() -> None:
    """show: lists the payment and the deposit, exact, in 元, in the order written."""
    result = deposit_result("77.5")
    assert result.values == (
        ("pooled_payment", "统筹支付数额", Decimal("3456789.13"), "元"),
        ("deposit", "考核预留保证金", Decimal("172839.4565"), "元"),
    )
    assert result.values[1].value == Decimal("172839.4565")


def test_json_outcome_has_amount_and_unit_not_points() -> None:
    """JSON: an outcome carries amount, unit, unrounded and basis; values are listed."""
    data = json.loads(deposit_result("60").to_json())
    assert data["outcomes"] == [
        {
            "id": "deposit_refund",
            "label": "考核保证金按总分返还",
            "kind": "settlement",
            "condition": "total >= 60 and total < 95",
            "amount": "103703.67",
            "unit": "元",
            "unrounded": "103703.673900",
            "basis": {"deposit": "172839.4565", "total": "60.00"},
            "line": 63,
        }
    ]
    assert data["values"] == [
        {"id": "pooled_payment", "label": "统筹支付数额", "value": "3456789.13", "unit": "元"},
        {"id": "deposit", "label": "考核预留保证金", "value": "172839.4565", "unit": "元"},
    ]


def test_json_adjustments_keep_points_and_no_values_without_show() -> None:
    """Adjustments keep points and no amount; a ruleset without show: has no values key."""
    d = kpirules.load(ROOT / "rulesets" / "d-internal-quarterly.yaml")
    rows = [
        ("甲", {**METRICS_D, "archived_major_violations": 1}),
    ]
    data = json.loads(d.evaluate_many(rows)[0].to_json())
    assert data["adjustments"] == [
        {
            "id": "archive_penalty",
            "label": data["adjustments"][0]["label"],
            "kind": "penalty",
            "condition": data["adjustments"][0]["condition"],
            "points": "3",
            "line": data["adjustments"][0]["line"],
        }
    ]
    assert "values" not in data
    bonus = [o for o in data["outcomes"] if o["id"] == "bonus_excellent"]
    assert [(o["amount"], o["unit"]) for o in bonus] == [("3000.00", "元")]


METRICS_D = {
    "medical_cost_actual": "950",
    "medical_cost_budget": "1000",
    "fund_efficiency": "1.133",
    "fund_efficiency_last_year": "1.10",
    "claims_total": "500",
    "claims_on_time": "495",
    "claim_errors": "0",
    "data_errors": "0",
    "satisfaction": "96%",
    "general_violations": "0",
    "major_violations": "0",
    "prior_excellent_quarters": "0",
    "archived_major_violations": "0",
    "bonus_base": "3000",
}


def test_explain_shows_amount_unit_and_computation() -> None:
    """explain names the deposit and the total, the exact product and the rounding."""
    ruleset = kpirules.load(DEPOSIT)
    text = report.explain(ruleset, deposit_result("60"))
    assert "列示：统筹支付数额 3,456,789.13 元\n列示：考核预留保证金 172,839.4565 元\n" in text
    assert (
        "结果：考核保证金按总分返还（种类：结算返还；条件：total >= 60 and total < 95；第 63 行）："
        "金额 103,703.67 元（= 考核预留保证金 172,839.4565 元 × 总分 60.00 / 100"
        " = 103,703.6739 元，按 2 位小数四舍五入）\n"
    ) in text


def test_explain_a_full_refund_names_the_deposit_once() -> None:
    """amount: deposit shows the exact deposit once, then the rounding."""
    ruleset = kpirules.load(DEPOSIT)
    text = report.explain(ruleset, deposit_result("95"))
    assert "：金额 172,839.46 元（= 考核预留保证金 172,839.4565 元，按 2 位小数四舍五入）\n" in text


def test_explain_leaves_out_an_exact_value_equal_to_the_amount() -> None:
    """When rounding changes nothing, the amount is not repeated; money shows to the cent."""
    out, err = io.StringIO(), io.StringIO()
    code = run(["explain", str(DEPOSIT), str(DEPOSIT_DATA), "--entity", "第三医院医保办"], out, err)
    assert (code, err.getvalue()) == (0, "")
    # 2,780,000.00 × 5% = 139,000.0000; × 77.50 / 100 = 107,725.000000 → 107,725.00
    assert (
        "：金额 107,725.00 元（= 考核预留保证金 139,000.00 元 × 总分 77.50 / 100，"
        "按 2 位小数四舍五入）\n"
    ) in out.getvalue()


def test_score_json_from_the_command_line() -> None:
    """kpirules score --format json gives each office's settlement amount in 元."""
    out, err = io.StringIO(), io.StringIO()
    code = run(["score", str(DEPOSIT), str(DEPOSIT_DATA), "--format", "json"], out, err)
    assert code == 0, err.getvalue()
    data = json.loads(out.getvalue())
    amounts = {
        r["entity"]: [(o["id"], o["amount"], o["unit"]) for o in r["outcomes"]] for r in data
    }
    assert amounts == {
        # 96 × 60% + 94 × 40% = 95.2 ≥ 95: the whole 172,839.4565 → 172,839.46
        "第一医院医保办": [("deposit_full_refund", "172839.46", "元")],
        # 172,839.4565 × 94.99 / 100 = 164,180.19972935
        "第二医院医保办": [("deposit_refund", "164180.20", "元")],
        # 139,000 × 77.5 / 100 = 107,725
        "第三医院医保办": [("deposit_refund", "107725.00", "元")],
        # 1,234,567.89 × 5% = 61,728.3945; × 60 / 100 = 37,037.0367 → 37,037.04
        "第四医院医保办": [("deposit_refund", "37037.04", "元")],
        # 58 × 60% + 61 × 40% = 34.8 + 24.4 = 59.2 < 60
        "第五医院医保办": [("deposit_forfeited", "0.00", "元")],
    }


def test_amounts_expectation_compares_the_rounded_amount() -> None:
    """A test case expecting the unrounded 103,703.6739 fails, naming both amounts."""
    ruleset = kpirules.load(DEPOSIT)
    case = next(c for c in ruleset.tests if c.expect.total == Decimal(60))
    wrong = case.expect.__class__(amounts=(("deposit_refund", Decimal("103703.6739")),))
    report_ = run_case(ruleset, type(case)(case.name, case.metrics, wrong, case.line))
    assert report_.differences == (
        "结果规则 deposit_refund 的金额：预期 103703.6739，实际 103703.67",
    )


def test_amount_too_large_to_round_is_refused() -> None:
    """An amount with more digits than the engine's 28 cannot be rounded: a clear message."""
    ruleset = kpirules.load("b.yaml", text=BONUS.replace("MONEY", "money: {places: 4}"))
    with pytest.raises(kpirules.EvaluationError) as info:
        ruleset.evaluate({"rate": "95%", "bonus_base": "1" + "0" * 26})
    assert str(info.value) == (
        "结果规则“奖金”的金额 10000000000000000000000000.0 过大，无法按金额规则取舍"
    )


def test_diff_names_a_changed_money_rule_and_shown_values(tmp_path: Path) -> None:
    """kpirules diff says when the money rule or the shown values change."""
    text = DEPOSIT.read_text("utf-8")
    changed = text.replace(
        "money: {unit: 元, places: 2, mode: half_up}", "money: {unit: 元, places: 0, mode: down}"
    ).replace("show: [pooled_payment, deposit]", "show: [deposit]")
    path = tmp_path / "deposit-2027.yaml"
    path.write_text(changed, "utf-8")
    changes = compare(kpirules.load(DEPOSIT), kpirules.load(path))
    assert [c.text for c in changes] == [
        "列示：pooled_payment、deposit → deposit",
        "金额：元，2 位 四舍五入 → 元，0 位 舍去",
    ]


def test_outcome_without_amount_has_neither_amount_nor_unit() -> None:
    """荣誉证书 (honour) carries no amount and no unit; its points stay None too."""
    d = kpirules.load(ROOT / "rulesets" / "d-internal-quarterly.yaml")
    result = d.evaluate_many([("甲", METRICS_D)])[0]
    honour = next(o for o in result.outcomes if o.id == "honour_certificate")
    assert (honour.points, honour.amount, honour.unit, honour.unrounded, honour.basis) == (
        None,
        None,
        None,
        None,
        (),
    )


def test_missing_shown_value_is_none_and_explained() -> None:
    """Without the payment, a forfeited deposit still settles 0.00 元; the values say 缺数据."""
    ruleset = kpirules.load(DEPOSIT)
    result = ruleset.evaluate({"work_quality": "50", "service_rating": "50"})
    assert result.values == (
        ("pooled_payment", "统筹支付数额", None, "元"),
        ("deposit", "考核预留保证金", None, "元"),
    )
    assert str(result.outcomes[0].amount) == "0.00"
    assert "列示：统筹支付数额 缺数据\n" in report.explain(ruleset, result)


def test_missing_payment_for_a_refund_is_an_error() -> None:
    """A refund needs the deposit: without the payment, the error names the amount and metric."""
    ruleset = kpirules.load(DEPOSIT)
    with pytest.raises(kpirules.EvaluationError) as info:
        ruleset.evaluate({"work_quality": "80", "service_rating": "80"}, entity="甲")
    assert str(info.value) == (
        "甲: deposit: 结果规则“考核保证金按总分返还”的金额用到的指标 考核预留保证金 缺少数据"
    )


@settings(max_examples=60, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=10**12),
    rating=st.integers(min_value=6000, max_value=9499),
)
def test_refund_is_the_exact_product_rounded_once(cents: int, rating: int) -> None:
    """For any payment and total in [60, 95): amount = deposit × total / 100 rounded once."""
    payment = Decimal(cents).scaleb(-2)
    total = Decimal(rating).scaleb(-2)
    ruleset = kpirules.load(DEPOSIT)
    result = ruleset.evaluate(
        {"pooled_payment": payment, "work_quality": total, "service_rating": total}
    )
    fired = result.outcomes[0]
    exact = payment * Decimal("0.05") * total / 100
    assert fired.unrounded == exact
    assert fired.amount == exact.quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
    assert abs(fired.amount - exact) <= Decimal("0.005")


def test_deposit_example_passes_its_own_cases() -> None:
    """The example ruleset's five hand-computed cases (95, 94.99, 60, 59.99, 77.5) pass."""
    reports = run_tests(kpirules.load(DEPOSIT))
    assert [(r.name, r.differences) for r in reports] == [
        ("总分 95，全额返还", ()),
        ("总分 94.99，按总分返还", ()),
        ("总分 60，按总分返还（只取舍一次）", ()),
        ("总分 59.99，不予返还", ()),
        ("总分 77.5，按总分返还", ()),
    ]


def _score(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = run(["score", str(DEPOSIT), str(DEPOSIT_DATA), *argv], out, err)
    assert code == 0, err.getvalue()
    return out.getvalue()


# The five offices of examples/deposit-refund-2026.csv, by hand (总分 = 工作质量 × 60% +
# 服务评价 × 40%; 保证金 = 统筹支付数额 × 5%, exact; the amount rounded once to the fen):
#   第一 96, 94 → 57.6 + 37.6 = 95.2 ≥ 95: full refund 172,839.4565 → 172,839.46
#   第二 94.99 → 94.99: 172,839.4565 × 94.99 / 100 = 164,180.19972935 → 164,180.20
#   第三 80, 73.75 → 77.5: 2,780,000 × 5% = 139,000 × 77.5 / 100 = 107,725.00
#   第四 60 → 60: 1,234,567.89 × 5% = 61,728.3945 × 60 / 100 = 37,037.0367 → 37,037.04
#   第五 58, 61 → 34.8 + 24.4 = 59.2 < 60: forfeited, 0.00 (保证金 49,382.716 → 49,382.72)
DEPOSIT_TABLE = """\
考核预留保证金返还（示例）（版本 2026.1；总分保留 2 位小数，四舍五入）
排名  对象            年度考核（100分）  各项合计  加减分  一票否决  总分   等级    奖惩结果              考核保证金全额返还（元）  考核保证金按总分返还（元）  考核保证金不予返还（元）  统筹支付数额（元）  考核预留保证金（元）
----  --------------  -----------------  --------  ------  --------  -----  ------  --------------------  ------------------------  --------------------------  ------------------------  ------------------  --------------------
   1  第一医院医保办              95.20     95.20    0.00  —         95.20  优秀    考核保证金全额返还                  172,839.46                           —                         —        3,456,789.13            172,839.46
   2  第二医院医保办              94.99     94.99    0.00  —         94.99  优秀    考核保证金按总分返还                         —                  164,180.20                         —        3,456,789.13            172,839.46
   3  第三医院医保办              77.50     77.50    0.00  —         77.50  合格    考核保证金按总分返还                         —                  107,725.00                         —        2,780,000.00            139,000.00
   4  第四医院医保办              60.00     60.00    0.00  —         60.00  合格    考核保证金按总分返还                         —                   37,037.04                         —        1,234,567.89             61,728.39
   5  第五医院医保办              59.20     59.20    0.00  —         59.20  不合格  考核保证金不予返还                           —                           —                      0.00          987,654.32             49,382.72
"""


def test_table_has_a_column_per_amount_and_shown_value() -> None:
    """The terminal table gives each amount its own column in 元 with thousands separators
    (empty where the outcome did not fire), then the shown values at the money places."""
    assert _score() == DEPOSIT_TABLE


def test_csv_amounts_are_plain_numbers_with_ids() -> None:
    """CSV: amounts and shown values as plain numbers at 2 places, headed by their ids."""
    lines = _score("--format", "csv", "--headers", "id").splitlines()
    assert lines[0] == (
        "rank,entity,appraisal,raw_total,adjustment,vetoes,total,grade,outcomes,"
        "deposit_full_refund,deposit_refund,deposit_forfeited,pooled_payment,deposit,"
        "quality_score,service_score"
    )
    assert [line.split(",")[9:14] for line in lines[1:]] == [
        ["172839.46", "", "", "3456789.13", "172839.46"],
        ["", "164180.20", "", "3456789.13", "172839.46"],
        ["", "107725.00", "", "2780000.00", "139000.00"],
        ["", "37037.04", "", "1234567.89", "61728.39"],
        ["", "", "0.00", "987654.32", "49382.72"],
    ]


def test_exact_csv_shows_the_exact_shown_values() -> None:
    """--exact: the deposit 61,728.3945 keeps every digit; an amount is its rounded value."""
    lines = _score("--format", "csv", "--exact").splitlines()
    assert lines[4].split(",")[9:14] == ["", "37037.04", "", "1234567.89", "61728.3945"]


def test_workbook_stores_amounts_as_money(tmp_path: Path) -> None:
    """XLSX 汇总: amounts and money values are numbers with a #,##0.00 format; 精确值 has the
    exact shown values and every amount before rounding."""
    target = tmp_path / "保证金.xlsx"
    _score("--output", str(target))
    book = openpyxl.load_workbook(target)
    ws = book["汇总"]
    assert [c.value for c in ws[8]][9:] == [
        "考核保证金全额返还（元）",
        "考核保证金按总分返还（元）",
        "考核保证金不予返还（元）",
        "统筹支付数额（元）",
        "考核预留保证金（元）",
    ]
    rows = [[c.value for c in ws[n]][9:] for n in range(9, 14)]
    assert rows == [
        [172839.46, None, None, 3456789.13, 172839.46],
        [None, 164180.2, None, 3456789.13, 172839.46],
        [None, 107725, None, 2780000, 139000],
        [None, 37037.04, None, 1234567.89, 61728.39],
        [None, None, 0, 987654.32, 49382.72],
    ]
    assert {(ws.cell(10, c).data_type, ws.cell(10, c).number_format) for c in (11, 13, 14)} == {
        ("n", "#,##0.00")
    }
    exact = book["精确值"]
    heads = [c.value for c in exact[1]]
    assert heads[9:14] == [c.value for c in ws[8]][9:]
    assert heads[16:] == [
        "考核保证金全额返还（元，取舍前）",
        "考核保证金按总分返还（元，取舍前）",
        "考核保证金不予返还（元，取舍前）",
    ]
    second = [c.value for c in exact[3]]
    assert second[10] == "164180.20"
    assert second[13] == "172839.4565"
    assert second[16:] == [None, "164180.19972935", None]
    assert [c.value for c in exact[6]][16:] == [None, None, "0"]


def test_amount_display_keeps_a_half_even_money_rule() -> None:
    """Money half-even at 2 places, scores half-up at 1: 12,345.65 × 10% = 1,234.565 is
    stored as 1,234.56 and shown so everywhere (not 1,234.6 nor 1,234.57)."""
    money = "money: {mode: half_even}\nrounding: {places: 1, mode: half_up, at: total}"
    ruleset = kpirules.load("b.yaml", text=BONUS.replace("MONEY", money))
    results = ruleset.evaluate_many([("甲", {"rate": "95%", "bonus_base": "12345.65"})])
    assert results[0].outcomes[0].amount == Decimal("1234.56")
    assert report.table(ruleset, results).splitlines()[3].split()[-1] == "1,234.56"
    assert report.to_csv(ruleset, results).splitlines()[1].split(",")[-2] == "1234.56"
    ws = openpyxl.load_workbook(io.BytesIO(workbook.to_xlsx(ruleset, results)))["汇总"]
    assert [c.value for c in ws[8]][-1] == "奖金（元）"
    cell = ws.cell(9, ws.max_column)
    assert (cell.value, cell.number_format) == (1234.56, "#,##0.00")


def test_money_places_zero_gives_a_whole_yuan_format() -> None:
    """Money at 0 places: 1,234.565 → 1,235 元, formatted #,##0 in the workbook."""
    ruleset = kpirules.load("b.yaml", text=BONUS.replace("MONEY", "money: {places: 0}"))
    results = ruleset.evaluate_many([("甲", {"rate": "95%", "bonus_base": "12345.65"})])
    ws = openpyxl.load_workbook(io.BytesIO(workbook.to_xlsx(ruleset, results)))["汇总"]
    cell = ws.cell(9, ws.max_column)
    assert (cell.value, cell.number_format) == (1235, "#,##0")
    assert report.table(ruleset, results).splitlines()[3].split()[-1] == "1,235"
