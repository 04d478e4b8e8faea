"""Semantic validation: the model built from valid rulesets, and every mistake reported."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules import RulesetError, skeleton
from kpirules.codes import CODES
from kpirules.methods import METHODS

ROOT = Path(__file__).resolve().parent.parent
INVALID = ROOT / "tests" / "fixtures" / "invalid"
DOCS = ROOT / "docs" / "ruleset-format.md"

BASE = """\
kpirules: 1
id: t
title: 测试
version: "1"
source: 测试文件
in_force: {from: 2026-01-01, to: 2026-12-31}
weighting: points
metrics:
  rate: {label: 差错率, unit: percent, aggregate: last}
  events: {label: 宣传次数, unit: count, in: 次}
  done: {label: 已完成, unit: yes_no}
"""


def problems_of(text: str) -> list[str]:
    """All problems of a ruleset text, as printed lines."""
    _, problems = kpirules.check("t.yaml", text=text)
    return [str(p) for p in problems]


def fixture_paths() -> list[Path]:
    """Every negative fixture: NAME.yaml, or a folder NAME/ of several files whose main.yaml
    is checked (both with NAME.expected beside them)."""
    return sorted([*INVALID.glob("*.yaml"), *INVALID.glob("*/main.yaml")])


def fixture_name(path: Path) -> str:
    return path.parent.name if path.name == "main.yaml" else path.stem


def fixture_names() -> list[str]:
    return sorted(
        fixture_name(p)
        for p in fixture_paths()
        if (INVALID / f"{fixture_name(p)}.expected").exists()
    )


@pytest.mark.parametrize("name", fixture_names())
def test_invalid_fixture(name: str) -> None:
    """Each negative fixture yields exactly its expected messages, in line order."""
    folder = INVALID / name
    path = folder / "main.yaml" if folder.is_dir() else INVALID / f"{name}.yaml"
    expected = (INVALID / f"{name}.expected").read_text("utf-8").splitlines()
    _, problems = kpirules.check(path)
    shown = str(folder) + "/" if folder.is_dir() else str(path)
    got = [str(p).replace(shown, "" if folder.is_dir() else path.name) for p in problems]
    assert got == expected
    assert got, "a negative fixture must produce at least one problem"
    assert [p for p in problems if p.code not in CODES] == []


def test_fixture_folder_is_not_empty() -> None:
    """The negative fixtures exist and every one has its expected messages."""
    yamls = sorted(fixture_name(p) for p in fixture_paths() if not p.stem.startswith("pending_"))
    assert len(yamls) >= 30
    assert yamls == fixture_names()


def test_scheme_a_faithful_rejected_with_category_both_sums_and_line() -> None:
    """The source's own 30% vs 45% contradiction is caught, naming 医保业务管理, 30%, 45% and the line."""
    path = INVALID / "scheme_a_faithful.yaml"
    with pytest.raises(RulesetError) as info:
        kpirules.load(path)
    [problem] = info.value.problems
    assert problem.line == 27
    assert problem.path == "$.categories[1]"
    assert "医保业务管理" in problem.message
    assert "30%" in problem.message
    assert "45%" in problem.message
    text = path.read_text("utf-8").splitlines()
    assert "医保业务管理" in text[problem.line - 1] or "id: business" in text[problem.line - 1]


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_scheme_c_literal_grade_bands_rejected() -> None:
    """'良好 80-89, 优秀 90分以上' as written leaves 89.5 without a grade."""
    text = (
        BASE
        + """\
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: i, label: 项, metric: events, weight: 100, target: ≥ 4, scoring: {method: proportional}}
grades:
  - {grade: 优秀, from: 90, to: 100}
  - {grade: 良好, from: 80, to: 89}
  - {grade: 合格, from: 70, to: 79}
  - {grade: 待提高, from: 60, to: 69}
  - {grade: 不合格, below: 60}
"""
    )
    assert problems_of(text) == [
        "t.yaml:20:5: error: $.grades[1]: 等级“良好”（第 20 行）和“优秀”（第 19 行）之间有空档：89（不含）到 90（不含）之间的值（如 89.5）不属于任何一档（把“良好”（第 20 行）的上限改为 below: 90）",
        "t.yaml:21:5: error: $.grades[2]: 等级“合格”（第 21 行）和“良好”（第 20 行）之间有空档：79（不含）到 80（不含）之间的值（如 79.5）不属于任何一档（把“合格”（第 21 行）的上限改为 below: 80）",
        "t.yaml:22:5: error: $.grades[3]: 等级“待提高”（第 22 行）和“合格”（第 21 行）之间有空档：69（不含）到 70（不含）之间的值（如 69.5）不属于任何一档（把“待提高”（第 22 行）的上限改为 below: 70）",
    ]


