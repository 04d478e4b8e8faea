"""What ``kpirules verify`` checks in a ledger: the hash chain of its records (scorings and
official-batch marks), the stored ruleset texts, the marks' batches and the checkpoints,
and whether a checkpoint kept outside the file still matches."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import attrs

from kpirules.ledger_file import GENESIS, Checkpoint, Entry, Mark, entry_hash, mark_hash

if TYPE_CHECKING:
    from kpirules.ledger import Ledger


def records(ledger: Ledger) -> list[Entry | Mark]:
    """Every record (entries and marks) in the order of the chain."""
    found: list[Entry | Mark] = [*ledger.entries(), *ledger.marks()]
    return sorted(found, key=lambda r: r.seq)


def _entry_problems(ledger: Ledger, entry: Entry) -> list[str]:
    problems = []
    if entry_hash(attrs.asdict(entry)) != entry.hash:
        problems.append(f"第 {entry.seq} 条记录（{entry.entity}）的内容与其哈希不符：记录被改动过")
    text = ledger.ruleset_text(entry.text_sha256)
    if text is None:
        problems.append(f"第 {entry.seq} 条记录引用的规则集文本缺失")
    elif hashlib.sha256(text.encode("utf-8")).hexdigest() != entry.text_sha256:
        problems.append(f"第 {entry.seq} 条记录引用的规则集文本被改动过")
    return problems


def _mark_problems(mark: Mark, periods: dict[str, set[str]]) -> list[str]:
    what = f"第 {mark.seq} 条（正式批次标记）"
    if mark_hash(attrs.asdict(mark)) != mark.hash:
        return [f"{what}的内容与其哈希不符：标记被改动过"]
    if mark.batch not in periods:
        return [f"{what}指向的批次 {mark.batch} 不在它之前的记录中"]
    if periods[mark.batch] != {mark.period}:
        found = "、".join(sorted(periods[mark.batch])) or "（无期间）"
        return [f"{what}记的期间 {mark.period} 与该批次的期间 {found} 不符"]
    return []


def verify(ledger: Ledger) -> list[str]:
    """The problems of the chain, texts, marks and stored checkpoints, in words."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    hashes: dict[int, str] = {}
    periods: dict[str, set[str]] = {}
    for record in records(ledger):
        if record.seq != expected_seq:
            problems.append(f"第 {expected_seq} 条记录缺失（下一条是第 {record.seq} 条）")
            expected_seq = record.seq
        if record.prev_hash != prev:
            problems.append(
                f"第 {record.seq} 条记录的前一条哈希不符：链条在此断开（前面的记录被改动或删除）"
            )
        if isinstance(record, Entry):
            problems += _entry_problems(ledger, record)
            periods.setdefault(record.batch, set()).add(record.period)
        else:
            problems += _mark_problems(record, periods)
        hashes[record.seq] = record.hash
        prev = record.hash
        expected_seq += 1
    size = expected_seq - 1
    last = 0
    for cp in ledger.checkpoints():
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


def check_checkpoint(ledger: Ledger, checkpoint: Checkpoint, source: str) -> list[str]:
    """Whether the ledger still holds exactly the records ``checkpoint`` covers.

    Record ``size`` must exist with hash ``head``; together with an intact chain
    (:func:`verify`) this proves records 1 to ``size`` are the ones checkpointed.
    ``source`` names where the checkpoint came from, for the messages.
    """
    if checkpoint.ledger_id != ledger.ledger_id:
        return [
            f"{source} 属于另一个记录文件（{checkpoint.ledger_id}），"
            f"不是本文件（{ledger.ledger_id}）：本文件被替换或重建过"
        ]
    size, _ = ledger.head()
    if checkpoint.size > size:
        return [
            f"{source} 记到第 {checkpoint.size} 条，但记录只有 {size} 条："
            "末尾的记录被删除（记录被截短）"
        ]
    entry = next(ledger.entries(checkpoint.size), None)
    found = [entry] if entry else [m for m in ledger.marks() if m.seq == checkpoint.size]
    if not found:
        return [f"{source}：第 {checkpoint.size} 条记录缺失"]
    if found[0].hash != checkpoint.head:
        return [
            f"{source}：第 {checkpoint.size} 条记录的哈希与检查点不符"
            f"（检查点 {checkpoint.head[:16]}…，记录 {found[0].hash[:16]}…）："
            f"第 1–{checkpoint.size} 条中有记录被改写、删除或替换"
        ]
    return []
