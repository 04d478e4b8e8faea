"""Scoring: results as JSON, a workbook, CSV or an HTML report; one entity explained."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from kpirules import report, summary
from kpirules.service import models
from kpirules.service.downloads import XLSX, attachment
from kpirules.service.errors import ServiceError
from kpirules.service.routes.openapi import body
from kpirules.service.state import Service, service_of
from kpirules.service.uploads import read_request

_SCORE_RESPONSES: dict[int | str, dict[str, Any]] = {
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


async def score(
    request: Request,
    service: Annotated[Service, Depends(service_of)],
    format: Annotated[
        Literal["json", "xlsx", "csv", "html"] | None,
        Query(description="结果格式；缺省时按 Accept 请求头，再缺省为 json"),
    ] = None,
) -> Response:
    """Score rows (JSON) or an uploaded metrics file (multipart) for a period."""
    scored = await service.score_request(*await read_request(request, models.ScoreRequest))
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
            data, media_type=XLSX, headers={"Content-Disposition": attachment("结果.xlsx")}
        )
    if chosen == "html":
        from kpirules import html_report

        page = await service.in_worker(
            lambda: html_report.render(ruleset, scored.results, period=scored.period or "")
        )
        return Response(
            page.encode("utf-8"),
            media_type="text/html; charset=utf-8",
            headers={"Content-Disposition": attachment("报告.html")},
        )
    if chosen == "csv":
        text = report.to_csv(ruleset, scored.results, order="rank")
        return Response(
            text.encode("utf-8-sig"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": attachment("结果.csv")},
        )
    body_text = report.to_json(summary.ordered(scored.results, "input"))
    return Response(body_text.encode("utf-8"), media_type="application/json")


async def explain(
    request: Request, service: Annotated[Service, Depends(service_of)]
) -> dict[str, Any]:
    """Score and explain one entity: the reasoning as text, and the result itself."""
    asked, fields, upload = await read_request(request, models.ExplainRequest)
    if asked is not None:
        entity = asked.entity
    elif fields["entity"]:
        entity = fields["entity"]
    else:
        raise ServiceError(422, "invalid_form", "表单缺少要解释的对象（entity）")
    scored = await service.score_request(asked, fields, upload)
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


def add_routes(router: APIRouter) -> None:
    """Add the scoring endpoints to ``router`` (the application's own)."""
    tags: list[str | Enum] = ["scoring"]
    router.add_api_route(
        "/v1/score",
        score,
        methods=["POST"],
        tags=tags,
        responses=_SCORE_RESPONSES,
        openapi_extra=body("ScoreRequest"),
    )
    router.add_api_route(
        "/v1/explain",
        explain,
        methods=["POST"],
        response_model=models.ExplainOut,
        tags=tags,
        openapi_extra=body("ExplainRequest"),
    )


def _accepted(accept: str) -> str:
    """The result format an ``Accept`` header asks for; json when it names none of ours."""
    if XLSX in accept:
        return "xlsx"
    if "text/html" in accept:
        return "html"
    if "text/csv" in accept:
        return "csv"
    return "json"
