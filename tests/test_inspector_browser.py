"""The inspector page in a real browser: headless Chromium (the distribution's), driven by Playwright.

Skipped, saying why, where Playwright or a Chromium executable cannot be had.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import system_chromium
from helpers import LOCATION, TOKEN, auth
from mockserver import Sandbox
from mockserver.serve.process import ServeProcess
from mockserver.serve.thread import SandboxServer

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = system_chromium.executable()
    if executable is None:
        pytest.skip("no Chromium to drive: install the distribution's chromium package (or set LCPHONE_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=system_chromium.FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def served() -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox()) as server:
        yield server


@pytest.fixture
def page(browser, served: SandboxServer):
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(f"{served.base_url}/__admin/ui")
    opened.wait_for_selector("#journal-state:text('live')")
    yield opened
    context.close()


def active(base_url: str, token: str = TOKEN, **params) -> httpx.Response:
    return httpx.get(f"{base_url}/phone-system/numbers/location/{LOCATION}", params=params, headers=auth(token))


def test_the_page_shows_the_sandbox(page, served: SandboxServer) -> None:
    overview = page.inner_text("#overview")
    assert "default" in overview and "v3, 2021-07-28" in overview and "US" in overview
    locations = page.inner_text("#locations")
    assert LOCATION in locations and "pit-****" in locations and TOKEN not in locations  # tokens masked


def test_the_coverage_tab_shows_what_the_journal_received(page, served: SandboxServer) -> None:
    assert active(served.base_url, page=99).status_code == 200
    page.click("nav.tabs .tab[data-tab=coverage]")
    assert page.locator("#journal").is_hidden()
    row = page.locator("#coverage-table tr.covered", has_text="page-past-the-end")
    row.first.wait_for(timeout=3000)
    assert "listActiveNumbers" in row.first.inner_text()
    uncovered = page.locator("#coverage-table tr.uncovered", has_text="sold").first.inner_text()
    assert "new fingerprintId" in uncovered  # how to provoke it
    assert "% of" in page.inner_text("#coverage-percent")
    page.click("nav.tabs .tab[data-tab=journal]")
    assert page.locator("#coverage").is_hidden() and page.locator("#journal").is_visible()


def test_a_request_appears_within_a_second_with_its_verdict(page, served: SandboxServer) -> None:
    assert active(served.base_url).status_code == 200
    row = page.wait_for_selector(f"#journal-table tr.entry:has-text('/location/{LOCATION}')", timeout=1000)
    assert "kept the contract" in row.inner_text() and "200" in row.inner_text()


def test_a_broken_request_is_marked_and_shows_its_rule_and_a_curl(page, served: SandboxServer) -> None:
    assert active(served.base_url, pageSize=5000).status_code == 400
    row = page.wait_for_selector("#journal-table tr.entry.broken", timeout=1000)
    assert "broke it (1)" in row.inner_text()
    row.click()
    details = page.wait_for_selector("#journal-table tr.details")
    text = details.inner_text()
    assert "pageSize: 5000 is greater than the maximum of 1000" in text and "[maximum]" in text
    assert "#/paths/~1phone-system~1numbers~1location~1{locationId}/get/parameters/1" in text
    assert "curl -s -X GET" in text and "pageSize=5000" in text and "Bearer pit-****" in text
    page.check("#filter-violations")
    assert page.locator("#journal-table tr.entry").count() == 1
    page.check("#show-tokens")  # the open entry stays open, now with the token it was sent with
    page.wait_for_selector(f"#journal-table tr.details:has-text('Bearer {TOKEN}')", timeout=2000)


def test_reset_from_the_page_empties_the_journal(page, served: SandboxServer) -> None:
    active(served.base_url)
    page.wait_for_selector("#journal-table tr.entry", timeout=1000)
    page.click("#reset")
    page.wait_for_selector("#message:text('back to its scenario')")
    page.wait_for_selector("#journal-state:text('live')")
    assert page.locator("#journal-table tr.entry").count() == 0
    assert served.sandbox.journal.entries() == []


def test_a_fault_added_from_the_page_makes_the_next_call_fail(page, served: SandboxServer) -> None:
    page.select_option("#fault-form select[name=operationId]", "listActiveNumbers")
    page.fill("#fault-form input[name=status]", "503")
    page.click("#fault-form button[type=submit]")
    page.wait_for_selector("#faults:has-text('status 503')")
    assert active(served.base_url).status_code == 503
    assert active(served.base_url).status_code == 200  # times=1: the next call only


def test_a_token_minted_and_a_scenario_loaded_from_the_page(page, served: SandboxServer) -> None:
    page.fill("#token-form input[name=locationId]", "browser-location")
    page.click("#token-form button[type=submit]")
    message = page.wait_for_selector("#message:has-text('Token for browser-location')").inner_text()
    token = message.rsplit(": ", 1)[1]
    assert (
        httpx.get(f"{served.base_url}/phone-system/numbers/location/browser-location", headers=auth(token)).status_code
        == 200
    )
    page.fill("#scenario-form textarea", "name: from-the-page\nlocations:\n  - id: pageLocation\n")
    page.click("#scenario-form button[type=submit]")
    page.wait_for_selector("#message:has-text('Scenario from-the-page loaded')")
    assert "from-the-page" in page.inner_text("#overview")


def test_beyond_loopback_a_form_takes_the_key_once(browser) -> None:
    with SandboxServer(Sandbox(admin_key="inspector-test-key")) as server:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.base_url}/__admin/ui")
        assert "admin key" in page.inner_text("body")
        page.fill("input[name=key]", "wrong")
        page.click("button[type=submit]")
        assert "not the admin key" in page.inner_text("body")
        page.fill("input[name=key]", "inspector-test-key")
        page.click("button[type=submit]")
        page.wait_for_selector("#journal-state:text('live')")
        cookies = context.cookies()
        assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("lcphone_admin", True, "Strict")]
        page.click("#reset")  # an action with the cookie and the page's CSRF token
        page.wait_for_selector("#message:text('back to its scenario')")
        assert httpx.post(f"{server.base_url}/__admin/reset").status_code == 401  # no key, no cookie
        context.close()


def test_first_paint_with_a_full_journal(browser, served: SandboxServer, record_property) -> None:
    journal = served.sandbox.journal
    for i in range(10_000):
        journal.record(
            "GET", f"/phone-system/numbers/location/{LOCATION}", f"page={i}", "listActiveNumbers", 200, [], "v3"
        )
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{served.base_url}/__admin/ui")
    page.wait_for_selector("#journal-count:has-text('10000 request(s) in the journal')", timeout=10_000)
    page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
    paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
    shown = page.evaluate("performance.getEntriesByName('journal-shown')[0].startTime")
    # Figures, not asserts on time: bench/inspector_paint.py measures them for bench/results.md
    record_property("inspector_first_paint_ms", round(paint))
    record_property("inspector_journal_shown_ms", round(shown))
    assert paint > 0 and shown > 0  # (which comes first is the browser's business: rows can be laid out before paint)
    assert page.locator("#journal-table tr.entry").count() == 500  # the newest; the rest stays on the server
    assert "the newest 500 loaded" in page.inner_text("#journal-count")
    context.close()


def test_the_proxys_page_shows_both_verdicts_of_an_exchange(browser) -> None:
    with (
        ServeProcess("--drift", "legacy-names") as staging,
        ServeProcess("--target", staging.base_url, command="proxy") as proxy,
    ):
        context = browser.new_context()
        opened = context.new_page()
        opened.goto(f"{proxy.base_url}/__admin/ui")
        assert f"Point your client at {proxy.base_url}" in opened.inner_text("#overview")
        assert "refused by the proxy, never sent" in opened.inner_text("#overview")
        opened.wait_for_selector("#journal-state:text('live')")
        assert active(proxy.base_url).status_code == 200
        row = opened.wait_for_selector("#journal-table tr.entry.broken", timeout=3000)
        assert "kept the contract" in row.inner_text() and "vendor drift (1)" in row.inner_text()
        row.click()
        details = opened.wait_for_selector("#journal-table tr.details").inner_text()
        assert "No rule of the contract broken." in details and "answer, vendor drift:" in details
        context.close()


def test_a_401_for_an_unknown_token_says_so(page, served: SandboxServer) -> None:
    assert active(served.base_url, token="pit-not-known-here").status_code == 401
    row = page.wait_for_selector("#journal-table tr.entry:has-text('unknown token')", timeout=1000)
    row.click()
    assert "GET /__admin/locations" in page.inner_text("#journal-table tr.details")
