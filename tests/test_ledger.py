"""The audit ledger: append-only, hash-chained, replayable byte for byte, safe against a killed writer."""

from __future__ import annotations

import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import kpirules
from kpirules import engine as engine_module
from kpirules import ledger as ledger_module
from kpirules.cli import run
from kpirules.engine import ENGINE_DIGEST, ENGINE_MODULES
from kpirules.inputs import read_metrics
from kpirules.ledger import (
    GENESIS,
    LEDGER_APPLICATION_ID,
    WAITING_MESSAGE,
    Ledger,
    LedgerError,
    entry_hash,
    is_ledger,
    latest_checkpoint,
    record_batch,
    replay,
)

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
    assert run(["history", str(db), "--format", "json"], out, io.StringIO()) == 0
    first = json.loads(out.getvalue())["entries"][0]
    assert (
        first["seq"],
        first["period"],
        first["entity"],
        f"{first['ruleset_id']} {first['ruleset_version']}",
        first["total"],
        first["grade"],
        first["user"],
    ) == (1, "2026", "第一医院医保办", "a-office-annual 2026.1", "97.00", "优秀", "张三")
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
    assert run(["history", db, "--format", "json"], out, quiet()) == 0
    listed = [
        (e["entity"], f"{e['ruleset_id']} {e['ruleset_version']}", e["total"])
        for e in json.loads(out.getvalue())["entries"]
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


# -- attacks on the ledger: removal, truncation, consistent rewrite ---------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def record_cli(db: Path, *extra: str) -> str:
    """Record the four offices with `score --record`; return what it printed on stderr."""
    code, _, err = cli("score", str(RULESET), str(EXAMPLE), "--record", str(db), *extra)
    assert code == 0, err
    return err


def tamper(db: Path) -> sqlite3.Connection:
    """A raw connection with the append-only triggers dropped, as an attacker would."""
    raw = sqlite3.connect(db)
    for table in ("meta", "rulesets", "entries", "checkpoints"):
        for verb in ("update", "delete"):
            raw.execute(f"DROP TRIGGER {table}_no_{verb}")
    return raw


def rewrite_consistently(db: Path, seq: int, total: str) -> None:
    """Change entry ``seq``'s total, then recompute every later hash and every checkpoint head."""
    raw = tamper(db)
    raw.row_factory = sqlite3.Row
    rows = [dict(r) for r in raw.execute("SELECT * FROM entries ORDER BY seq")]
    prev = rows[seq - 2]["hash"] if seq > 1 else GENESIS
    for row in rows[seq - 1 :]:
        if row["seq"] == seq:
            result = json.loads(row["result"])
            result["total"] = row["total"] = total
            row["result"] = json.dumps(
                result, ensure_ascii=False, sort_keys=True, separators=(",", ":")
            )
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row)
        raw.execute(
            "UPDATE entries SET total = ?, result = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (row["total"], row["result"], row["prev_hash"], row["hash"], row["seq"]),
        )
    for row in rows:
        raw.execute("UPDATE checkpoints SET head = ? WHERE size = ?", (row["hash"], row["seq"]))
    raw.commit()
    raw.close()


def head_of(db: Path) -> str:
    with Ledger.open_readonly(db) as ledger:
        size, head = ledger.head()
    return f"{size}:{head}"


def test_every_batch_ends_in_a_printed_and_stored_checkpoint(tmp_path: Path) -> None:
    """`score --record` prints the batch's checkpoint; the ledger stores it; verify prints the head."""
    db = tmp_path / "ledger.db"
    first = record_cli(db).splitlines()
    second = record_cli(db).splitlines()
    with Ledger.open_readonly(db) as ledger:
        entries = list(ledger.entries())
        checkpoints = ledger.checkpoints()
        ledger_id = ledger.ledger_id
    assert len(ledger_id) == 32
    assert [(c.size, c.head, c.first) for c in checkpoints] == [
        (4, entries[3].hash, 1),
        (8, entries[7].hash, 5),
    ]
    assert checkpoints[1].time == entries[7].recorded_at
    assert first[-2:] == [
        f"已记入 {db}：第 1–4 条",
        f"检查点 4:{entries[3].hash}（记录文件 {ledger_id}，{entries[3].recorded_at}）",
    ]
    assert second[-1] == checkpoints[1].line()
    assert latest_checkpoint(db) == checkpoints[1]
    code, out, _ = cli("verify", str(db), "--head", f"4:{entries[3].hash}", "--head", head_of(db))
    assert code == 0
    assert out.splitlines() == [
        f"{db}: 8 条记录，哈希链完整",
        f"{db}: 检查点 4:{entries[3].hash[:16]}…：第 1–4 条与检查点一致",
        f"{db}: 检查点 8:{entries[7].hash[:16]}…：第 1–8 条与检查点一致",
        f"{db}: 当前检查点 8:{entries[7].hash}（记录文件 {ledger_id}）",
    ]


