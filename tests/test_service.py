"""The HTTP service: endpoints, exact numbers, the one error shape, limits and security."""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from kpirules import report
from kpirules.cli import run
from kpirules.service import Settings, create_app
from kpirules.service import app as service_app
from kpirules.service.settings import SettingsError, read_token

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"
EXAMPLES = ROOT / "examples"
TOKEN = "s3cret-token-for-tests-0123456789"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Every shipped example that scores, with its ruleset (id and file) and period.
SHIPPED = [
    ("a-office-annual", "a-office-annual.yaml", "a-offices-2026.csv"),
    ("a-office-annual", "a-office-annual.yaml", "a-offices-2026.xlsx"),
    ("a-office-annual", "a-office-annual.yaml", "a-offices-2026-excel-gbk.csv"),
    ("b-position-leader", "b-position-leader.yaml", "b-leader-2026.csv"),
    ("b-position-policy-research", "b-position-policy-research.yaml", "b-policy-research-2026.csv"),
    ("b-position-cost-management", "b-position-cost-management.yaml", "b-cost-management-2026.csv"),
    ("c-staff-halfyear", "c-staff-halfyear.yaml", "c-staff-2026h1.csv"),
    ("d-internal-quarterly", "d-internal-quarterly.yaml", "d-departments-2026q1.csv"),
    ("d-internal-quarterly", "d-internal-quarterly.yaml", "d-departments-2026q2.csv"),
    ("e-annual-letter", "e-annual-letter.yaml", "e-office-2026.yaml"),
]


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ledger")


@pytest.fixture(scope="module")
def client(ledger_dir: Path) -> Iterator[TestClient]:
    settings = Settings(RULESETS, ledger=ledger_dir / "ledger.sqlite", token=TOKEN)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def family_client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(EXAMPLES / "family"))) as c:
        yield c


@pytest.fixture(scope="module")
def deposit_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("deposit")
    shutil.copy(EXAMPLES / "deposit-refund.yaml", folder)
    with TestClient(create_app(Settings(folder)), raise_server_exceptions=False) as c:
        yield c


def post_json(client: TestClient, url: str, text: str, **headers: str) -> Any:
    """POST the JSON text exactly as written (numbers keep their text)."""
    return client.post(
        url, content=text.encode(), headers={"content-type": "application/json", **headers}
    )


def cli_json(ruleset: str, metrics: str) -> bytes:
    out, err = io.StringIO(), io.StringIO()
    assert run(["score", ruleset, metrics, "--format", "json"], out, err) == 0, err.getvalue()
    return out.getvalue().encode("utf-8")


def upload(client: TestClient, url: str, ruleset: str, path: Path, **fields: str) -> Any:
    with path.open("rb") as handle:
        return client.post(
            url, data={"ruleset": ruleset, **fields}, files={"file": (path.name, handle)}
        )


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is a failure with the one error shape, this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "problems"}
    assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    detail: dict[str, Any] = body["error"]
    return detail


def test_rulesets_lists_every_shipped_ruleset_with_versions_and_files(client: TestClient) -> None:
    """Each ruleset in the folder is listed once with its version, dates in force and file."""
    body = client.get("/v1/rulesets").json()
    ids = [r["id"] for r in body["rulesets"]]
    assert ids == sorted({rid for rid, _, _ in SHIPPED})
    office = body["rulesets"][0]
    assert office["versions"] == [
        {
            "version": "2026.1",
            "title": "医院医保办绩效考核细则（年度，类别内按份额分配）",
            "file": "a-office-annual.yaml",
            "in_force": {"start": "2026-01-01", "end": "2026-12-31"},
        }
    ]
    assert body["invalid"] == []


def test_in_force_picks_the_version_of_the_period(family_client: TestClient) -> None:
    """Of two versions of one ruleset, the one in force for the period is named."""
    body = family_client.get("/v1/rulesets/a-office/in-force", params={"period": "2027"}).json()
    assert body["version"]["file"] == "a-office-2027.yaml"
    assert body["version"]["in_force"] == {"start": "2027-01-01", "end": None}
    body = family_client.get("/v1/rulesets/a-office/in-force", params={"period": "2026Q3"}).json()
    assert body["version"]["file"] == "a-office-2026.yaml"


