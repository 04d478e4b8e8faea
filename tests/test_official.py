"""Official batches in the ledger (kpirules official), and kpirules history for people."""

from __future__ import annotations

import io
import json
import sqlite3
import zoneinfo
from pathlib import Path

import pytest

from kpirules.cli import run
from kpirules.history import local_time, parse_zone
from kpirules.ledger import (
    SCHEMA_VERSION,
    Ledger,
    OfficialError,
    mark_official,
    official_batch,
)

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"
TOTALS = ["97.00", "93.20", "83.47", "97.12"]


def cli(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def score(db: Path, *extra: str) -> None:
    code, _, err = cli("score", RULESET, EXAMPLE, "--record", db, *extra)
    assert code == 0, err


def two_runs(tmp_path: Path) -> Path:
    """Batches 1 and 2 of period 2026 (entries 1–4 and 5–8), by 张三 then 李四."""
    db = tmp_path / "audit.db"
    score(db, "--period", "2026", "--user", "张三")
    score(db, "--period", "2026", "--user", "李四")
    return db


def test_marking_a_batch_prints_its_checkpoint_and_supersedes_the_others(tmp_path: Path) -> None:
    """Batch 2 marked official: record 9 in the chain, ending in a checkpoint; batch 1 superseded."""
    db = two_runs(tmp_path)
    code, out, err = cli(
        "official", db, "--batch", "2", "--note", "补报数据后重算", "--user", "王五"
    )
    assert (code, err) == (0, "")
    with Ledger.open_readonly(db) as ledger:
        size, head = ledger.head()
        (mark,) = ledger.marks()
        checkpoint = ledger.checkpoint()
        assert ledger.version == SCHEMA_VERSION == 3
    assert checkpoint is not None
    assert (size, mark.seq, mark.hash, checkpoint.head) == (9, 9, head, head)
    assert (mark.period, mark.user, mark.note) == ("2026", "王五", "补报数据后重算")
    assert out.splitlines() == [
        f"{db}: 第 2 批已标为 2026 期间的正式批次，取代第 1 批",
        f"{db}: 检查点 9:{head}（记录文件 {checkpoint.ledger_id}，{checkpoint.time}）",
    ]
    code, out, _ = cli("verify", db)
    assert code == 0
    assert out.splitlines()[0] == f"{db}: 9 条记录，哈希链完整"
    code, out, _ = cli("history", db, "--format", "json")
    data = json.loads(out)
    assert [(e["seq"], e["batch"], e["status"]) for e in data["entries"]] == [
        (1, 1, "superseded"),
        (2, 1, "superseded"),
        (3, 1, "superseded"),
        (4, 1, "superseded"),
        (5, 2, "official"),
        (6, 2, "official"),
        (7, 2, "official"),
        (8, 2, "official"),
    ]
    assert [(m["seq"], m["batch"], m["user"], m["note"]) for m in data["marks"]] == [
        (9, 2, "王五", "补报数据后重算")
    ]


def test_official_batch_api_returns_the_marked_batch_with_its_entries(tmp_path: Path) -> None:
    """official_batch gives the batch in force with its four entries; None for another period."""
    db = two_runs(tmp_path)
    assert official_batch(db, "2026") is None
    assert cli("official", db, "--batch", "1")[0] == 0
    found = official_batch(db, "2026")
    assert found is not None
    assert (found.period, found.batch.number, found.batch.count, found.mark.seq) == (
        "2026",
        1,
        4,
        9,
    )
    assert [e.seq for e in found.entries] == [1, 2, 3, 4]
    assert [e.total for e in found.entries] == TOTALS
    assert official_batch(db, "2025") is None
    assert cli("official", db, "--batch", "2", "--replace", "--note", "更正")[0] == 0
    again = official_batch(str(db), "2026")
    assert again is not None
    assert (again.batch.number, [e.seq for e in again.entries]) == (2, [5, 6, 7, 8])


def test_refusals_say_why_with_their_codes(tmp_path: Path) -> None:
    """Nonexistent batch, wrong period, no period, re-marking, replacing without --replace or note."""
    db = two_runs(tmp_path)
    score(db, "--user", "赵六")  # batch 3: no period
    assert cli("official", db, "--batch", "2")[0] == 0
    cases = [
        (
            ["--batch", "9"],
            f"记录中没有第 9 批（共 3 批）：用 kpirules history {db} 查看批次号（KR701）",
        ),
        (
            ["--batch", "0"],
            f"记录中没有第 0 批（共 3 批）：用 kpirules history {db} 查看批次号（KR701）",
        ),
        (
            ["--batch", "3"],
            "第 3 批计分时没有给期间，不能标为某一期间的正式批次："
            "请加 --period 重新计分并记入（--record），再标记新的批次（KR702）",
        ),
        (
            ["--batch", "1", "--period", "2025"],
            "第 1 批是 2026 期间的计分，不是 2025 期间的：检查批次号，或把 --period 改为 2026（KR703）",
        ),
        (
            ["--batch", "1"],
            "2026 期间的正式批次已是第 2 批（第 13 条记录）：确要改用第 1 批时，"
            "加 --replace 并用 --note 写明原因（KR705）",
        ),
        (
            ["--batch", "1", "--replace"],
            "改用第 1 批为 2026 期间的正式批次时，要用 --note 写明原因（如 --note 补报数据后重算）（KR706）",
        ),
    ]
    before = db.read_bytes()
    for argv, message in cases:
        assert cli("official", db, *argv) == (1, "", f"kpirules: {db}: {message}\n"), argv
    code, _, err = cli("official", db, "--batch", "2")
    assert code == 1
    assert err.startswith(f"kpirules: {db}: 第 2 批已是 2026 期间的正式批次（第 13 条记录，")
    assert err.endswith("），不需要再标记（KR704）\n")
    assert db.read_bytes() == before
    with Ledger(db) as ledger, pytest.raises(OfficialError) as info:
        mark_official(ledger, 5)
    assert info.value.code == "KR701"
    code, _, err = cli("official", tmp_path / "none.db", "--batch", "1")
    assert (code, err) == (1, f"kpirules: 找不到记录文件 {tmp_path / 'none.db'}\n")


def drop_triggers(raw: sqlite3.Connection) -> None:
    for table in ("entries", "checkpoints", "marks"):
        for verb in ("update", "delete"):
            raw.execute(f"DROP TRIGGER {table}_no_{verb}")


def test_a_changed_mark_is_caught(tmp_path: Path) -> None:
    """A mark pointed at another batch breaks its hash; rewritten with its hash, the checkpoint."""
    db = two_runs(tmp_path)
    assert cli("official", db, "--batch", "2")[0] == 0
    _, before, _ = cli("verify", db)
    head = before.splitlines()[-1].split("当前检查点 ")[1].split("（")[0]
    with Ledger.open_readonly(db) as ledger:
        first_batch = next(ledger.entries(1)).batch
    raw = sqlite3.connect(db)
    drop_triggers(raw)
    raw.execute("UPDATE marks SET batch = ? WHERE seq = 9", (first_batch,))
    raw.commit()
    code, out, _ = cli("verify", db)
    assert code == 1
    assert out.splitlines()[0] == f"{db}: 第 9 条（正式批次标记）的内容与其哈希不符：标记被改动过"
    # Recompute the mark's hash as a careful forger would: the stored checkpoint disagrees.
    from kpirules.ledger_file import mark_hash

    row = raw.execute("SELECT * FROM marks WHERE seq = 9").fetchone()
    names = [d[0] for d in raw.execute("SELECT * FROM marks").description]
    fields = dict(zip(names, row, strict=True))
    raw.execute("UPDATE marks SET hash = ? WHERE seq = 9", (mark_hash(fields),))
    raw.commit()
    code, out, _ = cli("verify", db)
    assert code == 1
    assert out.splitlines()[0] == f"{db}: 检查点 9 的哈希与第 9 条记录不符：该条或之前的记录被改写"
    # Removing the mark and its checkpoint leaves a clean chain; the noted head catches it.
    raw.execute("DELETE FROM marks")
    raw.execute("DELETE FROM checkpoints WHERE size = 9")
    raw.commit()
    raw.close()
    assert cli("verify", db)[0] == 0
    code, out, _ = cli("verify", db, "--head", head)
    assert code == 1
    assert (
        f"{db}: 检查点 9:{head.split(':')[1][:16]}… 记到第 9 条，但记录只有 8 条："
        "末尾的记录被删除（记录被截短）" in out.splitlines()
    )


def test_a_mark_for_a_period_its_batch_does_not_have_is_caught(tmp_path: Path) -> None:
    """A mark whose period differs from its batch's (even with its hash recomputed) is named."""
    db = two_runs(tmp_path)
    with Ledger(db) as ledger:
        mark_official(ledger, 1)
    raw = sqlite3.connect(db)
    drop_triggers(raw)
    from kpirules.ledger_file import mark_hash

    raw.execute("UPDATE marks SET period = '2025'")
    names = [d[0] for d in raw.execute("SELECT * FROM marks").description]
    fields = dict(zip(names, raw.execute("SELECT * FROM marks").fetchone(), strict=True))
    raw.execute("UPDATE marks SET hash = ?", (mark_hash(fields),))
    raw.commit()
    raw.close()
    code, out, _ = cli("verify", db)
    assert code == 1
    assert (
        f"{db}: 第 9 条（正式批次标记）记的期间 2025 与该批次的期间 2026 不符" in out.splitlines()
    )


def make_version_2(db: Path) -> None:
    """Turn a new ledger into one written by the previous version (no marks table)."""
    raw = sqlite3.connect(db)
    raw.execute("DROP TRIGGER marks_no_update")
    raw.execute("DROP TRIGGER marks_no_delete")
    raw.execute("DROP TABLE marks")
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()


def test_version_2_ledgers_are_read_unchanged_and_upgraded_by_the_first_mark(
    tmp_path: Path,
) -> None:
    """A version-2 ledger is read, checked and recorded into as it is; marking adds the table."""
    db = tmp_path / "audit.db"
    score(db, "--period", "2026")
    make_version_2(db)
    before = db.read_bytes()
    assert cli("verify", db)[0] == 0
    code, out, _ = cli("history", db, "--format", "json")
    assert code == 0
    assert [e["total"] for e in json.loads(out)["entries"]] == TOTALS
    assert db.read_bytes() == before
    score(db, "--period", "2026")
    with Ledger.open_readonly(db) as ledger:
        assert (ledger.version, ledger.head()[0], ledger.marks()) == (2, 8, [])
    assert cli("official", db, "--batch", "2")[0] == 0
    with Ledger.open_readonly(db) as ledger:
        assert (ledger.version, ledger.head()[0], len(ledger.marks())) == (3, 9, 1)
    assert cli("verify", db)[0] == 0
    score(db, "--period", "2026H2")
    code, out, _ = cli("verify", db)
    assert (code, out.splitlines()[0]) == (0, f"{db}: 13 条记录，哈希链完整")


def test_history_has_headers_and_filters(tmp_path: Path) -> None:
    """Chinese headers; --period, --entity and --ruleset filters; nothing found is said."""
    db = two_runs(tmp_path)
    score(db, "--period", "2026H2")
    assert cli("official", db, "--batch", "2", "--note", "复核后确认")[0] == 0
    code, out, _ = cli("history", db, "--tz", "Asia/Shanghai", "--entity", "第三医院医保办")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "序号",
        "时间",
        "批次",
        "期间",
        "对象",
        "规则集",
        "总分",
        "等级",
        "状态",
        "操作人",
    ]
    rows = [line.split() for line in lines[1:4]]
    assert [(r[0], r[4], r[5], r[6], r[8], r[9], r[10], r[11]) for r in rows] == [
        ("3", "1", "2026", "第三医院医保办", "2026.1", "83.47", "良好", "已被取代"),
        ("7", "2", "2026", "第三医院医保办", "2026.1", "83.47", "良好", "正式"),
        ("11", "3", "2026H2", "第三医院医保办", "2026.1", "83.47", "良好", "—"),
    ]
    assert all(r[3] == "+08:00" for r in rows)
    assert lines[4:6] == ["", "正式批次标记："]
    mark = lines[7].split()
    assert (mark[0], mark[3:8], mark[-1]) == (
        "13",
        ["+08:00", "2026", "第", "2", "批"],
        "复核后确认",
    )
    code, out, _ = cli("history", db, "--period", "2026H2", "--format", "json")
    data = json.loads(out)
    assert [e["seq"] for e in data["entries"]] == [9, 10, 11, 12]
    assert data["marks"] == []
    code, out, _ = cli("history", db, "--ruleset", "a-office-annual", "--period", "2026")
    assert len(out.splitlines()) == 1 + 8 + 4
    code, out, _ = cli("history", db, "--ruleset", "e-annual-letter")
    assert code == 0
    assert out.startswith("没有符合条件的记录（记录中共 12 条计分）\n\n正式批次标记：\n序号")
    code, out, _ = cli("history", db, "--period", "2028")
    assert (code, out) == (0, "没有符合条件的记录（记录中共 12 条计分）\n")