def test_removed_last_batch_is_caught_by_a_receipt_not_by_the_chain(tmp_path: Path) -> None:
    """Deleting the last batch and its checkpoint passes a bare verify; any later receipt catches it."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    record_cli(db, "--receipt", str(tmp_path / "r8.json"))
    raw = tamper(db)
    raw.execute("DELETE FROM entries WHERE seq > 4")
    raw.execute("DELETE FROM checkpoints WHERE size > 4")
    raw.commit()
    raw.close()
    code, out, _ = cli("verify", str(db))
    assert (code, out.splitlines()[0]) == (
        0,
        f"{db}: 4 条记录，哈希链完整",
    )  # the chain alone cannot tell
    code, out, _ = cli("verify", str(db), "--receipt", str(tmp_path / "r8.json"))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 收据 {tmp_path / 'r8.json'} 记到第 8 条，但记录只有 4 条：末尾的记录被删除（记录被截短）"
    )
    assert out.splitlines()[-1].startswith(f"{db}: 当前检查点 4:")


def test_removed_entries_with_their_checkpoint_left_are_caught_without_a_receipt(
    tmp_path: Path,
) -> None:
    """Deleting the last batch but not its stored checkpoint fails a bare verify."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    record_cli(db)
    raw = tamper(db)
    raw.execute("DELETE FROM entries WHERE seq > 6")
    raw.commit()
    raw.close()
    code, out, _ = cli("verify", str(db))
    assert code == 1
    assert out.splitlines()[0] == f"{db}: 检查点 8 记到第 8 条，但记录只有 6 条：末尾的记录被删除"


def test_every_entry_removed_is_caught_by_a_noted_head(tmp_path: Path) -> None:
    """An emptied ledger passes a bare verify; the head noted after recording catches it."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    noted = head_of(db)
    raw = tamper(db)
    raw.execute("DELETE FROM entries")
    raw.execute("DELETE FROM checkpoints")
    raw.commit()
    raw.close()
    assert cli("verify", str(db))[0] == 0
    code, out, _ = cli("verify", str(db), "--head", noted)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 检查点 4:{noted[2:18]}… 记到第 4 条，但记录只有 0 条：末尾的记录被删除（记录被截短）"
    )
    assert out.splitlines()[1] == f"{db}: 当前检查点 0:{GENESIS}（记录文件 {latest_id(db)}）"


def latest_id(db: Path) -> str:
    with Ledger.open_readonly(db) as ledger:
        return ledger.ledger_id


def test_consistent_rewrite_is_caught_by_an_earlier_receipt(tmp_path: Path) -> None:
    """Rewriting entry 2 with every later hash recomputed passes verify and replay, not a receipt."""
    db = tmp_path / "ledger.db"
    receipt = tmp_path / "r4.json"
    record_cli(db, "--receipt", str(receipt))
    record_cli(db)
    rewrite_consistently(db, 2, "99.00")
    code, out, _ = cli("verify", str(db))
    assert (code, out.splitlines()[0]) == (
        0,
        f"{db}: 8 条记录，哈希链完整",
    )  # the chain alone cannot tell
    with Ledger.open_readonly(db) as ledger:
        rewritten = next(ledger.entries(4)).hash
    original = json.loads(receipt.read_text("utf-8"))["head"]
    code, out, _ = cli("verify", str(db), "--receipt", str(receipt))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 收据 {receipt}：第 4 条记录的哈希与检查点不符（检查点 {original[:16]}…，记录 {rewritten[:16]}…）："
        "第 1–4 条中有记录被改写、删除或替换"
    )


def test_rebuilt_ledger_is_caught_by_its_ledger_id(tmp_path: Path) -> None:
    """A ledger recreated from scratch with the same scorings has another id: the receipt says so."""
    db = tmp_path / "ledger.db"
    receipt = tmp_path / "r.json"
    record_cli(db, "--receipt", str(receipt))
    old_id = latest_id(db)
    db.unlink()
    record_cli(db)
    code, out, _ = cli("verify", str(db), "--receipt", str(receipt))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 收据 {receipt} 属于另一个记录文件（{old_id}），不是本文件（{latest_id(db)}）：本文件被替换或重建过"
    )


# -- read-only means read-only ------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_reading_commands_leave_the_ledger_untouched(tmp_path: Path) -> None:
    """verify, history and replay change no byte, no mtime and make no file beside the ledger."""
    folder = tmp_path / "archive"
    folder.mkdir()
    db = folder / "ledger.db"
    record_cli(db)
    before = snapshot(folder)
    for argv in (["verify", str(db)], ["history", str(db)], ["replay", str(db)]):
        assert cli(*argv)[0] == 0
    assert snapshot(folder) == before
    assert list(before) == ["ledger.db"]


def test_read_only_connection_refuses_writes(tmp_path: Path) -> None:
    """The reading connection is opened with mode=ro: a write through it fails (even as root)."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    with Ledger.open_readonly(db) as ledger:
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            ledger.db.execute("CREATE TABLE intruder (x INTEGER)")
        with pytest.raises(LedgerError) as info:
            ledger.append(kpirules.load(RULESET), [], [])
    assert str(info.value) == f"没有可记入 {db} 的计分（0 个对象）"


