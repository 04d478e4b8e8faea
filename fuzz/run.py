"""Long fuzz run: many more examples of the test suite's Hypothesis strategies, with figures.

Invariant for every input: kpirules returns a result or its own error (RulesetError,
EvaluationError, InputError, problems from check()), never another exception, and each
input is handled within a bounded time. Prints, per target, the inputs tried, the slowest
input and the failures found.

Usage: python fuzz/run.py [--examples 5000]   (needs the test extra: pip install -e '.[test]')
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz  # noqa: E402 - the strategies live with the tests
import test_security  # noqa: E402

import kpirules  # noqa: E402
from kpirules.inputs import InputError, read_metrics  # noqa: E402


class Target:
    def __init__(self, name: str) -> None:
        self.name = name
        self.tried = 0
        self.slowest = 0.0
        self.failures: list[str] = []

    def timed(self, fn: Any, *args: Any) -> None:
        self.tried += 1
        start = time.perf_counter()
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - recording is the point
            self.failures.append(f"{type(exc).__name__}: {exc}"[:300])
        self.slowest = max(self.slowest, time.perf_counter() - start)


CSV_CELLS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["NaN", "Infinity", "-1", "1e999999", "120%", "95", "0.95", "", "80;90;x", "是", "１２"]),
    st.integers(-(10**30), 10**30).map(str),
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args(argv)
    common = settings(
        max_examples=args.examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    targets: list[Target] = []

    t = Target("ruleset value mutations")
    targets.append(t)
    given(seed=st.sampled_from(test_fuzz.SEEDS), data=st.data())(
        common(lambda seed, data: t.timed(test_fuzz.test_value_mutations.hypothesis.inner_test, seed, data))
    )()

    t2 = Target("ruleset text mutations")
    targets.append(t2)
    given(seed=st.sampled_from(test_fuzz.SEEDS), data=st.data())(
        common(lambda seed, data: t2.timed(test_fuzz.test_text_mutations.hypothesis.inner_test, seed, data))
    )()

    t3 = Target("random bytes as a ruleset")
    targets.append(t3)
    given(raw=st.binary(max_size=400))(
        common(lambda raw: t3.timed(lambda: kpirules.check("fuzz.yaml", text=raw.decode("utf-8", "replace"))))
    )()

    t4 = Target("metrics mappings")
    targets.append(t4)
    names = [*test_security.INPUT_NAMES, "unknown"]
    given(values=st.dictionaries(st.sampled_from(names), test_security.ODD, max_size=12))(
        common(lambda values: t4.timed(test_security.test_random_metrics_give_a_result_or_our_error.hypothesis.inner_test, values))
    )()

    t5 = Target("metrics CSV files")
    targets.append(t5)
    ruleset = test_security.RULESET
    header = ["entity", *test_security.INPUT_NAMES[:6]]
    folder = Path(tempfile.mkdtemp(prefix="kpirules-fuzz-"))

    def csv_case(rows: list[list[str]], encoding: str) -> None:
        text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
        path = folder / "m.csv"
        path.write_bytes(text.encode(encoding, "replace"))
        try:
            found = read_metrics(path, ruleset)
            ruleset.evaluate_many(found)
        except (InputError, kpirules.EvaluationError):
            pass

    given(
        rows=st.lists(st.lists(CSV_CELLS, min_size=5, max_size=8), max_size=6),
        encoding=st.sampled_from(["utf-8", "gbk", "utf-8-sig", "utf-16"]),
    )(common(lambda rows, encoding: t5.timed(csv_case, rows, encoding)))()

    print(f"{'target':<28} {'inputs':>8} {'slowest (s)':>12} {'failures':>9}")
    failed = False
    for target in targets:
        print(f"{target.name:<28} {target.tried:>8} {target.slowest:>12.3f} {len(target.failures):>9}")
        for failure in sorted(set(target.failures))[:10]:
            print(f"    {failure}")
        failed = failed or bool(target.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
