"""An append-only, hash-chained record of every scoring, in one SQLite file.

Each entry records one entity's scoring: when and by whom, the period, the exact ruleset
text (stored once per distinct text, by its SHA-256), the input metrics, the result as
canonical JSON, the engine version and the decimal context. Each entry carries the hash
of the previous one, so changing, removing or reordering any past entry (or a stored
ruleset text) breaks the chain and :func:`verify` says where.

Append-only is enforced twice: this module offers no way to change an entry, and the
database refuses UPDATE and DELETE by trigger. SQLite's atomic commits mean a writer
killed in the middle of a batch leaves the entries of earlier batches intact and nothing
of the interrupted one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from kpirules.errors import KpirulesError
from kpirules.model import Ruleset
from kpirules.result import Result, Value

#: ``PRAGMA application_id`` of every kpirules ledger: "KPR1".
LEDGER_APPLICATION_ID = 0x4B505231
SCHEMA_VERSION = 1
GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rulesets (
    text_sha256 TEXT PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    user TEXT NOT NULL,
    batch TEXT NOT NULL,
    position INTEGER NOT NULL,
    period TEXT NOT NULL,
    entity TEXT NOT NULL,
    ruleset_id TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    text_sha256 TEXT NOT NULL REFERENCES rulesets(text_sha256),
    ruleset_file TEXT NOT NULL,
    metrics TEXT NOT NULL,
    result TEXT NOT NULL,
    engine TEXT NOT NULL,
    decimal_context TEXT NOT NULL,
    total TEXT NOT NULL,
    grade TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS rulesets_no_update BEFORE UPDATE ON rulesets
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS rulesets_no_delete BEFORE DELETE ON rulesets
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""

#: The fields covered by an entry's hash, in this order.
_HASHED = (
    "seq",
    "recorded_at",
    "user",
    "batch",
    "position",
    "period",
    "entity",
    "ruleset_id",
    "ruleset_version",
    "fingerprint",
    "text_sha256",
    "ruleset_file",
    "metrics",
    "result",
    "engine",
    "decimal_context",
    "total",
    "grade",
    "prev_hash",
)


class LedgerError(KpirulesError):
    """The ledger cannot be opened or written, or is not a kpirules ledger."""


@attrs.frozen
class Entry:
    """One recorded scoring."""

    seq: int
    recorded_at: str
    user: str
    batch: str
    position: int
    period: str
    entity: str
    ruleset_id: str
    ruleset_version: str
    fingerprint: str
    text_sha256: str
    ruleset_file: str
    metrics: str
    result: str
    engine: str
    decimal_context: str
    total: str
    grade: str
    prev_hash: str
    hash: str


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text, Decimals as exact strings."""
    return json.dumps(
        data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_plain
    )


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(type(value).__name__)


