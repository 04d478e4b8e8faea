"""The ``kpirules`` command line: a thin layer over the Python API.

Exit codes: 0 success, 1 invalid input (or warnings under ``--strict``), 2 usage error.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime as dt
import errno
import io
import json
import os
import socket
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

from kpirules import (
    __version__,
    html_report,
    report,
    skeleton,
    staging,
    streaming,
    summary,
    workbook,
)
from kpirules._core.oscompat import (
    private_file_note,
    reader_gone,
    sync_folder,
    utf8_console,
    windows_reason,
)
from kpirules.api import LoadedRuleset, check, check_part, part_of_rulesets
from kpirules.characters import refused_character
from kpirules.diff import compare, effect
from kpirules.errors import Problem, RulesetError
from kpirules.exact import exact
from kpirules.history import ZoneError, as_json, as_table, listing, parse_zone
from kpirules.inputs import (
    InputError,
    Locations,
    MetricsStream,
    Row,
    SheetError,
    entity_columns,
    read_entities,
    read_metrics,
    read_records,
)
from kpirules.ledger import (
    Checkpoint,
    Ledger,
    LedgerError,
    OfficialError,
    engine_changed,
    mark_official,
    may_be_ledger,
    record_batch,
    replay,
)
from kpirules.model import Ruleset
from kpirules.official import batches
from kpirules.periods import (
    NoPeriodDataError,
    Period,
    PeriodError,
    choose,
    family,
    parse_period,
    period_rows,
)
from kpirules.receipts import (
    SigningKey,
    keygen,
    load_public_key,
    load_signing_key,
    parse_head,
    read_receipt,
    write_receipt,
)
from kpirules.result import EvaluationError, Result
from kpirules.schema import schema, tests_schema
from kpirules.testing import run_tests
from kpirules.usage import chinese_usage
from kpirules.words import LANGUAGES, Language, date_fix, english, language

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

_SUFFIXES = (".yaml", ".yml")


class _UsageError(Exception):
    """The command line was used wrongly; the message says how (exit code 2)."""


#: Under ``--lang en``, usage errors keep their earlier, partly translated wording.
_ARGPARSE_WORDS = (
    ("unrecognized arguments", "不认识的参数"),
    ("the following arguments are required", "缺少参数"),
    ("invalid choice", "不是可用的选项"),
    ("choose from", "可选"),
    ("expected one argument", "需要一个值"),
    ("argument ", "参数 "),
    ("invalid int value", "应为整数"),
)


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of exiting, so ``run`` stays testable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --form must not silently mean --format
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        if english():
            for word, chinese in _ARGPARSE_WORDS:
                message = message.replace(word, chinese)
        raise _UsageError(f"{self.prog}: 用法错误：{message}（见 {self.prog} --help）")


def _ledger_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``history`` and ``official`` commands."""
    history = sub.add_parser(
        "history",
        help="列出审计记录",
        description=(
            "以只读方式逐条列出审计记录：序号、时间（本地时间，注明时区）、批次、期间、对象、规则集版本、总分、等级、"
            "状态（正式 / 已被取代）、操作人；其后列出正式批次标记。"
        ),
    )
    history.add_argument("ledger", metavar="LEDGER", help="审计记录文件")
    history.add_argument("--period", help="只列这一期间的计分（如 2026、2026Q3）")
    history.add_argument("--entity", help="只列这个对象的计分")
    history.add_argument("--ruleset", metavar="ID", help="只列用这个规则集（id）计分的记录")
    history.add_argument(
        "--tz",
        metavar="ZONE",
        help="按这个时区显示时间（时区库中的名称，如北京时间为 Asia/Shanghai；默认本机时区）",
    )
    history.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table 表格（默认），json 供程序读取",
    )
    official = sub.add_parser(
        "official",
        help="把某一批计分标为该期间的正式批次",
        description=(
            "把审计记录中的第 N 批计分（批次号见 kpirules history）标为其期间的正式批次，同期间的其他批次即为“已被取代”。"
            "标记记入哈希链并以检查点结束，verify 能发现对它的改动。该期间已有正式批次时需 --replace 和 --note。"
        ),
    )
    official.add_argument("ledger", metavar="LEDGER", help="审计记录文件")
    official.add_argument("--batch", metavar="N", type=int, required=True, help="批次号")
    official.add_argument("--period", help="核对：这一批必须是这个期间的计分")
    official.add_argument("--note", default="", help="说明（改用另一批时必填）")
    official.add_argument("--replace", action="store_true", help="取代该期间已有的正式批次")
    official.add_argument("--user", help="记录中注明的操作人（默认为当前系统用户）")
    official.add_argument(
        "--sign-key",
        metavar="KEYFILE",
        help="用这把私钥（kpirules keygen 生成）给标记的检查点签名",
    )
    official.add_argument(
        "--receipt",
        metavar="FILE",
        help="把标记的检查点写成收据（JSON；不覆盖已有文件），verify --receipt 可证明标记未被删除",
    )


