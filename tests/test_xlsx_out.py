"""Excel workbooks written by `kpirules score --output x.xlsx`, opened again with openpyxl:
sheets, headers, hand-computed totals, number formats, frozen panes, charts, exact values,
neutralised text cells and identical bytes from run to run."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import attrs
import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

import kpirules
from kpirules import workbook
from kpirules.cli import run
from kpirules.inputs import read_metrics
from kpirules.report import width

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"

#: A small ruleset with an adjustment, a veto and half-even rounding to one place.
SMALL = (ROOT / "tests" / "fixtures" / "outputs-small.yaml").read_text("utf-8")


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("xlsx") / "结果.xlsx"
    code, out, err = call(
        "score", str(RULESET), str(EXAMPLE), "--output", str(target), "--period", "2026"
    )
    assert (code, out, err) == (0, "", f"已写入 {target}（4 个对象）\n")
    return target


@pytest.fixture(scope="module")
def book(written: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(written)


def sheet(book: openpyxl.Workbook, name: str) -> Worksheet:
    ws = book[name]
    assert isinstance(ws, Worksheet)
    return ws


def row(ws: Worksheet, n: int) -> list[object]:
    return [c.value for c in ws[n]]


def test_sheets_and_title_block(book: openpyxl.Workbook) -> None:
    """Five sheets; the summary opens with title, period, ruleset id, version, fingerprint and rounding."""
    assert book.sheetnames == ["汇总", "各项得分", "计分说明", "图表", "精确值"]
    ws = sheet(book, "汇总")
    ruleset = kpirules.load(RULESET)
    assert [ws.cell(i, 1).value for i in range(1, 8)] == [
        "医院医保办绩效考核细则（年度，类别内按份额分配）",
        "考核期间：2026",
        "规则集：a-office-annual　版本 2026.1",
        f"规则集指纹：{ruleset.fingerprint}",
        "取舍规则：总分保留 2 位小数，四舍五入（表中数字是按此规则取舍后的值，精确值见“精确值”工作表）",
        "考核对象：4 个",
        None,
    ]


def test_summary_by_rank_with_hand_computed_totals(book: openpyxl.Workbook) -> None:
    """汇总: Chinese headers, rows by rank, totals 97.12, 97.00, 93.20 (README), 83.47 stored as numbers."""
    ws = sheet(book, "汇总")
    assert row(ws, 8) == [
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
    assert [ws.cell(r, 2).value for r in range(9, 13)] == [
        "中医院医保办",
        "第一医院医保办",
        "第二医院医保办",
        "第三医院医保办",
    ]
    assert [ws.cell(r, 1).value for r in range(9, 13)] == [1, 2, 3, 4]
    totals = [ws.cell(r, 10) for r in range(9, 13)]
    assert [Decimal(str(c.value)) for c in totals] == [
        Decimal("97.12"),
        Decimal("97.00"),
        Decimal("93.20"),
        Decimal("83.47"),
    ]
    assert {c.data_type for c in totals} == {"n"}
    assert {c.number_format for c in totals} == {"0.00"}
    # 第二医院医保办: 资金管理 19.70 + 19.80, 服务质量 15.933… stored as the rounded 15.93
    assert [ws.cell(11, c).value for c in (3, 5, 11, 12)] == [
        39.5,
        15.93,
        "优秀",
        "综合评分排名靠前，予以表彰",
    ]
    assert ws.cell(12, 12).value is None  # 第三医院医保办 earns no outcome
    assert ws.cell(9, 1).number_format == "0"
    assert ws.max_row == 12


def test_frozen_headers_and_widths(book: openpyxl.Workbook) -> None:
    """Header rows and the rank and entity columns stay in view; widths count Chinese characters double."""
    assert sheet(book, "汇总").freeze_panes == "C9"
    assert sheet(book, "各项得分").freeze_panes == "C2"
    assert sheet(book, "计分说明").freeze_panes == "B2"
    assert sheet(book, "精确值").freeze_panes == "C2"
    ws = sheet(book, "汇总")
    assert ws.column_dimensions["B"].width == width("第一医院医保办") + 2 == 16
    assert ws.column_dimensions["L"].width == width("综合评分排名靠前，予以表彰") + 2 == 28
    assert ws.cell(8, 1).font.bold


def test_every_sheet_prints_a4_landscape_one_page_wide(book: openpyxl.Workbook) -> None:
    """A director prints the workbook: A4 landscape, fitted to one page wide, header repeated."""
    for title, header in (("汇总", "$8:$8"), ("各项得分", "$1:$1"), ("计分说明", "$1:$1")):
        ws = sheet(book, title)
        assert (ws.page_setup.paperSize, ws.page_setup.orientation) == (9, "landscape")
        # fitToWidth absent means 1 in the file format (XlsxWriter leaves the default out).
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == header
    charts = sheet(book, "图表")
    assert charts.page_setup.orientation == "landscape"


def test_item_scores_and_explanations(book: openpyxl.Workbook) -> None:
    """各项得分 holds every indicator; 计分说明 every explanation sentence (4 entities × 9 indicators)."""
    items = sheet(book, "各项得分")
    assert row(items, 1)[:3] == ["排名", "对象", "医疗保险基金收付准确性（20分）"]
    assert row(items, 4)[:4] == [3, "第二医院医保办", 19.7, 19.8]
    assert items.cell(4, 3).number_format == "0.00"
    explained = sheet(book, "计分说明")
    assert row(explained, 1) == [
        "对象",
        "类别",
        "指标",
        "目标",
        "满分",
        "得分",
        "状态",
        "计分说明",
        "规则集行号",
    ]
    assert explained.max_row == 1 + 4 * 9
    sentences = [r[7] for r in explained.iter_rows(min_row=2, values_only=True)]
    assert (
        "参保人员满意度 92.00%，落在区间 90.00%–95.00%（6–10分），按区间线性计分，得 7.60分"
        in sentences
    )


def test_charts_and_their_ranges(book: openpyxl.Workbook) -> None:
    """图表: totals per entity drawn from 汇总, grade counts and score rates from small tables beside the charts."""
    ws = sheet(book, "图表")
    charts = ws._charts
    assert [c.title.tx.rich.p[0].r[0].t for c in charts] == [
        "各对象总分",
        "等级分布",
        "各指标得分率",
    ]
    refs = [
        (c.series[0].val.numRef.f, c.series[0].cat.strRef.f, c.series[0].tx.strRef.f)
        for c in charts
    ]
    assert refs == [
        ("'汇总'!$J$9:$J$12", "'汇总'!$B$9:$B$12", "'汇总'!J8"),
        ("'图表'!$B$2:$B$5", "'图表'!$A$2:$A$5", "'图表'!B1"),
        ("'图表'!$J$2:$J$10", "'图表'!$D$2:$D$10", "'图表'!J1"),
    ]
    assert [row(ws, n)[:2] for n in range(1, 6)] == [
        ["等级", "人数"],
        ["优秀", 3],
        ["良好", 1],
        ["合格", 0],
        ["不合格", 0],
    ]
    # 基金收付准确性: (19.85 + 20 + 19.70 + 19.30) / (4 × 20) = 0.985625 → 0.9856 (四舍五入)
    assert row(ws, 2)[3:11] == [
        "医疗保险基金收付准确性",
        "资金管理",
        20,
        1,
        3,
        0,
        0.9856,
        "0.985625",
    ]
    assert ws.cell(2, 10).number_format == "0.00%"


def test_exact_values_sheet(book: openpyxl.Workbook) -> None:
    """精确值 keeps every number as exact decimal text, beside the rounded numbers of 汇总."""
    ws = sheet(book, "精确值")
    assert row(ws, 1)[:2] == ["排名", "对象"]
    assert row(ws, 1)[-1] == "保密工作（5分）"
    third = row(ws, 4)
    assert third[:4] == [3, "第二医院医保办", "39.500", "28.41666666666666666666666667"]
    assert third[9] == "93.20"
    assert ws.cell(4, 4).data_type == "s"


def test_rounded_by_the_rulesets_rule_not_excels() -> None:
    """Half-even to one place: 82.25 is stored as 82.2 (Excel would show 82.3), the exact 82.2500 kept as text."""
    ruleset = kpirules.load("small.yaml", text=SMALL)
    results = ruleset.evaluate_many([("甲", {"q": "82.25", "v": 0, "late": 1})])
    book = openpyxl.load_workbook(io.BytesIO(workbook.to_xlsx(ruleset, results)))
    ws = sheet(book, "汇总")
    assert row(ws, 8) == [
        "排名",
        "对象",
        "工作（100分）",
        "各项合计",
        "加减分",
        "一票否决",
        "总分",
        "等级",
        "奖惩结果",
    ]
    assert row(ws, 9) == [1, "甲", 82.2, 82.2, -2, None, 80.2, "好", "表扬"]
    assert ws.cell(9, 3).number_format == "0.0"
    assert ws.cell(9, 5).data_type == "n"
    assert row(sheet(book, "精确值"), 2)[2:5] == ["82.2500", "82.2500", "-2.0000"]
    assert ws.cell(2, 1).value == "考核期间：未注明"


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_xlsx_neutralises_formula_prefix(prefix: str) -> None:
    """A name starting with a formula character is stored as text with a leading quote, never as a formula."""
    ruleset = kpirules.load("small.yaml", text=SMALL)
    name = prefix + 'HYPERLINK("http://x","点我")'
    scored = ruleset.evaluate_many([("甲", {"q": "90", "v": 0, "late": 1})])
    # Input reading refuses tabs and carriage returns in names; the writer must not rely on it.
    results = [attrs.evolve(r, entity=name) for r in scored]
    data = workbook.to_xlsx(ruleset, results)
    book = openpyxl.load_workbook(io.BytesIO(data))
    for title, column in (("汇总", 2), ("各项得分", 2), ("计分说明", 1), ("精确值", 2)):
        ws = sheet(book, title)
        first = 9 if title == "汇总" else 2
        cell = ws.cell(first, column)
        # XML reads a carriage return back as a line feed, so the writer stores one
        assert (cell.value, cell.data_type) == ("'" + name.replace("\r", "\n"), "s")
    assert sheet(book, "汇总").cell(9, 5).value == -2  # a negative number stays a number
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for part in archive.namelist():
            if part.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(part)


def test_text_starting_with_equals_is_never_a_formula() -> None:
    """Ruleset labels starting with = are written as text (openpyxl would otherwise make them formulas)."""
    text = SMALL.replace("label: 表扬", "label: \"=cmd|' /c calc'!A1\"")
    ruleset = kpirules.load("small.yaml", text=text)
    results = ruleset.evaluate_many([("甲", {"q": "90", "v": 0, "late": 0})])
    ws = sheet(openpyxl.load_workbook(io.BytesIO(workbook.to_xlsx(ruleset, results))), "汇总")
    assert (ws.cell(9, 9).value, ws.cell(9, 9).data_type) == ("'=cmd|' /c calc'!A1", "s")


def test_identical_bytes_and_fixed_properties(written: Path, tmp_path: Path) -> None:
    """Two runs give identical bytes; the stored times are FIXED_TIME unless a time is given."""
    again = tmp_path / "again.xlsx"
    assert (
        call("score", str(RULESET), str(EXAMPLE), "--output", str(again), "--period", "2026")[0]
        == 0
    )
    assert again.read_bytes() == written.read_bytes()
    book = openpyxl.load_workbook(written)
    assert book.properties.created == workbook.FIXED_TIME
    assert book.properties.modified == workbook.FIXED_TIME
    assert book.properties.creator == "kpirules"
    ruleset = kpirules.load(RULESET)
    results = ruleset.evaluate_many(read_metrics(EXAMPLE, ruleset))
    when = dt.datetime(2026, 12, 1, 8, 30)
    stamped = openpyxl.load_workbook(io.BytesIO(workbook.to_xlsx(ruleset, results, created=when)))
    assert stamped.properties.created == when
    assert workbook.to_xlsx(ruleset, results, created=when) == workbook.to_xlsx(
        ruleset, results, created=when
    )


def test_notes_in_the_title_block() -> None:
    """Extra title lines (e.g. an audit checkpoint) go under the title block; the table moves down."""
    ruleset = kpirules.load("small.yaml", text=SMALL)
    results = ruleset.evaluate_many([("甲", {"q": "90", "v": 0, "late": 0})])
    data = workbook.to_xlsx(ruleset, results, notes=["审计记录：第 1–1 条", "=不是公式"])
    ws = sheet(openpyxl.load_workbook(io.BytesIO(data)), "汇总")
    assert [ws.cell(r, 1).value for r in (7, 8, 9, 10)] == [
        "审计记录：第 1–1 条",
        "'=不是公式",
        None,
        "排名",
    ]
    assert ws.freeze_panes == "C11"


def test_ids_and_input_order(tmp_path: Path) -> None:
    """--headers id --sort input: id headers and the metrics file's order in every sheet."""
    target = tmp_path / "ids.xlsx"
    code, _, _ = call(
        "score", str(RULESET), str(EXAMPLE), "--output", str(target), "--headers", "id",
        "--sort", "input",
    )  # fmt: skip
    assert code == 0
    book = openpyxl.load_workbook(target)
    ws = sheet(book, "汇总")
    assert row(ws, 8)[:3] == ["rank", "entity", "fund"]
    assert [ws.cell(r, 2).value for r in range(9, 13)] == [
        "第一医院医保办",
        "第二医院医保办",
        "第三医院医保办",
        "中医院医保办",
    ]
    assert sheet(book, "各项得分").cell(1, 3).value == "payment_accuracy_score"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.xlsx"]


