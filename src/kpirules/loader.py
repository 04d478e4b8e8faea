"""Read a YAML file into plain data with exact numbers and a source position for every value.

PyYAML's own resolvers follow YAML 1.1: ``no`` becomes False, ``010`` becomes 8,
``12:30`` becomes 750 and ``2024-01-05`` a date. Policy staff never mean any of that, so
this loader composes the node graph and builds values itself:

* plain scalars that look like decimal numbers become :class:`decimal.Decimal` built from
  their exact text (``1.10`` stays ``Decimal('1.10')``);
* ``true``/``false`` become booleans and ``null``/``~``/empty become None;
* everything else, including ``no``, ``off``, ``010``, ``12:30``, ``1_000``, ``.inf`` and
  dates, stays the string that was written;
* duplicate keys, anchors, aliases, merge keys and explicit tags are reported as problems;
* file size and nesting depth are capped, a UTF-8 byte-order mark is accepted and a file
  in another encoding gets a message that says so.

Texts are parsed by libyaml's C parser when PyYAML has it, by PyYAML's own otherwise, with
the same nodes and positions either way (:mod:`kpirules.composer`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kpirules import fullwidth
from kpirules.characters import refused_character
from kpirules.composer import MAX_DEPTH as MAX_DEPTH  # re-exported: the nesting cap
from kpirules.composer import TooDeepError, composer_for
from kpirules.decoding import decode_ruleset as decode
from kpirules.errors import Problem
from kpirules.places import place
from kpirules.words import english

MAX_FILE_BYTES = 2 * 1024 * 1024
#: Numbers in a ruleset: at most this many digits before and after the decimal point.
MAX_DIGITS = 30

PathKey = tuple[str | int, ...]

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_LEADING_ZERO = re.compile(r"[-+]?0\d")
_NULLS = frozenset({"", "~", "null"})
_BOOLS = {"true": True, "false": False}


def json_path(path: PathKey) -> str:
    """Render a path key as ``$.a[0].b``; keys that are not identifiers are quoted."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[^\W\d]\w*", part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


@attrs.frozen
class Position:
    """A 1-based line and column in a source file.

    ``file`` is empty for the document's own file; a value brought in from another file by
    ``extends`` or ``include`` names that file, and ``via`` says how it was brought in
    (``由 b-leader.yaml:3 引入``).
    """

    line: int
    column: int
    file: str = ""
    via: str = ""


@attrs.frozen
class Document:
    """A loaded YAML document: its data and where each value and key came from."""

    file: str
    data: Any
    positions: dict[PathKey, Position]
    key_positions: dict[PathKey, Position]

    def position(self, path: PathKey) -> Position:
        """Position of the value at ``path``, or of its nearest located ancestor."""
        probe = tuple(path)
        while probe:
            found = self.positions.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return self.positions.get((), Position(1, 1))

    def key_position(self, path: PathKey) -> Position:
        """Position of the mapping key that holds ``path`` (the value's position if none)."""
        return self.key_positions.get(tuple(path)) or self.position(path)

    def problem(
        self,
        path: PathKey,
        message: str,
        *,
        severity: str = "error",
        suggestion: str | None = None,
        at_key: bool = False,
        code: str,
    ) -> Problem:
        """Build a problem located at the value (or key) at ``path``."""
        pos = self.key_position(path) if at_key else self.position(path)
        return Problem(
            file=pos.file or self.file,
            line=pos.line,
            column=pos.column,
            path=json_path(path),
            severity="warning" if severity == "warning" else "error",
            message=f"{message}（{pos.via}）" if pos.via else message,
            suggestion=suggestion,
            code=code,
            where=place(self.data, path),
        )


