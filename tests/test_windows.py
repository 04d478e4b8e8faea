"""Windows: each guard for what differs from POSIX, checked by simulating the platform, and
the PowerShell commands of the README and the quickstart."""

from __future__ import annotations

import errno
import io
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path

import pytest

from kpirules import cli
from kpirules._core import oscompat
from kpirules._core.oscompat import reader_gone, sync_folder, utf8_console

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"


def test_folder_is_synced_on_posix(tmp_path: Path) -> None:
    """Where folders can be opened (Linux, macOS), the folder is synced after a rename."""
    if not hasattr(os, "O_DIRECTORY"):
        pytest.skip("no O_DIRECTORY on this system")
    assert sync_folder(tmp_path) is True


def test_folder_sync_skipped_without_o_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without os.O_DIRECTORY (Windows) no folder is opened at all."""
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)

    def no_open(*args: object) -> int:
        raise AssertionError("a folder was opened")

    monkeypatch.setattr(oscompat.os, "open", no_open)
    assert sync_folder(tmp_path) is False


def test_folder_sync_skipped_on_windows_even_with_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.name == "nt" skips the step, whatever flags the os module offers."""
    monkeypatch.setattr(oscompat.os, "O_DIRECTORY", 0x10000, raising=False)
    monkeypatch.setattr(oscompat.os, "name", "nt")
    monkeypatch.setattr(oscompat.os, "open", lambda *a: pytest.fail("a folder was opened"))
    assert sync_folder(tmp_path) is False


def test_folder_that_cannot_be_opened_or_synced_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the folder refused (as Windows does), or fsync refused: no error, handle closed."""
    monkeypatch.setattr(oscompat.os, "O_DIRECTORY", 0x10000, raising=False)

    def refused(*args: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(oscompat.os, "open", refused)
    assert sync_folder(tmp_path) is False
    closed: list[int] = []
    monkeypatch.setattr(oscompat.os, "open", lambda *a: 99)
    monkeypatch.setattr(oscompat.os, "fsync", lambda fd: refused())
    monkeypatch.setattr(oscompat.os, "close", closed.append)
    assert sync_folder(tmp_path) is False
    assert closed == [99]


def test_score_output_and_receipt_written_whole_without_o_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """score --output (CSV with its byte-order mark) and --receipt work with no folder sync."""
    monkeypatch.delattr(os, "O_DIRECTORY", raising=False)
    out = tmp_path / "结果.csv"
    receipt = tmp_path / "receipt.json"
    db = tmp_path / "audit.db"
    err = io.StringIO()
    argv = [str(RULESET), str(EXAMPLE), "--output", str(out), "--record", str(db)]
    assert cli.run(["score", *argv, "--receipt", str(receipt)], io.StringIO(), err) == 0, err
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert "第一医院医保办" in data.decode("utf-8-sig")
    assert '"size": 4' in receipt.read_text("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.db", "receipt.json", "结果.csv"]


def test_reader_gone_on_posix_and_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """EPIPE everywhere; EINVAL on the standard output only on Windows, never with a file name."""
    assert reader_gone(BrokenPipeError(errno.EPIPE, "Broken pipe"))
    invalid = OSError(errno.EINVAL, "Invalid argument")
    bad_name = OSError(errno.EINVAL, "Invalid argument", "a?b.csv")
    monkeypatch.setattr(sys, "platform", "linux")
    assert not reader_gone(invalid)
    monkeypatch.setattr(sys, "platform", "win32")
    assert reader_gone(invalid)
    assert not reader_gone(bad_name)
    assert not reader_gone(OSError(errno.ENOSPC, "No space left on device"))


class _GoneStdout(io.TextIOWrapper):
    """Standard output whose reader went away, as Windows reports it (EINVAL)."""

    def write(self, text: str) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")


def test_windows_pipe_closed_ends_quietly_with_status_13(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kpirules history LEDGER | more` closed early on Windows: no traceback, status 13."""
    db = tmp_path / "audit.db"
    assert cli.run(["score", str(RULESET), str(EXAMPLE), "--record", str(db)], *_quiet()) == 0
    sink = tmp_path / "stdout.bin"
    handle = sink.open("wb")
    stdout = _GoneStdout(handle, encoding="utf-8")
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "argv", ["kpirules", "history", str(db)])
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    saved = os.dup(handle.fileno())
    try:
        with pytest.raises(SystemExit) as info:
            cli.main()
    finally:
        os.dup2(saved, handle.fileno())
        os.close(saved)
        handle.close()
        monkeypatch.undo()
    assert info.value.code == 13
    assert stderr.getvalue() == ""


def test_same_error_on_linux_is_reported_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EINVAL writing the output on POSIX is a real error: said in words, exit 1."""
    db = tmp_path / "audit.db"
    assert cli.run(["score", str(RULESET), str(EXAMPLE), "--record", str(db)], *_quiet()) == 0
    monkeypatch.setattr(sys, "platform", "linux")
    stdout = _GoneStdout(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    assert cli.run(["history", str(db)], stdout, err) == 1
    assert err.getvalue() == f"kpirules: 无法读取记录文件 {db}：Invalid argument\n"


def _quiet() -> tuple[io.StringIO, io.StringIO]:
    return io.StringIO(), io.StringIO()


def test_console_is_switched_to_utf8_and_never_fails_on_a_character() -> None:
    """A GBK console (Chinese Windows) gets UTF-8; a lone surrogate is escaped, not fatal."""
    raw = io.BytesIO()
    console = io.TextIOWrapper(raw, encoding="gbk", errors="strict")
    utf8_console(console, None, io.StringIO())
    console.write("医保办 \udcff\n")
    console.flush()
    assert raw.getvalue() == "医保办 ".encode() + b"\\udcff\n"
    assert console.encoding == "utf-8"


def test_tzdata_is_a_dependency_on_windows_only() -> None:
    """zoneinfo finds no zones on Windows without tzdata: it is required there, and only there."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    found = [d for d in project["dependencies"] if d.startswith("tzdata")]
    assert found == ["tzdata>=2024.1; sys_platform == 'win32'"]


