"""Score the same models with kpirules and its peers, interleaved, and report medians and ratios.

Two models (``--model peers30|mixed|all``):

- ``peers30``: the model of the project's peer notes: 30 rates, each "full points if the rate is
  ≤ 2%, else deduct 1 point per percentage point, not below 0" (10 points each).
- ``mixed``: ``models/mixed.yaml``, one indicator of each common method with a veto, grades
  and outcomes (see ``mixed.py``).

Every engine first scores every entity once and is compared with kpirules ``evaluate_many``:
exactly for the Decimal engines, to 2 decimal places for zen-engine (binary floats); any
disagreement ends the run with exit status 1 before anything is timed. Then the engines are
timed interleaved: each of ``--rounds`` rounds runs one full batch of every engine in turn
(A B C … A B C …), so drift of a shared machine hits all engines alike. Reported per engine,
by wall time and by the process's CPU time: the median µs per entity over the rounds, and
the median over rounds of the ratio to kpirules ``evaluate_many`` in the same round.

Usage: python benchmarks/run.py [--model all] [--entities 2000] [--rounds 31]
"""

from __future__ import annotations

import argparse
import ast
import decimal
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import metadata
from typing import Any

import mixed
import simpleeval

import kpirules

N_INDICATORS = 30
CENT = Decimal("0.01")
BASE = "kpirules evaluate_many"
Normal = mixed.Normal


@dataclass
class Engine:
    """One way of scoring a batch: ``run`` is timed, ``normal`` turns its output into
    (scores, total, grade, outcome ids) per entity for the agreement check."""

    name: str
    run: Callable[[], Any]
    normal: Callable[[Any], list[Normal]]
    exact: bool = True


@dataclass
class Model:
    name: str
    title: str
    engines: list[Engine] = field(default_factory=list)


def peers30_ruleset_text() -> str:
    """The peers30 model as a kpirules ruleset."""
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
    lines += [
        "categories:",
        "  - id: all",
        "    label: 全部",
        f"    weight: {N_INDICATORS * 10}",
        "    indicators:",
    ]
    lines += [
        f"      - {{id: s{i}, label: 差错率{i}, metric: r{i}, weight: 10, target: ≤ 2%, "
        "scoring: {method: deduct, per: 1%, deduct: 1, partial: pro_rata}}"
        for i in range(N_INDICATORS)
    ]
    return "\n".join(lines) + "\n"


def peers30_zen_graph() -> dict[str, Any]:
    """The peers30 model as a JDM graph: one expression node, 30 scores and their total."""
    expressions = [
        {
            "id": f"e{i}",
            "key": f"s{i}",
            "value": f"r{i} <= 0.02 ? 10 : max([0, 10 - (r{i} - 0.02) * 100])",
        }
        for i in range(N_INDICATORS)
    ]
    expressions.append(
        {
            "id": "total",
            "key": "total",
            "value": "round(" + " + ".join(f"$.s{i}" for i in range(N_INDICATORS)) + ", 2)",
        }
    )
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


def peers30_entities(n: int, seed: int = 20261122) -> list[dict[str, Any]]:
    """Deterministic rates between 0% and 15%, four decimal places, as Decimal."""
    rng = random.Random(seed)
    return [
        {f"r{i}": Decimal(rng.randint(0, 1500)) / Decimal(10000) for i in range(N_INDICATORS)}
        for _ in range(n)
    ]


def kpirules_normal(results: Sequence[kpirules.Result]) -> list[Normal]:
    """kpirules results as (scores of the scored items, total, grade, outcome ids)."""
    return [
        (
            tuple(i.score for i in r.items if i.method != "monitor"),
            r.total,
            r.grade,
            tuple(o.id for o in r.outcomes),
        )
        for r in results
    ]


def kpirules_engines(ruleset: kpirules.LoadedRuleset, rows: list[tuple[str, Any]]) -> list[Engine]:
    """kpirules three ways: a batch, a batch with every sentence rendered, one call each."""

    def many() -> tuple[kpirules.Result, ...]:
        return ruleset.evaluate_many(rows)

    def many_rendered() -> tuple[tuple[kpirules.Result, ...], list[str]]:
        results = ruleset.evaluate_many(rows)
        return results, [item.explanation for r in results for item in r.items]

    def one_by_one() -> list[kpirules.Result]:
        return [ruleset.evaluate(m, entity=name) for name, m in rows]

    return [
        Engine(BASE, many, kpirules_normal),
        Engine(
            "kpirules evaluate_many + render every sentence",
            many_rendered,
            lambda out: kpirules_normal(out[0]),
        ),
        Engine("kpirules evaluate, one call per entity", one_by_one, kpirules_normal),
    ]


