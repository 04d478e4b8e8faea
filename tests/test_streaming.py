"""Scoring in chunks (kpirules.streaming, kpirules.twopass): the same output as scoring whole."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

import kpirules
from kpirules import report, summary
from kpirules.cli import run
from kpirules.inputs import MetricsStream, read_metrics
from kpirules.twopass import CohortSummary, Ranking, cohort_summary, score_each

ROOT = Path(__file__).resolve().parent.parent
A = ROOT / "rulesets" / "a-office-annual.yaml"
A_DATA = ROOT / "examples" / "a-offices-2026.csv"
D = ROOT / "rulesets" / "d-internal-quarterly.yaml"
D_DATA = ROOT / "examples" / "d-departments-2026q1.csv"
PAIRS = [
    (A, A_DATA),
    (A, ROOT / "examples" / "a-offices-2026-excel-gbk.csv"),
    (A, ROOT / "examples" / "a-offices-2026.xlsx"),
    (D, D_DATA),
    (ROOT / "rulesets" / "c-staff-halfyear.yaml", ROOT / "examples" / "c-staff-2026h1.csv"),
]


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def whole(ruleset_path: Path, data: Path, fmt: str, *extra: str) -> str:
    """The output as rendered from every result at once (how `score` rendered it before)."""
    ruleset = kpirules.load(ruleset_path)
    results = ruleset.evaluate_many(read_metrics(data, ruleset))
    order: summary.Order = "input" if "input" in extra else "rank"
    headers: report.Headers = "id" if "id" in extra else "zh"
    exact = "--exact" in extra
    if fmt == "json":
        return report.to_json(summary.ordered(results, "rank" if "rank" in extra else "input"))
    if fmt == "csv":
        return report.to_csv(ruleset, results, headers=headers, exact=exact, order=order)
    return report.table(ruleset, results, headers=headers, exact=exact, order=order)


@pytest.mark.parametrize(("ruleset", "data"), PAIRS, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_streamed_output_is_byte_identical(ruleset: Path, data: Path, fmt: str, jobs: str) -> None:
    """Every format, one process or two, equals the output rendered from all results at once."""
    code, out, err = call("score", str(ruleset), str(data), "--format", fmt, "--jobs", jobs)
    assert code == 0, err
    assert out == whole(ruleset, data, fmt)


_OPTIONS = [("--sort", "input"), ("--headers", "id"), ("--exact",), ("--sort", "rank")]


@pytest.mark.parametrize(
    ("fmt", "extra"),
    # JSON has neither headers nor rounded values: only the sort options apply to it.
    [(f, e) for f in ("table", "csv", "json") for e in _OPTIONS if f != "json" or e[0] == "--sort"],
)
def test_streamed_options_are_byte_identical(fmt: str, extra: tuple[str, ...]) -> None:
    """Sort order, id headers and exact values stream exactly as before (cohort ruleset)."""
    code, out, err = call("score", str(D), str(D_DATA), "--format", fmt, "--jobs", "2", *extra)
    assert code == 0, err
    assert out == whole(D, D_DATA, fmt, *[e for e in extra if not e.startswith("--s")])


def test_output_file_has_bom_and_is_identical(tmp_path: Path) -> None:
    """A CSV file written in chunks carries the byte-order mark and the same rows."""
    target = tmp_path / "out.csv"
    code, _, err = call("score", str(D), str(D_DATA), "--output", str(target), "--jobs", "2")
    assert code == 0, err
    assert err.endswith("（5 个对象）\n")
    assert target.read_bytes() == b"\xef\xbb\xbf" + whole(D, D_DATA, "csv").encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_many_rows_rank_ties_and_chunks(tmp_path: Path) -> None:
    """Over several chunks, equal totals share a rank and keep input order (1, 1, 3, …)."""
    rows = A_DATA.read_text("utf-8").splitlines()
    body = [row.split(",", 1)[1] for row in rows[1:]]
    many = [rows[0]] + [f"医保办{n:04d},{body[n % len(body)]}" for n in range(700)]
    data = tmp_path / "many.csv"
    data.write_text("\n".join(many) + "\n", "utf-8")
    for jobs in ("1", "2"):
        code, out, err = call("score", str(A), str(data), "--format", "csv", "--jobs", jobs)
        assert code == 0, err
        assert out == whole(A, data, "csv")
    lines = out.splitlines()
    # Four offices repeat 175 times each: the copies of the best (the fourth, 97.12) share
    # rank 1 in input order, those of the second best (97.00) rank 176.
    assert lines[1].startswith("1,医保办0003,") and lines[2].startswith("1,医保办0007,")
    assert lines[175].startswith("1,医保办0699,")
    assert lines[176].startswith("176,医保办0000,")


def test_bad_rows_are_all_reported_and_nothing_written(tmp_path: Path) -> None:
    """Problems of rows in different chunks are all reported with line and column; the
    output file is not created."""
    rows = A_DATA.read_text("utf-8").splitlines()
    body = [row.split(",", 1)[1] for row in rows[1:]]
    many = [rows[0]] + [f"医保办{n:04d},{body[n % len(body)]}" for n in range(600)]
    for n in (10, 550):
        cells = many[n + 1].split(",")
        cells[3] = "九十"
        many[n + 1] = ",".join(cells)
    data = tmp_path / "bad.csv"
    data.write_text("\n".join(many) + "\n", "utf-8")
    target = tmp_path / "out.csv"
    code, out, err = call("score", str(A), str(data), "--output", str(target), "--jobs", "2")
    assert code == 1
    assert out == ""
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.csv"]
    lines = err.splitlines()
    why = "settlements_on_time：指标 “按时结算笔数” 的值无法读出数值 “九十”：应写成数字加可选单位，如 95%、4次、5万元"
    assert lines[:2] == [f"{data}:12:4: 错误 KR534：{why}", f"{data}:552:4: 错误 KR534：{why}"]
    assert lines[-1] == f"{data}: 指标数据有误，未计分"


def test_two_partitions_combine_to_the_whole_cohort() -> None:
    """Cohort summaries and rankings of two partitions combine: scoring each partition with
    the combined summary gives exactly the results of scoring all rows together."""
    ruleset = kpirules.load(D)
    rows = read_metrics(D_DATA, ruleset)
    together = ruleset.evaluate_many(rows)
    first, second = rows[:2], rows[2:]
    combined = cohort_summary(ruleset, first).combine(cohort_summary(ruleset, second))
    assert combined.entities == 5
    assert sorted(combined.values) == sorted(cohort_summary(ruleset, rows).values)
    for key, values in combined.values.items():
        assert sorted(values) == sorted(cohort_summary(ruleset, rows).values[key])
    parts = [list(score_each(ruleset, part, combined)) for part in (first, second)]
    scored = [r for part in parts for r in part]
    assert all(isinstance(r, kpirules.Result) for r in scored)
    ranking = Ranking.of(r.total for r in scored[:2]).combine(
        Ranking.of(r.total for r in scored[2:])
    )
    for alone, streamed in zip(together, scored, strict=True):
        assert streamed.rank is None
        assert streamed.items == alone.items
        assert streamed.total == alone.total
        assert ranking.rank(streamed.total) == alone.rank
        assert ranking.size == alone.cohort_size


def test_ranking_is_competition_ranking() -> None:
    """Totals 90, 80, 80, 70 rank 1, 2, 2, 4."""
    ranking = Ranking.of(Decimal(t) for t in ("80", "90", "70", "80"))
    assert [ranking.rank(Decimal(t)) for t in ("90", "80", "70")] == [1, 2, 4]


def test_empty_summary_combines() -> None:
    """An empty summary is the neutral element."""
    summary_ = CohortSummary({"x": (Decimal(1),)}, 1)
    assert CohortSummary().combine(summary_) == summary_


def test_stream_rows_carry_their_own_locations() -> None:
    """Each row of a streamed CSV file says where its entity and values sit, and no more."""
    ruleset = kpirules.load(A)
    rows = list(MetricsStream(A_DATA, ruleset).rows())
    entity, _, where = rows[1]
    assert where.rows == {entity: 3}
    assert {key[0] for key in where.cells} == {entity}
    assert where.cells[(entity, "payments")] == (3, 3)


def test_scoring_problems_are_located_as_before(tmp_path: Path) -> None:
    """A row that reads but cannot be scored is named by its line, as scoring whole did."""
    header = A_DATA.read_text("utf-8").splitlines()[0]
    tail = "100%,100%,80;90;90;90;100,96%,85;85;85;85;85,100,90"
    data = tmp_path / "bad.csv"
    data.write_text(
        f"{header}\n甲,20000,10000,2400,2400,{tail}\n乙,0,10000,2400,2400,{tail}\n"
        f"丙,0,10000,2500,2400,{tail}\n",
        "utf-8",
    )
    code, out, err = call("score", str(A), str(data), "--jobs", "2")
    assert (code, out) == (1, "")
    assert err == (
        f"{data}:2:1: 错误 KR612：甲：payment_accuracy：派生指标 “医疗保险基金收付准确率” 的计算结果 -100.00% 超出取值范围"
        "（数据无误时（如增长率可为负），在规则集 metrics 的 payment_accuracy 下写 min: -100% 或更小的数；"
        "百分比不写 min、max 时为 0% 到 100%；否则改正数据）\n"
        f"{data}:4:1: 错误 KR612：丙：settlement_timeliness：派生指标 “医疗保险结算及时率” 的计算结果 104.17% 超出取值范围"
        "（数据无误时（如比值可超过 100%），在规则集 metrics 的 settlement_timeliness 下写 max: 104.17% 或更大的数；"
        "百分比不写 min、max 时为 0% 到 100%；否则改正数据）\n"
        f"{data}: 无法计分\n"
    )


def test_score_rows_equals_evaluate_many_with_jobs() -> None:
    """kpirules.score_rows gives evaluate_many's results, ranks included, with two workers,
    for a list and for an iterator."""
    for path, data in ((A, A_DATA), (D, D_DATA)):
        ruleset = kpirules.load(path)
        rows = read_metrics(data, ruleset)
        expected = ruleset.evaluate_many(rows)
        assert kpirules.score_rows(ruleset, rows, jobs=2) == expected
        assert kpirules.score_rows(ruleset, iter(rows), jobs=1) == expected


def test_score_rows_reports_problems_like_evaluate_many() -> None:
    """A duplicate id and a bad value are reported together, as evaluate_many reports them."""
    ruleset = kpirules.load(A)
    rows = read_metrics(A_DATA, ruleset)
    bad = [*rows, rows[0], ("新医保办", {**rows[1][1], "payments": "很多"})]
    with pytest.raises(kpirules.EvaluationError) as whole_error:
        ruleset.evaluate_many(bad)
    with pytest.raises(kpirules.EvaluationError) as streamed:
        kpirules.score_rows(ruleset, bad, jobs=2)
    assert streamed.value.problems == whole_error.value.problems
    assert [p.code for p in streamed.value.problems] == ["KR609", "KR607"]


def test_progress_bar_when_asked() -> None:
    """--progress draws the bar on stderr (count, rate); --no-progress and a stderr that is no
    terminal draw nothing; the output is the same."""
    code, out, err = call("score", str(A), str(A_DATA), "--format", "csv", "--progress")
    assert code == 0
    assert "计分: 100%" in err and "4/4" in err and "个对象/s" in err
    assert out == whole(A, A_DATA, "csv")
    for flags in (["--no-progress"], []):
        code, out, err = call("score", str(A), str(A_DATA), "--format", "csv", *flags)
        assert (code, err) == (0, "")
        assert out == whole(A, A_DATA, "csv")


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal (a pseudo-terminal here) the bar is shown without being asked for;
    with --no-progress it is not."""
    import os
    import pty
    import subprocess
    import sys

    for flags, shown in (([], True), (["--no-progress"], False)):
        leader, follower = pty.openpty()
        target = tmp_path / f"out{len(flags)}.csv"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "kpirules",
                "score",
                str(A),
                str(A_DATA),
                "--output",
                str(target),
                *flags,
            ],
            stderr=follower,
            stdout=subprocess.DEVNULL,
            check=False,
            timeout=120,
        )
        os.close(follower)
        seen = b""
        while True:
            try:
                piece = os.read(leader, 65536)
            except OSError:
                break
            if not piece:
                break
            seen += piece
        os.close(leader)
        text = seen.decode("utf-8")
        assert done.returncode == 0
        assert ("计分: 100%" in text) is shown
        assert "已写入" in text


