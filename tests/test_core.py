"""The leaf helpers: one "did you mean" and one yes/no vocabulary for every stage."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules import api, ledger
from kpirules._core.canonical import canonical_json
from kpirules._core.rounding import MODE_WORDS, MODES
from kpirules._core.suggest import closest, did_you_mean
from kpirules._core.yesno import NO_WORDS, YES_WORDS, yes_no
from kpirules.inputs import read_metrics
from kpirules.model import Metric
from kpirules.quantity import parse_target
from kpirules.values import read_value

ROOT = Path(__file__).resolve().parent.parent


def test_did_you_mean_picks_the_closest_name() -> None:
    """A misspelt name gets the closest known one; nothing alike gets no suggestion."""
    assert did_you_mean("agregate", ["aggregate", "unit"]) == "是不是要写 aggregate？"
    assert closest("xyz", ["aggregate", "unit"]) is None
    assert did_you_mean("xyz", ["aggregate"]) is None


@pytest.mark.parametrize(
    ("word", "answer"),
    [
        ("是", True),
        ("达标", True),
        ("有", True),
        ("否", False),
        ("未达标", False),
        ("无", False),
        (True, True),
        ("yes", None),
        ("1", None),
    ],
)
def test_yes_no_words(word: object, answer: bool | None) -> None:
    """One vocabulary: 是/达标/有 and 否/未达标/无; English yes/no is not read."""
    assert yes_no(word) is answer


def test_values_and_targets_share_the_vocabulary() -> None:
    """Every word a yes/no target accepts is accepted as a value too (达标 was refused as a value)."""
    metric = _metric("yes_no")
    for word in YES_WORDS | NO_WORDS:
        target = parse_target(word)
        assert read_value(metric, word) is target.flag
    assert read_value(metric, "达标") is True
    assert read_value(_metric("percent"), "95%") == Decimal("0.95")


def _metric(unit: str) -> Metric:
    return Metric(
        id="m",
        label="方案落地",
        unit=unit,
        measure=None,
        minimum=None,
        maximum=None,
        formula=None,
        aggregate="",
        ratings=None,
        source=None,
        line=1,
    )


def test_rounding_modes_and_words_cover_the_same_modes() -> None:
    """Every rounding mode has its decimal rounding and its words; 四舍五入 rounds half up."""
    assert set(MODES) == set(MODE_WORDS) == {"half_up", "half_even", "down", "up", "half_down"}
    assert MODE_WORDS["half_up"] == "四舍五入"
    assert Decimal("84.5").quantize(Decimal(1), rounding=MODES["half_up"]) == Decimal(85)
    assert Decimal("84.5").quantize(Decimal(1), rounding=MODES["half_even"]) == Decimal(84)


def test_one_canonical_writer_for_fingerprints_results_and_the_ledger() -> None:
    """Fingerprints, results and the ledger write the same canonical JSON; hashes are kept."""
    data = {"b": [Decimal("1E+2"), (Decimal("0.50"), "是")], "a": "甲"}
    text = '{"a":"甲","b":["1E+2",["0.50","是"]]}'
    assert canonical_json(data) == ledger.canonical(data) == text
    assert api.fingerprint(data) == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    # The fingerprint of a shipped ruleset is the one recorded before the writer was shared.
    assert ruleset.fingerprint == (
        "sha256:7d3411ae61debe2422c9aea431543017cd15543b5ce49c9af3976bf014a2dd02"
    )
    result = ruleset.evaluate_many(read_metrics(ROOT / "examples" / "a-offices-2026.csv", ruleset))[
        0
    ]
    assert result.to_json() == canonical_json(result.to_dict())
    assert result.to_json(indent=2) == json.dumps(
        result.to_dict(), ensure_ascii=False, sort_keys=True, indent=2
    )
