"""Input hygiene: one encoding per file; no control or invisible characters in ids and names,
whether they come from a CSV, a YAML/JSON file, a ruleset or the Python API."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules import EvaluationError
from kpirules.characters import describe, refused_character
from kpirules.inputs import InputError, read_metrics
from kpirules.loader import load_yaml

#: These tests pin the earlier message wording (``--lang en``); the Chinese form is
#: checked in test_places.py.
pytestmark = pytest.mark.usefixtures("english_text")

ROOT = Path(__file__).resolve().parent.parent
RULESET = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
UTF8_LINES = (ROOT / "examples" / "a-offices-2026.csv").read_text("utf-8").splitlines()
GBK_LINES = (
    (ROOT / "examples" / "a-offices-2026-excel-gbk.csv").read_bytes().decode("gbk").splitlines()
)


def messages(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        read_metrics(path, RULESET)
    return [str(p) for p in info.value.problems]


def test_utf8_file_with_one_gbk_row_is_refused_at_that_row(tmp_path: Path) -> None:
    """Row 3 pasted from a GBK file into a UTF-8 file: refused there, not decoded as GB18030."""
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "\n".join(UTF8_LINES[:2]).encode("utf-8")
        + b"\n"
        + UTF8_LINES[2].encode("gbk")
        + b"\n"
        + "\n".join(UTF8_LINES[3:]).encode("utf-8")
        + b"\n"
    )
    assert messages(path) == [
        f"{path}:3:1: error: $: 第 3 行不是 UTF-8 编码（文件的其他行是 UTF-8，如第 2 行；这一行看起来是 GBK）"
        "（整个文件要用同一种编码：重新输入这一行，或把文件统一另存为 UTF-8）"
    ]


def test_gbk_file_with_one_utf8_row_is_refused_at_that_row(tmp_path: Path) -> None:
    """The reverse: a GBK export with one row typed in as UTF-8."""
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "\n".join(GBK_LINES[:3]).encode("gbk")
        + b"\n"
        + GBK_LINES[3].encode("utf-8")
        + b"\n"
        + "\n".join(GBK_LINES[4:]).encode("gbk")
        + b"\n"
    )
    assert messages(path) == [
        f"{path}:4:1: error: $: 第 4 行不是 GBK 编码（文件的其他行是 GBK，如第 1 行；这一行是 UTF-8）"
        "（整个文件要用同一种编码：重新输入这一行，或把文件统一另存为 GBK）"
    ]


def test_whole_gbk_and_whole_utf8_files_still_read() -> None:
    """Files in one encoding read as before, and give the same rows."""
    assert read_metrics(ROOT / "examples" / "a-offices-2026-excel-gbk.csv", RULESET) == (
        read_metrics(ROOT / "examples" / "a-offices-2026.csv", RULESET)
    )


def test_gbk_rows_that_happen_to_be_valid_utf8_count_as_gbk(tmp_path: Path) -> None:
    """“涓や汉” in GBK is valid UTF-8 bytes (“两人”), but it is also plain GB2312: not evidence."""
    ambiguous = "两人".encode().decode("gb2312")
    assert ambiguous == "涓や汉"
    header = "entity,payment_errors,payments"
    path = tmp_path / "gbk.csv"
    path.write_bytes(f"{header}\n{ambiguous},1,100\n第二医院,2,100\n".encode("gbk"))
    rows = read_metrics(path, RULESET)
    assert [entity for entity, _ in rows] == [ambiguous, "第二医院"]


def test_explicit_encoding_names_the_line_that_does_not_fit(tmp_path: Path) -> None:
    """--encoding utf-8 on a file with a GBK row names that row."""
    path = tmp_path / "m.csv"
    path.write_bytes(("entity,payments\n甲,1\n").encode() + "乙,2\n".encode("gbk"))
    with pytest.raises(InputError) as info:
        read_metrics(path, RULESET, encoding="utf-8")
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3:1: error: $: 第 3 行不是 utf-8 编码（从这一行第 1 个字节起无法读取）（整个文件要用同一种编码）"
    ]


@pytest.mark.parametrize(
    ("cell", "found"),
    [
        ("甲医院\u200b", "编号含有不可见字符 U+200B（零宽空格）"),
        ("\ufeff甲医院", "编号含有不可见字符 U+FEFF（字节顺序标记 BOM）"),
        ("甲\u2060医院", "编号含有不可见字符 U+2060（零宽不换行空格）"),
        ("甲\u202e院医", "编号含有不可见字符 U+202E（从右到左覆盖）"),
        ("甲\u2066医院", "编号含有不可见字符 U+2066（从左到右隔离）"),
        ("\x1b[2K甲医院", "编号含有控制字符 U+001B（转义符 ESC）"),
        ("甲\x85医院", "编号含有控制字符 U+0085（下一行符 NEL）"),
        ("甲\x01医院", "编号含有控制字符 U+0001"),
    ],
)
def test_entity_ids_with_hidden_characters_are_refused(
    tmp_path: Path, cell: str, found: str
) -> None:
    """A look-alike id is refused at its cell, with the character named."""
    path = tmp_path / "m.csv"
    path.write_text(f"entity,payments\n甲医院,1\n{cell},2\n", "utf-8")
    assert messages(path) == [
        f"{path}:3:1: error: entity: {found}（删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字）"
    ]


def test_newline_inside_a_quoted_id_is_refused_at_the_row_it_starts(tmp_path: Path) -> None:
    """A quoted cell holding a line break would forge a line in `kpirules history`."""
    path = tmp_path / "m.csv"
    path.write_text('entity,payments\n"甲医院\n2026-01-01 伪造的记录",1\n乙,2\n', "utf-8")
    assert messages(path) == [
        f"{path}:2:1: error: entity: 编号含有控制字符 U+000A（换行符）（删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字）"
    ]


def test_ordinary_whitespace_around_ids_and_values_stays_trimmed(tmp_path: Path) -> None:
    """Spaces, tabs and full-width spaces around a cell are trimmed as before."""
    path = tmp_path / "m.csv"
    path.write_text("entity,payments\n \t甲医院\u3000 ,\t100 \n", "utf-8")
    assert read_metrics(path, RULESET) == [("甲医院", {"payments": Decimal(100)})]


def test_hidden_characters_in_headers_and_values_are_refused(tmp_path: Path) -> None:
    """A header or a value cell with an invisible character is refused at its cell."""
    path = tmp_path / "m.csv"
    path.write_text("entity,payments,pay\u200bments\n甲,1,1\n", "utf-8")
    assert (
        f"{path}:1:3: error: 第3列: 列名含有不可见字符 U+200B（零宽空格）（删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字）"
        in messages(path)
    )
    path.write_text("entity,payments\n甲,1\u200c00\n", "utf-8")
    assert messages(path) == [
        f"{path}:2:2: error: payments: 单元格含有不可见字符 U+200C（零宽不连字）（删除这个字符；常见于从网页、聊天软件或其他系统复制来的文字）"
    ]


def test_overlong_entity_id_is_refused(tmp_path: Path) -> None:
    """An id longer than 200 characters is refused in files and through the API."""
    path = tmp_path / "m.csv"
    path.write_text(f"entity,payments\n{'甲' * 201},1\n", "utf-8")
    assert messages(path) == [f"{path}:2:1: error: entity: 编号过长（201 个字符，最多 200 个）"]


def test_yaml_metrics_and_rulesets_refuse_hidden_characters() -> None:
    """Keys and text in YAML (metrics files and rulesets alike) are checked, with the position."""
    _, problems = load_yaml("m.yaml", text='- {entity: "甲\\u200b医院", payments: 1}\n')
    assert [str(p) for p in problems] == [
        "m.yaml:1:12: error: $[0].entity: 文字含有不可见字符 U+200B（零宽空格）：删除它（常见于从网页、聊天软件或其他系统复制来的文字）",
    ]
    _, problems = load_yaml("m.yaml", text="甲: {payments: 1}\n乙\u200d: {payments: 2}\n")
    assert [str(p) for p in problems] == [
        "m.yaml:2:1: error: $: 键含有不可见字符 U+200D（零宽连字）：删除它（常见于从网页、聊天软件或其他系统复制来的文字）",
    ]
    text = (ROOT / "rulesets" / "a-office-annual.yaml").read_text("utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title: "))
    forged = text.replace(title, f'title: "\\e[31m{title[7:]}"', 1)
    _, problems = kpirules.check("x.yaml", text=forged)
    assert [p.message for p in problems] == [
        "文字含有控制字符 U+001B（转义符 ESC）：删除它（常见于从网页、聊天软件或其他系统复制来的文字）"
    ]


def test_block_scalars_keep_their_line_breaks() -> None:
    """A description written as a block scalar may span lines; other hidden characters may not."""
    doc, problems = load_yaml("d.yaml", text="description: |\n  第一行\n  第二行\n")
    assert problems == [] and doc is not None
    assert doc.data == {"description": "第一行\n第二行\n"}
    _, problems = load_yaml("d.yaml", text="description: |\n  第一\u200b行\n")
    assert [p.message[:30] for p in problems] == [
        "文字含有不可见字符 U+200B（零宽空格）：删除它（常见于"
    ]


# -- the Python API -------------------------------------------------------------------


SIMPLE = kpirules.load(ROOT / "rulesets" / "c-staff-halfyear.yaml")
ROWS = read_metrics(ROOT / "examples" / "c-staff-2026h1.csv", SIMPLE)


@pytest.mark.parametrize(
    ("entity", "shown", "message"),
    [
        ("张三\u200b", "张三\\u200b", "编号含有不可见字符 U+200B（零宽空格）"),
        ("张三\n2026 伪造", "张三\\u000a2026 伪造", "编号含有控制字符 U+000A（换行符）"),
        ("\x1b[31m张三", "\\u001b[31m张三", "编号含有控制字符 U+001B（转义符 ESC）"),
        ("张" * 201, "张" * 200 + "…", "编号过长（201 个字符，最多 200 个）"),
    ],
)
def test_api_refuses_hidden_characters_in_entity_ids(entity: str, shown: str, message: str) -> None:
    """evaluate and evaluate_many refuse look-alike ids; the message shows the character escaped."""
    values = dict(ROWS[0][1])
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate(values, entity=entity)
    assert [(p.entity, p.field, p.message) for p in info.value.problems] == [(shown, "", message)]
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate_many([*ROWS[1:], (entity, values)])
    assert [(p.entity, p.message) for p in info.value.problems] == [(shown, message)]


def test_api_refuses_ids_that_are_not_text() -> None:
    """An entity id must be a str."""
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate_many([(7, dict(ROWS[0][1]))])  # type: ignore[list-item]
    assert [(p.entity, p.message) for p in info.value.problems] == [
        ("7", "编号应是文字（str），而不是 int")
    ]


def test_api_refuses_hidden_characters_in_text_values_and_metric_names() -> None:
    """A value text or a metric name with a hidden character is refused, the character named."""
    entity, values = ROWS[0]
    key = next(iter(values))
    label = SIMPLE.metric(key).label
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate({**values, key: "9\u200b0"}, entity=entity)
    assert [p.message for p in info.value.problems] == [
        f"指标 “{label}” 的值含有不可见字符 U+200B（零宽空格）"
    ]
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate({**values, key + "\x1b": "1"}, entity=entity)
    assert [(p.field, p.message) for p in info.value.problems] == [
        (key + "\\u001b", "规则集中没有这个指标（指标名应是文字，不能含控制字符或不可见字符）")
    ]


def test_refused_characters_are_exactly_the_documented_ones() -> None:
    """C0, DEL, C1, zero-width, bidi, separators and BOM are refused; CJK, spaces, · are not."""
    refused = [c for c in map(chr, range(0x3000)) if refused_character(c)] + [
        c for c in map(chr, range(0xFE00, 0x10000)) if refused_character(c)
    ]
    expected = (
        [chr(c) for c in range(0x20)]
        + [chr(c) for c in range(0x7F, 0xA0)]
        + ["\u061c"]
        + [chr(c) for c in range(0x200B, 0x2010)]
        + [chr(c) for c in range(0x2028, 0x202F)]
        + [chr(c) for c in range(0x2060, 0x2065)]
        + [chr(c) for c in range(0x2066, 0x206A)]
        + ["\ufeff"]
    )
    assert refused == expected
    assert describe("\u200b") == "U+200B（零宽空格）"
    assert refused_character("阿卜杜·热合曼 （一） 科室") is None


def test_api_refuses_unhashable_and_numeric_ids_without_crashing() -> None:
    """A list or a number as an id is an EvaluationError, not a TypeError."""
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate_many([(["张三"], dict(ROWS[0][1])), *ROWS[1:]])  # type: ignore[list-item]
    assert [(p.entity, p.message) for p in info.value.problems] == [
        ("['张三']", "编号应是文字（str），而不是 list")
    ]
    with pytest.raises(EvaluationError) as info:
        SIMPLE.evaluate(dict(ROWS[0][1]), entity=3)  # type: ignore[arg-type]
    assert [(p.entity, p.message) for p in info.value.problems] == [
        ("3", "编号应是文字（str），而不是 int")
    ]


def test_byte_order_mark_at_the_start_is_the_encoding_mark(tmp_path: Path) -> None:
    """A BOM opening the file is removed, with or without --encoding; inside a cell it is refused."""
    path = tmp_path / "m.csv"
    path.write_bytes("entity,payments\n甲医院,100\n".encode("utf-8-sig"))
    expected = [("甲医院", {"payments": Decimal(100)})]
    assert read_metrics(path, RULESET) == expected
    assert read_metrics(path, RULESET, encoding="utf-8") == expected


def test_gbk_line_that_is_also_valid_utf8_is_refused_not_garbled(tmp_path: Path) -> None:
    """一 in GBK (D2 BB) is valid UTF-8 (һ, U+04BB): the line cannot be told apart, so it is
    refused with both readings; --encoding gbk reads it as 一."""
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    path = tmp_path / "m.csv"
    path.write_bytes(b"entity,payment_errors\n" + "一,1\n".encode("gbk"))
    with pytest.raises(InputError) as info:
        read_metrics(path, ruleset)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:2:1: error: $: 第 2 行的编码无法确定：按 UTF-8 读是 “һ,1”，按 GBK 读是 “一,1”"
        "（用 --encoding gbk 或 --encoding utf-8 指明文件的编码）"
    ]
    rows = read_metrics(path, ruleset, encoding="gbk")
    assert [entity for entity, _ in rows] == ["一"]
