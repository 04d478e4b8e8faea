"""Excel workbooks (.xlsx) as metrics files, read exactly, every problem named by its cell.

The data is streamed (openpyxl's read-only mode). A number cell becomes the Decimal of its
shortest round-trip text (``Decimal(repr(x))``: what Excel shows, never arithmetic on the
binary float); a percent-formatted cell holding 0.95 is ``95%``; a text cell is read like a
CSV cell; a formula gives the result Excel saved with it; error values (``#DIV/0!``), a
formula saved without a result, dates where a number belongs and merged cells in the data
are refused, each naming its cell (``FILE!SHEET!B7``).
"""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from collections.abc import Generator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import attrs
from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.workbook.workbook import Workbook

from kpirules.errors import Problem
from kpirules.inputs import Cell, InputError, Locations, Record, SheetError, TableReader
from kpirules.model import Ruleset
from kpirules.quantity import format_decimal, format_percent

#: The first bytes of an OLE2 compound file: old .xls, or a password-protected workbook.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

NO_RESULT = "公式没有计算结果：在 Excel 中打开并保存一次"


def read_workbook(
    file: str, ruleset: Ruleset, sheet: str | None, locations: Locations
) -> list[Record]:
    """Read the metrics of one worksheet; raise :class:`InputError` or :class:`SheetError`."""
    values = _open(file)
    try:
        names = list(values.sheetnames)
        if sheet is not None and sheet not in names:
            listed = "、".join(names)
            raise SheetError(f"工作簿 {file} 中没有工作表 “{sheet}”（有：{listed}）")
        chosen = sheet if sheet is not None else _matching_sheet(file, ruleset, values)
        locations.sheet = chosen
        scan = _scan(file, values, chosen)
        table = TableReader(file, chosen, ruleset, locations)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return table.read(_rows(values, chosen, scan))
        except InputError:
            raise
        except Exception as exc:  # a sheet's XML that openpyxl cannot parse
            raise InputError(
                [
                    Problem(
                        file,
                        0,
                        0,
                        "$",
                        "error",
                        f"无法读取工作表 “{chosen}”：文件已损坏（{type(exc).__name__}）",
                        "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
                        code="KR548",
                    )
                ]
            ) from None
    finally:
        values.close()


def _open(file: str) -> Workbook:
    """The workbook, read-only, with the results saved with its formulas."""
    try:
        with Path(file).open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", f"无法读取文件：{exc.strerror}", code="KR502")]
        ) from None
    if head == _OLE:
        raise InputError(
            [
                Problem(
                    file,
                    0,
                    0,
                    "$",
                    "error",
                    "工作簿设有打开密码（已加密），或其实是旧版 .xls 文件，无法读取",
                    "在 Excel 中取消密码（文件 → 信息 → 保护工作簿），另存为“Excel 工作簿（*.xlsx）”",
                    code="KR545",
                )
            ]
        )
    if not zipfile.is_zipfile(file):
        raise InputError(
            [
                Problem(
                    file,
                    0,
                    0,
                    "$",
                    "error",
                    "不是有效的 Excel 工作簿（.xlsx）：文件已损坏，或是改了扩展名的其他文件",
                    "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
                    code="KR546",
                )
            ]
        )
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it does not read (styles, extensions).
            warnings.simplefilter("ignore")
            return load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl is an untyped boundary: any failure is a bad file
        raise InputError(
            [
                Problem(
                    file,
                    0,
                    0,
                    "$",
                    "error",
                    f"无法读取 Excel 工作簿：文件已损坏或不是 .xlsx（{type(exc).__name__}）",
                    "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
                    code="KR547",
                )
            ]
        ) from None


def _matching_sheet(file: str, ruleset: Ruleset, values: Workbook) -> str:
    """The first sheet whose header fits the ruleset; the first sheet when none does."""
    names = list(values.sheetnames)
    if not names:
        raise InputError([Problem(file, 0, 0, "$", "error", "工作簿中没有工作表", code="KR549")])
    for name in names:
        probe = TableReader(file, name, ruleset, Locations())
        rows = _rows(values, name, _Scan())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found = probe.find_header(rows)
            finally:
                rows.close()
        if found is not None and found[2].recognised():
            return name
    return names[0]


