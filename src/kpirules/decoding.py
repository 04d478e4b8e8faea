"""Bytes to text for every file kpirules reads: rulesets and metrics files.

Rulesets are UTF-8 (with or without a byte-order mark); any other encoding is explained
(:func:`decode_ruleset`). Metrics files come from Excel and other systems: UTF-8, UTF-8 with a
byte-order mark, or GBK/GB18030 as Excel on Chinese Windows saves CSV, or any encoding named
with ``--encoding`` (:func:`decode_metrics`). A line whose encoding cannot be told apart, or a
line in another encoding than the rest of the file, is refused, so that no name is silently
garbled.

Large metrics files are not decoded at once: :func:`metrics_codec` reads the bytes once, line
by line, and says which codec reads the whole file (or every problem :func:`decode_metrics`
would report for the same bytes); the file is then read through that codec as a stream.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import BinaryIO

from kpirules.errors import Problem

Decoded = tuple[str | None, list[Problem]]

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


def decode_ruleset(raw: bytes, file: str) -> Decoded:
    """Decode a ruleset's bytes as UTF-8 (with or without BOM), explaining any other encoding."""
    if raw.startswith(_BOM):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [
            Problem(
                file, 1, 1, "$", "error", "文件是 UTF-16 编码：请另存为 UTF-8 编码", code="KR101"
            )
        ]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        # Column of the first non-ASCII byte on that line: the bytes before it are ASCII,
        # so the count is right in characters whatever the real encoding.
        first = next((i for i in range(line_start, exc.start + 1) if raw[i] >= 0x80), exc.start)
        column = first - line_start + 1
        hint = "文件不是 UTF-8 编码"
        try:
            raw.decode("gb18030")
            hint += "，看起来是 GBK/GB18030（中文 Windows 记事本或 Excel 的默认编码）"
        except UnicodeDecodeError:
            hint += "，也不是 GBK"
        return None, [
            Problem(
                file,
                line,
                column,
                "$",
                "error",
                hint,
                "请用编辑器另存为“UTF-8”编码后再试",
                code="KR102",
            )
        ]


def decode_metrics(file: str, raw: bytes, encoding: str | None) -> Decoded:
    """A metrics file's text (without byte-order mark), or every reason it cannot be read."""
    if encoding:
        try:
            # The byte-order mark marks the encoding; it is not part of the first cell.
            return raw.decode(encoding).removeprefix("\ufeff"), []
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - raw.rfind(b"\n", 0, exc.start)
            return None, [_not_in(file, encoding, line, column)]
        except LookupError as exc:
            return None, [_unknown(file, encoding, exc)]
    if raw.startswith(_BOM):
        raw = raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [_utf16(file)]
    tally = _Tally(file)
    for number, chunk in enumerate(raw.split(b"\n"), 1):
        tally.add(number, chunk)
    codec, problems = tally.decide()
    if codec is None:
        return None, problems
    return raw.decode(codec), []


def metrics_codec(file: str, path: Path, encoding: str | None) -> tuple[str | None, list[Problem]]:
    """The codec that reads ``path`` as :func:`decode_metrics` would, reading it line by line.

    A byte-order mark is part of the codec's name (``utf-8-sig``). A NUL character, which
    no text file holds, is refused here too (KR535), naming its line and column.
    """
    with path.open("rb") as f:
        if encoding:
            return _check_named(file, f, encoding)
        head = f.read(3)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None, [_utf16(file)]
        bom = head == _BOM
        if not bom:
            f.seek(0)
        tally = _Tally(file)
        nul: tuple[int, bytes] | None = None
        for number, chunk in enumerate(f, 1):
            tally.add(number, chunk)
            if nul is None and b"\x00" in chunk:
                nul = number, chunk[: chunk.index(b"\x00")]
    codec, problems = tally.decide()
    if codec is None:
        return None, problems
    if nul is not None:
        number, before = nul
        return None, [nul_problem(file, number, len(before.decode(codec)) + 1)]
    return ("utf-8-sig" if bom and codec == "utf-8" else codec), []


def nul_problem(file: str, line: int, column: int) -> Problem:
    """A NUL character in a text file (KR535)."""
    return Problem(
        file,
        line,
        column,
        "$",
        "error",
        "文件含有空字符（NUL）：这不是一个文本文件",
        code="KR535",
    )