def test_history_unknown_time_zone_is_a_usage_error(tmp_path: Path) -> None:
    """--tz with a name no zone has: exit 2, saying how to write one (and tzdata on Windows)."""
    db = two_runs(tmp_path)
    code, out, err = cli("history", db, "--tz", "Asia/Shanghia")
    assert (code, out) == (2, "")
    assert err == (
        "kpirules: --tz 不认识时区 Asia/Shanghia：写成 Asia/Shanghai、UTC 这样的时区名"
        "（Windows 上需要 tzdata 包：pip install tzdata）\n"
    )


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Shanghai", "2026-12-01 16:11:13 +08:00"),
        ("UTC", "2026-12-01 08:11:13 +00:00"),
        ("Asia/Kolkata", "2026-12-01 13:41:13 +05:30"),
        ("America/New_York", "2026-12-01 03:11:13 -05:00"),
        ("America/St_Johns", "2026-12-01 04:41:13 -03:30"),
    ],
)
def test_local_time_shows_the_zone_offset(zone: str, shown: str) -> None:
    """A recorded UTC time in the zone asked for, seconds kept, the offset as ±HH:MM."""
    assert local_time("2026-12-01T08:11:13.987654+00:00", zoneinfo.ZoneInfo(zone)) == shown


def test_default_zone_is_this_computers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --tz the computer's own zone is used (here set to UTC+8 through TZ)."""
    import time

    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "CST-8")
    time.tzset()
    try:
        assert local_time("2026-12-01T08:11:13+00:00", parse_zone(None)) == (
            "2026-12-01 16:11:13 +08:00"
        )
    finally:
        monkeypatch.undo()
        time.tzset()