def test_in_force_refuses_a_period_spanning_two_versions(family_client: TestClient) -> None:
    """A period across a change of rules is refused with both versions named."""
    response = family_client.get(
        "/v1/rulesets/a-office/in-force", params={"period": "2026-07-01..2027-06-30"}
    )
    detail = error_of(response, 422, "period")
    assert detail["message"].startswith(
        "期间 2026-07-01..2027-06-30（2026-07-01..2027-06-30） 期间规则发生变化：2026-07-01..2026-12-31 适用 "
    )


def test_score_without_period_on_a_family_asks_for_one(family_client: TestClient) -> None:
    """Several versions and no period: the client is told to give one."""
    response = post_json(
        family_client,
        "/v1/score",
        '{"ruleset": "a-office", "rows": [{"entity": "甲", "metrics": {}}]}',
    )
    detail = error_of(response, 422, "period_required")
    assert detail["message"] == (
        "规则集 “a-office” 有多个版本（a-office-2026.yaml（版本 2026.1）；a-office-2027.yaml（版本 2027.1））：请给出期间 period 以选择施行中的版本"
    )


@pytest.mark.parametrize(("rid", "file", "metrics"), SHIPPED)
def test_uploaded_examples_score_byte_identical_to_the_cli(
    client: TestClient, rid: str, file: str, metrics: str
) -> None:
    """The JSON over HTTP is the bytes `kpirules score --format json` prints."""
    response = upload(client, "/v1/score", rid, EXAMPLES / metrics)
    assert response.status_code == 200, response.text
    assert response.content == cli_json(str(RULESETS / file), str(EXAMPLES / metrics))


