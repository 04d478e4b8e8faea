"""The shipped JSON Schema: valid itself, agrees with the shipped rulesets, errors in Chinese."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from kpirules.schema import schema, validator
from kpirules.schema import tests_schema as schema_of_tests_file

ROOT = Path(__file__).resolve().parent.parent


def test_schema_is_valid_draft_2020_12() -> None:
    """The schema itself passes the draft 2020-12 metaschema."""
    jsonschema.Draft202012Validator.check_schema(schema())


def test_tests_schema_is_valid_draft_2020_12() -> None:
    """The tests-file schema passes the metaschema too."""
    jsonschema.Draft202012Validator.check_schema(schema_of_tests_file())


def test_validator_is_built_once() -> None:
    """The validator is cached: building it checks the schema, which is slow."""
    assert validator() is validator()


def test_editor_view_of_shipped_rulesets() -> None:
    """An editor's YAML 1.2 view of each shipped ruleset passes the schema (no false squiggles)."""
    for path in sorted((ROOT / "rulesets").glob("*.yaml")):
        # Editors read YAML 1.2 with plain JSON numbers: emulate with PyYAML and floats,
        # after turning dates back into text as a YAML 1.2 editor keeps them.
        data = yaml.load(path.read_text("utf-8"), Loader=_Yaml12Loader)
        definition = schema_of_tests_file() if path.name.endswith(".tests.yaml") else schema()
        checker = jsonschema.Draft202012Validator(definition)
        errors = list(checker.iter_errors(json.loads(json.dumps(data))))
        assert errors == [], f"{path}: {errors[0].message if errors else ''}"


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver (YAML 1.2 core schema has no dates)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in value if tag != "tag:yaml.org,2002:timestamp"]
    for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
