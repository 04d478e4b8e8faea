"""The documentation in Chinese (docs/zh/): complete for the ruleset language, and every
command it shows runs as it says."""

from __future__ import annotations

import io
import itertools
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from kpirules.cli import run
from kpirules.schema import schema

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "docs" / "zh"
QUICKSTART = ZH / "quickstart.md"
GUIDE = ZH / "ruleset-guide.md"
METHODS = ZH / "scoring-methods.md"

_BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EXIT = re.compile(r"\s#\s*退出码\s*(\d+)\s*$")
_PREFIXES = (".venv/bin/", ".venv\\Scripts\\", ".venv/Scripts/")


def property_names(node: Any) -> set[str]:
    """Every key of every ``properties`` object anywhere in a JSON Schema (``$defs`` too)."""
    names: set[str] = set()
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            names.update(props)
        for value in node.values():
            names |= property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= property_names(value)
    return names


def method_names() -> list[str]:
    """The scoring methods the ruleset language accepts, as the schema lists them."""
    methods: list[str] = schema()["$defs"]["scoring"]["properties"]["method"]["enum"]
    return methods


def quoted(text: str) -> set[str]:
    """Everything written in backquotes in a Markdown text."""
    return set(re.findall(r"`([^`\n]+)`", text))


def page_commands(text: str) -> list[tuple[list[str], int]]:
    """The ``kpirules`` commands of the page's ```sh and ```powershell blocks, in order,
    with the exit code the page gives them (``# 退出码 N`` after the command; 0 without)."""
    commands: list[tuple[list[str], int]] = []
    for lang, body in _BLOCK.findall(text):
        if lang not in ("sh", "powershell"):
            continue
        for line in body.splitlines():
            expected = 0
            found = _EXIT.search(line)
            if found:
                expected = int(found.group(1))
                line = line[: found.start()]
            if lang == "powershell":
                line = line.replace("\\", "/")
            for part in re.split(r"&&|;", line):
                words = shlex.split(part, comments=True)
                if not words:
                    continue
                program = words[0]
                for prefix in _PREFIXES:
                    program = program.removeprefix(prefix.replace("\\", "/"))
                if program.removesuffix(".exe") == "kpirules":
                    commands.append((words[1:], expected))
    return commands


def test_guide_names_every_schema_property() -> None:
    """Every key of the ruleset language (the JSON Schema's properties, ``$defs`` included)
    is written in backquotes somewhere in the ruleset guide."""
    keys = property_names(schema())
    assert "in_force" in keys and "kpirules_tests" in keys and "points_by_rank" in keys
    missing = sorted(keys - quoted(GUIDE.read_text(encoding="utf-8")))
    assert missing == [], f"docs/zh/ruleset-guide.md 缺少这些键的说明：{missing}"


def test_guide_and_methods_page_name_every_scoring_method() -> None:
    """Every scoring method appears in backquotes in the ruleset guide and on the methods page."""
    methods = method_names()
    assert "pass_fail" in methods and "percentile" in methods
    for page in (GUIDE, METHODS):
        missing = [m for m in methods if m not in quoted(page.read_text(encoding="utf-8"))]
        assert missing == [], f"{page.relative_to(ROOT)} 缺少这些计分方法：{missing}"


def test_page_commands_parser() -> None:
    """The command extraction finds kpirules lines of sh and powershell blocks only, strips
    the .venv prefix, turns Windows separators around and reads the exit-code comment."""
    text = (
        "```powershell\npy -m venv .venv\n"
        ".venv\\Scripts\\kpirules score rulesets\\a.yaml m.csv\n```\n"
        "```sh\nkpirules validate x.yaml   # 退出码 1\n.venv/bin/pip install .\n```\n"
        "```text\nkpirules test y\n```\n"
    )
    assert page_commands(text) == [
        (["score", "rulesets/a.yaml", "m.csv"], 0),
        (["validate", "x.yaml"], 1),
    ]


