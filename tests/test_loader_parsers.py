"""libyaml's C parser and PyYAML's own give the very same documents, positions and problems."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpirules import composer
from kpirules.errors import Problem
from kpirules.loader import Document, Position, load_yaml

ROOT = Path(__file__).resolve().parent.parent
YAML_FILES = sorted(
    path
    for folder in ("tests/fixtures", "rulesets", "examples", "benchmarks/models", "docs/zh")
    for path in (ROOT / folder).rglob("*.yaml")
)

pytestmark = pytest.mark.skipif(composer.CParser is None, reason="PyYAML was built without libyaml")


def load_with(
    parser: str, path: str | Path, text: str | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[Document | None, list[Problem]]:
    with monkeypatch.context() as m:
        m.setattr(composer, "YAML_PARSER", parser)
        return load_yaml(path, text=text)


def both(
    path: str | Path, monkeypatch: pytest.MonkeyPatch, text: str | None = None
) -> tuple[Document | None, list[Problem]]:
    """Load with each parser, check they agree, return libyaml's answer."""
    fast = load_with("c", path, text, monkeypatch)
    assert fast == load_with("python", path, text, monkeypatch)
    return fast


class Fallbacks:
    """Counts the texts handed to PyYAML's parser while the C parser is selected."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = composer._Composer
        outer = self

        class Counting(original):  # type: ignore[misc, valid-type]
            def __init__(self, stream: str) -> None:
                outer.count += 1
                super().__init__(stream)

        monkeypatch.setattr(composer, "_Composer", Counting)


def test_there_are_fixtures() -> None:
    """The differential test below really walks the repository's YAML files."""
    assert len(YAML_FILES) > 80
    assert any(p.name == "scheme_a_faithful.yaml" for p in YAML_FILES)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_loads_the_same_with_both_parsers(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data, every value's and key's position, and every problem are identical."""
    both(path, monkeypatch)


def test_shipped_rulesets_are_read_by_the_c_parser_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clean rulesets never fall back to the slower parser (so the fast path is tested)."""
    fallbacks = Fallbacks(monkeypatch)
    monkeypatch.setattr(composer, "YAML_PARSER", "c")
    shipped = sorted((ROOT / "rulesets").glob("*.yaml"))
    for path in shipped:
        doc, problems = load_yaml(path)
        assert doc is not None
        assert problems == []
    assert len(shipped) >= 8
    assert fallbacks.count == 0


def test_chinese_text_is_located_in_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns count characters, not UTF-8 bytes, on Chinese and emoji lines alike."""
    fallbacks = Fallbacks(monkeypatch)
    text = "标题: 医保办考核\n目标: [≥ 95%, 甲乙]\n说明: {😀😀: 是, 第二: 否}\n"
    doc, problems = both("t.yaml", monkeypatch, text)
    assert problems == []
    assert doc is not None
    assert doc.position(("标题",)) == Position(1, 5)
    assert doc.position(("目标", 1)) == Position(2, 13)
    assert doc.key_position(("说明", "第二")) == Position(3, 13)
    assert doc.position(("说明", "第二")) == Position(3, 17)
    assert fallbacks.count == 1  # only the Python run of both()


@pytest.mark.parametrize(
    ("text", "falls_back"),
    [
        ("a: 1\r\nb:\r\n  - 甲\r\n  - 乙\r\n", False),  # Windows line ends
        ("a: 1\rb: 2\r", False),  # old Mac line ends
        ("a:\n  b: 1", False),  # no final line break (Notepad)
        ("a:\n- x\n-", False),
        ("a:\n  ? b", True),  # ... with an empty value placed at its very end
        ("---", True),
        ("a: {b: , c: 1}\n", True),  # empty value in a flow mapping
        ("a: [b: , c]\n", True),
        ("a: \ufeff1\n\ufeffb: 2\n", True),  # byte-order marks inside the text
        ("a: x\x85y\n", True),
        ("a: x\u2028y\n", True),
        ("a:\tb\n", True),  # tab after the colon
        ("a: |#c\n  x\n", True),  # comment glued to a block indicator
        ("a: {!t,\n  b: 1}\n", True),  # tag before a comma
        ("a: 1\n b: 2\n", True),  # syntax errors: PyYAML's messages are the reference
        ("target: >= 95%\n", True),
        ('a: "open\n', True),
        ("b: [1, 2\nc: 3\n", True),
        ("[" * 50 + "]" * 50 + "\n", True),  # too deep
        ("a: &x 1\nb: *x\n", True),  # anchors, aliases, tags: problems PyYAML's parser reports
        ("c: !!str 2\n", True),
        ("a: 1\na: 2\n", False),  # duplicate key
        ("a: 1\n---\nb: 2\n", True),  # two documents
        ("---\n", False),
        ("? a\n", False),
        ("a:\n", False),
        ("- \n- a\n", False),
        ("a: >-\n  折叠\n  文本\n\n  段落\n", False),
        ("a: '单引号''里'\nb: \"双\\t引号\\u4e2d\"\n", False),
    ],
)
def test_texts_the_parsers_read_differently(
    text: str, falls_back: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where libyaml would differ, PyYAML's parser reads the text; elsewhere libyaml does."""
    fallbacks = Fallbacks(monkeypatch)
    both("t.yaml", monkeypatch, text)
    assert fallbacks.count == 1 + falls_back


def test_syntax_error_message_is_pyyaml_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """A syntax error found by libyaml is worded and located as PyYAML's parser does."""
    _, problems = both("t.yaml", monkeypatch, "a: 1\nb: [1, 2\nc: 3\n")
    assert [str(p) for p in problems] == [
        "t.yaml:2:4: 错误 KR110：YAML 格式错误：方括号 [ ] 没有闭合或缺少逗号（检查方括号是否成对）"
    ]


@pytest.mark.parametrize(("value", "chosen"), [("python", "python"), ("", "c"), ("c", "c")])
def test_parser_chosen_by_environment(value: str, chosen: str) -> None:
    """KPIRULES_YAML_PARSER=python selects PyYAML's parser when the loader is imported."""
    code = "from kpirules.composer import parser_in_use; print(parser_in_use())"
    env = {**os.environ, "KPIRULES_YAML_PARSER": value}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == chosen + "\n"


TOKENS = [
    "a", "b1", "中文", "😀", "1.5", "true", "~", "'q'", '"d\\n"', "'", '"', "[", "]", "{", "}",
    ",", ":", ": ", "-", "- ", "? ", "#c", " #c", "&x", "*x", "!t", "|", ">", "|-", ">+",
    "---", "...", " ", "  ", "：", "\t", "\ufeff",
]  # fmt: skip
LINE = st.builds(
    lambda indent, parts: " " * indent + "".join(parts),
    st.sampled_from([0, 0, 1, 2, 2, 4]),
    st.lists(st.sampled_from(TOKENS), max_size=6),
)


@given(
    st.lists(LINE, min_size=1, max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
)
def test_parsers_agree_on_random_texts(lines: list[str], newline: str, final: bool) -> None:
    """On any text (YAML or not), the two parsers give identical documents and problems."""
    text = newline.join(lines) + (newline if final else "")
    with pytest.MonkeyPatch.context() as m:
        assert load_with("c", "t.yaml", text, m) == load_with("python", "t.yaml", text, m)
