"""Time ``kpirules score`` writing CSV and XLSX for a generated metrics file.

Writes ``N`` entities (deterministic random data in the shape of
``examples/a-offices-2026.csv``) to a CSV file, then times the command
``kpirules score rulesets/a-office-annual.yaml FILE --output OUT`` for ``.csv`` and
``.xlsx``, best of ``--repeat`` runs, each in a fresh process (wall-clock and processor
time).

Usage: python benchmarks/workbook.py [--entities 1000] [--repeat 3] [--dir /tmp/kpirules-bench]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "entity,payment_errors,payments,settlements_on_time,settlements,enrollee_data_accuracy,"
    "supervision_timeliness,review_quality,satisfaction,attitude,info_security,confidentiality"
)


def ratings(rng: random.Random) -> str:
    """Five ratings between 60 and 100, joined by ``;``."""
    return ";".join(str(rng.randint(60, 100)) for _ in range(5))


def metrics_file(path: Path, entities: int) -> None:
    """``entities`` rows of plausible data, the same for the same count."""
    rng = random.Random(20260101)
    lines = [HEADER]
    for n in range(1, entities + 1):
        payments = rng.randint(5000, 15000)
        settlements = rng.randint(1000, 3000)
        lines.append(
            ",".join(
                [
                    f"医保办{n:05d}",
                    str(rng.randint(0, payments // 20)),
                    str(payments),
                    str(rng.randint(settlements * 9 // 10, settlements)),
                    str(settlements),
                    f"{rng.randint(900, 1000) / 10}%",
                    f"{rng.randint(850, 1000) / 10}%",
                    ratings(rng),
                    f"{rng.randint(800, 1000) / 10}%",
                    ratings(rng),
                    str(rng.randint(60, 100)),
                    str(rng.randint(60, 100)),
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(argv: list[str], repeat: int) -> tuple[float, float]:
    """The best wall-clock time and the best processor time (user + system) of ``repeat``
    runs of ``argv``, in seconds: on a shared machine the processor time varies less."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, cwd=ROOT, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def main() -> None:
    """Generate the file, time CSV and XLSX output, print one line per format."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/kpirules-bench")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"offices-{args.entities}.csv"
    metrics_file(data, args.entities)
    for suffix in (".csv", ".xlsx"):
        out = folder / f"result-{args.entities}{suffix}"
        argv = [sys.executable, "-m", "kpirules", "score", "rulesets/a-office-annual.yaml"]
        argv += [str(data), "--output", str(out), "--force"]
        wall, cpu = timed(argv, args.repeat)
        print(f"{args.entities} entities, {suffix}: {wall:.2f} s ({cpu:.2f} s processor time)")


if __name__ == "__main__":
    main()
