"""Rulesets made of several files: ``extends:`` a base ruleset and ``include:`` fragments.

This stage sits between loading and validation. It takes the loaded main document, reads
the files it names (paths relative to the file that names them), and returns **one**
resolved document: plain ruleset data, without the composition keys, in which every value
keeps the position of the file it was written in (:class:`~kpirules.loader.Position`
carries that file and the chain of files that brought it in). Validation then checks the
resolved document as if it were one file, and its problems point into the right file.

Three kinds of file:

* a **ruleset** (the usual file) may write ``extends: base.yaml`` and ``include: [a.yaml]``;
* a **base ruleset** writes ``base: true``; it holds any part of a ruleset except the
  header (``id``, ``title``…) and ``tests``, may itself extend another base and include
  fragments, and cannot be scored on its own;
* a **fragment** writes ``fragment: metrics`` (or ``categories``, ``grades``, ``vetoes``,
  ``outcomes``, ``adjustments``) and that one section; it may include other fragments.

Nothing is overridden by accident: an item (by ``id``; a grade by ``grade``) that a file
defines again must say ``replace: true``, and an inherited setting (``rounding``,
``total_points``…) that a file sets again must be listed in ``replace: [rounding]``;
inherited items are dropped with ``remove: [id, …]``. Two included files may never define
the same item. Cycles and chains deeper than :data:`MAX_DEPTH` are refused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import attrs

from kpirules.errors import Problem
from kpirules.layers import (
    COMPOSE_KEYS,
    FRAGMENT_KINDS,
    Entry,
    Layer,
    assemble,
    drop,
    entry_ids,
    explode,
    nested_replaces,
    origins,
    tagged,
    take_replace,
)
from kpirules.loader import Document, PathKey, Position, json_path, load_yaml
from kpirules.model import SourceFile

#: How many files deep ``extends`` and ``include`` may go (the main file is level 1).
MAX_DEPTH = 8
_SECTION_WORDS = {
    "metrics": "指标数据",
    "categories": "类别",
    "vetoes": "否决项",
    "outcomes": "结果规则",
    "grades": "等级",
    "rules": "加减分规则",
}
_KIND_WORDS = {"ruleset": "规则集", "base": "基础规则集（base: true）", "fragment": "片段"}


@attrs.frozen
class Composed:
    """The resolved document, what kind of file the main file is, and where things came from.

    ``origins`` maps each item brought in from another file (``id``, or ``grade:NAME`` for
    a grade) to that file; ``files`` lists every file read, the main file first.
    """

    document: Document | None
    kind: str
    part: str
    files: tuple[SourceFile, ...]
    origins: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...]


def file_kind(data: object) -> str:
    """``base``, ``fragment`` or ``ruleset``, from a document's top-level keys."""
    if isinstance(data, dict):
        if "fragment" in data:
            return "fragment"
        if "base" in data:
            return "base"
    return "ruleset"


def uses_other_files(data: object) -> bool:
    """Whether a document names other files (``extends`` or ``include``)."""
    return isinstance(data, dict) and ("extends" in data or "include" in data)


def compose(doc: Document, *, text: str | None = None, read_files: bool = True) -> Composed:
    """Resolve ``doc`` (the main file) with every file it extends or includes.

    Args:
        doc: the loaded main file.
        text: the main file's text when it was checked from memory (its SHA-256 is then
            taken from it).
        read_files: False when no other file may be read (a text sent by a client):
            ``extends`` and ``include`` are then refused.

    Returns:
        The resolved document (None when composition failed) and every problem found.
    """
    raw = text.encode("utf-8") if text is not None else _read(doc.file)
    resolver = _Resolver(doc.file)
    resolver.files.append(SourceFile(doc.file, hashlib.sha256(raw).hexdigest()))
    kind = file_kind(doc.data)
    if not isinstance(doc.data, dict) or (kind == "ruleset" and not _has_compose_keys(doc.data)):
        return Composed(doc, kind, "", tuple(resolver.files), (), ())
    if not read_files and uses_other_files(doc.data):
        key = "extends" if "extends" in doc.data else "include"
        problem = doc.problem(
            (key,),
            f"{key} 引用了其他文件，但这段文本不是从文件读取的，无法找到被引用的文件",
            suggestion="请保存为文件，并与被引用的文件放在一起后再检查",
            code="KR129",
        )
        return Composed(None, kind, "", tuple(resolver.files), (), (problem,))
    resolver.chain.append(os.path.realpath(doc.file))
    layer = resolver.layer_of(doc, ())
    resolver.check_ids(doc.file, layer)
    document = assemble(doc, layer) if not resolver.failed() else None
    part = doc.data.get("fragment") if kind == "fragment" else ""
    return Composed(
        document,
        kind,
        part if isinstance(part, str) else "",
        tuple(resolver.files),
        tuple(origins(layer)),
        tuple(resolver.problems),
    )


