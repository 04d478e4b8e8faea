"""Scoring a metrics file in chunks, with memory that does not grow with the file.

What ``kpirules score`` does for the table, CSV and JSON formats:

1. **Cohort pass** (only when the ruleset has indicators scored against the cohort —
   ``best_ratio``, ``percentile``, ``rank``): the file is read once and one number per entity
   and cohort indicator is kept (:class:`~kpirules.twopass.CohortSummary`).
2. **Scoring pass**: the file is read again in chunks of :data:`CHUNK` rows; each result is
   rendered at once into its finished output row (text, without its rank), which goes to a
   temporary spill file; what stays in memory is the row's place in that file and its total.
   With ``jobs`` above 1, worker processes score and render the chunks.
3. **Ranking and writing**: the totals give every rank; the rows are read back from the spill
   in rank order (or input order) with their rank filled in, and written out.

Problems of the file are reported as they would be by reading it whole: every reading problem
with its row and column; then every scoring problem, each located by the row it comes from
(the row's locations are kept only while its chunk is scored). Nothing is written when any row
cannot be scored.
"""

from __future__ import annotations

import array
import decimal
import itertools
import json
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from decimal import Decimal
from typing import IO, Any, Protocol

import attrs

from kpirules import report, summary
from kpirules.api import LoadedRuleset
from kpirules.errors import Problem
from kpirules.exact import CONTEXT
from kpirules.headers import Layout
from kpirules.inputs import Locations, MetricsStream, Placed, RawRow, TableReader
from kpirules.model import Ruleset
from kpirules.result import EvaluationError, EvaluationProblem, Result
from kpirules.twopass import CohortSummary, Ranking, UnreadableRowError
from kpirules.words import english

#: Rows scored together: large enough to pay for the hand-over to a worker, small enough
#: that a chunk's rows and locations are a small part of memory.
CHUNK = 256

#: Per row: its rendered text (None if it failed), its total, its problems, whether they are
#: problems of reading its values (reported before any scoring problem); and, for a row whose
#: cells were read in the worker, the problems of its cells and where its values sit.
Outcome = tuple[
    str | None,
    Decimal | None,
    tuple[EvaluationProblem, ...],
    bool,
    tuple[Problem, ...],
    dict[tuple[str, str], tuple[int, int]],
]

#: What a worker needs to read a text row's cells: the file, its header and the header's layout.
Head = tuple[str, list[str], Layout] | None


@attrs.frozen
class Options:
    """How the results are written: ``fmt`` is ``table``, ``csv`` or ``json``."""

    fmt: str
    headers: report.Headers = "zh"
    exact: bool = False
    order: summary.Order = "rank"
    period: str = ""


class ScoringFailedError(Exception):
    """Some rows cannot be scored: ``lines`` says where and why, one problem a line."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def located(file: str, problem: EvaluationProblem, locations: Locations) -> str:
    """An entity's problem as FILE:LINE:COL when the file says where the value belongs."""
    cell = locations.cells.get((problem.entity, problem.field))
    if english():
        text = f"error: {problem}"
    else:
        text = "：".join(p for p in (f"错误 {problem.code}", problem.entity, problem.field) if p)
        text += f"：{problem.message}"
    if cell is not None:
        return f"{locations.place(file, *cell)}: {text}"
    row = locations.rows.get(problem.entity)
    if row is not None:
        return f"{locations.place(file, row, 1)}: {text}"
    return f"{file}: {problem}"