def test_shipped_rulesets_are_valid() -> None:
    """Every ruleset shipped in rulesets/ loads without errors or warnings."""
    files = sorted((ROOT / "rulesets").glob("*.yaml"))
    assert files
    for path in files:
        ruleset, problems = kpirules.check(path)
        assert ruleset is not None, "\n".join(map(str, problems))
        assert problems == (), "\n".join(map(str, problems))


def test_docs_complete_example_is_valid() -> None:
    """The complete example in docs/ruleset-format.md is a valid ruleset."""
    text = DOCS.read_text("utf-8")
    match = re.search(r"## A complete example.*?```yaml\n(.*?)```", text, re.S)
    assert match
    ruleset, problems = kpirules.check("example.yaml", text=match.group(1))
    assert problems == ()
    assert ruleset is not None
    assert ruleset.total_points == 100
    assert len(ruleset.indicators()) == 9


def test_scheme_a_resolved_points_by_share() -> None:
    """The usable scheme A divides 医保业务管理's 30 points equally among its three items."""
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    business = ruleset.categories[1]
    assert business.label == "医保业务管理"
    assert business.points == Decimal(30)
    assert [i.points for i in business.indicators] == [Decimal(10)] * 3
    assert [c.points for c in ruleset.categories] == [
        Decimal(40),
        Decimal(30),
        Decimal(20),
        Decimal(10),
    ]
    assert sum(i.points for i in ruleset.indicators()) == Decimal(100)


def test_model_values_are_exact() -> None:
    """Targets and segment bounds become exact fractions; the model is immutable."""
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.yaml")
    sat = next(i for i in ruleset.indicators() if i.id == "satisfaction_score")
    assert sat.target_value == Decimal("0.95")
    assert [
        (s.start, s.end, s.start_points, s.end_points) for s in sat.scoring.params.segments
    ] == [
        (Decimal("0.80"), Decimal("0.90"), Decimal(0), Decimal(6)),
        (Decimal("0.90"), Decimal("0.95"), Decimal(6), Decimal(10)),
    ]
    with pytest.raises(AttributeError):
        sat.points = Decimal(1)  # type: ignore[misc]
    assert isinstance(ruleset.categories, tuple)


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_every_problem_reported_at_once() -> None:
    """Several independent mistakes are all reported in one run, sorted by line."""
    text = (
        BASE
        + """\
categories:
  - id: c
    label: 类
    weight: 90
    indicators:
      - {id: i1, label: 项1, metric: rat, weight: 50, target: ≥ 4, scoring: {method: proportional}}
      - {id: i2, label: 项2, metric: events, weight: 50, target: ≥ 4%, scoring: {method: proportional}}
      - {id: i3, label: 项3, metric: done, weight: 0, target: 是, scoring: {method: pass_fial}}
"""
    )
    lines = problems_of(text)
    assert lines == [
        "t.yaml:13:3: error: $.categories: 各类别权重合计为 90 分（类 90），但总分为 100 分（请修改权重使两者相等；如果下级权重只表示相对份额，可在顶层写 weighting: share）",
        "t.yaml:13:5: error: $.categories[0]: 类别“类”的权重为 90 分，但其下各项权重合计为 100 分（项1 50、项2 50、项3 0）（请修改权重使两者相等；如果下级权重只表示相对份额，可在该类别写 weighting: share）",
        "t.yaml:17:37: error: $.categories[0].indicators[0].metric: 指标 “项1” 使用的 metric “rat” 没有在 metrics 中声明（是不是要写 rate？）",
        "t.yaml:18:65: error: $.categories[0].indicators[1].target: 计数指标不能用百分数 “4%”：写成不带 % 的数值",
        "t.yaml:19:83: error: $.categories[0].indicators[2].scoring.method: “pass_fial” 不是可用的值："
        f"可用 {'、'.join(METHODS)}（是不是要写 pass_fail？）",
    ]


