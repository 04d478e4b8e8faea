"""Characters that are refused in names and ids: control characters and invisible ones.

An entity id with a zero-width space looks the same as the id without it, yet is another
entity; a newline or an escape sequence in an id forges lines in ``kpirules history`` and
in terminals; a bidi override shows text in another order than it is stored. Such text is
refused wherever it is read, with the character named.
"""

from __future__ import annotations

import re

_NAMES = {
    0x00: "空字符 NUL",
    0x09: "制表符",
    0x0A: "换行符",
    0x0B: "垂直制表符",
    0x0C: "换页符",
    0x0D: "回车符",
    0x1B: "转义符 ESC",
    0x7F: "删除符 DEL",
    0x85: "下一行符 NEL",
    0x061C: "阿拉伯字母标记",
    0x200B: "零宽空格",
    0x200C: "零宽不连字",
    0x200D: "零宽连字",
    0x200E: "从左到右标记",
    0x200F: "从右到左标记",
    0x2028: "行分隔符",
    0x2029: "段分隔符",
    0x202A: "从左到右嵌入",
    0x202B: "从右到左嵌入",
    0x202C: "方向格式结束",
    0x202D: "从左到右覆盖",
    0x202E: "从右到左覆盖",
    0x2060: "零宽不换行空格",
    0x2061: "不可见函数符",
    0x2062: "不可见乘号",
    0x2063: "不可见分隔符",
    0x2064: "不可见加号",
    0x2066: "从左到右隔离",
    0x2067: "从右到左隔离",
    0x2068: "首强字符隔离",
    0x2069: "方向隔离结束",
    0xFEFF: "字节顺序标记 BOM",
}

#: C0 and C1 control characters, DEL, zero-width characters, bidi controls, the line and
#: paragraph separators and the byte-order mark.
REFUSED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)

#: Ordinary whitespace, trimmed from both ends of a value before it is checked.
ORDINARY_SPACE = " \t\u00a0\u3000"


def describe(char: str) -> str:
    """``U+200B（零宽空格）``: the code point, and its name in words when it has a common one."""
    code = ord(char)
    name = _NAMES.get(code)
    return f"U+{code:04X}（{name}）" if name else f"U+{code:04X}"


def refused_character(text: str) -> str | None:
    """The first refused character of ``text``, described; None when there is none."""
    found = REFUSED.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "控制字符" if ord(char) <= 0x9F else "不可见字符"
    return f"含有{kind} {describe(char)}"


#: The longest entity id accepted, in characters.
MAX_ENTITY_LENGTH = 200


def entity_problem(entity: str) -> str | None:
    """What is wrong with an entity id as read (after trimming), or None."""
    problem = refused_character(entity)
    if problem is not None:
        return f"编号{problem}"
    if len(entity) > MAX_ENTITY_LENGTH:
        return f"编号过长（{len(entity)} 个字符，最多 {MAX_ENTITY_LENGTH} 个）"
    return None


def visible(text: str) -> str:
    """``text`` with each refused character written as its escape (``\\u200b``), for messages."""
    return REFUSED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
