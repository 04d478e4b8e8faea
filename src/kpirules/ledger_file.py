"""The ledger's file format: its tables, its records and their hashes, and how a file is
recognised as a kpirules ledger (from its header alone, never writing).

A ledger is one SQLite file marked with ``PRAGMA application_id`` :data:`LEDGER_APPLICATION_ID`
and ``PRAGMA user_version`` (the schema version). Version 2 holds scorings (``entries``), the
ruleset texts they used, and checkpoints; version 3 adds ``marks``, the records that name the
official batch of a period. Entries and marks share one numbering and one hash chain.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, Protocol

import attrs

from kpirules._core.canonical import canonical_json
from kpirules.errors import KpirulesError
from kpirules.result import Value

#: ``PRAGMA application_id`` of every kpirules ledger: "KPR1".
LEDGER_APPLICATION_ID = 0x4B505231
#: ``PRAGMA user_version`` of the ledgers this version writes (it also reads version 2).
SCHEMA_VERSION = 3
#: The oldest version this one reads; it gains the ``marks`` table when a batch is marked.
OLDEST_READABLE = 2
GENESIS = "0" * 64
_READABLE = f"第 {OLDEST_READABLE}–{SCHEMA_VERSION} 版"

_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE rulesets (
    text_sha256 TEXT PRIMARY KEY,
    text TEXT NOT NULL
)""",
    """CREATE TABLE entries (
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
    engine_digest TEXT NOT NULL,
    decimal_context TEXT NOT NULL,
    total TEXT NOT NULL,
    grade TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
)""",
    """CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    head TEXT NOT NULL,
    made_at TEXT NOT NULL,
    batch TEXT NOT NULL,
    first INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
)""",
    *(
        f"CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
        for table in ("meta", "rulesets", "entries", "checkpoints")
        for verb in ("update", "delete")
    ),
)

#: What version 3 adds to version 2: the marks naming the official batch of a period.
_MARKS_SCHEMA = (
    """CREATE TABLE marks (
    seq INTEGER PRIMARY KEY,
    marked_at TEXT NOT NULL,
    user TEXT NOT NULL,
    period TEXT NOT NULL,
    batch TEXT NOT NULL,
    note TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
)""",
    *(
        f"CREATE TRIGGER marks_no_{verb} BEFORE {verb.upper()} ON marks "
        "BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
        for verb in ("update", "delete")
    ),
)

#: The columns of each table, in order: a file whose tables differ is not one of ours.
_COLUMNS = {
    "meta": ("key", "value"),
    "rulesets": ("text_sha256", "text"),
    "entries": (
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
        "engine_digest",
        "decimal_context",
        "total",
        "grade",
        "prev_hash",
        "hash",
    ),
    "checkpoints": ("size", "head", "made_at", "batch", "first", "key_id", "signature"),
    "marks": ("seq", "marked_at", "user", "period", "batch", "note", "prev_hash", "hash"),
}

#: The fields covered by an entry's hash, in this order.
_HASHED = _COLUMNS["entries"][:-1]


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
    engine_digest: str
    decimal_context: str
    total: str
    grade: str
    prev_hash: str
    hash: str


@attrs.frozen
class Checkpoint:
    """The state of a ledger after a batch: ``size`` entries, the last with hash ``head``.

    ``ledger_id``, ``size``, ``head`` and ``time`` are what is signed (:meth:`message`);
    ``batch`` and ``first`` (the batch's first entry) say which run produced it.
    ``key_id`` and ``signature`` (base64) are empty when the checkpoint is not signed.
    """

    ledger_id: str
    size: int
    head: str
    time: str
    batch: str = ""
    first: int = 0
    key_id: str = ""
    signature: str = ""

    @property
    def head_text(self) -> str:
        """``N:HASH``, the form ``kpirules verify --head`` takes."""
        return f"{self.size}:{self.head}"

    def line(self) -> str:
        """One line a person can note down."""
        signed = "，已签名" if self.signature else ""
        return f"检查点 {self.head_text}（记录文件 {self.ledger_id}，{self.time}{signed}）"

    def message(self) -> bytes:
        """The bytes a signature covers."""
        return canonical(
            {
                "kpirules_checkpoint": 1,
                "ledger_id": self.ledger_id,
                "size": self.size,
                "head": self.head,
                "time": self.time,
            }
        ).encode("utf-8")


@attrs.frozen
class Mark:
    """A record naming ``batch`` the official batch of ``period`` (superseding the others).

    Marks are numbered and chained with the entries: ``seq`` follows the record before it
    and ``prev_hash`` is that record's hash.
    """

    seq: int
    marked_at: str
    user: str
    period: str
    batch: str
    note: str
    prev_hash: str
    hash: str


def mark_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over a mark's fields but its hash, as canonical JSON, with its kind."""
    hashed = {k: fields[k] for k in _COLUMNS["marks"][:-1]}
    return hashlib.sha256(canonical({"kind": "official", **hashed}).encode("utf-8")).hexdigest()


class Signer(Protocol):
    """Something that signs checkpoints (see :func:`kpirules.receipts.load_signing_key`)."""

    @property
    def key_id(self) -> str:
        """Identifies the key pair (``sha256:`` of the raw public key)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message``."""
        ...