Range = tuple[int, int, int, int, str]


@attrs.frozen
class _Scan:
    """What openpyxl's read-only mode does not say about a sheet, read from its XML.

    ``merged``: the merged ranges as (first column, first row, last column, last row, ref);
    ``unsaved``: the (row, column) of each formula saved without a result.
    """

    merged: tuple[Range, ...] = ()
    unsaved: frozenset[tuple[int, int]] = frozenset()

    def merged_at(self, row: int, column: int) -> str | None:
        """The merged range a cell belongs to, when it is not the range's first cell."""
        for low_col, low_row, high_col, high_row, ref in self.merged:
            if low_row <= row <= high_row and low_col <= column <= high_col:
                return None if (row, column) == (low_row, low_col) else ref
        return None


def _rows(
    values: Workbook, sheet: str, scan: _Scan
) -> Generator[tuple[int, Sequence[Cell]], None, None]:
    """The rows of a sheet as cells, numbered from 1, streamed."""
    ws = values[sheet]
    if not hasattr(ws, "iter_rows"):
        return  # a chart sheet: no cells
    reset = getattr(ws, "reset_dimensions", None)
    if reset is not None:
        reset()  # some programs write a wrong <dimension>: read what is really there
    rows = ws.iter_rows()
    try:
        for number, row in enumerate(rows, start=1):
            yield number, [_cell(cell, number, i + 1, scan) for i, cell in enumerate(row)]
    finally:
        rows.close()  # close the sheet's XML stream also when only the first rows were read


def _cell(cell: Any, row: int, column: int, scan: _Scan) -> Cell:
    """One worksheet cell as a :class:`Cell`."""
    merged = scan.merged_at(row, column) if scan.merged else None
    value = getattr(cell, "value", None)
    kind = getattr(cell, "data_type", "n")
    if value is None:
        if (row, column) in scan.unsaved:
            return Cell(problem=NO_RESULT, merged=merged)
        return Cell(merged=merged)
    if kind == "e":
        return Cell(
            str(value), problem=f"单元格是错误值 {value}：修正公式或直接填写数值", merged=merged
        )
    if isinstance(value, bool):
        return Cell("是" if value else "否", "bool", merged=merged)
    if isinstance(value, int | float):
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        if not number.is_finite():
            return Cell(str(value), problem=f"单元格的值 {value} 不是有限的数值", merged=merged)
        if "%" in str(getattr(cell, "number_format", "")):
            return Cell(format_percent(number), "number", merged=merged)
        return Cell(format_decimal(number), "number", merged=merged)
    if isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
        return Cell(text, "date", merged=merged)
    if isinstance(value, dt.date | dt.time):
        return Cell(value.isoformat(), "date", merged=merged)
    if isinstance(value, dt.timedelta):
        return Cell(str(value), "date", merged=merged)
    return Cell(str(value), merged=merged)


def _scan(file: str, workbook: Workbook, sheet: str) -> _Scan:
    """Merged ranges and formulas without a saved result, from the sheet's XML as a stream."""
    path = getattr(workbook[sheet], "_worksheet_path", None)
    if not isinstance(path, str):
        return _Scan()
    merged: list[Range] = []
    unsaved: set[tuple[int, int]] = set()
    try:
        with zipfile.ZipFile(file) as archive, archive.open(path.lstrip("/")) as source:
            for _, element in ElementTree.iterparse(source):
                if element.tag == f"{_MAIN}c":
                    if element.find(f"{_MAIN}f") is not None and not element.findtext(f"{_MAIN}v"):
                        ref = element.get("r")
                        if ref:
                            unsaved.add(coordinate_to_tuple(ref))
                    element.clear()
                elif element.tag == f"{_MAIN}row":
                    element.clear()
                elif element.tag == f"{_MAIN}mergeCell":
                    ref = element.get("ref", "")
                    low_col, low_row, high_col, high_row = range_boundaries(ref)
                    if low_col and low_row and high_col and high_row:
                        merged.append((low_col, low_row, high_col, high_row, ref))
    except (KeyError, ValueError, TypeError, ElementTree.ParseError, zipfile.BadZipFile):
        return _Scan()
    return _Scan(tuple(merged), frozenset(unsaved))