def test_ruleset_error_carries_problems_as_data() -> None:
    """load() raises one RulesetError whose problems are data with location and suggestion."""
    text = BASE.replace("weighting: points", "weighting: point")
    with pytest.raises(RulesetError) as info:
        kpirules.load("t.yaml", text=text + "categories: []\n")
    first = info.value.problems[0]
    assert (first.file, first.line, first.column) == ("t.yaml", 7, 12)
    assert first.path == "$.weighting"
    assert first.severity == "error"
    assert first.suggestion == "是不是要写 points？"
    assert str(info.value).splitlines()[0] == str(first)


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_unknown_key_did_you_mean() -> None:
    """An unknown key is reported at the key, with the closest allowed key."""
    text = (
        BASE
        + """\
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - id: i
        label: 项
        metric: events
        wieght: 100
        target: ≥ 4
        scoring: {method: proportional}
"""
    )
    assert problems_of(text) == [
        "t.yaml:17:9: error: $.categories[0].indicators[0]: 指标 “项” 缺少权重 weight",
        "t.yaml:20:9: error: $.categories[0].indicators[0].wieght: 不认识的键 wieght（是不是要写 weight？）",
    ]


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_direction_contradiction_is_a_warning() -> None:
    """≥ on a lower-is-better indicator loads, with a warning."""
    text = (
        BASE
        + """\
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: i, label: 差错率, metric: rate, weight: 100, direction: lower_better, target: ≥ 2%, scoring: {method: deduct, per: 1%, deduct: 10, partial: pro_rata}}
"""
    )
    ruleset, problems = kpirules.check("t.yaml", text=text)
    assert ruleset is not None
    assert [str(p) for p in problems] == [
        "t.yaml:17:89: warning: $.categories[0].indicators[0].target: 指标 “差错率” 的方向是越低越好（lower_better），但目标写的是 ≥：两者矛盾（检查 direction 或目标的比较符号）"
    ]


def test_direction_taken_from_target() -> None:
    """Without a direction, ≤ means lower is better and ≥ higher is better."""
    text = (
        BASE
        + """\
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: a, label: 差错率, metric: rate, weight: 50, target: ≤ 2%, scoring: {method: deduct, per: 1%, deduct: 10, partial: round_up}}
      - {id: b, label: 宣传, metric: events, weight: 50, target: 不少于 4 次, scoring: {method: proportional}}
"""
    )
    ruleset = kpirules.load("t.yaml", text=text)
    a, b = ruleset.indicators()
    assert (a.direction, a.target_value, a.scoring.params.per) == (
        "lower_better",
        Decimal("0.02"),
        Decimal("0.01"),
    )
    assert (b.direction, b.target_value) == ("higher_better", Decimal(4))


