"""The HTML report: content, escaping, charts, and what a real headless browser makes of it
(rendered DOM, network requests, printed A4 pages)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import attrs
import pytest
from pypdf import PdfReader

import kpirules
from kpirules import html_report
from kpirules.cli import run
from kpirules.inputs import read_metrics
from kpirules.model import Rounding, Ruleset
from kpirules.result import Result

ROOT = Path(__file__).resolve().parent.parent
RULESET = ROOT / "rulesets" / "a-office-annual.yaml"
METRICS = ROOT / "examples" / "a-offices-2026.csv"

#: The shipped example, by rank, with its hand-computed totals (see docs/rulesets.md).
EXPECTED = [
    ("中医院医保办", "97.12"),
    ("第一医院医保办", "97.00"),
    ("第二医院医保办", "93.20"),
    ("第三医院医保办", "83.47"),
]

HOSTILE = [
    "<script>alert(1)</script>",
    '"onmouseover="alert(1)',
    "</style><b>粗体</b>",
]

CHROMIUM_TIMEOUT = 120


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def scored() -> tuple[Ruleset, tuple[Result, ...]]:
    ruleset = kpirules.load(RULESET)
    return ruleset, ruleset.evaluate_many(read_metrics(METRICS, ruleset))


def _renamed(tmp: Path, names: list[str]) -> Path:
    """The example metrics with its rows repeated and the entities renamed."""
    with METRICS.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    out = tmp / "metrics.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        for n, name in enumerate(names):
            writer.writerow([name, *rows[1 + n % (len(rows) - 1)][1:]])
    return out


def find_chromium() -> str:
    """The headless browser's path; the test fails, saying how to install it, when absent."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "chromium is needed for the browser tests of the HTML report and is not installed: "
        "run `apt-get install -y chromium` (Debian/Ubuntu), then run the tests again"
    )


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def test_missing_browser_fails_saying_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without chromium the browser tests fail (never skip) and say how to install it."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"run `apt-get install -y chromium`"):
        find_chromium()


def _browse(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless chromium once, bounded in time, with a fresh profile and no sandbox
    (tests may run as root)."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example's report, made by the command line."""
    out = tmp_path_factory.mktemp("report") / "报告.html"
    code, _, err = call(
        "report", str(RULESET), str(METRICS), "--output", str(out), "--period", "2026"
    )
    assert code == 0, err
    assert err == f"已写入 {out}（4 个对象）\n"
    return out


class _Tables(HTMLParser):
    """Collects the text of every table cell, table by table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


class _Elements(HTMLParser):
    """Collects every element's tag and attribute names."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)


def _tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _net_requests(net_log: Path) -> list[str]:
    """URLs of the requests a page made: chromium's own background requests (updates,
    accounts, time) carry no page in their network isolation key and are left out."""
    data = json.loads(net_log.read_text(encoding="utf-8"))
    start = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in data["events"]
        if e["type"] == start and "file://" in e["params"].get("network_isolation_key", "")
    ]


def test_page_renders_every_entity_and_total(
    chromium: str, example_report: Path, tmp_path: Path
) -> None:
    """chromium --dump-dom shows the ranking with every entity and its hand-computed total."""
    dom = _browse(chromium, tmp_path / "p", "--dump-dom", example_report.as_uri()).stdout
    ranking = _tables(dom)[0]
    header = ranking[0]
    assert header[:2] == ["排名", "对象"]
    entity, total, grade = header.index("对象"), header.index("总分"), header.index("等级")
    assert [(row[entity], row[total]) for row in ranking[1:]] == EXPECTED
    assert [row[grade] for row in ranking[1:]] == ["优秀", "优秀", "优秀", "良好"]
    for name, _ in EXPECTED:
        assert f"<h2>{name}</h2>" in dom
    assert "综合评分排名靠前，予以表彰：中医院医保办、第一医院医保办、第二医院医保办" in dom


