"""``kpirules score`` writes its output and records its batch, or does neither; it never
overwrites what is not an ordinary output file, and every system error is a located message."""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest

import kpirules.ledger
from kpirules import cli
from kpirules.cli import run
from kpirules.ledger import LEDGER_APPLICATION_ID, Ledger

ROOT = Path(__file__).resolve().parent.parent
RULESET = str(ROOT / "rulesets" / "a-office-annual.yaml")
METRICS = str(ROOT / "examples" / "a-offices-2026.csv")


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def entries(ledger: Path) -> int:
    with Ledger(ledger) as opened:
        return sum(1 for _ in opened.entries())


def fail_with(number: int) -> object:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(number, os.strerror(number))

    return fail


def test_full_disk_while_writing_output_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while writing the output: exit 1, located message, no entry, no file, no temp."""
    ledger = tmp_path / "audit.db"
    out = tmp_path / "结果.csv"
    assert call("score", RULESET, METRICS, "--record", str(ledger))[0] == 0
    assert entries(ledger) == 4
    monkeypatch.setattr(os, "fsync", fail_with(errno.ENOSPC))
    for _ in range(2):
        code, stdout, err = call(
            "score", RULESET, METRICS, "--output", str(out), "--record", str(ledger)
        )
        assert (code, stdout) == (1, "")
        assert err == f"kpirules: 无法写入 {out}：磁盘空间不足；未记录本次计分\n"
    monkeypatch.undo()
    assert entries(ledger) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.db"]


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (errno.EROFS, "文件系统是只读的"),
        (errno.EACCES, "没有写入权限"),
        (errno.EIO, "磁盘读写出错"),
    ],
)
def test_output_that_cannot_be_created_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: int, reason: str
) -> None:
    """A read-only file system, a missing permission, an I/O error: exit 1 with the reason."""
    out = tmp_path / "out.json"
    monkeypatch.setattr(tempfile, "mkstemp", fail_with(number))
    code, _, err = call("score", RULESET, METRICS, "--output", str(out))
    assert code == 1
    assert err == f"kpirules: 无法写入 {out}：{reason}；未记录本次计分\n"
    assert not out.exists()


def test_failed_recording_leaves_the_old_output_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger refuses the batch: the existing output keeps its content, nothing is left."""
    ledger = tmp_path / "audit.db"
    out = tmp_path / "out.csv"
    out.write_text("old\n", "utf-8")

    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    # Inside the ledger's transaction, as SQLite itself would fail on a full disk.
    monkeypatch.setattr(kpirules.ledger, "entry_hash", full)
    code, _, err = call(
        "score", RULESET, METRICS, "--output", str(out), "--force", "--record", str(ledger)
    )
    assert code == 1
    assert err == f"kpirules: 无法写入记录文件 {ledger}：磁盘空间不足；未写入 {out}\n"
    assert out.read_text("utf-8") == "old\n"
    monkeypatch.undo()
    assert entries(ledger) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.db", "out.csv"]


def test_output_renamed_only_after_the_batch_is_recorded(tmp_path: Path) -> None:
    """A successful run has both: the output and four entries."""
    ledger = tmp_path / "audit.db"
    out = tmp_path / "out.json"
    code, _, err = call("score", RULESET, METRICS, "--output", str(out), "--record", str(ledger))
    assert code == 0
    lines = err.splitlines()
    assert lines[0] == f"已记入 {ledger}：第 1–4 条"
    assert lines[1].startswith("检查点 4:")
    assert lines[2:] == [f"已写入 {out}（4 个对象）"]
    assert entries(ledger) == 4
    assert out.read_text("utf-8").startswith("[\n")


def test_rename_failure_after_recording_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the message says the batch was recorded; no temp is left."""
    ledger = tmp_path / "audit.db"
    out = tmp_path / "out.json"
    monkeypatch.setattr(Path, "replace", fail_with(errno.EIO))
    code, _, err = call("score", RULESET, METRICS, "--output", str(out), "--record", str(ledger))
    monkeypatch.undo()
    assert code == 1
    assert err.endswith(f"kpirules: 无法写入 {out}：磁盘读写出错（本次计分已记入 {ledger}）\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.db"]


def test_directory_as_output_is_refused_with_or_without_force(tmp_path: Path) -> None:
    """A directory (or a link to one) is never an output file."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    for target in (tmp_path, link):
        for force in ((), ("--force",)):
            code, _, err = call("score", RULESET, METRICS, "--output", str(target), *force)
            assert code == 1
            assert err == f"kpirules: 无法写入 {target}：这是一个目录，输出只能写入普通文件\n"
    assert link.is_symlink()