def canonical(data: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text, Decimals as exact strings."""
    return canonical_json(data)


def metrics_json(values: dict[str, Value]) -> str:
    """Input values as canonical JSON (each Decimal as its exact text)."""
    return canonical({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the hashed fields of an entry, as canonical JSON."""
    return hashlib.sha256(canonical({k: fields[k] for k in _HASHED}).encode("utf-8")).hexdigest()


def _header(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(100)


def is_ledger(path: str | Path) -> bool:
    """Whether ``path`` is a kpirules ledger, judged from its SQLite header alone.

    Reads the first 100 bytes and nothing else: never opens the database, never writes.
    """
    try:
        header = _header(Path(path))
    except OSError:
        return False
    return (
        len(header) == 100
        and header.startswith(_SQLITE_MAGIC)
        and int.from_bytes(header[68:72], "big") == LEDGER_APPLICATION_ID
    )


def may_be_ledger(path: Path) -> bool:
    """True when ``path`` is an SQLite file that is a kpirules ledger, or may be one: what
    an output must never replace (see :func:`is_ledger` for the strict test).

    Read only: the 16-byte SQLite header and the application id in it, then
    ``PRAGMA application_id`` and the tables. An SQLite file that is open in WAL mode or
    cannot be read (damaged) counts as a ledger.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(100)
    except OSError:
        return False
    if not head.startswith(_SQLITE_MAGIC):
        return False
    if int.from_bytes(head[68:72], "big") == LEDGER_APPLICATION_ID:
        return True
    if path.with_name(path.name + "-wal").exists():
        return True  # open in WAL mode: its tables may not have reached the main file yet
    try:
        # immutable: read the file as it is, without locks and without creating -wal/-shm.
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            (application_id,) = db.execute("PRAGMA application_id").fetchone()
            entries = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'"
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return True
    return application_id == LEDGER_APPLICATION_ID or entries is not None


def _what_is(path: Path, header: bytes) -> str | None:
    """Why the file is not a ledger this version can read, in words; None if it is one."""
    if not header:
        return f"{path} 是空文件，不是 kpirules 审计记录"
    if not header.startswith(_SQLITE_MAGIC):
        if b"\x00" not in header:
            try:
                header.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                return f"{path} 是文本文件，不是 kpirules 审计记录"
        return f"{path} 不是 SQLite 数据库，不是 kpirules 审计记录"
    if len(header) < 100:
        return f"{path} 是损坏的 SQLite 文件（不足 100 字节），不是可用的 kpirules 审计记录"
    application_id = int.from_bytes(header[68:72], "big")
    version = int.from_bytes(header[60:64], "big")
    if application_id != LEDGER_APPLICATION_ID:
        if application_id == 0 and _is_first_version(path):
            return f"{path} 是第 1 版 kpirules 审计记录（没有检查点）；本程序只能读{_READABLE}"
        return (
            f"{path} 是另一个程序的 SQLite 数据库（application_id 0x{application_id:08X}），"
            "不是 kpirules 审计记录"
        )
    if version > SCHEMA_VERSION:
        return (
            f"{path} 是第 {version} 版 kpirules 审计记录，本程序只能读{_READABLE}：请升级 kpirules"
        )
    if version < OLDEST_READABLE:
        return f"{path} 是第 {version} 版 kpirules 审计记录，本程序只能读{_READABLE}"
    return None


def check_tables(db: sqlite3.Connection, path: Path, version: int) -> None:
    """Raise :class:`LedgerError` when the tables are not those of a ledger of ``version``."""
    for table, columns in _COLUMNS.items():
        if table == "marks" and version < 3:
            continue
        found = tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})").fetchall())
        if found != columns:
            missing = [c for c in columns if c not in found]
            extra = [c for c in found if c not in columns]
            detail = "；".join(
                part
                for part in (
                    "没有这张表" if not found else "",
                    f"缺少列 {'、'.join(missing)}" if found and missing else "",
                    f"多出列 {'、'.join(extra)}" if extra else "",
                    "列的顺序不同" if found and not missing and not extra else "",
                )
                if part
            )
            raise LedgerError(
                f"{path} 标为 kpirules 审计记录，但 {table} 表与本程序写的不符"
                f"（{detail}）：不是可用的审计记录"
            )


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _is_first_version(path: Path) -> bool:
    """Whether the file is a ledger of the first version (a ``meta`` row, no application id)."""
    try:
        db = sqlite3.connect(_readonly_uri(path), uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'kpirules_ledger'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "1"


def _readonly_uri(path: Path) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"


def _locked(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


#: SQLite's words for what went wrong, in the user's words.
_SQLITE_REASONS = (
    ("disk is full", "磁盘空间不足"),
    ("readonly database", "文件是只读的"),
    ("database is locked", "记录文件正被其他程序使用"),
    ("unable to open database file", "无法打开记录文件"),
    ("disk I/O error", "磁盘读写出错"),
)


def sqlite_reason(exc: Exception) -> str:
    """Why an SQLite operation failed, in Chinese where SQLite's words are known."""
    text = str(exc)
    return next((chinese for english, chinese in _SQLITE_REASONS if english in text), text)


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