class Renderer:
    """Renders results as rows of one output format, then the whole output from the rows."""

    def __init__(self, ruleset: Ruleset, options: Options) -> None:
        self.ruleset = ruleset
        self.options = options
        empty = summary.ranking_with_items(ruleset, []) if options.fmt == "csv" else None
        self.csv_header = "" if empty is None else report.csv_header(empty, options.headers)
        table = summary.ranking(ruleset, [])
        self.rank_column = table.columns[0]
        self.table_header = table.headers(ids=options.headers == "id")
        self.numeric = {i for i, col in enumerate(table.columns) if col.kind != "text"}

    def rows(self, results: Sequence[Result]) -> list[str]:
        """Each result's output row, without its rank (results in input order)."""
        fmt = self.options.fmt
        if fmt == "json":
            return [_json_element(r) for r in results]
        if fmt == "csv":
            data = summary.ranking_with_items(self.ruleset, results, order="input")
            # The rank (first cell) is empty here; it is written in front later.
            return list(report.csv_rows(data, exact=self.options.exact))
        table = summary.ranking(self.ruleset, results, order="input")
        texts = table.texts(exact=self.options.exact, grouped=True)
        return [json.dumps([t or "—" for t in row[1:]], ensure_ascii=False) for row in texts]

    def write(self, spill: Spill, emit: Callable[[str], None]) -> None:
        """Write the whole output, rows in the chosen order, each with its rank."""
        ranking = Ranking.of(spill.totals)
        n = ranking.size
        order: Iterable[int] = range(n)
        if self.options.order == "rank":
            order = spill.rank_order()
        fmt = self.options.fmt
        if fmt == "json":
            emit("[\n")
            for k, i in enumerate(order):
                rank = ranking.rank(spill.totals[i])
                text = spill.row(i).replace(_RANK_MARK, f'\n    "rank": {rank}', 1)
                emit(
                    ("" if k == 0 else ",\n")
                    + text.replace(_SIZE_MARK, f'\n    "cohort_size": {n}', 1)
                )
            emit("\n]\n")
            return
        if fmt == "csv":
            emit(self.csv_header)
            for i in order:
                emit(self.rank_column.text(ranking.rank(spill.totals[i])) + spill.row(i))
            return
        self._table(spill, ranking, list(order), emit)

    def _table(
        self, spill: Spill, ranking: Ranking, order: list[int], emit: Callable[[str], None]
    ) -> None:
        head = self.table_header
        widths = [report.width(h) for h in head]
        widths[0] = max(widths[0], *(report.width(str(ranking.rank(t))) for t in ranking.totals))
        for i, w in enumerate(spill.widths, start=1):
            widths[i] = max(widths[i], w)
        opts = self.options
        emit(report.title_line(self.ruleset, period=opts.period, exact=opts.exact) + "\n")
        emit(self._line(head, widths, header=True) + "\n")
        emit("  ".join("-" * w for w in widths) + "\n")
        for i in order:
            cells = [
                self.rank_column.text(ranking.rank(spill.totals[i]), grouped=True),
                *json.loads(spill.row(i)),
            ]
            emit(self._line(cells, widths, header=False) + "\n")

    def _line(self, cells: Sequence[str], widths: Sequence[int], *, header: bool) -> str:
        return "  ".join(
            report.pad(cell, widths[i], right=i in self.numeric and not header)
            for i, cell in enumerate(cells)
        ).rstrip()


_RANK_MARK = '\n    "rank": null'
_SIZE_MARK = '\n    "cohort_size": null'


def _json_element(result: Result) -> str:
    """One result as an element of the JSON array ``report.to_json`` writes (rank unset)."""
    text = json.dumps(result.to_dict(), ensure_ascii=False, sort_keys=True, indent=2)
    return "  " + text.replace("\n", "\n  ")


class Spill:
    """Finished output rows in a temporary file, and what ranking needs: each row's total."""

    def __init__(self, table_widths: int = 0) -> None:
        # Closed by close(); a context manager cannot span the scoring pass and the writing.
        self.file: IO[bytes] = tempfile.TemporaryFile(prefix="kpirules-")  # noqa: SIM115
        self.offsets = array.array("q", [0])
        self.totals: list[Decimal] = []
        self._same: dict[Decimal, Decimal] = {}
        self.widths = [0] * table_widths

    def add(self, text: str, total: Decimal) -> None:
        """Keep one row (its text goes to the file) and its total."""
        data = text.encode("utf-8")
        self.file.write(data)
        self.offsets.append(self.offsets[-1] + len(data))
        # Many entities share a total: keep one object per distinct value.
        self.totals.append(self._same.setdefault(total, total))

    def rank_order(self) -> Iterable[int]:
        """Row indexes from the highest total down; equal totals (equal ranks) keep input
        order, as :func:`kpirules.summary.ordered` does."""
        if 8 * len(self._same) > len(self.totals):
            return sorted(range(len(self.totals)), key=self.totals.__getitem__, reverse=True)
        # Few distinct totals (the common case: totals have a few decimal places): one flat
        # array of indexes per total, 8 bytes a row instead of a list of int objects.
        buckets: dict[Decimal, array.array[int]] = {}
        for i, total in enumerate(self.totals):
            buckets.setdefault(total, array.array("q")).append(i)
        return itertools.chain.from_iterable(buckets[t] for t in sorted(buckets, reverse=True))

    def row(self, index: int) -> str:
        """The text of row ``index`` (in input order)."""
        start = self.offsets[index]
        self.file.seek(start)
        return self.file.read(self.offsets[index + 1] - start).decode("utf-8")

    def close(self) -> None:
        self.file.close()


