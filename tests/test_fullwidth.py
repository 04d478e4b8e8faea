"""Full-width punctuation typed where YAML needs the ASCII sign is named where it was typed."""

from __future__ import annotations

import pytest

import kpirules
from kpirules import fullwidth

HEAD = 'kpirules: 1\nid: t\ntitle: 测试\nversion: "1"\nsource: 测试文件\n'


def lines_of(text: str) -> list[str]:
    _, problems = kpirules.check("t.yaml", text=text)
    return [str(p) for p in problems]


def test_full_width_colon_after_a_key_is_named_on_its_own_line() -> None:
    """`weighting：points` is reported at line 6, column 10, not at the next line."""
    text = HEAD + "weighting：points\nin_force: {from: 2026-01-01}\n"
    assert lines_of(text) == [
        "t.yaml:6:10: 错误 KR110：YAML 格式错误：第 6 行第 10 列是全角冒号“：”，"
        "YAML 在这里要求英文冒号“:”（把“：”改为英文冒号，冒号后加一个空格，如 weight: 20）"
    ]


def test_full_width_colon_inside_a_list_item() -> None:
    """A full-width colon in `- id：c` is found although PyYAML stops elsewhere."""
    text = HEAD + "categories:\n  - id：c\n    label: 类\n"
    [line] = lines_of(text)
    assert line.startswith("t.yaml:7:7: 错误 KR110：YAML 格式错误：第 7 行第 7 列是全角冒号“：”")


def test_full_width_quotes_around_a_value() -> None:
    """`label: “达标: 满分”` names the opening quote and says to use ASCII quotes."""
    text = HEAD + "label: “达标: 满分”\n"
    assert lines_of(text) == [
        "t.yaml:6:8: 错误 KR110：YAML 格式错误：第 6 行第 8 列是全角引号““”，"
        'YAML 在这里要求英文引号“"”（改为英文引号 "…"，或去掉引号）'
    ]


def test_full_width_closing_bracket_of_a_list() -> None:
    """`[6, 10】` names the full-width closing bracket."""
    text = HEAD + "points: [6, 10】\nweighting: points\n"
    [line] = lines_of(text)
    assert line == (
        "t.yaml:6:15: 错误 KR110：YAML 格式错误：第 6 行第 15 列是全角方括号“】”，"
        "YAML 在这里要求英文方括号“]”（改为英文“]”，列表如 [6, 10]，映射如 {from: 90}）"
    )


def test_list_written_in_full_width_brackets_gets_a_hint() -> None:
    """`points: （0，100）` is text where a list is needed: the hint shows the ASCII form."""
    path = ("categories", 0, "indicators", 0, "scoring", "segments", 0, "points")
    text = (
        HEAD
        + "in_force: {from: 2026-01-01}\nweighting: points\n"
        + "metrics:\n  r: {label: 率, unit: percent}\n"
        + "categories:\n  - id: c\n    label: 类\n    weight: 100\n    indicators:\n"
        + "      - {id: i, label: 项, metric: r, weight: 100, scoring: {method: linear,"
        + " segments: [{from: 0%, to: 100%, points: （0，100）}]}}\n"
    )
    _, problems = kpirules.check("t.yaml", text=text)
    [problem] = problems
    assert (problem.code, problem.path) == (
        "KR206",
        "$."
        + ".".join(f"{p}" if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "["),
    )
    assert problem.suggestion == (
        "列表用英文方括号和英文逗号，如 points: [6, 10]；括号只是文字时给整个值加英文引号"
    )


@pytest.mark.parametrize(
    "line",
    ["label: 达标：满分", "source: 《通知》（2026）", "- 第一条：按时报送", "# 注释：说明"],
)
def test_full_width_signs_inside_text_are_left_alone(line: str) -> None:
    """Full-width signs inside a value or a comment are ordinary text."""
    assert fullwidth.find(line + "\n", 1) is None
