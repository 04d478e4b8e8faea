"""The registry of scoring methods: one module per method, one list for every stage."""

from __future__ import annotations

from importlib import resources

import pytest

from kpirules import methods
from kpirules.methods import METHODS
from kpirules.schema import schema as ruleset_schema


def test_registry_lists_each_method_module_once() -> None:
    """Every method module in the package is in METHODS under its own module name."""
    package = resources.files("kpirules.methods")
    modules = sorted(
        f.name.removesuffix(".py")
        for f in package.iterdir()
        if f.name.endswith(".py") and not f.name.startswith("_")
    )
    assert sorted(METHODS) == modules
    assert all(m.id == mid for mid, m in METHODS.items())


def test_schema_offers_exactly_the_registered_methods() -> None:
    """The ruleset schema's method list (as `kpirules schema` gives it) and the registry agree."""
    schema = ruleset_schema()
    enums = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            method = node.get("properties", {}).get("method")
            if isinstance(method, dict) and "enum" in method:
                enums.append(method["enum"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    assert enums == [list(METHODS)]


def test_derived_lists_follow_the_method_records() -> None:
    """How the evaluator calls each method is read from its record."""
    assert {
        "proportional",
        "linear",
        "deduct",
        "per_occurrence",
        "bonus",
        "table",
        "scale",
    } == methods.SIMPLE
    assert {"best_ratio", "rank", "percentile"} == methods.COHORT
    assert {"deduct", "pass_fail", "proportional", "per_occurrence", "scale"} == methods.PREFIXED
    assert METHODS["deduct"].params == {"per", "deduct", "partial", "floor"}
    assert METHODS["change"].words == "较基期变化"


def test_each_indicator_carries_its_own_method_params() -> None:
    """Every indicator of the shipped rulesets holds the frozen Params class of its method's module."""
    import importlib
    from pathlib import Path

    import attrs
    import pytest

    import kpirules

    root = Path(__file__).resolve().parent.parent / "rulesets"
    seen = set()
    for path in sorted(root.glob("*.yaml")):
        if path.name.endswith(".tests.yaml"):
            continue
        for ind in kpirules.load(path).indicators():
            module = importlib.import_module(f"kpirules.methods.{ind.scoring.method}")
            params = ind.scoring.params
            assert type(params) is module.Params
            field = attrs.fields(type(params))[0].name if attrs.fields(type(params)) else None
            if field is not None:
                with pytest.raises(attrs.exceptions.FrozenInstanceError):
                    setattr(params, field, None)
            seen.add(ind.scoring.method)
    assert {"deduct", "linear", "pass_fail", "table", "change"} <= seen


def test_schema_refuses_two_methods_disagreeing_on_a_parameter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A parameter two methods declare with different schemas is a programming error."""
    import attrs

    from kpirules import schema as schema_module

    odd = attrs.evolve(METHODS["pass_fail"], schema={"otherwise": {"type": "string"}})
    monkeypatch.setattr(schema_module, "METHODS", {**METHODS, "pass_fail": odd})
    with pytest.raises(ValueError, match=r"scoring\.otherwise"):
        schema_module.scoring_schema()


def test_stages_name_no_method_id() -> None:
    """The evaluator, the validator, diff and the schema ask the registry: none of them
    compares a method with a method id written out."""
    import re
    from pathlib import Path

    src = Path(methods.__file__).resolve().parent.parent
    ids = "|".join(METHODS)
    for name in ("engine.py", "validate.py", "diff.py", "schema.py"):
        lines = (src / name).read_text(encoding="utf-8").splitlines()
        found = [
            line.strip()
            for line in lines
            if "method" in line and re.search(rf"[\"']({ids})[\"']", line)
        ]
        assert found == [], f"{name}: {found}"
