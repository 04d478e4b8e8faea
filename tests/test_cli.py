"""The command line, run in-process: output, exit codes, formats."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from kpirules import __version__
from kpirules.cli import run

ROOT = Path(__file__).resolve().parent.parent
VALID = ROOT / "rulesets" / "a-office-annual.yaml"
FAITHFUL_A = ROOT / "tests" / "fixtures" / "invalid" / "scheme_a_faithful.yaml"

WARNING_ONLY = """\
kpirules: 1
id: w
title: 警告
version: "1"
source: 测试
in_force: {from: 2026-01-01}
weighting: points
metrics:
  rate: {label: 差错率, unit: percent}
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: i, label: 差错率, metric: rate, weight: 100, direction: lower_better, target: ≥ 2%, scoring: {method: pass_fail}}
"""


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_validate_valid_file() -> None:
    """A valid ruleset exits 0 and says so."""
    code, out, err = call("validate", str(VALID))
    assert code == 0
    assert out == f"{VALID}: 有效\n"
    assert err == ""


def test_validate_invalid_file() -> None:
    """An invalid ruleset exits 1 with every problem, then a summary line."""
    code, out, _ = call("validate", str(FAITHFUL_A))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(
        f"{FAITHFUL_A}:27:5: 错误 KR344：类别“医保业务管理”：类别“医保业务管理”的权重为 30%"
    )
    assert lines[-1] == f"{FAITHFUL_A}: 无效：1 个错误，0 个警告"


def test_validate_directory_and_mixed_results() -> None:
    """A directory expands to its YAML files; one invalid file makes the run fail."""
    code, out, _ = call("validate", str(ROOT / "rulesets"), str(FAITHFUL_A))
    assert code == 1
    assert f"{VALID}: 有效" in out


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    """Warnings exit 0; --strict turns them into failure."""
    f = tmp_path / "w.yaml"
    f.write_text(WARNING_ONLY, "utf-8")
    code, out, _ = call("validate", str(f))
    assert code == 0
    assert out.splitlines()[-1] == f"{f}: 有效（1 个警告）"
    code, _, _ = call("validate", "--strict", str(f))
    assert code == 1


def test_json_format() -> None:
    """--format json gives the problems as data."""
    code, out, _ = call("validate", "--format", "json", str(FAITHFUL_A))
    assert code == 1
    payload = json.loads(out)
    assert payload["valid"] is False
    [problem] = payload["files"][0]["problems"]
    assert problem["line"] == 27
    assert problem["column"] == 5
    assert problem["severity"] == "error"
    assert problem["path"] == "$.categories[1]"
    assert "45%" in problem["message"]


def test_usage_errors_exit_2() -> None:
    """Unknown commands, missing arguments and missing files are usage errors (exit 2)."""
    assert call()[0] == 2
    code, _, err = call("frobnicate")
    assert code == 2
    assert "用法错误" in err
    assert call("validate")[0] == 2
    code, _, err = call("validate", "no/such/file.yaml")
    assert code == 2
    assert err == "kpirules: 找不到文件 no/such/file.yaml\n"
    assert call("validate", "--format", "xml", str(VALID))[0] == 2


def test_empty_directory_is_usage_error(tmp_path: Path) -> None:
    """A directory without YAML files is a usage error, not a silent success."""
    code, _, err = call("validate", str(tmp_path))
    assert code == 2
    assert "没有 .yaml 文件" in err


def test_schema_command_prints_valid_schema() -> None:
    """`kpirules schema` prints a draft 2020-12 schema that checks itself and a shipped ruleset."""
    code, out, _ = call("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_version_and_help() -> None:
    """--version and --help exit 0."""
    code, out, _ = call("--version")
    assert code == 0
    assert out.startswith("kpirules ")
    assert call("validate", "--help")[0] == 0


def test_python_dash_m() -> None:
    """`python -m kpirules` runs the same command line."""
    proc = subprocess.run(
        [sys.executable, "-m", "kpirules", "validate", str(VALID)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout == f"{VALID}: 有效\n"


EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"


def test_score_table_aligns_chinese() -> None:
    """`kpirules score` prints a title line and a table sorted by rank whose columns line up in a terminal (CJK = 2 columns)."""
    from kpirules.report import width

    code, out, err = call("score", str(VALID), str(EXAMPLE))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        "医院医保办绩效考核细则（年度，类别内按份额分配）（版本 2026.1；总分保留 2 位小数，四舍五入）"
    )
    assert lines[1].split() == [
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
    assert lines[4].split() == [
        "2",
        "第一医院医保办",
        "40.00",
        "29.00",
        "18.50",
        "9.50",
        "97.00",
        "0.00",
        "—",
        "97.00",
        "优秀",
        "综合评分排名靠前，予以表彰",
    ]
    assert lines[6].split()[-3:] == ["83.47", "良好", "—"]
    # the total column ends at the same display column on every row
    ends = {
        width(line[: line.rindex(total) + len(total)])
        for line, total in zip(lines[3:], ["97.12", "97.00", "93.20", "83.47"], strict=True)
    }
    assert len(ends) == 1


def test_score_json_and_csv() -> None:
    """JSON is canonical and byte-stable; CSV has one row per entity with every item score."""
    code, out, _ = call("score", str(VALID), str(EXAMPLE), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [d["total"] for d in data] == ["97.00", "93.20", "83.47", "97.12"]
    assert call("score", str(VALID), str(EXAMPLE), "--format", "json")[1] == out
    code, out, _ = call("score", str(VALID), str(EXAMPLE), "--format", "csv")
    rows = out.splitlines()
    assert rows[0].startswith("排名,对象,资金管理（40分）,")
    assert rows[3].startswith("3,第二医院医保办,39.50,28.42,15.93,9.35,93.20,0.00,,93.20,优秀,")


def test_score_output_is_atomic_and_safe(tmp_path: Path) -> None:
    """--output writes the file whole; it refuses to overwrite inputs or existing files."""
    target = tmp_path / "out.json"
    code, out, err = call(
        "score", str(VALID), str(EXAMPLE), "--format", "json", "--output", str(target)
    )
    assert (code, out) == (0, "")
    assert "已写入" in err
    assert json.loads(target.read_text("utf-8"))[0]["entity"] == "第一医院医保办"
    code, _, err = call("score", str(VALID), str(EXAMPLE), "--output", str(target))
    assert code == 2
    assert "已存在" in err
    assert call("score", str(VALID), str(EXAMPLE), "--output", str(target), "--force")[0] == 0
    code, _, err = call("score", str(VALID), str(EXAMPLE), "--output", str(EXAMPLE), "--force")
    assert code == 2
    assert "就是输入文件" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary leftovers


def test_score_bad_metrics_writes_nothing(tmp_path: Path) -> None:
    """Bad metrics exit 1 with located problems, and no output file appears."""
    target = tmp_path / "out.csv"
    messy = ROOT / "examples" / "a-offices-2026-messy.csv"
    code, _, err = call("score", str(VALID), str(messy), "--output", str(target))
    assert code == 1
    assert f"{messy}:2:9: 错误 KR534：satisfaction：" in err
    assert not target.exists()


def test_score_invalid_ruleset() -> None:
    """An invalid ruleset is reported and nothing is scored."""
    code, _, err = call("score", str(FAITHFUL_A), str(EXAMPLE))
    assert code == 1
    assert "规则集无效，未计分" in err


def test_explain_one_entity() -> None:
    """`kpirules explain --entity` gives the reasoning with ruleset lines and provenance."""
    code, out, _ = call("explain", str(VALID), str(EXAMPLE), "--entity", "第二医院医保办")
    assert code == 0
    assert "对象：第二医院医保办" in out
    assert (
        "    - 参保人员满意度（满分 10.00分，第 109 行）［未达标］：参保人员满意度 92.00%，落在区间 90.00%–95.00%（6–10分），按区间线性计分，得 7.60分"
        in out.splitlines()
    )
    assert "总分：93.20分（总分保留 2 位小数，四舍五入）" in out
    assert "结果：综合评分排名靠前，予以表彰（种类：表彰；条件：等级为优秀；第 154 行）" in out
    assert out.splitlines()[-1].endswith(f"；kpirules {__version__}")
    code, out, _ = call(
        "explain", str(VALID), str(EXAMPLE), "--entity", "第二医院医保办", "--verbose"
    )
    assert out.splitlines()[-1].endswith(
        f"；kpirules {__version__}；prec=28, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999,"
        " traps=[DivisionByZero, InvalidOperation, Overflow]"
    )
    code, out, _ = call(
        "--lang", "en", "explain", str(VALID), str(EXAMPLE), "--entity", "第二医院医保办"
    )
    assert "结果：综合评分排名靠前，予以表彰（honour；条件：等级为优秀；第 154 行）" in out
    assert "prec=28, rounding=ROUND_HALF_EVEN" in out.splitlines()[-1]
    code, _, err = call("explain", str(VALID), str(EXAMPLE), "--entity", "不存在")
    assert code == 1
    assert "数据中没有对象 “不存在”" in err


def test_test_command_passes_and_fails(tmp_path: Path) -> None:
    """`kpirules test` runs the cases, exits 0 when all pass and 1 with the difference otherwise."""
    code, out, _ = call("test", str(ROOT / "rulesets" / "a-office-annual.tests.yaml"))
    assert code == 0
    assert out.splitlines()[-1].endswith("a-office-annual.tests.yaml: 10/10 个用例通过")
    bad = tmp_path / "bad.tests.yaml"
    bad.write_text(
        (ROOT / "rulesets" / "a-office-annual.tests.yaml")
        .read_text("utf-8")
        .replace(
            "ruleset: a-office-annual.yaml",
            f"ruleset: {ROOT / 'rulesets' / 'a-office-annual.yaml'}",
        )
        .replace("total: 94.3", "total: 94.4"),
        "utf-8",
    )
    code, out, _ = call("test", str(bad))
    assert code == 1
    assert "    总分：预期 94.4，实际 94.30（相差 -0.10）" in out.splitlines()
    assert out.splitlines()[-1].endswith("9/10 个用例通过")


def test_careless_command_lines() -> None:
    """Swapped arguments, a bad period, a directory as data, an unknown encoding, an abbreviated flag: usage errors in Chinese."""
    code, _, err = call("score", str(EXAMPLE), str(VALID))
    assert code == 2
    assert "是数据文件，不是规则集：参数的顺序是 规则集 在前，指标数据 在后" in err
    code, _, err = call("score", str(VALID), str(EXAMPLE), "--period", "2026Q5")
    assert code == 2
    assert "无法读出期间 “2026Q5”" in err
    code, _, err = call("score", str(VALID), str(ROOT / "examples"))
    assert code == 2
    assert "是目录" in err
    code, _, err = call("score", str(VALID), str(EXAMPLE), "--encoding", "gbkk")
    assert code == 2
    assert "不认识的编码 gbkk" in err
    code, _, err = call("score", str(VALID), str(EXAMPLE), "--form", "json")
    assert code == 2
    assert "不认识的参数" in err


def test_output_mode_format_and_ledger_guard(tmp_path: Path) -> None:
    """Output files get ordinary permissions, the format follows the extension, and the ledger is never overwritten."""
    import os

    target = tmp_path / "out.csv"
    assert call("score", str(VALID), str(EXAMPLE), "--output", str(target))[0] == 0
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    raw = target.read_bytes()
    assert raw.startswith("\ufeff排名,对象,资金管理（40分）,".encode())
    ledger = tmp_path / "sub" / "r.db"
    assert call("score", str(VALID), str(EXAMPLE), "--record", str(ledger))[0] == 0
    code, _, err = call(
        "score",
        str(VALID),
        str(EXAMPLE),
        "--record",
        str(ledger),
        "--output",
        str(ledger),
        "--force",
    )
    assert code == 2
    assert "就是输入文件或审计记录" in err


def test_test_finds_cases_beside_the_ruleset() -> None:
    """`kpirules test RULESET` also runs RULESET.tests.yaml beside it."""
    code, out, _ = call("test", str(VALID))
    assert code == 0
    assert out.splitlines()[-1].endswith("a-office-annual.tests.yaml: 10/10 个用例通过")


def test_missing_derived_input_names_what_to_supply(tmp_path: Path) -> None:
    """A missing numerator is named as the input to supply, not as the derived rate."""
    rows = EXAMPLE.read_text("utf-8").splitlines()
    cells = rows[2].split(",")
    cells[3] = ""
    rows[2] = ",".join(cells)
    data = tmp_path / "m.csv"
    data.write_text("\n".join(rows) + "\n", "utf-8")
    code, _, err = call("score", str(VALID), str(data))
    assert code == 1
    assert (
        f"{data}:3:4: 错误 KR614：第二医院医保办：settlements_on_time：缺少数据：按时结算笔数（settlements_on_time）"
        in err
    )


def test_excel_habits(tmp_path: Path) -> None:
    """Thousands separators, a trailing empty column and ratings as text are read as meant."""
    rows = EXAMPLE.read_text("utf-8").splitlines()
    quoted = [rows[0] + ","] + [r.replace(",10000,", ',"10,000",') + "," for r in rows[1:]]
    data = tmp_path / "excel.csv"
    data.write_text("\n".join(quoted) + "\n", "utf-8")
    code, out, err = call("score", str(VALID), str(data), "--format", "csv")
    assert code == 0, err
    assert out == call("score", str(VALID), str(EXAMPLE), "--format", "csv")[1]


def test_reader_going_away_is_no_traceback(tmp_path: Path) -> None:
    """`kpirules score … | head -1`: the command stops quietly when its reader closes the
    pipe (exit 13, as a process ended by SIGPIPE would report 128 + 13), with nothing on stderr.

    The output (about 2 MB) is far larger than any pipe buffer, so the command is still writing
    when the reader goes away, whatever the timing."""
    rows = EXAMPLE.read_text("utf-8").splitlines()
    body = [row.split(",", 1)[1] for row in rows[1:]]
    many = [rows[0]] + [f"医保办{n:05d},{body[n % len(body)]}" for n in range(20000)]
    data = tmp_path / "many.csv"
    data.write_text("\n".join(many) + "\n", "utf-8")
    with subprocess.Popen(
        [sys.executable, "-m", "kpirules", "score", str(VALID), str(data), "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 13
    assert first.decode("utf-8").endswith("\n")
    assert err == b""
