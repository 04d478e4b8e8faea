"""The rulesets: every ruleset and version in the folder, the version in force for a period,
and checking a ruleset sent as text."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from kpirules.errors import Problem
from kpirules.service import models
from kpirules.service.catalog import Version
from kpirules.service.errors import ServiceError, problem_data
from kpirules.service.routes.openapi import body
from kpirules.service.state import Service, service_of
from kpirules.service.uploads import display_name, exact_json, media_type, strict


def rulesets(service: Annotated[Service, Depends(service_of)]) -> dict[str, Any]:
    """Every ruleset in the folder, its versions with their dates in force and files."""
    return {
        "rulesets": [
            {
                "id": rid,
                "title": versions[-1].ruleset.title,
                "versions": [version_out(v) for v in versions],
            }
            for rid, versions in service.catalog.by_id.items()
        ],
        "invalid": [problem_data(p) for p in service.catalog.invalid],
    }


def in_force_for(
    ruleset_id: str,
    period: Annotated[str, Query(min_length=1, description="期间，如 2026")],
    service: Annotated[Service, Depends(service_of)],
) -> dict[str, Any]:
    """Which version of the ruleset is in force for the period."""
    version = service.catalog.pick(ruleset_id, period)
    return {"id": ruleset_id, "period": period, "version": version_out(version)}


async def validate(
    request: Request, service: Annotated[Service, Depends(service_of)]
) -> dict[str, Any]:
    """Check a ruleset sent as text: every problem with line, column, path and suggestion."""
    if media_type(request) != "application/json":
        raise ServiceError(
            415, "unsupported_media_type", '请用 application/json 提交 {"text": 规则集全文}'
        )
    asked = strict(models.ValidateRequest, exact_json(await request.body()))
    name = display_name(asked.name, ".yaml")
    checked: dict[str, Any] = await service.in_worker(lambda: check_text(name, asked.text))
    return checked


def add_routes(router: APIRouter) -> None:
    """Add the ruleset endpoints to ``router`` (the application's own)."""
    tags: list[str | Enum] = ["rulesets"]
    router.add_api_route(
        "/v1/rulesets", rulesets, methods=["GET"], response_model=models.RulesetsOut, tags=tags
    )
    router.add_api_route(
        "/v1/rulesets/{ruleset_id}/in-force",
        in_force_for,
        methods=["GET"],
        response_model=models.ChosenOut,
        tags=tags,
    )
    router.add_api_route(
        "/v1/validate",
        validate,
        methods=["POST"],
        response_model=models.ValidateOut,
        tags=tags,
        openapi_extra=body("ValidateRequest", upload=False),
    )


def version_out(version: Version) -> dict[str, Any]:
    """A ruleset version as listed: version, title, file and dates in force."""
    ruleset = version.ruleset
    return {
        "version": ruleset.version,
        "title": ruleset.title,
        "file": version.file,
        "in_force": {"start": ruleset.in_force.start, "end": ruleset.in_force.end},
    }


def check_text(name: str, text: str) -> dict[str, Any]:
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
