"""Where a problem is, in the ruleset's own words; and no stray English in what policy staff read."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest

import kpirules
from kpirules._core.rounding import MODES
from kpirules.cli import run
from kpirules.errors import Problem
from kpirules.formula import FUNCTIONS
from kpirules.methods import METHODS
from kpirules.places import KEY_NAMES, place
from kpirules.words import ADJUSTMENT_KINDS, OUTCOME_KINDS, VALUES, language

ROOT = Path(__file__).resolve().parent.parent
DATA = {
    "metrics": {"rate": {"label": "差错率"}, "events": {"unit": "count"}},
    "categories": [
        {"id": "fund", "label": "基金监管", "indicators": [{"id": "err", "label": "审核差错率"}]},
        {"id": "svc", "indicators": [{"id": "sat"}, {"metric": "rate"}]},
    ],
    "tests": [{"name": "达标", "metrics": {"rate": "1%"}, "expect": {"total": 100}}],
}


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ((), ""),
        (
            ("categories", 0, "indicators", 0, "scoring"),
            "类别“基金监管” › 指标“审核差错率” › 计分方法",
        ),
        (("categories", 1, "indicators", 0, "weight"), "类别“svc” › 指标“sat” › 权重"),
        (("categories", 1, "indicators", 1, "target"), "类别“svc” › 第 2 个指标 › 目标"),
        (("metrics", "rate", "max"), "数据“差错率” › 上限（范围）"),
        (("metrics", "events"), "数据“events”"),
        (("tests", 0, "metrics", "rate"), "测试用例“达标” › 数据“差错率”"),
        (("tests", 0, "expect", "total"), "测试用例“达标” › 预期结果 › 总分"),
        (("data", "entity_column", 1), "数据文件的格式 › 对象那一列的列名 › 第 2 项"),
        (("wieght",), "“wieght”"),
        (("categories", 5, "label"), "第 6 个类别 › 名称"),
    ],
)
def test_path_in_words(path: tuple[str | int, ...], words: str) -> None:
    """A JSON path reads as the labels of what it points at."""
    assert place(DATA, path) == words


def test_without_a_document_items_are_named_by_position() -> None:
    """When the file could not be built, items are numbered and keys still named."""
    assert (
        place(None, ("categories", 0, "indicators", 2, "weight"))
        == "第 1 个类别 › 第 3 个指标 › 权重"
    )


def test_key_names_are_the_guides_glossary() -> None:
    """Each key's Chinese name is the ruleset guide's (section 十五), up to its first "；"."""
    guide = (ROOT / "docs" / "zh" / "ruleset-guide.md").read_text("utf-8")
    table = guide[guide.index("**键**（按字母排序）") : guide.index("**取值**")]
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", table, re.M)
    assert {k: v.strip().split("；")[0].replace("`", "") for k, v in rows} == dict(KEY_NAMES)


def test_problem_line_in_chinese_and_in_english() -> None:
    """A problem reads 错误/警告 with its code and place; --lang en keeps the earlier line."""
    problem = Problem(
        "a.yaml",
        25,
        18,
        "$.categories[0].weight",
        "error",
        "权重不能为负数",
        code="KR341",
        where="类别“基金监管” › 权重",
    )
    assert str(problem) == "a.yaml:25:18: 错误 KR341：类别“基金监管” › 权重：权重不能为负数"
    warning = Problem("a.yaml", 1, 1, "$", "warning", "注意", "改一下", code="KR355")
    assert str(warning) == "a.yaml:1:1: 警告 KR355：注意（改一下）"
    with language("en"):
        assert str(problem) == "a.yaml:25:18: error: $.categories[0].weight: 权重不能为负数"
    assert problem.as_dict()["path"] == "$.categories[0].weight"
    assert problem.as_dict()["where"] == "类别“基金监管” › 权重"


def test_json_output_keeps_the_path() -> None:
    """validate --format json gives the JSON path and, beside it, the place in words."""
    out, err = StringIO(), StringIO()
    broken = ROOT / "tests" / "fixtures" / "invalid" / "scheme_a_faithful.yaml"
    assert run(["validate", str(broken), "--format", "json"], out, err) == 1
    assert '"path": "$.categories[1]"' in out.getvalue()
    assert '"where": "类别“医保业务管理”"' in out.getvalue()


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
#: Words of the ruleset language itself (keys and values): not the user's ids, so never shown.
VOCABULARY = (
    set(KEY_NAMES)
    | set(OUTCOME_KINDS)
    | set(ADJUSTMENT_KINDS)
    | set(VALUES)
    | set(METHODS)
    | set(MODES)
) - {"total", "raw_total"}
#: Words a condition or formula may contain besides the user's ids.
FORMULA_WORDS = {"and", "or", "not", "if", "else", *FUNCTIONS}
_HASH = re.compile(r"[0-9a-f]{64}")


def _outputs() -> list[tuple[list[str], list[Path]]]:
    a, a_csv = ROOT / "rulesets" / "a-office-annual.yaml", ROOT / "examples" / "a-offices-2026.csv"
    deposit = ROOT / "examples" / "deposit-refund.yaml"
    deposit_csv = ROOT / "examples" / "deposit-refund-2026.csv"
    old, new = (
        ROOT / "examples" / "family" / "a-office-2026.yaml",
        ROOT / "examples" / "family" / "a-office-2027.yaml",
    )
    rulesets = sorted((ROOT / "rulesets").glob("*.yaml"))
    return [
        (["validate", str(ROOT / "rulesets")], rulesets),
        (["score", str(a), str(a_csv)], [a, a_csv]),
        (["score", str(a), str(a_csv), "--format", "csv"], [a, a_csv]),
        (["explain", str(a), str(a_csv)], [a, a_csv]),
        (["explain", str(deposit), str(deposit_csv)], [deposit, deposit_csv]),
        (["score", str(deposit), str(deposit_csv)], [deposit, deposit_csv]),
        (["test", str(ROOT / "rulesets")], rulesets),
        (["diff", str(old), str(new), "--metrics", str(a_csv)], [old, new, a_csv]),
    ]


@pytest.mark.parametrize(
    ("argv", "inputs"),
    _outputs(),
    ids=lambda v: (
        " ".join(map(str, v))[-40:] if isinstance(v, list) and v and isinstance(v[0], str) else ""
    ),
)
def test_default_output_has_no_english_word(argv: list[str], inputs: list[Path]) -> None:
    """Every command's default output on the shipped examples shows no English word but the
    ids and formulas the user wrote, file names, the program's name and the fingerprint."""
    out, err = StringIO(), StringIO()
    assert run(argv, out, err) == 0
    text = _HASH.sub("", out.getvalue() + err.getvalue())
    written: set[str] = set()
    for path in inputs:
        written.update(_WORD.findall(path.read_text("utf-8")))
    written = (written - VOCABULARY) | FORMULA_WORDS | {"kpirules", "sha256"}
    for arg in argv:
        written.update(_WORD.findall(arg))
    stray = {w for w in _WORD.findall(text) if w.rstrip(".-") not in written and "." not in w}
    assert stray == set()


def test_english_words_are_caught() -> None:
    """The check above would see an outcome kind or a decimal context if one leaked."""
    a, a_csv = ROOT / "rulesets" / "a-office-annual.yaml", ROOT / "examples" / "a-offices-2026.csv"
    out = StringIO()
    assert run(["--lang", "en", "explain", str(a), str(a_csv)], out, StringIO()) == 0
    written = set(_WORD.findall(a.read_text("utf-8") + a_csv.read_text("utf-8"))) - VOCABULARY
    assert {"honour", "prec", "ROUND_HALF_EVEN"} <= set(_WORD.findall(out.getvalue())) - written
    assert kpirules.__version__ in out.getvalue()
