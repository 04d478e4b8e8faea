"""Results do not depend on the caller's decimal context, and no process-wide state leaks."""

from __future__ import annotations

import decimal
import gc
import io
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kpirules
from kpirules import report
from kpirules.cli import run
from kpirules.engine import _pause_collector, _resume_collector
from kpirules.inputs import read_metrics
from kpirules.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent

#: Every shipped ruleset with the example files scored against it.
PAIRS = (
    ("rulesets/a-office-annual.yaml", "examples/a-offices-2026.csv"),
    ("rulesets/a-office-annual.yaml", "examples/a-offices-2026-excel-gbk.csv"),
    ("rulesets/b-position-leader.yaml", "examples/b-leader-2026.csv"),
    ("rulesets/b-position-policy-research.yaml", "examples/b-policy-research-2026.csv"),
    ("rulesets/b-position-cost-management.yaml", "examples/b-cost-management-2026.csv"),
    ("rulesets/c-staff-halfyear.yaml", "examples/c-staff-2026h1.csv"),
    ("rulesets/d-internal-quarterly.yaml", "examples/d-departments-2026q1.csv"),
    ("rulesets/d-internal-quarterly.yaml", "examples/d-departments-2026q2.csv"),
    ("rulesets/e-annual-letter.yaml", "examples/e-office-2026.yaml"),
)

SIGNALS = (
    decimal.Clamped,
    decimal.DivisionByZero,
    decimal.Inexact,
    decimal.InvalidOperation,
    decimal.Overflow,
    decimal.Rounded,
    decimal.Subnormal,
    decimal.Underflow,
    decimal.FloatOperation,
)
ROUNDINGS = (
    decimal.ROUND_CEILING,
    decimal.ROUND_DOWN,
    decimal.ROUND_FLOOR,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_HALF_UP,
    decimal.ROUND_UP,
    decimal.ROUND_05UP,
)


def outputs(ruleset_file: str, metrics_file: str) -> list[str]:
    """Everything a user sees from one ruleset and one metrics file, loaded and scored here."""
    ruleset = kpirules.load(ROOT / ruleset_file)
    results = ruleset.evaluate_many(read_metrics(ROOT / metrics_file, ruleset))
    texts = [
        report.to_json(results),
        report.table(ruleset, results),
        report.to_csv(ruleset, results),
        *(report.explain(ruleset, r) for r in results),
        *(r.to_json() for r in results),
        *(item.explanation for r in results for item in r.items),
    ]
    if ruleset.tests:
        texts.append(report.format_test_report(ruleset_file, run_tests(ruleset)))
    return texts


_BASELINE: dict[int, list[str]] = {}


def baseline(index: int) -> list[str]:
    """The outputs in a fresh default context, computed once."""
    if index not in _BASELINE:
        with decimal.localcontext(decimal.Context()):
            _BASELINE[index] = outputs(*PAIRS[index])
    return _BASELINE[index]


@st.composite
def contexts(draw: st.DrawFn) -> decimal.Context:
    """Any context a caller may have set: precision, rounding, traps, exponent range."""
    return decimal.Context(
        prec=draw(st.integers(1, 50)),
        rounding=draw(st.sampled_from(ROUNDINGS)),
        Emin=draw(st.integers(-999_999, -40)),
        Emax=draw(st.integers(40, 999_999)),
        capitals=draw(st.integers(0, 1)),
        clamp=draw(st.integers(0, 1)),
        flags=[],
        traps=draw(st.lists(st.sampled_from(SIGNALS), unique=True)),
    )


def described(ctx: decimal.Context) -> tuple[object, ...]:
    """A context's settings and flags, to see that nothing changed them."""
    return (
        ctx.prec,
        ctx.rounding,
        ctx.Emin,
        ctx.Emax,
        ctx.capitals,
        ctx.clamp,
        tuple(sorted((s.__name__, v) for s, v in ctx.traps.items())),
        tuple(sorted((s.__name__, v) for s, v in ctx.flags.items())),
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ctx=contexts(), index=st.integers(0, len(PAIRS) - 1))
def test_any_caller_context_gives_byte_identical_outputs(ctx: decimal.Context, index: int) -> None:
    """Loading, reading, scoring and every output are the same bytes in any caller context."""
    expected = baseline(index)
    before = described(ctx)
    with decimal.localcontext(ctx) as current:
        got = outputs(*PAIRS[index])
        assert decimal.getcontext() is current
        assert described(current) == before
    assert got == expected


