"""CSV and terminal-table output: Chinese headers, rank order, display rounding, exact
values, adjustment and veto columns, neutralised text cells, and the CLI's format choice."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import attrs
import pytest

import kpirules
from kpirules import report
from kpirules.cli import run
from kpirules.model import Ruleset
from kpirules.result import Result

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"

#: One category scored 0–100, a penalty of 2 per late report, a veto that zeroes the
#: total, rounding to one place half-even (so 82.25 → 82.2, not 82.3).
SMALL = (ROOT / "tests" / "fixtures" / "outputs-small.yaml").read_text("utf-8")

HEADER = (
    "排名,对象,资金管理（40分）,医保业务管理（30分）,医保服务质量（20分）,安全管理（10分）,"
    "各项合计,加减分,一票否决,总分,等级,奖惩结果,"
    "医疗保险基金收付准确性（20分）,医疗保险结算工作及时性（20分）,参保人员信息管理准确性（10分）,"
    "医疗服务监督及时性（10分）,报销审核工作质量（10分）,参保人员满意度（10分）,服务态度（10分）,"
    "信息安全（5分）,保密工作（5分）\n"
)

# 第二医院医保办 by hand: 收付准确率 1 − 150/10000 = 98.5% → 98.5% × 20 = 19.70;
# 结算及时率 2376/2400 = 99% → 19.80; 资金管理 39.50; total 93.20 as the README states.
EXAMPLE_CSV = HEADER + (
    "1,中医院医保办,39.65,28.80,18.67,10.00,97.12,0.00,,97.12,优秀,综合评分排名靠前，予以表彰,"
    "19.85,19.80,9.80,10.00,9.00,9.60,9.07,5.00,5.00\n"
    "2,第一医院医保办,40.00,29.00,18.50,9.50,97.00,0.00,,97.00,优秀,综合评分排名靠前，予以表彰,"
    "20.00,20.00,10.00,10.00,9.00,10.00,8.50,5.00,4.50\n"
    "3,第二医院医保办,39.50,28.42,15.93,9.35,93.20,0.00,,93.20,优秀,综合评分排名靠前，予以表彰,"
    "19.70,19.80,9.95,9.70,8.77,7.60,8.33,4.75,4.60\n"
    "4,第三医院医保办,38.52,26.30,10.00,8.65,83.47,0.00,,83.47,良好,,"
    "19.30,19.22,9.60,9.00,7.70,3.00,7.00,4.40,4.25\n"
)


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def small(*rows: tuple[str, dict[str, object]]) -> tuple[Ruleset, tuple[Result, ...]]:
    ruleset = kpirules.load("small.yaml", text=SMALL)
    return ruleset, ruleset.evaluate_many(list(rows))  # type: ignore[arg-type]


def small_rows() -> tuple[Ruleset, tuple[Result, ...]]:
    return small(
        ("甲", {"q": "82.25", "v": 0, "late": 1}),
        ("乙", {"q": "95", "v": 1, "late": 0}),
        ("丙", {"q": "77.25", "v": 0, "late": 0}),
    )


def test_csv_of_the_example_in_chinese_by_rank() -> None:
    """The default CSV: Chinese headers, rows by rank, numbers at the ruleset's 2 places."""
    code, out, err = call("score", str(RULESET), str(EXAMPLE), "--format", "csv")
    assert (code, err) == (0, "")
    assert out == EXAMPLE_CSV


def test_csv_ids_exact_and_input_order() -> None:
    """--headers id --exact --sort input: ids, exact decimals, the metrics file's order."""
    code, out, _ = call(
        "score", str(RULESET), str(EXAMPLE), "--format", "csv", "--headers", "id", "--exact",
        "--sort", "input",
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "rank,entity,fund,business,service,security,raw_total,adjustment,vetoes,total,grade,"
        "outcomes,payment_accuracy_score,settlement_score,enrollee_data_score,supervision_score,"
        "review_score,satisfaction_score,attitude_score,info_security_score,confidentiality_score"
    )
    assert [line.split(",")[1] for line in lines[1:]] == [
        "第一医院医保办",
        "第二医院医保办",
        "第三医院医保办",
        "中医院医保办",
    ]
    # 报销审核 of 第二医院: ratings 82;85;88;90;93 trimmed → (85+88+90)/3 = 87.666… → × 10/100
    assert lines[2] == (
        "3,第二医院医保办,39.500,28.41666666666666666666666667,15.93333333333333333333333333,"
        "9.35,93.20000000000000000000000000,0.00000000000000000000000000,,93.20,优秀,"
        "综合评分排名靠前，予以表彰,19.700,19.80,9.950,9.70,8.766666666666666666666666667,7.6,"
        "8.333333333333333333333333333,4.75,4.60"
    )


