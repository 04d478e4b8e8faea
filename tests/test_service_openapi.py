"""The OpenAPI document of the service, compared byte for byte with its recorded copy.

Clients are generated from this document and the web page relies on its operations: paths in
their order, operation ids, parameters, request and response schemas must not change unless
on purpose. After a deliberate change, write the new copy with
``python tests/test_service_openapi.py`` and review its diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from kpirules.service import Settings, create_app

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "fixtures" / "service-openapi.json"


def document() -> dict[str, Any]:
    """The OpenAPI document of a service with a ledger and a token configured."""
    settings = Settings(ROOT / "rulesets", ledger=ROOT / "unused.sqlite", token="t" * 16)
    return create_app(settings).openapi()


def as_text(doc: dict[str, Any]) -> str:
    """The document as stored: keys in the order the service gives them, Chinese as is."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def test_openapi_document_is_unchanged() -> None:
    """app.openapi() is exactly the recorded document, key order included."""
    assert as_text(document()) == SNAPSHOT.read_text(encoding="utf-8")


def test_openapi_paths_operations_and_schemas() -> None:
    """The paths in order, each operation's id, and the request models the document names."""
    doc = document()
    operations = [
        (method.upper(), path, op["operationId"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]
    assert operations == [
        ("GET", "/v1/rulesets", "rulesets_v1_rulesets_get"),
        (
            "GET",
            "/v1/rulesets/{ruleset_id}/in-force",
            "in_force_for_v1_rulesets__ruleset_id__in_force_get",
        ),
        ("POST", "/v1/validate", "validate_v1_validate_post"),
        ("POST", "/v1/score", "score_v1_score_post"),
        ("POST", "/v1/explain", "explain_v1_explain_post"),
        ("POST", "/v1/record", "record_v1_record_post"),
        ("GET", "/v1/ledger/history", "history_v1_ledger_history_get"),
        ("GET", "/v1/ledger/verify", "verify_v1_ledger_verify_get"),
        ("POST", "/v1/ledger/replay", "replay_entries_v1_ledger_replay_post"),
        ("GET", "/v1/template/{ruleset_id}", "template_v1_template__ruleset_id__get"),
    ]
    schemas = doc["components"]["schemas"]
    for name in (
        "ScoreRequest",
        "ExplainRequest",
        "RecordRequest",
        "ReplayRequest",
        "ValidateRequest",
    ):
        assert name in schemas, name
    assert schemas["ScoreUpload"]["required"] == ["ruleset", "file"]


def test_served_document_is_the_same() -> None:
    """GET /openapi.json answers the same document as app.openapi()."""
    settings = Settings(ROOT / "rulesets", ledger=ROOT / "unused.sqlite", token="t" * 16)
    with TestClient(create_app(settings)) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    SNAPSHOT.write_text(as_text(document()), encoding="utf-8", newline="\n")
