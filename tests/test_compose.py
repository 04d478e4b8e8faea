"""Rulesets made of several files: extends, include, replace, remove, and where things came from."""

from __future__ import annotations

import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules.api import check_part
from kpirules.cli import run
from kpirules.diff import compare
from kpirules.report import explain
from kpirules.service.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"

BASE = """\
kpirules: 1
base: true
title: 岗位考核共用部分
in_force: {from: 2026-01-01, to: 2026-12-31}
weighting: points
rounding: {places: 2, mode: half_up, at: total}
metrics:
  attendance: {label: 出勤率, unit: percent}
  integrity_cases: {label: 廉政问题件数, unit: count, in: 件}
  attitude: {label: 服务态度评分, unit: rating, min: 0, max: 100}
categories:
  - id: common
    label: 共同指标
    weight: 40
    indicators:
      - {id: attendance_score, label: 考勤, metric: attendance, weight: 20, target: ≥ 95%, scoring: {method: pass_fail}}
      - {id: integrity_score, label: 廉政, metric: integrity_cases, weight: 20, target: ≤ 0, scoring: {method: pass_fail}}
vetoes:
  - {id: integrity_veto, label: 发生廉政问题，一票否决, when: integrity_cases > 0, effect: zero}
include: [grades.yaml]
"""

GRADES = """\
fragment: grades
grades:
  - {grade: 优秀, from: 90}
  - {grade: 合格, from: 60, below: 90}
  - {grade: 不合格, below: 60}
"""

POST = """\
kpirules: 1
id: post-research
title: 政策研究岗位
version: "2026.1"
source: 岗位考核
extends: common/base.yaml
replace: [rounding]
rounding: {places: 1, mode: half_up, at: total}
remove: [attitude]
metrics:
  reports: {label: 调研报告评分, unit: rating, min: 0, max: 100}
categories:
  - id: post
    label: 岗位职责
    weight: 60
    indicators:
      - {id: report_score, label: 调研报告, metric: reports, weight: 60, scoring: {method: scale}}
grades:
  - {grade: 优秀, from: 85, replace: true}
  - {grade: 合格, from: 60, below: 85, replace: true}
"""


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


@pytest.fixture
def post(tmp_path: Path) -> Path:
    write(tmp_path, {"common/base.yaml": BASE, "common/grades.yaml": GRADES, "post.yaml": POST})
    return tmp_path / "post.yaml"


def test_position_inherits_replaces_and_removes(post: Path) -> None:
    """Inherited indicators and veto score; replaced grades and rounding apply; removed metric is gone."""
    ruleset = kpirules.load(post)
    assert [m.id for m in ruleset.metrics] == ["attendance", "integrity_cases", "reports"]
    assert [c.id for c in ruleset.categories] == ["common", "post"]
    assert ruleset.rounding.places == 1
    # 考勤 96% ≥ 95% → 20；廉政 0 件 → 20；调研报告 70 → 60 × 70/100 = 42；合计 82 → 合格 [60,85)
    result = ruleset.evaluate({"attendance": "96%", "integrity_cases": 0, "reports": 70})
    assert result.total == Decimal("82.0")
    assert result.grade == "合格"
    # 调研报告 75 → 45；合计 85 → 优秀（本岗位替换为 from: 85）
    result = ruleset.evaluate({"attendance": "96%", "integrity_cases": 0, "reports": 75})
    assert (result.total, result.grade) == (Decimal("85.0"), "优秀")
    # 一件廉政问题：继承来的否决项把总分记为 0
    result = ruleset.evaluate({"attendance": "96%", "integrity_cases": 1, "reports": 75})
    assert (result.total, result.grade) == (Decimal("0.0"), "不合格")


def test_sources_list_every_file_with_its_sha256(post: Path) -> None:
    """A loaded ruleset names each file it is made of, main file first, with its SHA-256."""
    ruleset = kpirules.load(post)
    names = [Path(s.path).relative_to(post.parent).as_posix() for s in ruleset.sources]
    assert names == ["post.yaml", "common/base.yaml", "common/grades.yaml"]
    for source in ruleset.sources:
        assert source.sha256 == hashlib.sha256(Path(source.path).read_bytes()).hexdigest()


