"""Long fuzz campaign over every target of tests/fuzzing.py, in worker processes.

Each target draws cases with Hypothesis and checks its invariant (see ``--list``); a case
that breaks it, or lets any exception escape, is a failure. Each worker runs its share of a
target with its own seed and no example database. Per target the run prints the inputs
tried, inputs per second, the slowest input and the failures, each kind once with a
reproducer (also written as a script under ``--findings``). Exit code 1 if anything failed.

Usage: python fuzz/run.py [--jobs N] [--targets a,b] [--examples N | --campaign N]
                          [--budget-seconds S] [--seed N]
(needs the test extra: pip install -e '.[test]')
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402, F401 - registers the Hypothesis profiles
import fuzzing  # noqa: E402 - the targets live with the tests
from hypothesis import given, seed, settings  # noqa: E402

#: Cases run per Hypothesis call: bounds the memory Hypothesis keeps of what it tried, and
#: lets a budget stop a worker soon after it is spent.
CHUNK = 500


class _OutOfTime(BaseException):
    """The budget is spent (a BaseException, so Hypothesis does not take it for a failure)."""


@dataclass
class Tally:
    """What one worker (or all of them, merged) found for one target."""

    target: str
    tried: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_case: str = ""
    failures: dict[str, list[Any]] = field(default_factory=dict)  # kind → [count, reproducer]

    def merge(self, other: Tally) -> None:
        """Add another worker's figures."""
        self.tried += other.tried
        self.seconds = max(self.seconds, other.seconds)
        if other.slowest > self.slowest:
            self.slowest, self.slowest_case = other.slowest, other.slowest_case
        for kind, (count, case) in other.failures.items():
            mine = self.failures.setdefault(kind, [0, case])
            mine[0] += count


def work(name: str, examples: int, first_seed: int, budget: float | None) -> Tally:
    """Run ``examples`` cases of one target in this process; stop early when the budget is spent."""
    target = fuzzing.TARGETS[name]
    tally = Tally(name)
    start = time.monotonic()
    stop = start + budget if budget is not None else None

    def one(case: Any) -> None:
        if stop is not None and time.monotonic() > stop:
            raise _OutOfTime
        began = time.perf_counter()
        try:
            target.check(case)
        except Exception as exc:
            kind = f"{type(exc).__name__}: {exc}".split(" — ", 1)[0]
            kind = kind if isinstance(exc, fuzzing.Broken) else kind[:160]
            found = tally.failures.setdefault(kind, [0, case])
            found[0] += 1
        took = time.perf_counter() - began
        tally.tried += 1
        if took > tally.slowest:
            tally.slowest, tally.slowest_case = took, repr(case)[:300]

    left, chunk_seed = examples, first_seed
    try:
        while left > 0:
            size = min(left, CHUNK)
            test = seed(chunk_seed)(
                settings(settings.get_profile("fuzz"), max_examples=size)(
                    given(target.cases())(one)
                )
            )
            test()
            left -= size
            chunk_seed += 1
    except _OutOfTime:
        pass
    tally.seconds = time.monotonic() - start
    return tally


def _reproducer(name: str, case: Any) -> str:
    return (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from decimal import Decimal\n"
        "import fuzzing\n"
        "from fuzzing import *\n\n"
        f"fuzzing.TARGETS[{name!r}].check({case!r})\n"
    )


def _plan(args: argparse.Namespace, names: list[str]) -> dict[str, int]:
    if args.campaign:
        weights = {n: fuzzing.TARGETS[n].weight for n in names}
        total = sum(weights.values())
        return {n: max(1, round(args.campaign * w / total)) for n, w in weights.items()}
    return dict.fromkeys(names, args.examples)


def main(argv: list[str]) -> int:
    """Run the campaign; print the table; return 1 if any target failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)"
    )
    parser.add_argument(
        "--targets", default=",".join(fuzzing.TARGETS), help="comma-separated names (see --list)"
    )
    parser.add_argument(
        "--examples", type=int, default=2000, help="cases per target (default 2000)"
    )
    parser.add_argument(
        "--campaign", type=int, help="total cases, shared among targets by their weights"
    )
    parser.add_argument(
        "--budget-seconds", type=float, help="stop each target after this many seconds"
    )
    parser.add_argument("--seed", type=int, help="first Hypothesis seed (default: random, printed)")
    parser.add_argument(
        "--findings", default=str(Path(tempfile.gettempdir()) / "kpirules-fuzz-findings")
    )
    parser.add_argument("--list", action="store_true", help="list the targets and their invariants")
    args = parser.parse_args(argv)
    if args.list:
        for t in fuzzing.TARGETS.values():
            doc = " ".join((t.check.__doc__ or "").split())
            print(f"{t.name:<10} weight {t.weight:<6} {t.title}: {doc}")
        return 0
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in fuzzing.TARGETS]
    if unknown:
        parser.error(f"unknown targets {', '.join(unknown)} (known: {', '.join(fuzzing.TARGETS)})")
    first = args.seed if args.seed is not None else random.randrange(2**31)
    plan = _plan(args, names)
    print(
        f"seed {first}, {args.jobs} workers, cases: "
        + ", ".join(f"{n} {k}" for n, k in plan.items())
    )
    tallies = {n: Tally(n) for n in names}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = []
        for t, name in enumerate(names):
            for j in range(args.jobs):
                share = plan[name] // args.jobs + (1 if j < plan[name] % args.jobs else 0)
                if share:
                    unit_seed = first + 1_000_003 * t + 10_007 * j
                    futures.append(pool.submit(work, name, share, unit_seed, args.budget_seconds))
        for future in futures:
            tally = future.result()
            tallies[tally.target].merge(tally)
    findings = Path(args.findings)
    print()
    print("| target | inputs | inputs/s | slowest (s) | failures |")
    print("|---|---:|---:|---:|---:|")
    for name, t in tallies.items():
        rate = t.tried / t.seconds if t.seconds else 0.0  # all its workers together
        failed = sum(count for count, _ in t.failures.values())
        title = fuzzing.TARGETS[name].title
        print(f"| {title} (`{name}`) | {t.tried:,} | {rate:,.1f} | {t.slowest:.3f} | {failed} |")
    failed_any = False
    for name, t in tallies.items():
        if t.slowest_case:
            print(f"\n{name}: slowest input ({t.slowest:.3f} s): {t.slowest_case}")
        for i, (kind, (count, case)) in enumerate(sorted(t.failures.items())):
            failed_any = True
            findings.mkdir(parents=True, exist_ok=True)
            script = findings / f"{name}-{i + 1}.py"
            script.write_text(_reproducer(name, case), "utf-8")
            print(
                f"  FAIL ×{count}: {kind}\n    reproducer: {script}\n    case: {repr(case)[:600]}"
            )
    return 1 if failed_any else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