def test_duplicate_found_far_apart(tmp_path: Path) -> None:
    """A row repeating one 1,400 lines earlier is named with both lines (the table of row keys
    grows several times on the way)."""
    rows = A_DATA.read_text("utf-8").splitlines()
    body = [row.split(",", 1)[1] for row in rows[1:]]
    many = [rows[0]] + [f"医保办{n:04d},{body[n % len(body)]}" for n in range(1500)]
    many[1401] = many[2]
    data = tmp_path / "dup.csv"
    data.write_text("\n".join(many) + "\n", "utf-8")
    code, _, err = call("score", str(A), str(data), "--jobs", "2")
    assert code == 1
    assert err.splitlines() == [
        f"{data}:1402:1: 错误 KR532：entity：编号 “医保办0001” 重复（第 3 行已出现）",
        f"{data}: 指标数据有误，未计分",
    ]


def test_row_keys_hold_many() -> None:
    """The compact table of row keys returns each key's line, and None for a new key."""
    from kpirules.tables import RowKeys, _row_key

    keys = RowKeys()
    for n in range(5000):
        keys.add(_row_key(f"对象{n}", ""), n + 2)
    assert [keys.get(_row_key(f"对象{n}", "")) for n in (0, 2500, 4999)] == [2, 2502, 5001]
    assert keys.get(_row_key("对象0", "2026")) is None


