"""Wiring of the stages: read a file, validate it, compile it once, return it ready to score."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kpirules._core.canonical import canonical_json
from kpirules.compose import Composed, compose, file_kind
from kpirules.engine import Engine, compile_ruleset
from kpirules.errors import Problem, RulesetError, sorted_problems
from kpirules.exact import exact
from kpirules.loader import Document, load_yaml
from kpirules.model import Ruleset
from kpirules.places import KEY_NAMES
from kpirules.result import Result
from kpirules.validate import validate_document, validate_tests_document

TESTS_KEY = "kpirules_tests"
#: Problems a base or fragment checked alone cannot judge: they name what the ruleset that
#: uses it may define (metrics, grades, names in formulas, the total the weights add up to).
_NEEDS_WHOLE = frozenset({"KR307", "KR325", "KR336", "KR347", "KR367", "KR384", "KR385"})
#: Header values lent to a base or fragment checked alone; their own problems are not its.
_LENT = {
    "kpirules": 1,
    "id": "part",
    "title": "-",
    "version": "-",
    "source": "-",
    "in_force": {"from": "2000-01-01"},
    "weighting": "points",
}


@attrs.frozen
class LoadedRuleset(Ruleset):
    """A ruleset as :func:`load` and :func:`check` give it: its data and its compiled program.

    It reads as the :class:`~kpirules.model.Ruleset` it was loaded from (``title``,
    ``metrics``, ``tests``, …) and scores with :meth:`evaluate` and :meth:`evaluate_many`.
    The program is compiled once, when the object is built (also by ``attrs.evolve``), and
    every evaluation reuses it. Pickled, it carries only the ruleset's data and is compiled
    again where it is unpickled.
    """

    program: Engine = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "program", compile_ruleset(_data_of(self)))

    @classmethod
    def of(cls, ruleset: Ruleset) -> LoadedRuleset:
        """Compile a validated ruleset; the result reads as the same data."""
        return cls(**_fields_of(ruleset))

    @property
    def ruleset(self) -> Ruleset:
        """The ruleset's data alone, as the program was compiled from it."""
        return self.program.ruleset

    def evaluate(self, metrics: Mapping[str, object], *, entity: str = "") -> Result:
        """Score one entity's metrics; raises :class:`~kpirules.EvaluationError`.

        Values may be Decimal, int, text (``"95%"``, ``"0.95"``, ``"是"``) or, for ratings,
        a list of numbers. Binary floats are refused.
        """
        return self.program.evaluate(metrics, entity=entity)

    def evaluate_many(self, rows: Iterable[tuple[str, Mapping[str, object]]]) -> tuple[Result, ...]:
        """Score several entities together, in input order, ranked by total."""
        return self.program.evaluate_many(rows)

    def __reduce__(self) -> tuple[Any, tuple[Ruleset]]:
        return LoadedRuleset.of, (self.ruleset,)


def _data_of(ruleset: Ruleset) -> Ruleset:
    """The plain data of a ruleset (a :class:`LoadedRuleset` without its program)."""
    return Ruleset(**_fields_of(ruleset))


def _fields_of(ruleset: Ruleset) -> dict[str, Any]:
    """The :class:`Ruleset` fields of ``ruleset``, as keyword arguments of its constructor."""
    return {a.alias or a.name: getattr(ruleset, a.name) for a in attrs.fields(Ruleset)}


@exact
def check(
    path: str | Path, *, text: str | None = None, read_files: bool = True
) -> tuple[LoadedRuleset | None, tuple[Problem, ...]]:
    """Load and validate a ruleset file (or a tests file), returning it and every problem.

    A tests file (top-level key ``kpirules_tests``) names its ruleset in ``ruleset:``,
    relative to itself; the result is that ruleset with the file's test cases added.

    Args:
        path: the file (YAML, UTF-8).
        text: the file's text, when already in memory; ``path`` then only names it.
        read_files: whether the files that text extends or includes are read, relative to
            ``path`` (replaying a recorded text does; a text sent by a client must not).

    Returns:
        The ruleset, or None when any problem is an error; and all problems, sorted by line.
    """
    doc, problems = load_yaml(path, text=text)
    if doc is None or problems:
        # YAML-level problems (duplicate keys, aliases, tags) change what the document
        # means; checking its meaning before they are fixed would only report echoes.
        return None, sorted_problems(problems)
    if isinstance(doc.data, dict) and TESTS_KEY in doc.data:
        return _check_tests_file(Path(path), doc)
    composed = compose(doc, text=text, read_files=read_files)
    if composed.document is None or composed.problems:
        return None, sorted_problems(composed.problems)
    if composed.kind != "ruleset":
        return None, (_not_scoreable(doc, composed),)
    source = text if text is not None else _read_text(path)
    ruleset, more = validate_document(composed.document, source)
    found = sorted_problems(more)
    if ruleset is None or any(p.severity == "error" for p in found):
        return None, found
    return _compile(ruleset, composed), found


@exact
def load(path: str | Path, *, text: str | None = None) -> LoadedRuleset:
    """Load a ruleset (or a tests file), or raise :class:`RulesetError` with every problem.

    Warnings do not stop loading; they are available from :func:`check`.
    """
    ruleset, problems = check(path, text=text)
    if ruleset is None:
        raise RulesetError(problems)
    return ruleset


