"""Load test of ``kpirules serve``: a real uvicorn server on loopback, many concurrent clients.

Starts ``python -m kpirules serve`` on 127.0.0.1 (a free port) with a fresh ledger and a
token, sends ``--requests`` requests from ``--clients`` concurrent clients (score, explain
and record, mixed), then checks that every request succeeded and that the ledger holds
exactly one entry per recorded row with its hash chain intact. Reports throughput and the
50th, 95th and 99th percentile latency. Traffic goes to 127.0.0.1 only; every request and
the whole run are bounded in time.

Usage: python benchmarks/serve_load.py [--clients 50] [--requests 2000] [--deadline 600]
Exit code 0 when there was no error and no lost ledger entry, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: The requests: the shipped example's four offices; every tenth request records them, one
#: in four explains one office, the rest score them.
RULESET = "a-office-annual"
METRICS = ROOT / "examples" / "a-offices-2026.csv"


@dataclass
class Report:
    """What one load run measured."""

    clients: int
    requests: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    recorded_rows: int = 0
    ledger_size: int = -1
    ledger_intact: bool = False

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentiles(self, kind: str | None = None) -> tuple[float, float, float]:
        """p50, p95, p99 in milliseconds (of one kind of request, or all)."""
        values = (
            self.latencies.get(kind, [])
            if kind
            else [v for vs in self.latencies.values() for v in vs]
        )
        if len(values) < 2:
            one = values[0] * 1000 if values else 0.0
            return one, one, one
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000

    @property
    def ok(self) -> bool:
        return not self.errors and self.ledger_intact and self.ledger_size == self.recorded_rows

    def lines(self) -> list[str]:
        out = [
            f"{self.clients} clients, {self.requests} requests in {self.seconds:.1f} s: "
            f"{self.throughput:.1f} requests/s",
            "| requests | count | p50 ms | p95 ms | p99 ms |",
            "|---|---|---|---|---|",
        ]
        for kind in (*sorted(self.latencies), None):
            p50, p95, p99 = self.percentiles(kind)
            count = (
                len(self.latencies[kind]) if kind else sum(len(v) for v in self.latencies.values())
            )
            out.append(f"| {kind or 'all'} | {count} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
        out.append(
            f"errors: {len(self.errors)}; recorded rows: {self.recorded_rows}; "
            f"ledger entries: {self.ledger_size}; hash chain intact: {self.ledger_intact}"
        )
        out.extend(self.errors[:10])
        return out


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def rows() -> list[dict[str, Any]]:
    """The four offices of the shipped example, as JSON rows (values as their CSV text)."""
    with METRICS.open(encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    entity = next(iter(table[0]))
    return [
        {"entity": r[entity], "metrics": {k: v for k, v in r.items() if k != entity}} for r in table
    ]


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None, token: str
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def wait_until_up(port: int, process: subprocess.Popen[bytes], limit: float) -> None:
    """Poll until the server answers, it exits, or ``limit`` seconds pass."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/v1/rulesets")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {limit:g} s")


def run_load(clients: int, total: int, *, deadline: float = 600.0) -> Report:
    """Start a server, send ``total`` requests from ``clients`` threads, check the ledger."""
    port = free_port()
    token = secrets.token_urlsafe(24)
    payload = rows()
    bodies = {
        "score": json.dumps({"ruleset": RULESET, "rows": payload}).encode(),
        "explain": json.dumps(
            {"ruleset": RULESET, "rows": payload, "entity": payload[1]["entity"]}
        ).encode(),
        "record": json.dumps(
            {"ruleset": RULESET, "period": "2026", "rows": payload, "user": "load"}
        ).encode(),
    }
    paths = {"score": "/v1/score", "explain": "/v1/explain", "record": "/v1/record"}
    with tempfile.TemporaryDirectory(prefix="kpirules-load-") as folder:
        token_file = Path(folder) / "token"
        token_file.write_text(token + "\n", encoding="utf-8")
        ledger = Path(folder) / "ledger.sqlite"
        command = [
            sys.executable,
            "-m",
            "kpirules",
            "serve",
            "--rulesets",
            str(ROOT / "rulesets"),
            "--ledger",
            str(ledger),
            "--host",
            HOST,
            "--port",
            str(port),
            "--token-file",
            str(token_file),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = (Path(folder) / "server.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        report: Report | None = None
        try:
            wait_until_up(port, process, 60)
            report = Report(clients, total, 0.0, {k: [] for k in paths})
            lock = threading.Lock()
            counter = iter(range(total))
            stop_at = time.monotonic() + deadline

            def client() -> None:
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
                try:
                    while time.monotonic() < stop_at:
                        with lock:
                            n = next(counter, None)
                        if n is None:
                            return
                        kind = "record" if n % 10 == 0 else "explain" if n % 4 == 1 else "score"
                        start = time.perf_counter()
                        try:
                            status, body = request(conn, "POST", paths[kind], bodies[kind], token)
                        except (OSError, http.client.HTTPException) as exc:
                            conn.close()
                            conn = http.client.HTTPConnection(HOST, port, timeout=120)
                            status, body = 0, str(exc).encode()
                        took = time.perf_counter() - start
                        with lock:
                            report.latencies[kind].append(took)
                            if status != 200:
                                report.errors.append(
                                    f"{kind} #{n}: HTTP {status}: {body[:300].decode(errors='replace')}"
                                )
                            elif kind == "record":
                                report.recorded_rows += len(payload)
                finally:
                    conn.close()

            threads = [threading.Thread(target=client) for _ in range(clients)]
            began = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(deadline + 150)
            report.seconds = time.perf_counter() - began
            sent = sum(len(v) for v in report.latencies.values())
            if sent != total:
                report.errors.append(
                    f"only {sent} of {total} requests were sent before the deadline"
                )
            conn = http.client.HTTPConnection(HOST, port, timeout=120)
            status, body = request(conn, "GET", "/v1/ledger/verify", None, token)
            conn.close()
            if status == 200:
                verified = json.loads(body)
                report.ledger_size = verified["size"]
                report.ledger_intact = verified["intact"]
            else:
                report.errors.append(
                    f"verify: HTTP {status}: {body[:300].decode(errors='replace')}"
                )
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(20)
            log.close()
            if report is None or report.errors:
                text = (Path(folder) / "server.log").read_text(encoding="utf-8", errors="replace")
                print(text[-3000:], file=sys.stderr)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole run")
    args = parser.parse_args()
    report = run_load(args.clients, args.requests, deadline=args.deadline)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
