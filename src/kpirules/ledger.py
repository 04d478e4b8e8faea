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

import contextlib
import datetime as dt
import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from kpirules import ledger_checks
from kpirules.ledger_file import (
    _COLUMNS,
    _MARKS_SCHEMA,
    _SCHEMA,
    GENESIS,
    LEDGER_APPLICATION_ID,
    OLDEST_READABLE,
    SCHEMA_VERSION,
    Checkpoint,
    Entry,
    LedgerError,
    Mark,
    Signer,
    _base64,
    _header,
    _lenient_text,
    _locked,
    _readonly_uri,
    _what_is,
    _whoami,
    canonical,
    check_tables,
    entry_hash,
    is_ledger,
    may_be_ledger,
    metrics_json,
    sqlite_reason,
)
from kpirules.model import Ruleset
from kpirules.official import OfficialBatch, OfficialError, mark_official, official_batch
from kpirules.replay import Replayed, engine_changed, first_difference, replay
from kpirules.result import Result, Value

__all__ = [
    "GENESIS",
    "LEDGER_APPLICATION_ID",
    "LOCK_WAIT_SECONDS",
    "OLDEST_READABLE",
    "SCHEMA_VERSION",
    "WAITING_MESSAGE",
    "Checkpoint",
    "Entry",
    "Ledger",
    "LedgerError",
    "Mark",
    "OfficialBatch",
    "OfficialError",
    "Replayed",
    "Signer",
    "canonical",
    "engine_changed",
    "entry_hash",
    "first_difference",
    "is_ledger",
    "latest_checkpoint",
    "mark_official",
    "may_be_ledger",
    "metrics_json",
    "official_batch",
    "record_batch",
    "replay",
    "sqlite_reason",
]

#: How long a writer waits for another scoring's write to finish, in seconds.
LOCK_WAIT_SECONDS = 60.0
WAITING_MESSAGE = "审计记录正被另一个计分写入，等待中…"
_MARK_COLUMNS = _COLUMNS["marks"]


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
        #: What a write records, for the message when it gives up waiting.
        self.action = "计分"
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
        with self.writing():
            # Another writer may have created it while this one waited for the lock.
            found = self.db.execute("PRAGMA application_id").fetchone()[0]
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if found == 0 and tables == 0:
                self.db.execute(f"PRAGMA application_id = {LEDGER_APPLICATION_ID}")
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                for statement in (*_SCHEMA, *_MARKS_SCHEMA):
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
            self.version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
            check_tables(self.db, self.path, self.version)
        except sqlite3.Error as exc:
            raise _unreadable(self, exc) from None

    def _meta(self, key: str) -> str:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise _unreadable(self, exc) from None
        if row is None:
            raise LedgerError(f"{self.path} 缺少记录文件标识（meta 表中没有 {key}）")
        return str(row[0])

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
        with self.writing():
            self.db.execute(
                "INSERT OR IGNORE INTO rulesets VALUES (?, ?)", (text_sha, ruleset.text)
            )
            seq, prev = self.head()
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
            checkpoint = self.store_checkpoint(
                Checkpoint(self.ledger_id, seq, prev, when, batch=batch, first=entries[0].seq),
                signer,
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
        """The number of records and the hash of the last (``GENESIS`` when empty)."""
        last = "SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1"
        rows = [self.db.execute(last.format("entries")).fetchone()]
        if self.version >= 3:
            rows.append(self.db.execute(last.format("marks")).fetchone())
        found = max((r for r in rows if r is not None), default=None, key=lambda r: int(r[0]))
        return (int(found[0]), str(found[1])) if found else (0, GENESIS)

    def marks(self) -> list[Mark]:
        """The marks naming official batches, oldest first (none before version 3)."""
        if self.version < 3:
            return []
        rows = self.db.execute(f"SELECT {', '.join(_MARK_COLUMNS)} FROM marks ORDER BY seq")
        return [Mark(*row) for row in rows]

    def store_checkpoint(self, checkpoint: Checkpoint, signer: Signer | None) -> Checkpoint:
        """Sign ``checkpoint`` if ``signer``, store it (inside a write) and return it."""
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
        return checkpoint

    def ruleset_text(self, text_sha256: str) -> str | None:
        """The recorded ruleset text with this SHA-256, if stored."""
        row = self.db.execute(
            "SELECT text FROM rulesets WHERE text_sha256 = ?", (text_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    def verify(self) -> list[str]:
        """Check the hash chain (entries and marks), the stored ruleset texts, the marks'
        batches and the stored checkpoints; the problems in words.

        Without a checkpoint kept outside the file this cannot see records removed from the
        end together with their checkpoints, nor a chain rewritten with its hashes
        recomputed: see :meth:`check_checkpoint`.
        """
        return ledger_checks.verify(self)

    def check_checkpoint(self, checkpoint: Checkpoint, source: str) -> list[str]:
        """Whether the ledger still holds exactly the records ``checkpoint`` covers (see
        :func:`kpirules.ledger_checks.check_checkpoint`)."""
        return ledger_checks.check_checkpoint(self, checkpoint, source)

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """One write transaction; waits for another writer, saying so, up to ``wait``."""
        return _transaction(self)


@contextlib.contextmanager
def _transaction(self: Ledger) -> Iterator[None]:
    """One write transaction on ``self``; waits for another writer, saying so."""
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
                    f"本次{self.action}没有记入，请稍后重试"
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


def _unreadable(self: Ledger, exc: sqlite3.Error) -> LedgerError:
    journal = self.path.with_name(self.path.name + "-journal")
    if self.readonly and journal.is_file() and "readonly" in str(exc):
        # A writer died mid-commit; only a writable connection can roll its journal back.
        return LedgerError(
            f"{self.path} 旁有一次中断的写入留下的 {journal.name}，只读检查无法先把它回滚："
            f'请在可写的位置用 sqlite3 打开一次（sqlite3 {self.path} "PRAGMA integrity_check"）'
            f"再检查；不要删除 {journal.name}"
        )
    return LedgerError(f"{self.path} 不是可用的记录文件：{exc}")


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
