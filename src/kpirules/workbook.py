"""Results as an Excel workbook (.xlsx) a director can open and hand on.

Sheets: **汇总** (a title block, then one row per entity sorted by rank), **各项得分**
(every indicator's score), **计分说明** (every explanation sentence), **图表** (totals,
grade distribution and score rate per indicator, with the small tables they draw from)
and **精确值** (the summary and item scores as exact decimal text, and each outcome amount
before the money rule rounded it).

Numbers are stored as numbers, already rounded by the ruleset's own rule (Excel's display
rounding is half-up and would differ for half_even or down), with the ruleset's places as
their display format (outcome amounts and money values as ``#,##0.00`` at the money
rule's places); the exact values are kept as text on the 精确值 sheet. Text cells are
always written as text and neutralised by :func:`kpirules.summary.neutralise`, so a name
such as ``=HYPERLINK(...)`` is never a formula.

The file is reproducible: its creation and modification times are the ``created``
argument (default :data:`FIXED_TIME`) and every part of the zip archive carries the same
fixed timestamp, so the same results give the same bytes.

The workbook is written with XlsxWriter, which writes each cell as XML text directly
(two to three times faster per cell than building openpyxl cells); openpyxl still reads
workbooks and writes the data-entry template.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from kpirules import summary
from kpirules._core.rounding import MODES
from kpirules.methods import rounded
from kpirules.model import Ruleset
from kpirules.report import Headers, width
from kpirules.result import Result, decimal_text

#: The creation and modification time written into a workbook when none is given.
FIXED_TIME = dt.datetime(2000, 1, 1)

# The earliest time a zip entry can carry; used for every part so the bytes do not change.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_WIDEST = 80
#: Pixels per character of column width (Excel's default font): a column of ``7 * n``
#: pixels is stored as ``n`` characters wide.
_PIXELS_PER_CHARACTER = 7
#: Places kept for a score rate (a share, shown as a percentage with two decimals).
_RATE_PLACES = 4
#: Characters XML 1.0 cannot hold (control characters other than tab, line feed and
#: carriage return).
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

#: The most rows an Excel worksheet holds.
MAX_ROWS = 1_048_576

Sheet = Any  # an xlsxwriter Worksheet (the library ships no type information)


def too_large(ruleset: Ruleset, results: Sequence[Result], *, notes: int = 0) -> str | None:
    """Why the results do not fit in a workbook (a sheet would need more than
    :data:`MAX_ROWS` rows), or None when they fit.

    The 计分说明 sheet has a header and one row per entity and indicator; the 汇总 sheet the
    title block (six lines, ``notes`` more, a blank line), a header and one row per entity.
    """
    indicators = len(ruleset.indicators())
    explained = 1 + len(results) * indicators
    if explained > MAX_ROWS:
        return (
            f"结果放不进 Excel 工作簿：一个工作表最多 {MAX_ROWS:,} 行，“计分说明”需要 "
            f"{explained:,} 行（{len(results):,} 个对象 × {indicators} 项指标，加表头）；"
            "请改用 --output 结果.csv"
        )
    ranked = 6 + notes + 1 + 1 + len(results)
    if ranked > MAX_ROWS:
        return (
            f"结果放不进 Excel 工作簿：一个工作表最多 {MAX_ROWS:,} 行，“汇总”需要 "
            f"{ranked:,} 行（{len(results):,} 个对象，加标题和表头）；请改用 --output 结果.csv"
        )
    return None


class _Formats:
    """The cell formats of one workbook, made once each."""

    def __init__(self, book: Any) -> None:
        self._book = book
        self._numbers: dict[str, Any] = {}
        self.header = book.add_format(
            {"bold": True, "pattern": 1, "bg_color": "#DDEBF7", "valign": "vcenter"}
        )
        self.title = book.add_format({"bold": True, "font_size": 14})

    def number(self, number_format: str) -> Any:
        """The format showing numbers as ``number_format`` (``0.00``, ``#,##0.00``, ``0``)."""
        if number_format not in self._numbers:
            self._numbers[number_format] = self._book.add_format({"num_format": number_format})
        return self._numbers[number_format]


def _clean(text: str, *, neutralise: bool = True) -> str:
    """``text`` as a text cell may hold it: neutralised unless it is the exact text of a
    number this writer made."""
    if neutralise:
        text = summary.neutralise(text)
    # Characters XML cannot hold are shown as U+FFFD. A carriage return would be read back
    # as a line feed (XML end-of-line handling): write it as one.
    return _ILLEGAL.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")


def _number_format(column: summary.Column) -> str:
    if column.places is None:
        return "General"
    decimals = "." + "0" * column.places if column.places > 0 else ""
    return ("#,##0" if column.money else "0") + decimals


def _number(value: Decimal | int) -> float | int:
    """A number as the workbook stores it: an int stays an int; a decimal becomes the
    nearest float, written back with its own digits (``15.93``) up to the 15 significant
    digits Excel keeps anyway; the exact value is on the 精确值 sheet."""
    return value if isinstance(value, int) else float(value)


def _put(
    ws: Sheet, row: int, col: int, column: summary.Column, value: summary.Cell, fmt: _Formats
) -> None:
    """One table cell: numbers rounded by the column's rule and stored as numbers, with the
    column's places as display format (money with thousands separators); text as
    neutralised text."""
    if value is None or value == "":
        return
    if isinstance(value, Decimal):
        shown = column.shown(value)
        assert isinstance(shown, Decimal)
        ws.write_number(row, col, _number(shown), fmt.number(_number_format(column)))
    elif isinstance(value, int):
        ws.write_number(row, col, value, fmt.number("0"))
    else:
        ws.write_string(row, col, _clean(value))


def _fit(ws: Sheet, texts: Sequence[Sequence[str]]) -> None:
    """Column widths that fit the widest text of each column (wide characters count 2,
    at most :data:`_WIDEST`)."""
    for j in range(max((len(row) for row in texts), default=0)):
        widest = 0
        for row in texts:
            if widest >= _WIDEST - 2:
                break  # the column is already as wide as it may be
            # A text is at most twice as wide as it is long: skip those that cannot be wider.
            if j < len(row) and 2 * len(row[j]) > widest:
                widest = max(widest, _width(row[j]))
        _set_width(ws, j, min(widest + 2, _WIDEST))


def _set_width(ws: Sheet, col: int, characters: int) -> None:
    # Given in pixels, the width is stored as exactly ``characters`` (given in characters,
    # XlsxWriter would add Excel's padding to it).
    ws.set_column_pixels(col, col, characters * _PIXELS_PER_CHARACTER)


def _width(text: str) -> int:
    # Most cells are numbers or ASCII: skip the per-character lookup for them.
    return len(text) if text.isascii() else width(text)


def _write_table(
    ws: Sheet, table: summary.Table, fmt: _Formats, *, row: int, ids: bool, freeze_column: int
) -> int:
    """Write ``table`` with its header at ``row`` (1-based); freeze the rows above the data
    and the first ``freeze_column - 1`` columns. Returns the header row."""
    heads = table.headers(ids=ids)
    for j, text in enumerate(heads):
        ws.write_string(row - 1, j, _clean(text), fmt.header)
    for i, cells in enumerate(table.rows, start=row):
        for j, (column, value) in enumerate(zip(table.columns, cells, strict=True)):
            _put(ws, i, j, column, value, fmt)
    ws.freeze_panes(row, freeze_column - 1)
    _fit(ws, [heads, *table.texts()])
    _printable(ws, header_row=row)
    return row


def _printable(ws: Sheet, *, header_row: int | None) -> None:
    """Print on A4 landscape, one page wide, the header row repeated on every page."""
    ws.set_paper(9)  # A4
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    if header_row is not None:
        ws.repeat_rows(header_row - 1)


def _title_block(
    ws: Sheet,
    fmt: _Formats,
    ruleset: Ruleset,
    results: Sequence[Result],
    period: str,
    notes: Sequence[str],
) -> int:
    """The lines above the summary; returns the number of rows used (blank row included)."""
    h = summary.heading(ruleset, results, period=period)
    lines = [
        h.title,
        f"考核期间：{h.period or '未注明'}",
        f"规则集：{h.ruleset_id}　版本 {h.version}",
        f"规则集指纹：{h.fingerprint}",
        f"取舍规则：{h.rounding}（表中数字是按此规则取舍后的值，精确值见“精确值”工作表）",
        f"考核对象：{h.entities} 个",
        *notes,
    ]
    for i, line in enumerate(lines):
        ws.write_string(i, 0, _clean(line), fmt.title if i == 0 else None)
    return len(lines) + 1


def _ref(sheet: str, first_row: int, col: int, last_row: int | None = None) -> str:
    """A chart's reference to cells of one column (1-based): ``='汇总'!$J$9:$J$12``, or
    ``='汇总'!J8`` for one cell (a series title)."""
    letter = xl_col_to_name(col - 1)
    if last_row is None:
        return f"='{sheet}'!{letter}{first_row}"
    return f"='{sheet}'!${letter}${first_row}:${letter}${last_row}"


def _chart(book: Any, kind: str, title: str, name: str, values: str, categories: str) -> Any:
    """A bar chart of one series, its categories text, without a legend, 18 × 9 cm."""
    chart = book.add_chart({"type": kind})
    chart.add_series({"name": name, "values": values, "categories": categories})
    chart.set_title({"name": title})
    chart.set_legend({"none": True})
    # 18 × 9 cm at 96 pixels per inch.
    chart.set_size({"width": 680, "height": 340})
    return chart


def _charts(
    book: Any,
    fmt: _Formats,
    ranking: summary.Table,
    header_row: int,
    ruleset: Ruleset,
    results: Sequence[Result],
) -> None:
    """The 图表 sheet: grade counts and score rates as small tables, and three bar charts."""
    ws = book.add_worksheet("图表")
    _printable(ws, header_row=None)
    last = header_row + len(ranking.rows)
    keys = [c.key for c in ranking.columns]
    total_col = keys.index("total") + 1
    entity_col = keys.index("entity") + 1
    totals = _chart(
        book,
        "column",
        "各对象总分",
        _ref("汇总", header_row, total_col),
        _ref("汇总", header_row + 1, total_col, last),
        _ref("汇总", header_row + 1, entity_col, last),
    )
    totals.set_y_axis({"name": "总分"})

    counts = summary.grade_counts(ruleset, results)
    ws.write_string(0, 0, "等级", fmt.header)
    ws.write_string(0, 1, "人数", fmt.header)
    for i, (grade, n) in enumerate(counts, start=1):
        ws.write_string(i, 0, _clean(grade))
        ws.write_number(i, 1, n, fmt.number("0"))
    grades = _chart(
        book,
        "column",
        "等级分布",
        _ref("图表", 1, 2),
        _ref("图表", 2, 2, 1 + len(counts)),
        _ref("图表", 2, 1, 1 + len(counts)),
    )
    grades.set_y_axis({"name": "人数"})

    rates = summary.attainment(ruleset, results)
    heads = ["指标", "类别", "满分", "达标", "未达标", "其他", "得分率", "得分率（精确值）"]
    for j, text in enumerate(heads, start=3):
        ws.write_string(0, j, text, fmt.header)
    mode = MODES[ruleset.rounding.mode]
    for i, a in enumerate(rates, start=1):
        ws.write_string(i, 3, _clean(a.label))
        ws.write_string(i, 4, _clean(a.category))
        ws.write_number(i, 5, _number(a.points))
        for j, n in ((6, a.met), (7, a.not_met), (8, a.other)):
            ws.write_number(i, j, n)
        rate = rounded(a.score_rate, Decimal(1).scaleb(-_RATE_PLACES), mode)
        ws.write_number(i, 9, _number(rate), fmt.number("0.00%"))
        ws.write_string(i, 10, decimal_text(a.score_rate))
    per_item = _chart(
        book,
        "bar",
        "各指标得分率",
        _ref("图表", 1, 10),
        _ref("图表", 2, 10, 1 + len(rates)),
        _ref("图表", 2, 4, 1 + len(rates)),
    )
    # In a bar chart the values run along the horizontal axis.
    per_item.set_x_axis({"num_format": "0%", "min": 0, "max": 1})

    texts = [["等级", "人数", "", *heads]]
    texts += [[g, str(n)] for g, n in counts]
    texts += [
        ["", "", "", a.label, a.category, "", "", "", "", "0.00%", decimal_text(a.score_rate)]
        for a in rates
    ]
    _fit(ws, texts)
    _set_width(ws, 2, 3)
    ws.freeze_panes(1, 0)
    anchor = xl_col_to_name(len(heads) + 4)
    for n, chart in enumerate((totals, grades, per_item)):
        ws.insert_chart(f"{anchor}{1 + 20 * n}", chart)


def _exact_sheet(
    book: Any,
    fmt: _Formats,
    ruleset: Ruleset,
    results: Sequence[Result],
    *,
    ids: bool,
    order: summary.Order,
) -> None:
    """The 精确值 sheet: the summary, every item score and each amount before rounding,
    with each number as exact text."""
    ws = book.add_worksheet("精确值")
    table = summary.ranking_with_items(ruleset, results, order=order)
    unrounded = summary.unrounded_amounts(ruleset, results, order=order)
    columns = table.columns + unrounded.columns
    heads = table.headers(ids=ids) + unrounded.headers(ids=ids)
    for j, text in enumerate(heads):
        ws.write_string(0, j, _clean(text), fmt.header)
    texts: list[list[str]] = [heads]
    for i, cells in enumerate((a + b for a, b in zip(table.rows, unrounded.rows, strict=True))):
        row: list[str] = []
        for j, (column, value) in enumerate(zip(columns, cells, strict=True)):
            if isinstance(value, int) and not isinstance(value, bool):
                ws.write_number(i + 1, j, value)
                row.append(str(value))
            elif value is not None:
                text = column.text(value, exact=True)
                ws.write_string(i + 1, j, _clean(text, neutralise=not isinstance(value, Decimal)))
                row.append(text)
            else:
                row.append("")
        texts.append(row)
    ws.freeze_panes(1, 2)
    _fit(ws, texts)


def to_xlsx(
    ruleset: Ruleset,
    results: Sequence[Result],
    *,
    period: str = "",
    notes: Sequence[str] = (),
    headers: Headers = "zh",
    order: summary.Order = "rank",
    created: dt.datetime | None = None,
) -> bytes:
    """The results as the bytes of an .xlsx workbook.

    Args:
        ruleset: the ruleset the results were scored with.
        results: the results, in input order (as ``evaluate_many`` gives them).
        period: the appraisal period shown in the title block ("" if not given).
        notes: extra lines for the title block of the 汇总 sheet (e.g. an audit
            checkpoint), one line each.
        headers: ``"zh"`` for Chinese column headers, ``"id"`` for the ruleset's ids.
        order: ``"rank"`` (default) or ``"input"`` for the rows of every table.
        created: the creation and modification time stored in the file; default
            :data:`FIXED_TIME`, so two runs give identical bytes.

    Returns:
        The workbook file's bytes.
    """
    ids = headers == "id"
    raw = io.BytesIO()
    book = xlsxwriter.Workbook(
        raw,
        {
            "in_memory": True,
            # Every value is written with an explicit type: never guess one from text.
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    fmt = _Formats(book)
    main = book.add_worksheet("汇总")
    ranking = summary.ranking(ruleset, results, order=order)
    header_row = _title_block(main, fmt, ruleset, results, period, notes) + 1
    _write_table(main, ranking, fmt, row=header_row, ids=ids, freeze_column=3)
    _write_table(
        book.add_worksheet("各项得分"),
        summary.item_scores(ruleset, results, order=order),
        fmt,
        row=1,
        ids=ids,
        freeze_column=3,
    )
    _write_table(
        book.add_worksheet("计分说明"),
        summary.explanations(ruleset, results, order=order),
        fmt,
        row=1,
        ids=ids,
        freeze_column=2,
    )
    _charts(book, fmt, ranking, header_row, ruleset, results)
    _exact_sheet(book, fmt, ruleset, results, ids=ids, order=order)
    book.set_properties(
        {"title": ruleset.title, "author": "kpirules", "created": created or FIXED_TIME}
    )
    book.close()
    return _saved(raw.getvalue())


def _saved(data: bytes) -> bytes:
    """The workbook's bytes with a fixed timestamp on every zip entry."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()
