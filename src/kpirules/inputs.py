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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kpirules._core.suggest import did_you_mean
from kpirules.cells import (
    EMPTY,
    Cell,
    InputError,
    Locations,
    Record,
    Row,
    SheetError,
    TableRows,
    cell_name,
)
from kpirules.characters import entity_problem
from kpirules.decoding import decode_metrics, metrics_codec, nul_problem
from kpirules.errors import Problem
from kpirules.exact import exact
from kpirules.headers import (
    ENTITY_COLUMNS,
    PERIOD_COLUMNS,
    column_metrics,
    entity_columns,
    rater_columns,
    unit_text,
)
from kpirules.loader import MAX_FILE_BYTES, Document, load_yaml
from kpirules.model import Ruleset
from kpirules.quantity import QuantityError
from kpirules.tables import RawRow, TableReader
from kpirules.values import Value, read_value

# Readers of metrics files import these from here.
__all__ = [
    "EMPTY",
    "ENTITY_COLUMNS",
    "PERIOD_COLUMNS",
    "Cell",
    "InputError",
    "Locations",
    "MetricsStream",
    "Placed",
    "RawRow",
    "Record",
    "Row",
    "SheetError",
    "TableReader",
    "TableRows",
    "cell_name",
    "entity_columns",
    "rater_columns",
    "read_entities",
    "read_metrics",
    "read_records",
    "unit_text",
]


_MIB = 1024 * 1024

#: The largest metrics file of each kind, in bytes. CSV is read as a stream, so its limit only
#: bounds the time a run takes; a workbook is read row by row by openpyxl. YAML and JSON files
#: are read whole by the YAML loader, which keeps the line and column of every value for the
#: messages: the same cap as a ruleset (``loader.MAX_FILE_BYTES``) keeps that in bounds.
SIZE_LIMITS = {
    ".csv": 100 * _MIB,
    ".xlsx": 100 * _MIB,
    ".json": MAX_FILE_BYTES,
    ".yaml": MAX_FILE_BYTES,
    ".yml": MAX_FILE_BYTES,
}


def limit_text(suffix: str) -> tuple[str, str]:
    """The kind of file and its size limit, in words (``("CSV", "100 MiB")``)."""
    kind = {".yml": "YAML"}.get(suffix, suffix.lstrip(".").upper())
    return kind, f"{SIZE_LIMITS[suffix] // _MIB} MiB"


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
    suffix = p.suffix.lower()
    limit = SIZE_LIMITS.get(suffix)
    if limit is not None and size > limit:
        kind, cap = limit_text(suffix)
        hint = "拆分数据文件" + (
            "，或另存为 CSV（CSV 可到 100 MiB）" if suffix not in (".csv", ".xlsx") else ""
        )
        raise InputError(
            [
                Problem(
                    file,
                    0,
                    0,
                    "$",
                    "error",
                    f"文件过大（{size} 字节）：{kind} 指标文件最大 {cap}",
                    hint,
                    code="KR503",
                )
            ]
        )
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
    entries = _tree_entries(doc, ruleset, problems)
    columns = column_metrics(ruleset)
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


#: An entity, its values (or the :class:`RawRow` to read them from), and where they sit.
Placed = tuple[str, Any, Locations]


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
        self.table: TableReader | None = None
        self._count = 0
        self._periods = False

    def rows(self, *, defer: bool = False) -> Iterator[Placed]:
        """Every row of the file, in order; raises :class:`InputError` at the end.

        With ``defer``, the values of a CSV row are not read: a :class:`RawRow` stands in
        their place, to be read with :meth:`TableReader.parse` (in a worker process);
        the caller then calls :meth:`finish` with the problems found there.
        """
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
        yield from self._csv(defer)

    def _csv(self, defer: bool) -> Iterator[Placed]:
        if self._codec is None:
            codec, problems = metrics_codec(self.file, self.path, self.encoding)
            if codec is None:
                raise InputError(problems)
            self._codec = codec
        table = self.table = TableReader(self.file, None, self.ruleset, Locations())
        table.defer = defer
        self._count = 0
        self._periods = False
        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=self._codec, newline="")
            first = next(text, "").removeprefix("\ufeff")
            lines = itertools.chain([first], text) if first else iter(())
            for (entity, period, values), where in table.placed(
                _csv_rows(self.file, lines, table), width_checked=True
            ):
                self._count += 1
                self._periods = self._periods or bool(period)
                yield entity, (table.deferred if defer else values), where
        if not defer:
            self.finish()

    def finish(self, problems: Sequence[Problem] = ()) -> None:
        """After the rows of :meth:`rows` with ``defer=True`` are read (and their values, with
        ``problems``): raise :class:`InputError` with every problem of the file."""
        if self.table is None:
            return
        self.table.problems.extend(problems)
        self.table.finish(self._count > 0)
        if self._periods:
            raise InputError([_period_problem(self.file)])


Entry = tuple[tuple[Any, ...], str | None, str, Any]


def _tree_entries(doc: Document, ruleset: Ruleset, problems: list[Problem]) -> list[Entry]:
    """(path, entity, period, metrics) of each row of a YAML/JSON metrics document."""
    data = doc.data
    entries: list[Entry] = []
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
    return entries