def test_fingerprint_changes_when_a_base_file_changes(post: Path) -> None:
    """Changing only the base's grade fragment changes the position ruleset's fingerprint."""
    before = kpirules.load(post).fingerprint
    grades = post.parent / "common" / "grades.yaml"
    grades.write_text(GRADES.replace("{grade: 不合格, below: 60}", "{grade: 不合格,   below: 60}"))
    assert kpirules.load(post).fingerprint == before  # layout only: same content
    grades.write_text(GRADES.replace("from: 90", "from: 95"))
    base = post.parent / "common" / "base.yaml"
    base.write_text(BASE.replace("weight: 40\n", "weight: 40\n    source: 共同指标\n"))
    assert kpirules.load(post).fingerprint != before


def test_shipped_scheme_b_keeps_its_single_file_fingerprints() -> None:
    """The three scheme B positions resolve to exactly the content they had as single files."""
    expected = {
        "b-position-leader.yaml": "80cac529b5124407e1e38978f2ababac775da2e43991f60781f0c60445e95f76",
        "b-position-policy-research.yaml": "3f3000ee7ebdc507a2ab5b4c52f8a79dc156b4a990025c052862fc55d494a797",
        "b-position-cost-management.yaml": "12d8ff476ff8a4d7ca7c441f1bcf3c06f439113b92198e970990bbc9531aec45",
    }
    for name, digest in expected.items():
        ruleset = kpirules.load(RULESETS / name)
        assert ruleset.fingerprint == f"sha256:{digest}", name
        assert [Path(s.path).name for s in ruleset.sources] == [name, "common.yaml", "grades.yaml"]
        assert [g.value for g in ruleset.grades] == ["优秀", "良好", "合格", "不合格"]


def test_explain_names_the_file_of_inherited_items(post: Path) -> None:
    """explain shows base.yaml and its line for inherited items, only the line for the file's own."""
    ruleset = kpirules.load(post)
    result = ruleset.evaluate({"attendance": "90%", "integrity_cases": 1, "reports": 70})
    text = explain(ruleset, result)
    base = str(post.parent / "common" / "base.yaml")
    assert f"共同指标（满分 40.0分）：小计 0.0分，{base} 第 12 行" in text
    assert f"    - 考勤（满分 20.0分，{base} 第 16 行）" in text
    assert f"一票否决：发生廉政问题，一票否决（条件 integrity_cases > 0，{base} 第 19 行）" in text
    assert "岗位职责（满分 60.0分）：小计 42.0分，第 13 行" in text


def test_diff_names_the_file_of_inherited_items(post: Path, tmp_path: Path) -> None:
    """diff between two positions names base.yaml:line for a changed inherited indicator."""
    other = tmp_path / "post2.yaml"
    other.write_text(POST.replace("extends: common/base.yaml", "extends: common/base2.yaml"))
    base2 = BASE.replace("target: ≥ 95%", "target: ≥ 98%")
    write(tmp_path, {"common/base2.yaml": base2})
    changes = compare(kpirules.load(post), kpirules.load(other))
    [change] = [c for c in changes if c.kind == "target"]
    assert change.text == "考勤 目标 ≥ 95% → ≥ 98%"
    assert (change.old_line, change.new_line) == (16, 16)
    assert Path(change.old_file).name == "base.yaml"
    assert Path(change.new_file).name == "base2.yaml"
    out, err = io.StringIO(), io.StringIO()
    assert run(["diff", str(post), str(other)], out, err) == 0
    assert (
        f"- 考勤 目标 ≥ 95% → ≥ 98%（{change.old_file}:16 → {change.new_file}:16）"
        in out.getvalue()
    )