def test_json_rows_score_byte_identical_to_the_cli(client: TestClient) -> None:
    """Rows sent as JSON (values as the CSV's text) give the CLI's bytes too."""
    path = EXAMPLES / "d-departments-2026q1.csv"
    with path.open(encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    entity_column = next(iter(table[0]))
    rows = [
        {
            "entity": row[entity_column],
            "metrics": {k: v for k, v in row.items() if k != entity_column},
        }
        for row in table
    ]
    body = json.dumps({"ruleset": "d-internal-quarterly", "rows": rows}, ensure_ascii=False)
    response = post_json(client, "/v1/score", body)
    assert response.status_code == 200, response.text
    assert response.content == cli_json(str(RULESETS / "d-internal-quarterly.yaml"), str(path))


def test_json_numbers_are_read_from_their_text_never_through_a_float(
    deposit_client: TestClient,
) -> None:
    """0.1 and 0.2 stay exact (0.1 × 60% + 0.2 × 40% = 0.140) and 32 digits arrive whole."""
    response = post_json(
        deposit_client,
        "/v1/score",
        '{"ruleset": "deposit-refund-example", "rows": [{"entity": "甲", "metrics": '
        '{"pooled_payment": 123456789012345678901234567890.12, "work_quality": 0.1, "service_rating": 0.2}}]}',
    )
    assert response.status_code == 200, response.text
    result = response.json()[0]
    assert [i["score"] for i in result["items"]] == ["0.060", "0.080"]
    assert result["raw_total"] == "0.140"
    assert result["total"] == "0.14"
    assert result["values"][0]["value"] == "123456789012345678901234567890.12"
    assert result["items"][0]["inputs"] == {"work_quality": "0.1"}


def test_strict_request_model_refuses_a_boolean_for_a_number(client: TestClient) -> None:
    """`false` is neither a number nor text: refused at its JSON path, not taken as 0."""
    response = post_json(
        client,
        "/v1/score",
        '{"ruleset": "a-office-annual", "rows": [{"entity": "甲", "metrics": {"payments": false}}]}',
    )
    detail = error_of(response, 422, "invalid_request")
    assert [(p["path"], p["message"]) for p in detail["problems"]] == [
        (
            "$.rows[0].metrics.payments",
            "应为字符串或 JSON 数字（是/否 写成 “是”/“否”；评分写成 “88;90;92”）",
        )
    ]


def test_strict_request_model_refuses_wrong_types_and_unknown_fields(client: TestClient) -> None:
    """An entity given as a number and an unknown field are both reported."""
    response = post_json(
        client,
        "/v1/score",
        '{"ruleset": "a-office-annual", "rows": [{"entity": 1, "metrics": {}}], "extra": 1}',
    )
    detail = error_of(response, 422, "invalid_request")
    assert sorted((p["path"], p["message"]) for p in detail["problems"]) == [
        ("$.extra", "不认识的项"),
        ("$.rows[0].entity", "应为字符串"),
    ]


def test_replay_entry_given_as_text_is_refused(client: TestClient) -> None:
    """`"1"` is not the integer 1."""
    response = post_json(
        client, "/v1/ledger/replay", '{"entry": "1"}', authorization=f"Bearer {TOKEN}"
    )
    detail = error_of(response, 422, "invalid_request")
    assert [(p["path"], p["message"]) for p in detail["problems"]] == [("$.entry", "应为整数")]


def test_invalid_json_is_located_by_line_and_column(client: TestClient) -> None:
    """Malformed JSON says where it breaks."""
    detail = error_of(post_json(client, "/v1/score", '{"ruleset": \n  oops}'), 422, "invalid_json")
    assert detail["message"] == "请求内容不是有效的 JSON：第 2 行第 3 列：Expecting value"


def test_unknown_metric_in_json_rows_is_located_with_a_suggestion(client: TestClient) -> None:
    """A misspelt metric id is refused at its path with a did-you-mean."""
    response = post_json(
        client,
        "/v1/score",
        '{"ruleset": "a-office-annual", "rows": [{"entity": "甲", "metrics": {"paymnets": 1}}]}',
    )
    detail = error_of(response, 422, "invalid_data")
    problem = detail["problems"][0]
    assert problem["path"] == "$.rows[0].metrics.paymnets"
    assert problem["file"] == "请求"
    assert problem["suggestion"] == "是不是要写 payments？"


def test_uploaded_file_problems_name_the_upload_row_and_column(client: TestClient) -> None:
    """A messy CSV is refused with each problem at its row and column, under its own name."""
    response = upload(client, "/v1/score", "a-office-annual", EXAMPLES / "a-offices-2026-messy.csv")
    detail = error_of(response, 422, "invalid_data")
    assert detail["message"] == "a-offices-2026-messy.csv：指标数据有误，未计分"
    out, err = io.StringIO(), io.StringIO()
    messy = str(EXAMPLES / "a-offices-2026-messy.csv")
    assert run(["score", str(RULESETS / "a-office-annual.yaml"), messy], out, err) == 1
    expected = [
        line.replace(messy, "a-offices-2026-messy.csv") for line in err.getvalue().splitlines()[:-1]
    ]
    from kpirules.errors import Problem

    got = [
        str(
            Problem(
                p["file"],
                p["line"],
                p["column"],
                p["path"],
                p["severity"],
                p["message"],
                p["suggestion"],
                p["cell"],
                code=p["code"],
            )
        )
        for p in detail["problems"]
    ]
    assert got == expected
    assert all(p["line"] > 0 for p in detail["problems"])


def test_workbook_problem_is_located_at_its_cell(client: TestClient, tmp_path: Path) -> None:
    """Text in a number cell of an uploaded workbook is reported at SHEET!CELL."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "指标"
    sheet.append(["科室", "payments", "payment_errors"])
    sheet.append(["甲", "很多", 3])
    path = tmp_path / "填好的.xlsx"
    book.save(path)
    detail = error_of(upload(client, "/v1/score", "a-office-annual", path), 422, "invalid_data")
    cells = {(p["file"], p["cell"]) for p in detail["problems"]}
    assert ("填好的.xlsx", "指标!B2") in cells


def test_explain_gives_text_and_the_result(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One entity's reasoning as text, and its result object."""
    response = upload(
        client,
        "/v1/explain",
        "a-office-annual",
        EXAMPLES / "a-offices-2026.csv",
        entity="第二医院医保办",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["entity"] == "第二医院医保办"
    assert body["result"]["total"] == "93.20"
    out, err = io.StringIO(), io.StringIO()
    # The ruleset is named as inside the rulesets folder, never by this machine's path.
    monkeypatch.chdir(RULESETS)
    args = ["explain", "a-office-annual.yaml", str(EXAMPLES / "a-offices-2026.csv")]
    assert run([*args, "--entity", "第二医院医保办"], out, err) == 0
    assert body["text"] == out.getvalue()
    assert str(ROOT) not in response.text


def test_explain_of_an_unknown_entity_lists_those_there_are(client: TestClient) -> None:
    """Asking for an entity not in the data names the ones that are."""
    response = upload(
        client, "/v1/explain", "a-office-annual", EXAMPLES / "a-offices-2026.csv", entity="丁"
    )
    detail = error_of(response, 422, "entity_not_found")
    assert (
        detail["message"]
        == "数据中没有对象 “丁”（有：第一医院医保办、第二医院医保办、第三医院医保办、中医院医保办）"
    )


def test_score_as_xlsx_by_query_or_accept_header(client: TestClient) -> None:
    """?format=xlsx and an Accept header both give the results workbook."""
    path = EXAMPLES / "a-offices-2026.csv"
    with path.open("rb") as handle:
        by_query = client.post(
            "/v1/score?format=xlsx",
            data={"ruleset": "a-office-annual"},
            files={"file": (path.name, handle)},
        )
    with path.open("rb") as handle:
        by_accept = client.post(
            "/v1/score",
            data={"ruleset": "a-office-annual"},
            files={"file": (path.name, handle)},
            headers={"accept": XLSX},
        )
    for response in (by_query, by_accept):
        assert response.status_code == 200
        assert response.headers["content-type"] == XLSX
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        assert book.sheetnames[0] == "汇总"


def test_score_as_csv_is_the_cli_csv_with_a_byte_order_mark(client: TestClient) -> None:
    """?format=csv gives the results table Excel on Windows opens as UTF-8."""
    response = upload(
        client, "/v1/score?format=csv", "a-office-annual", EXAMPLES / "a-offices-2026.csv"
    )
    assert response.status_code == 200
    out, err = io.StringIO(), io.StringIO()
    args = ["score", str(RULESETS / "a-office-annual.yaml"), str(EXAMPLES / "a-offices-2026.csv")]
    assert run([*args, "--format", "csv"], out, err) == 0
    assert response.content == out.getvalue().encode("utf-8-sig")


def test_score_as_html_is_the_cli_report(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """?format=html (or Accept: text/html) gives the printable report, byte-identical to
    `kpirules report` run in the rulesets folder (the service names a ruleset by its file
    name there, never by a server path)."""
    response = upload(
        client, "/v1/score?format=html", "a-office-annual", EXAMPLES / "a-offices-2026.csv"
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    out = tmp_path / "报告.html"
    monkeypatch.chdir(RULESETS)
    args = ["report", "a-office-annual.yaml", str(EXAMPLES / "a-offices-2026.csv")]
    assert run([*args, "--output", str(out)], io.StringIO(), io.StringIO()) == 0
    assert response.content == out.read_bytes()
    path = EXAMPLES / "a-offices-2026.csv"
    with path.open("rb") as handle:
        by_accept = client.post(
            "/v1/score",
            data={"ruleset": "a-office-annual"},
            files={"file": (path.name, handle)},
            headers={"accept": "text/html"},
        )
    assert by_accept.content == response.content


def test_template_is_the_data_entry_workbook(client: TestClient) -> None:
    """The template of a ruleset downloads as a workbook with its guide sheet."""
    response = client.get("/v1/template/a-office-annual")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert "填写说明" in book.sheetnames


def test_validate_reports_every_problem_at_its_line(client: TestClient) -> None:
    """A broken ruleset's problems come back with line, column, path and suggestion."""
    text = (
        (RULESETS / "a-office-annual.yaml")
        .read_text(encoding="utf-8")
        .replace("weighting: percent_of_total", "weighting: pecent_of_total", 1)
    )
    body = post_json(client, "/v1/validate", json.dumps({"text": text, "name": "a.yaml"})).json()
    assert body["valid"] is False
    first = body["problems"][0]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("weighting:"))
    assert (first["file"], first["line"], first["column"], first["path"]) == (
        "a.yaml",
        line,
        12,
        "$.weighting",
    )
    valid = post_json(
        client,
        "/v1/validate",
        json.dumps({"text": (RULESETS / "c-staff-halfyear.yaml").read_text(encoding="utf-8")}),
    ).json()
    assert valid["valid"] is True


def test_validate_never_reads_the_file_a_tests_file_names(client: TestClient) -> None:
    """A tests file naming /etc/passwd is refused without reading anything."""
    text = "kpirules_tests: 1\nruleset: /etc/passwd\ncases: []\n"
    body = post_json(
        client, "/v1/validate", json.dumps({"text": text, "name": "../../x.tests.yaml"})
    ).json()
    assert body == {
        "valid": False,
        "problems": [
            {
                "file": "x.tests.yaml",
                "line": 1,
                "column": 1,
                "cell": None,
                "path": "$",
                "severity": "error",
                "message": "这里只检查规则集；测试文件请在命令行用 kpirules test 运行",
                "suggestion": None,
                "code": "KR415",
                "entity": None,
                "field": None,
            }
        ],
    }


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "%252e%252e%252fetc%252fpasswd",
        "..%5C..%5Cwindows%5Cwin.ini",
        "a-office-annual.yaml",
        "%2E%2E",
    ],
)
def test_ruleset_ids_in_the_address_never_reach_the_file_system(
    client: TestClient, name: str
) -> None:
    """Paths in the address, absolute or URL-encoded, are unknown ids (404), never files."""
    for url in (f"/v1/template/{name}", f"/v1/rulesets/{name}/in-force?period=2026"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] in ("ruleset_not_found", "not_found")


@pytest.mark.parametrize(
    "name",
    [
        "../rulesets/a-office-annual",
        "../../etc/passwd",
        "/etc/passwd",
        str(RULESETS / "a-office-annual.yaml"),
        "..",
        "%2e%2e%2fetc",
    ],
)
def test_ruleset_ids_in_the_body_never_reach_the_file_system(client: TestClient, name: str) -> None:
    """A path given as the ruleset of a request is an unknown id (404)."""
    body = json.dumps({"ruleset": name, "rows": [{"entity": "甲", "metrics": {}}]})
    detail = error_of(post_json(client, "/v1/score", body), 404, "ruleset_not_found")
    assert detail["message"].startswith(f"没有编号为 “{name}” 的规则集（有：a-office-annual、")


def test_uploaded_file_name_is_only_a_name(client: TestClient) -> None:
    """An upload called ../../etc/passwd.csv is read from a private folder and named passwd.csv."""
    data = (EXAMPLES / "a-offices-2026-messy.csv").read_bytes()
    response = client.post(
        "/v1/score",
        data={"ruleset": "a-office-annual"},
        files={"file": ("../../etc/passwd.csv", data)},
    )
    detail = error_of(response, 422, "invalid_data")
    assert {p["file"] for p in detail["problems"]} == {"passwd.csv"}


def test_unknown_address_and_method_have_the_error_shape(client: TestClient) -> None:
    """The framework's own 404 and 405 answer in the one error shape, in Chinese."""
    assert (
        error_of(client.get("/v1/nothing"), 404, "not_found")["message"]
        == "没有这个地址：/v1/nothing"
    )
    detail = error_of(client.delete("/v1/rulesets"), 405, "method_not_allowed")
    assert detail["message"] == "/v1/rulesets 不支持 DELETE 请求"


def test_unsupported_content_type_is_415(client: TestClient) -> None:
    """Plain text is neither JSON nor a form."""
    response = client.post("/v1/score", content=b"x", headers={"content-type": "text/plain"})
    error_of(response, 415, "unsupported_media_type")


def test_body_over_the_limit_is_413() -> None:
    """A body larger than the configured limit is refused before it is read."""
    settings = Settings(RULESETS, max_body_bytes=1000)
    with TestClient(create_app(settings)) as small:
        response = post_json(small, "/v1/validate", json.dumps({"text": "x" * 2000}))
        detail = error_of(response, 413, "body_too_large")
        assert detail["message"] == "请求内容超过上限 0.000953674 MiB（1000 字节）"
        # Without a declared length (chunked), the limit holds too.
        chunks = iter([b'{"text": "', b"x" * 600, b"x" * 600, b'"}'])
        response = small.post(
            "/v1/validate", content=chunks, headers={"content-type": "application/json"}
        )
        error_of(response, 413, "body_too_large")


def test_too_many_entities_is_422() -> None:
    """More entities than the limit are refused before scoring, with the limit named."""
    with TestClient(create_app(Settings(RULESETS, max_entities=2))) as small:
        rows = [{"entity": f"科室{i}", "metrics": {}} for i in range(3)]
        response = post_json(
            small, "/v1/score", json.dumps({"ruleset": "a-office-annual", "rows": rows})
        )
        detail = error_of(response, 422, "too_many_entities")
        assert detail["message"] == "一次最多计分 2 个对象（提交了 3 个）：请分批提交"
        response = upload(small, "/v1/score", "a-office-annual", EXAMPLES / "a-offices-2026.csv")
        assert (
            error_of(response, 422, "too_many_entities")["message"]
            == "一次最多计分 2 个对象（提交了 4 个）：请分批提交"
        )


def test_scoring_past_the_time_limit_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring that outlasts the limit is answered 503 while the worker still runs."""
    release = threading.Event()
    real = service_app.read_rows

    def slow(*args: Any) -> Any:
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(service_app, "read_rows", slow)
    with TestClient(create_app(Settings(RULESETS, time_limit=0.05))) as limited:
        body = '{"ruleset": "a-office-annual", "rows": [{"entity": "甲", "metrics": {}}]}'
        try:
            detail = error_of(post_json(limited, "/v1/score", body), 503, "time_limit")
        finally:
            release.set()
        assert detail["message"] == "计分超过时限 0.05 秒，未完成；请减少一次提交的对象数后重试"


def test_internal_error_reaches_the_client_without_a_trace(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception is a 500 in the error shape; its text stays in the log."""

    def broken(*args: Any) -> str:
        raise RuntimeError("secret detail /srv/kpirules/engine.py line 42")

    monkeypatch.setattr(report, "to_json", broken)
    response = upload(client, "/v1/score", "a-office-annual", EXAMPLES / "a-offices-2026.csv")
    detail = error_of(response, 500, "internal_error")
    assert detail["message"] == "服务内部出错，已记入服务日志；请联系管理员"
    assert "secret" not in response.text and "engine.py" not in response.text


def test_page_is_chinese_self_contained_and_under_a_strict_policy(client: TestClient) -> None:
    """The page, its style and script come from this service only, under default-src 'self'."""
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert '<html lang="zh-CN">' in page.text
    for url in ("/", "/page.css", "/page.js"):
        text = client.get(url).text
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_recording_needs_a_configured_token() -> None:
    """Without a token configured, recording is refused (403) with the reason."""
    with TestClient(create_app(Settings(RULESETS))) as open_client:
        response = upload(
            open_client, "/v1/record", "a-office-annual", EXAMPLES / "a-offices-2026.csv"
        )
        detail = error_of(response, 403, "recording_disabled")
        assert (
            detail["message"]
            == "服务没有配置令牌（--token-file 或环境变量 KPIRULES_TOKEN），不接受记录和审计记录请求"
        )


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
def test_recording_refuses_a_missing_or_wrong_token(client: TestClient, header: str | None) -> None:
    """No token, a wrong one or another scheme: 401 with a Bearer challenge."""
    headers = {"authorization": header} if header else {}
    for response in (
        client.get("/v1/ledger/history", headers=headers),
        client.post(
            "/v1/record", content=b"{}", headers={"content-type": "application/json", **headers}
        ),
    ):
        error_of(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_record_then_history_verify_and_replay(client: TestClient, ledger_dir: Path) -> None:
    """A recorded batch has a checkpoint; the ledger lists, verifies and replays it."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    path = EXAMPLES / "a-offices-2026.csv"
    with path.open("rb") as handle:
        response = client.post(
            "/v1/record",
            data={"ruleset": "a-office-annual", "period": "2026", "user": "绩效办"},
            files={"file": (path.name, handle)},
            headers=auth,
        )
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert (receipt["first"], receipt["last"]) == (1, 4)
    checkpoint = receipt["checkpoint"]
    assert checkpoint["size"] == 4
    assert checkpoint["head_text"] == f"4:{checkpoint['head']}"
    assert [r["total"] for r in receipt["results"]] == ["97.00", "93.20", "83.47", "97.12"]
    history = client.get("/v1/ledger/history", headers=auth).json()["entries"]
    assert [(e["seq"], e["entity"], e["total"], e["user"], e["period"]) for e in history] == [
        (1, "第一医院医保办", "97.00", "绩效办", "2026"),
        (2, "第二医院医保办", "93.20", "绩效办", "2026"),
        (3, "第三医院医保办", "83.47", "绩效办", "2026"),
        (4, "中医院医保办", "97.12", "绩效办", "2026"),
    ]
    verified = client.get("/v1/ledger/verify", headers=auth).json()
    assert verified["intact"] is True
    assert (verified["size"], verified["head"], verified["findings"]) == (4, checkpoint["head"], [])
    replayed = post_json(client, "/v1/ledger/replay", '{"entry": 2}', **auth).json()
    assert (replayed["same"], replayed["total"]) == (1, 1)
    assert replayed["entries"] == [
        {"seq": 2, "entity": "第二医院医保办", "same": True, "difference": ""}
    ]
    out, err = io.StringIO(), io.StringIO()
    assert run(["verify", str(ledger_dir / "ledger.sqlite")], out, err) == 0


def test_read_token_from_file_or_environment(tmp_path: Path) -> None:
    """The token file's first line wins; the environment is used without a file; short is refused."""
    file = tmp_path / "token"
    file.write_text("abcdefghijklmnopqrstuvwxyz\n# note\n", encoding="utf-8")
    assert (
        read_token(str(file), {"KPIRULES_TOKEN": "other-token-0123456789"})
        == "abcdefghijklmnopqrstuvwxyz"
    )
    assert (
        read_token(None, {"KPIRULES_TOKEN": "other-token-0123456789"}) == "other-token-0123456789"
    )
    assert read_token(None, {}) is None
    file.write_text("short\n", encoding="utf-8")
    with pytest.raises(
        SettingsError, match=r"^令牌文件 .* 中的令牌太短（5 个字符）：至少要 16 个字符$"
    ):
        read_token(str(file), {})


def test_serve_without_the_server_extra_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`kpirules serve` without FastAPI/uvicorn installed exits 2 with the pip command."""
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    out, err = io.StringIO(), io.StringIO()
    assert run(["serve", "--rulesets", str(RULESETS)], out, err) == 2
    assert err.getvalue() == "kpirules: serve 需要 HTTP 服务组件：pip install 'kpirules[server]'\n"


def test_serve_refuses_a_missing_folder_and_a_short_token(tmp_path: Path) -> None:
    """Usage errors of serve exit 2 before anything listens."""
    out, err = io.StringIO(), io.StringIO()
    assert run(["serve", "--rulesets", str(tmp_path / "none")], out, err) == 2
    assert err.getvalue() == f"kpirules: 规则集目录 {tmp_path / 'none'} 不存在\n"
    token = tmp_path / "t"
    token.write_text("short", encoding="utf-8")
    err = io.StringIO()
    assert run(["serve", "--rulesets", str(RULESETS), "--token-file", str(token)], out, err) == 2
    assert (
        err.getvalue() == f"kpirules: 令牌文件 {token} 中的令牌太短（5 个字符）：至少要 16 个字符\n"
    )


def test_replay_of_an_entry_past_the_end_is_404(client: TestClient) -> None:
    """Replaying entry 999 of a shorter ledger names how many entries there are."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    body = json.dumps({"ruleset": "c-staff-halfyear", "rows": [{"entity": "甲", "metrics": {}}]})
    post_json(client, "/v1/record", body, **auth)
    size = client.get("/v1/ledger/verify", headers=auth).json()["size"]
    response = post_json(client, "/v1/ledger/replay", '{"entry": 999}', **auth)
    detail = error_of(response, 404, "entry_not_found")
    assert detail["message"] == f"审计记录中没有第 999 条（共 {size} 条）"


def test_missing_data_in_json_rows_is_placed_at_the_entity_row(client: TestClient) -> None:
    """An entity that cannot be scored is named with its field at its row of the request."""
    body = json.dumps(
        {
            "ruleset": "c-staff-halfyear",
            "rows": [
                {"entity": "甲", "metrics": {}},
                {"entity": "乙", "metrics": {"claims_handled": 5}},
            ],
        },
        ensure_ascii=False,
    )
    detail = error_of(post_json(client, "/v1/score", body), 422, "cannot_score")
    assert detail["message"] == "请求：有对象无法计分，未计分"
    first = detail["problems"][0]
    assert (first["entity"], first["field"], first["path"]) == (
        "甲",
        "claims_handled",
        "$.rows[0].metrics.claims_handled",
    )


def test_scoring_across_a_change_of_rules_is_422(family_client: TestClient) -> None:
    """Scoring for a period in which the rules change is refused, not guessed."""
    body = '{"ruleset": "a-office", "period": "2026-07-01..2027-06-30", "rows": [{"entity": "甲", "metrics": {}}]}'
    detail = error_of(post_json(family_client, "/v1/score", body), 422, "period")
    assert "期间规则发生变化" in detail["message"]


def test_quarterly_upload_is_rolled_up_to_the_period(client: TestClient) -> None:
    """A file with a period column is rolled up to the year, as `score --period` does."""
    path = EXAMPLES / "a-offices-2026-quarterly.csv"
    response = upload(client, "/v1/score", "a-office-annual", path, period="2026")
    assert response.status_code == 200, response.text
    out, err = io.StringIO(), io.StringIO()
    args = ["score", str(RULESETS / "a-office-annual.yaml"), str(path), "--period", "2026"]
    assert run([*args, "--format", "json"], out, err) == 0
    assert response.content == out.getvalue().encode("utf-8")


def test_serve_says_when_the_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A port already in use is refused in words, exit 1, before the server starts."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        code = run(["serve", "--rulesets", str(RULESETS), "--port", str(port)], out, err)
    assert code == 1
    assert (
        err.getvalue()
        == f"kpirules: 无法在 127.0.0.1:{port} 上监听：端口已被占用（换一个 --port，或先停止占用它的程序）\n"
    )
    err = io.StringIO()
    assert run(["serve", "--rulesets", str(RULESETS), "--port", "70000"], out, err) == 2
    assert err.getvalue() == "kpirules: 端口 70000 不可用：应在 1–65535 之间\n"


def test_service_works_again_after_its_workers_were_stopped() -> None:
    """Leaving the application's lifespan stops its workers; the next request starts new ones."""
    app = create_app(Settings(RULESETS))
    for _ in range(2):
        with TestClient(app) as c:
            response = upload(c, "/v1/score", "a-office-annual", EXAMPLES / "a-offices-2026.csv")
            assert [r["total"] for r in response.json()] == ["97.00", "93.20", "83.47", "97.12"]


def test_openapi_document_describes_strict_requests(client: TestClient) -> None:
    """Requests refuse unknown fields; a metric value is a string or a number, nothing else."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["ScoreRequest"]["additionalProperties"] is False
    assert schemas["Row"]["properties"]["metrics"]["additionalProperties"] == {
        "anyOf": [{"type": "string"}, {"type": "number"}]
    }
    score = document["paths"]["/v1/score"]["post"]
    assert set(score["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"404", "413", "422", "500", "503"} <= set(score["responses"])
    assert score["responses"]["413"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


def test_entity_that_cannot_be_scored_is_placed_at_its_cell_in_the_upload(
    client: TestClient,
) -> None:
    """A missing rating is reported where the command line reports it: row 3, column 9."""
    path = EXAMPLES / "c-staff-2026h1-missing.csv"
    detail = error_of(upload(client, "/v1/score", "c-staff-halfyear", path), 422, "cannot_score")
    assert detail["message"] == "c-staff-2026h1-missing.csv：有对象无法计分，未计分"
    assert detail["problems"] == [
        {
            "file": "c-staff-2026h1-missing.csv",
            "line": 3,
            "column": 9,
            "cell": None,
            "path": "$.report_quality",
            "severity": "error",
            "message": "缺少数据：统计分析报告质量评分（report_quality）；这些指标规定缺失时报错（missing: error）",
            "suggestion": None,
            "code": "KR614",
            "entity": "罗晨",
            "field": "report_quality",
        }
    ]
    out, err = io.StringIO(), io.StringIO()
    assert run(["score", str(RULESETS / "c-staff-halfyear.yaml"), str(path)], out, err) == 1
    assert err.getvalue().startswith(f"{path}:3:9: 错误 KR614：罗晨：report_quality：")
