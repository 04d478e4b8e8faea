"""One error shape for every failure: ``{"error": {"code", "message", "problems"}}``.

The framework's own answers (404, 405, 422 for a malformed request, and any unexpected
exception) are given the same shape; no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kpirules.errors import Problem
from kpirules.inputs import Locations
from kpirules.result import EvaluationProblem

log = logging.getLogger("kpirules.service")

ProblemData = dict[str, Any]


class ServiceError(Exception):
    """A request that cannot be answered: HTTP status, stable code, Chinese message, problems."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        problems: Sequence[ProblemData] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = list(problems)
        self.headers = dict(headers or {})


def error_body(code: str, message: str, problems: Iterable[ProblemData] = ()) -> dict[str, Any]:
    """The JSON of every failure."""
    return {"error": {"code": code, "message": message, "problems": list(problems)}}


def error_response(
    status: int,
    code: str,
    message: str,
    problems: Iterable[ProblemData] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A failure as a response with the one error shape."""
    return JSONResponse(error_body(code, message, problems), status_code=status, headers=headers)


def problem_data(problem: Problem) -> ProblemData:
    """A ruleset or data problem with its file, line, column (and cell in a workbook)."""
    data: ProblemData = {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "cell": problem.cell,
        "path": problem.path,
        "severity": problem.severity,
        "message": problem.message,
        "suggestion": problem.suggestion,
        "code": problem.code,
        "entity": None,
        "field": None,
    }
    return data


def evaluation_problem_data(
    problem: EvaluationProblem, file: str, locations: Locations | None
) -> ProblemData:
    """An entity that could not be scored, placed at its row or cell when the file says where."""
    line = column = 0
    cell = None
    if locations is not None:
        where = locations.cells.get((problem.entity, problem.field))
        if where is None and problem.entity in locations.rows:
            where = (locations.rows[problem.entity], 1)
        if where is not None:
            line, column = where
            placed = locations.place("", line, column)
            cell = placed[1:] if locations.sheet is not None else None
    return {
        "file": file,
        "line": line,
        "column": column,
        "cell": cell,
        "path": f"$.{problem.field}" if problem.field else "$",
        "severity": "error",
        "message": problem.message,
        "suggestion": None,
        "code": problem.code,
        "entity": problem.entity or None,
        "field": problem.field or None,
    }


def _request_path(loc: Sequence[Any]) -> str:
    parts = list(loc)
    where = parts[0] if parts else "body"
    text = "$"
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text if where == "body" else f"{where}:{text}"


_PYDANTIC_WORDS = {
    "missing": "缺少这一项",
    "extra_forbidden": "不认识的项",
    "string_type": "应为字符串",
    "int_type": "应为整数",
    "bool_type": "应为 true 或 false",
    "decimal_type": "应为数字（JSON 数字，或写成字符串的数字）",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "literal_error": "不是可用的值",
    "enum": "不是可用的值",
    "string_too_short": "不能为空",
    "too_short": "不能为空",
    "int_parsing": "应为整数",
    "json_invalid": "不是有效的 JSON",
    "finite_number": "应为有限的数字",
    "greater_than_equal": "太小",
}


def validation_problems(errors: Sequence[Any]) -> list[ProblemData]:
    """pydantic's errors as problems at their JSON path, in Chinese."""
    out: list[ProblemData] = []
    for error in errors:
        kind = str(error.get("type", ""))
        words = _PYDANTIC_WORDS.get(kind)
        if words is None and kind.endswith("_type"):
            words = "类型不对"
        message = words or str(error.get("msg", "不符合要求"))
        out.append(
            {
                "file": None,
                "line": 0,
                "column": 0,
                "cell": None,
                "path": _request_path(error.get("loc", ())),
                "severity": "error",
                "message": message,
                "suggestion": None,
                "entity": None,
                "field": None,
            }
        )
    return out


_STATUS_CODES = {
    400: ("bad_request", "请求有误"),
    401: ("unauthorized", "需要令牌"),
    403: ("forbidden", "不允许这样做"),
    404: ("not_found", "没有这个地址"),
    405: ("method_not_allowed", "这个地址不支持此请求方法"),
    406: ("not_acceptable", "不能给出所要的格式"),
    413: ("body_too_large", "请求内容太大"),
    415: ("unsupported_media_type", "不支持此内容类型"),
    422: ("invalid_request", "请求内容不符合要求"),
}


def install_handlers(app: FastAPI) -> None:
    """Give the framework's own failures, and unexpected exceptions, the one error shape."""

    async def service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return error_response(exc.status, exc.code, exc.message, exc.problems, exc.headers)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code, words = _STATUS_CODES.get(exc.status_code, ("http_error", "请求无法完成"))
        if exc.status_code == 404:
            message = f"没有这个地址：{request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.url.path} 不支持 {request.method} 请求"
        else:
            message = words
        return error_response(exc.status_code, code, message, headers=exc.headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = validation_problems(exc.errors())
        return error_response(422, "invalid_request", "请求内容不符合要求", problems)

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("处理 %s %s 时出错", request.method, request.url.path)
        return error_response(500, "internal_error", "服务内部出错，已记入服务日志；请联系管理员")

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal)