class _Scorer:
    """Scores chunks of rows and renders them (in this process or in a worker)."""

    def __init__(
        self, ruleset: LoadedRuleset, options: Options, cohort: CohortSummary, check_only: bool
    ) -> None:
        self.ruleset = ruleset
        self.engine: Any = ruleset.program
        self.reader: TableReader | None = None
        self.renderer = Renderer(ruleset, options)
        self.cohorts = cohort.cohorts()
        self.check_only = check_only

    def chunk(self, rows: Sequence[tuple[str, Any]], head: Head = None) -> list[Outcome]:
        """Each row's outcome, in order; rows given as :class:`RawRow` are read first."""
        with decimal.localcontext(CONTEXT):
            outcomes: list[Outcome] = []
            scored: list[tuple[int, Result]] = []
            for entity, given in rows:
                values, read, cells = self._read(entity, given, head)
                if read:
                    outcomes.append((None, None, (), True, read, cells))
                    continue
                found = self.one(entity, values)
                if isinstance(found, Result):
                    scored.append((len(outcomes), found))
                    outcomes.append((None, found.total, (), False, (), cells))
                else:
                    unread = isinstance(found, UnreadableRowError)
                    outcomes.append((None, None, tuple(found.problems), unread, (), cells))
            texts = self.renderer.rows([r for _, r in scored])
            for (at, result), text in zip(scored, texts, strict=True):
                outcomes[at] = (text, result.total, (), False, (), outcomes[at][5])
            return outcomes

    def _read(
        self, entity: str, given: Any, head: Head
    ) -> tuple[Any, tuple[Problem, ...], dict[tuple[str, str], tuple[int, int]]]:
        """The row's values, the problems of its cells, and where its values sit."""
        if not isinstance(given, RawRow) or head is None:
            return given, (), {}
        file, header, layout = head
        if self.reader is None or self.reader.file != file:
            self.reader = TableReader(file, None, self.ruleset, Locations())
        values, cells, problems = self.reader.parse(given, entity, header, layout)
        return values, tuple(problems), cells

    def one(self, entity: str, values: Any) -> Result | EvaluationError:
        """One row's result (no rank), or why it cannot be scored."""
        try:
            if self.check_only:
                wrong = self.engine.check_entity(entity)
                if wrong is not None:
                    return UnreadableRowError([wrong])
                self.engine.read_inputs(entity, values)
                return EvaluationError([])
            found: Result | EvaluationError = self.engine.score_one(entity, values, self.cohorts)
        except EvaluationError as exc:
            return UnreadableRowError(list(exc.problems))
        except Exception as exc:
            message = f"这一行计分时程序出错（{type(exc).__name__}），未计分"
            return EvaluationError([EvaluationProblem(entity, "", message, code="KR621")])
        return found


_worker: _Scorer | None = None


def _start_worker(
    ruleset: LoadedRuleset, options: Options, cohort: CohortSummary, check: bool
) -> None:
    global _worker
    _worker = _Scorer(ruleset, options, cohort, check)


def _work(rows: Sequence[tuple[str, Any]], head: Head) -> list[Outcome]:
    assert _worker is not None
    return _worker.chunk(rows, head)


Chunk = list[Placed]


def _chunks(rows: Iterator[Placed]) -> Iterator[Chunk]:
    while chunk := list(itertools.islice(rows, CHUNK)):
        yield chunk


