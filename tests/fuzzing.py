"""Fuzz targets shared by the test suite and the long run (``fuzz/run.py``).

Each target is a Hypothesis strategy that draws one *case* (plain data whose ``repr`` is a
reproducer) and a ``check`` that raises :class:`Broken` when the target's invariant does not
hold (any other exception escaping from kpirules is a finding too). The test suite runs a
handful of cases of each target; ``fuzz/run.py`` runs many, in worker processes.
"""

from __future__ import annotations

import csv
import decimal
import hashlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from hypothesis import settings
from hypothesis import strategies as st

import kpirules
from kpirules import report
from kpirules.cli import run
from kpirules.inputs import InputError, read_metrics
from kpirules.loader import load_yaml, scalar_value, walk

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"
EXAMPLES = ROOT / "examples"


class Broken(AssertionError):  # noqa: N818 - reads as "invariant broken: ..."
    """A target's invariant does not hold; the message starts with a stable kind of failure."""


def broken(kind: str, detail: str = "") -> Broken:
    """An invariant failure: ``kind`` groups equal failures, ``detail`` says this one."""
    return Broken(f"{kind} — {detail}" if detail else kind)


# Ruleset mutations (the first targets: validation never escapes as a Python error)

SEEDS = [
    p.read_text("utf-8")
    for p in sorted(RULESETS.glob("*.yaml"))
    if not p.name.endswith(".tests.yaml")
]
SEEDS.append(
    (ROOT / "tests" / "fixtures" / "invalid" / "scheme_a_faithful.yaml").read_text("utf-8")
)
SEEDS.append((ROOT / "examples" / "deposit-refund.yaml").read_text("utf-8"))

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.sampled_from(
        [
            "≥ 95%",
            "≤ 2%",
            "= 100%",
            "100%",
            "-5%",
            "≥",
            "是",
            "no",
            "010",
            "12:30",
            "1e999",
            "5万元",
            "24小时",
            "x.y",
            "a +",
            "__import__('os')",
            "10 ** 10 ** 10",
            "[",
            "",
            " ",
            "percent",
            "points",
            "share",
            "monitor",
            "table",
            "deduct",
            "rate",
            "total",
            "优秀",
            "2026-02-30",
            "2026-01-01",
            "∞",
            "\u200b",
            "ＡＢＣ",
        ]
    ),
    st.text(max_size=12),
    st.lists(st.integers(0, 100), max_size=3),
    st.dictionaries(
        st.sampled_from(["from", "to", "below", "points", "id", "label"]),
        st.integers(0, 100),
        max_size=3,
    ),
)


class Dumper(yaml.SafeDumper):
    """Writes data as a person would: plain numbers, text quoted only where needed, no tags."""


Dumper.yaml_implicit_resolvers = {}  # plain scalars carry no tag, as kpirules reads them


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value, "f") if value.is_finite() else str(value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=None)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = scalar_value(yaml.ScalarNode("tag:yaml.org,2002:str", value)) == value
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _flag(dumper: yaml.SafeDumper, value: bool) -> yaml.ScalarNode:
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", "true" if value else "false", style=None
    )


def _null(dumper: yaml.SafeDumper, value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", "null", style=None)


Dumper.add_representer(Decimal, _decimal)
Dumper.add_representer(str, _text)
Dumper.add_representer(bool, _flag)
Dumper.add_representer(type(None), _null)
Dumper.add_representer(
    int, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style=None)
)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        out = dict(data)
        out[head] = _set(data[head], rest, value)
        return out
    out_list = list(data)
    out_list[head] = _set(data[head], rest, value)
    return out_list


def _delete(data: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k != path[0]}
        return [v for i, v in enumerate(data) if i != path[0]]
    head = path[0]
    if isinstance(data, dict):
        return {**data, head: _delete(data[head], path[1:])}
    return [(_delete(v, path[1:]) if i == head else v) for i, v in enumerate(data)]


_TREES: list[Any] = []


def _seed_trees() -> list[Any]:
    """The seeds as data, parsed once (mutations copy, never change, them)."""
    if not _TREES:
        for seed in SEEDS:
            doc, _ = load_yaml("seed.yaml", text=seed)
            assert doc is not None
            _TREES.append(doc.data)
    return _TREES


@st.composite
def value_mutations(draw: st.DrawFn) -> str:
    """A shipped ruleset with one to three values replaced by odd values or deleted."""
    tree = draw(st.sampled_from(_seed_trees()))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in walk(tree) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        tree = _set(tree, path, draw(ODD_VALUES)) if draw(st.booleans()) else _delete(tree, path)
    return yaml.dump(tree, Dumper=Dumper, allow_unicode=True, sort_keys=False)


