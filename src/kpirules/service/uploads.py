"""Reading request bodies: JSON with exact numbers, multipart forms and their uploaded file.

An uploaded metrics file is read the way ``kpirules score`` reads one, from a private
temporary folder; its problems name the file by the name it was uploaded under.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO, TypeVar

import attrs
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from kpirules.inputs import InputError, Locations, Row, SheetError
from kpirules.model import Ruleset
from kpirules.periods import Period, PeriodError
from kpirules.service.catalog import parse
from kpirules.service.errors import ServiceError, problem_data, validation_problems

_UPLOAD_SUFFIXES = (".xlsx", ".csv", ".yaml", ".yml", ".json")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

T = TypeVar("T", bound=BaseModel)


@attrs.frozen
class Upload:
    """An uploaded metrics file: its bytes, the name shown in messages, its suffix."""

    data: bytes
    name: str
    suffix: str
    sheet: str | None


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


def integral(data: Any) -> Any:
    """Whole ``Decimal`` numbers as ``int`` (for fields that are integers, not metrics)."""
    if isinstance(data, dict):
        return {k: integral(v) for k, v in data.items()}
    if isinstance(data, list):
        return [integral(v) for v in data]
    if isinstance(data, Decimal) and data.is_finite() and data.as_tuple().exponent == 0:
        # Written without a fraction or exponent: 3, not 3.0 or 3e0.
        return int(data)
    return data


def display_name(filename: str | None, suffix: str) -> str:
    """The uploaded file's own name, for messages only (never a path on this machine)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = _CONTROL.sub("", name).strip()[:120]
    return name or f"上传的文件{suffix}"


def media_type(request: Request) -> str:
    """The request's content type without its parameters, in lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_request(
    request: Request, model: type[T]
) -> tuple[T | None, dict[str, str | None], Upload | None]:
    """The JSON request as ``model``, or the form fields and uploaded file of a multipart one."""
    kind = media_type(request)
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
    suffix = Path(display_name(file.filename, "")).suffix.lower()
    if suffix not in _UPLOAD_SUFFIXES:
        raise ServiceError(
            422,
            "unsupported_file",
            f"不能读取 “{display_name(file.filename, '')}”：指标数据文件应为 .xlsx、.csv、.yaml 或 .json",
        )
    data = await file.read()
    upload = Upload(data, display_name(file.filename, suffix), suffix, fields["sheet"])
    if not fields["ruleset"]:
        raise ServiceError(422, "invalid_form", "表单缺少规则集编号（ruleset）")
    return fields, upload


def read_upload(
    ruleset: Ruleset, period: str | None, upload: Upload
) -> tuple[list[Row], Locations]:
    """Read an uploaded metrics file from a private temporary folder; problems name the
    upload by its own name."""
    locations = Locations()
    with tempfile.TemporaryDirectory(prefix="kpirules-upload-") as folder:
        path = Path(folder) / f"upload{upload.suffix}"
        path.write_bytes(upload.data)
        here = str(path)

        def named(text: str) -> str:
            return text.replace(here, upload.name)

        # What the reader says about rolling periods up is for a terminal, not an answer.
        notes = io.StringIO()
        try:
            rows = metrics_file_rows(
                here, upload.sheet, ruleset, parse(period) if period else None, notes, locations
            )
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


def metrics_file_rows(
    path: str,
    sheet: str | None,
    ruleset: Ruleset,
    period: Period | None,
    notes: TextIO,
    locations: Locations,
) -> list[Row]:
    """The rows of a metrics file read exactly as ``kpirules score`` reads them.

    The one place the service borrows the command line's reader; ``locations`` is filled with
    where each entity and cell was found. Raises the reader's ``InputError``, ``SheetError``
    and ``PeriodError``.
    """
    # Imported here: the command line module is only needed for reading uploads.
    from kpirules.cli import _rows_for

    args = argparse.Namespace(metrics=path, encoding=None, sheet=sheet)
    return _rows_for(args, ruleset, period, notes, locations)
