"""The JSON Schema of the ruleset format, and its errors as located, readable problems."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from kpirules import fullwidth
from kpirules._core.suggest import did_you_mean
from kpirules.errors import Problem
from kpirules.loader import Document, PathKey
from kpirules.methods import METHODS

_LEADING_ZERO = re.compile(r"[-+]?0\d+(\.\d+)?%?")
_REQUIRED_HINTS = {
    "partial": "写明不足一个单位时怎么扣：pro_rata（按比例）、round_up（不足1个单位按1个计）、round_down（不足1个单位不扣）",
    "weighting": "写明权重的含义：points（分值）、percent_of_total（占总分百分比）、percent_of_parent（占上级百分比）、share（按份额）",
    "compare": "写明比较方式：relative（相对变化，如提升 5%）或 absolute（绝对变化）",
    "in_force": "写明施行期间，如 in_force: {from: 2026-01-01, to: 2026-12-31}",
    "kpirules": "第一行写 kpirules: 1（格式版本）",
}
_TYPE_WORDS = {
    "string": "文字",
    "number": "数值",
    "integer": "整数",
    "object": "映射（键: 值）",
    "array": "列表（- 开头的各项）",
    "boolean": "true 或 false",
    "null": "空值",
}


@cache
def schema() -> dict[str, Any]:
    """The ruleset JSON Schema (draft 2020-12): the shipped file, with the scoring methods.

    The ``scoring`` definition is completed from the method registry: the list of methods,
    the schema of each parameter and, per method, the parameters it requires.
    """
    text = resources.files("kpirules").joinpath("schema/ruleset.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    loaded["$defs"]["scoring"].update(scoring_schema())
    return loaded


def scoring_schema() -> dict[str, Any]:
    """``properties`` and ``allOf`` of the ``scoring`` mapping, from the method registry.

    Raises:
        ValueError: two methods give the same parameter different schemas.
    """
    properties: dict[str, Any] = {"method": {"enum": list(METHODS)}}
    required: list[dict[str, Any]] = []
    for method in METHODS.values():
        for key, fragment in method.schema.items():
            plain = json.loads(json.dumps(fragment))
            if properties.setdefault(key, plain) != plain:
                raise ValueError(f"scoring.{key}: methods disagree on its schema ({method.id})")
        if method.required:
            required.append(
                {
                    "if": {"properties": {"method": {"const": method.id}}, "required": ["method"]},
                    "then": {"required": list(method.required)},
                }
            )
    return {"properties": properties, "allOf": required}


def _is_integer(checker: Any, instance: object) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance == instance.to_integral_value()
    return isinstance(instance, int)


def _make_validator(definition: dict[str, Any]) -> Any:
    # Integral Decimals count as JSON integers: our loader gives Decimal for every number.
    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    cls = extend(Draft202012Validator, type_checker=checker)  # type: ignore[no-untyped-call]
    return cls(definition)


@cache
def validator() -> Any:
    """The ruleset validator, built once (building it is slow)."""
    return _make_validator(schema())


@cache
def tests_schema() -> dict[str, Any]:
    """The JSON Schema of a separate tests file (``*.tests.yaml``)."""
    full = schema()
    return {
        "$schema": full["$schema"],
        "$id": "https://kpirules.dev/schema/tests-v1.json",
        "title": "kpirules tests file, format 1",
        "description": "规则集的测试用例文件：写明针对哪个规则集（ruleset，相对本文件的路径）和测试用例（tests）。",
        "$ref": "#/$defs/tests_file",
        "$defs": full["$defs"],
    }


@cache
def tests_validator() -> Any:
    """The validator of tests files, built once."""
    return _make_validator(tests_schema())


def schema_problems(doc: Document, *, tests_file: bool = False) -> list[Problem]:
    """Every schema violation in ``doc``, each located and worded for policy staff."""
    problems: list[Problem] = []
    check = tests_validator() if tests_file else validator()
    for error in check.iter_errors(doc.data):
        problems.extend(_translate(doc, error))
    return problems


def _leaves(error: ValidationError) -> list[ValidationError]:
    """For anyOf/oneOf, the sub-errors that went deepest (the most specific ones)."""
    if not error.context:
        return [error]
    deepest = max(len(e.absolute_path) for e in error.context)
    if deepest <= len(error.absolute_path):
        return [error]
    return [e for e in error.context if len(e.absolute_path) == deepest]


def _translate(doc: Document, error: ValidationError) -> list[Problem]:
    if error.validator in ("anyOf", "oneOf"):
        leaves = _leaves(error)
        if leaves != [error]:
            seen: list[Problem] = []
            for leaf in leaves:
                seen.extend(_translate(doc, leaf))
            return seen
    path: PathKey = tuple(error.absolute_path)
    node: dict[str, Any] = dict(error.schema) if isinstance(error.schema, dict) else {}
    hint: str | None = node.get("errorMessage")
    kind = error.validator
    value: Any = error.validator_value
    instance = error.instance
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else str(value)
        return [
            doc.problem(
                path,
                f"缺少必填项 {missing}",
                suggestion=_REQUIRED_HINTS.get(missing),
                code="KR201",
            )
        ]
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted((node.get("properties") or {}).keys())
        out = []
        for key in instance:
            if key in allowed:
                continue
            suggestion = did_you_mean(str(key), allowed, cutoff=0.6) or "可用的键：" + "、".join(
                allowed
            )
            out.append(
                doc.problem(
                    (*path, key),
                    f"不认识的键 {key}",
                    suggestion=suggestion,
                    at_key=True,
                    code="KR202",
                )
            )
        return out
    if kind == "propertyNames":
        return [
            doc.problem(
                (*path, str(instance)),
                f"名字 “{instance}” 不合规：只能由字母、汉字、数字和下划线组成，且以字母或汉字开头",
                at_key=True,
                code="KR203",
            )
        ]
    if kind in ("enum", "const"):
        options = list(value) if kind == "enum" else [value]
        options_text = [str(o) for o in options]
        hint_text = did_you_mean(str(instance), options_text)
        shown = "、".join(options_text)
        return [
            doc.problem(
                path,
                f"“{_show(instance)}” 不是可用的值：可用 {shown}",
                suggestion=hint_text,
                code="KR204",
            )
        ]
    if isinstance(instance, str) and _LEADING_ZERO.fullmatch(instance.strip()):
        plain = instance.strip().lstrip("+")
        negative = plain.startswith("-")
        digits = plain.lstrip("-").lstrip("0") or "0"
        digits = "0" + digits if digits.startswith(".") else digits
        fixed = ("-" if negative else "") + digits
        return [
            doc.problem(path, f"“{instance}” 以 0 开头，不按数值读取：写成 {fixed}", code="KR205")
        ]
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        wanted_text = "或".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        message = hint or f"这里应写{wanted_text}，而不是 “{_show(instance)}”"
        slip = fullwidth.in_value(instance) if isinstance(instance, str) else None
        return [doc.problem(path, message, suggestion=slip, code="KR206")]
    if kind in ("pattern", "anyOf", "oneOf"):
        message = hint or "写法不正确"
        return [
            doc.problem(path, f"“{_show(instance)}” {message}" if hint else message, code="KR207")
        ]
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bound = {
            "minimum": "不能小于",
            "exclusiveMinimum": "必须大于",
            "maximum": "不能大于",
            "exclusiveMaximum": "必须小于",
        }[kind]
        return [doc.problem(path, f"{bound} {value}（写的是 {_show(instance)}）", code="KR208")]
    if kind in ("minItems", "minProperties", "minLength"):
        return [doc.problem(path, "不能为空", code="KR209")]
    if kind == "maxItems":
        return [doc.problem(path, f"最多只能有 {value} 项", code="KR210")]
    return [doc.problem(path, hint or error.message, code="KR211")]


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return "[…]"
    if value is None:
        return "空值"
    return str(value)
