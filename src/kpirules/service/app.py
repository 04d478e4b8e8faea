"""The HTTP API under ``/v1`` and the web page at ``/``: ``create_app(settings)``.

Scoring runs in worker threads, each request within a time limit; request bodies and the
number of entities are capped (see :mod:`kpirules.service.settings` for the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import io
import json
import re
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import attrs
from fastapi import Depends, FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kpirules import __version__, report, summary
from kpirules.errors import Problem
from kpirules.inputs import InputError, Locations, Row, SheetError
from kpirules.ledger import Checkpoint, Ledger, LedgerError, engine_changed, record_batch, replay
from kpirules.model import Ruleset
from kpirules.periods import PeriodError
from kpirules.result import EvaluationError, Result
from kpirules.service import models
from kpirules.service.catalog import Catalog, Version, parse
from kpirules.service.errors import (
    ServiceError,
    error_body,
    evaluation_problem_data,
    install_handlers,
    problem_data,
    validation_problems,
)
from kpirules.service.rows import REQUEST, read_rows
from kpirules.service.settings import Settings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What the page and every answer may load: nothing but this service itself.
CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#: Worker threads reading and scoring at once; further requests wait their turn.
WORKERS = 4
_UPLOAD_SUFFIXES = (".xlsx", ".csv", ".yaml", ".yml", ".json")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

T = TypeVar("T", bound=BaseModel)


@attrs.frozen
class Scored:
    """A scored request: the version used, the rows, their results and where they came from."""

    version: Version
    period: str | None
    rows: list[Row]
    results: tuple[Result, ...]


@attrs.frozen
class Upload:
    """An uploaded metrics file: its bytes, the name shown in messages, its suffix."""

    data: bytes
    name: str
    suffix: str
    sheet: str | None


class BodyLimit:
    """Refuse (413) a request body larger than the limit, before the application reads it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            if len(body) > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay_body, send)

    async def _refuse(self, send: Send) -> None:
        mib = self.limit / (1024 * 1024)
        body = json.dumps(
            error_body("body_too_large", f"请求内容超过上限 {mib:g} MiB（{self.limit} 字节）"),
            ensure_ascii=False,
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    *_SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Add the content security policy and friends to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in _SECURITY_HEADERS if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def exact_json(raw: bytes) -> Any:
    """Parse a JSON body with every number as the ``Decimal`` of its text (never a float)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} 不是数字")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError(422, "invalid_json", "请求内容不是 UTF-8 编码的 JSON") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise ServiceError(
            422,
            "invalid_json",
            f"请求内容不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ServiceError(422, "invalid_json", f"请求内容不是有效的 JSON：{exc}") from None


def strict(model: type[T], data: Any) -> T:
    """``data`` as ``model`` in strict mode, or 422 with every problem at its JSON path."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise ServiceError(
            422, "invalid_request", "请求内容不符合要求", validation_problems(errors)
        ) from None


