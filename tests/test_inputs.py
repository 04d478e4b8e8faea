"""Metrics files: CSV in UTF-8, UTF-8 with BOM or GBK; YAML and JSON; every problem located."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules.inputs import InputError, read_metrics

#: These tests pin the earlier message wording (``--lang en``); the Chinese form is
#: checked in test_places.py and by the negative fixtures.
pytestmark = pytest.mark.usefixtures("english_text")

ROOT = Path(__file__).resolve().parent.parent
RULESET = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
EXAMPLES = ROOT / "examples"


def problems(path: Path, **kwargs: str) -> list[str]:
    with pytest.raises(InputError) as info:
        read_metrics(path, RULESET, **kwargs)
    return [str(p).replace(str(path), path.name) for p in info.value.problems]


def test_utf8_csv_with_ratings() -> None:
    """The shipped CSV reads into exact values; ratings as a tuple."""
    rows = read_metrics(EXAMPLES / "a-offices-2026.csv", RULESET)
    assert [name for name, _ in rows] == [
        "第一医院医保办",
        "第二医院医保办",
        "第三医院医保办",
        "中医院医保办",
    ]
    first = rows[0][1]
    assert first["enrollee_data_accuracy"] == Decimal("1.00")
    assert first["review_quality"] == (
        Decimal(80),
        Decimal(90),
        Decimal(90),
        Decimal(90),
        Decimal(100),
    )


def test_gbk_excel_export_with_chinese_headers() -> None:
    """A GBK CSV from Chinese Excel, headed by the metrics' labels, reads the same."""
    assert read_metrics(EXAMPLES / "a-offices-2026-excel-gbk.csv", RULESET) == read_metrics(
        EXAMPLES / "a-offices-2026.csv", RULESET
    )


def test_utf8_bom(tmp_path: Path) -> None:
    """A UTF-8 CSV with a byte-order mark (Excel's 'CSV UTF-8') is accepted."""
    f = tmp_path / "bom.csv"
    f.write_bytes(
        (EXAMPLES / "a-offices-2026.csv").read_bytes().replace(b"entity", b"\xef\xbb\xbfentity", 1)
    )
    assert len(read_metrics(f, RULESET)) == 4


def test_messy_file_reports_every_problem_with_row_and_column() -> None:
    """A typo in a column, a percent written as 96 and a duplicated entity: all at once."""
    assert problems(EXAMPLES / "a-offices-2026-messy.csv") == [
        "a-offices-2026-messy.csv:1:7: error: supervision_timelines: 规则集中没有指标 “supervision_timelines”（是不是要写 supervision_timeliness？）",
        "a-offices-2026-messy.csv:2:9: error: satisfaction: 指标 “参保人员满意度（问卷）” 是百分比，96 会被当作 9600%：写成 96% 或 0.96",
        "a-offices-2026-messy.csv:4:1: error: entity: 编号 “第二医院医保办” 重复（第 3 行已出现）",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "entity,payments\n甲,NaN\n",
            "x.csv:2:2: error: payments: 指标 “基金收付总笔数” 的值无法读出数值 “NaN”：应写成数字加可选单位，如 95%、4次、5万元",
        ),
        (
            "entity,payments\n甲,Infinity\n",
            "x.csv:2:2: error: payments: 指标 “基金收付总笔数” 的值无法读出数值 “Infinity”：应写成数字加可选单位，如 95%、4次、5万元",
        ),
        (
            "entity,payment_errors\n甲,-3\n",
            "x.csv:2:2: error: payment_errors: 指标 “基金收付差错笔数” 的值 -3 超出取值范围 0 到 不限",
        ),
        (
            "entity,satisfaction\n甲,120%\n",
            "x.csv:2:2: error: satisfaction: 指标 “参保人员满意度（问卷）” 的值 120% 超出取值范围 0% 到 100%",
        ),
        (
            "entity,payments\n甲,10.5\n",
            "x.csv:2:2: error: payments: 指标 “基金收付总笔数” 是计数，应为整数（写的是 10.5）",
        ),
        (
            "entity,payments\n甲,1,2\n",
            "x.csv:2:1: error: $: 这一行有 3 列，表头有 2 列（检查是否多了或少了逗号）",
        ),
        (
            "payments\n100\n",
            "x.csv:1:1: error: $: 缺少编号列：表头要有一列名为 entity、编号、对象、科室、部门、单位、姓名 之一",
        ),
        (
            "entity,payment_accuracy\n甲,99%\n",
            "x.csv:1:2: error: payment_accuracy: “payment_accuracy” 是派生指标，由公式计算，不能直接给值（删除这一列）",
        ),
        ("", "x.csv:1:1: error: $: 文件为空"),
        ("entity,payments\n", "x.csv:2:1: error: $: 文件中没有数据行"),
    ],
)
def test_careless_csv_input(tmp_path: Path, body: str, expected: str) -> None:
    """NaN, Infinity, negative counts, >100%, fractions of counts, ragged rows, missing columns."""
    f = tmp_path / "x.csv"
    f.write_text(body, "utf-8")
    assert problems(f) == [expected]


