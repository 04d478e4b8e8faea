"""The web page for policy staff, driven in a real headless Chromium against a real server.

Debian's chromium is required (``scripts/install-test-tools.sh`` installs it); Playwright
drives it through ``executable_path`` and never downloads a browser of its own. A missing
browser fails these tests.
"""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from kpirules.service import Settings, create_app

ROOT = Path(__file__).resolve().parent.parent
#: Debian's chromium, found on PATH as scripts/install-test-tools.sh leaves it.
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(Settings(ROOT / "rulesets")), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < end, "the server did not start within 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None, "Chromium is missing: run bash scripts/install-test-tools.sh"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    opened = context.new_page()
    failures: list[str] = []
    opened.on("pageerror", lambda e: failures.append(str(e)))
    opened.on(
        "response",
        lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    opened.goto(base_url + "/")
    expect(opened.locator("#ruleset option")).to_have_count(7)
    yield opened
    context.close()
    assert failures == []


def choose(page: Page, ruleset: str, period: str, metrics: Path) -> None:
    page.select_option("#ruleset", ruleset)
    page.fill("#period", period)
    page.locator("#period").dispatch_event("change")
    page.set_input_files("#file", str(metrics))


def test_upload_a_workbook_read_the_ranking_and_download_the_results(page: Page) -> None:
    """The shipped workbook scores on the page: ranking by total, grades, an explanation,
    the results workbook downloads."""
    choose(page, "a-office-annual", "2026", ROOT / "examples" / "a-offices-2026.xlsx")
    expect(page.locator("#version")).to_contain_text("期间 2026 施行：")
    page.focus("#score-button")
    page.keyboard.press("Enter")
    expect(page.locator("#score-status")).to_have_text("已计分：4 个对象")
    rows = page.locator("#ranking-table tbody tr")
    expect(rows).to_have_count(4)
    table = [[cell.inner_text() for cell in row.locator("td").all()[:4]] for row in rows.all()]
    assert table == [
        ["1", "中医院医保办", "97.12", "优秀"],
        ["2", "第一医院医保办", "97.00", "优秀"],
        ["3", "第二医院医保办", "93.20", "优秀"],
        ["4", "第三医院医保办", "83.47", "良好"],
    ]
    page.get_by_role("button", name="查看 第二医院医保办 的说明").click()
    expect(page.locator("#explain-text")).to_contain_text("总分：93.20分")
    expect(page.locator("#explain-title")).to_be_focused()
    with page.expect_download() as info:
        page.click("#xlsx-button")
    download = info.value
    assert download.suggested_filename == "结果.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert book.sheetnames[0] == "汇总"
    with page.expect_download() as info:
        page.click("#html-button")
    report = info.value
    assert report.suggested_filename == "报告.html"
    html = Path(report.path()).read_text("utf-8")
    assert "第二医院医保办" in html and "93.20" in html


def test_template_downloads_for_the_chosen_ruleset(page: Page) -> None:
    """The template link gives the data-entry workbook of the chosen ruleset."""
    page.select_option("#ruleset", "c-staff-halfyear")
    page.locator("#ruleset").dispatch_event("change")
    with page.expect_download() as info:
        page.click("#template-link")
    book = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert "填写说明" in book.sheetnames


def test_problems_in_the_upload_are_shown_at_their_rows(page: Page) -> None:
    """A messy CSV is refused and each problem is listed with its row and column."""
    choose(page, "a-office-annual", "", ROOT / "examples" / "a-offices-2026-messy.csv")
    page.click("#score-button")
    expect(page.locator("#score-status")).to_have_text("未计分")
    expect(page.locator("#problems p")).to_have_text(
        "a-offices-2026-messy.csv：指标数据有误，未计分"
    )
    first = page.locator("#problems li").first
    expect(first).to_contain_text("a-offices-2026-messy.csv 第 ")


def test_checking_a_ruleset_lists_problems_that_lead_to_their_line(page: Page) -> None:
    """A pasted ruleset with a mistake shows the problem; choosing it selects that line."""
    text = (ROOT / "rulesets" / "c-staff-halfyear.yaml").read_text(encoding="utf-8")
    broken = text.replace("mode: half_up", "mode: half_upp", 1)
    page.fill("#ruleset-text", broken)
    page.click("#check-button")
    expect(page.locator("#check-status")).to_have_text("无效：1 个错误，0 个警告")
    expect(page.locator("#check-problems li")).to_have_text(
        [
            "错误：第 35 行第 29 列，$.rounding.mode：“half_upp” 不是可用的值：可用 half_up、half_even、down、up、half_down（是不是要写 half_up？）"
        ]
    )
    page.locator("#check-problems button").first.click()
    expect(page.locator("#ruleset-text")).to_be_focused()
    selected = page.evaluate(
        "() => { const a = document.getElementById('ruleset-text');"
        " return a.value.slice(a.selectionStart, a.selectionEnd); }"
    )
    assert selected == "rounding: {places: 2, mode: half_upp, at: total}"


def test_keyboard_order_follows_the_form(page: Page) -> None:
    """Tab goes through the controls in reading order; every control has a label."""
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    assert order == ["ruleset", "period", "template-link", "file", "score-button", "ruleset-file"]
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input, select, textarea')]"
        '.filter(e => !document.querySelector(`label[for="${e.id}"]`)).map(e => e.id)'
    )
    assert unlabelled == []


def test_narrow_window_has_no_sideways_scrolling(page: Page) -> None:
    """At a phone's width the page fits; the ranking table scrolls within its own box."""
    page.set_viewport_size({"width": 360, "height": 740})
    choose(page, "a-office-annual", "2026", ROOT / "examples" / "a-offices-2026.csv")
    page.click("#score-button")
    expect(page.locator("#ranking-table tbody tr")).to_have_count(4)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360
