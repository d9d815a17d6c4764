"""The web explorer in a real headless Chromium (Debian's `chromium`, driven by Playwright's
Python API with that executable; no browser download): search a title, rate films, watch the
recommendations change, open a film's card, hover the PCA map. A screenshot is saved in the
test's temp directory."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("EMBEDREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip: .[dev])")
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )


def rec_titles(page) -> list[str]:
    return page.locator("#recs li .title").all_inner_texts()


def test_search_rate_and_watch_the_recommendations_change(server, tmp_path):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")
            page.wait_for_selector("#recs li .title")
            page.wait_for_selector("#map circle")
            assert "dot-bias model: 943 users, 1,682 items" in page.inner_text("#model-info")
            before = rec_titles(page)
            assert len(before) == 10

            page.fill("#search", "star wars")
            first = page.locator("#results li").first
            first.locator(".title").wait_for()
            assert first.locator(".title").inner_text() == "Star Wars (1977)"
            first.locator(".stars button[data-value='5']").click()
            page.wait_for_function(
                "before => [...document.querySelectorAll('#recs li .title')]"
                ".map(e => e.textContent).join('|') !== before",
                arg="|".join(before),
            )
            after_one = rec_titles(page)
            assert "1 rating" in page.inner_text("#recs-note")
            assert "Star Wars (1977)" not in after_one and after_one != before

            page.fill("#search", "toy story")
            page.locator("#results li .title", has_text="Toy Story (1995)").wait_for()
            page.locator("#results li").first.locator(".stars button[data-value='1']").click()
            page.wait_for_function(
                "() => document.querySelectorAll('#rated li[data-item]').length === 2"
            )
            page.wait_for_function(
                "before => [...document.querySelectorAll('#recs li .title')]"
                ".map(e => e.textContent).join('|') !== before",
                arg="|".join(after_one),
            )
            assert "2 ratings" in page.inner_text("#recs-note")

            page.locator("#rated li .title", has_text="Star Wars").click()
            page.wait_for_function(
                "() => document.getElementById('detail-title').textContent === 'Star Wars (1977)'"
            )
            page.locator("#neighbours li").first.wait_for()
            assert page.locator("#neighbours li").count() == 10
            facts = page.inner_text("#detail-facts")
            assert "Sci-Fi" in facts and "Adventure" in facts
            float(page.inner_text("#detail-bias"))  # the learned bias, a number

            dot = page.locator("#map circle").first
            dot.hover()
            assert page.locator("#tooltip").is_visible()
            assert page.inner_text("#tooltip") == dot.get_attribute("data-title")
            assert page.locator("#map circle").count() == 300

            shot = tmp_path / "explorer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert not errors, errors
        finally:
            browser.close()


def test_the_api_docs_render_with_no_network_beyond_the_server(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            elsewhere: list[str] = []
            page.on(
                "request",
                lambda request: (
                    None if request.url.startswith(server.url) else elsewhere.append(request.url)
                ),
            )
            page.goto(server.url + "/docs")
            route = "/users/{user}/recommendations"
            page.locator(".opblock-summary-path", has_text=route).first.wait_for()
            assert not elsewhere, elsewhere
        finally:
            browser.close()