def test_binary_garbage(tmp_path: Path) -> None:
    """Binary garbage is a clear error, not a traceback."""
    f = tmp_path / "x.csv"
    f.write_bytes(bytes(range(256)) * 4)
    found = problems(f)
    assert len(found) == 1
    assert "x.csv:" in found[0]


def test_yaml_and_json_layouts(tmp_path: Path) -> None:
    """YAML rows, a YAML mapping and JSON give the same values, with located errors."""
    rows = tmp_path / "rows.yaml"
    rows.write_text("- entity: 甲\n  payments: 100\n  satisfaction: 95%\n", "utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("甲: {payments: 100, satisfaction: 0.95}\n", "utf-8")
    js = tmp_path / "m.json"
    js.write_text('[{"entity": "甲", "payments": 100, "satisfaction": "95%"}]', "utf-8")
    expected = [("甲", {"payments": Decimal(100), "satisfaction": Decimal("0.95")})]
    assert read_metrics(rows, RULESET) == expected
    assert read_metrics(mapping, RULESET) == expected
    assert read_metrics(js, RULESET) == expected
    bad = tmp_path / "bad.yaml"
    bad.write_text("- entity: 甲\n  paymnts: 100\n", "utf-8")
    assert problems(bad) == [
        "bad.yaml:2:3: error: $[0].paymnts: 规则集中没有指标 “paymnts”（派生指标由公式计算，不需要给值）（是不是要写 payments？）"
    ]


def test_unknown_extension(tmp_path: Path) -> None:
    """Only .xlsx, .csv, .yaml, .yml and .json are read."""
    f = tmp_path / "x.ods"
    f.write_bytes(b"PK")
    assert problems(f) == [
        "x.ods:0:0: error: $: 无法识别的文件类型：请用 .xlsx、.csv、.yaml、.yml 或 .json"
    ]


def test_csv_title_row_and_office_entity_column(tmp_path: Path) -> None:
    """A title row above the header is skipped; 科室 and 部门 name the entity column."""
    body = (EXAMPLES / "a-offices-2026.csv").read_text("utf-8")
    for name in ("科室", "部门"):
        f = tmp_path / f"{name}.csv"
        f.write_text("2026 年度医保办考核数据,,\n" + body.replace("entity", name, 1), "utf-8")
        assert read_metrics(f, RULESET) == read_metrics(EXAMPLES / "a-offices-2026.csv", RULESET)


def test_csv_two_entity_columns(tmp_path: Path) -> None:
    """科室 and 姓名 in one header: an error naming both."""
    f = tmp_path / "x.csv"
    f.write_text("科室,姓名,payments\n医保办,张三,100\n", "utf-8")
    assert problems(f) == [
        "x.csv:1:2: error: 姓名: 表头中有 2 个编号列：“科室”（第 1 列）、“姓名”（第 2 列）：只能有一个（把其中一列改名或删除）"
    ]


def test_csv_one_column_per_assessor(tmp_path: Path) -> None:
    """<label>评委1… and <id>_1… columns read as the ratings the one-cell form gives."""
    labels = [f"报销审核工作质量评分评委{i}" for i in range(1, 7)]
    ids = [f"attitude_{i}" for i in range(1, 6)]
    f = tmp_path / "x.csv"
    f.write_text(
        "entity," + ",".join(labels + ids) + "\n甲,80,90,90,,100,70,85,85,85,85,85\n", "utf-8"
    )
    values = dict(read_metrics(f, RULESET))["甲"]
    assert values["review_quality"] == (
        Decimal(80),
        Decimal(90),
        Decimal(90),
        Decimal(100),
        Decimal(70),
    )
    assert values["attitude"] == (Decimal(85),) * 5


def test_csv_assessor_columns_refused_beside_the_one_cell_form(tmp_path: Path) -> None:
    """A rating given both ways at once, or two ratings in one assessor cell: refused."""
    f = tmp_path / "x.csv"
    f.write_text("entity,attitude,服务态度评分评委1\n甲,85;85;85;85;85,80;90\n", "utf-8")
    assert problems(f) == [
        "x.csv:1:3: error: 服务态度评分评委1: 评委列 “服务态度评分评委1” 与第 2 列是同一个指标：评分要么一格写全（80;85;90），要么每位评委一列",
    ]
    f.write_text("entity,服务态度评分评委1\n甲,80;90\n", "utf-8")
    assert problems(f) == ["x.csv:2:2: error: 服务态度评分评委1: 评委列每格只填一位评委的一个评分"]


def test_csv_heading_with_unit(tmp_path: Path) -> None:
    """A heading with the metric's unit (准确率（%）) is read; a different unit is refused."""
    f = tmp_path / "x.csv"
    f.write_text("科室,基金收付总笔数（笔）,参保人员信息准确率（%）\n甲,100,95%\n", "utf-8")
    assert read_metrics(f, RULESET) == [
        ("甲", {"payments": Decimal(100), "enrollee_data_accuracy": Decimal("0.95")})
    ]
    f.write_text("科室,基金收付总笔数（万笔）\n甲,100\n", "utf-8")
    assert problems(f) == [
        "x.csv:1:2: error: 基金收付总笔数（万笔）: 列名中的单位 “万笔” 与指标 “基金收付总笔数” 的单位 “笔” 不同（列名写成 基金收付总笔数，数值按指标的单位填写）"
    ]


def test_ruleset_declared_entity_column_in_every_format(tmp_path: Path) -> None:
    """data: {entity_column: 医院名称} names the entity in CSV, YAML and JSON alike."""
    text = (ROOT / "rulesets" / "a-office-annual.yaml").read_text("utf-8")
    path = tmp_path / "r.yaml"
    path.write_text(
        text.replace("cycle: year\n", "cycle: year\ndata: {entity_column: 医院名称}\n"), "utf-8"
    )
    ruleset = kpirules.load(path)
    assert ruleset.entity_columns == ("医院名称",)
    expected = [("甲", {"payments": Decimal(100)})]
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("医院名称,payments\n甲,100\n", "utf-8")
    yaml_file = tmp_path / "x.yaml"
    yaml_file.write_text("- 医院名称: 甲\n  payments: 100\n", "utf-8")
    json_file = tmp_path / "x.json"
    json_file.write_text('[{"医院名称": "甲", "payments": 100}]', "utf-8")
    for f in (csv_file, yaml_file, json_file):
        assert read_metrics(f, ruleset) == expected
    yaml_file.write_text("- 医院名称: 甲\n  科室: 医保办\n  payments: 100\n", "utf-8")
    with pytest.raises(InputError) as info:
        read_metrics(yaml_file, ruleset)
    assert [str(p).replace(str(yaml_file), "x.yaml") for p in info.value.problems] == [
        "x.yaml:2:3: error: $[0].科室: 有 2 个编号：“医院名称”、“科室”：只能写一个"
    ]


def test_bare_number_column_is_not_an_assessor(tmp_path: Path) -> None:
    """A column headed 3 is an unknown column, not the third assessor of some rating."""
    cost = kpirules.load(ROOT / "rulesets" / "b-position-cost-management.yaml")
    f = tmp_path / "x.csv"
    f.write_text("姓名,评委1,评委2,评委3,评委4,评委5,3\n孙会计,88,92,94,95,99,\n", "utf-8")
    with pytest.raises(InputError) as info:
        read_metrics(f, cost)
    assert [str(p).replace(str(f), "x.csv") for p in info.value.problems] == [
        "x.csv:1:7: error: 3: 规则集中没有指标 “3”",
    ]


@pytest.mark.parametrize(
    ("suffix", "size", "message"),
    [
        (".csv", 100 * 1024 * 1024 + 1, "文件过大（104857601 字节）：CSV 指标文件最大 100 MiB"),
        (".xlsx", 100 * 1024 * 1024 + 1, "文件过大（104857601 字节）：XLSX 指标文件最大 100 MiB"),
        (".json", 2 * 1024 * 1024 + 1, "文件过大（2097153 字节）：JSON 指标文件最大 2 MiB"),
        (".yml", 2 * 1024 * 1024 + 1, "文件过大（2097153 字节）：YAML 指标文件最大 2 MiB"),
    ],
)
def test_each_kind_of_metrics_file_has_one_size_limit(
    tmp_path: Path, suffix: str, size: int, message: str
) -> None:
    """A file one byte over its kind's limit is refused before it is read, with KR503."""
    big = tmp_path / f"big{suffix}"
    with big.open("wb") as f:
        f.truncate(size)
    with pytest.raises(InputError) as caught:
        read_metrics(big, kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml"))
    (problem,) = caught.value.problems
    assert (problem.code, problem.message) == ("KR503", message)
    assert problem.suggestion is not None and problem.suggestion.startswith("拆分数据文件")
