"""The audit ledger: record a scored batch, list the history, verify the chain, replay entries.

Every endpoint here needs the bearer token and a configured ledger file.
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from collections.abc import Callable
from typing import Annotated, Any

import attrs
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kpirules.ledger import Checkpoint, Ledger, LedgerError, engine_changed, record_batch, replay
from kpirules.service import models
from kpirules.service.errors import ServiceError
from kpirules.service.routes.openapi import GUARDED, body
from kpirules.service.settings import Settings
from kpirules.service.state import Service, service_of
from kpirules.service.uploads import exact_json, integral, read_request, strict

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


async def record(
    request: Request, service: Annotated[Service, Depends(service_of)]
) -> dict[str, Any]:
    """Score a batch and append it to the ledger; the answer holds the batch's checkpoint."""
    asked, fields, upload = await read_request(request, models.RecordRequest)
    user = asked.user if asked is not None else fields["user"]
    scored = await service.score_request(asked, fields, upload)
    ledger = service.settings.ledger
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


async def history(service: Annotated[Service, Depends(service_of)]) -> dict[str, Any]:
    """Every recorded entry: when, who, which ruleset version, entity, total, grade."""

    def work(ledger: Ledger) -> dict[str, Any]:
        return {
            "entries": [
                {name: getattr(e, name) for name in models.EntryOut.model_fields}
                for e in ledger.entries()
            ]
        }

    return await _reading(service, work)


async def verify(service: Annotated[Service, Depends(service_of)]) -> dict[str, Any]:
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

    return await _reading(service, work)


async def replay_entries(
    request: Request, service: Annotated[Service, Depends(service_of)]
) -> dict[str, Any]:
    """Re-score recorded entries from their recorded ruleset text and inputs, byte for byte."""
    raw = await request.body()
    asked = strict(models.ReplayRequest, integral(exact_json(raw or b"{}")))

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

    return await _reading(service, work)


def add_routes(router: APIRouter) -> None:
    """Add the ledger endpoints to ``router`` (the application's own), each behind the token."""
    guarded: dict[str, Any] = {
        "tags": ["ledger"],
        "dependencies": [Depends(_authorised)],
        "responses": GUARDED,
    }
    router.add_api_route(
        "/v1/record",
        record,
        methods=["POST"],
        response_model=models.RecordOut,
        openapi_extra=body("RecordRequest"),
        **guarded,
    )
    router.add_api_route(
        "/v1/ledger/history",
        history,
        methods=["GET"],
        response_model=models.HistoryOut,
        **guarded,
    )
    router.add_api_route(
        "/v1/ledger/verify", verify, methods=["GET"], response_model=models.VerifyOut, **guarded
    )
    router.add_api_route(
        "/v1/ledger/replay",
        replay_entries,
        methods=["POST"],
        response_model=models.ReplayOut,
        openapi_extra=body("ReplayRequest", upload=False, required=False),
        **guarded,
    )


def _checkpoint_out(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        **attrs.asdict(checkpoint),
        "head_text": checkpoint.head_text,
        "line": checkpoint.line(),
    }


async def _reading(service: Service, work: Callable[[Ledger], dict[str, Any]]) -> dict[str, Any]:
    """``work`` on the ledger opened read-only in a worker thread; 503 when it cannot be read."""

    def run() -> dict[str, Any]:
        with _open_ledger(service.settings) as ledger:
            return work(ledger)

    try:
        answer: dict[str, Any] = await service.in_worker(run)
    except LedgerError as exc:
        raise ServiceError(503, "ledger_unavailable", str(exc)) from None
    except sqlite3.Error as exc:
        raise ServiceError(503, "ledger_unavailable", f"无法读取审计记录文件：{exc}") from None
    return answer


def _open_ledger(settings: Settings) -> Ledger:
    assert settings.ledger is not None
    if not settings.ledger.is_file():
        raise ServiceError(
            404, "ledger_empty", "审计记录文件还没有建立：先用 POST /v1/record 记录一批计分"
        )
    return Ledger.open_readonly(settings.ledger)
