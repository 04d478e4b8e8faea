"""Metrics files: YAML, JSON or CSV (UTF-8, UTF-8 with BOM, or GBK from Chinese Excel).

Every problem names the file, the row (line) and the column, and all problems of a file
are reported together. Values are checked against the ruleset's metric declarations here,
before any scoring.

Layouts:

* CSV: a header row with ``entity`` (or ``编号``/``对象``) and one column per input metric,
  named by its id or by its label; ratings as ``88;90;92``.
* YAML/JSON: a list of rows ``{entity: 甲医院, audits: 1000, …}``, or a mapping
  ``{甲医院: {audits: 1000, …}, …}``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import attrs

from kpirules.characters import ORDINARY_SPACE, entity_problem, refused_character
from kpirules.errors import KpirulesError, Problem, sorted_problems
from kpirules.exact import exact
from kpirules.loader import MAX_FILE_BYTES, load_yaml
from kpirules.model import Ruleset
from kpirules.quantity import QuantityError
from kpirules.validate import did_you_mean
from kpirules.values import Value, read_value

ENTITY_COLUMNS = ("entity", "编号", "对象", "单位", "姓名", "id")

Row = tuple[str, dict[str, Value]]
Record = tuple[str, str, dict[str, Value]]
PERIOD_COLUMNS = ("period", "期间")
_DELETE_IT = "删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字"


@attrs.define
class Locations:
    """Where each entity's row, and each of its values, sits in the file (1-based)."""

    rows: dict[str, int] = attrs.Factory(dict)
    cells: dict[tuple[str, str], tuple[int, int]] = attrs.Factory(dict)


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
) -> list[Row]:
    """Read and check a metrics file; raise :class:`InputError` with every problem.

    ``locations``, when given, is filled with where each entity and value sits in the file.
    """
    records = _read(path, ruleset, encoding, locations or Locations())
    if any(period for _, period, _ in records):
        raise InputError(
            [
                Problem(
                    str(path),
                    1,
                    1,
                    "period",
                    "error",
                    "数据按期间分行（有 period 列）：要指定计分的期间",
                    "加 --period，如 --period 2026",
                )
            ]
        )
    return [(entity, values) for entity, _, values in records]


@exact
def read_records(
    path: str | Path,
    ruleset: Ruleset,
    *,
    encoding: str | None = None,
    locations: Locations | None = None,
) -> list[Record]:
    """Read a metrics file as (entity, period, values); period is "" without a period column."""
    return _read(path, ruleset, encoding, locations or Locations())


def _read(
    path: str | Path, ruleset: Ruleset, encoding: str | None, locations: Locations
) -> list[Record]:
    file = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", f"无法读取文件：{exc.strerror}")]
        ) from None
    if size > 50 * MAX_FILE_BYTES:
        raise InputError([Problem(file, 0, 0, "$", "error", f"文件过大（{size} 字节）")])
    raw = p.read_bytes()
    if p.suffix.lower() == ".csv":
        return _read_csv(file, raw, ruleset, encoding, locations)
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        return _read_tree(file, raw, ruleset, encoding, locations)
    raise InputError(
        [Problem(file, 0, 0, "$", "error", "无法识别的文件类型：请用 .csv、.yaml、.yml 或 .json")]
    )


