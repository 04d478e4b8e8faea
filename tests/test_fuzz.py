"""Random mutations of valid rulesets give a ruleset or our own problems, never another exception."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpirules
from kpirules.loader import load_yaml, scalar_value, walk

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [
    p.read_text("utf-8")
    for p in sorted((ROOT / "rulesets").glob("*.yaml"))
    if not p.name.endswith(".tests.yaml")
]
SEEDS.append(
    (ROOT / "tests" / "fixtures" / "invalid" / "scheme_a_faithful.yaml").read_text("utf-8")
)
SEEDS.append((ROOT / "examples" / "deposit-refund.yaml").read_text("utf-8"))

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.sampled_from(
        [
            "≥ 95%",
            "≤ 2%",
            "= 100%",
            "100%",
            "-5%",
            "≥",
            "是",
            "no",
            "010",
            "12:30",
            "1e999",
            "5万元",
            "24小时",
            "x.y",
            "a +",
            "__import__('os')",
            "10 ** 10 ** 10",
            "[",
            "",
            " ",
            "percent",
            "points",
            "share",
            "monitor",
            "table",
            "deduct",
            "rate",
            "total",
            "优秀",
            "2026-02-30",
            "2026-01-01",
            "∞",
            "\u200b",
            "ＡＢＣ",
        ]
    ),
    st.text(max_size=12),
    st.lists(st.integers(0, 100), max_size=3),
    st.dictionaries(
        st.sampled_from(["from", "to", "below", "points", "id", "label"]),
        st.integers(0, 100),
        max_size=3,
    ),
)


class _Dumper(yaml.SafeDumper):
    """Writes data as a person would: plain numbers, text quoted only where needed, no tags."""


_Dumper.yaml_implicit_resolvers = {}  # plain scalars carry no tag, as kpirules reads them


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value, "f") if value.is_finite() else str(value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=None)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = scalar_value(yaml.ScalarNode("tag:yaml.org,2002:str", value)) == value
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _flag(dumper: yaml.SafeDumper, value: bool) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", "true" if value else "false", style=None
    )


def _null(dumper: yaml.SafeDumper, value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", "null", style=None)


_Dumper.add_representer(Decimal, _decimal)
_Dumper.add_representer(str, _text)
_Dumper.add_representer(bool, _flag)
_Dumper.add_representer(type(None), _null)
_Dumper.add_representer(
    int, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style=None)
)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        out = dict(data)
        out[head] = _set(data[head], rest, value)
        return out
    out_list = list(data)
    out_list[head] = _set(data[head], rest, value)
    return out_list


def _delete(data: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k != path[0]}
        return [v for i, v in enumerate(data) if i != path[0]]
    head = path[0]
    if isinstance(data, dict):
        return {**data, head: _delete(data[head], path[1:])}
    return [(_delete(v, path[1:]) if i == head else v) for i, v in enumerate(data)]


def _assert_our_own_answer(text: str) -> None:
    ruleset, problems = kpirules.check("fuzz.yaml", text=text)
    if ruleset is None:
        assert any(p.severity == "error" for p in problems)
    for p in problems:
        assert p.file == "fuzz.yaml"
        assert p.line >= 0
        assert p.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_value_mutations(seed: str, data: st.DataObject) -> None:
    """Replacing or deleting any value of a valid ruleset never escapes as a Python error."""
    doc, _ = load_yaml("seed.yaml", text=seed)
    assert doc is not None
    paths = [p for p, _ in walk(doc.data) if p]
    tree = doc.data
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p, _ in walk(tree) if p]
        path = data.draw(st.sampled_from(paths))
        if data.draw(st.booleans()):
            tree = _set(tree, path, data.draw(ODD_VALUES))
        else:
            tree = _delete(tree, path)
    text = yaml.dump(tree, Dumper=_Dumper, allow_unicode=True, sort_keys=False)
    _assert_our_own_answer(text)


def test_dumper_round_trips_the_seeds() -> None:
    """The fuzz writer reproduces each seed exactly, so value mutations reach validation."""
    for seed in SEEDS:
        doc, _ = load_yaml("seed.yaml", text=seed)
        assert doc is not None
        text = yaml.dump(doc.data, Dumper=_Dumper, allow_unicode=True, sort_keys=False)
        again, problems = load_yaml("again.yaml", text=text)
        assert problems == []
        assert again is not None and again.data == doc.data
        before = kpirules.check("seed.yaml", text=seed)[1]
        after = kpirules.check("seed.yaml", text=text)[1]
        assert [p.message for p in after] == [p.message for p in before]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_text_mutations(seed: str, data: st.DataObject) -> None:
    """Deleting, duplicating or corrupting lines and characters never escapes as a Python error."""
    lines = seed.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "indent"]))
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            break
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "insert":
            line = lines[i]
            j = data.draw(st.integers(0, len(line)))
            lines[i] = line[:j] + data.draw(st.text(min_size=1, max_size=4)) + line[j:]
        elif kind == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: data.draw(st.integers(0, len(lines[-1])))]
        else:
            lines[i] = "  " + lines[i]
    _assert_our_own_answer("".join(lines))