def test_signed_mark_checks_out_with_the_public_key(tmp_path: Path) -> None:
    """A mark signed with --sign-key keeps verify --public-key passing for every checkpoint."""
    pytest.importorskip("cryptography")
    key = tmp_path / "signer.key"
    assert cli("keygen", "--output", key)[0] == 0
    db = tmp_path / "audit.db"
    score(db, "--period", "2026", "--sign-key", str(key))
    assert cli("official", db, "--batch", "1", "--sign-key", key)[0] == 0
    code, out, _ = cli("verify", db, "--public-key", f"{key}.pub")
    assert code == 0, out
    assert f"{db}: 2 个检查点的签名有效（{key}.pub）" in out.splitlines()


def test_mark_receipt_proves_the_mark_was_not_removed(tmp_path: Path) -> None:
    """official --receipt: removing the mark with its checkpoint passes verify alone, not
    verify --receipt; an existing receipt file is never overwritten."""
    db = two_runs(tmp_path)
    receipt = tmp_path / "标记收据.json"
    code, out, _ = cli("official", db, "--batch", "2", "--receipt", receipt)
    assert code == 0
    assert out.splitlines()[-1] == f"收据已写入 {receipt}"
    assert json.loads(receipt.read_text("utf-8"))["size"] == 9
    assert cli("verify", db, "--receipt", receipt)[0] == 0
    raw = sqlite3.connect(db)
    drop_triggers(raw)
    raw.execute("DELETE FROM marks")
    raw.execute("DELETE FROM checkpoints WHERE size = 9")
    raw.commit()
    raw.close()
    assert cli("verify", db)[0] == 0
    code, out, _ = cli("verify", db, "--receipt", receipt)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{db}: 收据 {receipt} 记到第 9 条，但记录只有 8 条：末尾的记录被删除（记录被截短）"
    )
    code, _, err = cli("official", db, "--batch", "1", "--receipt", receipt)
    assert (code, err) == (2, f"kpirules: 收据文件 {receipt} 已存在，请换一个文件名\n")


def test_marking_waits_for_a_scoring_that_is_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scoring holding the ledger: official says it waits, then gives up cleanly, unmarked."""
    from kpirules import ledger as ledger_module

    db = two_runs(tmp_path)
    monkeypatch.setattr(ledger_module, "LOCK_WAIT_SECONDS", 0.3)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        code, out, err = cli("official", db, "--batch", "2")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "审计记录正被另一个计分写入，等待中…",
        f"kpirules: {db} 正被另一个计分写入，等待 0.3 秒后仍未结束：本次标记没有记入，请稍后重试",
    ]
    assert official_batch(db, "2026") is None
    assert cli("official", db, "--batch", "2")[0] == 0
