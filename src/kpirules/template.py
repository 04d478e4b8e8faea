"""The data-entry workbook for a ruleset: what an office fills in and then scores as it is.

One data sheet (the entity column first, then one column per input metric headed by its
label and unit, one column per assessor for a rating; drop-downs for 是/否, the declared
range as data validation with a Chinese message, percent formats) and a 填写说明 sheet
saying what each column means and how to score the filled-in workbook.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from kpirules.inputs import rater_columns, unit_text
from kpirules.model import Metric, Ruleset
from kpirules.quantity import format_decimal, format_percent

#: Assessor columns of a rating that declares no ``columns``: at least this many.
DEFAULT_RATERS = 5
#: Rows of the data sheet that get drop-downs and range checks.
DATA_ROWS = 500
DATA_SHEET = "数据"
GUIDE_SHEET = "填写说明"
DEFAULT_ENTITY_COLUMN = "对象"

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def header_text(metric: Metric) -> str:
    """A metric's column heading: its label, with the unit in brackets (``准确率（%）``)."""
    unit = unit_text(metric)
    return f"{metric.label}（{unit}）" if unit else metric.label


def rater_count(metric: Metric) -> int:
    """How many assessor columns a rating gets: as declared, else at least five."""
    if metric.columns:
        return len(metric.columns)
    need = metric.ratings.min_raters if metric.ratings else 1
    return max(DEFAULT_RATERS, need)


def _rated(metric: Metric) -> bool:
    return metric.unit == "rating" and (metric.ratings is not None or bool(metric.columns))


def _bound(metric: Metric, value: Decimal | None) -> str:
    if value is None:
        return "不限"
    if metric.unit == "percent":
        return format_percent(value)
    return format_decimal(value) + (unit_text(metric) if metric.unit != "rating" else "")


def range_text(metric: Metric) -> str:
    """The declared range in words: ``0%–100%``, ``≥ 1笔``, ``0–100``; "" for 是/否."""
    if metric.unit == "yes_no":
        return "是 或 否"
    low, high = metric.minimum, metric.maximum
    if low is not None and high is not None:
        return f"{_bound(metric, low)} 到 {_bound(metric, high)}"
    if low is not None:
        return f"≥ {_bound(metric, low)}"
    if high is not None:
        return f"≤ {_bound(metric, high)}"
    return "不限"


def _how(metric: Metric) -> str:
    if metric.unit == "percent":
        return "填百分数，如 95%（单元格已设为百分比格式，直接输入 95% 或 95）"
    if metric.unit == "yes_no":
        return "从下拉列表选 是 或 否"
    if metric.unit == "count":
        return "填整数"
    if metric.unit == "rating" and _rated(metric):
        return "每位评委一列，各填一个评分；没有评分的格子留空"
    return "填数值"


def _validation(metric: Metric) -> DataValidation | None:
    """Excel's own check of what is typed: a 是/否 list, or the declared numeric range."""
    title = "取值有误"
    if metric.unit == "yes_no":
        dv = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
        dv.error = f"“{metric.label}” 只能填 是 或 否"
    else:
        low, high = metric.minimum, metric.maximum
        if low is None and high is None:
            return None
        kind: Literal["whole", "decimal"] = "whole" if metric.unit == "count" else "decimal"
        if low is not None and high is not None:
            dv = DataValidation(
                type=kind,
                operator="between",
                formula1=format_decimal(low),
                formula2=format_decimal(high),
                allow_blank=True,
            )
        elif low is not None:
            dv = DataValidation(
                type=kind,
                operator="greaterThanOrEqual",
                formula1=format_decimal(low),
                allow_blank=True,
            )
        else:
            assert high is not None
            dv = DataValidation(
                type=kind,
                operator="lessThanOrEqual",
                formula1=format_decimal(high),
                allow_blank=True,
            )
        what = "整数" if metric.unit == "count" else "数值"
        dv.error = f"“{metric.label}” 应为 {range_text(metric)} 的{what}"
    dv.errorTitle = title
    dv.showErrorMessage = True
    dv.promptTitle = metric.label
    dv.prompt = _how(metric)
    dv.showInputMessage = True
    return dv


def _width(text: str) -> float:
    """Display width of a heading: a Chinese character is about two Latin ones."""
    return sum(2.1 if ord(ch) > 0x2E80 else 1.1 for ch in text) + 2


def _columns(ruleset: Ruleset) -> list[tuple[str, Metric]]:
    """Heading and metric of each data column after the entity column, in ruleset order."""
    out: list[tuple[str, Metric]] = []
    for metric in ruleset.metrics:
        if metric.formula is not None:
            continue
        if _rated(metric):
            out.extend(
                (name, metric) for name in rater_columns(ruleset, metric.id, rater_count(metric))
            )
        else:
            out.append((header_text(metric), metric))
    return out