def test_ledger_on_read_only_media_can_be_verified(tmp_path: Path) -> None:
    """A ledger whose file and folder are read-only is verified, listed and replayed."""
    folder = tmp_path / "media"
    folder.mkdir()
    db = folder / "ledger.db"
    record_cli(db)
    before = snapshot(folder)
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        for argv in (["verify", str(db)], ["history", str(db)], ["replay", str(db)]):
            code, _, err = cli(*argv)
            assert (code, err) == (0, "")
        assert snapshot(folder) == before
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def other_database(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE contacts (name TEXT)")
    raw.commit()
    raw.close()


def wrong_entries(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA application_id = {LEDGER_APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 2")
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("CREATE TABLE rulesets (text_sha256 TEXT PRIMARY KEY, text TEXT NOT NULL)")
    raw.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY, entity TEXT, score REAL)")
    raw.commit()
    raw.close()


def newer(path: Path) -> None:
    with Ledger(path, create=True):
        pass
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 4")
    raw.commit()
    raw.close()


def first_version(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO meta VALUES ('kpirules_ledger', '1')")
    raw.commit()
    raw.close()


NOT_LEDGERS = [
    ("empty", lambda p: p.write_bytes(b""), "{p} 是空文件，不是 kpirules 审计记录"),
    (
        "text",
        lambda p: p.write_text("甲,乙\n1,2\n", "utf-8"),
        "{p} 是文本文件，不是 kpirules 审计记录",
    ),
    (
        "binary",
        lambda p: p.write_bytes(bytes(range(256))),
        "{p} 不是 SQLite 数据库，不是 kpirules 审计记录",
    ),
    (
        "other program",
        other_database,
        "{p} 是另一个程序的 SQLite 数据库（application_id 0x00000000），不是 kpirules 审计记录",
    ),
    (
        "different entries",
        wrong_entries,
        "{p} 标为 kpirules 审计记录，但 entries 表与本程序写的不符"
        "（缺少列 recorded_at、user、batch、position、period、ruleset_id、ruleset_version、"
        "fingerprint、text_sha256、ruleset_file、metrics、result、engine、engine_digest、"
        "decimal_context、total、grade、prev_hash、hash；多出列 score）：不是可用的审计记录",
    ),
    ("newer", newer, "{p} 是第 4 版 kpirules 审计记录，本程序只能读第 2–3 版：请升级 kpirules"),
    (
        "first version",
        first_version,
        "{p} 是第 1 版 kpirules 审计记录（没有检查点）；本程序只能读第 2–3 版",
    ),
]


@pytest.mark.parametrize(("kind", "make", "message"), NOT_LEDGERS, ids=[n[0] for n in NOT_LEDGERS])
def test_not_a_ledger_is_refused_and_left_alone(
    tmp_path: Path, kind: str, make: Any, message: str
) -> None:
    """Each reading command and --record refuse a file that is not a ledger, naming it, unchanged."""
    path = tmp_path / "x.db"
    make(path)
    before = snapshot(tmp_path)
    assert not is_ledger(path) or kind in ("different entries", "newer")
    commands = [["verify", str(path)], ["history", str(path)], ["replay", str(path)]]
    if kind != "empty":
        commands.append(["score", str(RULESET), str(EXAMPLE), "--record", str(path)])
    for argv in commands:
        code, _, err = cli(*argv)
        assert (code, err.splitlines()[-1]) == (1, "kpirules: " + message.format(p=path)), argv
    assert snapshot(tmp_path) == before
    if kind == "empty":  # `touch ledger.db` then --record: the empty file becomes a ledger
        record_cli(path)
        assert is_ledger(path)


def test_is_ledger_reads_only_the_header(tmp_path: Path) -> None:
    """is_ledger tells a ledger from other files without opening or changing them."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    other = tmp_path / "other.db"
    other_database(other)
    before = snapshot(tmp_path)
    assert is_ledger(db)
    assert not is_ledger(other)
    assert not is_ledger(tmp_path / "missing.db")
    assert not is_ledger(tmp_path)
    assert snapshot(tmp_path) == before


# -- a second writer waits, saying so ------------------------------------------------------

HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
if sys.argv[2] == "forever":
    sys.stdin.readline()
else:
    time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def hold(db: Path, how: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n")
    proc.stdin.close()
    proc.wait()
    proc.stdout.close()


def test_writer_waits_then_gives_up_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scoring that finds another one writing says it waits, then fails cleanly at the limit."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    monkeypatch.setattr(ledger_module, "LOCK_WAIT_SECONDS", 0.5)
    proc = hold(db, "forever")
    try:
        code, _, err = cli("score", str(RULESET), str(EXAMPLE), "--record", str(db))
    finally:
        release(proc)
    assert code == 1
    assert err.splitlines() == [
        "审计记录正被另一个计分写入，等待中…",
        f"kpirules: {db} 正被另一个计分写入，等待 0.5 秒后仍未结束：本次计分没有记入，请稍后重试",
    ]
    assert head_of(db).startswith("4:")


def test_writer_waits_for_a_lock_and_then_records(tmp_path: Path) -> None:
    """A writer that finds the ledger locked says so and records once the other write ends."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    ruleset = kpirules.load(RULESET)
    rows = read_metrics(EXAMPLE, ruleset)
    said: list[str] = []
    proc = hold(db, "0.5")
    try:
        entries, checkpoint = record_batch(
            db, ruleset, rows, ruleset.evaluate_many(rows), on_wait=said.append
        )
    finally:
        proc.wait()
        assert proc.stdout is not None and proc.stdin is not None
        proc.stdout.close()
        proc.stdin.close()
    assert said == [WAITING_MESSAGE]
    assert (entries[0].seq, checkpoint.size) == (5, 8)


# -- the engine's identity ----------------------------------------------------------------


def test_replay_says_when_the_engine_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries recorded by another engine build: replay says so first, then compares the scores."""
    db = tmp_path / "ledger.db"
    old = "sha256:" + "ab" * 32
    monkeypatch.setattr(engine_module, "ENGINE_DIGEST", old)
    results = record(db, RULESET, "2026")
    assert results[0].provenance.engine_digest == old
    monkeypatch.undo()
    with Ledger.open_readonly(db) as ledger:
        assert [e.engine_digest for e in ledger.entries()] == [old] * 4
        assert {e.engine for e in ledger.entries()} == {"kpirules 0.1.0"}
    code, out, _ = cli("replay", str(db), "2")
    assert code == 0
    assert out.splitlines() == [
        f"{db}: 评分引擎与记录时不同（记录：kpirules 0.1.0 {old}，现在：kpirules 0.1.0 {ENGINE_DIGEST}）",
        f"{db}: 第 2 条（第二医院医保办）：一致",
        f"{db}: 1/1 条重算结果与记录逐字节一致",
    ]


def test_results_record_the_engine_digest() -> None:
    """Every result's provenance names the package version and the digest of the scoring code."""
    import hashlib

    ruleset = kpirules.load(RULESET)
    result = ruleset.evaluate_many(read_metrics(EXAMPLE, ruleset))[0]
    digest = hashlib.sha256()
    source = Path(engine_module.__file__).parent
    for name in ENGINE_MODULES:
        data = (source / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    assert (
        json.loads(result.to_json())["provenance"]["engine_digest"]
        == "sha256:" + digest.hexdigest()
    )
    assert result.provenance.engine == f"kpirules {kpirules.__version__}"
    assert "methods/__init__.py" in ENGINE_MODULES and "engine.py" in ENGINE_MODULES


DIES_MID_COMMIT = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size = 1")  # pages spill into the file before the commit
db.execute("BEGIN IMMEDIATE")
for i in range(500):
    db.execute("INSERT INTO rulesets VALUES (?, ?)", (str(i), "x" * 2000))
os._exit(0)
"""


def test_interrupted_write_is_explained_to_a_reader_and_rolled_back_by_a_writer(
    tmp_path: Path,
) -> None:
    """A writer that died mid-commit leaves a journal: verify says what to do; a writer recovers."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    subprocess.run([sys.executable, "-c", DIES_MID_COMMIT, str(db)], check=True)
    journal = tmp_path / "ledger.db-journal"
    assert journal.is_file()
    code, _, err = cli("verify", str(db))
    assert (code, err) == (
        1,
        f"kpirules: {db} 旁有一次中断的写入留下的 ledger.db-journal，只读检查无法先把它回滚："
        f'请在可写的位置用 sqlite3 打开一次（sqlite3 {db} "PRAGMA integrity_check"）再检查；'
        "不要删除 ledger.db-journal\n",
    )
    record_cli(db)
    code, out, _ = cli("verify", str(db))
    assert (code, out.splitlines()[0]) == (0, f"{db}: 8 条记录，哈希链完整")


def test_entries_appended_without_a_checkpoint_are_named(tmp_path: Path) -> None:
    """An entry chained on correctly but added outside kpirules has no checkpoint: verify says so."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    raw = sqlite3.connect(db)
    raw.row_factory = sqlite3.Row
    row = dict(raw.execute("SELECT * FROM entries WHERE seq = 4").fetchone())
    row.update(seq=5, total="100.00", prev_hash=row["hash"])
    row["hash"] = entry_hash(row)
    raw.execute(f"INSERT INTO entries VALUES ({', '.join('?' for _ in row)})", tuple(row.values()))
    raw.commit()
    raw.close()
    code, out, _ = cli("verify", str(db))
    assert code == 1
    assert out.splitlines() == [
        f"{db}: 第 5–5 条记录没有检查点：不是由 kpirules 记入的",
        f"{db}: 当前检查点 5:{row['hash']}（记录文件 {latest_id(db)}）",
    ]


TWO_WRITERS = """
import sys
import kpirules
from kpirules.inputs import read_metrics
from kpirules.ledger import record_batch
ruleset = kpirules.load(sys.argv[2])
rows = read_metrics(sys.argv[3], ruleset)
results = ruleset.evaluate_many(rows)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(15):
    record_batch(sys.argv[1], ruleset, rows, results, period=sys.argv[4])
"""


def test_two_writers_at_once_both_record_whole_batches(tmp_path: Path) -> None:
    """Two processes recording into one ledger at once: every batch lands whole, the chain holds."""
    db = tmp_path / "ledger.db"
    record_cli(db)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_WRITERS, str(db), str(RULESET), str(EXAMPLE), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("甲", "乙")
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
    for proc in procs:
        assert proc.stdout is not None and proc.stderr is not None
        err = proc.stderr.read()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        assert (proc.returncode, err) == (0, "")
    with Ledger.open_readonly(db) as ledger:
        assert ledger.verify() == []
        entries = list(ledger.entries())
        checkpoints = ledger.checkpoints()
    assert len(entries) == 4 + 2 * 15 * 4
    assert [c.size for c in checkpoints] == list(range(4, 125, 4))
    assert sorted(e.period for e in entries[4:]).count("甲") == 60


def test_workbook_title_block_carries_the_checkpoint_verify_prints(tmp_path: Path) -> None:
    """`score --record --output x.xlsx`: the 汇总 title block has the batch's checkpoint line,
    whose N:HASH is the head `kpirules verify` prints; without --record there is no such line."""
    db = tmp_path / "ledger.db"
    target = tmp_path / "结果.xlsx"
    err = record_cli(db, "--output", str(target), "--period", "2026")
    checkpoint = next(line for line in err.splitlines() if line.startswith("检查点 "))
    code, out, _ = cli("verify", str(db))
    assert code == 0
    head = re.search(r"当前检查点 (\d+:[0-9a-f]{64})", out)
    assert head is not None and head.group(1).startswith("4:")
    ws = openpyxl.load_workbook(target)["汇总"]
    lines = [ws.cell(r, 1).value for r in range(1, 10)]
    assert lines[6] == f"已记入审计记录 {db}：{checkpoint}"
    assert re.fullmatch(
        rf"已记入审计记录 .+：检查点 {head.group(1)}（记录文件 [^，]+，[^）]+）", str(lines[6])
    )
    assert (lines[7], lines[8]) == (None, "排名")
    plain = tmp_path / "未记录.xlsx"
    assert cli("score", str(RULESET), str(EXAMPLE), "--output", str(plain))[0] == 0
    assert openpyxl.load_workbook(plain)["汇总"].cell(8, 1).value == "排名"