def _scored(
    chunks: Iterator[Chunk],
    stream: MetricsStream,
    scorer: _Scorer,
    pool: ProcessPoolExecutor | None,
    window: int,
) -> Iterator[tuple[Chunk, list[Outcome] | None]]:
    """Each chunk with its outcomes, in order; None for a chunk whose worker died.

    At most ``window`` chunks are in the workers' hands at once, so reading runs only a
    little ahead of scoring.
    """
    if pool is None:
        for chunk in chunks:
            yield chunk, scorer.chunk([(e, v) for e, v, _ in chunk], _head(stream))
        return
    pending: deque[tuple[Chunk, Future[list[Outcome]]]] = deque()
    for chunk in chunks:
        rows = [(e, v) for e, v, _ in chunk]
        pending.append((chunk, pool.submit(_work, rows, _head(stream))))
        if len(pending) >= window:
            yield _collect(*pending.popleft())
    while pending:
        yield _collect(*pending.popleft())


def _head(stream: MetricsStream) -> Head:
    table = stream.table
    if table is None or table.layout_found is None:
        return None
    return stream.file, table.header, table.layout_found


def _collect(chunk: Chunk, future: Future[list[Outcome]]) -> tuple[Chunk, list[Outcome] | None]:
    try:
        return chunk, future.result()
    except BrokenProcessPool:
        return chunk, None


class _Tally:
    """Problems found while scoring, located while their rows' locations are at hand."""

    def __init__(self, file: str, cohort_problem: EvaluationProblem | None) -> None:
        self.file = file
        self.unreadable: list[str] = []
        self.failed: list[str] = []
        self.cohort_problem = cohort_problem
        self.cohort_line: str | None = None
        self.read: list[Problem] = []

    def chunk(self, chunk: Chunk, outcomes: list[Outcome] | None, spill: Spill | None) -> None:
        if outcomes is None:
            entity, _, where = chunk[0]
            message = f"计分进程意外退出（从这一行起的 {len(chunk)} 行未计分）"
            problem = EvaluationProblem(entity, "", message, code="KR622")
            self.failed.append(located(self.file, problem, where))
            return
        for (entity, _, where), outcome in zip(chunk, outcomes, strict=True):
            text, total, problems, unread, read, cells = outcome
            self.read.extend(read)
            where.cells.update(cells)
            if self.cohort_problem is not None and entity == self.cohort_problem.entity:
                self.cohort_line = located(self.file, self.cohort_problem, where)
            if problems:
                into = self.unreadable if unread else self.failed
                into.extend(located(self.file, p, where) for p in problems)
            elif text is not None and total is not None and spill is not None and self.ok():
                spill.add(text, total)

    def ok(self) -> bool:
        return not (self.unreadable or self.failed or self.cohort_problem or self.read)

    def raise_any(self) -> None:
        if self.unreadable:
            raise ScoringFailedError(self.unreadable)
        if self.cohort_problem is not None:
            raise ScoringFailedError([self.cohort_line or f"{self.file}: {self.cohort_problem}"])
        if self.failed:
            raise ScoringFailedError(self.failed)


class Progress(Protocol):
    """Something told how many more rows are done (a progress bar such as tqdm's)."""

    def update(self, n: int = 1) -> object:
        """``n`` more rows are done."""


def score_file(
    ruleset: LoadedRuleset,
    stream: MetricsStream,
    options: Options,
    emit: Callable[[str], None],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
) -> int:
    """Score every row of ``stream`` and hand the whole output to ``emit`` piece by piece.

    Returns the number of entities. Raises :class:`~kpirules.inputs.InputError` for problems
    of the file and :class:`ScoringFailedError` for rows that cannot be scored, before ``emit``
    is called at all.
    """
    with decimal.localcontext(CONTEXT):
        engine: Any = ruleset.program
        cohort = CohortSummary()
        problem: EvaluationProblem | None = None
        if engine.cohort_items:
            try:
                cohort = engine.cohort_summary((e, v) for e, v, _ in stream.rows())
            except EvaluationError as exc:
                problem = exc.problems[0]
        check_only = problem is not None
        scorer = _Scorer(ruleset, options, cohort, check_only)
        spill = Spill(len(scorer.renderer.table_header) - 1)
        tally = _Tally(stream.file, problem)
        pool = None
        if jobs > 1:
            pool = ProcessPoolExecutor(
                jobs, initializer=_start_worker, initargs=(ruleset, options, cohort, check_only)
            )
        try:
            rows = stream.rows(defer=True)
            for chunk, outcomes in _scored(_chunks(rows), stream, scorer, pool, 2 * jobs):
                tally.chunk(chunk, outcomes, spill)
                if options.fmt == "table" and tally.ok():
                    _widen(spill, chunk, outcomes)
                if progress is not None:
                    progress.update(len(chunk))
            stream.finish(tally.read)
            tally.raise_any()
            scorer.renderer.write(spill, emit)
            return len(spill.totals)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
            spill.close()


