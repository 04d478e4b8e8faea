"""The audit ledger: append-only, hash-chained, replayable byte for byte, safe against a killed writer."""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kpirules
from kpirules.cli import run
from kpirules.inputs import read_metrics
from kpirules.ledger import Ledger, LedgerError, replay

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"


def version_2027(tmp_path: Path) -> Path:
    """Next year's rules: 满意度 must reach 97% for full marks (segment 90–97 → 6–10)."""
    text = RULESET.read_text("utf-8").replace('version: "2026.1"', 'version: "2027.1"')
    text = text.replace(
        "{from: 90%, to: 95%, points: [6, 10]}", "{from: 90%, to: 97%, points: [6, 10]}"
    )
    text = text.replace('target: "≥ 95%"', 'target: "≥ 97%"')
    path = tmp_path / "a-office-annual-2027.yaml"
    path.write_text(text, "utf-8")
    return path


def record(ledger_path: Path, ruleset_path: Path, period: str) -> list[kpirules.Result]:
    ruleset = kpirules.load(ruleset_path)
    rows = read_metrics(EXAMPLE, ruleset)
    results = list(ruleset.evaluate_many(rows))
    with Ledger(ledger_path, create=True) as ledger:
        ledger.append(ruleset, rows, results, period=period, user="审计测试")
    return results


def test_two_periods_two_versions_replay_byte_identical(tmp_path: Path) -> None:
    """Two periods under two ruleset versions are recorded, verified and replayed identically."""
    db = tmp_path / "ledger.db"
    first = record(db, RULESET, "2026")
    second = record(db, version_2027(tmp_path), "2027")
    # the 2027 rules score 第二医院 (满意度 92%) lower: 6 + 2/7×4 instead of 7.6
    # 2027 rules, 满意度 on the 90–97% segment: 第一 96% → 6 + 6/7×4 = 9.43 (was 10);
    # 第二 92% → 6 + 2/7×4 = 7.14 (was 7.6); 第三 85% unchanged; 中医院 94.5% → 8.57 (was 9.6).
    assert [str(r.total) for r in first] == ["97.00", "93.20", "83.47", "97.12"]
    assert [str(r.total) for r in second] == ["96.43", "92.74", "83.47", "96.09"]
    with Ledger(db) as ledger:
        entries = list(ledger.entries())
        assert [(e.seq, e.period, e.ruleset_version, e.total) for e in entries] == [
            (1, "2026", "2026.1", "97.00"),
            (2, "2026", "2026.1", "93.20"),
            (3, "2026", "2026.1", "83.47"),
            (4, "2026", "2026.1", "97.12"),
            (5, "2027", "2027.1", "96.43"),
            (6, "2027", "2027.1", "92.74"),
            (7, "2027", "2027.1", "83.47"),
            (8, "2027", "2027.1", "96.09"),
        ]
        assert entries[4].prev_hash == entries[3].hash
        assert ledger.verify() == []
        replayed = replay(ledger)
    assert [r.same for r in replayed] == [True] * 8
    assert json.loads(entries[5].result)["total"] == "92.74"


def test_edited_entry_is_detected(tmp_path: Path) -> None:
    """Changing a past entry (even with the triggers dropped) breaks the chain and the replay."""
    db = tmp_path / "ledger.db"
    record(db, RULESET, "2026")
    raw = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE entries SET total = '99.00' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM entries WHERE seq = 4")
    raw.execute("DROP TRIGGER entries_no_update")
    result = json.loads(raw.execute("SELECT result FROM entries WHERE seq = 2").fetchone()[0])
    result["total"] = "99.00"
    raw.execute(
        "UPDATE entries SET total = '99.00', result = ? WHERE seq = 2",
        (json.dumps(result, ensure_ascii=False, sort_keys=True, separators=(",", ":")),),
    )
    raw.commit()
    raw.close()
    with Ledger(db) as ledger:
        assert ledger.verify() == ["第 2 条记录（第二医院医保办）的内容与其哈希不符：记录被改动过"]
        [again] = replay(ledger, 2)
    assert not again.same
    assert again.difference == "total：记录为 99.00，重算为 93.20"
    out = io.StringIO()
    assert run(["verify", str(db)], out, io.StringIO()) == 1
    assert run(["replay", str(db)], io.StringIO(), io.StringIO()) == 1


