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

Every sheet is write-only: rows stream out as they are made, column widths and frozen
panes are set before the first row.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.dimensions import ColumnDimension, DimensionHolder
from openpyxl.writer.excel import ExcelWriter

from kpirules import summary
from kpirules.methods import rounded
from kpirules.model import Ruleset
from kpirules.report import Headers, width
from kpirules.result import Result, decimal_text

#: The creation and modification time written into a workbook when none is given.
FIXED_TIME = dt.datetime(2000, 1, 1)

# The earliest time a zip entry can carry; used for every part so the bytes do not change.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_WIDEST = 80
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_ALIGNMENT = Alignment(vertical="center")
_TITLE_FONT = Font(bold=True, size=14)
_SHEETS = ("汇总", "各项得分", "计分说明", "图表", "精确值")
#: Places kept for a score rate (a share, shown as a percentage with two decimals).
_RATE_PLACES = 4


Value = str | int | Decimal | XlCell | None


def _clean(text: str, *, neutralise: bool = True) -> str:
    """``text`` as a text cell may hold it: neutralised unless it is the exact text of a
    number this writer made."""
    if neutralise:
        text = summary.neutralise(text)
    # Characters XML cannot hold would make openpyxl raise; show them as U+FFFD instead.
    # A carriage return would be read back as a line feed (XML end-of-line handling): write
    # it as one.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")


def _text(ws: WriteOnlyWorksheet, text: str, *, neutralise: bool = True) -> Value:
    """A text cell, never a formula: a plain string (which openpyxl stores as text) unless
    it starts with ``=``, then a cell marked as text."""
    text = _clean(text, neutralise=neutralise)
    if not text.startswith("="):
        return text
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    return cell


def _number_format(column: summary.Column) -> str:
    if column.places is None:
        return "General"
    decimals = "." + "0" * column.places if column.places > 0 else ""
    return ("#,##0" if column.money else "0") + decimals


def _styled(ws: WriteOnlyWorksheet, value: int | Decimal, number_format: str) -> XlCell:
    cell = WriteOnlyCell(ws)
    cell.value = value
    cell.number_format = number_format
    return cell