@st.composite
def text_mutations(draw: st.DrawFn) -> str:
    """A shipped ruleset with lines deleted, duplicated, corrupted, truncated or indented."""
    lines = draw(st.sampled_from(SEEDS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "indent"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "insert":
            line = lines[i]
            j = draw(st.integers(0, len(line)))
            lines[i] = line[:j] + draw(st.text(min_size=1, max_size=4)) + line[j:]
        elif kind == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        else:
            lines[i] = "  " + lines[i]
    return "".join(lines)


def check_ruleset_text(text: str) -> None:
    """Invariant: a ruleset or our own located problems, never another exception."""
    ruleset, problems = kpirules.check("fuzz.yaml", text=text)
    if ruleset is None and not any(p.severity == "error" for p in problems):
        raise broken("refused without an error", repr(problems[:3]))
    for p in problems:
        if p.file != "fuzz.yaml" or p.line < 0 or not p.message:
            raise broken("problem not located", str(p))


def check_random_bytes(raw: bytes) -> None:
    """Invariant: any bytes decoded as a ruleset give a ruleset or our problems."""
    kpirules.check("fuzz.yaml", text=raw.decode("utf-8", "replace"))


def check_metrics_mapping(values: dict[str, Any]) -> None:
    """Invariant: any metrics mapping gives a result in range or an EvaluationError."""
    import test_security  # the odd values and the ruleset live with the security tests

    test_security.test_random_metrics_give_a_result_or_our_error.hypothesis.inner_test(values)


def metrics_mappings() -> st.SearchStrategy[dict[str, Any]]:
    """Mappings from input names (and unknown names) of scheme A to odd values."""
    import test_security

    names = [*test_security.INPUT_NAMES, "unknown"]
    return st.dictionaries(st.sampled_from(names), test_security.ODD, max_size=12)


CSV_CELLS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        ["NaN", "Infinity", "-1", "1e999999", "120%", "95", "0.95", "", "80;90;x", "是", "１２"]
    ),
    st.integers(-(10**30), 10**30).map(str),
)

A_RULESET = kpirules.load(RULESETS / "a-office-annual.yaml")
A_INPUTS = [m.id for m in A_RULESET.metrics if m.formula is None]
A_HEADER, *A_ROWS = list(
    csv.reader(io.StringIO((EXAMPLES / "a-offices-2026.csv").read_text("utf-8")))
)


@st.composite
def metrics_csv_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """A CSV file of odd cells under scheme A's first input columns, in one encoding."""
    header = ["entity", *A_INPUTS[:6]]
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=5, max_size=8), max_size=6))
    encoding = draw(st.sampled_from(["utf-8", "gbk", "utf-8-sig", "utf-16"]))
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    return text.encode(encoding, "replace"), encoding


def check_metrics_csv(case: tuple[bytes, str]) -> None:
    """Invariant: a CSV file gives results or an InputError/EvaluationError."""
    with tempfile.TemporaryDirectory(prefix="kpirules-fuzz-") as folder:
        path = Path(folder) / "m.csv"
        path.write_bytes(case[0])
        with suppress(InputError, kpirules.EvaluationError):
            A_RULESET.evaluate_many(read_metrics(path, A_RULESET))


# CLI outputs

#: Shipped rulesets and a metrics file each scores cleanly.
PAIRS = [
    ("a-office-annual.yaml", "a-offices-2026.csv"),
    ("a-office-annual.yaml", "a-offices-2026-excel-gbk.csv"),
    ("b-position-leader.yaml", "b-leader-2026.csv"),
    ("b-position-policy-research.yaml", "b-policy-research-2026.csv"),
    ("b-position-cost-management.yaml", "b-cost-management-2026.csv"),
    ("c-staff-halfyear.yaml", "c-staff-2026h1.csv"),
    ("d-internal-quarterly.yaml", "d-departments-2026q1.csv"),
    ("e-annual-letter.yaml", "e-office-2026.yaml"),
]
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_file() and p.suffix != ".md")

#: Placeholders in a case's argv, replaced by paths in the case's own folder.
PLACES = ("{R}", "{M}", "{OLD}", "{T}", "{DIR}", "{MISSING}", "{EXISTING}", "{OUT}", "{LEDGER}")

FLAG_VOCABULARY = [
    "--format",
    "--output",
    "--force",
    "--encoding",
    "--record",
    "--period",
    "--as-of",
    "--user",
    "--entity",
    "--metrics",
    "--strict",
    "--tests",
    "--help",
    "--version",
    "-h",
    "--",
    "-",
    "-x",
    "--form",
    "--format=csv",
    "--output={OUT}.csv",
]
VALUE_VOCABULARY = [
    "table",
    "json",
    "csv",
    "text",
    "xml",
    "gbk",
    "utf-8",
    "utf-16",
    "latin-9",
    "no-such-encoding",
    "2026",
    "2026H1",
    "2026Q3",
    "2026Q5",
    "2026-07",
    "2026-01-01..2026-06-30",
    "2027..2026",
    "2026-02-30",
    "2026-06-30",
    "第一医院医保办",
    "",
    " ",
    "😀",
    "x" * 300 + ".csv",
    "{R}",
    "{M}",
    "{OLD}",
    "{T}",
    "{DIR}",
    "{MISSING}",
    "{MISSING}/out.json",
    "{EXISTING}",
    "{OUT}.json",
    "{OUT}.csv",
    "{OUT}.txt",
    "{OUT}",
    "{LEDGER}",
    "score",
    "validate",
]


@dataclass(frozen=True)
class CliCase:
    """One command line over files in a fresh folder: the ruleset ``{R}`` and metrics ``{M}``.

    ``metrics`` is an example file's name, or the bytes of a generated file whose suffix is
    ``suffix``. ``{OLD}`` is scheme A, ``{T}`` tests for ``{R}``, ``{EXISTING}`` an earlier
    output, ``{DIR}`` an empty folder, ``{MISSING}`` a path that does not exist.
    """

    argv: tuple[str, ...]
    ruleset: str
    metrics: str | bytes
    suffix: str = ".csv"


