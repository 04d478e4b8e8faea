"""Stable problem codes: the registry, the documentation and codes on real problems."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest

import kpirules
from kpirules import EvaluationError
from kpirules.cli import run
from kpirules.codes import CODES
from kpirules.errors import Problem
from kpirules.inputs import InputError, read_metrics
from kpirules.result import EvaluationProblem

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "kpirules"
INVALID = ROOT / "tests" / "fixtures" / "invalid"
CODE = re.compile(r"\bKR\d{3}\b")


def codes_used_in_src() -> set[str]:
    """Every code written in the package's source, outside the registry itself."""
    used: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name != "codes.py":
            used.update(CODE.findall(path.read_text("utf-8")))
    return used


def test_every_code_used_in_src_is_registered() -> None:
    """A code given to a problem has a title and a fix in the registry."""
    assert codes_used_in_src() - set(CODES) == set()


def test_every_registered_code_is_used() -> None:
    """The registry holds no code that no problem carries."""
    assert set(CODES) - codes_used_in_src() == set()


def test_registry_codes_are_well_formed() -> None:
    """Codes read KR and three digits, and each entry has both titles and a fix."""
    for code, info in CODES.items():
        assert CODE.fullmatch(code), code
        assert info.title and info.title_zh and info.fix, code


def test_every_code_is_documented_in_english_and_chinese() -> None:
    """docs/errors.md and docs/zh/errors.md both list every registered code."""
    english = set(CODE.findall((ROOT / "docs" / "errors.md").read_text("utf-8")))
    chinese = set(CODE.findall((ROOT / "docs" / "zh" / "errors.md").read_text("utf-8")))
    assert set(CODES) - english == set()
    assert set(CODES) - chinese == set()


def test_every_fixture_problem_has_a_registered_code() -> None:
    """Every problem of every negative fixture (and the messy example data) has a code."""
    seen: set[str] = set()
    for path in sorted([*INVALID.glob("*.yaml"), *INVALID.glob("*/main.yaml")]):
        _, problems = kpirules.check(path)
        assert problems, path.name
        for problem in problems:
            assert problem.code in CODES, (path.name, str(problem))
            seen.add(problem.code)
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    for name in ("a-offices-2026-messy.csv", "a-offices-2026-excel-gbk.csv"):
        try:
            read_metrics(ROOT / "examples" / name, ruleset)
        except InputError as exc:
            assert [p for p in exc.problems if p.code not in CODES] == [], name
    assert {c[:3] for c in seen} >= {"KR1", "KR2", "KR3"}


def test_a_problem_cannot_be_made_without_a_code() -> None:
    """Problem and EvaluationProblem both require their code."""
    with pytest.raises(TypeError):
        Problem("t.yaml", 1, 1, "$", "error", "文件为空")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        EvaluationProblem("甲", "", "编号重复")  # type: ignore[call-arg]


def test_duplicate_key_has_its_reading_code() -> None:
    """A duplicate key, found while reading the YAML, carries KR119."""
    _, problems = kpirules.check(INVALID / "duplicate_key.yaml")
    assert [(p.code, p.line, p.path) for p in problems] == [("KR119", 29, "$.categories[1].weight")]


def test_empty_file_and_alias_codes() -> None:
    """An empty file carries KR107; an alias KR113 beside its anchor's KR114."""
    _, empty = kpirules.check("t.yaml", text="  \n")
    assert [p.code for p in empty] == ["KR107"]
    _, aliased = kpirules.check("t.yaml", text="a: &x 1\nb: *x\n")
    assert [(p.code, p.line) for p in aliased][:2] == [("KR114", 1), ("KR113", 2)]


def test_unknown_key_has_its_schema_code_in_json_output(tmp_path: Path) -> None:
    """validate --format json shows the code of an unknown key (KR202), and so does the text."""
    text = (ROOT / "rulesets" / "a-office-annual.yaml").read_text("utf-8")
    broken = tmp_path / "a.yaml"
    broken.write_text(text.replace("\nweighting:", "\nweigthing:", 1), encoding="utf-8")
    out, err = StringIO(), StringIO()
    assert run(["validate", str(broken), "--format", "json"], out, err) != 0
    listed = json.loads(out.getvalue())["files"][0]["problems"]
    unknown = [p for p in listed if p["message"] == "不认识的键 weigthing"]
    assert [p["code"] for p in unknown] == ["KR202"]
    _, found = kpirules.check(broken)
    assert [str(p) for p in found if p.code == "KR202"] == [
        f"{broken}:21:1: 错误 KR202：“weigthing”：不认识的键 weigthing（是不是要写 weighting？）"
    ]


def test_messy_metrics_file_problems_have_their_data_codes() -> None:
    """The messy example CSV's problems carry KR518, KR534 and KR532, each registered."""
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    with pytest.raises(InputError) as info:
        read_metrics(ROOT / "examples" / "a-offices-2026-messy.csv", ruleset)
    got = [(p.line, p.column, p.code) for p in info.value.problems]
    assert got[:3] == [(1, 7, "KR518"), (2, 9, "KR534"), (4, 1, "KR532")]
    assert all(p.code in CODES for p in info.value.problems)


def test_scoring_problems_have_their_scoring_codes() -> None:
    """An unknown metric is KR604 and a binary float KR606, on the entity's problems."""
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    with pytest.raises(EvaluationError) as info:
        ruleset.evaluate({"paymnets": "1", "payments": 0.5})
    got = sorted((p.field, p.code) for p in info.value.problems)
    assert got == [("payments", "KR606"), ("paymnets", "KR604")]
