"""The YAML loader: exact numbers, no YAML 1.1 surprises, every trap in pitfalls.md refused."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kpirules import composer
from kpirules.loader import MAX_DEPTH, MAX_FILE_BYTES, Position, json_path, load_yaml

#: These tests pin the earlier message wording (``--lang en``); the Chinese form is
#: checked in test_places.py and by the negative fixtures.
pytestmark = pytest.mark.usefixtures("english_text")


@pytest.fixture(autouse=True, params=["c", "python"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with libyaml's parser and with PyYAML's own."""
    if request.param == "c" and composer.CParser is None:
        pytest.skip("PyYAML was built without libyaml")
    monkeypatch.setattr(composer, "YAML_PARSER", request.param)
    assert composer.parser_in_use() == request.param
    return str(request.param)


def load(text: str) -> tuple[object, list[str]]:
    doc, problems = load_yaml("t.yaml", text=text)
    return (doc.data if doc else None), [str(p) for p in problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x: 1.10", Decimal("1.10")),
        ("x: 20", Decimal(20)),
        ("x: -3", Decimal(-3)),
        ("x: 0.1", Decimal("0.1")),
        ("x: 1e3", Decimal("1e3")),
        ("x: true", True),
        ("x: false", False),
        ("x: null", None),
        ("x: ~", None),
        ("x:", None),
    ],
)
def test_scalars_that_are_values(text: str, expected: object) -> None:
    """Numbers become Decimal from their exact text; only true/false/null are special."""
    data, problems = load(text)
    assert problems == []
    assert isinstance(data, dict)
    assert data["x"] == expected
    assert type(data["x"]) is type(expected)


@pytest.mark.parametrize(
    "word",
    [
        "no",
        "NO",
        "off",
        "yes",
        "on",
        "Y",
        "010",
        "0o10",
        "0x1F",
        "12:30",
        "1_000",
        ".inf",
        ".nan",
        "2024-01-05",
        "2%",
        "1,000",
        "True",
        "FALSE",
    ],
)
def test_yaml_1_1_traps_stay_text(word: str) -> None:
    """YAML 1.1 booleans, octal, sexagesimal, underscores, infinities and dates stay text."""
    data, problems = load(f"x: {word}")
    assert problems == []
    assert data == {"x": word}


def test_quoted_numbers_stay_text() -> None:
    """A quoted number is text: the policy officer asked for text."""
    data, _ = load('x: "2026"')
    assert data == {"x": "2026"}


def test_duplicate_key_names_both_lines() -> None:
    """PyYAML keeps the last duplicate silently; we refuse it, naming the first line."""
    _, problems = load("a: 1\nb: 2\na: 3\n")
    assert problems == [
        "t.yaml:3:1: error: $.a: 重复的键 “a”（第 1 行已出现过）：删除或改名其中一个"
    ]


def test_nested_duplicate_key() -> None:
    """Duplicates are found at any depth, with the full path."""
    _, problems = load("m:\n  x:\n    label: a\n    label: b\n")
    assert problems == [
        "t.yaml:4:5: error: $.m.x.label: 重复的键 “label”（第 3 行已出现过）：删除或改名其中一个"
    ]


def test_anchor_and_alias_refused() -> None:
    """Anchors and aliases are refused, so an alias bomb never expands."""
    _, problems = load("a: &x [1, 2]\nb: *x\n")
    assert problems == [
        "t.yaml:1:4: error: $.a: 不支持锚点 &x：请把要复用的内容直接写出来",
        "t.yaml:2:4: error: $.b: 不支持别名 *x：请把要复用的内容直接写出来",
    ]


def test_billion_laughs_is_fast_and_refused() -> None:
    """The classic alias bomb loads as nothing expanded, with problems reported."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    data, problems = load("\n".join(lines))
    assert len(problems) == 9 + 8 * 9
    assert isinstance(data, dict)
    assert data["i"][0] is None


def test_merge_key_refused() -> None:
    """Merge keys are refused with their line."""
    _, problems = load("base: {a: 1}\nx:\n  <<: {a: 2}\n  b: 1\n")
    assert problems == ["t.yaml:3:3: error: $.x: 不支持合并键 <<：请把要复用的内容直接写出来"]


def test_explicit_tags_refused() -> None:
    """Explicit tags (including Python object tags) are refused, not constructed."""
    _, problems = load("a: !!str 5\nb: !!python/object:os.system ls\n")
    assert problems == [
        "t.yaml:1:4: error: $.a: 不支持标签 !!str：请删除它，按普通值书写",
        "t.yaml:2:4: error: $.b: 不支持标签 !!python/object:os.system：请删除它，按普通值书写",
    ]


def test_deep_nesting_capped() -> None:
    """Nesting beyond the cap is one clear error, never a RecursionError."""
    text = "[" * 5000 + "]" * 5000
    data, problems = load(text)
    assert data is None
    assert problems == [
        f"t.yaml:1:{MAX_DEPTH + 1}: error: $: 嵌套层数超过 {MAX_DEPTH} 层：文件结构过深"
    ]


def test_file_size_capped(tmp_path: Path) -> None:
    """A file over the size cap is refused before it is parsed."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * (MAX_FILE_BYTES // 5 + 10))
    doc, problems = load_yaml(big)
    assert doc is None
    assert problems[0].message.startswith("文件过大")