def build_template(ruleset: Ruleset, entities: Sequence[str], ruleset_name: str) -> bytes:
    """The workbook, as bytes: its data sheet lists ``entities`` (may be empty).

    ``ruleset_name`` is how the 填写说明 sheet names the ruleset in the scoring command.
    """
    entity_column = ruleset.entity_columns[0] if ruleset.entity_columns else DEFAULT_ENTITY_COLUMN
    columns = _columns(ruleset)
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = DATA_SHEET
    headings = [entity_column, *(name for name, _ in columns)]
    ws.append(headings)
    for name in entities:
        ws.append([name])
    bold = Font(bold=True)
    for i, heading in enumerate(headings, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = bold
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        longest = max([heading, *entities]) if i == 1 and entities else heading
        width = max(_width(heading), _width(longest) if i == 1 else 0, 10)
        ws.column_dimensions[get_column_letter(i)].width = min(width, 40)
    last = max(DATA_ROWS, len(entities) + 1)
    ws.column_dimensions["A"].number_format = "@"  # an entity such as 001 stays text
    validations: dict[str, DataValidation] = {}
    for i, (_, metric) in enumerate(columns, start=2):
        letter = get_column_letter(i)
        if metric.id not in validations:
            dv = _validation(metric)
            if dv is None:
                continue
            validations[metric.id] = dv
            ws.add_data_validation(dv)
        validations[metric.id].add(f"{letter}2:{letter}{last}")
        if metric.unit == "percent":
            for row in range(2, last + 1):
                ws.cell(row=row, column=i).number_format = "0.00%"
    ws.freeze_panes = "B2"
    # Printed as a blank form: A4 landscape, one page wide, the header on every page.
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_title_rows = "1:1"
    _guide(wb, ruleset, entity_column, columns, ruleset_name)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _guide(
    wb: Workbook,
    ruleset: Ruleset,
    entity_column: str,
    columns: list[tuple[str, Metric]],
    ruleset_name: str,
) -> None:
    """The 填写说明 sheet: every column's meaning, unit, range and how to fill it."""
    ws = wb.create_sheet(GUIDE_SHEET)
    used: dict[str, list[str]] = {}
    for indicator in ruleset.indicators():
        used.setdefault(indicator.metric, []).append(indicator.label)
    for metric in ruleset.metrics:
        if metric.formula is not None:
            for name in sorted(metric.formula.names):
                used.setdefault(name, []).append(f"计算 {metric.label}")
    ws.append([f"{ruleset.title}（{ruleset.id}，版本 {ruleset.version}）数据填写说明"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([])
    ws.append(["列名", "含义", "单位", "取值范围", "填写方法"])
    for cell in ws[3]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    ws.append(
        [
            entity_column,
            "被考核的对象（科室、部门、单位或个人），每个对象一行",
            "",
            "",
            "必填，不能重复",
        ]
    )
    done: set[str] = set()
    for heading, metric in columns:
        if metric.id in done:
            continue
        done.add(metric.id)
        meaning = metric.label
        if metric.source:
            meaning += f"（原文：{metric.source}）"
        if metric.id in used:
            meaning += "；用于 " + "、".join(used[metric.id])
        name = heading
        if _rated(metric):
            names = rater_columns(ruleset, metric.id, rater_count(metric))
            name = f"{names[0]} … {names[-1]}"
            if metric.ratings is not None:
                how = (
                    "去掉一个最高分和一个最低分后取平均"
                    if metric.ratings.combine == "trimmed_mean"
                    else "取平均"
                )
                meaning += f"；各评委评分{how}，至少 {metric.ratings.min_raters} 个评分"
        ws.append([name, meaning, unit_text(metric), range_text(metric), _how(metric)])
    ws.append([])
    notes = [
        "说明：",
        "1. 在“数据”工作表中每个对象填一行；表头不要改动，可以在表头上方插入标题行。",
        "2. 不知道的值留空：留空表示缺少数据，按规则集的规定处理（多数指标缺少数据时不能计分）。",
        "3. 派生指标（如各种率）由规则集的公式计算，不需要填写。",
        f"4. 填好后保存，计分：kpirules score {ruleset_name} 本文件.xlsx",
        f"   逐项解释某个对象的得分：kpirules explain {ruleset_name} 本文件.xlsx --entity 名称",
    ]
    for line in notes:
        ws.append([line])
    for letter, width in zip("ABCDE", (28, 60, 10, 22, 44), strict=True):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