def _widen(spill: Spill, chunk: Chunk, outcomes: list[Outcome] | None) -> None:
    """Widen the table's columns to the cells of these rows."""
    for text, *_ in outcomes or ():
        if text is not None:
            for i, cell in enumerate(json.loads(text)):
                spill.widths[i] = max(spill.widths[i], report.width(cell))


def _work_results(rows: Sequence[tuple[str, Any]]) -> list[Result | EvaluationError]:
    assert _worker is not None
    with decimal.localcontext(CONTEXT):
        return [_worker.one(entity, values) for entity, values in rows]


def score_rows(
    ruleset: LoadedRuleset, rows: Iterable[tuple[str, Mapping[str, object]]], *, jobs: int = 1
) -> tuple[Result, ...]:
    """Score (entity, metrics) rows as :meth:`Ruleset.evaluate_many` does — the same results,
    ranks and problems — in ``jobs`` worker processes (each compiles the ruleset once).

    ``rows`` may be an iterator; it is read once, and held whole only when the ruleset has
    indicators scored against the cohort. Raises :class:`~kpirules.EvaluationError` with
    every problem: those of reading the rows first, as ``evaluate_many`` reports them.
    """
    with decimal.localcontext(CONTEXT):
        engine: Any = ruleset.program
        cohort = CohortSummary()
        problem: EvaluationError | None = None
        if engine.cohort_items:
            rows = list(rows)
            try:
                cohort = engine.cohort_summary(rows)
            except EvaluationError as exc:
                problem = exc
        scorer = _Scorer(ruleset, Options("json"), cohort, check_only=problem is not None)
        unreadable: list[EvaluationProblem] = []
        failed: list[EvaluationProblem] = []
        results: list[Result] = []
        seen: dict[str, int] = {}
        pool = None
        if jobs > 1:
            pool = ProcessPoolExecutor(
                jobs,
                initializer=_start_worker,
                initargs=(ruleset, Options("json"), cohort, problem is not None),
            )
        try:
            todo = _distinct(rows, seen, unreadable)
            for found in _results(todo, scorer, pool, 2 * jobs):
                if isinstance(found, Result):
                    results.append(found)
                else:
                    unread = isinstance(found, UnreadableRowError)
                    (unreadable if unread else failed).extend(found.problems)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        if unreadable:
            raise EvaluationError(unreadable)
        if problem is not None:
            raise problem
        if failed:
            raise EvaluationError(failed)
        ranking = Ranking.of(r.total for r in results)
        return tuple(
            attrs.evolve(r, rank=ranking.rank(r.total), cohort_size=ranking.size) for r in results
        )


def _distinct(
    rows: Iterable[tuple[str, Mapping[str, object]]],
    seen: dict[str, int],
    problems: list[EvaluationProblem],
) -> Iterator[tuple[str, Mapping[str, object]]]:
    """The rows whose entity id was not given before (the others are problems, KR609)."""
    for index, (entity, metrics) in enumerate(rows):
        if isinstance(entity, str) and entity in seen:
            message = f"编号重复：第 {seen[entity] + 1} 条和第 {index + 1} 条都是 “{entity}”"
            problems.append(EvaluationProblem(entity, "", message, code="KR609"))
            continue
        if isinstance(entity, str):
            seen[entity] = index
        yield entity, metrics


def _results(
    rows: Iterator[tuple[str, Mapping[str, object]]],
    scorer: _Scorer,
    pool: ProcessPoolExecutor | None,
    window: int,
) -> Iterator[Result | EvaluationError]:
    pieces = iter(lambda: list(itertools.islice(rows, CHUNK)), [])
    if pool is None:
        for piece in pieces:
            yield from (scorer.one(entity, values) for entity, values in piece)
        return
    pending: deque[Future[list[Result | EvaluationError]]] = deque()
    for piece in pieces:
        pending.append(pool.submit(_work_results, piece))
        if len(pending) >= window:
            yield from pending.popleft().result()
    while pending:
        yield from pending.popleft().result()