def test_csv_only_input_order_or_only_ids() -> None:
    """--sort input alone keeps Chinese headers and rounding; --headers id alone keeps rank order."""
    _, out, _ = call("score", str(RULESET), str(EXAMPLE), "--format", "csv", "--sort", "input")
    assert out.splitlines()[0] + "\n" == HEADER
    assert out.splitlines()[1].startswith("2,第一医院医保办,40.00,29.00,18.50,9.50,97.00,")
    _, out, _ = call("score", str(RULESET), str(EXAMPLE), "--format", "csv", "--headers", "id")
    assert out.splitlines()[1].startswith("1,中医院医保办,39.65,28.80,18.67,10.00,97.12,")


def test_csv_adjustment_veto_and_half_even() -> None:
    """The adjustment and veto columns say why a total differs from the sum of items; rounding is the ruleset's half-even."""
    ruleset, results = small_rows()
    # 甲: 82.25 − 2 = 80.25 → 80.2 (half-even), items 82.25 → 82.2; 乙: 95 zeroed by the veto.
    assert report.to_csv(ruleset, results) == (
        "排名,对象,工作（100分）,各项合计,加减分,一票否决,总分,等级,奖惩结果,工作质量（100分）\n"
        "1,甲,82.2,82.2,-2.0,,80.2,好,表扬,82.2\n"
        "2,丙,77.2,77.2,0.0,,77.2,差,,77.2\n"
        "3,乙,95.0,95.0,0.0,查实违规（总分记为 0）,0.0,差,,95.0\n"
    )
    assert report.to_csv(ruleset, results, exact=True).splitlines()[1] == (
        "1,甲,82.2500,82.2500,-2.0000,,80.2,好,表扬,82.2500"
    )


def test_table_title_veto_and_words() -> None:
    """The terminal table has a title line with version and period, and vetoes and outcomes in words."""
    ruleset, results = small_rows()
    assert report.table(ruleset, results, period="2026H1") == (
        "小型考核（版本 1，期间 2026H1；总分保留 1 位小数，四舍六入五成双）\n"
        "排名  对象  工作（100分）  各项合计  加减分  一票否决                总分  等级  奖惩结果\n"
        "----  ----  -------------  --------  ------  ----------------------  ----  ----  --------\n"
        "   1  甲             82.2      82.2    -2.0  —                       80.2  好    表扬\n"
        "   2  丙             77.2      77.2     0.0  —                       77.2  差    —\n"
        "   3  乙             95.0      95.0     0.0  查实违规（总分记为 0）   0.0  差    —\n"
    )
    exact = report.table(ruleset, results, exact=True, order="input", headers="id")
    assert exact.splitlines()[0] == "小型考核（版本 1；数字为精确值）"
    assert exact.splitlines()[1].split() == [
        "rank",
        "entity",
        "work",
        "raw_total",
        "adjustment",
        "vetoes",
        "total",
        "grade",
        "outcomes",
    ]
    assert exact.splitlines()[3].split()[:5] == ["1", "甲", "82.2500", "82.2500", "-2.0000"]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formula_prefix(prefix: str) -> None:
    """A name starting with a formula character gets a leading quote; numbers (even negative) stay numbers."""
    name = prefix + 'HYPERLINK("http://x","点我")'
    ruleset, scored = small(("甲", {"q": "82.25", "v": 0, "late": 1}))
    # Input reading refuses tabs and carriage returns in names; the writer must not rely on it.
    results = [attrs.evolve(r, entity=name) for r in scored]
    rows = list(csv.reader(io.StringIO(report.to_csv(ruleset, results), newline="")))
    assert len(rows) == 2
    assert rows[1] == ["1", "'" + name, "82.2", "82.2", "-2.0", "", "80.2", "好", "表扬", "82.2"]