def zen_engines(graph: dict[str, Any], contexts: list[dict[str, Any]], normal: Any) -> list[Engine]:
    """zen-engine with the static loader: evaluate_batch and one evaluate per entity."""
    import zen

    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"model.json": graph}}})
    batch: list[Any] = [{"key": "model.json", "context": c} for c in contexts]

    def run_batch() -> list[Any]:
        return list(engine.evaluate_batch(batch))

    def run_each() -> list[Any]:
        return [engine.evaluate("model.json", c) for c in contexts]

    def batch_normal(out: list[Any]) -> list[Normal]:
        problems = [o for o in out if not o.get("success")]
        if problems:
            raise SystemExit(f"zen-engine evaluate_batch failed: {problems[0]}")
        return [normal(o["data"]["result"]) for o in out]

    return [
        Engine("zen-engine evaluate_batch (static loader)", run_batch, batch_normal, exact=False),
        Engine(
            "zen-engine evaluate (static loader)",
            run_each,
            lambda out: [normal(o["result"]) for o in out],
            exact=False,
        ),
    ]


def peers30_model(n: int, with_zen: bool) -> Model:
    data = peers30_entities(n)
    rows = [(f"e{k}", row) for k, row in enumerate(data)]
    ruleset = kpirules.load("bench-30.yaml", text=peers30_ruleset_text())
    model = Model("peers30", f"{n} entities × {N_INDICATORS} deduct indicators")
    model.engines += kpirules_engines(ruleset, rows)

    # simpleeval, each formula parsed once; literals made Decimal from their source text.
    parsed = []
    for i in range(N_INDICATORS):
        source = f"10 if r{i} <= 0.02 else max(0, 10 - (r{i} - 0.02) * 100)"
        tree = ast.parse(source, mode="eval").body
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
                # simpleeval returns a Constant's value as it is, so a Decimal stays one.
                text = ast.get_source_segment(source, node) or repr(node.value)
                node.value = Decimal(text)  # type: ignore[assignment]
        parsed.append((source, tree))
    evaluator = simpleeval.SimpleEval(
        functions={"max": max}, operators=dict(simpleeval.DEFAULT_OPERATORS)
    )

    def run_simpleeval() -> list[Normal]:
        out: list[Normal] = []
        with decimal.localcontext(mixed.CONTEXT):
            for row in data:
                evaluator.names = row
                scores = tuple(evaluator.eval(src, previously_parsed=tree) for src, tree in parsed)
                out.append(
                    (scores, sum(scores, Decimal(0)).quantize(CENT, ROUND_HALF_UP), None, ())
                )
        return out

    model.engines.append(
        Engine("simpleeval, parsed once (Decimal)", run_simpleeval, lambda out: out)
    )
    if with_zen:
        contexts = [{k: float(v) for k, v in row.items()} for row in data]
        model.engines += zen_engines(
            peers30_zen_graph(),
            contexts,
            lambda r: (
                tuple(Decimal(repr(r[f"s{i}"])) for i in range(N_INDICATORS)),
                Decimal(repr(r["total"])),
                None,
                (),
            ),
        )

    keys = tuple(f"r{i}" for i in range(N_INDICATORS))
    target, ten, hundred, zero = Decimal("0.02"), Decimal(10), Decimal(100), Decimal(0)

    def run_hand() -> list[Normal]:
        out: list[Normal] = []
        with decimal.localcontext(mixed.CONTEXT):
            for row in data:
                scores = tuple(
                    ten if (r := row[k]) <= target else max(zero, ten - (r - target) * hundred)
                    for k in keys
                )
                out.append((scores, sum(scores, zero).quantize(CENT, ROUND_HALF_UP), None, ()))
        return out

    model.engines.append(Engine("hand-written Python (Decimal)", run_hand, lambda out: out))
    return model


def mixed_model(n: int, with_zen: bool) -> Model:
    data = mixed.entities(n)
    rows = [(f"e{k}", row) for k, row in enumerate(data)]
    ruleset = kpirules.load(str(mixed.RULESET))
    model = Model("mixed", f"{n} entities × {len(mixed.SCORED)} scored indicators of 6 methods")
    model.engines += kpirules_engines(ruleset, rows)
    if with_zen:
        contexts = [mixed.zen_context(row) for row in data]
        model.engines += zen_engines(mixed.zen_graph(), contexts, mixed.zen_normal)

    def run_hand() -> list[Normal]:
        with decimal.localcontext(mixed.CONTEXT):
            return [mixed.hand_score(row) for row in data]

    model.engines.append(Engine("hand-written Python (Decimal)", run_hand, lambda out: out))
    return model


def two_places(n: Normal) -> Normal:
    scores, total, grade, outcomes = n
    return (
        tuple(s.quantize(CENT, ROUND_HALF_UP) for s in scores),
        total.quantize(CENT, ROUND_HALF_UP),
        grade,
        outcomes,
    )


