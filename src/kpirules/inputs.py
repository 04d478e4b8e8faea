"""Metrics files: Excel workbooks (.xlsx), CSV (UTF-8, UTF-8 with BOM, or GBK), YAML or JSON.

Every problem names the file, the row (line) and the column (in a workbook, the sheet and
cell: ``FILE!SHEET!B7``), and all problems of a file are reported together. Values are
checked against the ruleset's metric declarations here, before any scoring.

Layouts:

* CSV and worksheets: a header row (title rows above it are skipped) with an entity column
  (``科室``, ``部门``, ``单位``, ``姓名``, ``对象``, ``编号``, ``entity`` or a name the ruleset
  declares) and one column per input metric, named by its id or by its label; ratings as
  ``88;90;92`` in one cell, or one column per assessor (``评委1``…, ``<label>评委1``…, or
  the columns a rating declares).
* YAML/JSON: a list of rows ``{entity: 甲医院, audits: 1000, …}``, or a mapping
  ``{甲医院: {audits: 1000, …}, …}``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs

from kpirules._core.suggest import did_you_mean
from kpirules.characters import ORDINARY_SPACE, entity_problem, refused_character
from kpirules.decoding import decode_metrics, metrics_codec, nul_problem
from kpirules.errors import KpirulesError, Problem, sorted_problems
from kpirules.exact import exact
from kpirules.loader import MAX_FILE_BYTES, load_yaml
from kpirules.model import Metric, Ruleset
from kpirules.quantity import QuantityError
from kpirules.values import RATING_SEPARATORS, Value, read_value

#: Names of the entity column a metrics file may use; a ruleset may add its own
#: (``data: {entity_column: 医院名称}``).
ENTITY_COLUMNS = ("entity", "编号", "对象", "科室", "部门", "单位", "姓名", "id")

Row = tuple[str, dict[str, Value]]
Record = tuple[str, str, dict[str, Value]]
PERIOD_COLUMNS = ("period", "期间")
_DELETE_IT = "删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字"


@attrs.define
class Locations:
    """Where each entity's row, and each of its values, sits in the file (1-based).

    ``sheet`` is the worksheet read from an Excel workbook (None for other files);
    ``header`` the row number of the header.
    """

    rows: dict[str, int] = attrs.Factory(dict)
    cells: dict[tuple[str, str], tuple[int, int]] = attrs.Factory(dict)
    sheet: str | None = None
    header: int = 1

    def place(self, file: str, line: int, column: int) -> str:
        """``FILE:LINE:COL``, or ``FILE!SHEET!B7`` in a workbook."""
        if self.sheet is not None:
            return f"{file}!{cell_name(self.sheet, line, column)}"
        return f"{file}:{line}:{column}"


class SheetError(KpirulesError):
    """The worksheet asked for does not exist (or the file is not a workbook): a usage error."""


class InputError(KpirulesError):
    """A metrics file has problems; ``problems`` lists each with file, row and column."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted_problems(problems)
        super().__init__("\n".join(str(p) for p in self.problems[:50]))


@exact
def read_metrics(
    path: str | Path,
    ruleset: Ruleset,
    *,
    encoding: str | None = None,
    locations: Locations | None = None,
    sheet: str | None = None,
) -> list[Row]:
    """Read and check a metrics file; raise :class:`InputError` with every problem.

    ``locations``, when given, is filled with where each entity and value sits in the file.
    ``sheet`` names the worksheet of a workbook (default: the first whose header fits the
    ruleset); a sheet that does not exist raises :class:`SheetError`.
    """
    records = _read(path, ruleset, encoding, locations or Locations(), sheet)
    if any(period for _, period, _ in records):
        raise InputError([_period_problem(str(path))])
    return [(entity, values) for entity, _, values in records]


def _period_problem(file: str) -> Problem:
    return Problem(
        file,
        1,
        1,
        "period",
        "error",
        "数据按期间分行（有 period 列）：要指定计分的期间",
        "加 --period，如 --period 2026",
        code="KR501",
    )


