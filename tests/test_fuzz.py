"""Fuzz targets, a few cases each: the same cases and checks ``fuzz/run.py`` runs at length.

Example counts come from the Hypothesis profile (``tests/conftest.py``): the ``default``
profile keeps the test command fast, ``HYPOTHESIS_PROFILE=fuzz`` runs thousands.
"""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from typing import Any

import fuzzing
import pytest
import yaml
from conftest import SLOW_SHARE
from fuzzing import TARGETS, Broken, share
from hypothesis import example, given
from hypothesis import strategies as st

import kpirules
from kpirules.cli import run
from kpirules.loader import load_yaml

ROOT = Path(__file__).resolve().parent.parent


def _holds(target: str, case: Any) -> None:
    """Run one case of a target; a finding still open (see docs/security.md) is not re-reported."""
    try:
        TARGETS[target].check(case)
    except Broken as exc:
        if fuzzing.open_finding(target, str(exc)) is None:
            raise


@given(text=fuzzing.value_mutations())
def test_value_mutations(text: str) -> None:
    """Replacing or deleting any value of a valid ruleset never escapes as a Python error."""
    fuzzing.check_ruleset_text(text)


def test_dumper_round_trips_the_seeds() -> None:
    """The fuzz writer reproduces each seed exactly, so value mutations reach validation."""
    for seed in fuzzing.SEEDS:
        doc, _ = load_yaml("seed.yaml", text=seed)
        assert doc is not None
        text = yaml.dump(doc.data, Dumper=fuzzing.Dumper, allow_unicode=True, sort_keys=False)
        again, problems = load_yaml("again.yaml", text=text)
        assert problems == []
        assert again is not None and again.data == doc.data
        before = kpirules.check("seed.yaml", text=seed)[1]
        after = kpirules.check("seed.yaml", text=text)[1]
        assert [p.message for p in after] == [p.message for p in before]


@given(text=fuzzing.text_mutations())
def test_text_mutations(text: str) -> None:
    """Deleting, duplicating or corrupting lines and characters never escapes as a Python error."""
    fuzzing.check_ruleset_text(text)


@share(1 / SLOW_SHARE)
@given(case=fuzzing.cli_cases())
@example(
    fuzzing.CliCase(
        ("score", "{R}", "{M}", "--output", "{OUT}.csv"), fuzzing.SEEDS[0], "a-offices-2026.csv"
    )
)
@example(
    fuzzing.CliCase(
        ("score", "{R}", "{M}", "--output", "{R}", "--force"),
        fuzzing.SEEDS[0],
        "a-offices-2026.csv",
    )
)
def test_cli_outputs(case: fuzzing.CliCase) -> None:
    """Any command line over generated files: exit 0/1/2, no traceback, outputs complete, inputs kept."""
    _holds("cli", case)


@share(1 / SLOW_SHARE)
@given(case=fuzzing.ledger_cases_without_kills())
@example(
    fuzzing.LedgerCase((("append", 0), ("append", 2), ("tamper", "update", 1, 4), ("verify",)))
)
@example(fuzzing.LedgerCase((("append", 0), ("tamper", "delete", 1, 0), ("verify",), ("history",))))
def test_ledger_interleavings(case: fuzzing.LedgerCase) -> None:
    """Appends and tamperings: verify catches every in-place change; reading leaves the file alone."""
    _holds("ledger", case)


@pytest.mark.parametrize("ms", [0, 60_000])
def test_killed_writer_leaves_a_ledger_that_verifies(ms: int) -> None:
    """A writer killed at once leaves no ledger; one left to finish leaves a ledger that verifies."""
    _holds("ledger", fuzzing.LedgerCase((("append", 2), ("kill", ms), ("verify",), ("history",))))


@share(1 / 5)
@given(case=fuzzing.encoding_cases())
def test_mixed_encodings(case: fuzzing.EncodingCase) -> None:
    """Rows in mixed encodings with NUL and control characters: names exact, or an error at a row."""
    _holds("encodings", case)


@share(1 / 10)
@given(case=fuzzing.context_cases())
def test_caller_decimal_contexts(case: fuzzing.ContextCase) -> None:
    """The caller's decimal context changes no byte of any output and is left as it was."""
    _holds("contexts", case)


