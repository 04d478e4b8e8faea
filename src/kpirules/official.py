"""Official batches: which of the runs recorded for a period is the one in force.

A period may be scored several times (a correction, a rerun with late data). Marking one
batch official (``kpirules official LEDGER --batch N``) appends a :class:`Mark` to the
ledger's hash chain, ending in a checkpoint like every batch, so the mark cannot be changed
or removed unseen. The other batches of that period are then superseded (已被取代).
Batches are numbered 1, 2, … in the order they were recorded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from kpirules.ledger_file import (
    _COLUMNS,
    _MARKS_SCHEMA,
    SCHEMA_VERSION,
    Checkpoint,
    Entry,
    LedgerError,
    Mark,
    Signer,
    _whoami,
    mark_hash,
)

if TYPE_CHECKING:
    from kpirules.ledger import Ledger

#: The status words ``history`` shows for a batch.
OFFICIAL = "正式"
SUPERSEDED = "已被取代"


class OfficialError(LedgerError):
    """A batch cannot be marked official; ``code`` says why (KR7xx)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen
class Batch:
    """One recorded batch: number ``number`` (from 1), entries ``first``–``last``."""

    number: int
    batch: str
    period: str
    first: int
    last: int
    count: int
    recorded_at: str


@attrs.frozen
class OfficialBatch:
    """The official batch of a period: the batch, the mark naming it, and its entries."""

    period: str
    batch: Batch
    mark: Mark
    entries: tuple[Entry, ...]


def batches(ledger: Ledger) -> list[Batch]:
    """The recorded batches in the order they were recorded."""
    rows = ledger.db.execute(
        "SELECT batch, min(period), min(seq), max(seq), count(*), min(recorded_at) "
        "FROM entries GROUP BY batch ORDER BY min(seq)"
    ).fetchall()
    return [Batch(n, *row) for n, row in enumerate(rows, start=1)]


def current_marks(ledger: Ledger) -> dict[str, Mark]:
    """The mark in force for each period that has one (the latest mark of that period)."""
    return {mark.period: mark for mark in ledger.marks()}


def statuses(ledger: Ledger) -> dict[str, str]:
    """Each batch's status: ``正式``, ``已被取代`` (another batch of its period is official)
    or empty (its period has no official batch)."""
    marks = current_marks(ledger)
    found = {}
    for batch in batches(ledger):
        mark = marks.get(batch.period)
        if mark is not None:
            found[batch.batch] = OFFICIAL if mark.batch == batch.batch else SUPERSEDED
    return found


def _chosen(ledger: Ledger, number: int, period: str | None) -> Batch:
    """Batch ``number``, checked to be markable for ``period``."""
    known = batches(ledger)
    if not 1 <= number <= len(known):
        raise OfficialError(
            "KR701",
            f"{ledger.path}: 记录中没有第 {number} 批（共 {len(known)} 批）："
            f"用 kpirules history {ledger.path} 查看批次号",
        )
    batch = known[number - 1]
    if not batch.period:
        raise OfficialError(
            "KR702",
            f"{ledger.path}: 第 {number} 批计分时没有给期间，不能标为某一期间的正式批次："
            "请加 --period 重新计分并记入（--record），再标记新的批次",
        )
    if period is not None and period != batch.period:
        raise OfficialError(
            "KR703",
            f"{ledger.path}: 第 {number} 批是 {batch.period} 期间的计分，不是 {period} 期间的："
            f"检查批次号，或把 --period 改为 {batch.period}",
        )
    return batch


def _check_replacing(ledger: Ledger, batch: Batch, replace: bool, note: str) -> None:
    mark = current_marks(ledger).get(batch.period)
    if mark is None:
        return
    numbers = {b.batch: b.number for b in batches(ledger)}
    if mark.batch == batch.batch:
        raise OfficialError(
            "KR704",
            f"{ledger.path}: 第 {batch.number} 批已是 {batch.period} 期间的正式批次"
            f"（第 {mark.seq} 条记录，{mark.marked_at}），不需要再标记",
        )
    if not replace:
        raise OfficialError(
            "KR705",
            f"{ledger.path}: {batch.period} 期间的正式批次已是第 {numbers[mark.batch]} 批"
            f"（第 {mark.seq} 条记录）：确要改用第 {batch.number} 批时，"
            "加 --replace 并用 --note 写明原因",
        )
    if not note.strip():
        raise OfficialError(
            "KR706",
            f"{ledger.path}: 改用第 {batch.number} 批为 {batch.period} 期间的正式批次时，"
            "要用 --note 写明原因（如 --note 补报数据后重算）",
        )


def _upgrade(ledger: Ledger) -> None:
    """Bring a version-2 ledger to version 3 (adds the marks table), inside a write."""
    if ledger.version < 3:
        for statement in _MARKS_SCHEMA:
            ledger.db.execute(statement)
        ledger.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        ledger.version = SCHEMA_VERSION


def mark_official(
    ledger: Ledger,
    number: int,
    *,
    note: str = "",
    period: str | None = None,
    replace: bool = False,
    user: str | None = None,
    signer: Signer | None = None,
) -> tuple[Mark, Checkpoint]:
    """Mark batch ``number`` the official batch of its period, in the hash chain.

    ``period``, when given, must be the batch's period. A period that already has an
    official batch keeps it unless ``replace`` (with a ``note`` saying why). A ledger of
    version 2 gains the marks table (version 3) in the same transaction.

    Returns the mark and the checkpoint that ends it.

    Raises:
        OfficialError: the batch does not exist, has another period or none, is already
            official, or its period has another official batch (codes KR701–KR706).
    """
    ledger.action = "标记"
    with ledger.writing():
        batch = _chosen(ledger, number, period)
        _check_replacing(ledger, batch, replace, note)
        _upgrade(ledger)
        size, prev = ledger.head()
        fields: dict[str, Any] = {
            "seq": size + 1,
            "marked_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "user": user or _whoami(),
            "period": batch.period,
            "batch": batch.batch,
            "note": note,
            "prev_hash": prev,
        }
        mark = Mark(**fields, hash=mark_hash(fields))
        columns = _COLUMNS["marks"]
        ledger.db.execute(
            f"INSERT INTO marks ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            attrs.astuple(mark),
        )
        checkpoint = ledger.store_checkpoint(
            Checkpoint(ledger.ledger_id, mark.seq, mark.hash, mark.marked_at, first=mark.seq),
            signer,
        )
    return mark, checkpoint


def official_batch(source: Ledger | str | Path, period: str) -> OfficialBatch | None:
    """The official batch of ``period`` with its entries, or None when none is marked.

    ``source`` is an open ledger or the path of one (opened read-only).
    """
    if isinstance(source, str | Path):
        from kpirules.ledger import Ledger  # the ledger module re-exports this one

        with Ledger.open_readonly(source) as ledger:
            return official_batch(ledger, period)
    mark = current_marks(source).get(period)
    if mark is None:
        return None
    batch = next((b for b in batches(source) if b.batch == mark.batch), None)
    if batch is None:  # only a tampered ledger has a mark without its batch; verify says so
        return None
    entries = source.db.execute(
        "SELECT seq FROM entries WHERE batch = ? ORDER BY position", (mark.batch,)
    ).fetchall()
    chosen = tuple(e for (seq,) in entries for e in source.entries(seq))
    return OfficialBatch(period, batch, mark, chosen)
