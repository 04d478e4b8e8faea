"""Reading the rows of a table of cells (CSV or one worksheet) into checked records."""

from __future__ import annotations

import array
import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal

import attrs

from kpirules.cells import EMPTY, Cell, InputError, Locations, Record, TableRows
from kpirules.characters import ORDINARY_SPACE, entity_problem, refused_character
from kpirules.errors import Problem
from kpirules.headers import HeaderReader, Layout
from kpirules.model import Ruleset
from kpirules.quantity import QuantityError
from kpirules.values import RATING_SEPARATORS, Value, read_value

_DELETE_IT = "删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字"


def _row_key(entity: str, period: str) -> bytes:
    """What identifies a row (its entity and period) in 16 bytes, however long the id.

    A file of a million rows keeps one key per row to find duplicates: a 128-bit digest
    keeps that small, and two different rows share one with a chance of about 10⁻²⁷.
    """
    return hashlib.blake2b(
        f"{entity}\x00{period}".encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


class RowKeys:
    """The line of each row read so far, by its 16-byte key (:func:`_row_key`).

    Three flat arrays with open addressing: at most about 50 bytes a row, where a dict of
    bytes keys takes over 100 — a million rows are read in bounded memory.
    """

    def __init__(self) -> None:
        self._count = 0
        self._alloc(1 << 10)

    def _alloc(self, size: int) -> None:
        self._mask = size - 1
        self._hi = array.array("Q", bytes(8 * size))
        self._lo = array.array("Q", bytes(8 * size))
        self._line = array.array("q", bytes(8 * size))

    def _slot(self, hi: int, lo: int) -> int:
        i = hi & self._mask
        while self._line[i] and (self._hi[i] != hi or self._lo[i] != lo):
            i = (i + 1) & self._mask
        return i

    def get(self, key: bytes) -> int | None:
        """The line of the row with this key, or None."""
        i = self._slot(int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little"))
        return self._line[i] or None

    def add(self, key: bytes, line: int) -> None:
        """Note the row with this key at ``line`` (1 or more)."""
        if 2 * (self._count + 1) > len(self._line):
            # Rehash from the old arrays themselves: a list of their entries would cost
            # more than the table.
            old_hi, old_lo, old_line = self._hi, self._lo, self._line
            self._alloc(2 * len(old_line))
            for k, at in enumerate(old_line):
                if at:
                    i = self._slot(old_hi[k], old_lo[k])
                    self._hi[i], self._lo[i], self._line[i] = old_hi[k], old_lo[k], at
        hi, lo = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
        i = self._slot(hi, lo)
        if not self._line[i]:
            self._count += 1
        self._hi[i], self._lo[i], self._line[i] = hi, lo, line


@attrs.frozen
class RawRow:
    """A row of a text table whose values are read later: its line and its cells' text."""

    line: int
    texts: tuple[str, ...]


class TableReader(HeaderReader):
    """Reads a table of cells (CSV or one worksheet) into records, collecting every problem."""

    def __init__(
        self, file: str, sheet: str | None, ruleset: Ruleset, locations: Locations
    ) -> None:
        super().__init__(file, sheet, ruleset)
        self.locations = locations
        self.header_row = 1
        #: Leave the values of each row unread (:meth:`parse` reads them, maybe elsewhere):
        #: the record's values are then empty and ``deferred`` holds the row's cells.
        self.defer = False
        self.deferred: RawRow | None = None
        self.header: list[str] = []
        self.layout_found: Layout | None = None

    def read(self, rows: TableRows, *, width_checked: bool = False) -> list[Record]:
        """Records of the table; ``width_checked`` compares each row's length with the header's."""
        out: list[Record] = []
        whole = self.locations
        for record, place in self.placed(rows, width_checked=width_checked):
            whole.rows.update(place.rows)
            whole.cells.update(place.cells)
            out.append(record)
        self.locations = whole
        self.finish(bool(out))
        return out

    def placed(
        self, rows: TableRows, *, width_checked: bool = False
    ) -> Iterator[tuple[Record, Locations]]:
        """Each record with where its entity and values sit, as the rows are read.

        Problems gather in ``problems``; call :meth:`finish` once the rows are exhausted.
        """
        iterator = iter(rows)
        found = self.find_header(iterator)
        if found is None:
            raise InputError(self.problems or [self.problem(1, 1, "$", "文件为空", code="KR522")])
        header_row, header, layout, pending = found
        self.header, self.layout_found = header, layout
        self.locations.header = header_row
        self.header_row = header_row
        self.problems.extend(layout.problems)
        for i, name in enumerate(header):
            hidden = refused_character(name)
            if hidden is not None:
                self.problems.append(
                    self.problem(
                        header_row, i + 1, f"第{i + 1}列", f"列名{hidden}", _DELETE_IT, code="KR523"
                    )
                )
        seen = RowKeys()
        outer = self.locations
        for number, cells in itertools.chain(pending, iterator):
            self.locations = Locations(sheet=outer.sheet, header=header_row)
            record = self.record(number, cells, header, layout, seen, width_checked)
            if record is not None:
                yield record, self.locations
        self.locations = outer

    def finish(self, any_rows: bool) -> None:
        """Raise :class:`InputError` with every problem found, or for a table without data."""
        if self.problems:
            raise InputError(self.problems)
        if not any_rows:
            raise InputError(
                [self.problem(self.header_row + 1, 1, "$", "文件中没有数据行", code="KR524")]
            )

    def record(
        self,
        line: int,
        cells: Sequence[Cell],
        header: list[str],
        layout: Layout,
        seen: RowKeys,
        width_checked: bool,
    ) -> Record | None:
        """One data row as a record; None (with its problems noted) when it cannot be one."""
        if not any(c.text.strip() or c.problem for c in cells):
            return None
        if not self._shape_ok(line, cells, header, layout, width_checked):
            return None
        return self._entity_record(line, cells, header, layout, seen)

    def _shape_ok(
        self,
        line: int,
        cells: Sequence[Cell],
        header: list[str],
        layout: Layout,
        width_checked: bool,
    ) -> bool:
        """Whether the row has no data outside named columns and as many cells as the header."""
        for i, c in enumerate(cells):
            beyond = i >= len(header) and not width_checked
            if (i in layout.blank or beyond) and (c.text.strip() or c.problem):
                self.problems.append(
                    self.problem(
                        line,
                        i + 1,
                        f"第{i + 1}列",
                        "这一列没有列名，却有数据",
                        "给这一列写上列名，或删除它",
                        code="KR525",
                    )
                )
        if width_checked and len(cells) != len(header):
            self.problems.append(
                self.problem(
                    line,
                    1,
                    "$",
                    f"这一行有 {len(cells)} 列，表头有 {len(header)} 列",
                    "检查是否多了或少了逗号",
                    code="KR526",
                )
            )
            return False
        return layout.entity is not None

    def _entity_record(
        self,
        line: int,
        cells: Sequence[Cell],
        header: list[str],
        layout: Layout,
        seen: RowKeys,
    ) -> Record | None:
        """The row's entity, period and values, once its id is checked and not seen before."""
        assert layout.entity is not None

        def at(i: int) -> Cell:
            return cells[i] if i < len(cells) else EMPTY

        refused = [
            (i, found)
            for i, c in enumerate(cells)
            if (found := refused_character(c.text.strip(ORDINARY_SPACE))) is not None
        ]
        for i, found in refused:
            what = "编号" if i == layout.entity else "单元格"
            field = header[i] if i < len(header) else f"第{i + 1}列"
            self.problems.append(
                self.problem(line, i + 1, field, f"{what}{found}", _DELETE_IT, code="KR527")
            )
        if refused:
            return None
        col = layout.entity
        name = header[col]
        entity_cell = at(col)
        entity = entity_cell.text.strip()
        if entity_cell.problem:
            self.problems.append(
                self.problem(line, col + 1, name, entity_cell.problem, code="KR528")
            )
            return None
        if not entity:
            if entity_cell.merged:
                message = f"编号单元格属于合并区域 {entity_cell.merged}：每个对象占一行"
                hint = "取消合并，并在每一行填写编号"
                self.problems.append(self.problem(line, col + 1, name, message, hint, code="KR529"))
            else:
                self.problems.append(self.problem(line, col + 1, name, "编号为空", code="KR530"))
            return None
        wrong = entity_problem(entity)
        if wrong is not None:
            self.problems.append(self.problem(line, col + 1, name, wrong, code="KR531"))
            return None
        period = ""
        if layout.period is not None:
            pcell = at(layout.period)
            period = pcell.text.strip()
            if pcell.kind == "date" and re.fullmatch(r"\d{4}-\d{2}-01", period):
                period = period[:7]  # Excel turns a typed 2026-03 into the date 2026-03-01
        key = _row_key(entity, period)
        first = seen.get(key)
        if first is not None:
            what = f"编号 “{entity}”" + (f" 在期间 {period}" if period else "")
            self.problems.append(
                self.problem(
                    line, col + 1, name, f"{what} 重复（第 {first} 行已出现）", code="KR532"
                )
            )
            return None
        seen.add(key, line)
        self.locations.rows.setdefault(entity, line)
        if self.defer:
            self.deferred = RawRow(line, tuple(c.text for c in cells))
            return entity, period, {}
        return entity, period, self._values(line, cells, header, layout, entity)

    def _values(
        self, line: int, cells: Sequence[Cell], header: list[str], layout: Layout, entity: str
    ) -> dict[str, Value]:
        """The values of one row's metric columns; each wrong cell is a problem."""

        def at(i: int) -> Cell:
            return cells[i] if i < len(cells) else EMPTY

        values: dict[str, Value] = {}
        for i, mid in layout.single.items():
            self.locations.cells.setdefault((entity, mid), (line, i + 1))
            value = self.value(line, i, header[i], at(i), mid)
            if value is not None:
                values[mid] = value
        by_metric: dict[str, list[int]] = {}
        for i, mid in layout.raters.items():
            by_metric.setdefault(mid, []).append(i)
        for mid, cols in by_metric.items():
            self.locations.cells.setdefault((entity, mid), (line, cols[0] + 1))
            ratings: list[Decimal] = []
            good = True
            for i in cols:
                if any(sep in at(i).text for sep in RATING_SEPARATORS):
                    good = False
                    self.problems.append(
                        self.problem(
                            line, i + 1, header[i], "评委列每格只填一位评委的一个评分", code="KR533"
                        )
                    )
                    continue
                value = self.value(line, i, header[i], at(i), mid)
                if isinstance(value, Decimal):
                    ratings.append(value)
                elif value is not None:
                    good = False
                    self.problems.append(
                        self.problem(
                            line, i + 1, header[i], "评委列每格只填一位评委的一个评分", code="KR533"
                        )
                    )
                elif at(i).text.strip() or at(i).problem:
                    good = False
            if not ratings or not good:
                continue
            try:
                values[mid] = read_value(self.ruleset.metric(mid), tuple(ratings))
            except QuantityError as exc:
                self.problems.append(
                    self.problem(line, cols[0] + 1, header[cols[0]], str(exc), code="KR534")
                )
        return values

    def parse(
        self, raw: RawRow, entity: str, header: list[str], layout: Layout
    ) -> tuple[dict[str, Value], dict[tuple[str, str], tuple[int, int]], list[Problem]]:
        """Read the values of a deferred text row: the values, where each sits, the problems."""
        self.problems = []
        self.locations = Locations()
        values = self._values(raw.line, [Cell(t) for t in raw.texts], header, layout, entity)
        return values, self.locations.cells, self.problems

    def value(self, line: int, i: int, name: str, cell: Cell, mid: str) -> Value | None:
        """The value of one cell, or None when it is empty or wrong (the problem is recorded)."""
        metric = self.ruleset.metric(mid)
        message: str | None = cell.problem
        if message is None and cell.merged:
            message = f"单元格属于合并区域 {cell.merged}：每格只填一个值"
        text = cell.text.strip()
        if message is None and not text:
            return None
        if message is None and cell.kind == "bool" and metric.unit != "yes_no":
            message = f"指标 “{metric.label}” 要填数值，单元格却是逻辑值 {'TRUE' if text == '是' else 'FALSE'}"
        if message is None and cell.kind == "date":
            message = f"指标 “{metric.label}” 要填数值，单元格却是日期 {text}"
            suggestion: str | None = "把单元格格式设为“常规”或“数值”后重新填写"
        else:
            suggestion = None
        if message is None:
            try:
                return read_value(metric, text)
            except QuantityError as exc:
                message = str(exc)
        self.problems.append(self.problem(line, i + 1, name, message, suggestion, code="KR534"))
        return None
