"""Excel workbooks as metrics files, and the data-entry template: exact values, located problems."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

import kpirules
from kpirules.cli import run
from kpirules.inputs import InputError, Locations, SheetError, read_metrics, read_records

#: These tests pin the earlier message wording (``--lang en``); the Chinese form is
#: checked in test_places.py.
pytestmark = pytest.mark.usefixtures("english_text")

ROOT = Path(__file__).resolve().parent.parent
A_OFFICE = ROOT / "rulesets" / "a-office-annual.yaml"
COST = ROOT / "rulesets" / "b-position-cost-management.yaml"
EXAMPLES = ROOT / "examples"

#: A small ruleset: an entity column of its own, a derived rate, a percentage, a rating with
#: four named assessor columns (trimmed mean, at least three), and a yes/no item.
RULESET_TEXT = """\
kpirules: 1
id: t-xlsx
title: 工作簿测试
version: "1"
source: 测试用规则
in_force: {from: 2026-01-01}
total_points: 100
weighting: points
data: {entity_column: 医院名称}
metrics:
  cases: {label: 办件数, unit: count, in: 件, min: 1}
  errors: {label: 差错件数, unit: count, in: 件}
  accuracy: {label: 办件准确率, unit: percent, formula: 1 - errors / cases}
  satisfaction: {label: 满意度, unit: percent}
  quality:
    label: 质量评分
    unit: rating
    min: 0
    max: 100
    ratings: {combine: trimmed_mean, min_raters: 3}
    columns: [评委甲, 评委乙, 评委丙, 评委丁]
  safe: {label: 安全达标, unit: yes_no}
categories:
  - id: all
    label: 全部
    weight: 100
    indicators:
      - {id: acc, label: 准确, metric: accuracy, weight: 30, target: "≥ 100%", scoring: {method: proportional}}
      - {id: sat, label: 满意, metric: satisfaction, weight: 30, target: "≥ 100%", scoring: {method: proportional}}
      - {id: q, label: 质量, metric: quality, weight: 20, scoring: {method: scale}}
      - {id: s, label: 安全, metric: safe, weight: 20, target: 是, scoring: {method: pass_fail}}
