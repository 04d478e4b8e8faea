"""The ruleset skeleton (``kpirules new``): it validates without warnings, passes its own
hand-computed cases for every cycle, keeps any title safely, and never overwrites a file
unless told to."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpirules import skeleton
from kpirules.api import check, load
from kpirules.cli import run


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("option", "cycle"),
    [("annual", "year"), ("halfyear", "half_year"), ("quarterly", "quarter"), ("monthly", "month")],
)
def test_every_cycle_validates_strictly_and_passes_its_tests(
    option: str, cycle: str, tmp_path: Path
) -> None:
    """For every --cycle the file written is valid with no warning, passes its three cases,
    and declares that cycle and 1 January of the current year."""
    target = tmp_path / f"{option}.yaml"
    code, out, err = call("new", "医保办绩效考核", "--cycle", option, "--output", str(target))
    assert (code, out) == (0, "")
    assert err == (
        f"已写入 {target}：按其中的注释逐节修改，改后运行 kpirules validate --strict {target}"
        f" 和 kpirules test {target}\n"
    )
    assert call("validate", "--strict", str(target)) == (0, f"{target}: 有效\n", "")
    code, out, err = call("test", str(target))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{target}:148: 通过: 各项全部达标",
        f"{target}:170: 通过: 部分未达标，有创新加分",
        f"{target}:179: 通过: 全部达标但发生重大基金安全事件",
        f"{target}: 3/3 个用例通过",
    ]
    ruleset = load(target)
    assert ruleset.cycle == cycle
    assert ruleset.in_force.start == f"{dt.date.today().year}-01-01"
    assert ruleset.in_force.end is None
    assert (ruleset.id, ruleset.title, ruleset.version) == (
        "my-ruleset",
        "医保办绩效考核",
        f"{dt.date.today().year}.1",
    )


def test_skeleton_has_one_indicator_per_common_method_and_weights_that_add_up() -> None:
    """The skeleton shows deduct, linear, proportional, pass_fail, bonus, table and monitor,
    a derived rate, four grades, two outcomes and a veto; its weights are 40 + 40 + 20."""
    ruleset = load("skeleton.yaml", text=skeleton.render("x", today=dt.date(2026, 5, 1)))
    methods = [i.scoring.method for c in ruleset.categories for i in c.indicators]
    assert methods == ["deduct", "linear", "proportional", "pass_fail", "bonus", "table", "monitor"]
    assert [c.weight for c in ruleset.categories] == [Decimal(40), Decimal(40), Decimal(20)]
    derived = {m.id: m.formula.text for m in ruleset.metrics if m.formula}
    assert derived == {"audit_error_rate": "audit_errors / audits"}
    assert [(b.value, b.lower, b.upper) for b in ruleset.grades] == [
        ("优秀", Decimal(90), None),
        ("良好", Decimal(80), Decimal(90)),
        ("合格", Decimal(60), Decimal(80)),
        ("不合格", None, Decimal(60)),
    ]
    assert [(o.id, o.when.text if o.when else None) for o in ruleset.outcomes] == [
        ("commend", "total >= 90"),
        ("rectify", "total < 60"),
    ]
    assert [(v.id, v.effect) for v in ruleset.vetoes] == [("fund_safety_veto", "zero")]


def test_hand_computed_numbers_of_the_second_case() -> None:
    """The arithmetic written in the skeleton's comments is what the engine computes:
    12.5 + 15.2 + 15 + 20 + 10 + 4 = 76.7, 合格."""
    ruleset = load("skeleton.yaml", text=skeleton.render("x"))
    result = ruleset.evaluate(
        {
            "audits": 1000,
            "audit_errors": 35,
            "satisfaction": "92%",
            "publicity_events": 3,
            "plan_done": "是",
            "downtime": 30,
            "innovations": 3,
            "fund_incidents": 0,
        }
    )
    assert {i.id: i.score for i in result.items} == {
        "audit_error_score": Decimal("12.5"),
        "satisfaction_score": Decimal("15.2"),
        "publicity_score": Decimal(15),
        "plan_score": Decimal(20),
        "innovation_bonus": Decimal(4),
        "downtime_score": Decimal(10),
        "fund_incident_monitor": Decimal(0),
    }
    assert (result.total, result.grade, result.outcomes) == (Decimal("76.70"), "合格", ())


def test_a_wrong_expectation_in_the_skeleton_fails(tmp_path: Path) -> None:
    """The skeleton's cases really check its numbers: one expected total changed by 0.1 fails."""
    text = skeleton.render("x").replace("total: 76.7", "total: 76.8")
    target = tmp_path / "wrong.yaml"
    target.write_text(text, encoding="utf-8")
    code, out, _ = call("test", str(target))
    assert code == 1
    assert f"{target}:170: 失败: 部分未达标，有创新加分" in out
    assert out.splitlines()[-1] == f"{target}: 2/3 个用例通过"