def test_cli_record_history_verify_replay(tmp_path: Path) -> None:
    """`score --record` appends; history lists; verify and replay exit 0 on an untouched ledger."""
    db = tmp_path / "ledger.db"
    err = io.StringIO()
    code = run(
        [
            "score",
            str(RULESET),
            str(EXAMPLE),
            "--record",
            str(db),
            "--period",
            "2026",
            "--user",
            "张三",
        ],
        io.StringIO(),
        err,
    )
    assert code == 0
    assert "已记入" in err.getvalue()
    out = io.StringIO()
    assert run(["history", str(db)], out, io.StringIO()) == 0
    first = out.getvalue().splitlines()[0].split("\t")
    assert (first[0], first[2], first[3], first[4], first[5], first[6], first[7]) == (
        "1",
        "2026",
        "第一医院医保办",
        "a-office-annual 2026.1",
        "97.00",
        "优秀",
        "张三",
    )
    out = io.StringIO()
    assert run(["verify", str(db)], out, io.StringIO()) == 0
    with Ledger.open_readonly(db) as ledger:
        head = ledger.head()[1]
        ledger_id = ledger.ledger_id
        assert head == list(ledger.entries())[-1].hash
    assert out.getvalue() == (
        f"{db}: 4 条记录，哈希链完整\n{db}: 当前检查点 4:{head}（记录文件 {ledger_id}）\n"
    )
    out = io.StringIO()
    assert run(["replay", str(db), "3"], out, io.StringIO()) == 0
    assert out.getvalue().splitlines() == [
        f"{db}: 第 3 条（第三医院医保办）：一致",
        f"{db}: 1/1 条重算结果与记录逐字节一致",
    ]


def test_not_a_ledger(tmp_path: Path) -> None:
    """A file that is not a ledger, or no file, is a clear error."""
    bad = tmp_path / "x.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(LedgerError) as info:
        Ledger(bad)
    assert str(info.value) == f"{bad} 是文本文件，不是 kpirules 审计记录"
    with pytest.raises(LedgerError, match="找不到记录文件"):
        Ledger(tmp_path / "missing.db")


WRITER = """
import sys
import kpirules
from kpirules.inputs import read_metrics
from kpirules.ledger import Ledger
ruleset = kpirules.load(sys.argv[2])
rows = read_metrics(sys.argv[3], ruleset)
results = ruleset.evaluate_many(rows)
with Ledger(sys.argv[1], create=True) as ledger:
    print("ready", flush=True)
    while True:
        ledger.append(ruleset, rows, results, period="loop")
"""


def test_killed_writer_leaves_a_valid_chain(tmp_path: Path) -> None:
    """A writer killed (SIGKILL) in the middle of appending leaves whole batches and a valid chain."""
    db = tmp_path / "ledger.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(RULESET), str(EXAMPLE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with Ledger(db) as ledger:
        entries = list(ledger.entries())
        assert ledger.verify() == []
    assert len(entries) >= 4
    assert len(entries) % 4 == 0  # no half-written batch
    with Ledger(db) as ledger:  # and it can be appended to again
        ruleset = kpirules.load(RULESET)
        rows = read_metrics(EXAMPLE, ruleset)
        ledger.append(ruleset, rows, ruleset.evaluate_many(rows))
        assert ledger.verify() == []


def test_audit_walkthrough_in_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk-through in docs/audit.md, run as written, gives the figures it states."""
    monkeypatch.chdir(ROOT)
    db = str(tmp_path / "audit.db")
    quiet = io.StringIO
    assert (
        run(
            [
                "score",
                "examples/family/",
                "examples/a-offices-2026-quarterly.csv",
                "--period",
                "2026",
                "--record",
                db,
            ],
            quiet(),
            quiet(),
        )
        == 0
    )
    assert (
        run(
            [
                "score",
                "examples/family/",
                "examples/a-offices-2027.csv",
                "--period",
                "2027",
                "--record",
                db,
            ],
            quiet(),
            quiet(),
        )
        == 0
    )
    out = quiet()
    assert run(["history", db], out, quiet()) == 0
    listed = [
        (line.split("\t")[3], line.split("\t")[4], line.split("\t")[5])
        for line in out.getvalue().splitlines()
    ]
    assert listed == [
        ("甲医院医保办", "a-office 2026.1", "96.23"),
        ("乙医院医保办", "a-office 2026.1", "95.23"),
        ("第一医院医保办", "a-office 2027.1", "97.00"),
        ("第二医院医保办", "a-office 2027.1", "94.46"),
        ("第三医院医保办", "a-office 2027.1", "85.27"),
        ("中医院医保办", "a-office 2027.1", "96.95"),
    ]
    out = quiet()
    assert run(["verify", db], out, quiet()) == 0
    assert out.getvalue().splitlines()[0] == f"{db}: 6 条记录，哈希链完整"
    assert out.getvalue().splitlines()[1].startswith(f"{db}: 当前检查点 6:")
    out = quiet()
    assert run(["replay", db], out, quiet()) == 0
    assert out.getvalue().splitlines()[-1] == f"{db}: 6/6 条重算结果与记录逐字节一致"
    out = quiet()
    assert (
        run(
            [
                "diff",
                "examples/family/a-office-2026.yaml",
                "examples/family/a-office-2027.yaml",
                "--metrics",
                "examples/a-offices-2027.csv",
            ],
            out,
            quiet(),
        )
        == 0
    )
    text = out.getvalue()
    assert "  第二医院医保办：总分 95.60 → 94.46（-1.14），等级仍为 优秀" in text
    assert "  中医院医保办：总分 97.52 → 96.95（-0.57），等级仍为 优秀" in text