"""

HEADER = [
    "医院名称",
    "办件数",
    "差错件数",
    "满意度",
    "评委甲",
    "评委乙",
    "评委丙",
    "评委丁",
    "安全达标",
]
# 甲: 准确率 1 - 3/200 = 98.5% → 30 × 0.985 = 29.55; 满意度 95% → 28.5; 评分 70,80,85,90
#     去掉最高最低 → (80+85)/2 = 82.5 → 16.5; 是 → 20. 总分 94.55.
# 乙: 1 - 10/400 = 97.5% → 29.25; 88.5% → 26.55; 60,75,90 → 75 → 15; 否 → 0. 总分 70.80.
ROWS: list[list[object]] = [
    ["甲医院", 200, 3, 0.95, 80, 90, 85, 70, True],
    ["乙医院", 400, 10, 0.885, 60, 75, 90, None, "否"],
]


@pytest.fixture(scope="module")
def ruleset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ruleset") / "t-xlsx.yaml"
    path.write_text(RULESET_TEXT, "utf-8")
    return path


@pytest.fixture(scope="module")
def ruleset(ruleset_file: Path) -> kpirules.LoadedRuleset:
    return kpirules.load(ruleset_file)


def book(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    sheet: str = "考核数据",
    title: str | None = "2026 年度考核数据",
    percent: Sequence[str] = (),
    merge: Sequence[str] = (),
    first: str | None = None,
) -> Path:
    """Save a workbook: an optional title row (merged across), then ``rows``."""
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    if first is not None:
        ws.title = first
        ws["A1"] = "这张表只是说明，没有数据"
        ws = wb.create_sheet(sheet)
    else:
        ws.title = sheet
    if title is not None:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for row in rows:
        ws.append(list(row))
    for coord in percent:
        ws[coord].number_format = "0.0%"
    for ref in merge:
        ws.merge_cells(ref)
    wb.save(path)
    return path


def standard(path: Path, rows: Sequence[Sequence[object]] = ROWS) -> Path:
    """The two hospitals with a title row, 满意度 formatted as percent."""
    return book(path, [HEADER, *rows], percent=["D3", "D4"])


def totals(ruleset: kpirules.LoadedRuleset, path: Path, **kwargs: object) -> list[tuple[str, str]]:
    rows = read_metrics(path, ruleset, **kwargs)  # type: ignore[arg-type]
    return [(r.entity, str(r.total)) for r in ruleset.evaluate_many(rows)]


def problems(ruleset: kpirules.Ruleset, path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as info:
        read_metrics(path, ruleset, **kwargs)  # type: ignore[arg-type]
    return [str(p).replace(str(path), path.name) for p in info.value.problems]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_title_row_entity_column_percent_and_assessor_columns(
    tmp_path: Path, ruleset: kpirules.Ruleset
) -> None:
    """A title row is skipped; 医院名称 (declared), percent cells and named assessors score exactly."""
    path = standard(tmp_path / "data.xlsx")
    assert totals(ruleset, path) == [("甲医院", "94.55"), ("乙医院", "70.80")]
    values = dict(read_metrics(path, ruleset))
    assert values["甲医院"]["satisfaction"] == Decimal("0.95")
    assert values["乙医院"]["quality"] == (Decimal(60), Decimal(75), Decimal(90))
    assert values["甲医院"]["safe"] is True


def test_number_cells_are_exact_decimals(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """0.885 stays 0.885 (its shortest text), never the binary float 0.88500000000000000888."""
    path = standard(tmp_path / "data.xlsx")
    assert dict(read_metrics(path, ruleset))["乙医院"]["satisfaction"] == Decimal("0.885")


def test_percent_cell_above_one_and_plain_fraction(
    tmp_path: Path, ruleset: kpirules.Ruleset
) -> None:
    """A percent cell showing 120% is refused as 120%; an unformatted 95 is 9500%."""
    rows = [
        ["甲医院", 200, 3, 1.2, 80, 90, 85, 70, "是"],
        ["乙医院", 400, 10, 95, 60, 75, 90, None, "否"],
    ]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows], percent=["D3"])
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!D3: error: 满意度: 指标 “满意度” 的值 120% 超出取值范围 0% 到 100%",
        "data.xlsx!考核数据!D4: error: 满意度: 指标 “满意度” 是百分比，95 会被当作 9500%：写成 95% 或 0.95",
    ]


def test_text_cells_read_like_csv(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """Text cells (95%, 200件, 是) go through the same conversion as CSV cells."""
    rows = [
        ["甲医院", "200件", "3", "95%", "80", "90", "85", "70", "是"],
        ["乙医院", "400", "10", "88.5%", "60", "75", "90", "", "否"],
    ]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows])
    assert totals(ruleset, path) == [("甲医院", "94.55"), ("乙医院", "70.80")]


def _cache(path: Path, formula: str, value: str) -> None:
    """Give a formula the result Excel would have saved with it (openpyxl saves none)."""
    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    text = parts[sheet].decode()
    assert f"<f>{formula}</f><v />" in text
    parts[sheet] = text.replace(
        f"<f>{formula}</f><v />", f"<f>{formula}</f><v>{value}</v>"
    ).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_formula_with_saved_result_is_read(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """A formula cell gives the result saved with it."""
    rows = [["甲医院", "=150+50", 3, 0.95, 80, 90, 85, 70, "是"], ROWS[1]]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows], percent=["D3", "D4"])
    _cache(path, "150+50", "200")
    assert totals(ruleset, path) == [("甲医院", "94.55"), ("乙医院", "70.80")]


def test_formula_without_saved_result_is_refused(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """A formula saved without a result (written by a program) names its cell."""
    rows = [["甲医院", "=150+50", 3, 0.95, 80, 90, 85, 70, "是"], ROWS[1]]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows])
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!B3: error: 办件数: 公式没有计算结果：在 Excel 中打开并保存一次",
    ]


def test_error_dates_and_booleans_refused(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """#DIV/0!, #N/A, a date and TRUE where numbers belong: each named by its cell."""
    rows = [
        ["甲医院", "#DIV/0!", 3, dt.datetime(2026, 3, 1), 80, 90, 85, 70, "是"],
        ["乙医院", 400, "#N/A", 0.885, True, 75, 90, None, "否"],
    ]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows])
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!B3: error: 办件数: 单元格是错误值 #DIV/0!：修正公式或直接填写数值",
        "data.xlsx!考核数据!D3: error: 满意度: 指标 “满意度” 要填数值，单元格却是日期 2026-03-01（把单元格格式设为“常规”或“数值”后重新填写）",
        "data.xlsx!考核数据!C4: error: 差错件数: 单元格是错误值 #N/A：修正公式或直接填写数值",
        "data.xlsx!考核数据!E4: error: 评委甲: 指标 “质量评分” 要填数值，单元格却是逻辑值 TRUE",
    ]


