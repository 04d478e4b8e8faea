"""Results as an Excel workbook (.xlsx) a director can open and hand on.

Sheets: **汇总** (a title block, then one row per entity sorted by rank), **各项得分**
(every indicator's score), **计分说明** (every explanation sentence), **图表** (totals,
grade distribution and score rate per indicator, with the small tables they draw from)
and **精确值** (the summary and item scores as exact decimal text).

Numbers are stored as numbers, already rounded by the ruleset's own rule (Excel's display
rounding is half-up and would differ for half_even or down), with the ruleset's places as
their display format; the exact values are kept as text on the 精确值 sheet. Text cells are
always written as text and neutralised by :func:`kpirules.summary.neutralise`, so a name
such as ``=HYPERLINK(...)`` is never a formula.

The file is reproducible: its creation and modification times are the ``created``
argument (default :data:`FIXED_TIME`) and every part of the zip archive carries the same
fixed timestamp, so the same results give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
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
_SHEETS = ("汇总", "各项得分", "计分说明", "图表", "精确值")
#: Places kept for a score rate (a share, shown as a percentage with two decimals).
_RATE_PLACES = 4


def _at(ws: Worksheet, row: int, column: int) -> XlCell:
    """The cell at ``row``, ``column`` (1-based); this writer never merges cells."""
    cell = ws.cell(row, column)
    assert isinstance(cell, XlCell)
    return cell


def _text(cell: XlCell, text: str, *, neutralise: bool = True) -> None:
    """Put ``text`` into ``cell`` as text, never as a formula; neutralised unless it is the
    exact text of a number this writer made."""
    if neutralise:
        text = summary.neutralise(text)
    # Characters XML cannot hold would make openpyxl raise; show them as U+FFFD instead.
    # A carriage return would be read back as a line feed (XML end-of-line handling): write
    # it as one.
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text).replace("\r\n", "\n").replace("\r", "\n")
    cell.value = text
    cell.data_type = "s"


def _number_format(places: int | None) -> str:
    if places is None:
        return "General"
    return "0." + "0" * places if places > 0 else "0"


def _put(cell: XlCell, column: summary.Column, value: summary.Cell) -> None:
    """One table cell: numbers rounded by the column's rule and stored as numbers, with the
    column's places as display format; text as neutralised text."""
    if value is None:
        return
    if isinstance(value, Decimal):
        cell.value = column.shown(value)
        cell.number_format = _number_format(column.places)
    elif isinstance(value, int):
        cell.value = value
        cell.number_format = "0"
    else:
        _text(cell, value)


def _header(cell: XlCell, text: str) -> None:
    _text(cell, text)
    cell.font = _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = Alignment(vertical="center")


def _fit(ws: Worksheet, texts: Sequence[Sequence[str]]) -> None:
    """Column widths that fit the widest text of each column (wide characters count 2)."""
    for j in range(max((len(row) for row in texts), default=0)):
        widest = max((width(row[j]) for row in texts if j < len(row)), default=0)
        ws.column_dimensions[get_column_letter(j + 1)].width = min(widest + 2, _WIDEST)


def _write_table(
    ws: Worksheet, table: summary.Table, *, row: int, ids: bool, freeze_column: int
) -> int:
    """Write ``table`` with its header at ``row``; freeze the rows above the data and the
    first ``freeze_column - 1`` columns. Returns the header row."""
    heads = table.headers(ids=ids)
    for j, text in enumerate(heads, start=1):
        _header(_at(ws, row, j), text)
    for i, cells in enumerate(table.rows, start=row + 1):
        for j, (column, value) in enumerate(zip(table.columns, cells, strict=True), start=1):
            _put(_at(ws, i, j), column, value)
    ws.freeze_panes = _at(ws, row + 1, freeze_column).coordinate
    _fit(ws, [heads, *table.texts()])
    return row


