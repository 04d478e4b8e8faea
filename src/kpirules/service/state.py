"""The state of one running service (settings, ruleset index, worker threads) and scoring.

Endpoints receive it through the ``service_of`` dependency. Scoring runs in worker threads,
each request within the time limit of the settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
from fastapi import Request

from kpirules.inputs import InputError, Row
from kpirules.model import Ruleset
from kpirules.result import EvaluationError, Result
from kpirules.service import models
from kpirules.service.catalog import Catalog, Version
from kpirules.service.errors import ServiceError, evaluation_problem_data, problem_data
from kpirules.service.rows import REQUEST, read_rows
from kpirules.service.settings import Settings
from kpirules.service.uploads import Upload, read_upload

#: Worker threads reading and scoring at once; further requests wait their turn.
WORKERS = 4

#: How rows sent as JSON become rows to score (see :func:`kpirules.service.rows.read_rows`).
RowReader = Callable[[Ruleset, Sequence[models.Row]], list[Row]]


@attrs.frozen
class Scored:
    """A scored request: the version used, the rows, their results and where they came from."""

    version: Version
    period: str | None
    rows: list[Row]
    results: tuple[Result, ...]


class Service:
    """The state of one running service: settings, ruleset index, worker threads.

    ``read_json_rows`` reads the rows of a JSON request; the application passes its own
    so that it can be replaced where the application is built.
    """

    def __init__(self, settings: Settings, read_json_rows: RowReader = read_rows) -> None:
        self.settings = settings
        self.catalog = Catalog.scan(settings.rulesets)
        self._read_json_rows = read_json_rows
        self._workers: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Let the worker threads end once their work is done; new work starts new ones."""
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)
            self._workers = None

    async def in_worker(self, work: Callable[[], Any], *, limited: bool = True) -> Any:
        """Run blocking work in a worker thread; 503 when it takes longer than the limit."""
        if self._workers is None:
            self._workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="kpirules")
        future = asyncio.wrap_future(self._workers.submit(work))
        if not limited:
            return await future
        try:
            return await asyncio.wait_for(future, self.settings.time_limit)
        except TimeoutError:
            raise ServiceError(
                503,
                "time_limit",
                f"计分超过时限 {self.settings.time_limit:g} 秒，未完成；请减少一次提交的对象数后重试",
            ) from None

    async def score(
        self,
        ruleset_id: str,
        period: str | None,
        json_rows: list[models.Row] | None,
        upload: Upload | None,
    ) -> Scored:
        """Pick the version in force, read the rows, score them within the time limit."""
        version = self.catalog.pick(ruleset_id, period)
        if json_rows is not None and len(json_rows) > self.settings.max_entities:
            raise self._too_many(len(json_rows))

        def work() -> Scored:
            if upload is not None:
                rows, locations = read_upload(version.ruleset, period, upload)
                file = upload.name
            else:
                assert json_rows is not None
                try:
                    rows = self._read_json_rows(version.ruleset, json_rows)
                except InputError as exc:
                    raise ServiceError(
                        422,
                        "invalid_data",
                        "请求中的指标数据有误，未计分",
                        [problem_data(p) for p in exc.problems],
                    ) from None
                locations, file = None, REQUEST
            if len(rows) > self.settings.max_entities:
                raise self._too_many(len(rows))
            try:
                results = version.ruleset.evaluate_many(rows)
            except EvaluationError as exc:
                problems = [evaluation_problem_data(p, file, locations) for p in exc.problems]
                if json_rows is not None:
                    # Rows sent as JSON: the problem's place is its row in the request.
                    index = {row.entity: i for i, row in enumerate(json_rows)}
                    for problem in problems:
                        where = f"$.rows[{index.get(problem['entity'] or '', 0)}]"
                        field = problem["field"]
                        problem["path"] = f"{where}.metrics.{field}" if field else where
                raise ServiceError(
                    422, "cannot_score", f"{file}：有对象无法计分，未计分", problems
                ) from None
            return Scored(version, period, rows, results)

        scored: Scored = await self.in_worker(work)
        return scored

    async def score_request(
        self,
        asked: models.ScoreRequest | None,
        fields: dict[str, str | None],
        upload: Upload | None,
    ) -> Scored:
        """Score what :func:`~kpirules.service.uploads.read_request` read: JSON rows or a file."""
        if asked is not None:
            return await self.score(asked.ruleset, asked.period, asked.rows, None)
        assert fields["ruleset"] is not None
        return await self.score(fields["ruleset"], fields["period"], None, upload)

    def _too_many(self, count: int) -> ServiceError:
        return ServiceError(
            422,
            "too_many_entities",
            f"一次最多计分 {self.settings.max_entities} 个对象（提交了 {count} 个）：请分批提交",
        )


async def service_of(request: Request) -> Service:
    """The running service, for endpoints: ``Annotated[Service, Depends(service_of)]``."""
    service: Service = request.app.state.service
    return service