def _put(ws: WriteOnlyWorksheet, column: summary.Column, value: summary.Cell) -> Value:
    """One table cell: numbers rounded by the column's rule and stored as numbers, with the
    column's places as display format (money with thousands separators); text as
    neutralised text."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        shown = column.shown(value)
        assert isinstance(shown, Decimal)
        return _styled(ws, shown, _number_format(column))
    if isinstance(value, int):
        return _styled(ws, value, "0")
    return _text(ws, value)


def _header(ws: WriteOnlyWorksheet, text: str) -> XlCell:
    cell = WriteOnlyCell(ws, value=_clean(text))
    cell.data_type = "s"
    cell.font = _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = _HEADER_ALIGNMENT
    return cell


def _fit(ws: WriteOnlyWorksheet, texts: Sequence[Sequence[str]]) -> None:
    """Column widths that fit the widest text of each column (wide characters count 2,
    at most :data:`_WIDEST`).

    A write-only sheet writes its column widths before its first row: call this first."""
    for j in range(max((len(row) for row in texts), default=0)):
        widest = 0
        for row in texts:
            if widest >= _WIDEST - 2:
                break  # the column is already as wide as it may be
            # A text is at most twice as wide as it is long: skip those that cannot be wider.
            if j < len(row) and 2 * len(row[j]) > widest:
                widest = max(widest, _width(row[j]))
        _dimensions(ws)[get_column_letter(j + 1)].width = min(widest + 2, _WIDEST)


def _dimensions(ws: WriteOnlyWorksheet) -> DimensionHolder[str, ColumnDimension]:
    """The column widths of a write-only sheet (set up as on a Worksheet; the stubs omit them)."""
    holder: DimensionHolder[str, ColumnDimension] = ws.column_dimensions  # type: ignore[attr-defined]
    return holder


def _width(text: str) -> int:
    # Most cells are numbers or ASCII: skip the per-character lookup for them.
    return len(text) if text.isascii() else width(text)


def _freeze(ws: WriteOnlyWorksheet, row: int, column: int) -> None:
    """Keep the rows above ``row`` and the columns left of ``column`` in view."""
    ws.freeze_panes = f"{get_column_letter(column)}{row}"


def _write_table(
    ws: WriteOnlyWorksheet,
    table: summary.Table,
    *,
    ids: bool,
    freeze_column: int,
    above: Sequence[Sequence[Value]] = (),
) -> int:
    """Write the rows ``above``, then ``table`` with its header; freeze the rows above the
    data and the first ``freeze_column - 1`` columns. Returns the header row."""
    heads = table.headers(ids=ids)
    row = len(above) + 1
    _freeze(ws, row + 1, freeze_column)
    _fit(ws, [heads, *table.texts()])
    for line in above:
        ws.append(list(line))
    ws.append([_header(ws, text) for text in heads])
    for cells in table.rows:
        ws.append(
            [_put(ws, column, value) for column, value in zip(table.columns, cells, strict=True)]
        )
    return row


def _title_block(
    ws: WriteOnlyWorksheet,
    ruleset: Ruleset,
    results: Sequence[Result],
    period: str,
    notes: Sequence[str],
) -> list[list[Value]]:
    """The rows above the summary, the last one blank."""
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
    title = WriteOnlyCell(ws, value=_clean(lines[0]))
    title.data_type = "s"
    title.font = _TITLE_FONT
    return [[title], *[[_text(ws, line)] for line in lines[1:]], []]


def _charts(
    wb: Workbook,
    main: WriteOnlyWorksheet,
    ranking: summary.Table,
    header_row: int,
    ruleset: Ruleset,
    results: Sequence[Result],
) -> None:
    """The 图表 sheet: grade counts and score rates as small tables, and three bar charts."""
    ws = wb.create_sheet("图表")
    assert isinstance(ws, WriteOnlyWorksheet)
    last = header_row + len(ranking.rows)
    keys = [c.key for c in ranking.columns]
    total_col = keys.index("total") + 1
    entity_col = keys.index("entity") + 1

    totals = BarChart()
    totals.title = "各对象总分"
    totals.y_axis.title = "总分"
    totals.add_data(
        Reference(main, min_col=total_col, min_row=header_row, max_row=last), titles_from_data=True
    )
    totals.set_categories(Reference(main, min_col=entity_col, min_row=header_row + 1, max_row=last))

    counts = summary.grade_counts(ruleset, results)
    grades = BarChart()
    grades.title = "等级分布"
    grades.y_axis.title = "人数"
    grades.add_data(
        Reference(ws, min_col=2, min_row=1, max_row=1 + len(counts)), titles_from_data=True
    )
    grades.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + len(counts)))

    rates = summary.attainment(ruleset, results)
    heads = ["指标", "类别", "满分", "达标", "未达标", "其他", "得分率", "得分率（精确值）"]
    per_item = BarChart()
    per_item.type = "bar"
    per_item.title = "各指标得分率"
    per_item.y_axis.number_format = "0%"
    per_item.y_axis.scaling.min = 0
    per_item.y_axis.scaling.max = 1
    per_item.add_data(
        Reference(ws, min_col=10, min_row=1, max_row=1 + len(rates)), titles_from_data=True
    )
    per_item.set_categories(Reference(ws, min_col=4, min_row=2, max_row=1 + len(rates)))

    texts = [["等级", "人数", "", *heads]]
    texts += [[g, str(n)] for g, n in counts]
    texts += [
        ["", "", "", a.label, a.category, "", "", "", "", "0.00%", decimal_text(a.score_rate)]
        for a in rates
    ]
    _fit(ws, texts)
    _dimensions(ws)["C"].width = 3
    _freeze(ws, 2, 1)

    ws.append([_header(ws, "等级"), _header(ws, "人数"), None, *[_header(ws, h) for h in heads]])
    mode = summary.MODES[ruleset.rounding.mode]
    for i in range(max(len(counts), len(rates))):
        line: list[Value] = [None] * 11
        if i < len(counts):
            grade, n = counts[i]
            line[0:2] = [_text(ws, grade), _styled(ws, n, "0")]
        if i < len(rates):
            a = rates[i]
            rate = rounded(a.score_rate, Decimal(1).scaleb(-_RATE_PLACES), mode)
            line[3:11] = [
                _text(ws, a.label),
                _text(ws, a.category),
                a.points,
                a.met,
                a.not_met,
                a.other,
                _styled(ws, rate, "0.00%"),
                _text(ws, decimal_text(a.score_rate), neutralise=False),
            ]
        ws.append(line)

    anchor = get_column_letter(len(heads) + 5)
    for n, chart in enumerate((totals, grades, per_item)):
        for series in chart.series:
            # set_categories() refers to the labels as numbers; they are text (names, grades).
            assert series.cat is not None and series.cat.numRef is not None
            series.cat = AxDataSource(strRef=StrRef(f=series.cat.numRef.f))
        # openpyxl leaves axes to the reader's default, which recent Excel hides.
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.legend = None
        chart.width, chart.height = 18, 9
        # The stubs type add_chart for a Worksheet only; a write-only sheet shares it.
        ws.add_chart(chart, f"{anchor}{1 + 20 * n}")  # type: ignore[misc]


def _exact_sheet(
    wb: Workbook, ruleset: Ruleset, results: Sequence[Result], *, ids: bool, order: summary.Order
) -> None:
    """The 精确值 sheet: the summary, every item score and each amount before rounding,
    with each number as exact text."""
    ws = wb.create_sheet("精确值")
    assert isinstance(ws, WriteOnlyWorksheet)
    table = summary.ranking_with_items(ruleset, results, order=order)
    unrounded = summary.unrounded_amounts(ruleset, results, order=order)
    columns = table.columns + unrounded.columns
    heads = table.headers(ids=ids) + unrounded.headers(ids=ids)
    texts: list[list[str]] = [heads]
    rows: list[list[Value]] = []
    for cells in (a + b for a, b in zip(table.rows, unrounded.rows, strict=True)):
        text_row: list[str] = []
        row: list[Value] = []
        for column, value in zip(columns, cells, strict=True):
            if isinstance(value, int) and not isinstance(value, bool):
                row.append(value)
                text_row.append(str(value))
            elif value is not None:
                text = column.text(value, exact=True)
                row.append(_text(ws, text, neutralise=not isinstance(value, Decimal)))
                text_row.append(text)
            else:
                row.append(None)
                text_row.append("")
        rows.append(row)
        texts.append(text_row)
    _freeze(ws, 2, 3)
    _fit(ws, texts)
    ws.append([_header(ws, text) for text in heads])
    for row in rows:
        ws.append(row)


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
    # Write-only sheets stream their rows straight to XML: several times faster than
    # building every cell in memory, for the same file.
    wb = Workbook(write_only=True)
    main = wb.create_sheet("汇总")
    assert isinstance(main, WriteOnlyWorksheet)
    ranking = summary.ranking(ruleset, results, order=order)
    above = _title_block(main, ruleset, results, period, notes)
    header_row = _write_table(main, ranking, ids=ids, freeze_column=3, above=above)

    items = wb.create_sheet("各项得分")
    assert isinstance(items, WriteOnlyWorksheet)
    _write_table(
        items, summary.item_scores(ruleset, results, order=order), ids=ids, freeze_column=3
    )
    explained = wb.create_sheet("计分说明")
    assert isinstance(explained, WriteOnlyWorksheet)
    _write_table(
        explained, summary.explanations(ruleset, results, order=order), ids=ids, freeze_column=2
    )
    _charts(wb, main, ranking, header_row, ruleset, results)
    _exact_sheet(wb, ruleset, results, ids=ids, order=order)

    when = created or FIXED_TIME
    wb.properties.creator = "kpirules"
    wb.properties.title = ruleset.title
    wb.properties.created = when
    wb.properties.modified = when
    wb.properties.lastModifiedBy = None
    return _saved(wb)


def _saved(wb: Workbook) -> bytes:
    """The workbook's bytes with a fixed timestamp on every zip entry."""
    raw = io.BytesIO()
    # ExcelWriter rather than Workbook.save: save() stamps the modification time with now.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()