def test_utf8_bom_accepted(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark (Windows Notepad) is accepted."""
    f = tmp_path / "bom.yaml"
    f.write_bytes("\ufefftitle: 考核\n".encode())
    doc, problems = load_yaml(f)
    assert problems == []
    assert doc is not None
    assert doc.data == {"title": "考核"}


def test_gbk_file_named(tmp_path: Path) -> None:
    """A GBK file from Chinese Windows gets a message saying so, with the line."""
    f = tmp_path / "gbk.yaml"
    f.write_bytes("id: x\ntitle: 医保办考核\n".encode("gbk"))
    doc, problems = load_yaml(f)
    assert doc is None
    assert [str(p) for p in problems] == [
        f"{f}:2:8: error: $: 文件不是 UTF-8 编码，看起来是 GBK/GB18030（中文 Windows 记事本或 Excel 的默认编码）（请用编辑器另存为“UTF-8”编码后再试）"
    ]


def test_utf16_named(tmp_path: Path) -> None:
    """A UTF-16 file is named as such."""
    f = tmp_path / "u16.yaml"
    f.write_bytes("a: 1\n".encode("utf-16"))
    _, problems = load_yaml(f)
    assert [p.message for p in problems] == ["文件是 UTF-16 编码：请另存为 UTF-8 编码"]


def test_empty_and_comment_only_files() -> None:
    """Empty files and files with only comments are one error each."""
    for text in ("", "   \n", "# 只有注释\n"):
        data, problems = load(text)
        assert data is None
        assert problems == ["t.yaml:1:1: error: $: 文件为空"]


def test_syntax_error_located() -> None:
    """A YAML syntax error names its line and column and hints at the usual causes."""
    _, problems = load("a: 1\nb: [1, 2\nc: 3\n")
    assert problems == [
        "t.yaml:2:4: error: $: YAML 格式错误：方括号 [ ] 没有闭合或缺少逗号（检查方括号是否成对）"
    ]


def test_target_starting_with_greater_than_is_a_located_error() -> None:
    """`target: >= 95%` is a YAML block-scalar trap; it must not pass silently."""
    _, problems = load("target: >= 95%\n")
    assert problems == [
        't.yaml:1:10: error: $: YAML 格式错误：以 > 或 | 开头的值会被当作多行文本（目标请写 ≥ 95%，或给整个值加引号，如 ">= 95%"）'
    ]


def test_binary_garbage() -> None:
    """Control characters are a located error, not a traceback."""
    _, problems = load("a: \x00\x01\x02")
    assert len(problems) == 1
    assert problems == [
        "t.yaml:1:4: error: $: 文件含有不可见的控制字符（#x0000）：这不是一个文本文件，或已损坏"
    ]


def test_positions_are_one_based() -> None:
    """Every value and key keeps its 1-based line and column."""
    doc, _ = load_yaml("t.yaml", text="a:\n  b: [1, 2]\n  c: x\n")
    assert doc is not None
    assert doc.position(("a", "b", 1)) == Position(2, 10)
    assert doc.position(("a", "c")) == Position(3, 6)
    assert doc.key_position(("a", "c")) == Position(3, 3)
    assert doc.position(("a", "zzz")) == Position(2, 3)


def test_json_path_rendering() -> None:
    """Paths render as $.a[0].b, quoting keys that are not identifiers."""
    assert (
        json_path(("categories", 1, "indicators", 0, "weight"))
        == "$.categories[1].indicators[0].weight"
    )
    assert json_path(("metrics", "审核差错率")) == "$.metrics.审核差错率"
    assert json_path(("tests", 0, "a b")) == "$.tests[0]['a b']"
