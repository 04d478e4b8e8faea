"""The header row of a metrics table: which column holds the entity, the period, each
metric, each assessor's rating; and the names those columns may have."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import attrs

from kpirules._core.suggest import did_you_mean
from kpirules.cells import Cell, cell_name
from kpirules.errors import Problem
from kpirules.model import Metric, Ruleset

#: Names of the entity column a metrics file may use; a ruleset may add its own
#: (``data: {entity_column: 医院名称}``).
ENTITY_COLUMNS = ("entity", "编号", "对象", "科室", "部门", "单位", "姓名", "id")
PERIOD_COLUMNS = ("period", "期间")


def column_metrics(ruleset: Ruleset) -> dict[str, str]:
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


#: A title row or two above the header is common; the header is looked for this far down.
HEADER_SEARCH_ROWS = 20

#: ``评委1``, ``报销审核工作质量评分评委2``, ``review_quality_3``, ``服务态度评分（4）``.
_ASSESSOR = re.compile(
    r"^(?P<name>.*?)[\s_\-－（(]*(?P<word>评委|评分人)?\s*(?P<n>\d{1,2})\s*[)）]?$"
)


#: A unit in brackets after a column's label, as the data-entry template writes it.
_UNIT_SUFFIX = re.compile(r"\s*[（(][^（）()]{1,8}[)）]$")


@attrs.frozen
class Layout:
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


class HeaderReader:
    """Finds the header row of a table of cells and what each of its columns holds."""

    def __init__(self, file: str, sheet: str | None, ruleset: Ruleset) -> None:
        self.file = file
        self.sheet = sheet
        self.ruleset = ruleset
        self.problems: list[Problem] = []
        self.columns = column_metrics(ruleset)
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
    ) -> tuple[int, list[str], Layout, list[tuple[int, Sequence[Cell]]]] | None:
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

    def layout(self, row: int, header: list[str]) -> Layout:
        """What each column of the header row ``header`` (row number ``row``) holds."""
        problems: list[Problem] = []
        entities, entity, period = self._key_columns(row, header, problems)
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
            plain = self._without_unit(row, i, name, problems)
            if plain is None:
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
        self._drop_doubled_raters(row, header, raters, seen_metric, problems)
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
        return Layout(entity, period, single, raters, blank, problems, unknown)

    def _drop_doubled_raters(
        self,
        row: int,
        header: list[str],
        raters: dict[int, str],
        seen_metric: dict[str, int],
        problems: list[Problem],
    ) -> None:
        """Assessor columns of a metric that also has a column of its own are a problem."""
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

    def _key_columns(
        self, row: int, header: list[str], problems: list[Problem]
    ) -> tuple[list[int], int | None, int | None]:
        """The entity columns found, the one used, and the period column."""
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
        return entities, entity, period

    def _without_unit(self, row: int, i: int, name: str, problems: list[Problem]) -> str | None:
        """The column name without the unit the template writes after a label (准确率（%）);
        None when that unit is not the metric's (a problem)."""
        plain = _UNIT_SUFFIX.sub("", name)
        if name in self.columns or plain not in self.columns:
            return name
        metric = self.ruleset.metric(self.columns[plain])
        written = name[len(plain) :].strip()[1:-1].strip()
        if written == unit_text(metric):
            return plain
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
        return None

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
