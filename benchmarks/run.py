"""Score the same 30-indicator model for 10,000 entities with kpirules and its peers, in one run.

The model is the one in ../shared/peers.md: 30 rates, each "full points if rate ≤ 2%, else
deduct 1 point per percentage point, not below 0" (10 points each). Every engine scores
every entity; the scores are compared to 2 decimal places (zen-engine computes in binary
floating point), then each engine is timed, best of ``--repeat`` runs, and reported in
microseconds per entity with ratios against kpirules.

Usage: python benchmarks/run.py [--entities 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ast
import decimal
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import simpleeval

import kpirules
from kpirules.compiler import FUNCTIONS
from kpirules.engine import CONTEXT

N_INDICATORS = 30
TARGET = Decimal("0.02")


def ruleset_text() -> str:
    """The model as a kpirules ruleset."""
    lines = [
        "kpirules: 1",
        "id: bench-30",
        "title: 基准测试（30 项差错率）",
        'version: "1"',
        "source: benchmarks/run.py",
        "in_force: {from: 2026-01-01}",
        f"total_points: {N_INDICATORS * 10}",
        "weighting: points",
        "metrics:",
    ]
    lines += [f"  r{i}: {{label: 差错率{i}, unit: percent}}" for i in range(N_INDICATORS)]
    lines += ["categories:", "  - id: all", "    label: 全部", f"    weight: {N_INDICATORS * 10}", "    indicators:"]
    lines += [
        f"      - {{id: s{i}, label: 差错率{i}, metric: r{i}, weight: 10, target: ≤ 2%, "
        "scoring: {method: deduct, per: 1%, deduct: 1, partial: pro_rata}}"
        for i in range(N_INDICATORS)
    ]
    return "\n".join(lines) + "\n"


def zen_model() -> dict[str, Any]:
    """The model as a JDM graph: one expression node with 30 expressions."""
    expressions = [
        {"id": f"e{i}", "key": f"s{i}", "value": f"r{i} <= 0.02 ? 10 : max([0, 10 - (r{i} - 0.02) * 100])"}
        for i in range(N_INDICATORS)
    ]
    return {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "ex",
                "type": "expressionNode",
                "name": "score",
                "position": {"x": 200, "y": 0},
                "content": {"expressions": expressions},
            },
            {"id": "out", "type": "outputNode", "name": "Response", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "a", "sourceId": "in", "targetId": "ex", "type": "edge"},
            {"id": "b", "sourceId": "ex", "targetId": "out", "type": "edge"},
        ],
    }


def entities(n: int, seed: int = 20261122) -> list[dict[str, Decimal]]:
    """Deterministic rates between 0% and 15%, four decimal places, as Decimal."""
    rng = random.Random(seed)
    return [
        {f"r{i}": Decimal(rng.randint(0, 1500)) / Decimal(10000) for i in range(N_INDICATORS)}
        for _ in range(n)
    ]


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best = float("inf")
    out: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = entities(args.entities)
    rows = [(f"e{k}", row) for k, row in enumerate(data)]
    float_rows = [{k: float(v) for k, v in row.items()} for row in data]

    ruleset = kpirules.load("bench-30.yaml", text=ruleset_text())

    def run_kpirules() -> tuple[kpirules.Result, ...]:
        return ruleset.evaluate_many(rows)

    def run_kpirules_rendered() -> list[str]:
        return [item.explanation for result in ruleset.evaluate_many(rows) for item in result.items]

    def run_kpirules_one_by_one() -> list[kpirules.Result]:
        return [ruleset.evaluate(row, entity=name) for name, row in rows]

    parsed = []
    for i in range(N_INDICATORS):
        source = f"10 if r{i} <= 0.02 else max(0, 10 - (r{i} - 0.02) * 100)"
        tree = ast.parse(source, mode="eval").body
        for node in ast.walk(tree):  # Decimal literals from their text, as kpirules does
            if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
                node.value = Decimal(ast.get_source_segment(source, node) or repr(node.value))
        parsed.append((f"s{i}", source, tree))
    evaluator = simpleeval.SimpleEval(functions=dict(FUNCTIONS), operators=dict(simpleeval.DEFAULT_OPERATORS))

    def run_simpleeval() -> list[dict[str, Decimal]]:
        out = []
        with decimal.localcontext(CONTEXT):
            for row in data:
                evaluator.names = row
                out.append({key: evaluator.eval(src, previously_parsed=tree) for key, src, tree in parsed})
        return out

    engines: list[tuple[str, Callable[[], object]]] = [
        ("kpirules evaluate_many (Decimal, explanations)", run_kpirules),
        ("kpirules evaluate_many + render every sentence", run_kpirules_rendered),
        ("kpirules evaluate, one call per entity", run_kpirules_one_by_one),
        ("simpleeval, parsed once (Decimal)", run_simpleeval),
    ]
    try:
        import zen
    except ImportError:
        zen = None
        print("zen-engine is not installed: pip install -e '.[bench]'", file=sys.stderr)
    if zen is not None:
        engine = zen.ZenEngine({"loader": {"type": "static", "content": {"model.json": zen_model()}}})
        batch = [{"key": "model.json", "context": row} for row in float_rows]

        def run_zen_batch() -> list[Any]:
            return list(engine.evaluate_batch(batch))

        def run_zen_static() -> list[Any]:
            return [engine.evaluate("model.json", row) for row in float_rows]

        engines.append(("zen-engine evaluate_batch (static loader)", run_zen_batch))
        engines.append(("zen-engine evaluate, static loader", run_zen_static))

    timings: dict[str, float] = {}
    outputs: dict[str, object] = {}
    for name, fn in engines:
        seconds, out = best_time(fn, args.repeat)
        timings[name] = seconds
        outputs[name] = out

    # Every engine must agree with kpirules on every score, to 2 decimal places.
    ours = outputs[engines[0][0]]
    assert isinstance(ours, tuple)
    q = Decimal("0.01")
    expected = [[item.score.quantize(q) for item in r.items] for r in ours]
    sim = outputs["simpleeval, parsed once (Decimal)"]
    assert isinstance(sim, list)
    assert [[row[f"s{i}"].quantize(q) for i in range(N_INDICATORS)] for row in sim] == expected
    if zen is not None:
        zout = outputs["zen-engine evaluate_batch (static loader)"]
        assert isinstance(zout, list)
        got = [
            [Decimal(repr(float(z["data"]["result"][f"s{i}"]))).quantize(q) for i in range(N_INDICATORS)]
            for z in zout
        ]
        mismatches = sum(1 for a, b in zip(got, expected, strict=True) if a != b)
        print(f"zen-engine scores differing from kpirules at 2 places: {mismatches} of {len(got)} entities")

    base = timings[engines[0][0]]
    print(f"{args.entities} entities × {N_INDICATORS} indicators; best of {args.repeat}; "
          f"Python {platform.python_version()} on {platform.machine()}")
    print(f"{'engine':<48} {'µs/entity':>10} {'× kpirules':>11}")
    for name, seconds in timings.items():
        per = seconds / args.entities * 1e6
        print(f"{name:<48} {per:>10.1f} {seconds / base:>11.2f}")
    print(json.dumps({k: round(v / args.entities * 1e6, 1) for k, v in timings.items()}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