def test_low_precision_caller_reads_money_exactly() -> None:
    """A caller's prec=3 no longer rounds 12,345.67 元 converted to 万元 (was 1.23)."""
    ruleset = kpirules.load(
        "t.yaml",
        text=(
            "kpirules: 1\nid: t\ntitle: 测试\nversion: '1'\nsource: 测试\n"
            "in_force: {from: 2026-01-01}\ntotal_points: 10\nweighting: points\n"
            "metrics:\n  m: {label: 追回金额, unit: money, in: 万元}\n"
            "categories:\n  - id: c\n    label: 类\n    weight: 10\n    indicators:\n"
            "      - {id: i, label: 追回金额, metric: m, weight: 10, target: ≥ 1万元, "
            "scoring: {method: proportional}}\n"
        ),
    )
    with decimal.localcontext(decimal.Context(prec=3, traps=[decimal.Inexact])):
        result = ruleset.evaluate({"m": "12345.67元"})
        text = result.to_json()
    assert result.item("i").value == Decimal("1.234567")
    assert result.total == Decimal("10.00")
    assert text == ruleset.evaluate({"m": "12345.67元"}).to_json()


def test_command_line_in_a_hostile_context_prints_the_same_table() -> None:
    """``kpirules score`` run in-process under prec=2 and ROUND_FLOOR prints the same table."""
    args = ["score", str(ROOT / PAIRS[0][0]), str(ROOT / PAIRS[0][1])]
    plain, hostile = io.StringIO(), io.StringIO()
    assert run(args, plain, io.StringIO()) == 0
    with decimal.localcontext(decimal.Context(prec=2, rounding=decimal.ROUND_FLOOR)):
        assert run(args, hostile, io.StringIO()) == 0
    assert hostile.getvalue() == plain.getvalue()
    assert "97.00" in plain.getvalue()


def test_calling_thread_context_is_unchanged_after_every_api_call() -> None:
    """After each public call the thread's context is the same object with the same settings."""
    mine = decimal.Context(prec=7, rounding=decimal.ROUND_UP, traps=[decimal.Inexact], flags=[])
    before = described(mine)
    with decimal.localcontext(mine) as current:
        ruleset = kpirules.load(ROOT / PAIRS[5][0])
        assert decimal.getcontext() is current
        rows = read_metrics(ROOT / PAIRS[5][1], ruleset)
        assert decimal.getcontext() is current
        results = ruleset.evaluate_many(rows)
        assert decimal.getcontext() is current
        one = ruleset.evaluate(dict(rows[0][1]), entity=rows[0][0])
        assert decimal.getcontext() is current
        report.explain(ruleset, one)
        one.to_json()
        assert one.items[0].explanation
        report.table(ruleset, results)
        assert decimal.getcontext() is current
        with pytest.raises(kpirules.EvaluationError):
            ruleset.evaluate({"nope": "1"})
        assert decimal.getcontext() is current
        assert described(current) == before


# -- the garbage collector pause -------------------------------------------------------


def test_overlapping_pauses_restore_the_collector_once_the_last_ends() -> None:
    """Batch A starts, batch B starts, A ends (still paused), B ends (collector back on)."""
    assert gc.isenabled()
    a_in, a_out, b_in = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def batch_a() -> None:
        _pause_collector()
        a_in.set()
        b_in.wait(5)
        _resume_collector()
        seen["after A"] = gc.isenabled()
        a_out.set()

    thread = threading.Thread(target=batch_a)
    thread.start()
    a_in.wait(5)
    _pause_collector()
    b_in.set()
    a_out.wait(5)
    seen["inside B"] = gc.isenabled()
    _resume_collector()
    thread.join()
    assert seen == {"after A": False, "inside B": False}
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    """When the program had the collector off, a batch leaves it off."""
    gc.disable()
    try:
        ruleset = kpirules.load(ROOT / PAIRS[0][0])
        ruleset.evaluate_many(read_metrics(ROOT / PAIRS[0][1], ruleset))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_concurrent_batches_restore_the_collector_and_agree() -> None:
    """Eight threads × 25 rounds of evaluate_many: same results, collector on afterwards."""
    ruleset = kpirules.load(ROOT / PAIRS[6][0])
    rows = read_metrics(ROOT / PAIRS[6][1], ruleset)
    expected = report.to_json(ruleset.evaluate_many(rows))
    failures: list[str] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait(5)
        for _ in range(25):
            got = report.to_json(ruleset.evaluate_many(rows))
            if got != expected:
                failures.append(got)

    for _ in range(4):
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert gc.isenabled()
    assert failures == []
