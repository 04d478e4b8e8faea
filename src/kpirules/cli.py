"""The ``kpirules`` command line: a thin layer over the Python API.

Exit codes: 0 success, 1 invalid input (or warnings under ``--strict``), 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kpirules import __version__
from kpirules.api import check
from kpirules.errors import Problem
from kpirules.schema import schema, tests_schema

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

_SUFFIXES = (".yaml", ".yml")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of exiting, so ``run`` stays testable."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: 用法错误：{message}")


def _parser() -> _Parser:
    parser = _Parser(
        prog="kpirules",
        description="绩效考核规则引擎：检查 YAML 规则集。",
    )
    parser.add_argument("--version", action="version", version=f"kpirules {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    validate = sub.add_parser(
        "validate",
        help="检查规则集文件（或目录中的所有 .yaml 文件），列出所有错误和警告",
        description=(
            "检查规则集，一次列出所有问题，格式为 文件:行:列: error|warning: 路径: 说明。"
            "退出码：0 有效（可有警告），1 无效，2 用法错误。"
        ),
    )
    validate.add_argument("paths", nargs="+", metavar="FILE", help="规则集文件或目录")
    validate.add_argument("--strict", action="store_true", help="有警告也视为失败（退出码 1）")
    validate.add_argument(
        "--format", choices=("text", "json"), default="text", help="输出格式（默认 text）"
    )
    schema_cmd = sub.add_parser(
        "schema",
        help="输出规则集的 JSON Schema（供编辑器自动补全和检查）",
        description="把规则集格式的 JSON Schema（draft 2020-12）写到标准输出。",
    )
    schema_cmd.add_argument(
        "--tests", action="store_true", help="输出测试文件（*.tests.yaml）的 JSON Schema"
    )
    return parser


def _expand(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                raise _UsageError(f"kpirules: 目录 {raw} 中没有 .yaml 文件")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise _UsageError(f"kpirules: 找不到文件 {raw}")
    return files


def _validate(args: argparse.Namespace, stdout: TextIO) -> int:
    files = _expand(args.paths)
    results: list[tuple[Path, bool, tuple[Problem, ...]]] = []
    for path in files:
        ruleset, problems = check(path)
        results.append((path, ruleset is not None, problems))
    failed = any(
        not ok or (args.strict and any(p.severity == "warning" for p in problems))
        for _, ok, problems in results
    )
    if args.format == "json":
        payload = {
            "valid": not failed,
            "files": [
                {
                    "file": str(path),
                    "valid": ok,
                    "problems": [p.as_dict() for p in problems],
                }
                for path, ok, problems in results
            ],
        }
        stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return EXIT_INVALID if failed else EXIT_OK
    for path, ok, problems in results:
        for problem in problems:
            stdout.write(str(problem) + "\n")
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        if ok:
            note = f"（{warnings} 个警告）" if warnings else ""
            stdout.write(f"{path}: 有效{note}\n")
        else:
            stdout.write(f"{path}: 无效：{errors} 个错误，{warnings} 个警告\n")
    return EXIT_INVALID if failed else EXIT_OK


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the command line with ``argv`` (without the program name); return the exit code."""
    parser = _parser()
    try:
        # argparse prints --help and --version to sys.stdout; send them to ours.
        with contextlib.redirect_stdout(stdout):
            args = parser.parse_args(list(argv))
        if args.command is None:
            parser.print_help(stderr)
            return EXIT_USAGE
        if args.command == "schema":
            definition = tests_schema() if args.tests else schema()
            stdout.write(json.dumps(definition, ensure_ascii=False, indent=2) + "\n")
            return EXIT_OK
        return _validate(args, stdout)
    except _UsageError as exc:
        stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)


def main() -> None:
    """Console-script entry point."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
    sys.exit(run(sys.argv[1:], sys.stdout, sys.stderr))