def test_title_with_colon_hash_and_quotes_is_kept_as_written(tmp_path: Path) -> None:
    """A NAME with ``:``, ``#`` and both quotes is written YAML-quoted and read back unchanged."""
    name = "医保办：2026 #1 \"甲\" 'B': x"
    target = tmp_path / "t.yaml"
    assert call("new", name, "--output", str(target))[0] == 0
    assert 'title: "医保办：2026 #1 \\"甲\\" \'B\': x"\n' in target.read_text(encoding="utf-8")
    ruleset, problems = check(target)
    assert problems == ()
    assert ruleset is not None
    assert (ruleset.title, ruleset.id) == (name, "my-ruleset")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("第一行\n第二行", "kpirules new: 名称中有换行：规则集标题只能是一行文字\n"),
        ("a\r\nb", "kpirules new: 名称中有换行：规则集标题只能是一行文字\n"),
        ("a\tb", "kpirules new: 名称中有控制字符 U+0009：规则集标题只能是一行文字\n"),
        (
            "  ",
            "kpirules new: 名称 '  ' 是空的：请写规则集的标题，如 kpirules new 医保办年度考核\n",
        ),
        (
            ".yaml",
            "kpirules new: 名称 '.yaml' 是空的：请写规则集的标题，如 kpirules new 医保办年度考核\n",
        ),
        ("x" * 201, "kpirules new: 名称太长（201 个字符）：标题最多 200 个字符\n"),
    ],
)
def test_unusable_names_are_usage_errors_and_write_nothing(
    name: str, message: str, tmp_path: Path
) -> None:
    """A NAME with a line break, a control character, nothing in it, or too long is refused
    with exit code 2 and a Chinese message, and no file is written."""
    target = tmp_path / "t.yaml"
    assert call("new", name, "--output", str(target)) == (2, "", message)
    assert list(tmp_path.iterdir()) == []


def test_default_output_is_name_dot_yaml_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --output the file is NAME.yaml in the current folder; a NAME ending in .yaml
    is taken as the file name and the title is the stem; an ASCII NAME gives its slug as id."""
    monkeypatch.chdir(tmp_path)
    assert call("new", "医保办考核")[0] == 0
    assert load(tmp_path / "医保办考核.yaml").title == "医保办考核"
    assert call("new", "My KPI 2026.yaml")[0] == 0
    ruleset = load(tmp_path / "My KPI 2026.yaml")
    assert (ruleset.id, ruleset.title) == ("my-kpi-2026", "My KPI 2026")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["My KPI 2026.yaml", "医保办考核.yaml"]


def test_name_that_cannot_be_a_file_name_asks_for_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --output, a NAME with a character Windows refuses in file names is a usage
    error that says to use --output."""
    monkeypatch.chdir(tmp_path)
    assert call("new", "考核/2026") == (
        2,
        "",
        "kpirules new: 名称 “考核/2026” 不能用作文件名（含有 /）：请用 --output 指定文件名，"
        '如 kpirules new "考核/2026" --output my-ruleset.yaml\n',
    )
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_kept_unless_force(tmp_path: Path) -> None:
    """An existing file is not overwritten (exit 2, file unchanged); --force replaces it."""
    target = tmp_path / "mine.yaml"
    target.write_text("我的规则\n", encoding="utf-8")
    assert call("new", "考核", "--output", str(target)) == (
        2,
        "",
        f"kpirules: 输出文件 {target} 已存在；要覆盖请加 --force\n",
    )
    assert target.read_text(encoding="utf-8") == "我的规则\n"
    assert call("new", "考核", "--output", str(target), "--force")[0] == 0
    assert load(target).title == "考核"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


