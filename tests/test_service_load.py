"""A small run of the load test against a real uvicorn server on loopback."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_script() -> object:
    spec = importlib.util.spec_from_file_location(
        "serve_load", ROOT / "benchmarks" / "serve_load.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_load"] = module
    spec.loader.exec_module(module)
    return module


def test_concurrent_clients_lose_no_request_and_no_ledger_entry() -> None:
    """5 clients × 40 mixed requests: all answered 200; the ledger holds every recorded row."""
    serve_load = _load_script()
    report = serve_load.run_load(5, 40, deadline=120)  # type: ignore[attr-defined]
    assert report.errors == []
    assert sum(len(v) for v in report.latencies.values()) == 40
    # Requests 0, 10, 20 and 30 record the four offices each.
    assert report.recorded_rows == 16
    assert report.ledger_size == 16
    assert report.ledger_intact is True