def metrics_json(values: dict[str, Value]) -> str:
    """Input values as canonical JSON (each Decimal as its exact text)."""
    return canonical({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the hashed fields of an entry, as canonical JSON."""
    return hashlib.sha256(canonical({k: fields[k] for k in _HASHED}).encode("utf-8")).hexdigest()


class Ledger:
    """An open ledger file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LedgerError(f"找不到记录文件 {path}")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            found = self.db.execute("SELECT value FROM meta WHERE key='kpirules_ledger'").fetchone()
            if found is None:
                self.db.execute(
                    "INSERT INTO meta VALUES ('kpirules_ledger', ?)", (str(SCHEMA_VERSION),)
                )
            elif found[0] != str(SCHEMA_VERSION):
                raise LedgerError(
                    f"{path} 是第 {found[0]} 版记录文件，本程序只能读第 {SCHEMA_VERSION} 版"
                )
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} 不是可用的记录文件：{exc}") from None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def append(
        self,
        ruleset: Ruleset,
        rows: Sequence[tuple[str, dict[str, Value]]],
        results: Sequence[Result],
        *,
        period: str = "",
        user: str | None = None,
    ) -> list[Entry]:
        """Record one batch (the rows scored together and their results) atomically."""
        who = user or _whoami()
        when = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        text_sha = hashlib.sha256(ruleset.text.encode("utf-8")).hexdigest()
        batch = uuid.uuid4().hex
        entries: list[Entry] = []
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT OR IGNORE INTO rulesets VALUES (?, ?)", (text_sha, ruleset.text)
            )
            last = self.db.execute(
                "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = (last[0], last[1]) if last else (0, GENESIS)
            for position, ((entity, values), result) in enumerate(zip(rows, results, strict=True)):
                seq += 1
                fields: dict[str, Any] = {
                    "seq": seq,
                    "recorded_at": when,
                    "user": who,
                    "batch": batch,
                    "position": position,
                    "period": period,
                    "entity": entity,
                    "ruleset_id": ruleset.id,
                    "ruleset_version": ruleset.version,
                    "fingerprint": ruleset.fingerprint,
                    "text_sha256": text_sha,
                    "ruleset_file": ruleset.file,
                    "metrics": metrics_json(values),
                    "result": result.to_json(),
                    "engine": result.provenance.engine,
                    "decimal_context": result.provenance.decimal_context,
                    "total": str(result.total),
                    "grade": result.grade or "",
                    "prev_hash": prev,
                }
                fields["hash"] = prev = entry_hash(fields)
                self.db.execute(
                    f"INSERT INTO entries ({', '.join(fields)}) VALUES ({', '.join('?' for _ in fields)})",
                    tuple(fields.values()),
                )
                entries.append(Entry(**fields))
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        return entries

    def entries(self, seq: int | None = None) -> Iterator[Entry]:
        """Entries in order (or the one with ``seq``)."""
        query = (
            "SELECT * FROM entries"
            + (" WHERE seq = ?" if seq is not None else "")
            + " ORDER BY seq"
        )
        cursor = self.db.execute(query, (seq,) if seq is not None else ())
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield Entry(**dict(zip(names, row, strict=True)))

    def ruleset_text(self, text_sha256: str) -> str | None:
        """The recorded ruleset text with this SHA-256, if stored."""
        row = self.db.execute(
            "SELECT text FROM rulesets WHERE text_sha256 = ?", (text_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    def verify(self) -> list[str]:
        """Check the hash chain and the stored ruleset texts; return the problems in words."""
        problems: list[str] = []
        prev = GENESIS
        expected_seq = 1
        for entry in self.entries():
            fields = attrs.asdict(entry)
            if entry.seq != expected_seq:
                problems.append(f"第 {expected_seq} 条记录缺失（下一条是第 {entry.seq} 条）")
                expected_seq = entry.seq
            if entry.prev_hash != prev:
                problems.append(
                    f"第 {entry.seq} 条记录的前一条哈希不符：链条在此断开（前面的记录被改动或删除）"
                )
            if entry_hash(fields) != entry.hash:
                problems.append(
                    f"第 {entry.seq} 条记录（{entry.entity}）的内容与其哈希不符：记录被改动过"
                )
            text = self.ruleset_text(entry.text_sha256)
            if text is None:
                problems.append(f"第 {entry.seq} 条记录引用的规则集文本缺失")
            elif hashlib.sha256(text.encode("utf-8")).hexdigest() != entry.text_sha256:
                problems.append(f"第 {entry.seq} 条记录引用的规则集文本被改动过")
            prev = entry.hash
            expected_seq += 1
        return problems


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@attrs.frozen
class Replayed:
    """The outcome of re-scoring one recorded entry."""

    seq: int
    entity: str
    same: bool
    difference: str


def replay(ledger: Ledger, seq: int | None = None) -> list[Replayed]:
    """Re-score recorded entries from their recorded ruleset text and inputs.

    Entries scored together are re-scored together (ranks and cohort methods depend on the
    batch). Each result is compared with the recorded canonical JSON, byte for byte.
    """
    from kpirules.api import check  # the ledger sits above the loading stages

    chosen = list(ledger.entries(seq))
    if seq is not None and not chosen:
        raise LedgerError(f"记录中没有第 {seq} 条")
    batches: dict[str, list[Entry]] = {}
    for entry in ledger.entries():
        batches.setdefault(entry.batch, []).append(entry)
    wanted = {e.seq for e in chosen}
    out: list[Replayed] = []
    for batch in dict.fromkeys(e.batch for e in chosen):
        entries = sorted(batches[batch], key=lambda e: e.position)
        text = ledger.ruleset_text(entries[0].text_sha256)
        if text is None:
            out.extend(
                Replayed(e.seq, e.entity, False, "记录的规则集文本缺失")
                for e in entries
                if e.seq in wanted
            )
            continue
        ruleset, problems = check(entries[0].ruleset_file, text=text)
        if ruleset is None:
            why = "记录的规则集今天无法加载：" + "；".join(p.message for p in problems[:3])
            out.extend(Replayed(e.seq, e.entity, False, why) for e in entries if e.seq in wanted)
            continue
        rows = [(e.entity, json.loads(e.metrics)) for e in entries]
        try:
            results = ruleset.evaluate_many(rows)
        except KpirulesError as exc:
            out.extend(
                Replayed(e.seq, e.entity, False, f"今天无法重算：{exc}")
                for e in entries
                if e.seq in wanted
            )
            continue
        for entry, result in zip(entries, results, strict=True):
            if entry.seq not in wanted:
                continue
            now = result.to_json()
            if now == entry.result:
                out.append(Replayed(entry.seq, entry.entity, True, ""))
            else:
                out.append(
                    Replayed(
                        entry.seq,
                        entry.entity,
                        False,
                        first_difference(json.loads(entry.result), json.loads(now)),
                    )
                )
    return sorted(out, key=lambda r: r.seq)


def first_difference(recorded: Any, now: Any, path: str = "") -> str:
    """The first place two JSON values differ, in words."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in sorted(set(recorded) | set(now)):
            if key not in recorded:
                return f"{path}.{key}：记录中没有，重算得到 {now[key]!r}"
            if key not in now:
                return f"{path}.{key}：记录为 {recorded[key]!r}，重算中没有"
            if recorded[key] != now[key]:
                return first_difference(recorded[key], now[key], f"{path}.{key}")
        return f"{path}：键的顺序或格式不同"
    if isinstance(recorded, list) and isinstance(now, list):
        for i, (a, b) in enumerate(zip(recorded, now, strict=False)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
        return f"{path}：记录有 {len(recorded)} 项，重算有 {len(now)} 项"
    return f"{path.lstrip('.')}：记录为 {recorded}，重算为 {now}"
