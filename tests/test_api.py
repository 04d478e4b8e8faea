"""The public facade: load and check give a ruleset compiled once, ready to score."""

from __future__ import annotations

import doctest
import pickle
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

import kpirules
from kpirules import api
from kpirules.engine import Engine, compile_ruleset
from kpirules.inputs import read_metrics
from kpirules.model import Rounding, Ruleset

ROOT = Path(__file__).resolve().parent.parent
A_OFFICE = ROOT / "rulesets" / "a-office-annual.yaml"

ONE_RATE = """\
kpirules: 1
id: t
title: 测试
version: "1"
source: 测试
in_force: {from: 2026-01-01}
rounding: {places: 0, mode: half_up}
weighting: points
metrics:
  rate: {label: 满意度, unit: percent}
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: i, label: 满意度, metric: rate, weight: 100, target: ≥ 100%, scoring: {method: proportional}}
"""


def test_documented_api_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example of docs/api.md gives the output the page shows."""
    monkeypatch.chdir(ROOT)
    outcome = doctest.testfile(
        str(ROOT / "docs" / "api.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert outcome.failed == 0
    assert outcome.attempted >= 20


def test_compiled_once_for_every_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading compiles once; evaluate and evaluate_many reuse that program for every entity."""
    built: list[Ruleset] = []

    def counting(ruleset: Ruleset) -> Engine:
        built.append(ruleset)
        return compile_ruleset(ruleset)

    monkeypatch.setattr(api, "compile_ruleset", counting)
    ruleset = kpirules.load(A_OFFICE)
    assert len(built) == 1
    rows = read_metrics(ROOT / "examples" / "a-offices-2026.csv", ruleset)
    results = ruleset.evaluate_many(rows)
    ruleset.evaluate_many(rows)
    one = ruleset.evaluate(rows[1][1], entity=rows[1][0])
    assert [str(r.total) for r in results] == ["97.00", "93.20", "83.47", "97.12"]
    assert one.total == Decimal("93.20")
    assert len(built) == 1
    assert ruleset.program is ruleset.program


def test_loaded_ruleset_reads_as_its_data() -> None:
    """A loaded ruleset is a Ruleset with the same fields as its plain data."""
    loaded = kpirules.load(A_OFFICE)
    assert isinstance(loaded, kpirules.LoadedRuleset)
    assert isinstance(loaded, Ruleset)
    data = loaded.ruleset
    assert type(data) is Ruleset
    assert loaded.program.ruleset is data
    for field in attrs.fields(Ruleset):
        assert getattr(loaded, field.name) is getattr(data, field.name)
    assert data.fingerprint.startswith("sha256:")
    assert loaded.title == "医院医保办绩效考核细则（年度，类别内按份额分配）"


def test_check_gives_the_same_loaded_ruleset() -> None:
    """check returns a loaded ruleset that scores like load's, and None with the problems when invalid."""
    checked, problems = kpirules.check(A_OFFICE)
    assert isinstance(checked, kpirules.LoadedRuleset)
    assert problems == ()
    assert checked == kpirules.load(A_OFFICE)
    bad, found = kpirules.check("t.yaml", text=ONE_RATE.replace("weight: 100, target", "target"))
    assert bad is None
    assert [p.code for p in found if p.severity == "error"]


def test_evolve_compiles_the_changed_ruleset() -> None:
    """attrs.evolve of a loaded ruleset scores by the new rules: 84.5 → 85 half_up, 84 half_even."""
    loaded = kpirules.load("t.yaml", text=ONE_RATE)
    assert loaded.evaluate({"rate": "84.5%"}).total == Decimal(85)
    even = attrs.evolve(loaded, rounding=Rounding(places=0, mode="half_even", at="total"))
    assert even.program is not loaded.program
    assert even.evaluate({"rate": "84.5%"}).total == Decimal(84)
    assert loaded.evaluate({"rate": "84.5%"}).total == Decimal(85)


def test_pickle_sends_the_data_alone() -> None:
    """A pickled loaded ruleset carries its data only and is compiled again when unpickled."""
    loaded = kpirules.load(A_OFFICE)
    payload = pickle.dumps(loaded)
    assert b"kpirules.engine" not in payload
    assert b"Plan" not in payload
    assert len(payload) <= len(pickle.dumps(loaded.ruleset)) + 200
    copy = pickle.loads(payload)
    assert isinstance(copy, kpirules.LoadedRuleset)
    assert copy == loaded
    assert copy.program is not loaded.program
    rows = read_metrics(ROOT / "examples" / "a-offices-2026.csv", loaded)
    assert [r.to_json() for r in copy.evaluate_many(rows)] == [
        r.to_json() for r in loaded.evaluate_many(rows)
    ]