def load_yaml(
    source: str | Path, *, text: str | None = None
) -> tuple[Document | None, list[Problem]]:
    """Load one YAML file into a :class:`Document`.

    Args:
        source: the file's path (also used to name the file in problems).
        text: the file's text, when it is already in memory (``source`` then only names it).

    Returns:
        The document (None when nothing usable could be read) and every problem found.
    """
    file = str(source)
    if text is None:
        try:
            size = Path(source).stat().st_size
            if size > MAX_FILE_BYTES:
                return None, [
                    Problem(
                        file,
                        0,
                        0,
                        "$",
                        "error",
                        f"文件过大（{size} 字节，上限 {MAX_FILE_BYTES} 字节）",
                        code="KR103",
                    )
                ]
            raw = Path(source).read_bytes()
        except OSError as exc:
            return None, [
                Problem(file, 0, 0, "$", "error", f"无法读取文件：{exc.strerror}", code="KR105")
            ]
        decoded, problems = decode(raw, file)
        if decoded is None:
            return None, problems
        text = decoded
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            line = text.count("\n", 0, exc.start) + 1
            return None, [
                Problem(
                    file,
                    line,
                    0,
                    "$",
                    "error",
                    "文本含有无法编码的字符（孤立的代理项）",
                    code="KR106",
                )
            ]
    if size > MAX_FILE_BYTES:
        return None, [
            Problem(
                file, 0, 0, "$", "error", f"文件过大（上限 {MAX_FILE_BYTES} 字节）", code="KR104"
            )
        ]
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return None, [Problem(file, 1, 1, "$", "error", "文件为空", code="KR107")]

    try:
        composer = composer_for(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return None, [
            Problem(
                file,
                line,
                column,
                "$",
                "error",
                f"文件含有不可见的控制字符（#x{exc.character:04x}）：这不是一个文本文件，或已损坏",
                code="KR108",
            )
        ]
    try:
        root = composer.get_single_node()
    except TooDeepError as exc:
        line, col, message = exc.args_
        return None, [Problem(file, line, col, "$", "error", message, code="KR109")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if exc.context_mark is not None and context.startswith(
            ("while parsing a flow", "while scanning a quoted scalar")
        ):
            mark = exc.context_mark  # the bracket or quote that was never closed
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message, hint = _explain_syntax(exc)
        slip = fullwidth.find(text, line) if mark else None
        if slip is not None:  # a full-width sign typed for YAML's own: named where it is
            line, col, message, hint = slip.line, slip.column, slip.message, slip.hint
        return None, [
            Problem(file, line, col, "$", "error", f"YAML 格式错误：{message}", hint, code="KR110")
        ]
    except yaml.YAMLError as exc:
        return None, [Problem(file, 0, 0, "$", "error", f"YAML 格式错误：{exc}", code="KR111")]
    except RecursionError:
        return None, [Problem(file, 0, 0, "$", "error", "文件结构过深，无法读取", code="KR112")]
    finally:
        composer.dispose()

    if root is None:
        problems = [_problem(file, None, *found) for found in composer.found]
        return None, [*problems, Problem(file, 1, 1, "$", "error", "文件为空", code="KR107")]
    builder = _Builder(file)
    data = builder.build(root, ())
    problems = [_problem(file, data, *found) for found in (*composer.found, *builder.problems)]
    return Document(file, data, builder.positions, builder.key_positions), problems


_SYNTAX_HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "expected chomping or indentation indicators",
        "以 > 或 | 开头的值会被当作多行文本",
        '目标请写 ≥ 95%，或给整个值加引号，如 ">= 95%"',
    ),
    (
        "mapping values are not allowed here",
        "这里不能出现“键: 值”",
        "如果值本身含有“: ”，请给整个值加引号；否则检查缩进",
    ),
    ("could not find expected ':'", "缺少冒号“:”", "每个键后面写“: ”（冒号加空格）"),
    ("found character '\\t' that cannot start any token", "不能用 Tab 缩进", "请改用空格缩进"),
    ("expected ',' or ']'", "方括号 [ ] 没有闭合或缺少逗号", "检查方括号是否成对"),
    ("expected ',' or '}'", "花括号 { } 没有闭合或缺少逗号", "检查花括号是否成对"),
    ("found unexpected end of stream", "引号或括号没有闭合", "检查引号和括号是否成对"),
    ("but found another document", "文件中有多个文档（---）", "一个文件只写一个规则集"),
    (
        "did not find expected key",
        "缩进不一致或缺少“- ”",
        "同一层的键要对齐；列表的每一项以“- ”开头",
    ),
    (
        "did not find expected '-' indicator",
        "列表项的缩进不一致",
        "同一列表的各项“- ”要对齐",
    ),
    (
        "expected <block end>",
        "缩进不一致",
        "同一层的键要对齐，下一层比上一层多缩进两个空格（用空格，不用 Tab）",
    ),
    (
        "that cannot start any token",
        "这个字符不能出现在值的开头",
        '给整个值加英文引号，如 "@某某"',
    ),
)


