"""The requests and responses of the HTTP API, as strict pydantic models.

Strict: a JSON ``false`` is not a number, ``"1"`` is not an integer, unknown fields are
refused. Metric values are strings or JSON numbers; numbers are read as ``Decimal`` from
their exact text (the service parses the JSON itself, never through a binary float).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _Open(BaseModel):
    # Responses document their main fields; result objects carry more (see Result.to_json).
    model_config = ConfigDict(extra="allow")


def _metric_value(value: object) -> str | Decimal:
    # Numbers arrive as Decimal from the service's own JSON parsing; a bool is not a number.
    if isinstance(value, str) or (isinstance(value, Decimal) and value.is_finite()):
        return value
    raise PydanticCustomError(
        "metric_value", "应为字符串或 JSON 数字（是/否 写成 “是”/“否”；评分写成 “88;90;92”）"
    )


MetricValue = Annotated[
    str | Decimal,
    PlainValidator(_metric_value),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]}),
]


class Row(_Strict):
    """One entity's metrics: metric id (or label) → a string or an exact JSON number."""

    entity: str = Field(min_length=1, description="对象（科室、人员…）的名称")
    metrics: dict[str, MetricValue] = Field(
        description='指标编号 → 值：字符串（"95%"、"是"、"88;90;92"）或 JSON 数字（按其原文精确读取）'
    )


#: One office of the shipped example, as a request would send it.
EXAMPLE_ROW: JsonDict = {
    "entity": "第一医院医保办",
    "metrics": {
        "payment_errors": 0,
        "payments": 10000,
        "settlements_on_time": 2400,
        "settlements": 2400,
        "enrollee_data_accuracy": "100%",
        "supervision_timeliness": "100%",
        "review_quality": "80;90;90;90;100",
        "satisfaction": 0.96,
        "attitude": "85;85;85;85;85",
        "info_security": 100,
        "confidentiality": 90,
    },
}


class ScoreRequest(_Strict):
    """Score rows against a ruleset (the version in force for ``period``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"ruleset": "a-office-annual", "period": "2026", "rows": [EXAMPLE_ROW]}]
        }
    )

    ruleset: str = Field(min_length=1, description="规则集编号（GET /v1/rulesets 中的 id）")
    period: str | None = Field(
        default=None, description="期间：2026、2026H1、2026Q3、2026-07 或 2026-01-01..2026-03-31"
    )
    rows: list[Row] = Field(min_length=1)


class ExplainRequest(ScoreRequest):
    """Score the rows and explain one entity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ruleset": "a-office-annual", "rows": [EXAMPLE_ROW], "entity": "第一医院医保办"}
            ]
        }
    )

    entity: str = Field(min_length=1, description="要解释的对象")


class RecordRequest(ScoreRequest):
    """Score the rows and record the batch in the ledger."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ruleset": "a-office-annual",
                    "period": "2026",
                    "rows": [EXAMPLE_ROW],
                    "user": "绩效办",
                }
            ]
        }
    )

    user: str | None = Field(default=None, description="记入审计记录的操作人")


class ReplayRequest(_Strict):
    """Re-score recorded entries: one (``entry``) or all."""

    entry: int | None = Field(default=None, ge=1, description="要重算的记录序号（缺省：全部）")


class ValidateRequest(_Strict):
    """A ruleset's text to check."""

    text: str = Field(description="规则集文件的全文（YAML）")
    name: str = Field(
        default="ruleset.yaml", min_length=1, description="文件名，只用于在问题中指明文件"
    )


class ProblemOut(BaseModel):
    """One problem, located as precisely as known (line 0: unknown)."""

    file: str | None
    line: int
    column: int
    cell: str | None = Field(description="工作簿中的单元格，如 “指标!C5”")
    path: str
    severity: str
    message: str
    suggestion: str | None
    code: str | None = Field(
        default=None, description="问题编号，如 “KR202”（见 docs/errors.md）；空：暂无编号"
    )
    entity: str | None
    field: str | None


class ErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[ProblemOut]


class ErrorOut(BaseModel):
    """The shape of every failure."""

    error: ErrorDetail


class InForceOut(BaseModel):
    start: str
    end: str | None


class VersionOut(BaseModel):
    version: str
    title: str
    file: str
    in_force: InForceOut


class RulesetOut(BaseModel):
    id: str
    title: str
    versions: list[VersionOut]


class RulesetsOut(BaseModel):
    rulesets: list[RulesetOut]
    invalid: list[ProblemOut] = Field(description="目录中无法加载的规则集文件的问题")


class ChosenOut(BaseModel):
    id: str
    period: str
    version: VersionOut


class ValidateOut(BaseModel):
    valid: bool
    problems: list[ProblemOut]


class ResultOut(_Open):
    """One result, exactly ``Result.to_json()``: every decimal a string."""

    entity: str
    total: str
    grade: str | None
    rank: int | None
    items: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    provenance: dict[str, Any]


class ExplainOut(BaseModel):
    entity: str
    text: str
    result: ResultOut


class CheckpointOut(BaseModel):
    ledger_id: str
    size: int
    head: str
    head_text: str = Field(description="N:HASH，kpirules verify --head 所用的写法")
    time: str
    batch: str
    first: int
    key_id: str
    signature: str
    line: str


class RecordOut(BaseModel):
    first: int
    last: int
    checkpoint: CheckpointOut
    results: list[ResultOut]


class EntryOut(BaseModel):
    seq: int
    recorded_at: str
    user: str
    batch: str
    period: str
    entity: str
    ruleset_id: str
    ruleset_version: str
    total: str
    grade: str
    hash: str


class HistoryOut(BaseModel):
    entries: list[EntryOut]


class VerifyOut(BaseModel):
    intact: bool
    size: int
    head: str
    ledger_id: str
    findings: list[str]


class ReplayedOut(BaseModel):
    seq: int
    entity: str
    same: bool
    difference: str


class ReplayOut(BaseModel):
    same: int
    total: int
    engine_note: str | None
    entries: list[ReplayedOut]