def test_merged_entity_cell_is_an_error(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """An entity cell merged over two rows is refused at the second row, not filled down."""
    rows = [ROWS[0], [None, *ROWS[1][1:]]]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows], merge=["A3:A4"])
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!A4: error: 医院名称: 编号单元格属于合并区域 A3:A4：每个对象占一行（取消合并，并在每一行填写编号）",
    ]


def test_merged_value_cell_is_an_error(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """A value merged over two rows would silently be one hospital's only: refused."""
    rows = [ROWS[0], [*ROWS[1][:3], None, *ROWS[1][4:]]]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows], merge=["D3:D4"])
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!D4: error: 满意度: 单元格属于合并区域 D3:D4：每格只填一个值",
    ]


def test_first_matching_sheet_and_named_sheet(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """The first sheet whose header fits is read; --sheet names one; a missing one lists all."""
    path = book(tmp_path / "data.xlsx", [HEADER, *ROWS], first="说明")
    locations = Locations()
    assert len(read_metrics(path, ruleset, locations=locations)) == 2
    assert locations.sheet == "考核数据"
    assert totals(ruleset, path, sheet="考核数据")[0] == ("甲医院", "94.55")
    with pytest.raises(SheetError) as info:
        read_metrics(path, ruleset, sheet="Sheet9")
    assert str(info.value) == f"工作簿 {path} 中没有工作表 “Sheet9”（有：说明、考核数据）"


def test_named_sheet_without_header(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """A named sheet without a fitting header says what is missing, at its first row."""
    path = book(tmp_path / "data.xlsx", [HEADER, *ROWS], first="说明")
    assert problems(ruleset, path, sheet="说明") == [
        "data.xlsx!说明!A1: error: $: 大部分列（1/1）不是规则集 t-xlsx 的指标：这份数据可能属于别的规则集",
        "data.xlsx!说明!A1: error: $: 缺少编号列：表头要有一列名为 entity、编号、对象、科室、部门、单位、姓名、医院名称 之一",
        "data.xlsx!说明!A1: error: 这张表只是说明，没有数据: 规则集中没有指标 “这张表只是说明，没有数据”",
    ]


def test_two_entity_columns(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """科室 and 医院名称 in one header: an error naming both."""
    rows = [[*HEADER, "科室"], [*ROWS[0], "医保办"]]
    path = book(tmp_path / "data.xlsx", rows)
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!J2: error: 科室: 表头中有 2 个编号列：“医院名称”（第 1 列）、“科室”（第 10 列）：只能有一个（把其中一列改名或删除）",
    ]


def test_too_few_ratings(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """Two ratings where three are needed: refused at the first assessor cell."""
    rows = [
        ["甲医院", 200, 3, 0.95, 80, None, 85, None, "是"],
        ["乙医院", 400, 10, 0.885, None, None, None, None, "否"],
    ]
    path = book(tmp_path / "data.xlsx", [HEADER, *rows])
    assert problems(ruleset, path) == [
        "data.xlsx!考核数据!E3: error: 评委甲: 评分指标 “质量评分” 至少要有 3 个评分（给了 2 个）",
    ]


def test_missing_value_reported_at_its_empty_cell(tmp_path: Path, ruleset_file: Path) -> None:
    """A hospital with no rating at all: the scoring error points at its first assessor cell."""
    rows = [ROWS[0], ["乙医院", 400, 10, 0.885, None, None, None, None, "否"]]
    path = standard(tmp_path / "data.xlsx", rows)
    code, out, err = cli("score", str(ruleset_file), str(path))
    assert code == 1
    assert out == ""
    assert err == (
        f"{path}!考核数据!E4: 错误 KR614：乙医院：quality：缺少数据：质量评分（quality）；"
        "这些指标规定缺失时报错（missing: error）\n"
        f"{path}: 无法计分\n"
    )


def test_not_a_workbook(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """.xls, an encrypted workbook, a renamed text file, a broken zip: one clear message each."""
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert problems(ruleset, old) == [
        "old.xls:0:0: error: $: 这是旧版 Excel 文件（.xls），无法读取（在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”）"
    ]
    locked = tmp_path / "locked.xlsx"
    locked.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert problems(ruleset, locked) == [
        "locked.xlsx:0:0: error: $: 工作簿设有打开密码（已加密），或其实是旧版 .xls 文件，无法读取（在 Excel 中取消密码（文件 → 信息 → 保护工作簿），另存为“Excel 工作簿（*.xlsx）”）"
    ]
    renamed = tmp_path / "renamed.xlsx"
    renamed.write_text("entity,payments\n甲,1\n", "utf-8")
    assert problems(ruleset, renamed) == [
        "renamed.xlsx:0:0: error: $: 不是有效的 Excel 工作簿（.xlsx）：文件已损坏，或是改了扩展名的其他文件（在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”）"
    ]
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    assert problems(ruleset, broken) == [
        "broken.xlsx:0:0: error: $: 无法读取 Excel 工作簿：文件已损坏或不是 .xlsx（KeyError）（在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”）"
    ]


def test_cli_sheet_option(tmp_path: Path, ruleset_file: Path) -> None:
    """score/explain/diff take --sheet; a sheet that does not exist is a usage error."""
    path = book(tmp_path / "data.xlsx", [HEADER, *ROWS], first="说明")
    code, out, _ = cli(
        "score", str(ruleset_file), str(path), "--sheet", "考核数据", "--format", "json"
    )
    assert code == 0
    assert re.findall(r'"total": "([\d.]+)"', out) == ["94.55", "70.80"]
    code, _, err = cli("explain", str(ruleset_file), str(path), "--sheet", "汇总")
    assert code == 2
    assert err == f"kpirules: 工作簿 {path} 中没有工作表 “汇总”（有：说明、考核数据）\n"
    code, out, _ = cli(
        "diff", str(ruleset_file), str(ruleset_file), "--metrics", str(path), "--sheet", "考核数据"
    )
    assert code == 0
    csv_file = tmp_path / "data.csv"
    csv_file.write_text(",".join(HEADER) + "\n", "utf-8")
    code, _, err = cli("score", str(ruleset_file), str(csv_file), "--sheet", "考核数据")
    assert code == 2
    assert err == f"kpirules: --sheet 只用于 Excel 工作簿（.xlsx），{csv_file} 不是工作簿\n"


def test_bare_assessor_columns_for_the_one_rating(tmp_path: Path) -> None:
    """评委1…评委5 belong to the ruleset's only rating (scheme B cost management)."""
    cost = kpirules.load(COST)
    rows = [
        ["姓名", "评委1", "评委2", "评委3", "评委4", "评委5"],
        ["孙会计", 88, 92, 94, 95, 99],
        ["郑会计", 80, 84, 86, 87, 91],
    ]
    path = book(tmp_path / "cost.xlsx", rows)
    # (92+94+95)/3 = 93.666… → 93.67; (84+86+87)/3 = 85.666… → 85.67
    assert totals(cost, path) == [("孙会计", "93.67"), ("郑会计", "85.67")]


def test_bare_assessor_columns_with_two_ratings(tmp_path: Path) -> None:
    """With two ratings (scheme A) a bare 评委1 is ambiguous; <label>评委1 is not."""
    a = kpirules.load(A_OFFICE)
    path = book(tmp_path / "a.xlsx", [["科室", "评委1"], ["医保办", 80]], title=None)
    assert problems(a, path)[0] == (
        "a.xlsx!考核数据!B1: error: 评委1: 规则集有 2 个评分指标（报销审核工作质量评分、服务态度评分），"
        "“评委1” 没有说明是哪一个（列名写成 报销审核工作质量评分评委1）"
    )


def test_shipped_example_workbook_scores_like_the_csv() -> None:
    """examples/a-offices-2026.xlsx (title row, 科室, percent cells, assessor columns) = the CSV."""
    a = kpirules.load(A_OFFICE)
    xlsx = read_metrics(EXAMPLES / "a-offices-2026.xlsx", a)
    assert xlsx == read_metrics(EXAMPLES / "a-offices-2026.csv", a)
    code, out, _ = cli(
        "score", str(A_OFFICE), str(EXAMPLES / "a-offices-2026.xlsx"), "--format", "json"
    )
    assert code == 0
    assert re.findall(r'"total": "([\d.]+)"', out) == ["97.00", "93.20", "83.47", "97.12"]


def _fill(path: Path, rows: Sequence[Sequence[object]]) -> None:
    """Type values into a template's data sheet, as an office would."""
    wb = load_workbook(path)
    ws = wb["数据"]
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c).value = value
    wb.save(path)


def test_template_round_trip_scores_scheme_a(tmp_path: Path) -> None:
    """A filled-in template of scheme A scores the hand-computed totals without edits."""
    out = tmp_path / "模板.xlsx"
    code, _, err = cli("template", str(A_OFFICE), "--output", str(out))
    assert (code, err) == (0, f"已写入 {out}（0 个对象）\n")
    # The four offices of examples/a-offices-2026.csv; percentages typed as 99.5% are 0.995.
    _fill(
        out,
        [
            [
                "第一医院医保办",
                0,
                10000,
                2400,
                2400,
                1,
                1,
                80,
                90,
                90,
                90,
                100,
                0.96,
                85,
                85,
                85,
                85,
                85,
                100,
                90,
            ],
            [
                "第二医院医保办",
                150,
                10000,
                2376,
                2400,
                0.995,
                0.97,
                82,
                85,
                88,
                90,
                93,
                0.92,
                78,
                80,
                84,
                86,
                90,
                95,
                92,
            ],
            [
                "第三医院医保办",
                420,
                12000,
                2210,
                2300,
                0.96,
                0.9,
                70,
                75,
                76,
                80,
                88,
                0.85,
                60,
                70,
                70,
                70,
                80,
                88,
                85,
            ],
            [
                "中医院医保办",
                60,
                8000,
                1980,
                2000,
                0.98,
                1,
                85,
                88,
                90,
                92,
                95,
                0.945,
                88,
                90,
                90,
                92,
                96,
                100,
                100,
            ],
        ],
    )
    code, text, _ = cli("score", str(A_OFFICE), str(out), "--format", "json")
    assert code == 0
    assert re.findall(r'"total": "([\d.]+)"', text) == ["97.00", "93.20", "83.47", "97.12"]


def test_template_layout(tmp_path: Path, ruleset_file: Path) -> None:
    """Headings with units, only input metrics, assessor columns, validations, formats, guide."""
    names = tmp_path / "names.txt"
    names.write_text("医院名称\n甲医院\n\n乙医院\n", "utf-8")
    out = tmp_path / "t.xlsx"
    code, _, err = cli(
        "template", str(ruleset_file), "--output", str(out), "--entities", str(names)
    )
    assert (code, err) == (0, f"已写入 {out}（2 个对象）\n")
    wb = load_workbook(out)
    assert wb.sheetnames == ["数据", "填写说明"]
    ws = wb["数据"]
    assert [c.value for c in ws[1]] == [
        "医院名称", "办件数（件）", "差错件数（件）", "满意度（%）",
        "评委甲", "评委乙", "评委丙", "评委丁", "安全达标（是/否）",
    ]  # fmt: skip
    assert [ws["A2"].value, ws["A3"].value] == ["甲医院", "乙医院"]
    assert ws.freeze_panes == "B2"
    assert (ws.page_setup.paperSize, ws.page_setup.orientation) == (9, "landscape")
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.print_title_rows == "$1:$1"
    assert ws["D2"].number_format == "0.00%"
    rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert rules["I2:I500"].type == "list"
    assert rules["I2:I500"].formula1 == '"是,否"'
    assert (rules["B2:B500"].type, rules["B2:B500"].operator, rules["B2:B500"].formula1) == (
        "whole",
        "greaterThanOrEqual",
        "1",
    )
    assert rules["B2:B500"].error == "“办件数” 应为 ≥ 1件 的整数"
    assert (rules["D2:D500"].formula1, rules["D2:D500"].formula2) == ("0", "1")
    assert rules["E2:E500 F2:F500 G2:G500 H2:H500"].error == "“质量评分” 应为 0 到 100 的数值"
    guide = [
        [c for c in row if c is not None] for row in wb["填写说明"].iter_rows(values_only=True)
    ]
    assert guide[4] == ["办件数（件）", "办件数；用于 计算 办件准确率", "件", "≥ 1件", "填整数"]
    assert [f"4. 填好后保存，计分：kpirules score {ruleset_file} 本文件.xlsx"] in guide
    # Filled in, it scores without edits.
    _fill(
        out,
        [
            [None, 200, 3, 0.95, 80, 90, 85, 70, "是"],
            [None, 400, 10, 0.885, 60, 75, 90, None, "否"],
        ],
    )
    assert totals(kpirules.load(ruleset_file), out) == [("甲医院", "94.55"), ("乙医院", "70.80")]


def test_template_never_overwrites_without_force(tmp_path: Path) -> None:
    """An existing file is kept unless --force; the output must be .xlsx."""
    out = tmp_path / "t.xlsx"
    out.write_bytes(b"keep")
    code, _, err = cli("template", str(A_OFFICE), "--output", str(out))
    assert (code, err) == (2, f"kpirules: 输出文件 {out} 已存在；要覆盖请加 --force\n")
    assert out.read_bytes() == b"keep"
    assert cli("template", str(A_OFFICE), "--output", str(out), "--force")[0] == 0
    assert load_workbook(out).sheetnames == ["数据", "填写说明"]
    code, _, err = cli("template", str(A_OFFICE), "--output", str(tmp_path / "t.csv"))
    assert (code, err) == (
        2,
        f"kpirules: 模板文件名要以 .xlsx 结尾（给的是 {tmp_path / 't.csv'}）\n",
    )


def test_template_entities_duplicate(tmp_path: Path) -> None:
    """A name listed twice in --entities is refused with its line."""
    names = tmp_path / "names.txt"
    names.write_text("甲\n乙\n甲\n", "utf-8")
    out = tmp_path / "t.xlsx"
    code, _, err = cli("template", str(A_OFFICE), "--output", str(out), "--entities", str(names))
    assert (code, err) == (1, f"{names}:3:1: 错误 KR506：对象 “甲” 重复（第 1 行已出现）\n")
    assert not out.exists()


def test_dates_in_the_period_column(tmp_path: Path, ruleset: kpirules.Ruleset) -> None:
    """A first-of-month date in 期间 (Excel's reading of a typed 2026-03) is that month."""
    rows = [
        [*HEADER, "期间"],
        [*ROWS[0], dt.datetime(2026, 3, 1)],
        [*ROWS[0], dt.datetime(2026, 4, 1)],
        [*ROWS[1], "2026Q2"],
    ]
    path = book(tmp_path / "data.xlsx", rows)
    records = read_records(path, ruleset)
    assert [(entity, period) for entity, period, _ in records] == [
        ("甲医院", "2026-03"),
        ("甲医院", "2026-04"),
        ("乙医院", "2026Q2"),
    ]


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "rulesets").glob("*.yaml") if ".tests." not in p.name)
)
def test_every_shipped_ruleset_template_reads_back(tmp_path: Path, path: Path) -> None:
    """Each shipped ruleset's template, with one entity and nothing filled in, reads back."""
    from kpirules.template import build_template

    ruleset = kpirules.load(path)
    out = tmp_path / "t.xlsx"
    out.write_bytes(build_template(ruleset, ["甲"], str(path)))
    assert read_metrics(out, ruleset) == [("甲", {})]
