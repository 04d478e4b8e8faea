"""An append-only, hash-chained record of every scoring, in one SQLite file.

Each entry records one entity's scoring: when and by whom, the period, the exact ruleset
text (stored once per distinct text, by its SHA-256), the input metrics, the result as
canonical JSON, the engine version and digest and the decimal context. Each entry carries
the hash of the previous one, so changing or reordering any past entry (or a stored ruleset
text) breaks the chain and :meth:`Ledger.verify` says where.

The chain alone cannot show that entries were removed from the end, nor that the whole
chain was rewritten with its hashes recomputed. Every recorded batch therefore ends in a
:class:`Checkpoint` (the ledger's id, the number of entries and the hash of the last one),
stored in the ledger, printed for the person who ran the scoring and optionally written as
a receipt and signed (:mod:`kpirules.receipts`). Anyone holding a later checkpoint can show
that the ledger still holds exactly the entries it covers.

Append-only is enforced twice: this module offers no way to change an entry, and the
database refuses UPDATE and DELETE by trigger. SQLite's atomic commits mean a writer
killed in the middle of a batch leaves the entries of earlier batches intact and nothing
of the interrupted one. Reading (:meth:`Ledger.open_readonly`) never writes to the file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import getpass
import hashlib
import json
import sqlite3
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from kpirules._core.canonical import canonical_json
from kpirules.errors import KpirulesError
from kpirules.model import Ruleset
from kpirules.result import Result, Value

#: ``PRAGMA application_id`` of every kpirules ledger: "KPR1".
LEDGER_APPLICATION_ID = 0x4B505231
#: ``PRAGMA user_version`` of the ledgers this version writes and reads.
SCHEMA_VERSION = 2
GENESIS = "0" * 64
#: How long a writer waits for another scoring's write to finish, in seconds.
LOCK_WAIT_SECONDS = 60.0
WAITING_MESSAGE = "审计记录正被另一个计分写入，等待中…"

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
            return (
                f"{path} 是第 1 版 kpirules 审计记录（没有检查点）；"
                f"本程序只能读第 {SCHEMA_VERSION} 版"
            )
        return (
            f"{path} 是另一个程序的 SQLite 数据库（application_id 0x{application_id:08X}），"
            "不是 kpirules 审计记录"
        )
    if version > SCHEMA_VERSION:
        return (
            f"{path} 是第 {version} 版 kpirules 审计记录，本程序只能读第 {SCHEMA_VERSION} 版："
            "请升级 kpirules"
        )
    if version != SCHEMA_VERSION:
        return f"{path} 是第 {version} 版 kpirules 审计记录，本程序只能读第 {SCHEMA_VERSION} 版"
    return None


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


class Ledger:
    """An open ledger file. Use as a context manager, or call :meth:`close`.

    ``Ledger(path)`` opens an existing ledger for writing; ``create=True`` also creates it
    (an absent or empty file). :meth:`open_readonly` opens it for reading only. A writer
    that finds another scoring writing waits up to ``wait`` seconds (default
    :data:`LOCK_WAIT_SECONDS`), calling ``on_wait`` with :data:`WAITING_MESSAGE` first.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = False,
        readonly: bool = False,
        wait: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.wait = LOCK_WAIT_SECONDS if wait is None else wait
        self.on_wait = on_wait
        if self.path.is_dir():
            raise LedgerError(f"{path} 是目录，不是审计记录文件")
        exists = self.path.is_file()
        if not exists and (readonly or not create):
            raise LedgerError(f"找不到记录文件 {path}")
        try:
            header = _header(self.path) if exists else b""
        except OSError as exc:
            raise LedgerError(f"无法读取记录文件 {path}：{exc.strerror}") from None
        new = not header and create and not readonly
        if not new:
            problem = _what_is(self.path, header)
            if problem is not None:
                raise LedgerError(problem)
        try:
            if readonly:
                self.db = sqlite3.connect(
                    _readonly_uri(self.path), uri=True, isolation_level=None, timeout=self.wait
                )
            else:
                # Reads wait out another writer's commit; see _writing for writes.
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=self.wait)
                self.db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise LedgerError(f"无法打开记录文件 {path}：{exc}") from None
        # Text that is not UTF-8 can only come from tampering: read it (with U+FFFD for the
        # bad bytes) so that the entry's hash no longer matches and verify names the entry.
        self.db.text_factory = _lenient_text
        try:
            if new:
                self._create()
            self._check_tables()
            self.ledger_id = self._meta("ledger_id")
        except UnicodeDecodeError:
            # SQLite's own table descriptions are read as UTF-8 whatever the text factory.
            self.db.close()
            raise LedgerError(
                f"{self.path} 已损坏：文件内部的表结构中有无法读取的字节（文件被改动过），"
                "不能作为审计记录读取"
            ) from None
        except BaseException:
            self.db.close()
            raise

    @classmethod
    def open_readonly(cls, path: str | Path) -> Ledger:
        """Open an existing ledger for reading only: nothing is created, nothing written."""
        return cls(path, readonly=True)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def _create(self) -> None:
        with self._writing():
            # Another writer may have created it while this one waited for the lock.
            found = self.db.execute("PRAGMA application_id").fetchone()[0]
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if found == 0 and tables == 0:
                self.db.execute(f"PRAGMA application_id = {LEDGER_APPLICATION_ID}")
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                for statement in _SCHEMA:
                    self.db.execute(statement)
                now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
                self.db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    (("ledger_id", uuid.uuid4().hex), ("created_at", now)),
                )
        problem = _what_is(self.path, _header(self.path))
        if problem is not None:
            raise LedgerError(problem)

    def _check_tables(self) -> None:
        try:
            for table, columns in _COLUMNS.items():
                found = tuple(
                    row[1] for row in self.db.execute(f"PRAGMA table_info({table})").fetchall()
                )
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
                        f"{self.path} 标为 kpirules 审计记录，但 {table} 表与本程序写的不符"
                        f"（{detail}）：不是可用的审计记录"
                    )
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: sqlite3.Error) -> LedgerError:
        journal = self.path.with_name(self.path.name + "-journal")
        if self.readonly and journal.is_file() and "readonly" in str(exc):
            # A writer died mid-commit; only a writable connection can roll its journal back.
            return LedgerError(
                f"{self.path} 旁有一次中断的写入留下的 {journal.name}，只读检查无法先把它回滚："
                f'请在可写的位置用 sqlite3 打开一次（sqlite3 {self.path} "PRAGMA integrity_check"）'
                f"再检查；不要删除 {journal.name}"
            )
        return LedgerError(f"{self.path} 不是可用的记录文件：{exc}")

    def _meta(self, key: str) -> str:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from None
        if row is None:
            raise LedgerError(f"{self.path} 缺少记录文件标识（meta 表中没有 {key}）")
        return str(row[0])

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction; waits for another writer, saying so, up to ``self.wait``."""
        if self.readonly:
            raise LedgerError(f"{self.path} 以只读方式打开，不能写入")
        waiting = f"PRAGMA busy_timeout = {int(self.wait * 1000)}"
        # Try once without waiting, so that a wait can be announced before it starts.
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                self.db.execute(waiting)
                raise LedgerError(f"无法写入记录文件 {self.path}：{sqlite_reason(exc)}") from None
            if self.on_wait is not None:
                self.on_wait(WAITING_MESSAGE)
            self.db.execute(waiting)
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as again:
                if _locked(again):
                    raise LedgerError(
                        f"{self.path} 正被另一个计分写入，等待 {self.wait:g} 秒后仍未结束："
                        "本次计分没有记入，请稍后重试"
                    ) from None
                raise LedgerError(f"无法写入记录文件 {self.path}：{sqlite_reason(again)}") from None
        self.db.execute(waiting)
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise LedgerError(f"无法写入记录文件 {self.path}：{sqlite_reason(exc)}") from None
            raise

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
        entries, _ = self.record(ruleset, rows, results, period=period, user=user)
        return entries

    def record(
        self,
        ruleset: Ruleset,
        rows: Sequence[tuple[str, dict[str, Value]]],
        results: Sequence[Result],
        *,
        period: str = "",
        user: str | None = None,
        signer: Signer | None = None,
        before_commit: Callable[[Checkpoint], None] | None = None,
    ) -> tuple[list[Entry], Checkpoint]:
        """Record one batch atomically and end it in a checkpoint (signed if ``signer``).

        ``before_commit`` is called with the checkpoint inside the transaction, before it is
        committed (e.g. to write a report that carries the checkpoint); if it raises, nothing
        is recorded and the exception propagates.

        Returns the entries written and the batch's checkpoint.
        """
        if not rows:
            raise LedgerError(f"没有可记入 {self.path} 的计分（0 个对象）")
        who = user or _whoami()
        when = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        text_sha = hashlib.sha256(ruleset.text.encode("utf-8")).hexdigest()
        batch = uuid.uuid4().hex
        entries: list[Entry] = []
        with self._writing():
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
                    "engine_digest": result.provenance.engine_digest,
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
            checkpoint = Checkpoint(
                self.ledger_id, seq, prev, when, batch=batch, first=entries[0].seq
            )
            if signer is not None:
                checkpoint = attrs.evolve(
                    checkpoint,
                    key_id=signer.key_id,
                    signature=_base64(signer.sign(checkpoint.message())),
                )
            self.db.execute(
                "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    checkpoint.size,
                    checkpoint.head,
                    checkpoint.time,
                    checkpoint.batch,
                    checkpoint.first,
                    checkpoint.key_id,
                    checkpoint.signature,
                ),
            )
            if before_commit is not None:
                before_commit(checkpoint)
        return entries, checkpoint

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

    def checkpoints(self) -> list[Checkpoint]:
        """The stored checkpoints, oldest first."""
        rows = self.db.execute(
            "SELECT size, head, made_at, batch, first, key_id, signature FROM checkpoints"
            " ORDER BY size"
        ).fetchall()
        return [
            Checkpoint(self.ledger_id, size, head, made_at, batch, first, key_id, signature)
            for size, head, made_at, batch, first, key_id, signature in rows
        ]

    def checkpoint(self, batch: str | None = None) -> Checkpoint | None:
        """The stored checkpoint of ``batch`` (by default the latest), if there is one."""
        found = [c for c in self.checkpoints() if batch is None or c.batch == batch]
        return found[-1] if found else None

    def head(self) -> tuple[int, str]:
        """The number of entries and the hash of the last (``GENESIS`` when empty)."""
        row = self.db.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def ruleset_text(self, text_sha256: str) -> str | None:
        """The recorded ruleset text with this SHA-256, if stored."""
        row = self.db.execute(
            "SELECT text FROM rulesets WHERE text_sha256 = ?", (text_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    def verify(self) -> list[str]:
        """Check the hash chain, the stored ruleset texts and the stored checkpoints.

        Returns the problems in words. Without a checkpoint kept outside the file this
        cannot see entries removed from the end together with their checkpoints, nor a
        chain rewritten with its hashes recomputed: see :meth:`check_checkpoint`.
        """
        problems: list[str] = []
        prev = GENESIS
        expected_seq = 1
        hashes: dict[int, str] = {}
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
            hashes[entry.seq] = entry.hash
            prev = entry.hash
            expected_seq += 1
        size = expected_seq - 1
        last = 0
        for cp in self.checkpoints():
            if cp.size > size:
                problems.append(
                    f"检查点 {cp.size} 记到第 {cp.size} 条，但记录只有 {size} 条：末尾的记录被删除"
                )
            elif hashes.get(cp.size) != cp.head:
                problems.append(
                    f"检查点 {cp.size} 的哈希与第 {cp.size} 条记录不符：该条或之前的记录被改写"
                )
            last = cp.size
        if size > last:
            problems.append(f"第 {last + 1}–{size} 条记录没有检查点：不是由 kpirules 记入的")
        return problems

    def check_checkpoint(self, checkpoint: Checkpoint, source: str) -> list[str]:
        """Whether the ledger still holds exactly the entries ``checkpoint`` covers.

        Entry ``size`` must exist with hash ``head``; together with an intact chain
        (:meth:`verify`) this proves entries 1 to ``size`` are the ones checkpointed.
        ``source`` names where the checkpoint came from, for the messages.
        """
        if checkpoint.ledger_id != self.ledger_id:
            return [
                f"{source} 属于另一个记录文件（{checkpoint.ledger_id}），"
                f"不是本文件（{self.ledger_id}）：本文件被替换或重建过"
            ]
        size, _ = self.head()
        if checkpoint.size > size:
            return [
                f"{source} 记到第 {checkpoint.size} 条，但记录只有 {size} 条："
                "末尾的记录被删除（记录被截短）"
            ]
        entry = next(self.entries(checkpoint.size), None)
        if entry is None:
            return [f"{source}：第 {checkpoint.size} 条记录缺失"]
        if entry.hash != checkpoint.head:
            return [
                f"{source}：第 {checkpoint.size} 条记录的哈希与检查点不符"
                f"（检查点 {checkpoint.head[:16]}…，记录 {entry.hash[:16]}…）："
                f"第 1–{checkpoint.size} 条中有记录被改写、删除或替换"
            ]
        return []


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


def record_batch(
    path: str | Path,
    ruleset: Ruleset,
    rows: Sequence[tuple[str, dict[str, Value]]],
    results: Sequence[Result],
    *,
    period: str = "",
    user: str | None = None,
    signer: Signer | None = None,
    on_wait: Callable[[str], None] | None = None,
    before_commit: Callable[[Checkpoint], None] | None = None,
) -> tuple[list[Entry], Checkpoint]:
    """Append one scored batch to the ledger at ``path`` (created with its folder if absent).

    ``before_commit`` as in :meth:`Ledger.record`.

    Returns the entries written and the batch's :class:`Checkpoint`, which a report can
    print (``checkpoint.line()``) or a receipt can hold.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"无法建立记录文件的目录 {target.parent}：{exc.strerror}") from None
    with Ledger(target, create=True, on_wait=on_wait) as ledger:
        return ledger.record(
            ruleset,
            rows,
            results,
            period=period,
            user=user,
            signer=signer,
            before_commit=before_commit,
        )