def test_percent_of_parent_and_nested_categories() -> None:
    """Nested categories under percent_of_parent get their points from their parents."""
    text = (
        BASE
        + """\
weighting_note: x
""".replace("weighting_note: x\n", "")
        + """\
categories:
  - id: outer
    label: 外
    weight: 100
    weighting: percent_of_parent
    categories:
      - id: inner
        label: 内
        weight: 40%
        indicators:
          - {id: a, label: 甲, metric: events, weight: 100%, target: ≥ 4, scoring: {method: proportional}}
    indicators:
      - {id: b, label: 乙, metric: events, weight: 60%, target: ≥ 4, scoring: {method: proportional}}
"""
    )
    ruleset = kpirules.load("t.yaml", text=text)
    assert [(i.id, i.points) for i in ruleset.indicators()] == [
        ("a", Decimal(40)),
        ("b", Decimal(60)),
    ]


TESTED = (
    BASE
    + """\
categories:
  - id: c
    label: 类
    weight: 100
    indicators:
      - {id: a, label: 差错率, metric: rate, weight: 50, target: ≤ 2%, scoring: {method: deduct, per: 1%, deduct: 10, partial: pro_rata}}
      - {id: b, label: 宣传, metric: events, weight: 50, target: 不少于 4 次, scoring: {method: proportional}}
tests:
  - name: 达标
    metrics: {rate: 2%, events: 4}
    expect: {total: 100}
"""
)


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_test_case_values_are_checked() -> None:
    """Test-case values must fit their metrics: percent without %, fractional counts, ratings."""
    text = (
        TESTED
        + """\
  - name: 错误的值
    base: 达标
    metrics: {rate: 3, events: 4.5}
    expect: {total: 80}
  - name: 未知的基础
    base: 达标了
    metrics: {rate: 1%, events: 4}
    expect: {total: 100}
"""
    )
    assert problems_of(text) == [
        "t.yaml:25:21: error: $.tests[1].metrics.rate: 指标 “差错率” 是百分比，3 会被当作 300%：写成 3% 或 0.03",
        "t.yaml:25:32: error: $.tests[1].metrics.events: 指标 “宣传次数” 是计数，应为整数（写的是 4.5）",
        "t.yaml:28:11: error: $.tests[2].base: base 引用的测试用例 “达标了” 不存在或不在本用例之前（是不是要写 达标？）",
    ]


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_test_case_missing_input_must_expect_error() -> None:
    """Leaving out an input whose absence is an error must be declared with expect.error."""
    text = (
        TESTED
        + """\
  - name: 缺宣传次数
    base: 达标
    metrics: {events: null}
    expect: {total: 50}
  - name: 缺宣传次数（预期报错）
    base: 达标
    metrics: {events: null}
    expect: {error: 宣传次数}
"""
    )
    assert problems_of(text) == [
        "t.yaml:25:14: error: $.tests[1].metrics: 测试用例缺少输入：events（宣传次数）；这些指标缺失时按规定会报错（补上这些值，或在 expect 中写 error 表示预期报错）"
    ]
    ruleset = kpirules.load(
        "t.yaml", text=text.replace("expect: {total: 50}", "expect: {error: x}")
    )
    assert [dict(t.metrics) for t in ruleset.tests] == [
        {"rate": Decimal("0.02"), "events": Decimal(4)},
        {"rate": Decimal("0.02")},
        {"rate": Decimal("0.02")},
    ]


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_tests_file_beside_the_ruleset(tmp_path: Path) -> None:
    """A *.tests.yaml file names its ruleset; its cases are checked and added to the ruleset."""
    (tmp_path / "r.yaml").write_text(TESTED, "utf-8")
    tests = tmp_path / "r.tests.yaml"
    tests.write_text(
        "kpirules_tests: 1\nruleset: r.yaml\ntests:\n"
        "  - name: 外部用例\n    metrics: {rate: 1%, evnts: 4}\n    expect: {total: 100}\n",
        "utf-8",
    )
    _, problems = kpirules.check(tests)
    assert [str(p).replace(str(tests), "r.tests.yaml") for p in problems] == [
        "r.tests.yaml:5:25: error: $.tests[0].metrics.evnts: 测试用例中的指标 “evnts” 没有在 metrics 中声明（是不是要写 events？）"
    ]
    tests.write_text(tests.read_text("utf-8").replace("evnts", "events"), "utf-8")
    ruleset = kpirules.load(tests)
    assert [t.name for t in ruleset.tests] == ["达标", "外部用例"]


