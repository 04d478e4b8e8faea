"""The command line, run in-process: output, exit codes, formats."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema

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
        f"{FAITHFUL_A}:27:5: error: $.categories[1]: 类别“医保业务管理”的权重为 30%"
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