@pytest.mark.parametrize("page", [QUICKSTART, METHODS], ids=lambda p: p.name)
def test_page_commands_run_with_the_exit_code_shown(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kpirules command of the quickstart (and of the methods page) runs from the
    repository root, in page order, with the exit code the page gives it; files it writes
    with --output go to a temporary folder (so the page's "file already exists" step meets
    the file its previous step wrote, and a later step that reads such a file finds it)."""
    commands = page_commands(page.read_text(encoding="utf-8"))
    assert len(commands) >= (10 if page == QUICKSTART else 2)
    if page == QUICKSTART:
        assert any(code == 1 and argv[0] == "validate" for argv, code in commands)
        assert any(code == 2 and "--output" in argv for argv, code in commands)
    monkeypatch.chdir(ROOT)
    written: dict[str, str] = {}
    for argv, expected in commands:
        if argv[0] == "serve":
            continue  # runs until stopped: tests/test_service.py starts it
        args = list(argv)
        if "--output" in args:
            at = args.index("--output") + 1
            written[args[at]] = str(tmp_path / args[at])
        # A file an earlier step wrote (kpirules new … --output F) is read there by later steps.
        args = [written.get(arg, arg) for arg in args]
        out, err = io.StringIO(), io.StringIO()
        code = run(args, out, err)
        assert code == expected, (
            f"kpirules {' '.join(argv)}：退出码 {code}，页面写的是 {expected}\n"
            f"{out.getvalue()}{err.getvalue()}"
        )


def test_methods_page_sentences_are_what_the_engine_says() -> None:
    """Every line the methods page shows as program output is printed by `kpirules test`
    or `kpirules explain` on the worked-example ruleset and its four offices."""
    examples = ZH / "examples"
    printed = ""
    for argv in (
        ["test", "docs/zh/examples/methods.yaml"],
        ["explain", str(examples / "methods.yaml"), str(examples / "methods.csv")],
    ):
        out, err = io.StringIO(), io.StringIO()
        run(argv, out, err)
        printed += out.getvalue()
    shown = [
        line
        for lang, body in _BLOCK.findall(METHODS.read_text(encoding="utf-8"))
        if lang == "text"
        for line in body.splitlines()
        if line.strip()
    ]
    assert len(shown) >= 20
    assert [line for line in shown if line not in printed] == []


def test_worked_examples_ruleset_passes_its_cases() -> None:
    """The ruleset that checks every worked example of the methods page passes all its cases."""
    out, err = io.StringIO(), io.StringIO()
    code = run(["test", str(ZH / "examples" / "methods.yaml")], out, err)
    assert code == 0, out.getvalue() + err.getvalue()
    assert out.getvalue().splitlines()[-1].endswith(": 8/8 个用例通过")


def _anchor(heading: str) -> str:
    """The anchor a Markdown viewer gives a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_pages_resolve() -> None:
    """Every relative link in docs/zh/ points at an existing file, and at an existing
    heading when it names one."""
    broken: list[str] = []
    for page in sorted(ZH.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
                continue
            if anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    broken.append(f"{page.name}: {target}")
    assert broken == []


_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[^\n]*\n", re.MULTILINE | re.DOTALL)
#: What may stand between a command's block and the block of what it printed.
_BETWEEN = ("", "打印：")


def pasted_outputs(text: str) -> list[tuple[list[str], int, str]]:
    """Each ```sh block holding one kpirules command that is followed right away (nothing
    between but a blank line or “打印：”) by a ```text block: the command, the exit code the
    page gives it, and the text it is said to print."""
    found: list[tuple[list[str], int, str]] = []
    blocks = list(_FENCE.finditer(text))
    for block, after in itertools.pairwise(blocks):
        if block.group(1) != "sh" or after.group(1) != "text":
            continue
        between = text[block.end() : after.start()].strip()
        commands = page_commands(block.group(0))
        if between in _BETWEEN and len(commands) == 1:
            argv, code = commands[0]
            found.append((argv, code, after.group(2)))
    return found


def _printed(argv: list[str], tmp_path: Path) -> tuple[int, str]:
    """Run ``kpirules argv`` from the repository root (an --output file goes to ``tmp_path``
    and is named in messages as the page names it); stdout then stderr."""
    args = list(argv)
    if "--output" in args:
        at = args.index("--output") + 1
        args[at] = str(tmp_path / argv[at])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out, err)
    printed = out.getvalue() + err.getvalue()
    if "--output" in argv:
        at = argv.index("--output") + 1
        printed = printed.replace(args[at], argv[at])
    return code, printed


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").splitlines()]


def test_pasted_outputs_parser() -> None:
    """A text block counts as a command's output only right after its one-command sh block."""
    text = (
        "```sh\nkpirules validate a.yaml\n```\n\n```text\na.yaml: 有效\n```\n"
        "```sh\nkpirules score r.yaml m.csv   # 退出码 1\n```\n打印：\n\n```text\nx\n```\n"
        "```sh\nkpirules test r/\n```\n例如：\n\n```text\n失败\n```\n"
        "```sh\nkpirules validate a.yaml\nkpirules validate b.yaml\n```\n```text\ny\n```\n"
    )
    assert pasted_outputs(text) == [
        (["validate", "a.yaml"], 0, "a.yaml: 有效\n"),
        (["score", "r.yaml", "m.csv"], 1, "x\n"),
    ]


def test_quickstart_outputs_are_what_the_commands_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every output the quickstart pastes right after a command is, line for line (trailing
    spaces aside), what that command prints now; commands run in page order, so the
    “file already exists” step meets the file the step before it wrote."""
    text = QUICKSTART.read_text(encoding="utf-8")
    pasted = pasted_outputs(text)
    assert len(pasted) >= 8
    assert (["score", "rulesets/a-office-annual.yaml", "examples/a-offices-2026.csv"], 0) in [
        (argv, code) for argv, code, _ in pasted
    ]
    assert any(argv[0] == "explain" for argv, _, _ in pasted)
    monkeypatch.chdir(ROOT)
    drifted = []
    for argv, expected in page_commands(text):
        if argv[0] == "serve":
            continue  # runs until stopped
        code, printed = _printed(argv, tmp_path)
        if pasted and (pasted[0][0], pasted[0][1]) == (argv, expected):
            _, _, shown = pasted.pop(0)
            if (code, _lines(printed)) != (expected, _lines(shown)):
                drifted.append(f"kpirules {' '.join(argv)}（退出码 {code}）实际打印：\n{printed}")
    assert (drifted, pasted) == ([], [])


#: Pages in English that paste a command's output as ``$ kpirules …`` then what it printed,
#: with ``…`` for lines left out.
EXCERPT_PAGES = ("README.md", "docs/scoring.md", "docs/rulesets.md")


@pytest.mark.parametrize("name", EXCERPT_PAGES)
def test_english_excerpts_are_what_the_commands_print(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ``$ kpirules …`` excerpt shows lines the command prints, in order: the lines
    between two ``…`` are consecutive output lines, and an excerpt without a leading
    (trailing) ``…`` starts (ends) where the output does."""
    monkeypatch.chdir(ROOT)
    excerpts = [
        body.splitlines()
        for lang, body in _BLOCK.findall((ROOT / name).read_text(encoding="utf-8"))
        if lang == "text" and body.startswith("$ kpirules ")
    ]
    assert excerpts
    for first, *shown in excerpts:
        _, printed = _printed(shlex.split(first.removeprefix("$ kpirules ")), tmp_path)
        output = _lines(printed)
        runs: list[list[str]] = [[]]
        for line in shown:
            if line.strip() == "…":
                runs.append([])
            else:
                runs[-1].append(line.rstrip())
        at = 0
        for n, part in enumerate(runs):
            if not part:
                continue
            starts = [
                i for i in range(at, len(output) - len(part) + 1) if output[i:][: len(part)] == part
            ]
            assert starts, f"{name}: {first} 的输出中没有这几行（或顺序不对）：{part}"
            if n == 0:
                assert starts[0] == 0, f"{name}: {first} 的输出不是从这里开始：{part[0]}"
            at = starts[0] + len(part)
        if runs[-1]:
            assert at == len(output), f"{name}: {first} 的输出在 {runs[-1][-1]} 之后还有内容"


AUDIT = ZH / "audit.md"
#: What differs from one run to the next: hashes, ledger ids, times.
_VOLATILE = (
    (re.compile(r"\b[0-9a-f]{64}\b"), "<哈希>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<标识>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00"), "<时间>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?= [+-]\d\d:\d\d)"), "<时间>"),
)