@exact
def read_records(
    path: str | Path,
    ruleset: Ruleset,
    *,
    encoding: str | None = None,
    locations: Locations | None = None,
    sheet: str | None = None,
) -> list[Record]:
    """Read a metrics file as (entity, period, values); period is "" without a period column."""
    return _read(path, ruleset, encoding, locations or Locations(), sheet)


def _read(
    path: str | Path,
    ruleset: Ruleset,
    encoding: str | None,
    locations: Locations,
    sheet: str | None,
) -> list[Record]:
    file = str(path)
    p = Path(path)
    suffix = _check_file(file, p, sheet)
    if suffix == ".xlsx":
        # Imported here: openpyxl takes a while to import and only workbooks need it.
        from kpirules.xlsx import read_workbook

        return read_workbook(file, ruleset, sheet, locations)
    if suffix == ".xls":
        raise InputError(
            [
                Problem(
                    file,
                    0,
                    0,
                    "$",
                    "error",
                    "这是旧版 Excel 文件（.xls），无法读取",
                    "在 Excel 中打开，另存为“Excel 工作簿（*.xlsx）”",
                    code="KR504",
                )
            ]
        )
    raw = p.read_bytes()
    if suffix == ".csv":
        return _read_csv(file, raw, ruleset, encoding, locations)
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        return _read_tree(file, raw, ruleset, encoding, locations)
    raise InputError(
        [
            Problem(
                file,
                0,
                0,
                "$",
                "error",
                "无法识别的文件类型：请用 .xlsx、.csv、.yaml、.yml 或 .json",
                code="KR505",
            )
        ]
    )


def _check_file(file: str, p: Path, sheet: str | None) -> str:
    """The file's suffix, once its size and the --sheet option are checked."""
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", f"无法读取文件：{exc.strerror}", code="KR502")]
        ) from None
    if size > 50 * MAX_FILE_BYTES:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", f"文件过大（{size} 字节）", code="KR503")]
        )
    suffix = p.suffix.lower()
    if sheet is not None and suffix != ".xlsx":
        raise SheetError(f"--sheet 只用于 Excel 工作簿（.xlsx），{file} 不是工作簿")
    return suffix


def read_entities(path: str | Path, headings: Sequence[str] = ENTITY_COLUMNS) -> list[str]:
    """A list of entity names, one a line (UTF-8 or GBK).

    A first line that is one of ``headings`` (``科室``, ``对象``…) is a heading and skipped;
    of a CSV line only the first field counts.
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", f"无法读取文件：{exc.strerror}", code="KR502")]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", f"文件过大（{len(raw)} 字节）", code="KR503")]
        )
    names: list[str] = []
    seen: dict[str, int] = {}
    problems: list[Problem] = []
    for number, line in enumerate(_decode(file, raw, None).splitlines(), start=1):
        name = line.split(",", 1)[0].strip()
        if not name or (number == 1 and name in headings):
            continue
        if name in seen:
            problems.append(
                Problem(
                    file,
                    number,
                    1,
                    "$",
                    "error",
                    f"对象 “{name}” 重复（第 {seen[name]} 行已出现）",
                    code="KR506",
                )
            )
            continue
        seen[name] = number
        names.append(name)
    if problems:
        raise InputError(problems)
    if not names:
        raise InputError(
            [Problem(file, 1, 1, "$", "error", "对象名单是空的：每行写一个对象", code="KR507")]
        )
    return names


def _decode(file: str, raw: bytes, encoding: str | None) -> str:
    text, problems = decode_metrics(file, raw, encoding)
    if text is None:
        raise InputError(problems)
    return text


def _columns(ruleset: Ruleset) -> dict[str, str]:
    """Column name → metric id, for input metrics by id and by label."""
    out: dict[str, str] = {}
    for m in ruleset.metrics:
        if m.formula is None:
            out[m.id] = m.id
            out.setdefault(m.label, m.id)
    return out


def entity_columns(ruleset: Ruleset) -> tuple[str, ...]:
    """Every name the entity column may have: the common ones and those the ruleset adds."""
    return (*ENTITY_COLUMNS, *(n for n in ruleset.entity_columns if n not in ENTITY_COLUMNS))


def rater_columns(ruleset: Ruleset, metric_id: str, count: int) -> tuple[str, ...]:
    """The assessor columns of a rating: as declared (``columns:``), else ``<label>评委1…N``."""
    metric = ruleset.metric(metric_id)
    if metric.columns:
        return metric.columns
    return tuple(f"{metric.label}评委{i}" for i in range(1, count + 1))


def unit_text(metric: Metric) -> str:
    """The unit shown after a column's label: ``%``, ``笔``, ``万元``, ``是/否``; "" for none."""
    if metric.unit == "percent":
        return "%"
    if metric.unit == "yes_no":
        return "是/否"
    if metric.unit == "rating":
        return "分"
    if metric.unit == "money":
        return metric.measure or "元"
    return metric.measure or ""