def _decode(file: str, raw: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            # The byte-order mark marks the encoding; it is not part of the first cell.
            return raw.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - raw.rfind(b"\n", 0, exc.start)
            raise InputError(
                [
                    Problem(
                        file,
                        line,
                        1,
                        "$",
                        "error",
                        f"第 {line} 行不是 {encoding} 编码（从这一行第 {column} 个字节起无法读取）",
                        "整个文件要用同一种编码",
                    )
                ]
            ) from None
        except LookupError as exc:
            raise InputError(
                [Problem(file, 0, 0, "$", "error", f"无法按 {encoding} 编码读取：{exc}")]
            ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            [
                Problem(
                    file,
                    0,
                    0,
                    "$",
                    "error",
                    "文件是 UTF-16 编码",
                    "另存为 UTF-8，或用 --encoding utf-16",
                )
            ]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return _decode_mixed(file, raw)


def _decode_mixed(file: str, raw: bytes) -> str:
    """A file that is not all UTF-8: GBK as Excel on Chinese Windows saves it, or a mixture.

    Each line with non-ASCII bytes is read on its own. The encoding of most such lines is the
    file's encoding (the first one's on a tie); every line in the other encoding is refused,
    so that names are never silently garbled. A line counts as UTF-8 when it is valid UTF-8
    and not valid GB2312 (the common Chinese characters), so that GBK lines that happen to be
    valid UTF-8 still count as GBK.
    """
    utf8: list[int] = []
    gbk: list[int] = []
    for number, chunk in enumerate(raw.split(b"\n"), 1):
        if chunk.isascii():
            continue
        if _clearly_utf8(chunk):
            utf8.append(number)
            continue
        try:
            chunk.decode("gb18030")
        except UnicodeDecodeError:
            raise InputError(
                [
                    Problem(
                        file,
                        number,
                        1,
                        "$",
                        "error",
                        f"第 {number} 行既不是 UTF-8 也不是 GBK 编码",
                        "用 --encoding 指定编码，或另存为 UTF-8",
                    )
                ]
            ) from None
        if _valid_utf8(chunk):
            continue  # valid both ways: it decides nothing
        gbk.append(number)
    in_utf8 = len(utf8) > len(gbk) or (len(utf8) == len(gbk) and utf8[0] < gbk[0])
    if in_utf8:
        odd, name, other, first = gbk, "UTF-8", "看起来是 GBK", utf8[0]
    else:
        odd, name, other, first = utf8, "GBK", "是 UTF-8", gbk[0]
    if odd:
        raise InputError(
            [
                Problem(
                    file,
                    number,
                    1,
                    "$",
                    "error",
                    f"第 {number} 行不是 {name} 编码（文件的其他行是 {name}，如第 {first} 行；这一行{other}）",
                    f"整个文件要用同一种编码：重新输入这一行，或把文件统一另存为 {name}",
                )
                for number in odd[:20]
            ]
        )
    return raw.decode("utf-8" if in_utf8 else "gb18030")


def _valid_utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _clearly_utf8(chunk: bytes) -> bool:
    """Valid UTF-8 that is not also plain GB2312 text."""
    if not _valid_utf8(chunk):
        return False
    try:
        chunk.decode("gb2312")
    except UnicodeDecodeError:
        return True
    return False


def _columns(ruleset: Ruleset) -> dict[str, str]:
    """Column name → metric id, for input metrics by id and by label."""
    out: dict[str, str] = {}
    for m in ruleset.metrics:
        if m.formula is None:
            out[m.id] = m.id
            out.setdefault(m.label, m.id)
    return out


def _value(ruleset: Ruleset, metric_id: str, text: str) -> Value:
    return read_value(ruleset.metric(metric_id), text)


def _read_csv(
    file: str, raw: bytes, ruleset: Ruleset, encoding: str | None, locations: Locations
) -> list[Record]:
    text = _decode(file, raw, encoding)
    if "\x00" in text:
        raise InputError(
            [Problem(file, 0, 0, "$", "error", "文件含有空字符（NUL）：这不是一个文本文件")]
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError([Problem(file, 1, 1, "$", "error", "文件为空")]) from None
    except csv.Error as exc:
        raise InputError([Problem(file, 1, 1, "$", "error", f"CSV 格式错误：{exc}")]) from None
    problems: list[Problem] = []
    columns = _columns(ruleset)
    derived = {key for m in ruleset.metrics if m.formula is not None for key in (m.id, m.label)}
    for i, name in enumerate(header):
        hidden = refused_character(name.strip(ORDINARY_SPACE))
        if hidden is not None:
            problems.append(
                Problem(file, 1, i + 1, f"第{i + 1}列", "error", f"列名{hidden}", _DELETE_IT)
            )
    header = [h.strip() for h in header]
    entity_col = next((i for i, h in enumerate(header) if h in ENTITY_COLUMNS), None)
    period_col = next((i for i, h in enumerate(header) if h in PERIOD_COLUMNS), None)
    if entity_col is None:
        problems.append(
            Problem(
                file, 1, 1, "$", "error", "缺少编号列：第一行要有一列名为 entity（或 编号、对象）"
            )
        )
    mapping: dict[int, str] = {}
    seen_metric: dict[str, int] = {}
    unknown: list[str] = []
    blank: list[int] = []
    for i, name in enumerate(header):
        if i in (entity_col, period_col):
            continue
        if name in columns:
            mid = columns[name]
            if mid in seen_metric:
                problems.append(
                    Problem(
                        file,
                        1,
                        i + 1,
                        name,
                        "error",
                        f"列 “{name}” 与第 {seen_metric[mid] + 1} 列是同一个指标",
                    )
                )
            seen_metric[mid] = i
            mapping[i] = mid
        elif not name:
            blank.append(i)
        elif name in derived:
            problems.append(
                Problem(
                    file,
                    1,
                    i + 1,
                    name,
                    "error",
                    f"“{name}” 是派生指标，由公式计算，不能直接给值",
                    "删除这一列",
                )
            )
        else:
            unknown.append(name)
            hint = did_you_mean(name, columns)
            problems.append(
                Problem(file, 1, i + 1, name, "error", f"规则集中没有指标 “{name}”", hint)
            )
    if unknown and len(unknown) * 2 >= len(header):
        problems.append(
            Problem(
                file,
                1,
                1,
                "$",
                "error",
                f"大部分列（{len(unknown)}/{len(header)}）不是规则集 {ruleset.id} 的指标：这份数据可能属于别的规则集",
            )
        )
    rows: list[Record] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        ended = reader.line_num
        for record in reader:
            # A quoted cell may hold line breaks: the record starts on the line after the last.
            first, ended = ended + 1, reader.line_num
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            for i in blank:
                if i < len(record) and record[i].strip():
                    problems.append(
                        Problem(
                            file,
                            line,
                            i + 1,
                            f"第{i + 1}列",
                            "error",
                            "这一列没有列名，却有数据",
                            "给这一列写上列名，或删除它",
                        )
                    )
            if len(record) != len(header):
                problems.append(
                    Problem(
                        file,
                        line,
                        1,
                        "$",
                        "error",
                        f"这一行有 {len(record)} 列，表头有 {len(header)} 列",
                        "检查是否多了或少了逗号",
                    )
                )
                continue
            if entity_col is None:
                continue
            refused = [
                (i, found)
                for i, cell in enumerate(record)
                if (found := refused_character(cell.strip(ORDINARY_SPACE))) is not None
            ]
            for i, found in refused:
                what = "编号" if i == entity_col else "单元格"
                problems.append(
                    Problem(file, first, i + 1, header[i], "error", f"{what}{found}", _DELETE_IT)
                )
            if refused:
                continue
            entity = record[entity_col].strip()
            if not entity:
                problems.append(
                    Problem(file, line, entity_col + 1, header[entity_col], "error", "编号为空")
                )
                continue
            wrong = entity_problem(entity)
            if wrong is not None:
                problems.append(
                    Problem(file, line, entity_col + 1, header[entity_col], "error", wrong)
                )
                continue
            period = record[period_col].strip() if period_col is not None else ""
            key = (entity, period)
            if key in seen:
                what = f"编号 “{entity}”" + (f" 在期间 {period}" if period else "")
                problems.append(
                    Problem(
                        file,
                        line,
                        entity_col + 1,
                        header[entity_col],
                        "error",
                        f"{what} 重复（第 {seen[key]} 行已出现）",
                    )
                )
                continue
            seen[key] = line
            locations.rows.setdefault(entity, line)
            for i, mid in mapping.items():
                locations.cells.setdefault((entity, mid), (line, i + 1))
            values: dict[str, Value] = {}
            for i, mid in mapping.items():
                cell = record[i].strip()
                if not cell:
                    continue
                try:
                    values[mid] = _value(ruleset, mid, cell)
                except QuantityError as exc:
                    problems.append(Problem(file, line, i + 1, header[i], "error", str(exc)))
            rows.append((entity, period, values))
    except csv.Error as exc:
        problems.append(Problem(file, reader.line_num, 1, "$", "error", f"CSV 格式错误：{exc}"))
    if problems:
        raise InputError(problems)
    if not rows:
        raise InputError([Problem(file, 2, 1, "$", "error", "文件中没有数据行")])
    return rows


def _read_tree(
    file: str, raw: bytes, ruleset: Ruleset, encoding: str | None, locations: Locations
) -> list[Record]:
    text = _decode(file, raw, encoding)
    doc, problems = load_yaml(file, text=text)
    if doc is None or problems:
        raise InputError(problems)
    data = doc.data
    entries: list[tuple[tuple[Any, ...], str | None, str, Any]] = []
    if isinstance(data, list):
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                problems.append(doc.problem((i,), "每一行应是映射：entity: 编号，以及各指标的值"))
                continue
            entity = next((row[k] for k in ENTITY_COLUMNS if k in row), None)
            period = next((str(row[k]) for k in PERIOD_COLUMNS if k in row), "")
            skip = (*ENTITY_COLUMNS, *PERIOD_COLUMNS)
            metrics = {k: v for k, v in row.items() if k not in skip}
            entries.append(((i,), None if entity is None else str(entity), period, metrics))
    elif isinstance(data, dict):
        for key, metrics in data.items():
            entries.append(((key,), str(key), "", metrics))
    else:
        raise InputError([doc.problem((), "文件应是各对象的列表，或 编号: {指标: 值} 的映射")])
    columns = _columns(ruleset)
    rows: list[Record] = []
    seen: set[tuple[str, str]] = set()
    for path, entity, period, metrics in entries:
        if entity is None or not entity.strip():
            problems.append(doc.problem(path, "缺少编号：每一行要写 entity"))
            continue
        wrong = entity_problem(entity)
        if wrong is not None:
            problems.append(doc.problem(path, wrong))
            continue
        if (entity, period) in seen:
            problems.append(doc.problem(path, f"编号 “{entity}” 重复"))
            continue
        seen.add((entity, period))
        locations.rows.setdefault(entity, doc.position(path).line)
        if not isinstance(metrics, dict):
            problems.append(doc.problem(path, "指标应写成映射：指标: 值"))
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
                problems.append(doc.problem((*path, key), str(exc)))
        rows.append((entity, period, values))
    if problems:
        raise InputError(problems)
    return rows