def steady(text: str) -> list[str]:
    """The lines of an output with hashes, ledger ids and times replaced by placeholders."""
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return _lines(text)


def test_audit_page_outputs_are_what_the_commands_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command of the audit page runs in page order, in a folder holding a copy of the
    rulesets and examples, with the exit code the page gives it; its `cp` and `sqlite3`
    steps are carried out; every output pasted after a command is what it prints, hashes,
    ids and times aside."""
    pytest.importorskip("cryptography")
    import shutil
    import sqlite3

    for folder in ("rulesets", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    text = AUDIT.read_text(encoding="utf-8")
    pasted = pasted_outputs(text)
    assert len(pasted) >= 12
    ran = 0
    drifted = []
    for lang, body in _BLOCK.findall(text):
        if lang not in ("sh", "powershell"):
            continue
        commands = []
        for line in body.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["cp"]:
                shutil.copy(words[1], words[2])
            elif words[:1] == ["sqlite3"]:
                db = sqlite3.connect(words[1])
                db.executescript(words[2])
                db.close()
            else:
                commands.append(line)
        block = "\n".join(commands)
        for argv, expected in page_commands(f"```{lang}\n{block}\n```\n"):
            out, err = io.StringIO(), io.StringIO()
            code = run(argv, out, err)
            printed = out.getvalue() + err.getvalue()
            ran += 1
            assert code == expected, f"kpirules {' '.join(argv)}：退出码 {code}\n{printed}"
            if pasted and (pasted[0][0], pasted[0][1]) == (argv, expected):
                _, _, shown = pasted.pop(0)
                if steady(printed) != steady(shown):
                    drifted.append(f"kpirules {' '.join(argv)} 实际打印：\n{printed}")
    assert (drifted, pasted) == ([], [])
    assert ran >= 15