def _parser() -> _Parser:
    parser = _Parser(
        prog="kpirules",
        allow_abbrev=False,
        description="绩效考核规则引擎：检查规则集、计分、解释每个分数、运行测试用例、比较版本、记录与重算。",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"kpirules {__version__}",
        help="show program's version number and exit" if english() else "显示版本号并退出",
    )
    parser.add_argument("--lang", choices=LANGUAGES, default="zh", help=_LANG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    validate = sub.add_parser(
        "validate",
        help="检查规则集文件（或目录中的所有 .yaml 文件），列出所有错误和警告",
        description=(
            "检查规则集，一次列出所有问题，每行一个：文件:行:列: 错误或警告 代码：位置：说明（怎样改）。"
            "退出码：0 有效（可有警告），1 无效，2 用法错误。"
        ),
    )
    validate.add_argument("paths", nargs="+", metavar="FILE", help="规则集文件或目录")
    validate.add_argument("--strict", action="store_true", help="有警告也视为失败（退出码 1）")
    validate.add_argument(
        "--format", choices=("text", "json"), default="text", help="输出格式（默认 text）"
    )
    score = sub.add_parser(
        "score",
        help="按规则集给指标数据计分，输出总分、等级、排名和结果",
        description=(
            "按规则集给一个或多个对象计分。指标数据可以是 Excel 工作簿（.xlsx）、CSV（UTF-8 或 GBK）、YAML 或 JSON。"
            "退出码：0 成功，1 规则集或数据有误，2 用法错误。"
        ),
    )
    score.add_argument(
        "ruleset", metavar="RULESET", help="规则集文件，或同一规则集各版本所在的目录"
    )
    score.add_argument("metrics", metavar="METRICS", help="指标数据文件（.xlsx/.csv/.yaml/.json）")
    score.add_argument("--sheet", metavar="NAME", help=_SHEET_HELP)
    score.add_argument(
        "--format",
        choices=("table", "json", "csv", "xlsx", "html"),
        help="输出格式（默认 table；--output 的扩展名为 .json、.csv、.xlsx 或 .html 时按扩展名；xlsx 须写入 --output 文件；html 即 report 命令的报告）",
    )
    score.add_argument(
        "--headers",
        choices=("zh", "id"),
        default="zh",
        help="table、csv、xlsx 的列名：zh 中文（默认），id 规则集中的编号",
    )
    score.add_argument(
        "--exact",
        action="store_true",
        help="table、csv 显示精确值，不按规则集的小数位数取舍（xlsx 总有“精确值”工作表）",
    )
    score.add_argument(
        "--sort",
        choices=("rank", "input"),
        help="行的顺序：rank 按排名（table、csv、xlsx 的默认），input 按数据文件的顺序（json 的默认）",
    )
    score.add_argument(
        "--output",
        metavar="FILE",
        help="写入文件（原子写入；不会覆盖输入文件、审计记录、目录或设备；与 --record 一起时，要么写入并记录，要么都不做）",
    )
    score.add_argument("--force", action="store_true", help="允许覆盖已存在的输出文件")
    score.add_argument("--encoding", help="指标文件的编码（默认自动识别 UTF-8 / GBK）")
    score.add_argument(
        "--record",
        metavar="LEDGER",
        help="把本次计分追加到审计记录文件（SQLite，不存在则新建），并打印本次的检查点 N:HASH"
        "（输出为 .xlsx 时，检查点也写在“汇总”工作表的标题中）",
    )
    score.add_argument(
        "--period",
        default="",
        help="考核期间（2026、2026H1、2026Q3、2026-07 或 起..止）：据此选择施行的规则集版本，并把按月/季分行的数据汇总",
    )
    score.add_argument(
        "--as-of", metavar="DATE", help="按这一天施行的规则集版本计分（期间内规则有变化时）"
    )
    score.add_argument("--user", help="记录中注明的操作人（默认为当前系统用户）")
    score.add_argument(
        "--receipt",
        metavar="FILE",
        help="把本次记录的检查点写成收据（JSON，原子写入；已存在时需 --force）；需 --record",
    )
    score.add_argument(
        "--sign-key",
        metavar="KEYFILE",
        help="用这把私钥（kpirules keygen 生成）给检查点签名；需 --record 和 pip install 'kpirules[sign]'",
    )
    score.add_argument(
        "--jobs",
        type=_jobs,
        default=os.cpu_count() or 1,
        metavar="N",
        help="用 N 个进程计分（默认为本机处理器的核数；1 只用本进程）；结果与 --jobs 1 完全相同",
    )
    score.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="在标准错误上显示进度条（已计分的对象数、速度、剩余时间）；默认仅当它是终端时显示",
    )
    explain = sub.add_parser(
        "explain",
        help="逐项解释计分过程（每个分数的来源）",
        description="逐项说明一个或全部对象的计分过程：取值、目标、方法、得分、小计、总分、等级和结果；"
        "结果的金额带单位，并写出算式和取舍方式。",
    )
    explain.add_argument("ruleset", metavar="RULESET", help="规则集文件")
    explain.add_argument(
        "metrics", metavar="METRICS", help="指标数据文件（.xlsx/.csv/.yaml/.json）"
    )
    explain.add_argument("--sheet", metavar="NAME", help=_SHEET_HELP)
    explain.add_argument("--entity", metavar="ID", help="只解释这个对象")
    explain.add_argument(
        "--verbose", action="store_true", help="末行另写计分时的小数运算设置（精度、取舍方式）"
    )
    explain.add_argument("--encoding", help="指标文件的编码（默认自动识别 UTF-8 / GBK）")
    explain.add_argument("--period", default="", help="考核期间，同 score")
    explain.add_argument("--as-of", metavar="DATE", help="按这一天施行的规则集版本，同 score")
    report_cmd = sub.add_parser(
        "report",
        help="生成可打印的 HTML 考核结果报告（汇总、图表、逐个对象的计分说明）",
        description=(
            "按规则集计分，生成一个独立的 HTML 报告文件：标题、规则集版本和指纹、汇总排名、"
            "等级分布、各指标得分率和各对象总分图、否决与奖惩名单，以及每个对象的逐项计分说明。"
            "报告不引用任何外部资源，可离线打开；在浏览器中打印为 A4 时，汇总在前，每个对象单独一页。"
            "退出码：0 成功，1 规则集或数据有误，2 用法错误。"
        ),
    )
    report_cmd.add_argument("ruleset", metavar="RULESET", help="规则集文件，或各版本所在的目录")
    report_cmd.add_argument(
        "metrics", metavar="METRICS", help="指标数据文件（.xlsx/.csv/.yaml/.json）"
    )
    report_cmd.add_argument("--sheet", metavar="NAME", help=_SHEET_HELP)
    report_cmd.add_argument(
        "--output",
        metavar="FILE",
        required=True,
        help="报告文件，如 报告.html（原子写入；不会覆盖输入文件）",
    )
    report_cmd.add_argument("--force", action="store_true", help="允许覆盖已存在的报告文件")
    report_cmd.add_argument("--encoding", help="指标文件的编码（默认自动识别 UTF-8 / GBK）")
    report_cmd.add_argument("--period", default="", help="考核期间，同 score；写在报告标题下")
    report_cmd.add_argument("--as-of", metavar="DATE", help="按这一天施行的规则集版本，同 score")
    test = sub.add_parser(
        "test",
        help="运行规则集自带的测试用例",
        description="运行规则集（或测试文件）中的测试用例，规则集旁边的 名称.tests.yaml 也一并运行；逐条显示通过或失败及差异。有失败时退出码为 1。",
    )
    test.add_argument("paths", nargs="+", metavar="RULESET", help="规则集、测试文件或目录")
    replay = sub.add_parser(
        "replay",
        help="按记录的规则集原文和输入重算，逐字节比较结果",
        description="以只读方式打开审计记录，重算其中的计分（全部或指定一条），与记录的结果逐字节比较；评分引擎与记录时不同时先说明。全部一致退出码 0，有差异为 1。",
    )
    replay.add_argument("ledger", metavar="LEDGER", help="审计记录文件")
    replay.add_argument("entry", metavar="ENTRY", nargs="?", type=int, help="只重算这一条（序号）")
    verify = sub.add_parser(
        "verify",
        help="检查审计记录的哈希链是否完整，并对照收据或记下的检查点",
        description=(
            "以只读方式检查审计记录：每条记录的哈希、前后相连的哈希链、记录的规则集原文、存放的检查点；"
            "给出收据（--receipt）或检查点（--head）时证明记录仍完整保存到该处（删除、截短、重算哈希后的改写都能发现），"
            "给出公钥（--public-key）时检查签名。最后一行是当前检查点 N:HASH。有问题时退出码 1。"
        ),
    )
    verify.add_argument("ledger", metavar="LEDGER", help="审计记录文件")
    verify.add_argument(
        "--receipt",
        metavar="FILE",
        nargs="+",
        action="extend",
        default=[],
        help="证明记录仍完整保存到这些收据的检查点（score --receipt 写的文件）",
    )
    verify.add_argument(
        "--head",
        metavar="N:HASH",
        action="append",
        default=[],
        help="证明记录仍完整保存到记下的检查点（第 N 条的哈希为 HASH）",
    )
    verify.add_argument(
        "--public-key",
        metavar="PUB",
        help="用这把公钥检查记录中每个检查点和每张收据的签名（都必须有签名）",
    )
    keygen_cmd = sub.add_parser(
        "keygen",
        help="生成给检查点签名的密钥（Ed25519）",
        description=(
            "生成一对 Ed25519 密钥：私钥写到 KEYFILE（仅本人可读，权限 0600），公钥写到 KEYFILE.pub。"
            "不会覆盖已有文件。需要 pip install 'kpirules[sign]'。"
        ),
    )
    keygen_cmd.add_argument("--output", metavar="KEYFILE", required=True, help="私钥文件")
    diff = sub.add_parser(
        "diff",
        help="比较两个版本的规则集，用政策语言说明改了什么",
        description="逐项说明两个规则集版本的差异（指标增删、分值、目标、计分方法、等级、否决和结果规则）；加 --metrics 时说明每个对象的得分如何变化。",
    )
    diff.add_argument("old", metavar="OLD", help="原版本规则集")
    diff.add_argument("new", metavar="NEW", help="新版本规则集")
    diff.add_argument("--metrics", metavar="FILE", help="用这份指标数据按两个版本分别计分并比较")
    diff.add_argument("--encoding", help="指标文件的编码（默认自动识别 UTF-8 / GBK）")
    diff.add_argument("--sheet", metavar="NAME", help=_SHEET_HELP)
    template = sub.add_parser(
        "template",
        help="生成填写指标数据的 Excel 模板（.xlsx）",
        description=(
            "按规则集生成数据填写模板：对象列在前，每个输入指标一列（表头为中文名称和单位；派生指标由公式计算，不需填写），"
            "评分指标每位评委一列；是/否下拉选择、取值范围检查、百分比格式，另有“填写说明”工作表。"
            "填好后不需改动即可用 kpirules score 计分。不会覆盖已存在的文件，除非加 --force。"
        ),
    )
    template.add_argument("ruleset", metavar="RULESET", help="规则集文件")
    template.add_argument("--output", metavar="FILE", required=True, help="模板文件（.xlsx）")
    template.add_argument("--force", action="store_true", help="允许覆盖已存在的文件")
    template.add_argument(
        "--entities",
        metavar="FILE",
        help="对象名单（文本文件，每行一个，UTF-8 或 GBK），预先填入对象列",
    )
    _ledger_parsers(sub)
    serve = sub.add_parser(
        "serve",
        help="启动 HTTP 服务和网页（供医院信息系统调用、政策人员在浏览器中使用）",
        description=(
            "启动 HTTP 服务：/v1 下的接口（规则集、检查、计分、解释、记录与核查）和 / 处的网页。"
            "记录和审计记录接口需要令牌（--token-file 或环境变量 KPIRULES_TOKEN）。"
            "上限：请求内容 5 MiB，每次 5000 个对象，每次 30 秒。"
            "需要安装：pip install 'kpirules[server]'。"
        ),
    )
    serve.add_argument(
        "--rulesets", required=True, metavar="DIR", help="规则集所在目录（只从这里读）"
    )
    serve.add_argument("--ledger", metavar="FILE", help="审计记录文件（/v1/record 记入这里）")
    serve.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，仅本机）")
    serve.add_argument("--port", type=int, default=8000, help="端口（默认 8000）")
    serve.add_argument("--token-file", metavar="F", help="令牌文件：第一行是令牌（至少 16 个字符）")
    schema_cmd = sub.add_parser(
        "schema",
        help="输出规则集的 JSON Schema（供编辑器自动补全和检查）",
        description="把规则集格式的 JSON Schema（draft 2020-12）写到标准输出。",
    )
    schema_cmd.add_argument(
        "--tests", action="store_true", help="输出测试文件（*.tests.yaml）的 JSON Schema"
    )
    new = sub.add_parser(
        "new",
        help="生成一份带中文注释的规则集骨架，从它开始编写新的规则集",
        description=(
            "生成一份带中文注释的规则集骨架：基本信息、数据、三个类别、每种常用计分方法一个指标、"
            "一票否决、等级、奖惩结果和手算好的测试用例。生成的文件能通过 kpirules validate --strict"
            " 和 kpirules test，按注释逐节修改即可（写法见 docs/zh/ruleset-guide.md）。"
            "退出码：0 成功，2 用法错误（如文件已存在）。"
        ),
    )
    new.add_argument("name", metavar="NAME", help="规则集的标题（或文件名，不含 .yaml）")
    new.add_argument(
        "--cycle",
        choices=tuple(skeleton.CYCLES),
        default="annual",
        help="考核周期：annual 年度（默认）、halfyear 半年、quarterly 季度、monthly 月度",
    )
    new.add_argument(
        "--output", metavar="FILE", help="写入的文件（默认为当前文件夹中的 NAME.yaml；原子写入）"
    )
    new.add_argument("--force", action="store_true", help="允许覆盖已存在的文件")
    for command in sub.choices.values():
        command.add_argument(
            "--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help=_LANG_HELP
        )
    return parser