def test_output_that_is_a_folder_or_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    """--output naming a folder, or a file in a folder that does not exist, is a usage error."""
    assert call("new", "考核", "--output", str(tmp_path), "--force") == (
        2,
        "",
        f"kpirules new: {tmp_path} 是文件夹：--output 请写文件名，如 {tmp_path}/my-ruleset.yaml\n",
    )
    missing = tmp_path / "no" / "x.yaml"
    assert call("new", "考核", "--output", str(missing)) == (
        2,
        "",
        f"kpirules: 输出目录 {missing.parent} 不存在\n",
    )


def test_unknown_cycle_is_a_usage_error() -> None:
    """--cycle accepts only annual, halfyear, quarterly and monthly."""
    code, out, err = call("new", "考核", "--cycle", "weekly")
    assert (code, out) == (2, "")
    assert err == (
        "kpirules new: 用法错误：参数 --cycle：'weekly' 不是可用的选项"
        "（可选 'annual', 'halfyear', 'quarterly', 'monthly'）（见 kpirules new --help）\n"
    )
    with pytest.raises(skeleton.SkeletonError, match="考核周期 “weekly” 不可用"):
        skeleton.render("考核", cycle="weekly")


def test_render_substitutes_only_id_title_year_and_cycle() -> None:
    """The text is the template with the four fields filled in, and nothing else changed."""
    text = skeleton.render("KPI-2024", cycle="quarterly", today=dt.date(2024, 7, 9))
    expected = (
        skeleton.template()
        .replace("${id}", "kpi-2024")
        .replace("${title}", '"KPI-2024"')
        .replace("${year}", "2024")
        .replace("${cycle}", "quarter")
    )
    assert text == expected
    assert "\nin_force:\n  from: 2024-01-01\n" in text
    assert "\ncycle: quarter\n" in text
    assert '\nid: "kpi-2024"\ntitle: "KPI-2024"\nversion: "2024.1"\n' in text


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("My KPI 2026", "my-kpi-2026"),
        ("a.b_c--d", "a-b-c-d"),
        ("--", "my-ruleset"),
        ("2026", "2026"),
        ("true", "true"),
        ("医保办考核", "my-ruleset"),
        ("2026年度考核", "my-ruleset"),
    ],
)
def test_ruleset_id_is_an_ascii_slug_or_my_ruleset(title: str, expected: str) -> None:
    """The id is the title's ASCII letters and digits joined by hyphens, or my-ruleset."""
    assert skeleton.ruleset_id(title) == expected


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_one_line_title_is_kept_or_refused_cleanly(name: str) -> None:
    """Whatever NAME holds, the skeleton either refuses it with SkeletonError or loads
    without a problem and keeps the title exactly (outer spaces dropped)."""
    try:
        text = skeleton.render(name, today=dt.date(2026, 1, 1))
    except skeleton.SkeletonError:
        return
    ruleset, problems = check("skeleton.yaml", text=text)
    assert problems == ()
    assert ruleset is not None
    assert ruleset.title == skeleton.title_of(name)
    assert ruleset.id == skeleton.ruleset_id(ruleset.title)


@pytest.mark.parametrize("name", ["0", "2026", "true", "null", "no"])
def test_names_yaml_would_read_as_numbers_or_words_give_a_text_id(name: str) -> None:
    """A NAME such as 2026 or true gives a quoted id and title that load as text, not as a
    number, a yes/no or empty."""
    ruleset, problems = check("skeleton.yaml", text=skeleton.render(name))
    assert problems == ()
    assert ruleset is not None
    assert (ruleset.id, ruleset.title) == (name, name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("CON", "是 Windows 保留的设备名"),
        ("com1.x", "是 Windows 保留的设备名"),
        ("考核.", "结尾是点或空格"),
        ("a:b", "含有 :"),
    ],
)
def test_names_windows_cannot_use_as_files_need_output(name: str, why: str) -> None:
    """A NAME Windows cannot use as a file name (a device name, a trailing dot) needs --output."""
    with pytest.raises(skeleton.SkeletonError) as raised:
        skeleton.default_file(skeleton.title_of(name))
    assert str(raised.value) == (
        f"名称 “{name}” 不能用作文件名（{why}）：请用 --output 指定文件名，"
        f'如 kpirules new "{name}" --output my-ruleset.yaml'
    )