_POWERSHELL = re.compile(r"^```powershell\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SH = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _commands(block: str, windows: bool) -> list[list[str]]:
    """Each command of a block as words, the program named without .venv/bin or .venv\\Scripts."""
    found = []
    for line in block.splitlines():
        if windows:
            line = line.replace("\\", "/")
        for part in re.split(r"&&|;", line):
            words = shlex.split(part, comments=True)
            if not words:
                continue
            program = words[0]
            for prefix in (".venv/bin/", ".venv/Scripts/"):
                program = program.removeprefix(prefix)
            if program in ("py", "python3", "python"):
                program = "python"
            found.append([program, *words[1:]])
    return found


#: The one PowerShell step with no POSIX twin: Playwright's installer in place of the shell
#: script that installs the browser.
_WINDOWS_ONLY = [["python", "-m", "playwright", "install", "chromium"]]


@pytest.mark.parametrize("page", ["README.md", "docs/zh/quickstart.md"])
def test_powershell_commands_match_the_posix_ones(page: str) -> None:
    """Install and score, install and test, and serve are given for PowerShell too, naming
    the same files and arguments as the sh commands (folders written with backslashes)."""
    text = (ROOT / page).read_text("utf-8")
    posix = [c for block in _SH.findall(text) for c in _commands(block, windows=False)]
    windows = [c for block in _POWERSHELL.findall(text) for c in _commands(block, windows=True)]
    different = [c for c in windows if c not in posix and c not in _WINDOWS_ONLY and c[0] != "cd"]
    assert different == [], f"{page}: PowerShell 命令与 sh 中的不同"
    shown = [" ".join(c) for c in windows]
    testing = "kpirules test" if page.startswith("docs/zh") else "python -m pytest"
    for step in (
        "python -m venv .venv",
        "pip install",
        "kpirules score",
        testing,
        "kpirules serve",
    ):
        assert any(line.startswith(step) for line in shown), f"{page}: PowerShell 缺少 {step}"


def test_keygen_does_not_promise_privacy_windows_cannot_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows mode 0600 restricts nothing: keygen says to keep the key in a private folder."""
    pytest.importorskip("cryptography")
    err = io.StringIO()
    assert cli.run(["keygen", "--output", str(tmp_path / "a.key")], io.StringIO(), err) == 0
    assert err.getvalue().splitlines()[0] == (
        f"私钥已写入 {tmp_path / 'a.key'}（仅本人可读；请妥善保管，不要与记录文件放在一起）"
    )
    monkeypatch.setattr(sys, "platform", "win32")
    err = io.StringIO()
    assert cli.run(["keygen", "--output", str(tmp_path / "b.key")], io.StringIO(), err) == 0
    assert err.getvalue().splitlines()[0] == (
        f"私钥已写入 {tmp_path / 'b.key'}（Windows 不按权限位限制读取：请放在只有本人能打开的文件夹中；"
        "请妥善保管，不要与记录文件放在一起）"
    )


def test_ledger_named_with_uri_characters_is_read_read_only(tmp_path: Path) -> None:
    """A ledger whose folder and name hold spaces, %, ?, # and Chinese is opened read-only
    through its URI (each character escaped) and verified."""
    folder = tmp_path / "审计 记录 %20"
    folder.mkdir()
    db = folder / "第1季度 ?#%.db"
    err = io.StringIO()
    argv = ["score", str(RULESET), str(EXAMPLE), "--record", str(db)]
    assert cli.run(argv, io.StringIO(), err) == 0, err.getvalue()
    out = io.StringIO()
    assert cli.run(["verify", str(db)], out, io.StringIO()) == 0
    assert out.getvalue().splitlines()[0] == f"{db}: 4 条记录，哈希链完整"
    assert sorted(p.name for p in folder.iterdir()) == ["第1季度 ?#%.db"]


def test_output_open_in_excel_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses to replace a workbook open in Excel (sharing violation, errno EACCES):
    the message says to close it, the old file stays, no temporary file is left."""
    out = tmp_path / "结果.csv"
    out.write_text("旧内容\n", "utf-8")

    def in_use(self: Path, target: object) -> Path:
        exc = PermissionError(errno.EACCES, "Permission denied")
        exc.winerror = 32  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(Path, "replace", in_use)
    err = io.StringIO()
    argv = ["score", str(RULESET), str(EXAMPLE), "--output", str(out), "--force"]
    assert cli.run(argv, io.StringIO(), err) == 1
    assert err.getvalue() == (
        f"kpirules: 无法写入 {out}：文件正被其他程序打开（如 Excel 或 WPS）：请先关闭它再试\n"
    )
    monkeypatch.undo()
    assert out.read_text("utf-8") == "旧内容\n"
    assert [p.name for p in tmp_path.iterdir()] == ["结果.csv"]