def _title_block(
    ws: Worksheet, ruleset: Ruleset, results: Sequence[Result], period: str, notes: Sequence[str]
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
    for i, line in enumerate(lines, start=1):
        _text(_at(ws, i, 1), line)
    _at(ws, 1, 1).font = Font(bold=True, size=14)
    return len(lines) + 1


def _charts(
    wb: Workbook,
    main: Worksheet,
    ranking: summary.Table,
    header_row: int,
    ruleset: Ruleset,
    results: Sequence[Result],
) -> None:
    """The 图表 sheet: grade counts and score rates as small tables, and three bar charts."""
    ws = wb.create_sheet("图表")
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
    _header(_at(ws, 1, 1), "等级")
    _header(_at(ws, 1, 2), "人数")
    for i, (grade, n) in enumerate(counts, start=2):
        _text(_at(ws, i, 1), grade)
        _at(ws, i, 2).value = n
        _at(ws, i, 2).number_format = "0"
    grades = BarChart()
    grades.title = "等级分布"
    grades.y_axis.title = "人数"
    grades.add_data(
        Reference(ws, min_col=2, min_row=1, max_row=1 + len(counts)), titles_from_data=True
    )
    grades.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + len(counts)))

    rates = summary.attainment(ruleset, results)
    heads = ["指标", "类别", "满分", "达标", "未达标", "其他", "得分率", "得分率（精确值）"]
    for j, text in enumerate(heads, start=4):
        _header(_at(ws, 1, j), text)
    mode = summary.MODES[ruleset.rounding.mode]
    for i, a in enumerate(rates, start=2):
        _text(_at(ws, i, 4), a.label)
        _text(_at(ws, i, 5), a.category)
        _at(ws, i, 6).value = a.points
        for j, n in ((7, a.met), (8, a.not_met), (9, a.other)):
            _at(ws, i, j).value = n
        _at(ws, i, 10).value = rounded(a.score_rate, Decimal(1).scaleb(-_RATE_PLACES), mode)
        _at(ws, i, 10).number_format = "0.00%"
        _text(_at(ws, i, 11), decimal_text(a.score_rate), neutralise=False)
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
    ws.column_dimensions["C"].width = 3
    ws.freeze_panes = "A2"
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
        ws.add_chart(chart, f"{anchor}{1 + 20 * n}")


def _exact_sheet(
    wb: Workbook, ruleset: Ruleset, results: Sequence[Result], *, ids: bool, order: summary.Order
) -> None:
    """The 精确值 sheet: the summary and every item score with each number as exact text."""
    ws = wb.create_sheet("精确值")
    table = summary.ranking_with_items(ruleset, results, order=order)
    heads = table.headers(ids=ids)
    for j, text in enumerate(heads, start=1):
        _header(_at(ws, 1, j), text)
    texts = [heads]
    for i, cells in enumerate(table.rows, start=2):
        row = []
        for j, (column, value) in enumerate(zip(table.columns, cells, strict=True), start=1):
            if isinstance(value, int) and not isinstance(value, bool):
                _at(ws, i, j).value = value
                row.append(str(value))
            elif value is not None:
                text = column.text(value, exact=True)
                _text(_at(ws, i, j), text, neutralise=not isinstance(value, Decimal))
                row.append(text)
            else:
                row.append("")
        texts.append(row)
    ws.freeze_panes = "C2"
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
    wb = Workbook()
    main = wb.active
    assert isinstance(main, Worksheet)
    main.title = "汇总"
    ranking = summary.ranking(ruleset, results, order=order)
    header_row = _title_block(main, ruleset, results, period, notes) + 1
    _write_table(main, ranking, row=header_row, ids=ids, freeze_column=3)

    items = wb.create_sheet("各项得分")
    _write_table(
        items, summary.item_scores(ruleset, results, order=order), row=1, ids=ids, freeze_column=3
    )
    explained = wb.create_sheet("计分说明")
    _write_table(
        explained,
        summary.explanations(ruleset, results, order=order),
        row=1,
        ids=ids,
        freeze_column=2,
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