def test_removing_a_nested_indicator_keeps_the_others_located(tmp_path: Path) -> None:
    """After remove: [attendance_score], the category's weight problem points into base.yaml."""
    write(tmp_path, {"base.yaml": BASE, "grades.yaml": GRADES})
    text = POST.replace("common/base.yaml", "base.yaml").replace(
        "[attitude]", "[attitude, attendance_score]"
    )
    write(tmp_path, {"post.yaml": text.split("grades:\n")[0]})
    ruleset, problems = kpirules.check(tmp_path / "post.yaml")
    assert ruleset is None
    [problem] = problems
    assert (Path(problem.file).name, problem.line) == ("base.yaml", 12)
    assert "共同指标" in problem.message and "20" in problem.message and "40" in problem.message
    assert f"（由 {tmp_path / 'post.yaml'}:6 引入）" in problem.message


def test_backslash_paths_from_windows_editors(post: Path) -> None:
    """extends: common\\base.yaml (as written on Windows) names the same base."""
    text = post.read_text("utf-8").replace("common/base.yaml", "common\\\\base.yaml")
    text = text.replace("extends: common\\\\base.yaml", 'extends: "common\\\\base.yaml"')
    post.write_text(text, "utf-8")
    assert kpirules.load(post).rounding.places == 1


def test_text_checked_in_memory_cannot_name_files() -> None:
    """A ruleset text with extends, checked without its files (the service's check), gets KR129."""
    _, problems = kpirules.check("网页.yaml", text=POST, read_files=False)
    assert [(p.code, p.line, p.path) for p in problems] == [("KR129", 6, "$.extends")]
    assert "不是从文件读取的" in problems[0].message