def test_a_row_that_breaks_the_scorer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error while scoring one row is reported with that row's line (KR621), in
    a worker as in the command's own process; no traceback, no output."""
    from kpirules.engine import Engine

    real = Engine.score_one

    def breaking(self: Engine, entity: str, metrics: object, cohorts: object) -> object:
        if entity == "第三医院医保办":
            raise KeyError(entity)
        return real(self, entity, metrics, cohorts)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "score_one", breaking)
    for jobs in ("1", "2"):
        code, out, err = call("score", str(A), str(A_DATA), "--jobs", jobs)
        assert (code, out) == (1, "")
        assert err == (
            f"{A_DATA}:4:1: 错误 KR621：第三医院医保办：这一行计分时程序出错（KeyError），未计分\n"
            f"{A_DATA}: 无法计分\n"
        )


def test_a_worker_that_dies_is_reported_not_hung(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process that ends abruptly is reported with the first row of its chunk
    (KR622); the command neither hangs nor prints a traceback."""
    import os

    from kpirules.engine import Engine

    def dying(self: Engine, entity: str, metrics: object, cohorts: object) -> object:
        os._exit(3)

    monkeypatch.setattr(Engine, "score_one", dying)
    code, out, err = call("score", str(A), str(A_DATA), "--jobs", "2")
    assert (code, out) == (1, "")
    assert err == (
        f"{A_DATA}:2:1: 错误 KR622：第一医院医保办：计分进程意外退出（从这一行起的 4 行未计分）\n"
        f"{A_DATA}: 无法计分\n"
    )