def test_open_findings_are_still_found() -> None:
    """Each finding listed as open is produced by its reproducer today (remove it once fixed)."""
    for finding in fuzzing.OPEN_FINDINGS:
        with pytest.raises(Broken) as info:
            TARGETS[finding.target].check(finding.reproducer)
        assert fuzzing.open_finding(finding.target, str(info.value)) == finding


def test_fixed_findings_stay_fixed() -> None:
    """Reproducers of failures earlier fuzz runs found (a NUL without its row, a BOM or GBK row
    garbling names, the caller's decimal context leaking in, a too-long ledger name, a directory
    as output, a corrupted ledger, verify writing to an emptied file, a validate argument too
    long for the system, a GBK name that is also valid UTF-8) now pass their checks."""
    assert len(fuzzing.FIXED_FINDINGS) == 12
    for finding in fuzzing.FIXED_FINDINGS:
        TARGETS[finding.target].check(finding.reproducer)


def _runner() -> Any:
    spec = importlib.util.spec_from_file_location("fuzz_run", ROOT / "fuzz" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_run"] = module  # its workers find work() and Tally by this name
    spec.loader.exec_module(module)
    return module


def test_runner_counts_failures_with_a_reproducer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker records every broken case by kind, with a case that reproduces it, and goes on."""
    runner = _runner()

    def odd_is_broken(n: int) -> None:
        if n % 2:
            raise fuzzing.broken("odd number", str(n))

    target = fuzzing.Target("odd", "odd numbers", lambda: st.integers(0, 10**6), odd_is_broken, 1)
    monkeypatch.setitem(TARGETS, "odd", target)
    tally = runner.work("odd", 40, 3, None)
    assert tally.tried == 40
    count, case = tally.failures["Broken: odd number"]
    assert 0 < count < 40
    assert case % 2 == 1
    script = runner._reproducer("odd", case)
    assert f"fuzzing.TARGETS['odd'].check({case!r})" in script


def test_runner_prints_a_table_and_stops_on_budget(capsys: pytest.CaptureFixture[str]) -> None:
    """One target, two workers: the inputs are shared out and summed; a spent budget stops early."""
    runner = _runner()
    assert (
        runner.main(["--jobs", "2", "--targets", "bytes", "--examples", "30", "--seed", "1"]) == 0
    )
    out = capsys.readouterr().out
    assert "| target | inputs | inputs/s | slowest (s) | failures |" in out
    assert "| random bytes as a ruleset (`bytes`) | 30 |" in out
    assert runner.work("bytes", 10**9, 1, 0.0).tried <= 1


def test_campaign_weights_share_the_inputs() -> None:
    """--campaign shares its inputs among the targets by weight, a million in all."""
    runner = _runner()
    args = runner.argparse.Namespace(campaign=1_000_000, examples=0)
    plan = runner._plan(args, list(TARGETS))
    assert plan["bytes"] == 956_200
    assert plan["ledger"] == 540
    assert sum(plan.values()) == 1_000_000


@pytest.mark.parametrize(
    ("kind", "a", "plain", "receipt", "code"),
    [
        ("update", 1, "fail", "fail", 1),
        ("ruleset_text", 0, "fail", "fail", 1),
        ("delete", 0, "fail", "fail", 1),
        ("delete", 3, "any", "fail", 1),
        ("rechain", 1, "any", "fail", 1),
        ("truncate", 4096, "fail", "fail", 1),
    ],
)
def test_each_tampering_says_what_verify_must_say(
    tmp_path: Path, kind: str, a: int, plain: str, receipt: str, code: int
) -> None:
    """Each tampering of a four-entry ledger returns its verdicts; verify without a receipt agrees.

    Deleting the last entry or re-chaining every hash (leaving the stored checkpoints) is
    caught by the checkpoints stored in the ledger; an attacker who also rewrites those is
    caught only by a receipt ("any" without one)."""
    ledger = tmp_path / "l.db"
    argv = ["score", str(ROOT / "rulesets" / "a-office-annual.yaml")]
    argv += [str(ROOT / "examples" / "a-offices-2026.csv"), "--record", str(ledger)]
    assert run(argv, io.StringIO(), io.StringIO()) == 0
    assert fuzzing.TAMPERINGS[kind](ledger, a, 0) == fuzzing.Expect(plain, receipt)
    assert run(["verify", str(ledger)], io.StringIO(), io.StringIO()) == code
