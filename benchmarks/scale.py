"""Time the ``kpirules score`` command on large metrics files: wall time, CPU time, peak memory.

Generates metrics files for ``rulesets/a-office-annual.yaml`` (deterministic random, plausible
values: counts, percentages, five assessors' ratings per rated indicator), written once to a
cache folder outside the repository, then runs

    kpirules score RULESET FILE --format csv --output OUT

as a subprocess, ``--repeat`` times per size. Reports the median wall time and CPU time (user +
system, of the command and its worker processes) per run, each per entity; and the peak
resident memory sampled from /proc every 50 ms: of the whole process tree (the command and
its workers together) and of its largest single process.
When ``kpirules score --help`` offers ``--jobs``, each size is run with ``--jobs 1`` and
``--jobs 2``.

Usage: python benchmarks/scale.py [--sizes 10000,100000] [--repeat 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
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


def run_once(metrics: Path, out: Path, extra: list[str]) -> tuple[float, float, float, float]:
    """One ``kpirules score`` run: (wall seconds, CPU seconds, peak resident MB of the whole
    process tree, peak resident MB of its largest process).

    Memory is sampled from /proc every 50 ms (the sum over the command and its workers).

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
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        tree = one = 0
        while proc.poll() is None:
            sizes = tree_rss_kb(proc.pid)
            tree, one = max(tree, sum(sizes)), max(one, *sizes, 0)
            time.sleep(0.05)
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"kpirules score failed (exit {proc.returncode}):\n{stderr}")
    return wall, cpu, tree / 1024, one / 1024


def tree_rss_kb(pid: int) -> list[int]:
    """Resident memory (kB) of ``pid`` and of every process below it, from /proc (sampled)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    sizes: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, ()))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            sizes.append(int(found.group(1)))
    return sizes


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
    variants: list[tuple[str, list[str]]] = [("", [])]
    if has_jobs():
        variants = [("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"])]
    print(f"kpirules score {RULESET.relative_to(ROOT)} FILE --format csv --output OUT")
    print(
        f"{'entities':>10} {'options':<9} {'wall s':>8} {'µs/entity':>10} {'CPU s':>8} "
        f"{'CPU µs/entity':>14} {'peak MB':>8} {'1 proc MB':>9}  wall s of each run"
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
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            peak = max(r[2] for r in runs)
            one = max(r[3] for r in runs)
            walls = ", ".join(f"{r[0]:.1f}" for r in runs)
            print(
                f"{n:>10} {label:<9} {wall:>8.1f} {wall / n * 1e6:>10.1f} {cpu:>8.1f} "
                f"{cpu / n * 1e6:>14.1f} {peak:>8.0f} {one:>9.0f}  {walls}",
                flush=True,
            )
        out.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
