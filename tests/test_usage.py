"""argparse's own words in Chinese: every command's --help and the usage errors."""

from __future__ import annotations

import argparse
import re
from io import StringIO
from pathlib import Path

import pytest

from kpirules import cli
from kpirules.usage import CATALOGUE, chinese_usage

#: Names a policy officer types or sees on screens and file names, not English prose.
TECHNICAL = {
    "kpirules",
    "pip",
    "install",
    "server",
    "sign",
    "Excel",
    "CSV",
    "JSON",
    "YAML",
    "HTML",
    "HTTP",
    "UTF-8",
    "GBK",
    "SQLite",
    "Ed25519",
    "Schema",
    "draft",
    "v1",
    "docs",
    "KPIRULES_TOKEN",
    "MiB",
    # a time zone's name in the zone database, as --tz takes it
    "Asia",
    "Shanghai",
}
EXTENSIONS = {"yaml", "yml", "xlsx", "csv", "json", "html", "pub", "md", "ruleset-"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def call(*argv: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    code = cli.run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def allowed_words(parser: argparse.ArgumentParser) -> set[str]:
    """Option names, metavars, choices and command names of a parser and its commands."""
    words = set(TECHNICAL)
    for action in parser._actions:
        for text in (*action.option_strings, action.metavar or "", action.dest.upper()):
            words.update(_WORD.findall(str(text)))
        for choice in action.choices or ():
            words.update(_WORD.findall(str(choice)))
            if isinstance(action.choices, dict):
                words |= allowed_words(action.choices[choice])
    return words


def commands() -> list[str]:
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


@pytest.mark.parametrize("command", ["", *commands()])
def test_help_has_no_english_word(command: str) -> None:
    """--help of the program and of each command shows no English word but names and ids."""
    argv = [command, "--help"] if command else ["--help"]
    code, out, _ = call(*argv)
    assert code == 0
    assert out.startswith("用法：kpirules")
    allowed = allowed_words(cli._parser())
    stray = {w for w in _WORD.findall(out) if w.rstrip(".-") not in allowed}
    stray = {w for w in stray if not re.fullmatch(r"[A-Z]\d", w)}  # periods: 2026Q3, 2026H1
    stray = {w for w in stray if "." not in w.strip(".") and w not in EXTENSIONS}  # file names
    assert stray == set()
    for english in ("usage", "options", "positional arguments", "show this help"):
        assert english not in out


def test_help_sections_and_builtin_options_in_chinese() -> None:
    """The usage line, section titles and -h/--version read in Chinese."""
    _, out, _ = call("--help")
    assert "位置参数:" in out and "选项:" in out
    assert "显示本帮助并退出" in out and "显示版本号并退出" in out


def test_help_in_english_on_request() -> None:
    """--lang en keeps argparse's English wording for developers."""
    code, out, _ = call("--lang", "en", "validate", "--help")
    assert code == 0
    assert out.startswith("usage: kpirules validate")
    assert "options:" in out and "show this help message and exit" in out
    _, out, _ = call("validate", "--help", "--lang=en")
    assert out.startswith("usage: kpirules validate")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["score", "a.yaml"],
            "kpirules score: 用法错误：缺少参数：METRICS（见 kpirules score --help）",
        ),
        (
            ["validate", "a.yaml", "--format", "xml"],
            "kpirules validate: 用法错误：参数 --format：'xml' 不是可用的选项"
            "（可选 'text', 'json'）（见 kpirules validate --help）",
        ),
        (
            ["validate", "a.yaml", "--frmat", "json"],
            "kpirules: 用法错误：不认识的参数：--frmat json（见 kpirules --help）",
        ),
        (
            ["validate", "a.yaml", "--format"],
            "kpirules validate: 用法错误：参数 --format：需要一个值（见 kpirules validate --help）",
        ),
        (
            ["serve", "--rulesets", "d", "--port", "eighty"],
            "kpirules serve: 用法错误：参数 --port：'eighty' 不是有效的值（见 kpirules serve --help）",
        ),
        (
            ["frobnicate"],
            "kpirules: 用法错误：参数 COMMAND：'frobnicate' 不是可用的选项（可选 'validate', "
            "'score', 'explain', 'report', 'test', 'replay', 'verify', 'keygen', 'diff', "
            "'template', 'history', 'official', 'serve', 'schema', 'new'）（见 kpirules --help）",
        ),
    ],
)
def test_usage_errors_in_chinese(argv: list[str], message: str) -> None:
    """Usage errors say what is wrong in Chinese and exit 2."""
    code, out, err = call(*argv)
    assert (code, out, err) == (2, "", message + "\n")


def test_usage_error_in_english_keeps_earlier_wording() -> None:
    """Under --lang en a usage error reads as it always did."""
    _, _, err = call("--lang", "en", "score", "a.yaml")
    assert err == "kpirules score: 用法错误：缺少参数: METRICS（见 kpirules score --help）\n"


def test_argparse_words_restored_after_a_run() -> None:
    """The Chinese catalogue is installed only while the command line runs."""
    with chinese_usage():
        assert argparse._("usage: ") == "用法："  # type: ignore[attr-defined]
    assert argparse._("usage: ") == "usage: "  # type: ignore[attr-defined]
    call("--help")
    assert argparse.ArgumentParser(prog="p").format_usage() == "usage: p [-h]\n"


def test_catalogue_covers_the_messages_argparse_uses() -> None:
    """Every message id argparse shows a user is in the catalogue."""
    source = Path(argparse.__file__).read_text(encoding="utf-8")
    for msgid in (
        "usage: ",
        "positional arguments",
        "the following arguments are required: %s",
        "invalid choice: %(value)r (choose from %(choices)s)",
        "unrecognized arguments: %s",
        "expected one argument",
        "argument %(argument_name)s: %(message)s",
    ):
        assert repr(msgid)[1:-1] in source or msgid in source
        assert msgid in CATALOGUE
