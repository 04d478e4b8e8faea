"""`kpirules diff`: what changed between two ruleset versions, in policy terms, and its effect."""

from __future__ import annotations

import io
from pathlib import Path

import kpirules
from kpirules.cli import run
from kpirules.diff import compare

ROOT = Path(__file__).resolve().parent.parent
OLD = ROOT / "rulesets" / "a-office-annual.yaml"
EXAMPLE = ROOT / "examples" / "a-offices-2026.csv"


def new_version(tmp_path: Path) -> Path:
    text = OLD.read_text("utf-8")
    for a, b in [
        ('version: "2026.1"', 'version: "2027.1"'),
        ("{from: 90%, to: 95%, points: [6, 10]}", "{from: 90%, to: 97%, points: [6, 10]}"),
        ('target: "≥ 95%"', 'target: "≥ 97%"'),
        ("{grade: 良好, from: 80, below: 90}", "{grade: 良好, from: 85, below: 90}"),
        ("{grade: 合格, from: 60, below: 80}", "{grade: 合格, from: 60, below: 85}"),
        ("    when: total < 60\n", "    when: total < 65\n"),
    ]:
        assert a in text
        text = text.replace(a, b)
    path = tmp_path / "a-2027.yaml"
    path.write_text(text, "utf-8")
    return path


def test_changes_in_policy_terms(tmp_path: Path) -> None:
    """Version, target, segments, grade bands and an outcome condition, each in words with lines."""
    changes = compare(kpirules.load(OLD), kpirules.load(new_version(tmp_path)))
    assert [c.text for c in changes] == [
        "版本：2026.1 → 2027.1",
        "参保人员满意度 目标 ≥ 95% → ≥ 97%",
        "参保人员满意度 计分方法 区间法（低于区间得 0；高于区间得 10；80%–90% 得 0–6分；90%–95% 得 6–10分） → 区间法（低于区间得 0；高于区间得 10；80%–90% 得 0–6分；90%–97% 得 6–10分）",
        "等级 良好：≥80 且 <90 → ≥85 且 <90",
        "等级 合格：≥60 且 <80 → ≥60 且 <85",
        "结果规则 不合格，限期整改：整改：total < 60 → 整改：total < 65",
    ]
    assert (changes[1].old_line, changes[1].new_line) == (109, 109)


def test_added_and_removed_indicator(tmp_path: Path) -> None:
    """A removed indicator (its points moved to a sibling) is named with its points."""
    text = OLD.read_text("utf-8")
    start = text.index("      - id: confidentiality_score")
    end = text.index("\ngrades:")
    text = text[:start].rstrip("\n") + "\n" + text[end:]
    path = tmp_path / "a-less.yaml"
    path.write_text(
        text.replace(
            "weight: 5\n        scoring: {method: scale}\n        source: 信息安全（5%）",
            "weight: 10\n        scoring: {method: scale}\n        source: 信息安全（5%）",
        ),
        "utf-8",
    )
    texts = [c.text for c in compare(kpirules.load(OLD), kpirules.load(path))]
    assert "删除指标 保密工作（5分）" in texts
    assert "信息安全 分值 5分 → 10分" in texts


def test_cli_diff_with_metrics(tmp_path: Path) -> None:
    """With --metrics, each entity's total, grade and outcomes before and after."""
    out = io.StringIO()
    code = run(
        ["diff", str(OLD), str(new_version(tmp_path)), "--metrics", str(EXAMPLE)],
        out,
        io.StringIO(),
    )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert "  第三医院医保办：总分 83.47 → 83.47（0.00），等级 良好 → 合格" in lines
    assert "  第一医院医保办：总分 97.00 → 96.43（-0.57），等级仍为 优秀" in lines


def test_unrelated_rulesets_are_flagged() -> None:
    """Comparing two different rulesets says their ids differ, first."""
    other = ROOT / "rulesets" / "c-staff-halfyear.yaml"
    changes = compare(kpirules.load(OLD), kpirules.load(other))
    assert (
        changes[0].text
        == "注意：两个规则集的 id 不同（a-office-annual 与 c-staff-halfyear），可能不是同一规则集的两个版本"
    )


def test_identical_versions() -> None:
    """The same ruleset twice: no changes."""
    out = io.StringIO()
    assert run(["diff", str(OLD), str(OLD)], out, io.StringIO()) == 0
    assert out.getvalue() == "两个版本计分规则相同\n"