def test_too_many_rows_for_a_sheet_is_refused_before_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a sheet limit of 36 rows, 4 offices × 9 indicators need 37 rows on 计分说明: the
    command says so and exits 2, and neither the workbook nor the ledger is written."""
    target = tmp_path / "结果.xlsx"
    ledger = tmp_path / "ledger.db"
    monkeypatch.setattr(workbook, "MAX_ROWS", 36)
    argv = ("score", str(RULESET), str(EXAMPLE), "--output", str(target), "--record", str(ledger))
    assert call(*argv) == (
        2,
        "",
        "kpirules: 结果放不进 Excel 工作簿：一个工作表最多 36 行，“计分说明”需要 37 行"
        "（4 个对象 × 9 项指标，加表头）；请改用 --output 结果.csv\n",
    )
    assert sorted(tmp_path.iterdir()) == []
    monkeypatch.setattr(workbook, "MAX_ROWS", 37)
    assert call(*argv)[0] == 0
    # One indicator (the small ruleset): 汇总 is the longer sheet, six title lines, a blank
    # line, the header and 4 rows = 12 (13 with a note).
    small = kpirules.load("small.yaml", text=SMALL)
    results = small.evaluate_many(
        [(name, {"q": "90", "v": 0, "late": 0}) for name in ("甲", "乙", "丙", "丁")]
    )
    monkeypatch.setattr(workbook, "MAX_ROWS", 12)
    assert workbook.too_large(small, results) is None
    assert workbook.too_large(small, results, notes=1) == (
        "结果放不进 Excel 工作簿：一个工作表最多 12 行，“汇总”需要 13 行"
        "（4 个对象，加标题和表头）；请改用 --output 结果.csv"
    )