def disagreements(model: Model) -> list[str]:
    """Score once with every engine; name each engine that disagrees with kpirules."""
    expected = model.engines[0].normal(model.engines[0].run())
    expected_2 = [two_places(e) for e in expected]
    if any(grade for _, _, grade, _ in expected):
        grades = Counter(grade for _, _, grade, _ in expected)
        outcomes = Counter(o for _, _, _, fired in expected for o in fired)
        print(f"{model.name}: kpirules grades {dict(grades)}, outcomes {dict(outcomes)}")
    found = []
    for engine in model.engines[1:]:
        got = engine.normal(engine.run())
        reference = expected if engine.exact else expected_2
        if not engine.exact:
            got = [two_places(g) for g in got]
        bad = [k for k, (a, b) in enumerate(zip(reference, got, strict=True)) if a != b]
        how = "exactly" if engine.exact else "at 2 decimal places"
        if bad:
            k = bad[0]
            found.append(
                f"{model.name}: {engine.name} disagrees with kpirules {how} on {len(bad)} of "
                f"{len(got)} entities; first e{k}: kpirules {reference[k]}, got {got[k]}"
            )
        else:
            print(f"{model.name}: {engine.name} agrees {how} on all {len(got)} entities")
    return found


def interleaved(engines: list[Engine], rounds: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per batch for every engine, timed A B C … A B C … ``rounds`` times.

    CPU is the process's time on a core (all its threads, zen-engine's included): on a shared
    machine it leaves out the time other processes had the cores, which wall time counts.
    """
    times: dict[str, list[tuple[float, float]]] = {e.name: [] for e in engines}
    for _ in range(rounds):
        for engine in engines:
            gc.collect()  # no engine pays for the garbage of the one before it
            wall, cpu = time.perf_counter(), time.process_time()
            out = engine.run()
            times[engine.name].append((time.perf_counter() - wall, time.process_time() - cpu))
            del out
    return times


def report(
    model: Model, times: dict[str, list[tuple[float, float]]], entities: int
) -> dict[str, Any]:
    """Print and return, per engine, the medians over rounds of µs/entity and of the ratio to
    kpirules ``evaluate_many`` in the same round, by wall time and by CPU time."""
    base = times[BASE]
    print(f"\n{model.name}: {model.title}; {len(base)} interleaved rounds; medians over rounds")
    print(
        f"{'engine':<48} {'wall µs':>8} {'CPU µs':>8} {'× wall':>7} {'× CPU':>7} "
        f"{'× CPU min–max':>14}"
    )
    summary: dict[str, Any] = {}
    for name, pairs in times.items():
        wall = statistics.median(w for w, _ in pairs) / entities * 1e6
        cpu = statistics.median(c for _, c in pairs) / entities * 1e6
        wall_ratio = statistics.median(w / b[0] for (w, _), b in zip(pairs, base, strict=True))
        cpu_ratios = [c / b[1] for (_, c), b in zip(pairs, base, strict=True)]
        cpu_ratio = statistics.median(cpu_ratios)
        spread = f"{min(cpu_ratios):.2f}–{max(cpu_ratios):.2f}"
        print(
            f"{name:<48} {wall:>8.1f} {cpu:>8.1f} {wall_ratio:>7.2f} {cpu_ratio:>7.2f} {spread:>14}"
        )
        summary[name] = {
            "wall_us": round(wall, 1),
            "cpu_us": round(cpu, 1),
            "wall_ratio": round(wall_ratio, 3),
            "cpu_ratio": round(cpu_ratio, 3),
        }
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", choices=("peers30", "mixed", "all"), default="all")
    parser.add_argument("--entities", type=int, default=2000, help="entities per batch")
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds")
    args = parser.parse_args(argv)
    if args.entities < 1 or args.rounds < 1:
        parser.error("--entities and --rounds must be at least 1")
    try:
        import zen  # noqa: F401
    except ImportError:
        print("zen-engine is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    print(
        f"Python {platform.python_version()} on {platform.machine()}; kpirules "
        f"{kpirules.__version__}, zen-engine {metadata.version('zen-engine')}, "
        f"simpleeval {metadata.version('simpleeval')}"
    )
    names = ("peers30", "mixed") if args.model == "all" else (args.model,)
    builders = {"peers30": peers30_model, "mixed": mixed_model}
    models = [builders[name](args.entities, True) for name in names]

    probe = kpirules.load(str(mixed.RULESET)).evaluate_many([("e", mixed.entities(1)[0])])[0]
    if not probe.provenance.decimal_context.startswith(mixed.CONTEXT_TEXT):
        print(
            "kpirules now scores in another decimal context "
            f"({probe.provenance.decimal_context}): update mixed.CONTEXT",
            file=sys.stderr,
        )
        return 1
    problems = [p for m in models for p in disagreements(m)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    summary = {}
    for model in models:
        times = interleaved(model.engines, args.rounds)
        summary[model.name] = report(model, times, args.entities)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
