"""What ``kpirules history`` shows: the recorded scorings as a table with Chinese headers
(or JSON for programs), times in a chosen time zone, each batch's number and whether it is
the official batch of its period (正式) or superseded by it (已被取代), then the marks."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

import attrs

from kpirules.ledger import Ledger, Mark
from kpirules.official import OFFICIAL, SUPERSEDED, batches, statuses
from kpirules.report import width

HEADERS = ("序号", "时间", "批次", "期间", "对象", "规则集", "总分", "等级", "状态", "操作人")
MARK_HEADERS = ("序号", "时间", "期间", "正式批次", "操作人", "说明")
_STATUS_IDS = {OFFICIAL: "official", SUPERSEDED: "superseded", "": ""}


class ZoneError(ValueError):
    """The time zone given is not one this system knows."""


def parse_zone(name: str | None) -> dt.tzinfo:
    """The zone called ``name`` (an IANA name such as ``Asia/Shanghai``); None: this computer's.

    Raises:
        ZoneError: the name is unknown (on Windows, also when ``tzdata`` is missing).
    """
    if name is None:
        local = dt.datetime.now().astimezone().tzinfo
        return local if local is not None else dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ZoneError(
            f"不认识时区 {name}：写成 Asia/Shanghai、UTC 这样的时区名"
            "（Windows 上需要 tzdata 包：pip install tzdata）"
        ) from None


def local_time(recorded: str, zone: dt.tzinfo) -> str:
    """A recorded UTC time in ``zone``, as ``2026-12-01 16:11:13 +08:00``."""
    when = dt.datetime.fromisoformat(recorded).astimezone(zone)
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{when:%Y-%m-%d %H:%M:%S} {sign}{hours:02d}:{rest:02d}"


@attrs.frozen
class Row:
    """One recorded scoring as ``history`` shows it."""

    seq: int
    recorded_at: str
    time: str
    batch: int
    batch_id: str
    period: str
    entity: str
    ruleset_id: str
    ruleset_version: str
    total: str
    grade: str
    status: str
    user: str

    def cells(self) -> tuple[str, ...]:
        """The table's cells, ``—`` where there is nothing."""
        return (
            str(self.seq),
            self.time,
            str(self.batch),
            self.period or "—",
            self.entity,
            f"{self.ruleset_id} {self.ruleset_version}",
            self.total,
            self.grade or "—",
            self.status or "—",
            self.user,
        )


@attrs.frozen
class Listing:
    """The rows and marks chosen by the filters."""

    rows: tuple[Row, ...]
    marks: tuple[tuple[Mark, int], ...]
    total: int


def listing(
    ledger: Ledger,
    zone: dt.tzinfo,
    *,
    period: str | None = None,
    entity: str | None = None,
    ruleset: str | None = None,
) -> Listing:
    """The entries (and marks) matching every filter given; ``ruleset`` matches the id."""
    numbers = {b.batch: b.number for b in batches(ledger)}
    status = statuses(ledger)
    rows = []
    total = 0
    for e in ledger.entries():
        total += 1
        if (period is not None and e.period != period) or (
            entity is not None and e.entity != entity
        ):
            continue
        if ruleset is not None and e.ruleset_id != ruleset:
            continue
        rows.append(
            Row(
                e.seq,
                e.recorded_at,
                local_time(e.recorded_at, zone),
                numbers[e.batch],
                e.batch,
                e.period,
                e.entity,
                e.ruleset_id,
                e.ruleset_version,
                e.total,
                e.grade,
                status.get(e.batch, ""),
                e.user,
            )
        )
    marks = tuple(
        (m, numbers.get(m.batch, 0)) for m in ledger.marks() if period is None or m.period == period
    )
    return Listing(tuple(rows), marks, total)


def _table(headers: tuple[str, ...], lines: list[tuple[str, ...]]) -> list[str]:
    sizes = [max(width(cells[i]) for cells in (headers, *lines)) for i in range(len(headers))]
    out = []
    for cells in (headers, *lines):
        padded = [c + " " * (sizes[i] - width(c)) for i, c in enumerate(cells[:-1])]
        out.append("  ".join([*padded, cells[-1]]))
    return out


def as_table(found: Listing, zone: dt.tzinfo) -> str:
    """The listing as aligned columns with Chinese headers, then the marks, if any."""
    if not found.rows:
        lines = [f"没有符合条件的记录（记录中共 {found.total} 条计分）"]
    else:
        lines = _table(HEADERS, [r.cells() for r in found.rows])
    if found.marks:
        lines += ["", "正式批次标记："]
        lines += _table(
            MARK_HEADERS,
            [
                (
                    str(m.seq),
                    local_time(m.marked_at, zone),
                    m.period,
                    f"第 {number} 批",
                    m.user,
                    m.note or "—",
                )
                for m, number in found.marks
            ],
        )
    return "\n".join(lines) + "\n"


def as_json(found: Listing, zone: dt.tzinfo) -> str:
    """The listing as JSON: ``entries`` and ``marks``, totals as exact text, times as
    recorded (UTC) and in ``zone``; ``status`` is ``official``, ``superseded`` or ``""``."""
    data: dict[str, Any] = {
        "time_zone": str(zone),
        "entries": [
            {
                **{k: v for k, v in attrs.asdict(r).items() if k != "status"},
                "status": _STATUS_IDS[r.status],
            }
            for r in found.rows
        ],
        "marks": [
            {
                "seq": m.seq,
                "marked_at": m.marked_at,
                "time": local_time(m.marked_at, zone),
                "period": m.period,
                "batch": number,
                "batch_id": m.batch,
                "user": m.user,
                "note": m.note,
            }
            for m, number in found.marks
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
