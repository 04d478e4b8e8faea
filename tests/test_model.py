"""The validated ruleset model: plain data that knows nothing of scoring."""

from __future__ import annotations

import ast
from pathlib import Path

import attrs

import kpirules
from kpirules.model import Ruleset

SRC = Path(__file__).resolve().parent.parent / "src"

#: What model.py may import from kpirules: the data it is made of, nothing that scores.
MODEL_IMPORTS = {"kpirules.formula", "kpirules.quantity"}
#: The stages after the model: evaluation, compiling, methods and the wiring of them all.
SCORING = {
    "kpirules.api",
    "kpirules.compiler",
    "kpirules.engine",
    "kpirules.methods",
    "kpirules.result",
}


def _file_of(module: str) -> Path:
    base = SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def kpirules_imports(module: str) -> set[str]:
    """The kpirules modules that ``module``'s source imports (``from kpirules import x`` counts x)."""
    tree = ast.parse(_file_of(module).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kpirules."))
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == "kpirules":
                found.update(f"kpirules.{a.name}" for a in node.names)
            elif node.module.startswith("kpirules."):
                found.add(node.module)
    return found


def test_model_imports_only_data_modules() -> None:
    """model.py imports formula and quantity and no other kpirules module."""
    assert kpirules_imports("kpirules.model") == MODEL_IMPORTS


def test_model_reaches_nothing_that_scores() -> None:
    """Following imports from model.py never reaches the result, engine, methods or compiler."""
    seen: set[str] = set()
    todo = ["kpirules.model"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(kpirules_imports(module))
    assert "kpirules._core.yesno" in seen  # the walk follows imports of imports
    assert not seen & SCORING, sorted(seen & SCORING)


def test_the_import_walk_sees_scoring_imports() -> None:
    """The walk is not blind: api.py is seen to import the engine and the result."""
    assert {"kpirules.engine", "kpirules.result", "kpirules.model"} <= kpirules_imports(
        "kpirules.api"
    )


def test_ruleset_holds_no_program() -> None:
    """A Ruleset's fields are data only: no engine, no program, no way to score."""
    names = {a.name for a in attrs.fields(Ruleset)}
    assert not {n for n in names if "engine" in n or "program" in n}
    data = kpirules.load(SRC.parent / "rulesets" / "a-office-annual.yaml").ruleset
    assert type(data) is Ruleset
    assert not hasattr(data, "evaluate")
    assert not hasattr(data, "evaluate_many")