def test_no_request_leaves_the_page(chromium: str, example_report: Path, tmp_path: Path) -> None:
    """Opening the report makes no network request at all (checked in chromium's net log)."""
    log = tmp_path / "net.json"
    _browse(
        chromium,
        tmp_path / "p",
        f"--log-net-log={log}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--dump-dom",
        example_report.as_uri(),
    )
    assert set(_net_requests(log)) <= {example_report.as_uri()}


def test_net_log_check_sees_a_page_request(chromium: str, tmp_path: Path) -> None:
    """The net-log check is not blind: a page that loads an image and a style sheet shows both."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><img src="http://example.invalid/x.png">'
        '<link rel="stylesheet" href="https://fonts.example.invalid/a.css">',
        encoding="utf-8",
    )
    log = tmp_path / "net.json"
    _browse(
        chromium,
        tmp_path / "p",
        f"--log-net-log={log}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--dump-dom",
        page.as_uri(),
    )
    assert set(_net_requests(log)) == {
        "http://example.invalid/x.png",
        "https://fonts.example.invalid/a.css",
    }


def test_no_external_reference_in_the_html(example_report: Path) -> None:
    """No URL, no src, no style sheet or font link; only in-page links; a strict CSP first."""
    html = example_report.read_text(encoding="utf-8")
    assert "http:" not in html
    assert "https:" not in html
    assert "//" not in html
    assert not re.search(r"\b(src|srcset|action|poster|xlink:href)\s*=", html)
    assert "url(" not in html
    assert "@import" not in html
    assert set(re.findall(r'href="([^"]*)"', html)) == {f"#entity-{n}" for n in range(1, 5)}
    head = html[: html.index("<style>")]
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src '
        "'none'; style-src 'unsafe-inline'; img-src data:\">" in head
    )


@attrs.frozen
class Printed:
    """A report printed to PDF: each page's text, and the headings with their pages."""

    texts: list[str]
    #: (heading, level, page) in order; level 1 is h2 (汇总, 图表, an entity), 2 is h3.
    headings: list[tuple[str, int, int]]


def _print(chromium: str, report: Path, tmp: Path) -> Printed:
    """Print the report as chromium does on A4, with the headings as the PDF's outline
    (the outline holds the headings' text whatever fonts the machine has)."""
    pdf = tmp / "report.pdf"
    _browse(
        chromium,
        tmp / "p",
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        "--generate-pdf-document-outline",
        report.as_uri(),
    )
    reader = PdfReader(pdf)
    headings: list[tuple[str, int, int]] = []

    def walk(entries: list[Any], level: int) -> None:
        for entry in entries:
            if isinstance(entry, list):
                walk(entry, level + 1)
            else:
                headings.append((entry.title, level, reader.get_destination_page_number(entry)))

    walk(reader.outline, 0)
    return Printed([p.extract_text() for p in reader.pages], headings)


def _numbers(text: str) -> list[str]:
    """The numbers in a page's text (they print in any font)."""
    return re.findall(r"\d+(?:\.\d+)?", text)


def test_printed_pages_summary_then_one_page_per_entity(
    chromium: str, example_report: Path, tmp_path: Path
) -> None:
    """Printed to PDF: the ranking page, the charts page, then exactly one page per entity."""
    printed = _print(chromium, example_report, tmp_path)
    assert len(printed.texts) == 2 + len(EXPECTED)
    top = [(title, page) for title, level, page in printed.headings if level == 1]
    assert top == [
        ("汇总", 0),
        ("否决与奖惩", 0),
        ("图表", 1),
        *[(name, 2 + n) for n, (name, _) in enumerate(EXPECTED)],
    ]
    for n, (_, total) in enumerate(EXPECTED):
        page = 2 + n
        # the entity's own headings all on its page
        assert [(t, p) for t, level, p in printed.headings if level == 2 and p == page] == [
            ("类别小计", page),
            ("逐项计分说明", page),
        ]
        assert _numbers(printed.texts[page])[0] == total