def test_device_fifo_and_dangling_link_are_refused(tmp_path: Path) -> None:
    """/dev/null, a named pipe and a link to nothing are refused; /dev/null stays a device."""
    code, _, err = call("score", RULESET, METRICS, "--output", os.devnull, "--force")
    assert code == 1
    assert err == f"kpirules: 无法写入 {os.devnull}：这是一个设备，输出只能写入普通文件\n"
    assert Path(os.devnull).is_char_device()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    code, _, err = call("score", RULESET, METRICS, "--output", str(fifo), "--force")
    assert code == 1
    assert err == f"kpirules: 无法写入 {fifo}：这是一个管道，输出只能写入普通文件\n"
    dangling = tmp_path / "gone.csv"
    dangling.symlink_to(tmp_path / "nowhere.csv")
    code, _, err = call("score", RULESET, METRICS, "--output", str(dangling), "--force")
    assert code == 1
    assert err == f"kpirules: 无法写入 {dangling}：这是一个指向不存在文件的符号链接\n"


def test_ledger_as_output_is_refused_even_with_force_and_without_record(tmp_path: Path) -> None:
    """`--output audit.db --force` without `--record` leaves the ledger byte for byte."""
    ledger = tmp_path / "audit.db"
    assert call("score", RULESET, METRICS, "--record", str(ledger))[0] == 0
    before = ledger.read_bytes()
    code, _, err = call("score", RULESET, METRICS, "--output", str(ledger), "--force")
    assert code == 2
    assert err == (
        f"kpirules: 输出文件 {ledger} 是 kpirules 审计记录，拒绝覆盖（加 --force 也不会覆盖）\n"
    )
    assert ledger.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.db"]


def test_sqlite_files_marked_as_ledgers_are_refused(tmp_path: Path) -> None:
    """An SQLite file with the ledger's application_id, or with an entries table, is refused;
    another SQLite file may be replaced with --force."""
    marked = tmp_path / "marked.db"
    with sqlite3.connect(marked) as db:
        db.execute(f"PRAGMA application_id = {LEDGER_APPLICATION_ID}")
        db.execute("CREATE TABLE other (x)")
    db.close()
    tabled = tmp_path / "tabled.db"
    with sqlite3.connect(tabled) as db:
        db.execute("CREATE TABLE entries (seq INTEGER)")
    db.close()
    for path in (marked, tabled):
        code, _, err = call("score", RULESET, METRICS, "--output", str(path), "--force")
        assert code == 2
        assert "是 kpirules 审计记录，拒绝覆盖" in err
    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as db:
        db.execute("CREATE TABLE other (x)")
    db.close()
    assert call("score", RULESET, METRICS, "--output", str(plain), "--force")[0] == 0
    assert plain.read_text("utf-8").splitlines()[1].split()[:2] == ["排名", "对象"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marked.db", "plain.db", "tabled.db"]


def test_record_into_a_directory_is_refused_before_scoring(tmp_path: Path) -> None:
    """--record naming a directory or a device: exit 1, nothing written."""
    out = tmp_path / "out.csv"
    code, _, err = call("score", RULESET, METRICS, "--record", str(tmp_path), "--output", str(out))
    assert code == 1
    assert err == f"kpirules: 无法记入 {tmp_path}：这是一个目录，审计记录只能是普通文件\n"
    code, _, err = call("score", RULESET, METRICS, "--record", os.devnull)
    assert code == 1
    assert err == f"kpirules: 无法记入 {os.devnull}：这是一个设备，审计记录只能是普通文件\n"
    assert not out.exists()


def test_write_atomic_leaves_nothing_behind_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper used for every written file raises the OSError and removes its temp file."""
    target = tmp_path / "x.txt"
    target.write_text("old", "utf-8")
    monkeypatch.setattr(os, "fsync", fail_with(errno.ENOSPC))
    with pytest.raises(OSError, match="No space left"):
        cli.write_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text("utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_user_name_with_a_line_break_is_refused(tmp_path: Path) -> None:
    """--user text ends up in the ledger and in `history`: no control characters."""
    ledger = tmp_path / "audit.db"
    code, _, err = call(
        "score", RULESET, METRICS, "--record", str(ledger), "--user", "张三\n1\t伪造"
    )
    assert code == 2
    assert err == "kpirules: --user 的值含有控制字符 U+000A（换行符）（它会写入审计记录）\n"
    assert not ledger.exists()
