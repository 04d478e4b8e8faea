"""Full-width punctuation typed where YAML needs the ASCII sign (a Chinese input method's
``：`` after a key, ``“”`` around a value, ``【】`` for a list), found where it was typed.

PyYAML reports such a slip where it gives up, often on the next line and in its own words;
:func:`find` looks back from there for the character that caused it.
"""

from __future__ import annotations

import re

import attrs

#: Full-width signs, the ASCII sign YAML needs and what it is called.
SIGNS = {
    "：": (":", "冒号"),
    "“": ('"', "引号"),
    "”": ('"', "引号"),
    "‘": ("'", "引号"),
    "’": ("'", "引号"),
    "【": ("[", "方括号"),
    "】": ("]", "方括号"),
    "［": ("[", "方括号"),
    "］": ("]", "方括号"),
    "｛": ("{", "花括号"),
    "｝": ("}", "花括号"),
    "（": ("[", "括号"),
    "）": ("]", "括号"),
    "，": (",", "逗号"),
}

# A key followed by a full-width colon, before any ASCII colon on the line (in a list
# item only a key of ASCII letters: "- 第一条：按时报送" is ordinary text).
_KEY = re.compile(r"^[ ]*(?:[^\s#:：\"'“”-][^\s#:：\"'“”]*|(?:-[ ]+)+[A-Za-z_]\w*)(：)")
# A value (after "key: " or "- ") that opens with a full-width quote or bracket.
_OPENING = re.compile(r"(?:^[ ]*-[ ]+|:[ ]+)([“‘【［｛（])")
# A list or mapping opened with the ASCII sign and closed with a full-width one.
_CLOSING = re.compile(r"[\[{][^\]}]*?([】］｝）])")
#: How many lines above the one PyYAML names are searched.
LOOK_BACK = 3


@attrs.frozen
class Slip:
    """A full-width sign at a 1-based line and column, and the ASCII sign meant."""

    line: int
    column: int
    sign: str

    @property
    def message(self) -> str:
        """What is wrong, in words."""
        ascii_sign, name = SIGNS[self.sign]
        return f"第 {self.line} 行第 {self.column} 列是全角{name}“{self.sign}”，YAML 在这里要求英文{name}“{ascii_sign}”"

    @property
    def hint(self) -> str:
        """How to fix it."""
        if self.sign == "：":
            return "把“：”改为英文冒号，冒号后加一个空格，如 weight: 20"
        if self.sign in "“”‘’":
            return '改为英文引号 "…"，或去掉引号'
        if self.sign in "（）":
            return (
                "列表用英文方括号和英文逗号，如 points: [6, 10]；括号只是文字时给整个值加英文引号"
            )
        ascii_sign = SIGNS[self.sign][0]
        return f"改为英文“{ascii_sign}”，列表如 [6, 10]，映射如 {{from: 90}}"


def _in_line(text: str) -> tuple[int, str] | None:
    """The first full-width sign in ``text`` that stands where YAML syntax is."""
    code = text.split(" #", 1)[0]
    matches = (_KEY.match(code), _OPENING.search(code), _CLOSING.search(code))
    found = [m for m in matches if m is not None]
    if not found:
        return None
    first = min(found, key=lambda m: m.start(1))
    return first.start(1), first.group(1)


def find(text: str, line: int) -> Slip | None:
    """The full-width sign nearest above the 1-based ``line`` PyYAML stopped at, if any."""
    lines = text.splitlines()
    for number in range(min(line, len(lines)), max(line - LOOK_BACK, 1) - 1, -1):
        hit = _in_line(lines[number - 1])
        if hit is not None:
            return Slip(number, hit[0] + 1, hit[1])
    return None


def in_value(value: str) -> str | None:
    """A hint when a text value looks like a list or mapping written with full-width signs."""
    stripped = value.strip()
    if stripped[:1] in ("【", "［", "（", "｛") and stripped[-1:] in ("】", "］", "）", "｝"):
        return Slip(0, 0, stripped[0]).hint
    return None