_LANG_HELP = "提示和输出的语言：zh 中文（默认）；en 保留编号和英文词的旧写法，供开发人员使用"


def _language(argv: Sequence[str]) -> Language:
    """The ``--lang`` asked for on the command line (checked again by the parser)."""
    lang = "zh"
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            lang = argv[i + 1]
        elif arg.startswith("--lang="):
            lang = arg.partition("=")[2]
    return "en" if lang == "en" else "zh"


_SHEET_HELP = "Excel 工作簿中要读的工作表（默认：第一张表头与规则集相符的工作表）"


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
    parts: dict[Path, str] = {}
    for path in files:
        part, problems = check_part(path)
        if part is not None:
            parts[path] = part
            results.append((path, not any(p.severity == "error" for p in problems), problems))
            continue
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
                    **({"part": parts[path]} if path in parts else {}),
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
        kind = f"{parts[path]}；" if path in parts else ""
        if ok:
            note = f"（{warnings} 个警告）" if warnings else ""
            stdout.write(f"{path}: {kind}有效{note}\n")
        else:
            stdout.write(f"{path}: {kind}无效：{errors} 个错误，{warnings} 个警告\n")
    return EXIT_INVALID if failed else EXIT_OK


def _load_scored(
    args: argparse.Namespace, stderr: TextIO
) -> tuple[Ruleset, list[Row], tuple[Result, ...]] | None:
    """Load the ruleset and metrics and score them; print problems and return None on failure."""
    ruleset = _scoring_ruleset(args, stderr)
    if ruleset is None:
        return None
    period = parse_period(args.period) if args.period else None
    locations = Locations()
    try:
        rows = _rows_for(args, ruleset, period, stderr, locations)
        results = ruleset.evaluate_many(rows)
    except PeriodError as exc:
        stderr.write(f"kpirules: {exc}\n")
        return None
    except SheetError as exc:
        raise _UsageError(f"kpirules: {exc}") from None
    except InputError as exc:
        for p in exc.problems:
            stderr.write(f"{p}\n")
        stderr.write(f"{args.metrics}: 指标数据有误，未计分\n")
        return None
    except EvaluationError as exc:
        for problem in exc.problems:
            stderr.write(streaming.located(args.metrics, problem, locations) + "\n")
        stderr.write(f"{args.metrics}: 无法计分\n")
        return None
    return ruleset, rows, results