def test_csv_neutralises_labels_from_the_ruleset() -> None:
    """Grade and outcome labels from the ruleset are neutralised too, and so are headers."""
    text = (
        SMALL.replace("label: 表扬", "label: \"=cmd|' /c calc'!A1\"")
        .replace("grade: 好", 'grade: "@SUM(1)"')
        .replace("grades: [好]", 'grades: ["@SUM(1)"]')
        .replace("label: 工作质量, metric", 'label: "+工作质量", metric')
    )
    ruleset = kpirules.load("small.yaml", text=text)
    results = ruleset.evaluate_many([("甲", {"q": "90", "v": 0, "late": 0})])
    rows = list(csv.reader(io.StringIO(report.to_csv(ruleset, results), newline="")))
    assert rows[0][-1] == "'+工作质量（100分）"
    assert rows[1][7:9] == ["'@SUM(1)", "'=cmd|' /c calc'!A1"]


def test_json_keeps_input_order_unless_sorted() -> None:
    """JSON stays canonical in input order; --sort rank orders it by rank."""
    _, out, _ = call("score", str(RULESET), str(EXAMPLE), "--format", "json")
    assert [d["total"] for d in json.loads(out)] == ["97.00", "93.20", "83.47", "97.12"]
    _, out, _ = call("score", str(RULESET), str(EXAMPLE), "--format", "json", "--sort", "rank")
    assert [d["total"] for d in json.loads(out)] == ["97.12", "97.00", "93.20", "83.47"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--format", "csv", "--output", "a.xlsx"],
            "kpirules: --format csv 与输出文件 {d}/a.xlsx 不符：.xlsx 是 xlsx 格式的扩展名",
        ),
        (
            ["--format", "table", "--output", "a.json"],
            "kpirules: --format table 与输出文件 {d}/a.json 不符：.json 是 json 格式的扩展名",
        ),
        (
            ["--format", "xlsx", "--output", "a.txt"],
            "kpirules: --format xlsx 的输出文件应以 .xlsx 结尾（而不是 {d}/a.txt）",
        ),
        (["--format", "xlsx"], "kpirules: xlsx 格式须写入文件：请加 --output 结果.xlsx"),
        (
            ["--output", "a.xls"],
            "kpirules: 不能写成 .xls 文件：Excel 工作簿请用 .xlsx 扩展名（--output 结果.xlsx）",
        ),
        (
            ["--format", "json", "--exact"],
            "kpirules: --exact 和 --headers 只用于 table、csv、xlsx 输出；json 总是精确值和编号",
        ),
        (
            ["--output", "a.xlsx", "--exact"],
            "kpirules: xlsx 不用 --exact：工作簿中的数字按规则集取舍，精确值总在“精确值”工作表中",
        ),
    ],
)
def test_format_and_extension_must_agree(tmp_path: Path, argv: list[str], message: str) -> None:
    """A format that does not match the output's extension is a usage error: nothing is scored, recorded or written."""
    argv = [str(tmp_path / a) if a.startswith("a.") else a for a in argv]
    ledger = tmp_path / "r.db"
    code, out, err = call("score", str(RULESET), str(EXAMPLE), "--record", str(ledger), *argv)
    assert (code, out) == (2, "")
    assert err == message.format(d=tmp_path) + "\n"
    assert list(tmp_path.iterdir()) == []


def test_csv_file_has_bom_and_matches_stdout(tmp_path: Path) -> None:
    """--output x.csv writes the same table as stdout, with a byte-order mark for Excel."""
    target = tmp_path / "结果.csv"
    code, _, err = call("score", str(RULESET), str(EXAMPLE), "--output", str(target))
    assert (code, err) == (0, f"已写入 {target}（4 个对象）\n")
    assert target.read_bytes() == b"\xef\xbb\xbf" + EXAMPLE_CSV.encode()


def test_documented_table_is_what_score_prints() -> None:
    """The terminal table shown in docs/scoring.md is exactly what `kpirules score` prints."""
    command = (
        "$ kpirules score rulesets/a-office-annual.yaml examples/a-offices-2026.csv --period 2026\n"
    )
    doc = (ROOT / "docs" / "scoring.md").read_text("utf-8")
    shown = doc.split(command)[1].split("```")[0]
    code, out, _ = call("score", str(RULESET), str(EXAMPLE), "--period", "2026")
    assert code == 0
    assert out == shown
