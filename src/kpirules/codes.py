"""Stable problem codes: every kind of problem kpirules reports has one.

A code never changes meaning. Codes are grouped by area:
KR1xx reading the YAML file, KR2xx schema (structure, types, unknown keys),
KR3xx meaning (ids, weights, bands, formulas, targets, methods, rules),
KR4xx test cases, KR5xx metrics files, KR6xx scoring.

``CODES`` maps each code to its English title, its Chinese title and the fix (in Chinese,
as policy staff read it); ``docs/errors.md`` and ``docs/zh/errors.md`` list every one.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class CodeInfo:
    """What one problem code means and how to fix it."""

    title: str
    title_zh: str
    fix: str


def _c(title: str, title_zh: str, fix: str) -> CodeInfo:
    return CodeInfo(title, title_zh, fix)


CODES: dict[str, CodeInfo] = {
    # KR1xx: reading the YAML file
    "KR101": _c("File is UTF-16", "文件是 UTF-16 编码", "用编辑器另存为 UTF-8 编码"),
    "KR102": _c("File is not UTF-8", "文件不是 UTF-8 编码", "用编辑器另存为 UTF-8 编码"),
    "KR103": _c("File too large", "文件过大", "拆分规则集，或删去无关内容"),
    "KR104": _c("Text too large", "文本过大", "拆分规则集，或删去无关内容"),
    "KR105": _c("File cannot be read", "无法读取文件", "检查文件路径和访问权限"),
    "KR106": _c("Unencodable character", "文本含有无法编码的字符", "删除乱码字符后重新保存"),
    "KR107": _c("File is empty", "文件为空", "写入规则集内容，或检查是否选错了文件"),
    "KR108": _c("Control character in file", "文件含有控制字符", "确认这是文本文件，删除控制字符"),
    "KR109": _c("Nesting too deep", "嵌套层数过多", "减少缩进层级"),
    "KR110": _c("YAML syntax error", "YAML 格式错误", "按提示的行列修正缩进、冒号、引号或括号"),
    "KR111": _c("YAML error", "YAML 错误", "按提示修正文件格式"),
    "KR112": _c("Structure too deep to read", "文件结构过深", "减少嵌套层级"),
    "KR113": _c("Alias not supported", "不支持别名 *", "把要复用的内容直接写出来"),
    "KR114": _c("Anchor not supported", "不支持锚点 &", "把要复用的内容直接写出来"),
    "KR115": _c("Tag not supported", "不支持标签 !!", "删除标签，按普通值书写"),
    "KR116": _c("Number out of range", "数值超出可用范围", "缩短数值的位数"),
    "KR117": _c("Complex key", "键不是简单文字", "键只写简单的文字"),
    "KR118": _c("Merge key not supported", "不支持合并键 <<", "把要复用的内容直接写出来"),
    "KR119": _c("Duplicate key", "重复的键", "删除或改名其中一个"),
    "KR120": _c("Hidden character", "含有控制字符或不可见字符", "删除该字符"),
    # KR2xx: schema (structure, types, unknown keys)
    "KR201": _c("Required key missing", "缺少必填项", "补上提示的必填项"),
    "KR202": _c("Unknown key", "不认识的键", "检查拼写，按提示改成可用的键"),
    "KR203": _c("Invalid name", "名字不合规", "名字只用字母、汉字、数字和下划线，以字母或汉字开头"),
    "KR204": _c("Value not allowed", "不是可用的值", "改成提示中列出的值之一"),
    "KR205": _c("Number with leading zero", "数值以 0 开头", "去掉开头的 0"),
    "KR206": _c("Wrong type", "类型不对", "按提示写成数值、文字、列表或映射"),
    "KR207": _c("Malformed value", "写法不正确", "按提示的格式改写"),
    "KR208": _c("Value out of bounds", "数值超出范围", "改成允许范围内的数"),
    "KR209": _c("Must not be empty", "不能为空", "至少写一项"),
    "KR210": _c("Too many items", "项数过多", "删去多余的项"),
    "KR211": _c("Schema violation", "结构不符合格式", "按提示修改"),
}


def info(code: str) -> CodeInfo:
    """The registry entry of ``code`` (``KeyError`` for an unknown code)."""
    return CODES[code]