@st.composite
def hostile_argv(draw: st.DrawFn) -> tuple[str, ...]:
    """A command line: mostly a real command, then tokens inserted, replaced or removed."""
    fmt = st.sampled_from(["table", "json", "csv"])
    out = st.sampled_from(
        [
            "{OUT}.json",
            "{OUT}.csv",
            "{OUT}.txt",
            "{EXISTING}",
            "{DIR}",
            "{MISSING}/x.json",
            "{R}",
            "{M}",
        ]
    )
    command = draw(
        st.sampled_from(
            ["score", "score", "score", "explain", "validate", "test", "diff", "history", "junk"]
        )
    )
    argv: list[str]
    if command == "score":
        argv = ["score", "{R}", "{M}"]
        if draw(st.booleans()):
            argv += ["--format", draw(fmt)]
        if draw(st.booleans()):
            argv += ["--output", draw(out)]
        if draw(st.booleans()):
            argv.append("--force")
        if draw(st.integers(0, 4)) == 0:
            argv += ["--record", "{LEDGER}"]
    elif command == "explain":
        argv = ["explain", "{R}", "{M}"]
        if draw(st.booleans()):
            argv += ["--entity", draw(st.sampled_from(["第一医院医保办", "张主任", "nobody"]))]
    elif command == "validate":
        argv = ["validate", "{R}", *draw(st.sampled_from([[], ["--strict"], ["--format", "json"]]))]
    elif command == "test":
        argv = ["test", "{R}"]
    elif command == "diff":
        argv = ["diff", "{OLD}", "{R}", *draw(st.sampled_from([[], ["--metrics", "{M}"]]))]
    elif command == "history":
        argv = [draw(st.sampled_from(["history", "verify", "replay"])), "{LEDGER}"]
    else:
        argv = []
    token = st.sampled_from(FLAG_VOCABULARY + VALUE_VOCABULARY)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        edit = draw(st.sampled_from(["insert", "replace", "delete"]))
        at = draw(st.integers(0, len(argv)))
        if edit == "insert" or not argv:
            argv.insert(at, draw(token))
        elif edit == "replace":
            argv[min(at, len(argv) - 1)] = draw(token)
        elif at > 0:  # keep the command word more often than not
            del argv[min(at, len(argv) - 1)]
    return tuple(argv)