def _scoring_ruleset(args: argparse.Namespace, stderr: TextIO) -> LoadedRuleset | None:
    """Check the files and options of a scoring command; the ruleset in force, or None
    when it cannot be loaded (the problems are printed)."""
    if not Path(args.ruleset).exists():
        raise _UsageError(f"kpirules: 找不到文件 {args.ruleset}")
    if Path(args.metrics).is_dir():
        raise _UsageError(
            f"kpirules: {args.metrics} 是目录：请给出一个指标数据文件（.xlsx/.csv/.yaml/.json）"
        )
    if not Path(args.metrics).is_file():
        raise _UsageError(f"kpirules: 找不到文件 {args.metrics}")
    _not_data(args.ruleset)
    if args.encoding:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            raise _UsageError(
                f"kpirules: 不认识的编码 {args.encoding}（可用 utf-8、gbk、gb18030、utf-16）"
            ) from None
    try:
        period = parse_period(args.period) if args.period else None
    except PeriodError as exc:
        raise _UsageError(f"kpirules: {exc}") from None
    as_of = _date(args.as_of) if args.as_of else None
    try:
        return _ruleset_for(args.ruleset, period, as_of, stderr)
    except PeriodError as exc:
        stderr.write(f"kpirules: {exc}\n")
        return None


def _not_data(name: str) -> None:
    """A data file given where a ruleset belongs is a usage error, not a pile of YAML errors."""
    if Path(name).suffix.lower() in (".csv", ".json", ".xlsx", ".xls"):
        raise _UsageError(
            f"kpirules: {name} 是数据文件，不是规则集：参数的顺序是 规则集 在前，指标数据 在后"
        )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        if english():
            raise _UsageError(f"kpirules: 日期 “{text}” 应写成 YYYY-MM-DD") from None
        raise _UsageError(f"kpirules: 日期 “{text}” 的写法不对（{date_fix(text)}）") from None


def _span(period: Period | None, as_of: dt.date | None) -> Period:
    if period is not None:
        return period
    assert as_of is not None
    return Period(as_of, as_of, str(as_of))


def _ruleset_for(
    name: str, period: Period | None, as_of: dt.date | None, stderr: TextIO
) -> LoadedRuleset | None:
    """One ruleset file, or the version of a family (a folder) in force for the period."""
    path = Path(name)
    if path.is_dir():
        if period is None and as_of is None:
            raise _UsageError(
                f"kpirules: {name} 是规则集目录：用 --period 或 --as-of 指定期间以选择版本"
            )
        try:
            versions = family(sorted(path.glob("*.yaml")))
        except RulesetError as exc:
            for p in exc.problems:
                stderr.write(f"{p}\n")
            stderr.write(f"{name}: 目录中有无效的规则集，未计分\n")
            return None
        chosen = choose(versions, _span(period, as_of), as_of=as_of)
        stderr.write(f"按 {chosen.file}（版本 {chosen.version}）计分\n")
        if period is not None and as_of is not None and not period.start <= as_of <= period.end:
            stderr.write(f"注意：--as-of {as_of} 不在期间 {period} 内\n")
        return chosen
    ruleset, problems = check(name)
    if ruleset is None:
        for p in problems:
            stderr.write(f"{p}\n")
        stderr.write(f"{name}: 规则集无效，未计分\n")
        return None
    if period is not None or as_of is not None:
        choose([ruleset], _span(period, as_of), as_of=as_of)
    return ruleset


def _rows_for(
    args: argparse.Namespace,
    ruleset: Ruleset,
    period: Period | None,
    stderr: TextIO,
    locations: Locations,
) -> list[Row]:
    """Rows to score; with --period and a period column, the sub-periods rolled up."""
    if period is None:
        return read_metrics(
            args.metrics, ruleset, encoding=args.encoding, locations=locations, sheet=args.sheet
        )
    records = read_records(
        args.metrics, ruleset, encoding=args.encoding, locations=locations, sheet=args.sheet
    )
    try:
        chosen = period_rows(ruleset, records, period, source=args.metrics)
    except NoPeriodDataError as error:
        stderr.writelines(note + "\n" for note in error.notes)
        raise
    stderr.writelines(note + "\n" for note in chosen.notes)
    return list(chosen.rows)


def _write_out(stdout: TextIO, text: str, piece: int = 1 << 16) -> None:
    """Write a long text in pieces. One large write into a pipe whose reader goes away part way
    returns short, and the rest is dropped without a word; written in pieces, the next piece
    meets the closed pipe and the command stops as `main` describes."""
    for start in range(0, len(text), piece):
        stdout.write(text[start : start + piece])


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"应是正整数（进程数），而不是 “{text}”")
    return jobs


def _score_streamed(args: argparse.Namespace, fmt: str, stdout: TextIO, stderr: TextIO) -> int:
    """Score the file in chunks (see :mod:`kpirules.streaming`): memory does not grow with it.

    The output goes to a temporary file beside ``--output`` that is renamed into place only
    once every row is scored, or to standard output once every row is scored.
    """
    ruleset = _scoring_ruleset(args, stderr)
    if ruleset is None:
        return EXIT_INVALID
    order: summary.Order = "input" if args.sort == "input" else "rank"
    options = streaming.Options(
        fmt,
        headers="id" if args.headers == "id" else "zh",
        exact=args.exact,
        order=(args.sort or "input") if fmt == "json" else order,
        period=args.period,
    )
    stream = MetricsStream(args.metrics, ruleset, encoding=args.encoding, sheet=args.sheet)
    shown = args.progress if args.progress is not None else stderr.isatty()
    bar = _progress_bar(args.metrics, stderr) if shown else None
    output = Path(args.output) if args.output else None
    staged = None
    try:
        if output is not None:
            # A CSV file gets a byte-order mark: Excel on Chinese Windows then reads it as UTF-8.
            staged = staging.Staged(output, "utf-8-sig" if fmt == "csv" else "utf-8")
        emit = staged.write if staged is not None else (lambda text: _write_out(stdout, text))
        count = streaming.score_file(ruleset, stream, options, emit, jobs=args.jobs, progress=bar)
        if bar is not None:
            bar.close()
            bar = None
        if staged is None or output is None:
            return EXIT_OK
        try:
            staged.publish()
        except OSError as exc:
            stderr.write(f"kpirules: 无法写入 {args.output}：{_os_reason(exc)}\n")
            return EXIT_INVALID
    except SheetError as exc:
        raise _UsageError(f"kpirules: {exc}") from None
    except InputError as exc:
        stderr.writelines(f"{p}\n" for p in exc.problems)
        stderr.write(f"{args.metrics}: 指标数据有误，未计分\n")
        return EXIT_INVALID
    except streaming.ScoringFailedError as exc:
        stderr.writelines(line + "\n" for line in exc.lines)
        stderr.write(f"{args.metrics}: 无法计分\n")
        return EXIT_INVALID
    except OSError as exc:
        if output is None:
            raise  # standard output closed by its reader: main() ends quietly
        stderr.write(f"kpirules: 无法写入 {args.output}：{_os_reason(exc)}；未记录本次计分\n")
        return EXIT_INVALID
    finally:
        if bar is not None:
            bar.close()
        if staged is not None:
            staged.discard()
    stderr.write(f"已写入 {args.output}（{count} 个对象）\n")
    return EXIT_OK