def _integral(data: Any) -> Any:
    """Whole ``Decimal`` numbers as ``int`` (for fields that are integers, not metrics)."""
    if isinstance(data, dict):
        return {k: _integral(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_integral(v) for v in data]
    if isinstance(data, Decimal) and data.is_finite() and data.as_tuple().exponent == 0:
        # Written without a fraction or exponent: 3, not 3.0 or 3e0.
        return int(data)
    return data


def _display_name(filename: str | None, suffix: str) -> str:
    """The uploaded file's own name, for messages only (never a path on this machine)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = _CONTROL.sub("", name).strip()[:120]
    return name or f"上传的文件{suffix}"


async def _form_text(form: Any, key: str) -> str | None:
    value = form.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ServiceError(422, "invalid_request", f"表单项 {key} 应为文字，不是文件")
    return value.strip() or None


async def _from_form(form: Any) -> tuple[dict[str, str | None], Upload]:
    """The fields and the uploaded metrics file of a multipart form."""
    fields = {
        k: await _form_text(form, k) for k in ("ruleset", "period", "sheet", "entity", "user")
    }
    unknown = sorted(set(form.keys()) - {*fields, "file"})
    if unknown:
        raise ServiceError(422, "invalid_form", f"表单中有不认识的项：{'、'.join(unknown)}")
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise ServiceError(422, "invalid_form", "表单缺少指标数据文件（file）")
    suffix = Path(_display_name(file.filename, "")).suffix.lower()
    if suffix not in _UPLOAD_SUFFIXES:
        raise ServiceError(
            422,
            "unsupported_file",
            f"不能读取 “{_display_name(file.filename, '')}”：指标数据文件应为 .xlsx、.csv、.yaml 或 .json",
        )
    data = await file.read()
    upload = Upload(data, _display_name(file.filename, suffix), suffix, fields["sheet"])
    if not fields["ruleset"]:
        raise ServiceError(422, "invalid_form", "表单缺少规则集编号（ruleset）")
    return fields, upload


class Service:
    """The state of one running service: settings, ruleset index, worker threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog.scan(settings.rulesets)
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

    async def request_of(
        self, request: Request, model: type[T]
    ) -> tuple[T | None, dict[str, str | None], Upload | None]:
        """The JSON request as ``model``, or the form fields and uploaded file of a multipart one."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            return strict(model, exact_json(await request.body())), {}, None
        if kind == "multipart/form-data":
            try:
                form = await request.form(max_files=1, max_fields=20)
            except Exception:  # the multipart parser's errors: too many parts, a broken body
                raise ServiceError(
                    422,
                    "invalid_form",
                    "表单无法读取：应为 multipart/form-data，最多 20 项、1 个文件",
                ) from None
            try:
                fields, upload = await _from_form(form)
            finally:
                await form.close()
            return None, fields, upload
        raise ServiceError(
            415,
            "unsupported_media_type",
            f"不支持内容类型 “{kind or '（未给出）'}”：请用 application/json 或 multipart/form-data",
        )

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
                rows, locations = self._read_upload(version.ruleset, period, upload)
                file = upload.name
            else:
                assert json_rows is not None
                try:
                    rows = read_rows(version.ruleset, json_rows)
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

    def _too_many(self, count: int) -> ServiceError:
        return ServiceError(
            422,
            "too_many_entities",
            f"一次最多计分 {self.settings.max_entities} 个对象（提交了 {count} 个）：请分批提交",
        )

    def _read_upload(
        self, ruleset: Ruleset, period: str | None, upload: Upload
    ) -> tuple[list[Row], Locations]:
        """Read an uploaded metrics file from a private temporary folder; problems name the
        upload by its own name."""
        # Imported here: the command line module is only needed for reading uploads.
        from kpirules.cli import _rows_for

        locations = Locations()
        with tempfile.TemporaryDirectory(prefix="kpirules-upload-") as folder:
            path = Path(folder) / f"upload{upload.suffix}"
            path.write_bytes(upload.data)
            here = str(path)

            def named(text: str) -> str:
                return text.replace(here, upload.name)

            # What the reader says about rolling periods up is for a terminal, not an answer.
            notes = io.StringIO()
            args = argparse.Namespace(metrics=here, encoding=None, sheet=upload.sheet)
            try:
                rows = _rows_for(args, ruleset, parse(period) if period else None, notes, locations)
            except SheetError as exc:
                raise ServiceError(422, "no_such_sheet", named(str(exc))) from None
            except InputError as exc:
                problems = [
                    problem_data(attrs.evolve(p, file=upload.name) if p.file == here else p)
                    for p in exc.problems
                ]
                raise ServiceError(
                    422, "invalid_data", f"{upload.name}：指标数据有误，未计分", problems
                ) from None
            except PeriodError as exc:
                raise ServiceError(422, "period", named(str(exc))) from None
        return rows, locations


def _version_out(version: Version) -> dict[str, Any]:
    ruleset = version.ruleset
    return {
        "version": ruleset.version,
        "title": ruleset.title,
        "file": version.file,
        "in_force": {"start": ruleset.in_force.start, "end": ruleset.in_force.end},
    }


def _attachment(name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _checkpoint_out(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        **attrs.asdict(checkpoint),
        "head_text": checkpoint.head_text,
        "line": checkpoint.line(),
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": models.ErrorOut, "description": words}
    for status, words in (
        (404, "没有这个地址或规则集"),
        (405, "不支持此请求方法"),
        (413, "请求内容太大"),
        (415, "不支持此内容类型"),
        (422, "请求、规则集或数据有误"),
        (500, "服务内部出错"),
        (503, "超过时限"),
    )
}
_GUARDED: dict[int | str, dict[str, Any]] = {
    401: {"model": models.ErrorOut, "description": "缺少令牌或令牌不对"},
    403: {"model": models.ErrorOut, "description": "服务没有配置令牌或审计记录文件"},
}


def _body(*names: str, upload: bool = True, required: bool = True) -> dict[str, Any]:
    """The requestBody of an endpoint that parses its own body (exact numbers, uploads)."""
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{names[0]}"}}
    }
    if upload:
        content["multipart/form-data"] = {"schema": {"$ref": "#/components/schemas/ScoreUpload"}}
    return {"requestBody": {"required": required, "content": content}}


_UPLOAD_SCHEMA = {
    "title": "ScoreUpload",
    "type": "object",
    "required": ["ruleset", "file"],
    "properties": {
        "ruleset": {"type": "string", "description": "规则集编号"},
        "period": {"type": "string", "description": "期间，如 2026"},
        "sheet": {"type": "string", "description": "要读的工作表"},
        "entity": {"type": "string", "description": "要解释的对象（仅 /v1/explain）"},
        "user": {"type": "string", "description": "操作人（仅 /v1/record）"},
        "file": {
            "type": "string",
            "format": "binary",
            "description": "指标数据：.xlsx/.csv/.yaml/.json",
        },
    },
}


_bearer = HTTPBearer(auto_error=False, description="--token-file 或 KPIRULES_TOKEN 中的令牌")


def _authorised(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The bearer token of the recording and ledger endpoints, compared in constant time."""
    settings: Settings = request.app.state.service.settings
    if settings.token is None:
        raise ServiceError(
            403,
            "recording_disabled",
            "服务没有配置令牌（--token-file 或环境变量 KPIRULES_TOKEN），不接受记录和审计记录请求",
        )
    given = credentials.credentials.encode("utf-8") if credentials else b""
    if not hmac.compare_digest(given, settings.token.encode("utf-8")):
        raise ServiceError(
            401,
            "unauthorized",
            "需要有效的令牌：请求头 Authorization: Bearer <令牌>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if settings.ledger is None:
        raise ServiceError(
            403, "no_ledger", "服务没有配置审计记录文件（--ledger），不接受记录和审计记录请求"
        )


def create_app(settings: Settings) -> FastAPI:
    """The application: the API under ``/v1``, its OpenAPI document, and the page at ``/``."""
    service = Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        lifespan=lifespan,
        title="kpirules",
        version=__version__,
        description="绩效考核规则引擎的 HTTP 接口：列出规则集、检查规则集、计分、解释、记录与核查。",
        docs_url=None,
        redoc_url=None,
        responses=_ERRORS,
    )
    app.state.service = service
    install_handlers(app)
    guarded = [Depends(_authorised)]

    @app.get("/v1/rulesets", response_model=models.RulesetsOut, tags=["rulesets"])
    def rulesets() -> dict[str, Any]:
        """Every ruleset in the folder, its versions with their dates in force and files."""
        return {
            "rulesets": [
                {
                    "id": rid,
                    "title": versions[-1].ruleset.title,
                    "versions": [_version_out(v) for v in versions],
                }
                for rid, versions in service.catalog.by_id.items()
            ],
            "invalid": [problem_data(p) for p in service.catalog.invalid],
        }

    @app.get(
        "/v1/rulesets/{ruleset_id}/in-force", response_model=models.ChosenOut, tags=["rulesets"]
    )
    def in_force_for(
        ruleset_id: str, period: Annotated[str, Query(min_length=1, description="期间，如 2026")]
    ) -> dict[str, Any]:
        """Which version of the ruleset is in force for the period."""
        version = service.catalog.pick(ruleset_id, period)
        return {"id": ruleset_id, "period": period, "version": _version_out(version)}

    @app.post(
        "/v1/validate",
        response_model=models.ValidateOut,
        tags=["rulesets"],
        openapi_extra=_body("ValidateRequest", upload=False),
    )
    async def validate(request: Request) -> dict[str, Any]:
        """Check a ruleset sent as text: every problem with line, column, path and suggestion."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise ServiceError(
                415, "unsupported_media_type", '请用 application/json 提交 {"text": 规则集全文}'
            )
        asked = strict(models.ValidateRequest, exact_json(await request.body()))
        name = _display_name(asked.name, ".yaml")
        checked: dict[str, Any] = await service.in_worker(lambda: _check_text(name, asked.text))
        return checked

    score_responses: dict[int | str, dict[str, Any]] = {
        200: {
            "model": list[models.ResultOut],
            "description": "每个对象的结果（与 kpirules score --format json 逐字节相同），或 Excel 工作簿、CSV、HTML 报告",
            "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    }

    @app.post(
        "/v1/score",
        tags=["scoring"],
        responses=score_responses,
        openapi_extra=_body("ScoreRequest"),
    )
    async def score(
        request: Request,
        format: Annotated[
            Literal["json", "xlsx", "csv", "html"] | None,
            Query(description="结果格式；缺省时按 Accept 请求头，再缺省为 json"),
        ] = None,
    ) -> Response:
        """Score rows (JSON) or an uploaded metrics file (multipart) for a period."""
        scored = await _scored(request, models.ScoreRequest)
        chosen = format or _accepted(request.headers.get("accept", ""))
        ruleset = scored.version.ruleset
        if chosen == "xlsx":
            from kpirules import workbook

            data = await service.in_worker(
                lambda: workbook.to_xlsx(
                    ruleset, scored.results, period=scored.period or "", order="rank"
                )
            )
            return Response(
                data, media_type=XLSX, headers={"Content-Disposition": _attachment("结果.xlsx")}
            )
        if chosen == "html":
            from kpirules import html_report

            page = await service.in_worker(
                lambda: html_report.render(ruleset, scored.results, period=scored.period or "")
            )
            return Response(
                page.encode("utf-8"),
                media_type="text/html; charset=utf-8",
                headers={"Content-Disposition": _attachment("报告.html")},
            )
        if chosen == "csv":
            text = report.to_csv(ruleset, scored.results, order="rank")
            return Response(
                text.encode("utf-8-sig"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": _attachment("结果.csv")},
            )
        body = report.to_json(summary.ordered(scored.results, "input"))
        return Response(body.encode("utf-8"), media_type="application/json")

    async def _scored(request: Request, model: type[models.ScoreRequest]) -> Scored:
        asked, fields, upload = await service.request_of(request, model)
        if asked is not None:
            return await service.score(asked.ruleset, asked.period, asked.rows, None)
        assert fields["ruleset"] is not None
        return await service.score(fields["ruleset"], fields["period"], None, upload)

    @app.post(
        "/v1/explain",
        response_model=models.ExplainOut,
        tags=["scoring"],
        openapi_extra=_body("ExplainRequest"),
    )
    async def explain(request: Request) -> dict[str, Any]:
        """Score and explain one entity: the reasoning as text, and the result itself."""
        asked, fields, upload = await service.request_of(request, models.ExplainRequest)
        if asked is not None:
            assert isinstance(asked, models.ExplainRequest)
            entity = asked.entity
            scored = await service.score(asked.ruleset, asked.period, asked.rows, None)
        else:
            if not fields["entity"]:
                raise ServiceError(422, "invalid_form", "表单缺少要解释的对象（entity）")
            entity = fields["entity"]
            assert fields["ruleset"] is not None
            scored = await service.score(fields["ruleset"], fields["period"], None, upload)
        found = [r for r in scored.results if r.entity == entity]
        if not found:
            known = "、".join(r.entity for r in scored.results[:20])
            raise ServiceError(422, "entity_not_found", f"数据中没有对象 “{entity}”（有：{known}）")
        result = found[0]
        return {
            "entity": entity,
            "text": report.explain(scored.version.ruleset, result),
            "result": json.loads(result.to_json()),
        }

    @app.post(
        "/v1/record",
        response_model=models.RecordOut,
        tags=["ledger"],
        dependencies=guarded,
        responses=_GUARDED,
        openapi_extra=_body("RecordRequest"),
    )
    async def record(request: Request) -> dict[str, Any]:
        """Score a batch and append it to the ledger; the answer holds the batch's checkpoint."""
        asked, fields, upload = await service.request_of(request, models.RecordRequest)
        if asked is not None:
            assert isinstance(asked, models.RecordRequest)
            user = asked.user
            scored = await service.score(asked.ruleset, asked.period, asked.rows, None)
        else:
            user = fields["user"]
            assert fields["ruleset"] is not None
            scored = await service.score(fields["ruleset"], fields["period"], None, upload)
        ledger = settings.ledger
        assert ledger is not None

        def write() -> tuple[int, int, Checkpoint]:
            entries, checkpoint = record_batch(
                ledger,
                scored.version.ruleset,
                scored.rows,
                scored.results,
                period=scored.period or "",
                user=user,
            )
            return entries[0].seq, entries[-1].seq, checkpoint

        try:
            # Not cut off by the time limit: a batch being written is finished and answered.
            first, last, checkpoint = await service.in_worker(write, limited=False)
        except LedgerError as exc:
            raise ServiceError(503, "ledger_unavailable", str(exc)) from None
        return {
            "first": first,
            "last": last,
            "checkpoint": _checkpoint_out(checkpoint),
            "results": [json.loads(r.to_json()) for r in scored.results],
        }

    def _open_ledger() -> Ledger:
        assert settings.ledger is not None
        if not settings.ledger.is_file():
            raise ServiceError(
                404, "ledger_empty", "审计记录文件还没有建立：先用 POST /v1/record 记录一批计分"
            )
        return Ledger.open_readonly(settings.ledger)

    async def _reading(work: Callable[[Ledger], dict[str, Any]]) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with _open_ledger() as ledger:
                return work(ledger)

        try:
            answer: dict[str, Any] = await service.in_worker(run)
        except LedgerError as exc:
            raise ServiceError(503, "ledger_unavailable", str(exc)) from None
        except sqlite3.Error as exc:
            raise ServiceError(503, "ledger_unavailable", f"无法读取审计记录文件：{exc}") from None
        return answer

    @app.get(
        "/v1/ledger/history",
        response_model=models.HistoryOut,
        tags=["ledger"],
        dependencies=guarded,
        responses=_GUARDED,
    )
    async def history() -> dict[str, Any]:
        """Every recorded entry: when, who, which ruleset version, entity, total, grade."""

        def work(ledger: Ledger) -> dict[str, Any]:
            return {
                "entries": [
                    {name: getattr(e, name) for name in models.EntryOut.model_fields}
                    for e in ledger.entries()
                ]
            }

        return await _reading(work)

    @app.get(
        "/v1/ledger/verify",
        response_model=models.VerifyOut,
        tags=["ledger"],
        dependencies=guarded,
        responses=_GUARDED,
    )
    async def verify() -> dict[str, Any]:
        """Check the hash chain and the stored checkpoints; the current head."""

        def work(ledger: Ledger) -> dict[str, Any]:
            findings = ledger.verify()
            size, head = ledger.head()
            return {
                "intact": not findings,
                "size": size,
                "head": head,
                "ledger_id": ledger.ledger_id,
                "findings": findings,
            }

        return await _reading(work)

    @app.post(
        "/v1/ledger/replay",
        response_model=models.ReplayOut,
        tags=["ledger"],
        dependencies=guarded,
        responses=_GUARDED,
        openapi_extra=_body("ReplayRequest", upload=False, required=False),
    )
    async def replay_entries(request: Request) -> dict[str, Any]:
        """Re-score recorded entries from their recorded ruleset text and inputs, byte for byte."""
        raw = await request.body()
        asked = strict(models.ReplayRequest, _integral(exact_json(raw or b"{}")))

        def work(ledger: Ledger) -> dict[str, Any]:
            size, _ = ledger.head()
            if asked.entry is not None and asked.entry > size:
                raise ServiceError(
                    404, "entry_not_found", f"审计记录中没有第 {asked.entry} 条（共 {size} 条）"
                )
            note = engine_changed(ledger, asked.entry)
            done = replay(ledger, asked.entry)
            return {
                "same": sum(r.same for r in done),
                "total": len(done),
                "engine_note": note,
                "entries": [attrs.asdict(r) for r in done],
            }

        return await _reading(work)

    @app.get(
        "/v1/template/{ruleset_id}",
        tags=["rulesets"],
        responses={
            200: {
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                "description": "填报模板",
            }
        },
        response_class=Response,
    )
    async def template(
        ruleset_id: str,
        period: Annotated[
            str | None, Query(description="期间，如 2026（有多个版本时必填）")
        ] = None,
    ) -> Response:
        """The data-entry workbook of the ruleset version in force for the period."""
        from kpirules.template import build_template

        version = service.catalog.pick(ruleset_id, period)
        data = await service.in_worker(lambda: build_template(version.ruleset, [], version.file))
        return Response(
            data,
            media_type=XLSX,
            headers={"Content-Disposition": _attachment(f"{version.ruleset.title}-填报模板.xlsx")},
        )

    _page_routes(app)
    _openapi(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def _accepted(accept: str) -> str:
    if XLSX in accept:
        return "xlsx"
    if "text/html" in accept:
        return "html"
    if "text/csv" in accept:
        return "csv"
    return "json"


def _check_text(name: str, text: str) -> dict[str, Any]:
    """Check a ruleset text without touching the file system (tests files are refused: they
    name a ruleset file to read)."""
    from kpirules.api import TESTS_KEY, check
    from kpirules.loader import load_yaml

    doc, problems = load_yaml(name, text=text)
    if doc is not None and not problems and isinstance(doc.data, dict) and TESTS_KEY in doc.data:
        refused = Problem(
            name,
            1,
            1,
            "$",
            "error",
            "这里只检查规则集；测试文件请在命令行用 kpirules test 运行",
            code="KR415",
        )
        return {"valid": False, "problems": [problem_data(refused)]}
    ruleset, found = check(name, text=text, read_files=False)
    return {"valid": ruleset is not None, "problems": [problem_data(p) for p in found]}


def _asset(name: str) -> bytes:
    return resources.files("kpirules.service").joinpath("page", name).read_bytes()


def _page_routes(app: FastAPI) -> None:
    page = _asset("index.html")
    style = _asset("page.css")
    script = _asset("page.js")

    def static(data: bytes, media: str) -> Callable[[], Awaitable[Response]]:
        async def serve() -> Response:
            return Response(data, media_type=media, headers={"Cache-Control": "no-cache"})

        return serve

    app.add_api_route(
        "/",
        static(page, "text/html; charset=utf-8"),
        methods=["GET", "HEAD"],
        include_in_schema=False,
    )
    app.add_api_route(
        "/page.css", static(style, "text/css; charset=utf-8"), include_in_schema=False
    )
    app.add_api_route(
        "/page.js", static(script, "text/javascript; charset=utf-8"), include_in_schema=False
    )


def _openapi(app: FastAPI) -> None:
    """Add the request models of the endpoints that read their own body to the document."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (
            models.ScoreRequest,
            models.ExplainRequest,
            models.RecordRequest,
            models.ReplayRequest,
            models.ValidateRequest,
        ):
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(found.pop("$defs", {}))
            schemas[model.__name__] = found
        schemas["ScoreUpload"] = _UPLOAD_SCHEMA
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
