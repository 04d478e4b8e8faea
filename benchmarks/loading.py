"""Time loading large rulesets and writing their CSV.

Generates, in memory (deterministic, nothing written to the repository):

* ``indicators N``: a ruleset of N indicators in 10 categories, written the way policy staff
  write them (block style, Chinese labels and targets), with a mix of methods (deduct,
  linear, proportional, pass_fail, table) and one derived metric per ten indicators;
* ``chain N``: N derived metrics in a chain (``d1 = x + y``, ``d{i} = d{i-1} + x``) with an
  indicator on every 100th link and on the last, so dependency resolution in validation and
  in the compiled engine walks the whole chain.

For each, times ``kpirules.load(path, text=...)`` (read YAML, validate, compile) as the
median of ``--repeat`` runs, and the share spent in the YAML loader alone. Then scores
``--entities`` entities on the 2,000-indicator ruleset and times writing them (CSV, terminal
table, xlsx workbook, HTML report) per entity. Times are medians of wall and CPU time
(``time.process_time``: on a shared machine the steadier figure).

Usage: python benchmarks/loading.py [--repeat 5] [--entities 200] [--parser c|python]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import kpirules
from kpirules import composer, html_report, report, workbook
from kpirules.loader import load_yaml

CATEGORIES = 10


def _indicator(i: int) -> list[str]:
    """One indicator (and the method-specific lines) for ``indicators_ruleset``."""
    kind = i % 5
    head = [f"      - id: s{i}", f"        label: 考核指标{i}", "        weight: 1"]
    if kind == 0:
        return [
            *head,
            f"        metric: err{i}",
            "        target: ≤ 2%",
            "        scoring: {method: deduct, per: 1%, deduct: 0.5, partial: pro_rata}",
        ]
    if kind == 1:
        return [
            *head,
            f"        metric: sat{i}",
            "        target: ≥ 95%",
            "        scoring:",
            "          method: linear",
            "          segments:",
            "            - {from: 80%, to: 90%, points: [0, 0.6]}",
            "            - {from: 90%, to: 95%, points: [0.6, 1]}",
            "          below: 0",
        ]
    if kind == 2:
        return [
            *head,
            f"        metric: cnt{i}",
            "        target: 不少于 4 次",
            "        scoring: {method: proportional}",
        ]
    if kind == 3:
        return [
            *head,
            f"        metric: done{i}",
            "        target: 是",
            "        scoring: {method: pass_fail}",
        ]
    return [
        *head,
        f"        metric: hours{i}",
        "        target: ≤ 24小时",
        "        scoring:",
        "          method: table",
        "          rows:",
        "            - {to: 24, points: 1}",
        "            - {over: 24, to: 48, points: 0.5}",
        "            - {over: 48, points: 0}",
    ]


def _metrics(i: int) -> list[str]:
    """The metric lines that indicator ``i`` needs."""
    kind = i % 5
    if kind == 0 and i % 10 == 0:
        return [
            f"  bad{i}: {{label: 差错件数{i}, unit: count, in: 件}}",
            f"  all{i}: {{label: 审核件数{i}, unit: count, in: 件, min: 1}}",
            f"  err{i}: {{label: 审核差错率{i}, unit: percent, formula: bad{i} / all{i}}}",
        ]
    return [
        [
            f"  err{i}: {{label: 差错率{i}, unit: percent}}",
            f"  sat{i}: {{label: 满意度{i}, unit: percent}}",
            f"  cnt{i}: {{label: 宣传活动次数{i}, unit: count, in: 次}}",
            f"  done{i}: {{label: 方案已落地{i}, unit: yes_no}}",
            f"  hours{i}: {{label: 停机时长{i}, unit: duration, in: 小时}}",
        ][kind]
    ]


def _head(name: str, total: int) -> list[str]:
    return [
        "kpirules: 1",
        f"id: bench-{name}",
        f"title: 基准测试（{name}）",
        'version: "1"',
        "source: benchmarks/loading.py",
        "in_force: {from: 2026-01-01}",
        "cycle: year",
        f"total_points: {total}",
        "rounding: {places: 2, mode: half_up, at: total}",
        "weighting: points",
    ]


def indicators_ruleset(n: int) -> str:
    """A ruleset of ``n`` indicators (a multiple of 10) in 10 categories of equal weight."""
    lines = [*_head(f"{n}-indicators", n), "metrics:"]
    for i in range(n):
        lines += _metrics(i)
    lines.append("categories:")
    per = n // CATEGORIES
    for c in range(CATEGORIES):
        lines += [
            f"  - id: c{c}",
            f"    label: 考核类别{c}",
            f"    weight: {per}",
            "    indicators:",
        ]
        for i in range(c * per, (c + 1) * per):
            lines += _indicator(i)
    return "\n".join(lines) + "\n"


def chain_ruleset(n: int) -> str:
    """``n`` derived metrics in a chain, an indicator on every 100th link and on the last."""
    lines = [*_head(f"{n}-chain", 0), "metrics:"]
    lines += ["  x: {label: 基数, unit: count, in: 件}", "  y: {label: 增量, unit: count, in: 件}"]
    lines.append("  d1: {label: 派生1, unit: count, in: 件, formula: x + y}")
    for i in range(2, n + 1):
        lines.append(f"  d{i}: {{label: 派生{i}, unit: count, in: 件, formula: d{i - 1} + x}}")
    scored = [i for i in range(1, n + 1) if i % 100 == 0 or i == n]
    lines[7] = f"total_points: {len(scored)}"
    lines += [
        "categories:",
        "  - id: all",
        "    label: 全部",
        f"    weight: {len(scored)}",
        "    indicators:",
    ]
    for i in scored:
        lines += [
            f"      - id: s{i}",
            f"        label: 派生指标{i}",
            f"        metric: d{i}",
            "        weight: 1",
            f"        target: 不少于 {i} 件",
            "        scoring: {method: proportional}",
        ]
    return "\n".join(lines) + "\n"


def entities(n_indicators: int, count: int, seed: int = 20261201) -> list[tuple[str, Any]]:
    """Deterministic plausible metrics for ``indicators_ruleset(n_indicators)``."""
    rng = random.Random(seed)
    out = []
    for e in range(count):
        row: dict[str, Any] = {}
        for i in range(n_indicators):
            kind = i % 5
            if kind == 0 and i % 10 == 0:
                row[f"all{i}"] = Decimal(rng.randint(100, 1000))
                row[f"bad{i}"] = Decimal(rng.randint(0, 50))
            elif kind == 0:
                row[f"err{i}"] = Decimal(rng.randint(0, 600)) / 10000
            elif kind == 1:
                row[f"sat{i}"] = Decimal(rng.randint(7500, 10000)) / 10000
            elif kind == 2:
                row[f"cnt{i}"] = Decimal(rng.randint(0, 6))
            elif kind == 3:
                row[f"done{i}"] = rng.random() < 0.8
            else:
                row[f"hours{i}"] = Decimal(rng.randint(0, 60))
        out.append((f"对象{e:04d}", row))
    return out


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of ``repeat`` calls, in seconds."""
    wall, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def yaml_time(text: str, parser: str, repeat: int) -> float:
    """Median CPU time of the YAML loader alone with ``parser``."""
    before = composer.YAML_PARSER
    composer.YAML_PARSER = parser
    try:
        return median_time(lambda: load_yaml("bench.yaml", text=text), repeat)[1]
    finally:
        composer.YAML_PARSER = before


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--entities", type=int, default=200)
    ap.add_argument("--parser", choices=("c", "python"), help="YAML parser (default: c if present)")
    ap.add_argument("--sizes", default="500,2000", help="indicator counts")
    ap.add_argument("--chains", default="800,1600", help="derived-chain lengths")
    args = ap.parse_args(argv)
    if args.parser:
        composer.YAML_PARSER = args.parser
    print(f"YAML parser: {composer.parser_in_use()}; medians of {args.repeat} runs, seconds")
    print(
        f"| ruleset | KB | load (wall) | load (CPU) | YAML, {composer.parser_in_use()} (CPU) "
        "| YAML, python (CPU) |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    cases = [(f"{n} indicators", indicators_ruleset(n)) for n in map(int, args.sizes.split(","))]
    cases += [(f"{n} derived (chain)", chain_ruleset(n)) for n in map(int, args.chains.split(","))]
    for name, text in cases:
        kpirules.load("bench.yaml", text=text)  # fails loudly if the generator is wrong
        wall, cpu = median_time(lambda t=text: kpirules.load("bench.yaml", text=t), args.repeat)
        fast = yaml_time(text, composer.parser_in_use(), args.repeat)
        slow = yaml_time(text, "python", args.repeat)
        kb = len(text.encode("utf-8")) / 1024
        print(
            f"| {name} | {kb:.0f} | {wall:.3f} | {cpu:.3f} | {fast:.3f} | {slow:.3f} |", flush=True
        )
    n = 2000
    ruleset = kpirules.load("bench.yaml", text=indicators_ruleset(n))
    results = ruleset.evaluate_many(entities(n, args.entities))
    for label, write in (
        ("CSV", lambda: report.to_csv(ruleset, results)),
        ("table", lambda: report.table(ruleset, results)),
        ("xlsx", lambda: workbook.to_xlsx(ruleset, results)),
        ("HTML", lambda: html_report.render(ruleset, results)),
    ):
        wall, cpu = median_time(write, args.repeat)
        print(
            f"{label} at {n} indicators, {len(results)} entities: "
            f"{wall / len(results) * 1000:.2f} ms per entity (wall), "
            f"{cpu / len(results) * 1000:.2f} ms (CPU)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