def test_tests_file_of_a_ruleset_that_extends(post: Path) -> None:
    """A separate tests file runs against the resolved ruleset."""
    tests = post.parent / "post.tests.yaml"
    tests.write_text(
        "kpirules_tests: 1\nruleset: post.yaml\ntests:\n"
        "  - name: 合格\n"
        "    metrics: {attendance: 96%, integrity_cases: 0, reports: 70}\n"
        "    expect: {total: 82, grade: 合格}\n",
        "utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    assert run(["test", str(tests)], out, err) == 0, out.getvalue() + err.getvalue()


def test_validate_says_what_a_base_and_a_fragment_are(post: Path) -> None:
    """validate on a base and a fragment names the kind and checks what it can alone."""
    out = io.StringIO()
    folder = post.parent / "common"
    assert run(["validate", str(folder / "base.yaml"), str(folder / "grades.yaml")], out, out) == 0
    assert out.getvalue().splitlines() == [
        f"{folder / 'base.yaml'}: 基础规则集，供其他规则集继承，不能单独计分；有效",
        f"{folder / 'grades.yaml'}: 片段（等级），供规则集引入，不能单独计分；有效",
    ]
    (folder / "grades.yaml").write_text(GRADES.replace("below: 90", "below: 89"), "utf-8")
    what, problems = check_part(folder / "grades.yaml")
    assert what is not None and what.startswith("片段（等级）")
    assert [(p.code, p.line) for p in problems] == [("KR378", 4)]


def test_fragment_alone_does_not_judge_what_its_ruleset_defines(tmp_path: Path) -> None:
    """A categories fragment naming metrics defined elsewhere is valid alone; a bad method is not."""
    fragment = tmp_path / "common.yaml"
    fragment.write_text(
        "fragment: categories\ncategories:\n  - id: common\n    label: 共同指标\n    weight: 20\n"
        "    indicators:\n"
        "      - {id: att, label: 考勤, metric: attendance, weight: 20, target: ≥ 95%, scoring: {method: pass_fail}}\n",
        "utf-8",
    )
    assert check_part(fragment) == (
        "片段（考核类别），供规则集引入，不能单独计分",
        (),
    )
    fragment.write_text(fragment.read_text("utf-8").replace("pass_fail", "pass_or_fail"), "utf-8")
    _, problems = check_part(fragment)
    assert [p.line for p in problems] == [7]


def test_catalog_offers_positions_not_their_base(tmp_path: Path) -> None:
    """The service catalog lists the position rulesets, never the base or fragment, with inner paths."""
    catalog = Catalog.scan(RULESETS)
    assert "b-position-leader" in catalog.by_id
    assert catalog.invalid == ()
    files = [v.file for versions in catalog.by_id.values() for v in versions]
    assert not any(f.startswith("b/") for f in files)
    leader = catalog.by_id["b-position-leader"][0].ruleset
    assert [s.path for s in leader.sources] == [
        "b-position-leader.yaml",
        "b/common.yaml",
        "b/grades.yaml",
    ]
    assert dict(leader.origins)["grade:优秀"] == "b/grades.yaml"


def test_validate_json_marks_parts(tmp_path: Path) -> None:
    """validate --format json gives a base its kind under "part"; rulesets have no such key."""
    out = io.StringIO()
    paths = [str(RULESETS / "b" / "common.yaml"), str(RULESETS / "b-position-leader.yaml")]
    assert run(["validate", *paths, "--format", "json"], out, io.StringIO()) == 0
    files = json.loads(out.getvalue())["files"]
    assert files[0]["part"].startswith("基础规则集")
    assert "part" not in files[1]


def test_versions_folder_skips_the_base_they_share(tmp_path: Path) -> None:
    """A folder of yearly versions extending one base: the base is not taken for a version."""
    from kpirules.periods import choose, family, parse_period

    base = BASE.replace("in_force: {from: 2026-01-01, to: 2026-12-31}\n", "")
    write(tmp_path, {"common/base.yaml": base, "common/grades.yaml": GRADES})
    for year in (2026, 2027):
        text = POST.replace("extends: common/base.yaml", "extends: ../common/base.yaml")
        text = text.replace('version: "2026.1"', f'version: "{year}.1"')
        text = text.replace(
            "extends:", f"in_force: {{from: {year}-01-01, to: {year}-12-31}}\nextends:"
        )
        write(tmp_path, {f"versions/{year}.yaml": text})
    paths = sorted([*(tmp_path / "versions").glob("*.yaml"), tmp_path / "common" / "base.yaml"])
    versions = family(paths)
    assert [r.version for r in versions] == ["2026.1", "2027.1"]
    assert choose(versions, parse_period("2027")).version == "2027.1"


def test_fragment_included_twice_is_reported_once(post: Path) -> None:
    """A fragment the base already includes, included again, is one problem naming the file."""
    text = post.read_text("utf-8").replace(
        "extends: common/base.yaml", "extends: common/base.yaml\ninclude: [common/grades.yaml]"
    )
    post.write_text(text.split("grades:\n")[0], "utf-8")
    _, problems = kpirules.check(post)
    grades = str(post.parent / "common" / "grades.yaml")
    assert [(p.code, p.file, p.line) for p in problems] == [("KR124", grades, 3)]
    assert problems[0].message == (
        f"{grades} 被引入了两次（等级“优秀” 等因而重复）（由 {post}:7 引入）"
    )


def test_replace_on_a_sub_category_is_refused(post: Path) -> None:
    """replace: true on a sub-category means nothing and is reported where it is written."""
    base = post.parent / "common" / "base.yaml"
    text = BASE.replace(
        "    indicators:\n      - {id: attendance_score",
        "    categories:\n      - id: sub\n        label: 下级\n        weight: 40\n        replace: true\n"
        "        indicators:\n          - {id: attendance_score",
    ).replace("\n      - {id: integrity_score", "\n          - {id: integrity_score")
    base.write_text(text, "utf-8")
    _, problems = kpirules.check(post)
    assert [(p.code, Path(p.file).name, p.line, p.path) for p in problems] == [
        ("KR127", "base.yaml", 19, "$.categories[0].categories[0].replace")
    ]


def test_recorded_text_resolves_its_base_beside_the_named_file(post: Path) -> None:
    """A text in memory (a replayed record) reads its base relative to the path naming it."""
    text = post.read_text("utf-8")
    from_text = kpirules.load(post, text=text)
    assert from_text.fingerprint == kpirules.load(post).fingerprint
    assert from_text.sources[0].sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_service_check_does_not_read_other_files(post: Path) -> None:
    """The service's ruleset check refuses extends instead of reading the server's files."""
    from kpirules.service.routes.rulesets import check_text as _check_text

    checked = _check_text(str(post), post.read_text("utf-8"))
    assert checked["valid"] is False
    assert [p["code"] for p in checked["problems"]] == ["KR129"]
