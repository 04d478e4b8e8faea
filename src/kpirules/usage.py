"""argparse's own words (``usage:``, ``options``, its error messages) in Chinese.

argparse looks every message up through gettext (``_(...)`` and ``ngettext(...)`` in its
module). :func:`chinese_usage` installs a catalogue for those look-ups while the command
line is built, parsed and its help printed, and puts argparse's own back afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

#: argparse's message ids (Python 3.11 to 3.13) and their Chinese text.
CATALOGUE = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "optional arguments": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "the following arguments are required: %s": "缺少参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "%(value)r 不是可用的选项（可选 %(choices)s）"
    ),
    "unrecognized arguments: %s": "不认识的参数：%s",
    "expected one argument": "需要一个值",
    "expected at least one argument": "至少需要一个值",
    "expected at most one argument": "最多只能有一个值",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "invalid %(type)s value: %(value)r": "%(value)r 不是有效的值",
    "ambiguous option: %(option)s could match %(matches)s": (
        "选项 %(option)s 不完整，可能是 %(matches)s"
    ),
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "参数 %s 中须给出一个",
    "ignored explicit argument %r": "多余的值 %r",
    "unexpected option string: %s": "不应出现的选项 %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "不认识的命令 %(parser_name)r（可用 %(choices)s）"
    ),
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "can't open '%(filename)s': %(error)s": "无法打开 %(filename)s：%(error)s",
}

_PLURALS = {
    ("expected %s argument", "expected %s arguments"): "需要 %s 个值",
}


def gettext(message: str) -> str:
    """argparse's message ``message`` in Chinese (itself when not in the catalogue)."""
    return CATALOGUE.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The Chinese form of a message that argparse words by number."""
    found = _PLURALS.get((singular, plural))
    if found is not None:
        return found
    return singular if n == 1 else plural


@contextlib.contextmanager
def chinese_usage() -> Iterator[None]:
    """Let argparse speak Chinese inside the ``with`` block."""
    module = vars(argparse)
    saved = module["_"], module["ngettext"]
    module["_"], module["ngettext"] = gettext, ngettext
    try:
        yield
    finally:
        module["_"], module["ngettext"] = saved