def _explain_syntax(exc: yaml.MarkedYAMLError) -> tuple[str, str]:
    """A Chinese description and fix for PyYAML's syntax messages (original kept as fallback)."""
    problem = exc.problem or ""
    for needle, message, hint in _SYNTAX_HINTS:
        if needle in problem or needle in (exc.context or ""):
            return message, hint
    if english():
        return problem or "无法解析", "检查这一行及上一行的缩进、冒号后的空格和引号是否成对"
    return "无法解析这一行", "检查这一行及上一行的缩进、冒号后的空格和引号是否成对"


def _reasonable(value: Decimal) -> bool:
    """Whether a number is of a size a ruleset can mean (no 1E+1000000)."""
    if not value.is_finite():
        return False
    if value.is_zero():
        return -MAX_DIGITS <= value.as_tuple().exponent <= MAX_DIGITS  # type: ignore[operator]
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return value.adjusted() < MAX_DIGITS and exponent >= -MAX_DIGITS


def scalar_value(node: ScalarNode) -> Any:
    """The value of a scalar node under kpirules' resolution rules."""
    text = node.value
    if node.style is not None:  # quoted or block scalars are always text
        return text
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _NUMBER.fullmatch(text) and not _LEADING_ZERO.match(text):
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
            return text
    return text


class _Builder:
    """Turns composed nodes into dicts, lists and scalars, recording positions."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[tuple[int, int, str, PathKey, str]] = []
        self.positions: dict[PathKey, Position] = {}
        self.key_positions: dict[PathKey, Position] = {}

    def build(self, node: Node, path: PathKey) -> Any:
        self.positions[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        value = scalar_value(node)
        if isinstance(value, str):
            # Block scalars (| and >) are free text over several lines: newlines are theirs.
            text = value.replace("\n", "") if node.style in ("|", ">") else value
            self._refuse_hidden(node, path, text, "文字")
        if isinstance(value, Decimal) and not _reasonable(value):
            self._add(
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                path,
                f"数值 {node.value} 超出可用范围（整数部分最多 {MAX_DIGITS} 位，小数最多 {MAX_DIGITS} 位）",
                "KR116",
            )
            return node.value
        return value

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            kline, kcol = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, ScalarNode):
                self._add(kline, kcol, path, "键必须是简单的文字，不能是列表或映射", "KR117")
                continue
            key = key_node.value
            if self._refuse_hidden(key_node, path, key, "键"):
                continue
            if key == "<<" and key_node.style is None:
                self._add(kline, kcol, path, "不支持合并键 <<：请把要复用的内容直接写出来", "KR118")
                continue
            if key in first_line:
                self._add(
                    kline,
                    kcol,
                    (*path, key),
                    f"重复的键 “{key}”（第 {first_line[key]} 行已出现过）：删除或改名其中一个",
                    "KR119",
                )
                continue
            first_line[key] = kline
            self.key_positions[(*path, key)] = Position(kline, kcol)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _refuse_hidden(self, node: Node, path: PathKey, text: str, what: str) -> bool:
        """Report a control or invisible character in ``text``; True when there is one."""
        problem = refused_character(text)
        if problem is None:
            return False
        self._add(
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            path,
            f"{what}{problem}：删除它（常见于从网页、聊天软件或其他系统复制来的文字）",
            "KR120",
        )
        return True

    def _add(self, line: int, col: int, path: PathKey, message: str, code: str) -> None:
        self.problems.append((line, col, message, path, code))


def _problem(
    file: str, data: Any, line: int, col: int, message: str, path: PathKey, code: str
) -> Problem:
    """A problem found while reading, located by the labels of the data read so far."""
    where = place(data, path)
    return Problem(file, line, col, json_path(path), "error", message, code=code, where=where)


def walk(data: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """Yield every (path, value) pair of plain loaded data, depth first."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk(value, (*path, i))