@st.composite
def cli_cases(draw: st.DrawFn) -> CliCase:
    """A ruleset (shipped or mutated), a metrics file (example or generated) and a command line."""
    pair = draw(st.sampled_from(PAIRS))
    seed = (RULESETS / pair[0]).read_text("utf-8")
    kind = draw(st.sampled_from(["seed", "seed", "seed", "value", "text"]))
    ruleset = (
        seed if kind == "seed" else draw(value_mutations() if kind == "value" else text_mutations())
    )
    source = draw(st.sampled_from(["pair", "pair", "pair", "example", "generated", "bytes"]))
    metrics: str | bytes
    suffix = ".csv"
    if source == "pair":
        metrics = pair[1]
    elif source == "example":
        metrics = draw(st.sampled_from(EXAMPLE_FILES))
    elif source == "generated":
        metrics = draw(metrics_csv_files())[0]
    else:
        metrics = draw(st.binary(max_size=200))
        suffix = draw(st.sampled_from([".csv", ".yaml", ".json", ".txt"]))
    return CliCase(draw(hostile_argv()), ruleset, metrics, suffix)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): _digest(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _option(argv: list[str], flag: str) -> str | None:
    """The value argparse keeps for ``flag``: the last one given."""
    found = None
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            found = argv[i + 1]
        elif token.startswith(flag + "="):
            found = token.split("=", 1)[1]
    return found


def _complete(path: Path, fmt: str) -> str | None:
    """Why an output file is not a complete output of ``fmt`` (None when it is)."""
    raw = path.read_bytes()
    try:
        if fmt == "json":
            json.loads(raw.decode("utf-8"))
        elif fmt == "csv":
            rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
            if not rows or any(len(r) != len(rows[0]) for r in rows):
                return "CSV rows of unequal length"
        else:
            text = raw.decode("utf-8")
            if not text.endswith("\n"):
                return "table does not end with a newline"
    except (ValueError, csv.Error) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def check_cli(case: CliCase) -> None:
    """Invariant: exit code 0, 1 or 2; no exception or traceback; outputs absent or complete;
    no input changed; no file left behind but the output and the ledger."""
    with tempfile.TemporaryDirectory(prefix="kpirules-cli-") as name:
        folder = Path(name)
        paths = {
            "{R}": folder / "r.yaml",
            "{M}": folder / f"m{case.suffix}",
            "{OLD}": folder / "old.yaml",
            "{T}": folder / "r.tests.yaml",
            "{DIR}": folder / "adir",
            "{MISSING}": folder / "missing",
            "{EXISTING}": folder / "existing.json",
            "{OUT}": folder / "out",
            "{LEDGER}": folder / "l.db",
        }
        paths["{R}"].write_text(case.ruleset, "utf-8")
        data = (
            case.metrics
            if isinstance(case.metrics, bytes)
            else (EXAMPLES / case.metrics).read_bytes()
        )
        if isinstance(case.metrics, str):
            paths["{M}"] = folder / f"m{Path(case.metrics).suffix}"
        paths["{M}"].write_bytes(data)
        paths["{OLD}"].write_bytes((RULESETS / "a-office-annual.yaml").read_bytes())
        tests = (RULESETS / "a-office-annual.tests.yaml").read_text("utf-8")
        paths["{T}"].write_text(
            tests.replace("ruleset: a-office-annual.yaml", "ruleset: r.yaml"), "utf-8"
        )
        paths["{DIR}"].mkdir()
        paths["{EXISTING}"].write_text("前一次的结果\n", "utf-8")

        def real(token: str) -> str:
            for place in PLACES:
                token = token.replace(place, str(paths[place]))
            return token

        argv = [real(t) for t in case.argv]
        before = _files(folder)
        stdout, stderr = io.StringIO(), io.StringIO()
        here = Path.cwd()
        os.chdir(folder)  # a relative path among the tokens lands in the case's folder
        try:
            code = run(argv, stdout, stderr)
        except Exception as exc:
            raise broken(f"{type(exc).__name__} escaped from run", f"{exc}"[:300]) from exc
        finally:
            os.chdir(here)
        if code not in (0, 1, 2):
            raise broken(f"exit code {code}")
        for stream in (stdout.getvalue(), stderr.getvalue()):
            if "Traceback" in stream:
                raise broken("traceback printed", stream[-300:])
        after = _files(folder)

        def inside(token: str) -> str:
            return os.path.relpath(folder / token, folder)

        output = _option(argv, "--output")
        record = _option(argv, "--record")
        mentioned = {inside(t) for i, t in enumerate(argv) if i == 0 or argv[i - 1] != "--output"}
        allowed: set[str] = set()
        if output and inside(output) not in mentioned and argv[:1] == ["score"]:
            allowed.add(inside(output))
        if record and (record == str(paths["{LEDGER}"]) or inside(record) not in before):
            allowed.update(inside(record) + end for end in ("", "-wal", "-shm", "-journal"))
        for file, digest in before.items():
            if file not in allowed and after.get(file) != digest:
                raise broken("input file changed or removed", f"{file} by {case.argv}")
        for file in after:
            if file not in before and file not in allowed:
                raise broken("file left behind", f"{file} by {case.argv}")
        if output and inside(output) in allowed:
            rel = inside(output)
            changed = after.get(rel) != before.get(rel)
            if changed and code != 0:
                raise broken("output changed by a failed run", f"exit {code}")
            if changed:
                fmt = _option(argv, "--format")
                if fmt not in ("table", "json", "csv"):
                    fmt = {".json": "json", ".csv": "csv"}.get(Path(output).suffix.lower(), "table")
                why = _complete(folder / rel, fmt)
                if why:
                    raise broken("incomplete output file", f"{fmt}: {why}")
        if (
            code == 0
            and argv[:1] == ["score"]
            and output is None
            and _option(argv, "--format") == "json"
        ):
            try:
                json.loads(stdout.getvalue())
            except ValueError as exc:
                raise broken("score --format json printed no JSON", str(exc)) from None


# Ledger interleavings

Op = tuple[Any, ...]
Verdict = Literal["fail", "pass", "any"]


@dataclass
class Expect:
    """What ``verify`` must say after a tampering: without a receipt, and with one."""

    plain: Verdict
    receipt: Verdict


@dataclass(frozen=True)
class LedgerCase:
    """Operations on one ledger, in order.

    ``("append", pair)`` scores ``PAIRS[pair]`` with ``--record`` in this process;
    ``("kill", ms)`` starts ``kpirules score … --record`` and kills it (SIGKILL) after ``ms``;
    ``("tamper", kind, a, b)`` changes the file as an attacker would (see ``TAMPERINGS``);
    ``("verify",)``, ``("history",)`` read it.
    """

    ops: tuple[Op, ...]


LEDGER_PAIRS = (0, 2, 3)  # small files: schemes A and B


def ledger_cases() -> st.SearchStrategy[LedgerCase]:
    """Sequences of appends, killed writers, tamperings and reads."""
    op = st.one_of(
        st.tuples(st.just("append"), st.sampled_from(LEDGER_PAIRS)),
        st.tuples(st.just("kill"), st.integers(0, 1500)),
        st.tuples(
            st.just("tamper"),
            st.sampled_from(sorted(TAMPERINGS)),
            st.integers(0, 2**31),
            st.integers(0, 2**31),
        ),
        st.tuples(st.sampled_from(["verify", "history"])),
    )
    return st.builds(LedgerCase, st.lists(op, min_size=1, max_size=8).map(tuple))


def ledger_cases_without_kills() -> st.SearchStrategy[LedgerCase]:
    """As :func:`ledger_cases`, with no killed writer (no subprocess): quick enough for the tests."""
    return ledger_cases().filter(lambda c: all(o[0] != "kill" for o in c.ops))


Dump = tuple[tuple[tuple[Any, ...], ...], ...]


def _dump(path: Path) -> Dump:
    """Every row of the ledger's tables, read by a plain connection (raises when unreadable)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.text_factory = bytes  # damaged text is compared, not decoded
    try:
        return tuple(
            tuple(db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall())
            for table in ("entries", "rulesets", "meta")
        )
    finally:
        db.close()


def _head(path: Path) -> tuple[int, str] | None:
    """The checkpoint ``N:HASH`` a receipt would hold now: the last entry's number and hash."""
    db = sqlite3.connect(path, isolation_level=None)
    db.text_factory = bytes
    try:
        row = db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        db.close()
    if row is None or not isinstance(row[1], bytes):
        return None
    return int(row[0]), row[1].decode("ascii", "replace")


def _entries(dump: Dump | None) -> list[tuple[Any, ...]]:
    return list(dump[0]) if dump else []


@contextmanager
def _attacker(path: Path) -> Iterator[sqlite3.Connection]:
    """A raw connection with the append-only triggers dropped, restored afterwards."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        for trigger, _ in triggers:
            db.execute(f"DROP TRIGGER {trigger}")
        yield db
        for _, sql in triggers:
            db.execute(sql)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


_COLUMNS = (
    "recorded_at",
    "user",
    "period",
    "entity",
    "metrics",
    "result",
    "total",
    "grade",
    "prev_hash",
    "hash",
    "seq",
)


def _generic(before: Dump | None, path: Path) -> Expect:
    """What verify must say, judged from the rows before and after (for blind byte damage).

    Unreadable → fail; the same rows → nothing to say; the earlier entries missing from the
    end → only a receipt can tell; any other change → fail."""
    try:
        after = _dump(path)
    except (sqlite3.DatabaseError, UnicodeDecodeError):  # damaged pages, or a damaged schema
        return Expect("fail", "fail")
    if after == before:
        return Expect("pass", "pass")
    old, new = _entries(before), _entries(after)
    if new == old[: len(new)] and after[1:] == (before[1:] if before else after[1:]):
        return Expect("any", "fail")
    return Expect("fail", "fail")


def tamper_update(path: Path, a: int, b: int) -> Expect:
    """Change one field of one recorded entry in place: verify must fail."""
    with _attacker(path) as db:
        seqs = [r[0] for r in db.execute("SELECT seq FROM entries ORDER BY seq")]
        if not seqs:
            return Expect("pass", "pass")
        seq, column = seqs[a % len(seqs)], _COLUMNS[b % len(_COLUMNS)]
        if column == "seq":
            db.execute("UPDATE entries SET seq = ? WHERE seq = ?", (max(seqs) + 1 + b % 3, seq))
        else:
            db.execute(f"UPDATE entries SET {column} = {column} || 'x' WHERE seq = ?", (seq,))
    return Expect("fail", "fail")


def tamper_ruleset_text(path: Path, a: int, b: int) -> Expect:
    """Change a stored ruleset text: verify must fail."""
    with _attacker(path) as db:
        shas = [r[0] for r in db.execute("SELECT text_sha256 FROM rulesets ORDER BY 1")]
        if not shas:
            return Expect("pass", "pass")
        db.execute(
            "UPDATE rulesets SET text = text || ' ' WHERE text_sha256 = ?", (shas[a % len(shas)],)
        )
    return Expect("fail", "fail")


def tamper_rechain(path: Path, a: int, b: int) -> Expect:
    """Change an entry and recompute every hash from there on: only a receipt can tell."""
    from kpirules.ledger import entry_hash

    with _attacker(path) as db:
        cursor = db.execute("SELECT * FROM entries ORDER BY seq")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor]
        if not rows:
            return Expect("pass", "pass")
        start = a % len(rows)
        rows[start]["total"] = str(Decimal(rows[start]["total"]) + 1)
        prev = rows[start - 1]["hash"] if start else rows[0]["prev_hash"]
        for row in rows[start:]:
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(row)
            db.execute(
                "UPDATE entries SET total = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (row["total"], row["prev_hash"], row["hash"], row["seq"]),
            )
    return Expect("any", "fail")


def tamper_delete(path: Path, a: int, b: int) -> Expect:
    """Delete one entry: verify must fail unless it was the last one (then only a receipt can tell)."""
    with _attacker(path) as db:
        seqs = [r[0] for r in db.execute("SELECT seq FROM entries ORDER BY seq")]
        if not seqs:
            return Expect("pass", "pass")
        seq = seqs[a % len(seqs)]
        db.execute("DELETE FROM entries WHERE seq = ?", (seq,))
    return Expect("any", "fail") if seq == seqs[-1] else Expect("fail", "fail")


def tamper_truncate(path: Path, a: int, b: int) -> Expect:
    """Cut the file short: fail if it no longer reads; only a receipt tells a shorter chain."""
    before = _dump(path)
    size = path.stat().st_size
    if size == 0:
        return Expect("pass", "pass")
    with path.open("r+b") as handle:
        handle.truncate(a % size)
    return _generic(before, path)


def tamper_flip(path: Path, a: int, b: int) -> Expect:
    """Flip bits of one byte anywhere in the file: judged from the rows before and after."""
    before = _dump(path)
    size = path.stat().st_size
    if size == 0:
        return Expect("pass", "pass")
    with path.open("r+b") as handle:
        handle.seek(a % size)
        byte = handle.read(1)[0]
        handle.seek(a % size)
        handle.write(bytes([byte ^ (1 + b % 255)]))
    return _generic(before, path)


TAMPERINGS: dict[str, Callable[[Path, int, int], Expect]] = {
    "update": tamper_update,
    "ruleset_text": tamper_ruleset_text,
    "rechain": tamper_rechain,
    "delete": tamper_delete,
    "truncate": tamper_truncate,
    "flip": tamper_flip,
}

_RECEIPTS: list[bool] = []


def verify_takes_receipts() -> bool:
    """Whether ``kpirules verify --help`` offers ``--receipt`` (checkpoints given as ``--head N:HASH``)."""
    if not _RECEIPTS:
        out = io.StringIO()
        run(["verify", "--help"], out, io.StringIO())
        _RECEIPTS.append("--receipt" in out.getvalue() and "--head" in out.getvalue())
    return _RECEIPTS[0]


def _snapshot(path: Path) -> tuple[str, int] | None:
    if not path.exists():
        return None
    return _digest(path), path.stat().st_mtime_ns


def _read_only(command: str, ledger: Path, extra: list[str]) -> tuple[int, str]:
    """Run a reading command; check it prints no traceback and leaves the file as it was."""
    before = _snapshot(ledger)
    size = ledger.stat().st_size if before else 0
    wal = ledger.with_name(ledger.name + "-wal")
    journal = f"-wal {wal.stat().st_size} bytes" if wal.exists() else "none"
    out, err = io.StringIO(), io.StringIO()
    try:
        code = run([command, str(ledger), *extra], out, err)
    except Exception as exc:
        raise broken(f"{type(exc).__name__} escaped from {command}", str(exc)[:300]) from exc
    if "Traceback" in out.getvalue() + err.getvalue():
        raise broken(f"traceback printed by {command}")
    if code not in (0, 1):
        raise broken(f"{command} exit code {code}")
    if _snapshot(ledger) != before:
        kind = "created" if before is None else "modified"
        raise broken(f"{command} {kind} the ledger file", f"{size} bytes, journal {journal}")
    return code, out.getvalue() + err.getvalue()


def _kill_writer(folder: Path, ledger: Path, ms: int) -> None:
    ruleset, metrics = PAIRS[0]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kpirules",
            "score",
            str(RULESETS / ruleset),
            str(EXAMPLES / metrics),
            "--record",
            str(ledger),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder,
    )
    try:
        process.wait(timeout=ms / 1000)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


@dataclass
class _LedgerState:
    plain: Verdict = "pass"
    receipt: Verdict = "pass"
    head: tuple[int, str] | None = None
    notes: list[str] = field(default_factory=list)


def _stricter(a: Verdict, b: Verdict) -> Verdict:
    return "fail" if "fail" in (a, b) else "any" if "any" in (a, b) else "pass"


def check_ledger(case: LedgerCase) -> None:
    """Invariant: verify fails after every in-place change of a recorded entry and passes
    after only appends and killed writers; no traceback; history and verify leave the file
    (bytes and modification time) as it was. With receipts, a shortened or re-chained
    ledger fails against a head taken before the change."""
    receipts = verify_takes_receipts()
    with tempfile.TemporaryDirectory(prefix="kpirules-ledger-") as name:
        folder = Path(name)
        ledger = folder / "l.db"
        state = _LedgerState()
        for op in case.ops:
            state.notes.append(op[0])
            if op[0] == "append":
                ruleset, metrics = PAIRS[op[1]]
                err = io.StringIO()
                try:
                    code = run(
                        [
                            "score",
                            str(RULESETS / ruleset),
                            str(EXAMPLES / metrics),
                            "--record",
                            str(ledger),
                        ],
                        io.StringIO(),
                        err,
                    )
                except Exception as exc:
                    raise broken(
                        f"{type(exc).__name__} escaped from score --record", str(exc)[:300]
                    ) from exc
                if code not in (0, 1) or "Traceback" in err.getvalue():
                    raise broken(f"score --record exit code {code}", err.getvalue()[-300:])
            elif op[0] == "kill":
                _kill_writer(folder, ledger, op[1])
            elif op[0] == "tamper":
                if not ledger.exists():
                    continue
                try:
                    state.head = _head(ledger)
                except (sqlite3.DatabaseError, UnicodeDecodeError):
                    continue  # not yet a ledger (a writer killed early), or already unreadable
                try:
                    expect = TAMPERINGS[op[1]](ledger, op[2], op[3])
                except (sqlite3.DatabaseError, UnicodeDecodeError):
                    expect = Expect("fail", "fail")  # earlier damage: rows no longer read back
                # The receipt is the head just before this tampering: it catches this change,
                # and anything verify alone already catches.
                state.receipt = _stricter(state.plain, expect.receipt)
                state.plain = _stricter(state.plain, expect.plain)
            elif not ledger.exists():
                code, said = _read_only(op[0], ledger, [])
                if code != 1:
                    raise broken(f"{op[0]} of a missing ledger exit {code}")
            elif op[0] == "history":
                _read_only("history", ledger, [])
            else:
                code, said = _read_only("verify", ledger, [])
                if state.plain == "fail" and code != 1:
                    raise broken("verify missed an in-place change", f"after {state.notes}")
                if state.plain == "pass" and code != 0:
                    raise broken("verify failed after only appends and kills", said[-300:])
                if receipts and state.head is not None:
                    n, head = state.head
                    code, said = _read_only("verify", ledger, ["--head", f"{n}:{head}"])
                    if state.receipt == "fail" and code != 1:
                        raise broken("verify --head missed a change", f"after {state.notes}")
                    if state.receipt == "pass" and code != 0:
                        raise broken("verify --head failed on an intact ledger", said[-300:])


# Mixed encodings

NAME_CHARS = "甲乙丙丁第一二三医院医保办科室中心张李王赵ABCxyz0123·-（）"
ROW_ENCODINGS = ("utf-8", "gbk", "utf-8-sig", "utf-16", "utf-16-le")


@dataclass(frozen=True)
class EncodingCase:
    """Scheme A metrics: one row per name, each row encoded on its own, with damage.

    ``rows`` holds (name, encoding, damage, where): damage is "", "nul" or a control
    character, put in the name (where 0) or in a value cell (where > 0)."""

    rows: tuple[tuple[str, str, str, int], ...]


def encoding_cases() -> st.SearchStrategy[EncodingCase]:
    """Files mixing UTF-8, GBK, UTF-8 with BOM and UTF-16 rows, with NUL and control characters."""
    name = st.text(alphabet=NAME_CHARS, min_size=1, max_size=8)
    damage = st.sampled_from(["", "", "", "\x00", "\x01", "\x07", "\x1b", "\x7f", "\x0c", "\u0085"])
    row = st.tuples(name, st.sampled_from(ROW_ENCODINGS), damage, st.integers(0, len(A_HEADER) - 1))
    return st.builds(
        EncodingCase, st.lists(row, min_size=1, max_size=6, unique_by=lambda r: r[0]).map(tuple)
    )


def encoding_file(case: EncodingCase) -> tuple[bytes, list[str]]:
    """The file's bytes and the entity names it was written with."""
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(A_HEADER)
    data = head.getvalue().encode("utf-8")
    names = []
    for i, (name, encoding, damage, where) in enumerate(case.rows):
        cells = [name, *A_ROWS[i % len(A_ROWS)][1:]]
        if damage and where == 0:
            cells[0] = name[:1] + damage + name[1:]
        elif damage:
            cells[where] = cells[where][:1] + damage + cells[where][1:]
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(cells)
        try:
            data += line.getvalue().encode(encoding)
        except UnicodeEncodeError:  # a character GBK lacks: that row stays UTF-8
            data += line.getvalue().encode("utf-8")
        names.append(cells[0])
    return data, names


def check_encodings(case: EncodingCase) -> None:
    """Invariant: results named exactly as written, or an InputError located at a row."""
    data, names = encoding_file(case)
    with tempfile.TemporaryDirectory(prefix="kpirules-enc-") as folder:
        path = Path(folder) / "m.csv"
        path.write_bytes(data)
        try:
            results = A_RULESET.evaluate_many(read_metrics(path, A_RULESET))
        except InputError as exc:
            unlocated = [p for p in exc.problems if p.line < 1]
            if unlocated:
                what = unlocated[0].message.split("：")[0]
                raise broken(f"InputError without a row: {what}", str(unlocated[0])) from None
            return
        except kpirules.EvaluationError:
            return
    got = [r.entity for r in results]
    if got != names:
        raise broken("names garbled with exit 0", f"wrote {names!r}, read {got!r}")


# Caller decimal contexts

STAGES = ("load", "read", "evaluate_many", "to_json", "table", "explain", "all")
ROUNDINGS = (
    decimal.ROUND_UP,
    decimal.ROUND_DOWN,
    decimal.ROUND_CEILING,
    decimal.ROUND_FLOOR,
    decimal.ROUND_HALF_UP,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_05UP,
)
SIGNALS = (
    "Clamped",
    "DivisionByZero",
    "Inexact",
    "InvalidOperation",
    "Overflow",
    "Rounded",
    "Subnormal",
    "Underflow",
    "FloatOperation",
)


@dataclass(frozen=True)
class ContextCase:
    """A decimal context the caller sets before one stage (or all) of scoring ``PAIRS[pair]``."""

    pair: int
    stage: str
    prec: int
    rounding: str
    traps: tuple[str, ...]
    emin: int
    emax: int
    capitals: int
    clamp: int

    def context(self) -> decimal.Context:
        """The caller's context."""
        return decimal.Context(
            prec=self.prec,
            rounding=self.rounding,
            Emin=self.emin,
            Emax=self.emax,
            capitals=self.capitals,
            clamp=self.clamp,
            traps=[getattr(decimal, s) for s in self.traps],
            flags=[],
        )


def context_cases() -> st.SearchStrategy[ContextCase]:
    """Every rounding mode, precision 1–50, random traps and exponent limits."""
    return st.builds(
        ContextCase,
        pair=st.integers(0, len(PAIRS) - 1),
        stage=st.sampled_from(STAGES),
        prec=st.integers(1, 50),
        rounding=st.sampled_from(ROUNDINGS),
        traps=st.lists(st.sampled_from(SIGNALS), unique=True).map(tuple),
        emin=st.one_of(st.integers(-999999, 0), st.sampled_from([0, -1, -6, -28])),
        emax=st.one_of(st.integers(0, 999999), st.sampled_from([0, 1, 6, 28])),
        capitals=st.integers(0, 1),
        clamp=st.integers(0, 1),
    )


def _context_state(ctx: decimal.Context) -> tuple[Any, ...]:
    return (
        ctx.prec,
        ctx.rounding,
        ctx.Emin,
        ctx.Emax,
        ctx.capitals,
        ctx.clamp,
        tuple(sorted(k.__name__ for k, v in ctx.traps.items() if v)),
        tuple(sorted(k.__name__ for k, v in ctx.flags.items() if v)),
    )


def _scored(pair: int, stage: str, caller: decimal.Context, left: list[Broken]) -> str:
    """Every output of scoring ``PAIRS[pair]``, with ``caller`` set around ``stage``.

    What a stage did to the caller's context is added to ``left``."""
    ruleset_file, metrics_file = PAIRS[pair]

    def step(name: str, fn: Callable[[], Any]) -> Any:
        if stage not in (name, "all"):
            return fn()
        decimal.setcontext(caller)
        expected = _context_state(caller)
        try:
            return fn()
        finally:
            now = decimal.getcontext()
            decimal.setcontext(decimal.Context())
            found = _context_state(now)
            if now is not caller or found[:-1] != expected[:-1]:
                left.append(
                    broken(f"{name} changed the caller's decimal context", f"{expected} → {found}")
                )
            elif found != expected:
                left.append(
                    broken(f"{name} set flags on the caller's decimal context", f"{found[-1]}")
                )

    ruleset = step("load", lambda: kpirules.load(RULESETS / ruleset_file))
    rows = step("read", lambda: read_metrics(EXAMPLES / metrics_file, ruleset))
    results = step("evaluate_many", lambda: ruleset.evaluate_many(rows))
    parts = [
        step("to_json", lambda: report.to_json(results)),
        step("table", lambda: report.table(ruleset, results)),
        step("explain", lambda: "\n".join(report.explain(ruleset, r) for r in results)),
    ]
    return "\n".join(parts)


_BASELINES: dict[int, str] = {}


def check_decimal_context(case: ContextCase) -> None:
    """Invariant: the same bytes as under the default context; the caller's context unchanged."""
    decimal.setcontext(decimal.Context())
    if case.pair not in _BASELINES:
        _BASELINES[case.pair] = _scored(case.pair, "", decimal.Context(), [])
    left: list[Broken] = []
    try:
        got = _scored(case.pair, case.stage, case.context(), left)
    except Exception as exc:
        raise broken(
            f"{type(exc).__name__} under a caller's context in {case.stage}", str(exc)[:200]
        ) from exc
    finally:
        decimal.setcontext(decimal.Context())
    if got != _BASELINES[case.pair]:
        base = _BASELINES[case.pair]
        at = next(
            (i for i, (x, y) in enumerate(zip(base, got, strict=False)) if x != y),
            min(len(base), len(got)),
        )
        raise broken(
            f"output differs under a caller's context in {case.stage}",
            f"at {at}: {base[max(0, at - 40) : at + 40]!r} → {got[max(0, at - 40) : at + 40]!r}",
        )
    if left:
        raise left[0]


# The targets


@dataclass(frozen=True)
class Target:
    """A fuzz target: cases, the check of its invariant, and its share of a long campaign."""

    name: str
    title: str
    cases: Callable[[], st.SearchStrategy[Any]]
    check: Callable[[Any], None]
    weight: float


#: Weights are inputs per million of a ``--campaign``, chosen from the measured rates
#: (docs/security.md) so that a million inputs take about 33 minutes on two cores: the
#: targets that load a whole ruleset or start processes get few inputs, random bytes most.
TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("values", "ruleset value mutations", value_mutations, check_ruleset_text, 220),
        Target("text", "ruleset text mutations", text_mutations, check_ruleset_text, 1750),
        Target(
            "bytes",
            "random bytes as a ruleset",
            lambda: st.binary(max_size=400),
            check_random_bytes,
            956_200,
        ),
        Target("mappings", "metrics mappings", metrics_mappings, check_metrics_mapping, 23_600),
        Target("csv", "metrics CSV files", metrics_csv_files, check_metrics_csv, 6320),
        Target("cli", "CLI outputs", cli_cases, check_cli, 950),
        Target("ledger", "ledger interleavings", ledger_cases, check_ledger, 540),
        Target("encodings", "mixed encodings", encoding_cases, check_encodings, 9760),
        Target("contexts", "caller decimal contexts", context_cases, check_decimal_context, 660),
    ]
}