def part_of_rulesets(path: str | Path) -> bool:
    """Whether a file is a base ruleset or a fragment (it cannot be scored on its own)."""
    doc, _ = load_yaml(path)
    return doc is not None and file_kind(doc.data) != "ruleset"


def check_part(path: str | Path) -> tuple[str | None, tuple[Problem, ...]]:
    """What a base ruleset or fragment file is, and its problems as far as it can be checked alone.

    References to what the ruleset using it may define (metrics, grades, names in formulas)
    and the sum of top-level weights are not judged.

    Returns:
        A description such as ``基础规则集`` (None for a ruleset or tests file: check those
        with :func:`check`) and the problems found.
    """
    doc, problems = load_yaml(path)
    if doc is None or problems or file_kind(doc.data) == "ruleset":
        return None, ()
    composed = compose(doc)
    what = (
        "基础规则集，供其他规则集继承，不能单独计分"
        if composed.kind == "base"
        else f"片段（{KEY_NAMES.get(composed.part or '', composed.part)}），供规则集引入，不能单独计分"
    )
    if composed.document is None or composed.problems:
        return what, sorted_problems(composed.problems)
    resolved = composed.document
    lent = {k: v for k, v in _LENT.items() if k not in resolved.data}
    data = {**resolved.data, **lent}
    wrapped = Document(resolved.file, data, resolved.positions, resolved.key_positions)
    _, more = validate_document(wrapped, "")
    lent_paths = tuple(f"$.{k}" for k in lent)
    kept = [
        p
        for p in more
        if p.code not in _NEEDS_WHOLE
        and not (p.code == "KR201" and p.path == "$")
        and not (p.code == "KR344" and p.path == "$.categories")
        and not any(p.path == lp or p.path.startswith((f"{lp}.", f"{lp}[")) for lp in lent_paths)
    ]
    return what, sorted_problems(kept)


def _check_tests_file(
    path: Path, doc: Document
) -> tuple[LoadedRuleset | None, tuple[Problem, ...]]:
    target = doc.data.get("ruleset")
    if not isinstance(target, str) or not target.strip():
        return None, (doc.problem((), "测试文件要用 ruleset 写明被测试的规则集文件", code="KR412"),)
    ruleset_path = path.parent / target
    try:
        exists = ruleset_path.is_file()
    except OSError:
        exists = False
    if not exists:
        return None, (
            doc.problem(
                ("ruleset",), f"找不到规则集文件 {target}（相对测试文件所在目录）", code="KR413"
            ),
        )
    loaded, problems = load_yaml(ruleset_path)
    if loaded is None or problems:
        return None, sorted_problems(problems)
    composed = compose(loaded)
    if composed.document is None or composed.problems:
        return None, sorted_problems(composed.problems)
    if composed.kind != "ruleset":
        return None, (_not_scoreable(loaded, composed),)
    ruleset_doc = composed.document
    ruleset, more = validate_tests_document(ruleset_doc, _read_text(ruleset_path), doc)
    if ruleset is None:
        own = [p for p in more if p.file == doc.file]
        if len(own) == len(more):
            return None, sorted_problems(more)
        # The ruleset's own problems are reported when it is checked itself; here, say once
        # that the tests cannot be checked against it.
        return None, sorted_problems(
            [
                *own,
                doc.problem(
                    ("ruleset",),
                    f"规则集 {target} 无效，无法检查这些测试用例（先运行 kpirules validate {target}）",
                    code="KR414",
                ),
            ]
        )
    return _compile(ruleset, composed), sorted_problems(more)


@exact
def fingerprint(data: Any) -> str:
    """SHA-256 of a ruleset's canonical content: its data (without test cases) as canonical
    JSON with numbers as their exact text. Comments and layout do not change it."""
    content = {k: v for k, v in data.items() if k != "tests"} if isinstance(data, dict) else data
    text = canonical_json(content)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _compile(ruleset: Ruleset, composed: Composed) -> LoadedRuleset:
    """Fingerprint and compile a validated ruleset once, for every later evaluation.

    The fingerprint covers the resolved content, so it changes when a base file changes.
    """
    assert composed.document is not None
    return LoadedRuleset.of(
        attrs.evolve(
            ruleset,
            fingerprint=fingerprint(composed.document.data),
            sources=composed.files,
            origins=composed.origins,
        )
    )


def _not_scoreable(doc: Document, composed: Composed) -> Problem:
    what = (
        "基础规则集（base: true）"
        if composed.kind == "base"
        else f"片段（fragment: {composed.part}）"
    )
    use = "extends" if composed.kind == "base" else "include"
    return doc.problem(
        (composed.kind if composed.kind == "base" else "fragment",),
        f"这是{what}，不是可以单独计分的规则集",
        suggestion=f"在规则集中用 {use} 引用它；单独检查请用 kpirules validate",
        at_key=True,
        code="KR128",
    )


def _read_text(path: str | Path) -> str:
    return Path(path).read_bytes().decode("utf-8-sig")