def test_long_ranking_repeats_its_header_on_every_page(chromium: str, tmp_path: Path) -> None:
    """60 entities: the ranking runs over several pages, each starting with the table
    header; the totals chart is cut in two; then one page per entity, in rank order."""
    names = [f"第{n:02d}号医保办" for n in range(1, 61)]
    metrics = _renamed(tmp_path, names)
    out = tmp_path / "long.html"
    code, _, err = call("report", str(RULESET), str(metrics), "--output", str(out))
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    assert html.count("<figcaption>各对象总分（续）</figcaption>") == 1
    printed = _print(chromium, out, tmp_path)
    top = [(title, page) for title, level, page in printed.headings if level == 1]
    assert top[0] == ("汇总", 0)
    charts = dict(top)["图表"]
    assert charts >= 2  # the ranking needs more than one page
    for text in printed.texts[1:charts]:
        # the header row comes first: 资金管理（40分）, 医保业务管理（30分）, …
        assert _numbers(text)[:4] == ["40", "30", "20", "10"]
    # Rows repeat the example's four offices, ranked 中医院 (97.12), 第一, 第二, 第三.
    ranked = [names[i] for k in (3, 0, 1, 2) for i in range(k, 60, 4)]
    pages = len(printed.texts)
    assert top[-60:] == [(name, pages - 60 + n) for n, name in enumerate(ranked)]


def test_hostile_names_are_text(chromium: str, tmp_path: Path) -> None:
    """Entity names with markup stay text in the file and in the browser's DOM."""
    metrics = _renamed(tmp_path, [*HOSTILE, "正常医保办"])
    out = tmp_path / "hostile.html"
    code, _, err = call("report", str(RULESET), str(metrics), "--output", str(out))
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '"onmouseover' not in html
    assert "&#34;onmouseover=&#34;alert(1)" in html
    assert html.count("</style>") == 1
    assert "&lt;/style&gt;&lt;b&gt;粗体&lt;/b&gt;" in html
    dom = _browse(chromium, tmp_path / "p", "--dump-dom", out.as_uri()).stdout
    elements = _Elements()
    elements.feed(dom)
    assert "script" not in elements.tags
    assert "b" not in elements.tags
    assert elements.tags.count("style") == 1
    assert not [a for a in elements.attributes if a.startswith("on")]
    names = [row[1] for row in _tables(dom)[0][1:]]
    assert sorted(names) == sorted([*HOSTILE, "正常医保办"])


def test_report_is_deterministic_and_keeps_notes(
    scored: tuple[Ruleset, tuple[Result, ...]],
) -> None:
    """The same input gives the same bytes; notes appear in the title block, escaped."""
    ruleset, results = scored
    first = html_report.render(ruleset, results, period="2026", notes=["账本 <第 7 条>"])
    assert first == html_report.render(ruleset, results, period="2026", notes=["账本 <第 7 条>"])
    assert '<ul class="notes">\n<li>账本 &lt;第 7 条&gt;</li>\n</ul>' in first
    assert "<dt>考核期间</dt><dd>2026</dd>" in first
    assert "<dt>指纹</dt><dd>" + ruleset.fingerprint + "</dd>" in first
    assert "<dt>计分规则</dt><dd>总分保留 2 位小数，四舍五入；" in first
    plain = html_report.render(ruleset, results)
    assert "考核期间" not in plain
    assert 'class="notes"' not in plain