def _has_compose_keys(data: dict[str, Any]) -> bool:
    if any(key in data for key in COMPOSE_KEYS):
        return True
    items = [*_items(data.get("categories")), *_items(data.get("vetoes"))]
    items += [*_items(data.get("outcomes")), *_items(data.get("grades"))]
    adj = data.get("adjustments")
    items += _items(adj.get("rules")) if isinstance(adj, dict) else []
    metrics = data.get("metrics")
    items += (
        [m for m in metrics.values() if isinstance(m, dict)] if isinstance(metrics, dict) else []
    )
    return any("replace" in item for item in items)


def _items(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _read(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError:
        return b""


def _named(key: str | None) -> str:
    """An item as a message names it: ``“attendance”``, or ``等级“优秀”`` for a grade."""
    text = str(key)
    return f"等级“{text[6:]}”" if text.startswith("grade:") else f"“{text}”"


def _shown(file: str, pos: Position) -> str:
    return f"{pos.file or file}:{pos.line}"


def _problem(
    file: str, pos: Position, path: PathKey, message: str, fix: str | None, code: str
) -> Problem:
    """A problem at ``pos`` (in its own file), with the chain that brought that file in."""
    return Problem(
        pos.file or file,
        pos.line,
        pos.column,
        json_path(path),
        "error",
        f"{message}（{pos.via}）" if pos.via else message,
        fix,
        code=code,
    )


def _kind_problems(doc: Document, kind: str) -> list[Problem]:
    """What a base or fragment file holds that its kind does not allow."""
    found: list[Problem] = []

    def err(path: PathKey, message: str, fix: str | None, *, at_key: bool = False) -> None:
        found.append(doc.problem(path, message, suggestion=fix, at_key=at_key, code="KR126"))

    data: dict[str, Any] = doc.data
    if kind == "base":
        if data.get("base") is not True:
            found.append(
                doc.problem(
                    ("base",),
                    "base 只能写 true",
                    suggestion="基础规则集写 base: true",
                    code="KR127",
                )
            )
        for key in ("tests", "fragment"):
            if key in data:
                err(
                    (key,),
                    f"基础规则集不能写 {key}",
                    "测试用例写在各个规则集中；片段与基础规则集分开写",
                    at_key=True,
                )
    if kind != "fragment":
        return found
    section = data.get("fragment")
    if section not in FRAGMENT_KINDS:
        err(
            ("fragment",),
            f"不认识的片段种类 {section}",
            "可用：" + "、".join(FRAGMENT_KINDS),
        )
        return found
    allowed = {"fragment", "include", "kpirules", "description", section}
    for key in data:
        if key not in allowed:
            err(
                (key,),
                f"片段（fragment: {section}）只能写 {section}，不能写 {key}",
                "其他内容放到另一个片段或基础规则集",
                at_key=True,
            )
    if section not in data:
        err((), f"片段声明为 fragment: {section}，但没有写 {section}", None)
    return found


class _Resolver:
    """Walks the files of one ruleset, merging each file's layer over what it inherits."""

    def __init__(self, main: str) -> None:
        self.main = main
        self.problems: list[Problem] = []
        self.files: list[SourceFile] = []
        self.chain: list[str] = []
        self.repeated: set[str] = set()

    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def layer_of(self, doc: Document, via: tuple[tuple[str, int], ...]) -> Layer:
        """The merged layer of ``doc``: its base, minus removals, its fragments, its own items."""
        data: dict[str, Any] = doc.data
        kind = file_kind(data)
        self.problems.extend(_kind_problems(doc, kind))
        layer = Layer()
        extends = data.get("extends")
        if "extends" in data:
            if kind == "fragment":
                self._err(
                    doc,
                    ("extends",),
                    "片段文件不能写 extends",
                    "片段只能 include 其他片段",
                    "KR126",
                )
            else:
                base = self._follow(doc, ("extends",), extends, via, "base")
                if base is not None:
                    layer = base
        self._remove(doc, layer)
        includes = data.get("include")
        if "include" in data and not isinstance(includes, list):
            self._err(
                doc, ("include",), "include 应写成文件的列表", "如 include: [grades.yaml]", "KR127"
            )
            includes = []
        for i, ref in enumerate(includes or []):
            part = self._follow(doc, ("include", i), ref, via, "fragment")
            if part is not None:
                self._merge_siblings(doc, layer, part)
        self._merge_own(doc, layer, explode(doc))
        return layer

    # -- following references -------------------------------------------------------

    def _follow(
        self,
        doc: Document,
        path: PathKey,
        ref: object,
        via: tuple[tuple[str, int], ...],
        wanted: str,
    ) -> Layer | None:
        key = path[0]
        if not isinstance(ref, str) or not ref.strip():
            self._err(doc, path, f"{key} 应写文件的相对路径，如 {key}: common.yaml", None, "KR127")
            return None
        rel = ref.strip().replace("\\", "/")
        if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":") or "://" in rel:
            self._err(
                doc,
                path,
                f"{key} 的路径 {ref} 不是相对路径",
                "写相对于本文件所在目录的路径",
                "KR127",
            )
            return None
        if not rel.endswith((".yaml", ".yml")):
            self._err(doc, path, f"{key} 引用的 {ref} 不是 .yaml 文件", None, "KR127")
            return None
        # normpath keeps the name as the ruleset writes it (b/../x.yaml → x.yaml), relative
        # to where the main file was named, without resolving links.
        target = os.path.normpath(str(Path(doc.file).parent / rel))
        real = os.path.realpath(target)
        if real in self.chain:
            loop = " → ".join([*(f for f, _ in via), doc.file, target])
            self._err(doc, path, f"循环引用：{loop}", f"删去其中一处 {key}", "KR122")
            return None
        if len(self.chain) >= MAX_DEPTH:
            self._err(
                doc,
                path,
                f"引用层数超过 {MAX_DEPTH} 层（{target}）",
                "减少 extends/include 的层数",
                "KR123",
            )
            return None
        if not Path(target).is_file():
            self._err(
                doc, path, f"找不到 {key} 引用的文件 {ref}（相对本文件所在目录）", None, "KR121"
            )
            return None
        chain = (*via, (doc.file, doc.position(path).line))
        text = "由 " + " → ".join(f"{f}:{line}" for f, line in chain) + " 引入"
        loaded, problems = load_yaml(target)
        self.files.append(SourceFile(target, hashlib.sha256(_read(target)).hexdigest()))
        if loaded is None or problems:
            self.problems.extend(
                attrs.evolve(p, message=f"{p.message}（{text}）") for p in problems
            )
            return None
        other = tagged(loaded, text, main=False)
        kind = file_kind(other.data)
        if kind != wanted:
            found = _KIND_WORDS[kind]
            self._err(
                doc,
                path,
                f"{key} 只能引用{_KIND_WORDS[wanted]}，{ref} 是{found}",
                "基础规则集写 base: true；片段写 fragment: metrics 等" if key else None,
                "KR126",
            )
            return None
        self.chain.append(real)
        try:
            return self.layer_of(other, chain)
        finally:
            self.chain.pop()

    # -- merging --------------------------------------------------------------------

    def _remove(self, doc: Document, layer: Layer) -> None:
        removes = doc.data.get("remove")
        if removes is None:
            return
        if not isinstance(removes, list):
            self._err(
                doc, ("remove",), "remove 应写成 id 的列表，如 remove: [attendance]", None, "KR127"
            )
            return
        for i, rid in enumerate(removes):
            if not isinstance(rid, str) or not drop(layer, rid):
                self._err(
                    doc,
                    ("remove", i),
                    f"remove 中的 “{rid}” 不是继承来的指标数据、类别、指标、否决项、加减分、结果规则或等级",
                    "检查拼写；等级写 grade:名称，如 grade:优秀",
                    "KR125",
                )

    def _merge_siblings(self, doc: Document, layer: Layer, part: Layer) -> None:
        layer.extras.update(part.extras)
        for name, entry in part.settings.items():
            if name in layer.settings:
                self._twice(doc, name, layer.settings[name], entry)
            else:
                layer.settings[name] = entry
        for section, entries in part.sections.items():
            mine = layer.sections.setdefault(section, [])
            keys = {e.key: e for e in mine if e.key is not None}
            for entry in entries:
                if entry.key is not None and entry.key in keys:
                    self._twice(doc, entry.key, keys[entry.key], entry)
                    continue
                mine.append(entry)
        for path, where in part.containers.items():
            layer.containers.setdefault(path, where)

    def _twice(self, doc: Document, key: str, first: Entry, second: Entry) -> None:
        if (first.where.file, first.where.line) == (second.where.file, second.where.line):
            # One fragment brought in twice (say by the base and again by this file): say so once.
            again = second.where.file or doc.file
            if again not in self.repeated:
                self.repeated.add(again)
                message = f"{again} 被引入了两次（{_named(key)} 等因而重复）"
                fix = "删去其中一处 include：继承的基础规则集已引入它时，本文件不必再引入"
                self.problems.append(
                    _problem(doc.file, second.where, second.path, message, fix, "KR124")
                )
            return
        message = (
            f"{_named(key)} 在两个被引入的文件中都有定义：{_shown(doc.file, first.where)} 和 "
            f"{_shown(doc.file, second.where)}"
        )
        self.problems.append(
            _problem(doc.file, second.where, second.path, message, "只在一个文件中定义它", "KR124")
        )

    def _merge_own(self, doc: Document, layer: Layer, own: Layer) -> None:
        replace = doc.data.get("replace")
        if replace is not None and not isinstance(replace, list):
            self._err(
                doc,
                ("replace",),
                "顶层的 replace 应写成设置名的列表，如 replace: [rounding]",
                None,
                "KR127",
            )
            replace = []
        listed = {r: i for i, r in enumerate(replace or []) if isinstance(r, str)}
        for name, i in listed.items():
            if name not in layer.settings or name not in own.settings:
                self._err(
                    doc,
                    ("replace", i),
                    f"replace 中的 {name} 不是本文件重新设置的继承设置",
                    "顶层 replace 只列出继承来、本文件又重新写了的设置（如 rounding）；"
                    "替换继承的条目请在条目中写 replace: true",
                    "KR125",
                )
        for name, entry in own.settings.items():
            if name in layer.settings and name not in listed:
                self._again(
                    doc,
                    entry,
                    layer.settings[name],
                    f"在顶层写 replace: [{name}]；否则删去这里的设置",
                )
                continue
            layer.settings[name] = entry
        layer.extras.update(own.extras)
        for section, entries in own.sections.items():
            self._merge_items(doc, layer, section, entries)
        for path, where in own.containers.items():
            layer.containers[path] = where

    def _merge_items(self, doc: Document, layer: Layer, section: str, entries: list[Entry]) -> None:
        mine = layer.sections.setdefault(section, [])
        index = {e.key: i for i, e in enumerate(mine) if e.key is not None}
        for entry in entries:
            flag = take_replace(entry)
            at = entry.kpos.get(("replace",)) or entry.where
            if flag is not None and flag is not True:
                self.problems.append(
                    _problem(
                        doc.file, at, (*entry.path, "replace"), "replace 只能写 true", None, "KR127"
                    )
                )
            if entry.key is not None and entry.key in index:
                if flag is True:
                    mine[index[entry.key]] = entry
                else:
                    fix = f"在该条目中写 replace: true；要去掉继承的那个请写 remove: [{entry.key}]；否则删去这里的定义"
                    self._again(doc, entry, mine[index[entry.key]], fix)
                continue
            if flag is True:
                message = f"{_named(entry.key)} 没有继承来的同名{_SECTION_WORDS[section]}可替换"
                fix = "删去 replace: true，或检查 id 的拼写和 extends 是否写对"
                self.problems.append(
                    _problem(doc.file, at, (*entry.path, "replace"), message, fix, "KR125")
                )
            mine.append(entry)
            if entry.key is not None:
                index[entry.key] = len(mine) - 1

    def _again(self, doc: Document, entry: Entry, inherited: Entry, fix: str) -> None:
        """An inherited setting or item written again without saying so."""
        here = entry.where
        message = (
            f"{_named(entry.key)} 已由 {_shown(doc.file, inherited.where)} 定义（继承而来），"
            f"这里（{_shown(doc.file, here)}）又写了一次"
        )
        self.problems.append(
            _problem(doc.file, here, entry.path, message, f"要替换它请{fix}", "KR124")
        )

    def _err(
        self,
        doc: Document,
        path: PathKey,
        message: str,
        fix: str | None,
        code: str,
        *,
        at_key: bool = False,
    ) -> None:
        self.problems.append(doc.problem(path, message, suggestion=fix, at_key=at_key, code=code))

    def check_ids(self, file: str, layer: Layer) -> None:
        """An id used in two files (say a base's indicator and a category's new one)."""
        seen: dict[str, Position] = {}
        for name, path, here in entry_ids(layer):
            first = seen.setdefault(name, here)
            if first is not here and (first.file or file) != (here.file or file):
                message = f"“{name}” 已由 {_shown(file, first)} 定义，这里（{_shown(file, here)}）又用了同一个 id"
                fix = f"改用另一个 id；要替换继承的那个，在外层条目写 replace: true 或写 remove: [{name}]"
                self.problems.append(_problem(file, here, path, message, fix, "KR124"))
        for path, where in nested_replaces(layer):
            message = "replace 只能写在顶层的条目上，下级类别不能单独替换"
            fix = "替换它所在的顶层类别（在那里写 replace: true），或用 remove 去掉它"
            self.problems.append(_problem(file, where, path, message, fix, "KR127"))
