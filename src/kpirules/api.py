"""Wiring of the stages: read a file, validate it, compile it once, return it ready to score."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from kpirules._core.canonical import canonical_json
from kpirules.engine import Engine, compile_ruleset
from kpirules.errors import Problem, RulesetError, sorted_problems
from kpirules.exact import exact
from kpirules.loader import Document, load_yaml
from kpirules.model import Ruleset
from kpirules.result import Result
from kpirules.validate import validate_document, validate_tests_document

TESTS_KEY = "kpirules_tests"


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
    path: str | Path, *, text: str | None = None
) -> tuple[LoadedRuleset | None, tuple[Problem, ...]]:
    """Load and validate a ruleset file (or a tests file), returning it and every problem.

    A tests file (top-level key ``kpirules_tests``) names its ruleset in ``ruleset:``,
    relative to itself; the result is that ruleset with the file's test cases added.

    Args:
        path: the file (YAML, UTF-8).
        text: the file's text, when already in memory; ``path`` then only names it.

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
    source = text if text is not None else _read_text(path)
    ruleset, more = validate_document(doc, source)
    found = sorted_problems(more)
    if ruleset is None or any(p.severity == "error" for p in found):
        return None, found
    return _compile(ruleset, doc), found


@exact
def load(path: str | Path, *, text: str | None = None) -> LoadedRuleset:
    """Load a ruleset (or a tests file), or raise :class:`RulesetError` with every problem.

    Warnings do not stop loading; they are available from :func:`check`.
    """
    ruleset, problems = check(path, text=text)
    if ruleset is None:
        raise RulesetError(problems)
    return ruleset


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
    ruleset_doc, problems = load_yaml(ruleset_path)
    if ruleset_doc is None or problems:
        return None, sorted_problems(problems)
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
    return _compile(ruleset, ruleset_doc), sorted_problems(more)


@exact
def fingerprint(data: Any) -> str:
    """SHA-256 of a ruleset's canonical content: its data (without test cases) as canonical
    JSON with numbers as their exact text. Comments and layout do not change it."""
    content = {k: v for k, v in data.items() if k != "tests"} if isinstance(data, dict) else data
    text = canonical_json(content)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _compile(ruleset: Ruleset, doc: Document) -> LoadedRuleset:
    """Fingerprint and compile a validated ruleset once, for every later evaluation."""
    return LoadedRuleset.of(attrs.evolve(ruleset, fingerprint=fingerprint(doc.data)))


def _read_text(path: str | Path) -> str:
    return Path(path).read_bytes().decode("utf-8-sig")