def share(scale: float) -> settings:
    """Settings running ``scale`` times the loaded profile's examples (at least one)."""
    return settings(max_examples=max(1, round(settings.default.max_examples * scale)))


@dataclass(frozen=True)
class OpenFinding:
    """A failure the targets find today and that is reported, not yet fixed.

    The test suite does not fail again on a failure whose kind matches the regular
    expression ``kind`` from this ``target``; ``reproducer`` must keep producing it (a test
    checks), so the entry has to go once the engine is fixed."""

    target: str
    kind: str
    reproducer: Any


_NO_TRAPS: dict[str, Any] = {"traps": (), "capitals": 0, "clamp": 0}
#: Findings of earlier runs, now fixed: each reproducer must pass its target's check.
FIXED_FINDINGS: list[OpenFinding] = [
    OpenFinding(
        "encodings",
        "InputError without a row: 文件含有空字符（NUL）",
        EncodingCase((("甲医院", "utf-8", "\x00", 0),)),
    ),
    OpenFinding(
        "encodings",
        "InputError without a row: 文件既不是 UTF-8 也不是 GBK 编码",
        EncodingCase((("1室2A保A张-", "utf-16-le", "\x1b", 10), ("院心0Bx", "utf-16", "\x7f", 5))),
    ),
    OpenFinding(
        "encodings",
        "names garbled with exit 0",
        EncodingCase((("甲医院", "utf-8-sig", "", 0),)),  # a BOM at the start of a row
    ),
    OpenFinding(
        "contexts",
        "output differs under a caller's context in [a-z_]+",
        ContextCase(0, "load", 1, decimal.ROUND_UP, emin=0, emax=0, **_NO_TRAPS),
    ),
    OpenFinding(
        "contexts",
        "[A-Za-z]+ under a caller's context in [a-z_]+",
        ContextCase(
            3, "table", 1, decimal.ROUND_FLOOR, ("Underflow", "Inexact"), -1, 0, capitals=1, clamp=1
        ),
    ),
    OpenFinding(
        "contexts",
        "[a-z_]+ set flags on the caller's decimal context",
        ContextCase(6, "to_json", 35, decimal.ROUND_HALF_EVEN, (), -1, 1, capitals=0, clamp=1),
    ),
]


