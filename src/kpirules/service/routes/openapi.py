"""The OpenAPI document: the error answers every endpoint may give, and the request bodies
of the endpoints that read their own body (exact numbers, uploads)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from kpirules.service import models

#: The failures any endpoint may answer, in the one error shape.
ERRORS: dict[int | str, dict[str, Any]] = {
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
#: The further failures of the endpoints that need the token and the ledger.
GUARDED: dict[int | str, dict[str, Any]] = {
    401: {"model": models.ErrorOut, "description": "缺少令牌或令牌不对"},
    403: {"model": models.ErrorOut, "description": "服务没有配置令牌或审计记录文件"},
}

UPLOAD_SCHEMA = {
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


def body(*names: str, upload: bool = True, required: bool = True) -> dict[str, Any]:
    """The requestBody of an endpoint that parses its own body (exact numbers, uploads)."""
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{names[0]}"}}
    }
    if upload:
        content["multipart/form-data"] = {"schema": {"$ref": "#/components/schemas/ScoreUpload"}}
    return {"requestBody": {"required": required, "content": content}}


def install_openapi(app: FastAPI) -> None:
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
        schemas["ScoreUpload"] = UPLOAD_SCHEMA
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