def _check_named(file: str, f: BinaryIO, encoding: str) -> Decoded:
    """Decode the file in pieces with the codec asked for; the codec's name, or the problem."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as exc:
        return None, [_unknown(file, encoding, exc)]
    lines = 0  # line breaks in the bytes before this piece (as the whole-file reading counts)
    column_base = 0  # bytes since the last line break before this piece
    text_lines = 1
    text_column = 0
    while True:
        piece = f.read(_CHUNK)
        try:
            text = decoder.decode(piece, final=not piece)
        except UnicodeDecodeError as exc:
            # exc.start counts from the start of the bytes the decoder held: at most a few
            # bytes of the previous piece are held back, which only moves a byte column.
            start = max(exc.start, 0)
            before = piece[:start]
            line = lines + before.count(b"\n") + 1
            last = before.rfind(b"\n")
            column = start - last if last >= 0 else column_base + start + 1
            return None, [_not_in(file, encoding, line, column)]
        if "\x00" in text:
            at = text.index("\x00")
            line = text_lines + text.count("\n", 0, at)
            last = text.rfind("\n", 0, at)
            column = at - last if last >= 0 else text_column + at + 1
            return None, [nul_problem(file, line, column)]
        lines += piece.count(b"\n")
        last = piece.rfind(b"\n")
        column_base = len(piece) - last - 1 if last >= 0 else column_base + len(piece)
        text_lines += text.count("\n")
        last_text = text.rfind("\n")
        text_column = len(text) - last_text - 1 if last_text >= 0 else text_column + len(text)
        if not piece:
            return encoding, []


def _not_in(file: str, encoding: str, line: int, column: int) -> Problem:
    return Problem(
        file,
        line,
        1,
        "$",
        "error",
        f"第 {line} 行不是 {encoding} 编码（从这一行第 {column} 个字节起无法读取）",
        "整个文件要用同一种编码",
        code="KR508",
    )


def _unknown(file: str, encoding: str, exc: LookupError) -> Problem:
    return Problem(file, 0, 0, "$", "error", f"无法按 {encoding} 编码读取：{exc}", code="KR509")


def _utf16(file: str) -> Problem:
    return Problem(
        file,
        0,
        0,
        "$",
        "error",
        "文件是 UTF-16 编码",
        "另存为 UTF-8，或用 --encoding utf-16",
        code="KR510",
    )


def _chinese(char: str) -> bool:
    """CJK ideographs, radicals, CJK and full-width punctuation."""
    code = ord(char)
    return 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def _valid_utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _clearly_utf8(chunk: bytes) -> bool:
    """Valid UTF-8 that is not also plain GB2312 text."""
    if not _valid_utf8(chunk):
        return False
    try:
        chunk.decode("gb2312")
    except UnicodeDecodeError:
        return True
    return False


def _ambiguous(file: str, number: int, chunk: bytes) -> Problem | None:
    """A valid UTF-8 line may still be GBK: a short Chinese name in GBK can happen to be valid
    UTF-8 (一, GBK ``D2 BB``, reads as UTF-8 ``һ``). A line whose UTF-8 reading has no Chinese
    character while its GB2312 reading is Chinese cannot be told apart (KR550), so that no
    name is silently garbled, and ``--encoding`` settles it."""
    as_utf8 = chunk.decode("utf-8")
    if any(_chinese(c) for c in as_utf8):
        return None
    try:
        as_gbk = chunk.decode("gb2312")
    except UnicodeDecodeError:
        return None
    if not all(c.isascii() or _chinese(c) for c in as_gbk):
        return None
    shown_utf8 = as_utf8.strip()[:40]
    shown_gbk = as_gbk.strip()[:40]
    return Problem(
        file,
        number,
        1,
        "$",
        "error",
        f"第 {number} 行的编码无法确定：按 UTF-8 读是 “{shown_utf8}”，按 GBK 读是 “{shown_gbk}”",
        "用 --encoding gbk 或 --encoding utf-8 指明文件的编码",
        code="KR550",
    )


class _Tally:
    """The encoding of a file without ``--encoding``, decided from its lines one at a time.

    All UTF-8: UTF-8, unless a line cannot be told apart from GBK (KR550). Otherwise each
    line with non-ASCII bytes is read on its own: the encoding of most such lines is the
    file's (the first one's on a tie), and every line in the other encoding is refused
    (KR512); a line that is neither refuses the file (KR511). A line counts as UTF-8 when it
    is valid UTF-8 and not valid GB2312, so GBK lines that happen to be valid UTF-8 still
    count as GBK.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.all_utf8 = True
        self.ambiguous: Problem | None = None
        self.neither: int | None = None
        self.utf8: list[int] = []
        self.gbk: list[int] = []
        self.counts = [0, 0]

    def add(self, number: int, chunk: bytes) -> None:
        """Take one line (its bytes, with or without the line break)."""
        if chunk.isascii():
            return
        valid = _valid_utf8(chunk)
        if not valid:
            self.all_utf8 = False
        if valid and self.ambiguous is None:
            self.ambiguous = _ambiguous(self.file, number, chunk)
        if self.neither is not None:
            return
        if _clearly_utf8(chunk):
            self._note(0, self.utf8, number)
            return
        try:
            chunk.decode("gb18030")
        except UnicodeDecodeError:
            self.neither = number
            return
        if not valid:
            self._note(1, self.gbk, number)

    def _note(self, which: int, numbers: list[int], number: int) -> None:
        self.counts[which] += 1
        if len(numbers) < 20:
            numbers.append(number)

    def decide(self) -> tuple[str | None, list[Problem]]:
        """The codec of the file, or the problems that refuse it."""
        if self.all_utf8:
            return ("utf-8", []) if self.ambiguous is None else (None, [self.ambiguous])
        if self.neither is not None:
            return None, [
                Problem(
                    self.file,
                    self.neither,
                    1,
                    "$",
                    "error",
                    f"第 {self.neither} 行既不是 UTF-8 也不是 GBK 编码",
                    "用 --encoding 指定编码，或另存为 UTF-8",
                    code="KR511",
                )
            ]
        n_utf8, n_gbk = self.counts
        in_utf8 = n_utf8 > n_gbk or (n_utf8 == n_gbk and self.utf8[0] < self.gbk[0])
        if in_utf8:
            odd, name, other, first = self.gbk, "UTF-8", "看起来是 GBK", self.utf8[0]
        else:
            odd, name, other, first = self.utf8, "GBK", "是 UTF-8", self.gbk[0]
        if odd:
            return None, [
                Problem(
                    self.file,
                    number,
                    1,
                    "$",
                    "error",
                    f"第 {number} 行不是 {name} 编码（文件的其他行是 {name}，如第 {first} 行；这一行{other}）",
                    f"整个文件要用同一种编码：重新输入这一行，或把文件统一另存为 {name}",
                    code="KR512",
                )
                for number in odd
            ]
        return ("utf-8" if in_utf8 else "gb18030"), []
