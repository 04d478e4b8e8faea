"""Compose YAML nodes from a parser's events, refusing anchors, aliases and tags.

Two parsers give the events: libyaml's C parser, when PyYAML has it (:data:`YAML_PARSER`),
and PyYAML's own (pure Python) parser. Both give the same nodes at the same positions: a
text that libyaml reads otherwise than PyYAML (:data:`_PYTHON_ONLY` and the empty values
:meth:`_CComposer.compose_node` recognises), and any text with a problem, is parsed by
PyYAML's parser, whose positions and messages are the reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, cast

import yaml
from yaml.composer import Composer
from yaml.error import Mark
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import Reader
from yaml.resolver import Resolver

MAX_DEPTH = 40

_PathKey = tuple[str | int, ...]
_STR = Resolver.DEFAULT_SCALAR_TAG
_SEQ = Resolver.DEFAULT_SEQUENCE_TAG
_MAP = Resolver.DEFAULT_MAPPING_TAG

#: libyaml's parser, when PyYAML was built with it (its wheels are).
CParser: Any = yaml.cyaml.CParser if yaml.__with_libyaml__ else None  # type: ignore[attr-defined]

#: The YAML parser in use: ``"c"`` (libyaml, the default when PyYAML has it) or ``"python"``
#: (PyYAML's own; chosen with the environment variable ``KPIRULES_YAML_PARSER=python``).
YAML_PARSER = (
    "python"
    if CParser is None or os.environ.get("KPIRULES_YAML_PARSER", "").strip().lower() == "python"
    else "c"
)
# What libyaml reads otherwise than PyYAML: it skips a byte-order mark at the start of any
# line, takes a tab for a space where PyYAML refuses it, ends a tag at a comma, and allows a
# comment right after ``|`` or ``>``; the line breaks NEL, LS and PS are left to one parser.
_PYTHON_ONLY = re.compile("[\t\ufeff\x85\u2028\u2029]|[|>][-+0-9]*#|(?:^|[\\s\\[\\]{},:])!")


def parser_in_use() -> str:
    """``"c"`` when texts are parsed by libyaml, ``"python"`` when by PyYAML's own parser."""
    return "c" if YAML_PARSER == "c" and CParser is not None else "python"


class TooDeepError(Exception):
    """Raised inside the composer when going on would be unsafe (too deep)."""

    def __init__(self, problem_args: tuple[int, int, str]) -> None:
        super().__init__(problem_args[2])
        self.args_ = problem_args


class _ParsersDifferError(Exception):
    """libyaml reads or places this text otherwise than PyYAML: PyYAML's parser reads it."""


class _Checks:
    """Composing (over either parser) that records anchors, aliases and tags, unhonoured."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML class attribute
    peek_event: Callable[[], Any]
    get_event: Callable[[], Any]

    def _start(self) -> None:
        self.found: list[tuple[int, int, str, _PathKey, str]] = []
        self.depth = 0
        self.path: list[str | int] = []

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        line, col = event.start_mark.line + 1, event.start_mark.column + 1
        # PyYAML passes the key node (mappings) or the position (sequences) as ``index``.
        step: str | int | None = None
        if isinstance(index, ScalarNode):
            step = index.value
        elif isinstance(index, int) and not isinstance(index, bool):
            step = index
        if step is not None:
            self.path.append(step)
        try:
            return self._compose(parent, index, event, line, col)
        finally:
            if step is not None:
                self.path.pop()

    def _note(self, line: int, col: int, message: str, code: str) -> None:
        self.found.append((line, col, message, tuple(self.path), code))

    def _compose(self, parent: Node | None, index: Any, event: Any, line: int, col: int) -> Node:
        if isinstance(event, AliasEvent):
            self.get_event()
            self._note(
                line, col, f"不支持别名 *{event.anchor}：请把要复用的内容直接写出来", "KR113"
            )
            mark = cast(Mark, event.start_mark)
            return ScalarNode("tag:yaml.org,2002:null", "", mark, mark)
        if isinstance(event, ScalarEvent | CollectionStartEvent):
            if event.anchor is not None:
                self._note(
                    line, col, f"不支持锚点 &{event.anchor}：请把要复用的内容直接写出来", "KR114"
                )
                event.anchor = None
            if event.tag is not None:
                self._note(
                    line,
                    col,
                    f"不支持标签 {_tag_as_written(event.tag)}：请删除它，按普通值书写",
                    "KR115",
                )
                event.tag = None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooDeepError((line, col, f"嵌套层数超过 {MAX_DEPTH} 层：文件结构过深"))
        try:
            node: Node = super().compose_node(parent, index)  # type: ignore[misc]
            return node
        finally:
            self.depth -= 1


class _Composer(_Checks, yaml.SafeLoader):
    """The composer over PyYAML's own (pure Python) parser."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._start()


class _CComposer(_Checks, Composer, Resolver, CParser or object):  # type: ignore[misc]
    """The same composer over libyaml's parser (its events, this module's nodes)."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        Composer.__init__(self)
        Resolver.__init__(self)
        self._start()
        self._text = stream
        self._flow = 0
        self._open_end = not stream.endswith(("\n", "\r"))

    def get_single_node(self) -> Node | None:
        try:
            return super().get_single_node()
        except Exception:
            # Whatever libyaml finds fault with is reported as PyYAML's parser words it.
            fallback = _Composer(self._text)
            try:
                node = fallback.get_single_node()
            finally:
                fallback.dispose()
            self.found = fallback.found
            return node

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # _Checks.compose_node and Composer.compose_node in one frame, for clean texts only:
        # anchors, aliases, tags and excess depth are problems PyYAML's parser then reports.
        event = self.get_event()
        kind = event.__class__
        if (
            kind is AliasEvent
            or event.anchor is not None
            or event.tag is not None
            or self.depth >= MAX_DEPTH
        ):
            raise _ParsersDifferError
        if kind is ScalarEvent:
            style = event.style or None  # libyaml's plain style is "", PyYAML's None
            # An empty value is placed after its colon by PyYAML, at the next token by libyaml,
            # in flow collections ({a: , b: 1}); and libyaml ends a text that has no final
            # line break on a new line.
            if not (style or event.value) and (
                self._flow or (self._open_end and not event.start_mark.column)
            ):
                raise _ParsersDifferError
            return ScalarNode(_STR, event.value, event.start_mark, event.end_mark, style)
        flow = event.flow_style is True
        self._flow += flow
        self.depth += 1
        node: SequenceNode | MappingNode
        if kind is SequenceStartEvent:
            node = SequenceNode(_SEQ, [], event.start_mark, None, event.flow_style)
            items = node.value
            while self.peek_event().__class__ is not SequenceEndEvent:
                items.append(self.compose_node(node, len(items)))
        else:
            node = MappingNode(_MAP, [], event.start_mark, None, event.flow_style)
            pairs = node.value
            while self.peek_event().__class__ is not MappingEndEvent:
                key = self.compose_node(node, None)
                pairs.append((key, self.compose_node(node, key)))
        node.end_mark = self.get_event().end_mark
        self.depth -= 1
        self._flow -= flow
        return node


def composer_for(text: str) -> _Composer | _CComposer:
    """A composer over the parser in use; texts libyaml may read otherwise go to PyYAML's."""
    if (
        parser_in_use() == "python"
        or _PYTHON_ONLY.search(text)
        or Reader.NON_PRINTABLE.search(text)  # PyYAML's reader names the character
    ):
        return _Composer(text)
    return _CComposer(text)


def _tag_as_written(tag: str) -> str:
    """``tag:yaml.org,2002:str`` back to ``!!str``, as the user typed it."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag
