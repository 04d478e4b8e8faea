"""The registry of scoring methods: one module per method, one list for every stage."""

from __future__ import annotations

import json
from importlib import resources

from kpirules import methods
from kpirules.methods import METHODS


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
    """The ruleset schema's method list and the registry agree."""
    schema = json.loads(
        resources.files("kpirules").joinpath("schema/ruleset.schema.json").read_text("utf-8")
    )
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