def _progress_bar(metrics: str, stderr: TextIO) -> Any:
    """A progress bar on ``stderr``: entities done, rate, time left (from the line count)."""
    from tqdm import tqdm  # imported here: only a run that shows progress needs it

    total = staging.count_lines(Path(metrics)) if metrics.lower().endswith(".csv") else None
    try:
        columns, lines = os.get_terminal_size(stderr.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        columns = lines = 0
    # A terminal that reports no size (0 × 0, as a bare pseudo-terminal does) would hide the bar.
    return tqdm(
        total=total,
        file=stderr,
        unit=" 个对象",
        desc="计分",
        ncols=columns or 80,
        nrows=lines or 24,
    )


def _score_options_ok(args: argparse.Namespace, stderr: TextIO) -> bool:
    """Check --output, --record and --user before anything is read; False (said why) if not."""
    try:
        if args.output:
            inputs = [args.ruleset, args.metrics, *([args.record] if args.record else [])]
            _check_output(args.output, inputs, force=args.force)
        if args.record:
            _check_record(args.record)
        hidden = refused_character(args.user) if args.user else None
        if hidden is not None:
            raise _UsageError(f"kpirules: --user 的值{hidden}（它会写入审计记录）")
    except _WriteError as exc:
        stderr.write(f"{exc}\n")
        return False
    return True


def _score(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    fmt = _output_format(args)
    if not _score_options_ok(args, stderr):
        return EXIT_INVALID
    signer = _recording_options(args, stderr)
    if signer is False:
        return EXIT_INVALID
    if fmt in ("table", "csv", "json") and not args.record and not args.period:
        return _score_streamed(args, fmt, stdout, stderr)
    loaded = _load_scored(args, stderr)
    if loaded is None:
        return EXIT_INVALID
    ruleset, rows, results = loaded
    too_large = workbook.too_large(ruleset, results, notes=1) if fmt == "xlsx" else None
    if too_large:
        raise _UsageError(f"kpirules: {too_large}")
    # All or nothing: the output is rendered and written to a temporary file inside the
    # ledger's transaction, once the batch's checkpoint is known (so the report can carry
    # it); nothing is recorded if that fails. Only after the commit is the output renamed
    # into place.
    staged: list[Path] = []
    rendered: list[str | bytes] = []

    def stage(notes: Sequence[str]) -> None:
        text = _render(fmt, args, ruleset, results, notes)
        rendered.append(text)
        if args.output:
            # A CSV file gets a byte-order mark: Excel on Chinese Windows then reads it as UTF-8.
            encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
            try:
                staged.append(_stage(Path(args.output), text, encoding))
            except OSError as exc:
                raise _WriteError(
                    f"kpirules: 无法写入 {args.output}：{_os_reason(exc)}；未记录本次计分"
                ) from None

    try:
        if args.record:
            note = f"已记入审计记录 {args.record}："
            recorded = _record(
                args,
                ruleset,
                rows,
                results,
                signer,
                stderr,
                before_commit=lambda checkpoint: stage([note + checkpoint.line()]),
            )
            if recorded is None:
                return EXIT_INVALID
        else:
            stage([])
        if not args.output:
            assert isinstance(rendered[-1], str)
            _write_out(stdout, rendered[-1])
            return EXIT_OK
        try:
            _publish(staged.pop(), Path(args.output))
        except OSError as exc:
            recorded_note = f"（本次计分已记入 {args.record}）" if args.record else ""
            stderr.write(f"kpirules: 无法写入 {args.output}：{_os_reason(exc)}{recorded_note}\n")
            return EXIT_INVALID
        stderr.write(f"已写入 {args.output}（{len(results)} 个对象）\n")
        return EXIT_OK
    except _WriteError as exc:
        stderr.write(f"{exc}\n")
        return EXIT_INVALID
    finally:
        for tmp in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _record(
    args: argparse.Namespace,
    ruleset: Ruleset,
    rows: list[Row],
    results: Sequence[Result],
    signer: SigningKey | None,
    stderr: TextIO,
    *,
    before_commit: Callable[[Checkpoint], None] | None = None,
) -> Checkpoint | None:
    """Record the run, print its checkpoint, write the receipt; None (said why) on failure.

    ``before_commit`` runs inside the ledger's transaction once the checkpoint is known; if
    it raises, nothing is recorded and the exception propagates.
    """
    try:
        entries, checkpoint = record_batch(
            args.record,
            ruleset,
            rows,
            results,
            period=args.period,
            user=args.user,
            signer=signer,
            on_wait=lambda message: print(message, file=stderr, flush=True),
            before_commit=before_commit,
        )
    except LedgerError as exc:
        unwritten = f"；未写入 {args.output}" if args.output else ""
        stderr.write(f"kpirules: {exc}{unwritten}\n")
        return None
    stderr.write(f"已记入 {args.record}：第 {entries[0].seq}–{entries[-1].seq} 条\n")
    stderr.write(checkpoint.line() + "\n")
    if args.receipt:
        try:
            write_receipt(args.receipt, checkpoint, args.record, force=args.force)
        except LedgerError as exc:
            stderr.write(f"kpirules: {exc}（本次计分已记入，检查点见上一行）\n")
            return None
        stderr.write(f"收据已写入 {args.receipt}\n")
    return checkpoint


def _recording_options(
    args: argparse.Namespace, stderr: TextIO
) -> SigningKey | Literal[False] | None:
    """Check --receipt and --sign-key before scoring; the signing key, None, or False on error."""
    for option, value in (("--receipt", args.receipt), ("--sign-key", args.sign_key)):
        if value and not args.record:
            raise _UsageError(f"kpirules: {option} 需要与 --record 一起使用")
    if args.receipt:
        for name in (args.ruleset, args.metrics, args.record, args.output):
            if name and Path(name).resolve() == Path(args.receipt).resolve():
                raise _UsageError(
                    f"kpirules: 收据文件 {args.receipt} 就是输入、输出或审计记录，拒绝覆盖"
                )
        if Path(args.receipt).exists() and not args.force:
            raise _UsageError(f"kpirules: 收据文件 {args.receipt} 已存在；要覆盖请加 --force")
        if not Path(args.receipt).resolve().parent.is_dir():
            raise _UsageError(f"kpirules: 收据目录 {Path(args.receipt).resolve().parent} 不存在")
    if not args.sign_key:
        return None
    try:
        return load_signing_key(args.sign_key)
    except LedgerError as exc:
        stderr.write(f"kpirules: {exc}\n")
        return False


def _keygen(args: argparse.Namespace, stderr: TextIO) -> int:
    try:
        private, public = keygen(args.output)
    except LedgerError as exc:
        stderr.write(f"kpirules: {exc}\n")
        return EXIT_INVALID
    stderr.write(
        f"私钥已写入 {private}（{private_file_note()}；请妥善保管，不要与记录文件放在一起）\n"
    )
    stderr.write(f"公钥已写入 {public}（交给核查的人：kpirules verify --public-key {public}）\n")
    return EXIT_OK


_FORMAT_OF_SUFFIX = {
    ".json": "json",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
}


def _format_of(output: str | None) -> str:
    suffix = Path(output).suffix.lower() if output else ""
    return _FORMAT_OF_SUFFIX.get(suffix, "table")


def _output_format(args: argparse.Namespace) -> str:
    """The output format, checked against --output before anything is scored or recorded."""
    suffix = Path(args.output).suffix.lower() if args.output else ""
    if suffix in (".xls", ".xlsm", ".et"):
        raise _UsageError(
            f"kpirules: 不能写成 {suffix} 文件：Excel 工作簿请用 .xlsx 扩展名（--output 结果.xlsx）"
        )
    fmt: str = args.format or _format_of(args.output)
    named = _FORMAT_OF_SUFFIX.get(suffix)
    if args.output and args.format and named not in (None, fmt):
        raise _UsageError(
            f"kpirules: --format {fmt} 与输出文件 {args.output} 不符：{suffix} 是 {named} 格式的扩展名"
        )
    if args.output and fmt == "xlsx" and named != "xlsx":
        raise _UsageError(
            f"kpirules: --format xlsx 的输出文件应以 .xlsx 结尾（而不是 {args.output}）"
        )
    if fmt == "xlsx" and not args.output:
        raise _UsageError("kpirules: xlsx 格式须写入文件：请加 --output 结果.xlsx")
    if fmt == "json" and (args.exact or args.headers != "zh"):
        raise _UsageError(
            "kpirules: --exact 和 --headers 只用于 table、csv、xlsx 输出；json 总是精确值和编号"
        )
    if fmt == "xlsx" and args.exact:
        raise _UsageError(
            "kpirules: xlsx 不用 --exact：工作簿中的数字按规则集取舍，精确值总在“精确值”工作表中"
        )
    return fmt


def _render(
    fmt: str,
    args: argparse.Namespace,
    ruleset: Ruleset,
    results: Sequence[Result],
    notes: Sequence[str] = (),
) -> str | bytes:
    """The results in the chosen format: text, or the bytes of a workbook (whose title
    block carries ``notes``, e.g. the audit checkpoint)."""
    headers: report.Headers = "id" if args.headers == "id" else "zh"
    if fmt == "json":
        return report.to_json(summary.ordered(results, args.sort or "input"))
    order: summary.Order = "input" if args.sort == "input" else "rank"
    if fmt == "csv":
        return report.to_csv(ruleset, results, headers=headers, exact=args.exact, order=order)
    if fmt == "xlsx":
        return workbook.to_xlsx(
            ruleset, results, period=args.period, headers=headers, order=order, notes=notes
        )
    if fmt == "html":
        return html_report.render(ruleset, results, period=args.period, notes=notes)
    return report.table(
        ruleset, results, headers=headers, exact=args.exact, order=order, period=args.period
    )


def _report(args: argparse.Namespace, stderr: TextIO) -> int:
    _check_output(args.output, [args.ruleset, args.metrics], force=args.force)
    loaded = _load_scored(args, stderr)
    if loaded is None:
        return EXIT_INVALID
    ruleset, _, results = loaded
    write_atomic(Path(args.output), html_report.render(ruleset, results, period=args.period))
    stderr.write(f"已写入 {args.output}（{len(results)} 个对象）\n")
    return EXIT_OK


def _explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    loaded = _load_scored(args, stderr)
    if loaded is None:
        return EXIT_INVALID
    ruleset, _, results = loaded
    chosen = [r for r in results if args.entity is None or r.entity == args.entity]
    if not chosen:
        known = "、".join(r.entity for r in results[:20])
        stderr.write(f"kpirules: 数据中没有对象 “{args.entity}”（有：{known}）\n")
        return EXIT_INVALID
    _write_out(stdout, "\n".join(report.explain(ruleset, r, verbose=args.verbose) for r in chosen))
    return EXIT_OK


def _test(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    files = _expand(args.paths)
    for path in list(files):
        # A ruleset's cases may live beside it, in NAME.tests.yaml: run those too.
        beside = path.with_name(path.stem + ".tests.yaml")
        if not path.name.endswith(".tests.yaml") and beside.is_file() and beside not in files:
            files.append(beside)
    failed = False
    ran = 0
    for path in files:
        if part_of_rulesets(path):
            continue  # a base ruleset or fragment has no cases: the rulesets using it run theirs
        ruleset, problems = check(path)
        if ruleset is None:
            for p in problems:
                stdout.write(f"{p}\n")
            stdout.write(f"{path}: 规则集无效，未运行测试\n")
            failed = True
            continue
        if not ruleset.tests:
            continue
        reports = run_tests(ruleset)
        ran += len(reports)
        failed = failed or not all(r.passed for r in reports)
        stdout.write(report.format_test_report(str(path), reports))
    if ran == 0 and not failed:
        names = "、".join(str(p) for p in files)
        stderr.write(
            f"kpirules: {names} 中没有测试用例（规则集的 tests:，或旁边的 名称.tests.yaml）\n"
        )
        return EXIT_INVALID
    return EXIT_INVALID if failed else EXIT_OK


def _diff(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    loaded: list[LoadedRuleset] = []
    for name in (args.old, args.new):
        if not Path(name).is_file():
            raise _UsageError(f"kpirules: 找不到文件 {name}")
        _not_data(name)
        ruleset, problems = check(name)
        if ruleset is None:
            for p in problems:
                stderr.write(f"{p}\n")
            stderr.write(f"{name}: 规则集无效，无法比较\n")
            return EXIT_INVALID
        loaded.append(ruleset)
    old, new = loaded
    changes = compare(old, new)
    for change in changes:
        where = f"（{change.old_file or args.old}:{change.old_line}" if change.old_line else "（"
        where += (" → " if change.old_line and change.new_line else "") + (
            f"{change.new_file or args.new}:{change.new_line}" if change.new_line else ""
        )
        stdout.write(f"- {change.text}{where}）\n" if where != "（" else f"- {change.text}\n")
    if not changes:
        stdout.write("两个版本计分规则相同\n")
    if args.metrics:
        try:
            before = old.evaluate_many(
                read_metrics(args.metrics, old, encoding=args.encoding, sheet=args.sheet)
            )
            after = new.evaluate_many(
                read_metrics(args.metrics, new, encoding=args.encoding, sheet=args.sheet)
            )
        except SheetError as exc:
            raise _UsageError(f"kpirules: {exc}") from None
        except (InputError, EvaluationError) as exc:
            stderr.write(f"{exc}\n")
            return EXIT_INVALID
        stdout.write("\n按 " + args.metrics + " 计分的变化：\n")
        for line in effect(before, after):
            stdout.write(f"  {line}\n")
    return EXIT_OK


def _audit(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    heads = []
    for text in getattr(args, "head", []):
        try:
            heads.append(parse_head(text))
        except ValueError as exc:
            raise _UsageError(f"kpirules: --head {exc}") from None
    try:
        zone = parse_zone(getattr(args, "tz", None))
    except ZoneError as exc:
        raise _UsageError(f"kpirules: --tz {exc}") from None
    try:
        with Ledger.open_readonly(args.ledger) as ledger:
            if args.command == "verify":
                return _verify(ledger, args, heads, stdout)
            if args.command == "history":
                found = listing(
                    ledger, zone, period=args.period, entity=args.entity, ruleset=args.ruleset
                )
                view = as_json if args.format == "json" else as_table
                stdout.write(view(found, zone))
                return EXIT_OK
            note = engine_changed(ledger, args.entry)
            replayed = replay(ledger, args.entry)
    except LedgerError as exc:
        stderr.write(f"kpirules: {exc}\n")
        return EXIT_INVALID
    except sqlite3.Error as exc:
        stderr.write(f"kpirules: 无法读取记录文件 {args.ledger}：{exc}\n")
        return EXIT_INVALID
    except OSError as exc:
        if reader_gone(exc):
            raise  # `kpirules history LEDGER | head`: main() stops quietly
        stderr.write(f"kpirules: 无法读取记录文件 {args.ledger}：{_os_reason(exc)}\n")
        return EXIT_INVALID
    if note:
        stdout.write(f"{args.ledger}: {note}\n")
    for r in replayed:
        verdict = "一致" if r.same else f"不一致：{r.difference}"
        stdout.write(f"{args.ledger}: 第 {r.seq} 条（{r.entity}）：{verdict}\n")
    same = sum(r.same for r in replayed)
    stdout.write(f"{args.ledger}: {same}/{len(replayed)} 条重算结果与记录逐字节一致\n")
    return EXIT_OK if same == len(replayed) else EXIT_INVALID


def _official(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Mark a batch official; the mark's checkpoint on stdout, a refusal with its code."""
    signer = None
    if args.receipt and Path(args.receipt).exists():
        raise _UsageError(f"kpirules: 收据文件 {args.receipt} 已存在，请换一个文件名")
    try:
        if args.sign_key:
            signer = load_signing_key(args.sign_key)
        with Ledger(
            args.ledger, on_wait=lambda message: print(message, file=stderr, flush=True)
        ) as ledger:
            mark, checkpoint = mark_official(
                ledger,
                args.batch,
                note=args.note,
                period=args.period,
                replace=args.replace,
                user=args.user,
                signer=signer,
            )
            superseded = [
                b.number
                for b in batches(ledger)
                if b.period == mark.period and b.number != args.batch
            ]
    except OfficialError as exc:
        stderr.write(f"kpirules: {exc}（{exc.code}）\n")
        return EXIT_INVALID
    except LedgerError as exc:
        stderr.write(f"kpirules: {exc}\n")
        return EXIT_INVALID
    others = "、".join(f"第 {n} 批" for n in superseded)
    instead = f"，取代{others}" if others else ""
    stdout.write(
        f"{args.ledger}: 第 {args.batch} 批已标为 {mark.period} 期间的正式批次{instead}\n"
        f"{args.ledger}: {checkpoint.line()}\n"
    )
    if args.receipt:
        try:
            write_receipt(args.receipt, checkpoint, args.ledger, force=False)
        except LedgerError as exc:
            stderr.write(f"kpirules: {exc}（标记已记入，检查点见上一行）\n")
            return EXIT_INVALID
        stdout.write(f"收据已写入 {args.receipt}\n")
    return EXIT_OK


def _verify(
    ledger: Ledger, args: argparse.Namespace, heads: list[tuple[int, str]], stdout: TextIO
) -> int:
    """Chain, stored checkpoints, receipts, noted heads and signatures; prints the head."""
    problems = ledger.verify()
    count, head = ledger.head()
    public = load_public_key(args.public_key) if args.public_key else None
    confirmed: list[str] = []
    for name in args.receipt:
        receipt = read_receipt(name)
        found = ledger.check_checkpoint(receipt, f"收据 {name}")
        if public is not None:
            bad = public.check(receipt, f"收据 {name}")
            found += [bad] if bad else []
        problems += found
        if not found:
            confirmed.append(f"收据 {name}：第 1–{receipt.size} 条与收据一致")
    for size, hashed in heads:
        noted = Checkpoint(ledger.ledger_id, size, hashed, "")
        found = ledger.check_checkpoint(noted, f"检查点 {size}:{hashed[:16]}…")
        problems += found
        if not found:
            confirmed.append(f"检查点 {size}:{hashed[:16]}…：第 1–{size} 条与检查点一致")
    if public is not None:
        stored = ledger.checkpoints()
        for checkpoint in stored:
            bad = public.check(checkpoint, f"记录中的检查点 {checkpoint.size}")
            problems += [bad] if bad else []
        if stored and not any(public.check(c, "") for c in stored):
            confirmed.append(f"{len(stored)} 个检查点的签名有效（{args.public_key}）")
    for problem in problems:
        stdout.write(f"{args.ledger}: {problem}\n")
    if not problems:
        stdout.write(f"{args.ledger}: {count} 条记录，哈希链完整\n")
        for line in confirmed:
            stdout.write(f"{args.ledger}: {line}\n")
    stdout.write(f"{args.ledger}: 当前检查点 {count}:{head}（记录文件 {ledger.ledger_id}）\n")
    return EXIT_INVALID if problems else EXIT_OK


def _template(args: argparse.Namespace, stderr: TextIO) -> int:
    if not Path(args.ruleset).is_file():
        raise _UsageError(f"kpirules: 找不到文件 {args.ruleset}")
    _not_data(args.ruleset)
    if Path(args.output).suffix.lower() != ".xlsx":
        raise _UsageError(f"kpirules: 模板文件名要以 .xlsx 结尾（给的是 {args.output}）")
    if args.entities and not Path(args.entities).is_file():
        raise _UsageError(f"kpirules: 找不到文件 {args.entities}")
    inputs = [args.ruleset, *([args.entities] if args.entities else [])]
    _check_output(args.output, inputs, force=args.force)
    ruleset, problems = check(args.ruleset)
    if ruleset is None:
        for p in problems:
            stderr.write(f"{p}\n")
        stderr.write(f"{args.ruleset}: 规则集无效，未生成模板\n")
        return EXIT_INVALID
    try:
        names = entity_columns(ruleset)
        entities = read_entities(args.entities, names) if args.entities else []
    except InputError as exc:
        for p in exc.problems:
            stderr.write(f"{p}\n")
        return EXIT_INVALID
    # Imported here: openpyxl takes a while to import and only this command writes workbooks.
    from kpirules.template import build_template

    data = build_template(ruleset, entities, args.ruleset)
    write_atomic(Path(args.output), data)
    stderr.write(f"已写入 {args.output}（{len(entities)} 个对象）\n")
    return EXIT_OK


class _WriteError(Exception):
    """An output or ledger file cannot or must not be written (exit code 1)."""


#: What an operating-system error means for a file being written, in the user's words
#: (by errno name: not every system defines every name).
_OS_REASONS = {
    getattr(errno, name): text
    for name, text in (
        ("ENOSPC", "磁盘空间不足"),
        ("EDQUOT", "超出磁盘配额"),
        ("EROFS", "文件系统是只读的"),
        ("EACCES", "没有写入权限"),
        ("EPERM", "没有写入权限"),
        ("EISDIR", "这是一个目录"),
        ("ENOENT", "所在目录不存在"),
        ("ENOTDIR", "路径中有一段不是目录"),
        ("ENAMETOOLONG", "文件名太长"),
        ("ELOOP", "符号链接太多层"),
        ("EFBIG", "文件超出大小限制"),
        ("EIO", "磁盘读写出错"),
        ("EBUSY", "文件正被使用"),
        ("ETXTBSY", "文件正被使用"),
    )
    if hasattr(errno, name)
}


def _os_reason(exc: OSError) -> str:
    return windows_reason(exc) or _OS_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "这是一个目录"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "这是一个设备"
    if stat.S_ISFIFO(mode):
        return "这是一个管道"
    if stat.S_ISSOCK(mode):
        return "这是一个套接字"
    return "这不是普通文件"


def _serve(args: argparse.Namespace, stderr: TextIO) -> int:
    try:
        import uvicorn

        from kpirules.service import Settings, create_app
        from kpirules.service.settings import SettingsError, read_token
    except ImportError:
        stderr.write("kpirules: serve 需要 HTTP 服务组件：pip install 'kpirules[server]'\n")
        return EXIT_USAGE
    if not Path(args.rulesets).is_dir():
        raise _UsageError(f"kpirules: 规则集目录 {args.rulesets} 不存在")
    if not 0 < args.port < 65536:
        raise _UsageError(f"kpirules: 端口 {args.port} 不可用：应在 1–65535 之间")
    try:
        token = read_token(args.token_file)
    except SettingsError as exc:
        raise _UsageError(f"kpirules: {exc}") from None
    ledger = Path(args.ledger).resolve() if args.ledger else None
    app = create_app(Settings(Path(args.rulesets).resolve(), ledger=ledger, token=token))
    try:
        # Bind once first, so that a port in use is said in words before anything starts.
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        reason = {
            errno.EADDRINUSE: "端口已被占用（换一个 --port，或先停止占用它的程序）",
            errno.EACCES: "没有权限（1024 以下的端口需要管理员权限）",
            errno.EADDRNOTAVAIL: "本机没有这个地址",
        }.get(exc.errno or 0, os.strerror(exc.errno) if exc.errno else str(exc))
        stderr.write(f"kpirules: 无法在 {args.host}:{args.port} 上监听：{reason}\n")
        return EXIT_INVALID
    stderr.write(f"kpirules: 服务地址 http://{args.host}:{args.port}/（按 Ctrl+C 停止）\n")
    if token is None:
        stderr.write("kpirules: 没有配置令牌：记录和审计记录接口不可用\n")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def _check_output(output: str, inputs: Sequence[str], *, force: bool) -> None:
    path = Path(output)
    target = path.resolve()
    for name in inputs:
        if Path(name).resolve() == target:
            raise _UsageError(f"kpirules: 输出文件 {output} 就是输入文件或审计记录，拒绝覆盖")
    try:
        mode: int | None = path.stat().st_mode  # through a symbolic link, to what it names
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _WriteError(f"kpirules: 无法写入 {output}：{_os_reason(exc)}") from None
    if mode is None and path.is_symlink():
        raise _WriteError(f"kpirules: 无法写入 {output}：这是一个指向不存在文件的符号链接")
    if mode is not None:
        kind = _kind(mode)
        if kind is not None:
            raise _WriteError(f"kpirules: 无法写入 {output}：{kind}，输出只能写入普通文件")
        if may_be_ledger(path):
            raise _UsageError(
                f"kpirules: 输出文件 {output} 是 kpirules 审计记录，拒绝覆盖（加 --force 也不会覆盖）"
            )
        if not force:
            raise _UsageError(f"kpirules: 输出文件 {output} 已存在；要覆盖请加 --force")
    if not target.parent.is_dir():
        raise _UsageError(f"kpirules: 输出目录 {target.parent} 不存在")


def _check_record(record: str) -> None:
    """A ledger is a regular file (or does not exist yet)."""
    try:
        mode = Path(record).stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _WriteError(f"kpirules: 无法记入 {record}：{_os_reason(exc)}") from None
    kind = _kind(mode)
    if kind is not None:
        raise _WriteError(f"kpirules: 无法记入 {record}：{kind}，审计记录只能是普通文件")


def _stage(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``text`` (or bytes as they are) to a new temporary file beside ``path``, flushed
    and synced to disk.

    Returns the temporary file; nothing is left behind if writing fails (OSError).
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain write would have,
        # or keep the mode of the file it replaces.
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        tmp.chmod(mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text if isinstance(text, bytes) else text.encode(encoding))
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def _new(args: argparse.Namespace, stderr: TextIO) -> int:
    try:
        text = skeleton.render(args.name, cycle=args.cycle)
        output = args.output or skeleton.default_file(skeleton.title_of(args.name))
    except skeleton.SkeletonError as exc:
        raise _UsageError(f"kpirules new: {exc}") from None
    if Path(output).is_dir():
        raise _UsageError(
            f"kpirules new: {output} 是文件夹：--output 请写文件名，如 {output}/my-ruleset.yaml"
        )
    _check_output(output, [], force=args.force)
    try:
        write_atomic(Path(output), text)
    except OSError as exc:
        stderr.write(f"kpirules new: 无法写入 {output}：{exc.strerror or exc}\n")
        return EXIT_INVALID
    shown = f'"{output}"' if any(c.isspace() for c in output) else output
    stderr.write(
        f"已写入 {output}：按其中的注释逐节修改，改后运行 kpirules validate --strict {shown}"
        f" 和 kpirules test {shown}\n"
    )
    return EXIT_OK


def _publish(tmp: Path, path: Path) -> None:
    """Rename a staged file over ``path`` and sync the folder; remove it if that fails."""
    try:
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    sync_folder(path.parent)


def write_atomic(path: Path, text: str | bytes, *, encoding: str = "utf-8") -> None:
    """Write ``text`` (or bytes as they are) to ``path`` via a temporary file and a rename:
    never half-written; an OSError leaves no temporary file."""
    _publish(_stage(path, text, encoding), path)


@exact
def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run the command line with ``argv`` (without the program name); return the exit code.

    Everything is said in Chinese, argparse's own words included, unless ``--lang en``.
    """
    lang = _language(argv)
    with language(lang), chinese_usage() if lang == "zh" else contextlib.nullcontext():
        return _run(argv, stdout, stderr)


def _run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    parser = _parser()
    try:
        # argparse prints --help and --version to sys.stdout; send them to ours.
        with contextlib.redirect_stdout(stdout):
            args = parser.parse_args(list(argv))
        if args.command is None:
            parser.print_help(stderr)
            return EXIT_USAGE
        if args.command == "serve":
            return _serve(args, stderr)
        if args.command == "schema":
            definition = tests_schema() if args.tests else schema()
            stdout.write(json.dumps(definition, ensure_ascii=False, indent=2) + "\n")
            return EXIT_OK
        if args.command == "score":
            return _score(args, stdout, stderr)
        if args.command == "explain":
            return _explain(args, stdout, stderr)
        if args.command == "report":
            return _report(args, stderr)
        if args.command == "test":
            return _test(args, stdout, stderr)
        if args.command == "diff":
            return _diff(args, stdout, stderr)
        if args.command == "template":
            return _template(args, stderr)
        if args.command in ("replay", "verify", "history"):
            return _audit(args, stdout, stderr)
        if args.command == "official":
            return _official(args, stdout, stderr)
        if args.command == "keygen":
            return _keygen(args, stderr)
        if args.command == "new":
            return _new(args, stderr)
        return _validate(args, stdout)
    except _UsageError as exc:
        stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        if reader_gone(exc):
            raise  # the reader went away: main() stops quietly
        # A file the command names cannot be reached (a name too long for the system, a
        # permission, a device): said in words, never a traceback.
        where = f" {exc.filename}" if exc.filename else ""
        stderr.write(f"kpirules: 无法访问{where}：{_os_reason(exc)}\n")
        return EXIT_INVALID
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)


def main() -> None:
    """Console-script entry point."""
    utf8_console(sys.stdout, sys.stderr)
    try:
        code = run(sys.argv[1:], sys.stdout, sys.stderr)
        sys.stdout.flush()
    except OSError as exc:
        if not reader_gone(exc):
            raise
        # The reader went away (`kpirules history | head`): stop quietly, as other tools do.
        # Python would report the pipe again when flushing stdout at exit: point it at null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141 - 128  # the status of a process ended by SIGPIPE, without the signal
    sys.exit(code)