def test_tests_file_with_missing_ruleset(tmp_path: Path) -> None:
    """A tests file whose ruleset does not exist says so at the ruleset key."""
    tests = tmp_path / "x.tests.yaml"
    tests.write_text("kpirules_tests: 1\nruleset: nope.yaml\ntests: []\n", "utf-8")
    _, problems = kpirules.check(tests)
    assert [(p.line, p.path, p.message) for p in problems] == [
        (2, "$.ruleset", "找不到规则集文件 nope.yaml（相对测试文件所在目录）")
    ]


def test_shipped_tests_file_is_hand_computed_scheme_a() -> None:
    """The shipped scheme A tests file loads with its hand-computed cases."""
    ruleset = kpirules.load(ROOT / "rulesets" / "a-office-annual.tests.yaml")
    assert [t.expect.total for t in ruleset.tests] == [
        Decimal(97),
        Decimal("94.3"),
        Decimal("85.5"),
        None,
        Decimal(97),
        Decimal(93),
        Decimal(90),
        Decimal("89.99"),
        Decimal(60),
        Decimal("59.99"),
    ]
    assert ruleset.tests[3].expect.error == "报销审核工作质量评分"


@pytest.mark.usefixtures("english_text")  # pins the --lang en wording
def test_cohort_rank_and_amounts_in_test_cases() -> None:
    """A case's cohort rows start from its own metrics; amounts name existing outcomes."""
    text = (
        TESTED.replace(
            "tests:\n",
            "outcomes:\n  - {id: prize, kind: reward, label: 奖金, when: total >= 90, amount: 500}\ntests:\n",
        )
        + """\
  - name: 同组
    base: 达标
    metrics: {}
    cohort:
      - {entity: 乙, rate: 5%}
    expect: {rank: 1, amounts: {prize: 500, priz: 1}}
"""
    )
    assert problems_of(text) == [
        "t.yaml:30:32: error: $.tests[1].expect.amounts: 结果规则 “priz” 不存在（是不是要写 prize？）"
    ]
    ruleset = kpirules.load("t.yaml", text=text.replace(", priz: 1", ""))
    [(entity, values)] = ruleset.tests[1].cohort
    assert entity == "乙"
    assert dict(values) == {"rate": Decimal("0.05"), "events": Decimal(4)}


def _skeleton_with(*edits: tuple[str, str]) -> str:
    text = skeleton.render("考核")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


_REMIND = (
    "  - id: rectify\n",
    "  - id: remind\n    kind: notice\n    label: 方案未落地，通报\n"
    "    when: plan_done == 否\n  - id: rectify\n",
)


def test_yes_no_metric_compared_with_yes_and_no_words() -> None:
    """`plan_done == 是` means `plan_done`, `plan_done == 否` means `not plan_done`."""
    text = _skeleton_with(
        ("    when: total >= 90\n", "    when: total >= 90 and plan_done == 是\n"), _REMIND
    )
    ruleset = kpirules.load("t.yaml", text=text)
    base = {"audits": 1000, "audit_errors": 10, "satisfaction": "96%", "publicity_events": 4}
    base |= {"downtime": 10, "innovations": 0, "fund_incidents": 0}
    done, undone = ruleset.evaluate_many(
        [("甲", {**base, "plan_done": "是"}), ("乙", {**base, "plan_done": "否"})]
    )
    assert (done.total, [o.id for o in done.outcomes]) == (Decimal("100.00"), ["commend"])
    # 乙 loses the 20 points of plan_score: 80, 良好, and only the notice fires.
    assert (undone.total, [o.id for o in undone.outcomes]) == (Decimal("80.00"), ["remind"])