def test_entity_section_lists_every_item(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """Each entity's table has category, indicator, target, value, points, score, status,
    sentence and ruleset line; 第三医院's satisfaction is 85.00%, scored 3.00 of 10."""
    ruleset, results = scored
    tables = _tables(html_report.render(ruleset, results))
    # ranking, then per entity (by rank) its category subtotals and its items
    third_items = tables[1 + 3 * 2 + 1]
    assert third_items[0] == [
        "类别",
        "指标",
        "目标",
        "取值",
        "满分",
        "得分",
        "状态",
        "计分说明",
        "规则集行号",
    ]
    assert third_items[6] == [
        "医保服务质量",
        "参保人员满意度",
        "≥ 95%",
        "85.00%",
        "10.00",
        "3.00",
        "未达标",
        "参保人员满意度 85.00%，落在区间 80.00%–90.00%（0–6分），按区间线性计分，得 3.00分",
        "109",
    ]
    assert third_items[5][:6] == ["医保业务管理", "报销审核工作质量", "", "77分", "10.00", "7.70"]
    assert tables[1 + 3 * 2] == [
        ["类别", "满分", "小计"],
        ["资金管理", "40.00", "38.52"],
        ["医保业务管理", "30.00", "26.30"],
        ["医保服务质量", "20.00", "10.00"],
        ["安全管理", "10.00", "8.65"],
    ]


def _rects(svg: str) -> list[dict[str, str]]:
    return [dict(re.findall(r'(\w+)="([^"]*)"', m)) for m in re.findall(r"<rect ([^>]*)/>", svg)]


def test_total_chart_bars_proportional(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """Totals on a 0–100 scale drawn 400 px long: 97.12 → 388.48 px, 83.47 → 333.88 px."""
    ruleset, results = scored
    (svg,) = html_report.total_chart(ruleset, results)
    assert [r["width"] for r in _rects(svg)] == ["388.48", "388", "372.8", "333.88"]
    assert re.findall(r'class="value"[^>]*>([^<]*)<', svg) == ["97.12", "97.00", "93.20", "83.47"]
    assert re.findall(r'class="label"[^>]*>([^<]*)<', svg) == [n for n, _ in EXPECTED]


def test_attainment_chart_shows_rounded_rates(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """基金收付准确性 scored 0.985625 of its points: a 394.25 px bar labelled 98.56%."""
    ruleset, results = scored
    (svg,) = html_report.attainment_chart(ruleset, results)
    rects = _rects(svg)
    assert len(rects) == 9
    assert rects[0]["width"] == "394.25"
    values = re.findall(r'class="value"[^>]*>([^<]*)<', svg)
    assert values[0] == "98.56%"
    assert values[5] == "75.50%"  # 参保人员满意度: (9.6 + 10 + 7.6 + 3) / 40 = 0.755
    assert rects[5]["width"] == "302"


def test_grade_chart_columns_proportional(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """Three 优秀 and one 良好: columns 160 and 53.33 px high, standing on the axis."""
    ruleset, results = scored
    svg = str(html_report.grade_chart(ruleset, results))
    rects = _rects(svg)
    assert [r["height"] for r in rects] == ["160", "53.33", "0", "0"]
    assert [r["y"] for r in rects] == ["28", "134.67", "188", "188"]
    assert re.findall(r'class="label"[^>]*>([^<]*)<', svg) == ["优秀", "良好", "合格", "不合格"]
    assert re.findall(r'class="value"[^>]*>([^<]*)<', svg) == ["3 个", "1 个", "0 个", "0 个"]


def test_chart_clamps_and_cuts_long_labels() -> None:
    """Bars stay within 0..400 px; a long label is cut with … and kept whole in the tooltip."""
    long = "非常非常长的指标名称一二三四五六七八九十"
    svg = str(
        html_report.bar_chart(
            "图",
            [
                html_report.Bar(long, Decimal("1.5"), "150%"),
                html_report.Bar("负", Decimal("-1"), "-100%"),
                html_report.Bar("半", Decimal("0.5"), "50%"),
            ],
            maximum=Decimal(1),
        )
    )
    assert [r["width"] for r in _rects(svg)] == ["400", "0", "200"]
    assert f"<title>{long}：150%</title>" in svg
    assert ">非常非常长的指标名称一二三四五六…</text>" in svg


def test_rates_follow_the_rulesets_rounding(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """Shown rates use the ruleset's places and mode: 98.5625% is 98.5% with one place, down."""
    ruleset, _ = scored
    down = attrs.evolve(ruleset, rounding=Rounding(places=1, mode="down", at="total"))
    assert html_report.percent_text(down, Decimal("0.985625")) == "98.5%"
    assert html_report.percent_text(ruleset, Decimal("0.985625")) == "98.56%"
    assert html_report.percent_text(ruleset, Decimal("0.755")) == "75.50%"


def test_score_format_html_is_the_report(example_report: Path, tmp_path: Path) -> None:
    """score --output x.html writes the same bytes as report; --format html prints it."""
    out = tmp_path / "x.html"
    code, _, err = call(
        "score", str(RULESET), str(METRICS), "--output", str(out), "--period", "2026"
    )
    assert code == 0, err
    assert out.read_bytes() == example_report.read_bytes()
    code, printed, _ = call(
        "score", str(RULESET), str(METRICS), "--format", "html", "--period", "2026"
    )
    assert code == 0
    assert printed == example_report.read_text(encoding="utf-8")


def test_recorded_run_notes_the_ledger(tmp_path: Path) -> None:
    """score --record --format html names the ledger entries and the last hash in the report."""
    ledger = tmp_path / "audit.sqlite"
    out = tmp_path / "r.html"
    code, _, err = call(
        "score", str(RULESET), str(METRICS), "--record", str(ledger), "--output", str(out)
    )
    assert code == 0, err
    code, verified, _ = call("verify", str(ledger))
    assert code == 0
    head = verified.splitlines()[-1].split("当前检查点 ")[1].split("（")[0]
    assert head.startswith("4:")
    html = out.read_text(encoding="utf-8")
    assert f"<li>已记入审计记录 {ledger}：检查点 {head}（记录文件 " in html


def test_report_refuses_to_overwrite(example_report: Path) -> None:
    """An existing report is kept unless --force; then it is replaced."""
    before = example_report.read_bytes()
    code, _, err = call("report", str(RULESET), str(METRICS), "--output", str(example_report))
    assert code == 2
    assert err == f"kpirules: 输出文件 {example_report} 已存在；要覆盖请加 --force\n"
    code, _, _ = call(
        "report",
        str(RULESET),
        str(METRICS),
        "--output",
        str(example_report),
        "--force",
        "--period",
        "2026",
    )
    assert code == 0
    assert example_report.read_bytes() == before


def test_report_needs_output() -> None:
    """Without --output the command says what is missing (exit 2)."""
    code, _, err = call("report", str(RULESET), str(METRICS))
    assert code == 2
    assert err == "kpirules report: 用法错误：缺少参数：--output（见 kpirules report --help）\n"


def test_report_bad_metrics_writes_nothing(tmp_path: Path) -> None:
    """Invalid data: the problem at its cell, exit 1, and no file written."""
    bad = tmp_path / "bad.csv"
    text = METRICS.read_text(encoding="utf-8").replace("96%", "96x%", 1)
    bad.write_text(text, encoding="utf-8")
    out = tmp_path / "r.html"
    code, _, err = call("report", str(RULESET), str(bad), "--output", str(out))
    assert code == 1
    assert err.splitlines()[-1] == f"{bad}: 指标数据有误，未计分"
    assert err.startswith(f"{bad}:2:")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_attainment_chart_leaves_out_monitored_items() -> None:
    """Scheme E: 48 indicators, 3 of them monitored only (0 points): 45 rates, in charts of
    30 and 15 bars on the same 400 px scale."""
    ruleset = kpirules.load(ROOT / "rulesets" / "e-annual-letter.yaml")
    results = ruleset.evaluate_many(read_metrics(ROOT / "examples" / "e-office-2026.yaml", ruleset))
    charts = html_report.attainment_chart(ruleset, results)
    assert [len(_rects(c)) for c in charts] == [30, 15]
    assert "（监测" not in "".join(charts)
    assert charts[1].startswith('<svg class="chart" role="img" aria-label="各指标得分率（续）"')


def test_single_unranked_result(scored: tuple[Ruleset, tuple[Result, ...]]) -> None:
    """A result scored alone has no rank: its page says “—” and the rank cell stays empty."""
    ruleset, results = scored
    alone = attrs.evolve(results[0], rank=None, cohort_size=None)
    html = html_report.render(ruleset, [alone])
    assert "<dt>排名</dt><dd>—</dd>" in html
    ranking = _tables(html)[0]
    assert ranking[1][:2] == ["", "第一医院医保办"]
    assert ranking[1][ranking[0].index("总分")] == "97.00"


def test_findings_list_vetoes_and_outcomes() -> None:
    """Scheme E: two vetoes (one office each) and four outcomes; scheme C names the bonus
    amount (20% of 12000 = 2400)."""
    e = kpirules.load(ROOT / "rulesets" / "e-annual-letter.yaml")
    e_results = e.evaluate_many(read_metrics(ROOT / "examples" / "e-office-2026.yaml", e))
    assert [(f.kind, f.label, f.entities) for f in html_report.findings(e, e_results)] == [
        (
            "一票否决",
            "发生重大基金安全事件，一票否决（等级定为不合格）（等级封顶）",
            ("妇幼保健院医保办",),
        ),
        (
            "一票否决",
            "发生数据泄露、篡改等安全事件，一票否决（总分不超过69分）（总分封顶）",
            ("中医院医保办",),
        ),
        ("奖惩结果", "乙方及相关人员可获得表彰、绩效奖励或评优推荐资格", ("城东医院医保办",)),
        ("奖惩结果", "创新举措获上级认可推广，额外给予奖励", ("城东医院医保办",)),
        ("奖惩结果", "乙方提交整改方案并限期整改", ("中医院医保办", "县人民医院医保办")),
        (
            "奖惩结果",
            "因工作失误造成重大影响，按规定追究相关人员责任",
            ("中医院医保办", "县人民医院医保办"),
        ),
    ]
    c = kpirules.load(ROOT / "rulesets" / "c-staff-halfyear.yaml")
    c_results = c.evaluate_many(read_metrics(ROOT / "examples" / "c-staff-2026h1.csv", c))
    found = html_report.findings(c, c_results)
    assert [f.entities for f in found] == [("黄敏（2,400.00 元）",), ("黄敏", "林涛")]
    html = html_report.render(c, c_results)
    assert (
        '<li><span class="kind">奖惩结果</span> 荣誉表彰：列入荣誉榜，并在医院内部进行表彰：黄敏、林涛</li>'
        in html
    )


def test_ranking_shows_each_amount_as_money() -> None:
    """The deposit example: the ranking has a column per outcome amount, in 元 with thousands
    separators at the money places (第三医院医保办: deposit 2,780,000 × 5% = 139,000.00 元,
    refunded × 77.50 / 100 = 107,725.00 元)."""
    ruleset = kpirules.load(ROOT / "examples" / "deposit-refund.yaml")
    results = ruleset.evaluate_many(
        read_metrics(ROOT / "examples" / "deposit-refund-2026.csv", ruleset)
    )
    page = html_report.render(ruleset, results)
    assert '<th class="num">考核保证金按总分返还（元）</th>' in page
    amounts = {
        r.entity: next(o.amount for o in r.outcomes if o.id == "deposit_refund")
        for r in results
        if any(o.id == "deposit_refund" for o in r.outcomes)
    }
    assert amounts["第三医院医保办"] == Decimal("107725.00")
    assert '<td class="num">107,725.00</td>' in page
    for amount in amounts.values():
        assert amount is not None
        assert f'<td class="num">{amount:,.2f}</td>' in page
