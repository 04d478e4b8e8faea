"""Time the ``kpirules score`` command on large metrics files: wall time and peak memory.

Generates metrics files for ``rulesets/a-office-annual.yaml`` (deterministic random, plausible
values: counts, percentages, five assessors' ratings per rated indicator), written once to a
cache folder outside the repository, then runs

    kpirules score RULESET FILE --format csv --output OUT

as a subprocess, ``--repeat`` times per size, under ``/usr/bin/time -v`` for the peak resident
memory (apt-get install time; without it the peak comes from ``getrusage(RUSAGE_CHILDREN)``,
the largest of all runs so far). Reports the median wall time and CPU time (user + system) per run, each per entity, and
the peak MB.
When ``kpirules score --help`` offers ``--jobs``, each size is also run with ``--jobs 1`` and
``--jobs 2``.

Usage: python benchmarks/scale.py [--sizes 10000,100000] [--repeat 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
HEADER = (
    "entity,payment_errors,payments,settlements_on_time,settlements,enrollee_data_accuracy,"
    "supervision_timeliness,review_quality,satisfaction,attitude,info_security,confidentiality"
)
GENERATOR = "v1"  # part of the cached file's name: change it when the values change


def percent(rng: random.Random, low: int) -> str:
    """A percentage with one decimal place between ``low``% and 100%."""
    tenths = rng.randint(low * 10, 1000)
    return f"{tenths // 10}.{tenths % 10}%"


def ratings(rng: random.Random) -> str:
    """Five assessors' ratings on 0–100, as one cell (``80;90;90;90;100``)."""
    centre = rng.randint(60, 95)
    return ";".join(str(min(100, max(0, centre + rng.randint(-8, 8)))) for _ in range(5))


def generate(path: Path, n: int, seed: int = 20261201) -> None:
    """Write ``n`` offices' metrics to ``path`` (atomically: a partial file is never left)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(HEADER + "\n")
            for k in range(n):
                payments = rng.randint(2000, 20000)
                settlements = rng.randint(500, 5000)
                out.write(
                    f"医保办{k:07d},{rng.randint(0, payments // 50)},{payments},"
                    f"{settlements - rng.randint(0, settlements // 20)},{settlements},"
                    f"{percent(rng, 90)},{percent(rng, 85)},{ratings(rng)},"
                    f"{percent(rng, 75)},{ratings(rng)},{rng.randint(60, 100)},"
                    f"{rng.randint(60, 100)}\n"
                )
        Path(tmp).chmod(0o644)  # mkstemp makes it private; it is no secret
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def metrics_file(cache: Path, n: int) -> Path:
    path = cache / f"a-office-{GENERATOR}-{n}.csv"
    if not path.exists():
        start = time.perf_counter()
        generate(path, n)
        print(f"generated {path} ({n} entities) in {time.perf_counter() - start:.1f} s")
    return path


def kpirules_command() -> list[str]:
    return [sys.executable, "-m", "kpirules"]


def has_jobs() -> bool:
    """Whether ``kpirules score`` takes ``--jobs``."""
    done = subprocess.run(
        [*kpirules_command(), "score", "--help"], capture_output=True, text=True, check=True
    )
    return "--jobs" in done.stdout


def run_once(metrics: Path, out: Path, extra: list[str]) -> tuple[float, float, float]:
    """One ``kpirules score`` run: (wall seconds, CPU seconds, peak resident MB).

    CPU time (user + system) is what the run itself spent; on a shared machine the wall time
    also holds the time other processes had the cores.
    """
    out.unlink(missing_ok=True)
    command = [
        *kpirules_command(),
        "score",
        str(RULESET),
        str(metrics),
        "--format",
        "csv",
        "--output",
        str(out),
        *extra,
    ]
    timer = shutil.which("time", path="/usr/bin")
    if timer:
        command = [timer, "-v", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"kpirules score failed (exit {done.returncode}):\n{done.stderr}")
    if timer:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        if found is None:
            raise SystemExit(f"/usr/bin/time -v printed no peak memory:\n{done.stderr}")
        peak_kb = int(found.group(1))
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, cpu, peak_kb / 1024


def count_rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f) - 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated entity counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median reported)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "kpirules-bench",
        help="folder for the generated metrics files and the outputs",
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes whole numbers separated by commas, not {args.sizes!r}")
    if any(n < 1 for n in sizes) or args.repeat < 1:
        parser.error("sizes and --repeat must be at least 1")
    if not shutil.which("time", path="/usr/bin"):
        print(
            "/usr/bin/time not found (apt-get install time): peak memory from getrusage, "
            "the largest of all runs so far",
            file=sys.stderr,
        )
    variants: list[tuple[str, list[str]]] = [("", [])]
    if has_jobs():
        variants = [("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"])]
    print(f"kpirules score {RULESET.relative_to(ROOT)} FILE --format csv --output OUT")
    print(
        f"{'entities':>10} {'options':<9} {'wall s':>8} {'µs/entity':>10} {'CPU s':>8} "
        f"{'CPU µs/entity':>14} {'peak MB':>8}  wall s of each run"
    )
    for n in sizes:
        metrics = metrics_file(args.cache, n)
        out = args.cache / f"out-{n}.csv"
        for label, extra in variants:
            runs = [run_once(metrics, out, extra) for _ in range(args.repeat)]
            rows = count_rows(out)
            if rows != n:
                print(f"{out} has {rows} result rows, expected {n}", file=sys.stderr)
                return 1
            wall = statistics.median(w for w, _, _ in runs)
            cpu = statistics.median(c for _, c, _ in runs)
            peak = max(m for _, _, m in runs)
            walls = ", ".join(f"{w:.1f}" for w, _, _ in runs)
            print(
                f"{n:>10} {label:<9} {wall:>8.1f} {wall / n * 1e6:>10.1f} {cpu:>8.1f} "
                f"{cpu / n * 1e6:>14.1f} {peak:>8.0f}  {walls}",
                flush=True,
            )
        out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