def cell_name(sheet: str, row: int, column: int) -> str:
    """A workbook cell as Excel names it: ``Sheet1!B7``."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{sheet}!{letters}{row}"


@attrs.frozen
class Cell:
    """One cell of a metrics table as read from a file.

    ``text`` is what the cell holds as text (a workbook number as its exact decimal text, a
    percent-formatted number as ``95%``, a boolean as 是/否, a date as ``2026-03-01``);
    ``problem`` says why the cell cannot be read at all (an error value, a formula without
    a result); ``merged`` names the merged range the cell belongs to, when not its first cell.
    """

    text: str = ""
    kind: Literal["text", "number", "bool", "date"] = "text"
    problem: str | None = None
    merged: str | None = None


EMPTY = Cell()

TableRows = Iterable[tuple[int, Sequence[Cell]]]

#: A title row or two above the header is common; the header is looked for this far down.
HEADER_SEARCH_ROWS = 20

#: ``评委1``, ``报销审核工作质量评分评委2``, ``review_quality_3``, ``服务态度评分（4）``.
_ASSESSOR = re.compile(
    r"^(?P<name>.*?)[\s_\-－（(]*(?P<word>评委|评分人)?\s*(?P<n>\d{1,2})\s*[)）]?$"
)


#: A unit in brackets after a column's label, as the data-entry template writes it.
_UNIT_SUFFIX = re.compile(r"\s*[（(][^（）()]{1,8}[)）]$")


@attrs.frozen
class _Layout:
    """What each column of a header row holds."""

    entity: int | None
    period: int | None
    single: dict[int, str]
    raters: dict[int, str]
    blank: list[int]
    problems: list[Problem]
    unknown: int

    def recognised(self) -> bool:
        return self.entity is not None and bool(self.single or self.raters)


def _rated(ruleset: Ruleset) -> list[str]:
    """The rating metric that bare ``评委1…`` columns belong to, when there is just one."""
    ratings = [m for m in ruleset.metrics if m.unit == "rating" and m.formula is None]
    several = [m for m in ratings if m.ratings is not None]
    return [m.id for m in (several or ratings)]


class TableReader:
    """Reads a table of cells (CSV or one worksheet) into records, collecting every problem."""

    def __init__(
        self, file: str, sheet: str | None, ruleset: Ruleset, locations: Locations
    ) -> None:
        self.file = file
        self.sheet = sheet
        self.ruleset = ruleset
        self.locations = locations
        self.problems: list[Problem] = []
        self.header_row = 1
        self.columns = _columns(ruleset)
        self.entity_names = entity_columns(ruleset)
        self.explicit = {c: m.id for m in ruleset.metrics for c in m.columns}
        self.derived = {
            key for m in ruleset.metrics if m.formula is not None for key in (m.id, m.label)
        }

    def problem(
        self,
        row: int,
        column: int,
        field: str,
        message: str,
        suggestion: str | None = None,
        *,
        code: str,
    ) -> Problem:
        cell = cell_name(self.sheet, row, column) if self.sheet is not None else None
        return Problem(self.file, row, column, field, "error", message, suggestion, cell, code=code)

    def find_header(
        self, rows: Iterator[tuple[int, Sequence[Cell]]]
    ) -> tuple[int, list[str], _Layout, list[tuple[int, Sequence[Cell]]]] | None:
        """The header row: the first of the first rows that has an entity and a metric column.

        Returns its number, names, layout and the rows read past it; None for no rows at all.
        Without such a row the first non-empty row is taken, so that its problems are shown.
        """
        seen: list[tuple[int, Sequence[Cell]]] = []
        for number, cells in rows:
            seen.append((number, cells))
            names = [c.text.strip() for c in cells]
            if any(names):
                layout = self.layout(number, names)
                if layout.recognised():
                    return number, names, layout, []
            if len(seen) >= HEADER_SEARCH_ROWS:
                break
        filled = [(n, c) for n, c in seen if any(x.text.strip() for x in c)]
        if not filled:
            return None
        number, cells = filled[0]
        names = [c.text.strip() for c in cells]
        return number, names, self.layout(number, names), [r for r in seen if r[0] > number]

    def layout(self, row: int, header: list[str]) -> _Layout:
        problems: list[Problem] = []
        entities = [i for i, h in enumerate(header) if h in self.entity_names]
        if len(entities) > 1:
            both = "、".join(f"“{header[i]}”（第 {i + 1} 列）" for i in entities)
            problems.append(
                self.problem(
                    row,
                    entities[1] + 1,
                    header[entities[1]],
                    f"表头中有 {len(entities)} 个编号列：{both}：只能有一个",
                    "把其中一列改名或删除",
                    code="KR513",
                )
            )
        entity = entities[0] if entities else None
        period = next((i for i, h in enumerate(header) if h in PERIOD_COLUMNS), None)
        if entity is None:
            names = "、".join(n for n in self.entity_names if n != "id")
            problems.append(
                self.problem(
                    row, 1, "$", f"缺少编号列：表头要有一列名为 {names} 之一", code="KR514"
                )
            )
        single: dict[int, str] = {}
        raters: dict[int, str] = {}
        seen_metric: dict[str, int] = {}
        blank: list[int] = []
        unknown = 0
        rated = _rated(self.ruleset)
        for i, name in enumerate(header):
            if i in entities or i == period:
                continue
            target: str | None = None
            plain = _UNIT_SUFFIX.sub("", name)
            if name not in self.columns and plain in self.columns:
                # The template's heading: the label with its unit, 准确率（%）.
                metric = self.ruleset.metric(self.columns[plain])
                written = name[len(plain) :].strip()[1:-1].strip()
                if written != unit_text(metric):
                    problems.append(
                        self.problem(
                            row,
                            i + 1,
                            name,
                            f"列名中的单位 “{written}” 与指标 “{metric.label}” 的单位 “{unit_text(metric) or '无'}” 不同",
                            f"列名写成 {metric.label}，数值按指标的单位填写",
                            code="KR515",
                        )
                    )
                    continue
                name = plain
            if name in self.columns:
                target = self.columns[name]
                if target in seen_metric:
                    problems.append(
                        self.problem(
                            row,
                            i + 1,
                            name,
                            f"列 “{name}” 与第 {seen_metric[target] + 1} 列是同一个指标",
                            code="KR516",
                        )
                    )
                seen_metric[target] = i
                single[i] = target
                continue
            if not name:
                blank.append(i)
                continue
            if name in self.derived:
                problems.append(
                    self.problem(
                        row,
                        i + 1,
                        name,
                        f"“{name}” 是派生指标，由公式计算，不能直接给值",
                        "删除这一列",
                        code="KR517",
                    )
                )
                continue
            reported = len(problems)
            target = self.explicit.get(name) or self._assessor(row, i, name, rated, problems)
            if target is not None:
                raters[i] = target
                continue
            if len(problems) > reported:
                continue
            unknown += 1
            hint = did_you_mean(name, self.columns)
            problems.append(
                self.problem(row, i + 1, name, f"规则集中没有指标 “{name}”", hint, code="KR518")
            )
        for i, mid in list(raters.items()):
            if mid in seen_metric:
                del raters[i]
                problems.append(
                    self.problem(
                        row,
                        i + 1,
                        header[i],
                        f"评委列 “{header[i]}” 与第 {seen_metric[mid] + 1} 列是同一个指标：评分要么一格写全（80;85;90），要么每位评委一列",
                        code="KR519",
                    )
                )
        if unknown and unknown * 2 >= len(header):
            problems.append(
                self.problem(
                    row,
                    1,
                    "$",
                    f"大部分列（{unknown}/{len(header)}）不是规则集 {self.ruleset.id} 的指标：这份数据可能属于别的规则集",
                    code="KR520",
                )
            )
        return _Layout(entity, period, single, raters, blank, problems, unknown)

    def _assessor(
        self, row: int, column: int, name: str, rated: list[str], problems: list[Problem]
    ) -> str | None:
        """The rating metric of an assessor column such as ``评委1`` or ``<label>评委1``."""
        match = _ASSESSOR.match(name)
        if match is None:
            return None
        base = match["name"].strip()
        if not base and not match["word"]:
            return None  # a bare number is no assessor's name
        if base:
            mid = self.columns.get(base)
            if mid is not None and self.ruleset.metric(mid).unit == "rating":
                return mid
            return None
        if len(rated) == 1:
            return rated[0]
        if rated:
            labels = "、".join(self.ruleset.metric(m).label for m in rated)
            first = self.ruleset.metric(rated[0]).label
            problems.append(
                self.problem(
                    row,
                    column + 1,
                    name,
                    f"规则集有 {len(rated)} 个评分指标（{labels}），“{name}” 没有说明是哪一个",
                    f"列名写成 {first}{name}",
                    code="KR521",
                )
            )
        return None

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
        seen: dict[tuple[str, str], int] = {}
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
        layout: _Layout,
        seen: dict[tuple[str, str], int],
        width_checked: bool,
    ) -> Record | None:
        if not any(c.text.strip() or c.problem for c in cells):
            return None
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
            return None
        if layout.entity is None:
            return None

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
        key = (entity, period)
        if key in seen:
            what = f"编号 “{entity}”" + (f" 在期间 {period}" if period else "")
            self.problems.append(
                self.problem(
                    line, col + 1, name, f"{what} 重复（第 {seen[key]} 行已出现）", code="KR532"
                )
            )
            return None
        seen[key] = line
        self.locations.rows.setdefault(entity, line)
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
        return entity, period, values

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


def _read_csv(
    file: str, raw: bytes, ruleset: Ruleset, encoding: str | None, locations: Locations
) -> list[Record]:
    text = _decode(file, raw, encoding)
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        column = at - text.rfind("\n", 0, at)
        raise InputError([nul_problem(file, line, column)])
    table = TableReader(file, None, ruleset, locations)
    return table.read(_csv_rows(file, io.StringIO(text, newline=""), table), width_checked=True)


def _csv_rows(file: str, lines: Iterable[str], table: TableReader) -> TableRows:
    """The rows of a CSV text as (line number, cells); a malformed record is a problem."""
    reader = csv.reader(lines)
    ended = 0
    try:
        for record in reader:
            # A quoted cell may hold line breaks: the record starts after the last one ended.
            first, ended = ended + 1, reader.line_num
            yield first, [Cell(cell) for cell in record]
    except csv.Error as exc:
        table.problems.append(
            Problem(file, reader.line_num, 1, "$", "error", f"CSV 格式错误：{exc}", code="KR536")
        )


def _read_tree(
    file: str, raw: bytes, ruleset: Ruleset, encoding: str | None, locations: Locations
) -> list[Record]:
    text = _decode(file, raw, encoding)
    doc, problems = load_yaml(file, text=text)
    if doc is None or problems:
        raise InputError(problems)
    data = doc.data
    entries: list[tuple[tuple[Any, ...], str | None, str, Any]] = []
    names = entity_columns(ruleset)
    if isinstance(data, list):
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                problems.append(
                    doc.problem((i,), "每一行应是映射：entity: 编号，以及各指标的值", code="KR537")
                )
                continue
            keys = [k for k in row if k in names]
            if len(keys) > 1:
                both = "、".join(f"“{k}”" for k in keys)
                problems.append(
                    doc.problem(
                        (i, keys[1]),
                        f"有 {len(keys)} 个编号：{both}：只能写一个",
                        at_key=True,
                        code="KR538",
                    )
                )
                continue
            entity = row[keys[0]] if keys else None
            period = next((str(row[k]) for k in PERIOD_COLUMNS if k in row), "")
            skip = (*names, *PERIOD_COLUMNS)
            metrics = {k: v for k, v in row.items() if k not in skip}
            entries.append(((i,), None if entity is None else str(entity), period, metrics))
    elif isinstance(data, dict):
        for key, metrics in data.items():
            entries.append(((key,), str(key), "", metrics))
    else:
        raise InputError(
            [doc.problem((), "文件应是各对象的列表，或 编号: {指标: 值} 的映射", code="KR539")]
        )
    columns = _columns(ruleset)
    rows: list[Record] = []
    seen: set[tuple[str, str]] = set()
    for path, entity, period, metrics in entries:
        if entity is None or not entity.strip():
            problems.append(doc.problem(path, "缺少编号：每一行要写 entity", code="KR540"))
            continue
        wrong = entity_problem(entity)
        if wrong is not None:
            problems.append(doc.problem(path, wrong, code="KR531"))
            continue
        if (entity, period) in seen:
            problems.append(doc.problem(path, f"编号 “{entity}” 重复", code="KR541"))
            continue
        seen.add((entity, period))
        locations.rows.setdefault(entity, doc.position(path).line)
        if not isinstance(metrics, dict):
            problems.append(doc.problem(path, "指标应写成映射：指标: 值", code="KR542"))
            continue
        values: dict[str, Value] = {}
        for key, value in metrics.items():
            mid = columns.get(str(key))
            if mid is None:
                problems.append(
                    doc.problem(
                        (*path, key),
                        f"规则集中没有指标 “{key}”（派生指标由公式计算，不需要给值）",
                        suggestion=did_you_mean(str(key), columns),
                        at_key=True,
                        code="KR543",
                    )
                )
                continue
            where = doc.key_position((*path, key))
            locations.cells.setdefault((entity, mid), (where.line, where.column))
            if value is None:
                continue
            try:
                values[mid] = read_value(ruleset.metric(mid), value)
            except QuantityError as exc:
                problems.append(doc.problem((*path, key), str(exc), code="KR534"))
        rows.append((entity, period, values))
    if problems:
        raise InputError(problems)
    return rows


#: An entity, its values, and where they sit in the file.
Placed = tuple[str, dict[str, Value], Locations]


class MetricsStream:
    """A metrics file read one row at a time, as often as needed (once per scoring pass).

    A CSV file is checked line by line for its encoding first, then read as a stream: only
    the row being read and its locations are held. Other kinds (workbooks, YAML, JSON) are
    read whole once and their rows kept. :meth:`rows` raises :class:`InputError` with every
    problem of the file once the rows are exhausted, as :func:`read_metrics` does.
    """

    def __init__(
        self,
        path: str | Path,
        ruleset: Ruleset,
        *,
        encoding: str | None = None,
        sheet: str | None = None,
    ) -> None:
        self.file = str(path)
        self.path = Path(path)
        self.ruleset = ruleset
        self.encoding = encoding
        self.sheet = sheet
        self._codec: str | None = None
        self._whole: tuple[list[Row], Locations] | None = None

    def rows(self) -> Iterator[Placed]:
        """Every row of the file, in order; raises :class:`InputError` at the end."""
        suffix = _check_file(self.file, self.path, self.sheet)
        if suffix != ".csv":
            if self._whole is None:
                where = Locations()
                rows = read_metrics(
                    self.path,
                    self.ruleset,
                    encoding=self.encoding,
                    locations=where,
                    sheet=self.sheet,
                )
                self._whole = rows, where
            rows, where = self._whole
            for entity, values in rows:
                yield entity, values, where
            return
        yield from self._csv()

    def _csv(self) -> Iterator[Placed]:
        if self._codec is None:
            codec, problems = metrics_codec(self.file, self.path, self.encoding)
            if codec is None:
                raise InputError(problems)
            self._codec = codec
        table = TableReader(self.file, None, self.ruleset, Locations())
        count = 0
        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=self._codec, newline="")
            first = next(text, "").removeprefix("\ufeff")
            lines = itertools.chain([first], text) if first else iter(())
            periods = False
            for (entity, period, values), where in table.placed(
                _csv_rows(self.file, lines, table), width_checked=True
            ):
                count += 1
                periods = periods or bool(period)
                yield entity, values, where
        table.finish(count > 0)
        if periods:
            raise InputError([_period_problem(self.file)])