def latest_checkpoint(path: str | Path) -> Checkpoint | None:
    """The latest checkpoint stored in the ledger at ``path``, read without writing."""
    with Ledger.open_readonly(path) as ledger:
        return ledger.checkpoint()


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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


def engine_changed(ledger: Ledger, seq: int | None = None) -> str | None:
    """A sentence when the entries (all, or ``seq``) were scored by another engine than now."""
    from kpirules.engine import ENGINE_DIGEST, ENGINE_VERSION

    now = f"{ENGINE_VERSION} {ENGINE_DIGEST}"
    recorded = dict.fromkeys(
        f"{e.engine} {e.engine_digest}"
        for e in ledger.entries(seq)
        if (e.engine, e.engine_digest) != (ENGINE_VERSION, ENGINE_DIGEST)
    )
    if not recorded:
        return None
    return f"评分引擎与记录时不同（记录：{'；'.join(recorded)}，现在：{now}）"


_ENGINE_FIELDS = ("engine", "engine_digest")


def _without_engine(result: Any) -> Any:
    if isinstance(result, dict) and isinstance(result.get("provenance"), dict):
        provenance = {k: v for k, v in result["provenance"].items() if k not in _ENGINE_FIELDS}
        return {**result, "provenance": provenance}
    return result


def replay(ledger: Ledger, seq: int | None = None) -> list[Replayed]:
    """Re-score recorded entries from their recorded ruleset text and inputs.

    Entries scored together are re-scored together (ranks and cohort methods depend on the
    batch). Each result is compared with the recorded canonical JSON, byte for byte. When
    the engine differs from the recording one (:func:`engine_changed` says so), the
    engine's own identity in the provenance is left out of the comparison, so that what
    is reported is what the new engine scores differently.
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
            recorded = entry.result
            if (entry.engine, entry.engine_digest) != (
                result.provenance.engine,
                result.provenance.engine_digest,
            ):
                recorded = canonical(_without_engine(json.loads(recorded)))
                now = canonical(_without_engine(json.loads(now)))
            if now == recorded:
                out.append(Replayed(entry.seq, entry.entity, True, ""))
            else:
                out.append(
                    Replayed(
                        entry.seq,
                        entry.entity,
                        False,
                        first_difference(json.loads(recorded), json.loads(now)),
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