FIXED_FINDINGS += [
    OpenFinding(
        "cli",
        "OSError escaped from run",
        CliCase(("verify", "x" * 300), SEEDS[0], "a-offices-2026.csv"),
    ),
    OpenFinding(
        "cli",
        "IsADirectoryError escaped from run",
        CliCase(
            ("score", "{R}", "{M}", "--output", "{DIR}", "--force"), SEEDS[0], "a-offices-2026.csv"
        ),
    ),
    OpenFinding(
        "ledger",
        "UnicodeDecodeError escaped from (score --record|verify|history)",
        LedgerCase(
            (
                ("append", 0),
                ("tamper", "flip", 254, 86267488),
                ("append", 0),
                ("tamper", "flip", 3773, 3773),
                ("verify",),
            )
        ),
    ),
    OpenFinding(
        "ledger",
        "verify modified the ledger file",
        LedgerCase((("append", 0), ("tamper", "truncate", 0, 0), ("verify",))),
    ),
    OpenFinding(
        "cli",
        "OSError escaped from run",
        CliCase(("validate", "{R}", "x" * 300 + ".csv"), SEEDS[0], "a-offices-2026.csv"),
    ),
    OpenFinding(
        "encodings",
        "names garbled with exit 0",
        EncodingCase((("一", "gbk", "", 5),)),  # GBK D2 BB is also valid UTF-8 (U+04BB)
    ),
]


#: Failures the targets find today that are reported but not fixed yet (none at present).
OPEN_FINDINGS: list[OpenFinding] = []


def open_finding(target: str, message: str) -> OpenFinding | None:
    """The open finding a failure message belongs to, if any."""
    kind = message.split(" — ", 1)[0]
    return next(
        (f for f in OPEN_FINDINGS if f.target == target and re.fullmatch(f.kind, kind)), None
    )
