"""The data-entry workbook of a ruleset version, for policy staff to fill in and upload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from kpirules.service.downloads import XLSX, attachment
from kpirules.service.state import Service, service_of


async def template(
    ruleset_id: str,
    service: Annotated[Service, Depends(service_of)],
    period: Annotated[str | None, Query(description="期间，如 2026（有多个版本时必填）")] = None,
) -> Response:
    """The data-entry workbook of the ruleset version in force for the period."""
    from kpirules.template import build_template

    version = service.catalog.pick(ruleset_id, period)
    data = await service.in_worker(lambda: build_template(version.ruleset, [], version.file))
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": attachment(f"{version.ruleset.title}-填报模板.xlsx")},
    )


def add_routes(router: APIRouter) -> None:
    """Add the template download to ``router`` (the application's own)."""
    router.add_api_route(
        "/v1/template/{ruleset_id}",
        template,
        methods=["GET"],
        tags=["rulesets"],
        responses={
            200: {
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                "description": "填报模板",
            }
        },
        response_class=Response,
    )