def test_yes_no_word_against_a_number_or_an_unknown_name() -> None:
    """`total == 否` is refused; a misspelt name gets one suggestion, an unknown one no list."""
    text = _skeleton_with(
        ("    when: total >= 90\n", "    when: plan_dne == 是\n"),
        _REMIND,
        ("plan_done == 否", "total == 否"),
        ("when: fund_incidents > 0", "when: 基金安全事件 > 0"),
    )
    assert problems_of(text) == [
        "t.yaml:120:11: 错误 KR336：一票否决“发生重大基金安全事件，一票否决” › 条件："
        "否决条件中的名字 “基金安全事件” 没有定义"
        "（公式中写数据的 id：是不是要写 fund_incidents（重大基金安全事件）？）",
        "t.yaml:136:11: 错误 KR336：奖惩结果“给予表彰” › 条件："
        "结果条件中的名字 “plan_dne” 没有定义（是不是要写 plan_done？）",
        "t.yaml:140:11: 错误 KR335：奖惩结果“方案未落地，通报” › 条件："
        "“total” 不是是/否指标，不能与 是、否、有、无 比较（结果条件：total == 否）"
        "（是/否只用于 unit: yes_no 的指标；数值请写比较，如 total >= 90）",
    ]


def test_unknown_name_lists_no_ids_when_none_is_alike() -> None:
    """A name like no id says what a name may be instead of listing every id."""
    text = _skeleton_with(("when: fund_incidents > 0", "when: zzz > 0"))
    assert problems_of(text) == [
        "t.yaml:120:11: 错误 KR336：一票否决“发生重大基金安全事件，一票否决” › 条件："
        "否决条件中的名字 “zzz” 没有定义"
        "（公式中的名字应是 metrics 中的数据、指标或类别的 id，或 total、raw_total 等内置名字）"
    ]


def test_badly_written_dates_show_the_accepted_form() -> None:
    """`from: 2026/1/1`, `2026.1.1`, `2026年1月1日` name the form 2026-01-01."""
    for written in ("2026/1/1", "2026.1.1", "2026年1月1日"):
        text = BASE.replace("from: 2026-01-01", f"from: {written}")
        [line] = [p for p in problems_of(text) if "KR207" in p]
        assert line == (
            f"t.yaml:6:18: 错误 KR207：施行期间 › 从（含）：日期 “{written}” 的写法不对"
            f"（日期写成 年-月-日，月和日各两位，如 2026-01-01、2026-12-31："
            f"“{written}” 写成 2026-01-01）"
        )
    text = BASE.replace("from: 2026-01-01", "from: 2026-02-30")
    assert "t.yaml:6:18: 错误 KR304：施行期间 › 从（含）：日期 “2026-02-30” 不存在" in problems_of(
        text
    )


def test_one_wrong_weight_is_not_repeated_for_every_test_case() -> None:
    """A weight of 10 where the cases expect 20 and 12.5: said once, not per test case."""
    text = _skeleton_with(
        (
            "        metric: audit_error_rate\n        weight: 20\n",
            "        metric: audit_error_rate\n        weight: 10\n",
        )
    )
    lines = problems_of(text)
    assert [line.split("：")[0].split(": ")[1] for line in lines] == ["错误 KR344", "警告 KR416"]
    assert lines[1] == (
        "t.yaml:148:3: 警告 KR416：测试用例：规则集有错误，测试用例的预期得分未检查"
        "（先改正上面的错误，再运行 kpirules validate 和 kpirules test）"
    )


@pytest.mark.usefixtures("english_text")
def test_wrong_weight_under_lang_en_keeps_each_expectation() -> None:
    """Under --lang en the earlier behaviour stays: each out-of-range expectation is listed."""
    text = _skeleton_with(
        (
            "        metric: audit_error_rate\n        weight: 20\n",
            "        metric: audit_error_rate\n        weight: 10\n",
        )
    )
    assert [p.split(": ")[1] for p in problems_of(text)] == ["error", "error", "error"]
