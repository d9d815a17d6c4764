"""The web explorer in a real headless Chromium (Debian's `chromium`, driven by Playwright's
Python API with that executable; no browser download): search a title, rate items, watch the
recommendations change, open an item's card, hover and click the PCA map; predicted stars beside
the titles, ratings kept across a reload, labels that fit the map at desktop and phone sizes, the
keyboard, the catalogue's own wording, and axe-core's accessibility rules. One browser for the
module. With EMBEDREC_SCREENSHOTS=DIR the pages are saved there as PNG (desktop and phone, before
and after rating, the map) for a person to look at."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import numpy as np
import pandas as pd
import pytest
import uvicorn

import embedrec
from embedrec.service import create_app
from tests.conftest import plays_frame
from tests.service_support import free_port

CHROMIUM = os.environ.get("EMBEDREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip: .[dev])")
axe_playwright = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="needs axe-playwright-python (pip: .[dev])"
)
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("EMBEDREC_SCREENSHOTS")  # a folder: the pages saved there as PNG
STAR_WARS = 50  # MovieLens 100k's id of Star Wars (1977)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@contextmanager
def opened(browser, url: str, viewport: dict = DESKTOP, context=None) -> Iterator[object]:
    """The page at `url` in a fresh browser context (its own localStorage) unless `context` is
    given, once its lists and map are drawn; no script error may happen meanwhile."""
    own = context is None
    context = browser.new_context(viewport=viewport) if own else context
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url + "/")
        page.wait_for_selector("#recs li .title")
        page.wait_for_selector("#map circle, #map text")  # the map, or why there is none
        yield page
        assert not errors, errors
    finally:
        page.close()
        if own:
            context.close()


def snap(page, name: str, selector: str | None = None) -> None:
    """The whole page (or the element at `selector`) as DIR/name.png when
    EMBEDREC_SCREENSHOTS=DIR is set."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        path = str(Path(SHOTS) / f"{name}.png")
        if selector is None:
            page.screenshot(path=path, full_page=True)
        else:
            page.locator(selector).screenshot(path=path)


def rec_titles(page) -> list[str]:
    return page.locator("#recs li .title").all_inner_texts()


def wait_recs_change(page, before: list[str]) -> None:
    page.wait_for_function(
        "before => [...document.querySelectorAll('#recs li .title')]"
        ".map(e => e.textContent).join('|') !== before",
        arg="|".join(before),
    )


def wait_note(page, words: str) -> None:
    """Until the note above the recommendations says `words` (a list for new ratings)."""
    page.wait_for_function(
        "words => document.getElementById('recs-note').textContent.includes(words)", arg=words
    )


def rate_first_result(page, query: str, title: str, stars: int) -> None:
    page.fill("#search", query)
    page.locator("#results li .title", has_text=title).first.wait_for()
    page.locator("#results li").first.locator(f".stars button[data-value='{stars}']").click()


def serious_violations(page) -> list[str]:
    """axe-core's rules (the copy axe-playwright-python bundles: no network) of WCAG 2.2 A and
    AA and axe's best practices (target sizes included) on the page as it is: the serious and
    critical violations, as 'rule (impact): first offending element'."""
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
    options = {"runOnly": {"type": "tag", "values": tags}}
    found = axe_playwright.Axe().run(page, options=options).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['html']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@contextmanager
def serving(model_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The service of `model_dir` on a free loopback port, in a thread of this process."""
    app = create_app(model_dir, f"sqlite:///{tmp_path / 'feedback.db'}")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(30)


BOOKS = [
    "Pride and Prejudice", "Emma", "Persuasion", "Middlemarch", "Jane Eyre", "Villette",
    "Dracula", "Frankenstein", "Carmilla", "The Monk", "Ulysses", "Dubliners",
    "Moby Dick", "Typee", "Walden", "Little Women", "Bleak House", "Hard Times",
]  # fmt: skip


@pytest.fixture(scope="module")
def books_url(tmp_path_factory) -> Iterator[str]:
    """A dot-bias model of 60 readers rating 18 books 1-5 (two taste groups), served."""
    rng = np.random.default_rng(0)
    rows = [
        (f"r{reader}", 1000 + book, title, 5 if (book < 9) == (reader < 30) else 2)
        for reader in range(60)
        for book, title in enumerate(BOOKS)
        if rng.random() < 0.7
    ]
    frame = pd.DataFrame(rows, columns=["user", "book_id", "title", "rating"])
    ratings = embedrec.ratings_from_frame(frame, rating_scale=(1, 5))
    rec = embedrec.train(ratings, model="dot-bias", epochs=3, n_factors=4, seed=0)
    rec = dataclasses.replace(
        rec, split={"name": "random", "spec": {}, "data": "/data/goodbooks/ratings.csv"}
    )
    tmp = tmp_path_factory.mktemp("books")
    with serving(rec.save(tmp / "books"), tmp) as url:
        yield url


@pytest.fixture(scope="module")
def plays_url(tmp_path_factory) -> Iterator[str]:
    """ease on 40 listeners' play counts of 20 artists: a ranking model, no ratings."""
    plays = embedrec.ratings_from_frame(plays_frame(40, 20, seed=1, titles=True))
    tmp = tmp_path_factory.mktemp("plays")
    with serving(embedrec.train(plays, model="ease").save(tmp / "plays"), tmp) as url:
        yield url


def test_search_rate_and_watch_the_recommendations_change(server, browser):
    with opened(browser, server.url) as page:
        assert "dot-bias model: 943 users, 1,682 items" in page.inner_text("#model-info")
        before = rec_titles(page)
        assert len(before) == 10
        snap(page, "desktop-before-rating")

        rate_first_result(page, "star wars", "Star Wars (1977)", 5)
        wait_recs_change(page, before)
        after_one = rec_titles(page)
        assert "1 rating" in page.inner_text("#recs-note")
        assert "Star Wars (1977)" not in after_one and after_one != before

        rate_first_result(page, "toy story", "Toy Story (1995)", 1)
        page.wait_for_function(
            "() => document.querySelectorAll('#rated li[data-item]').length == 2"
        )
        wait_recs_change(page, after_one)
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
        # a neighbour's number says what it is
        assert re.fullmatch(r"similarity -?\d\.\d\d", page.inner_text("#neighbours li .score"))

        dot = page.locator("#map circle").first
        dot.hover()
        assert page.locator("#tooltip").is_visible()
        assert page.inner_text("#tooltip") == dot.get_attribute("data-title")
        assert page.locator("#map circle").count() == 300
        snap(page, "desktop-after-rating")


def shown_stars(page) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("#recs li .predicted").all_inner_texts()]


def api_stars(server, ratings: dict) -> list[str]:
    listed = httpx2.post(server.url + "/recommendations", json={"ratings": ratings, "n": 10})
    return [f"\u2605 {row['rating']:.1f} stars predicted" for row in listed.json()["items"]]


def test_the_list_shows_predicted_stars_as_the_api_gives_them(server, browser):
    with opened(browser, server.url) as page:
        assert shown_stars(page) == api_stars(server, {})  # typical users' stars
        before = rec_titles(page)
        rate_first_result(page, "star wars", "Star Wars (1977)", 5)
        wait_recs_change(page, before)
        assert shown_stars(page) == api_stars(server, {str(STAR_WARS): 5})
        for row in page.locator("#recs li").all():  # the title and its stars, no other number
            rest = row.inner_text().replace(row.locator(".title").inner_text(), "")
            assert re.fullmatch(r"\s*\u2605 \d\.\d\s*stars predicted\s*", rest), rest
        assert "predicts you would give" in page.inner_text("#recs-note")


def test_a_ranking_model_shows_no_unitless_number(plays_url, browser):
    with opened(browser, plays_url) as page:
        # the most chosen artists, ranked (the list's numbers), with no score beside them
        assert page.locator("#recs li .predicted, #recs li .score").count() == 0
        for row in page.locator("#recs li").all():
            assert row.inner_text().strip() == row.locator(".title").inner_text()
        rate_first_result(page, "artist", "Artist", 1)  # "I chose this"
        wait_note(page, "1 choice")
        assert page.locator("#recs li .predicted, #recs li .score").count() == 0
        assert "predicts no ratings" in page.inner_text("#recs-note")


def test_ratings_are_kept_in_the_browser_across_a_reload_until_cleared(server, browser):
    context = browser.new_context(viewport=DESKTOP)
    try:
        with opened(browser, server.url, context=context) as page:
            before = rec_titles(page)
            rate_first_result(page, "star wars", "Star Wars (1977)", 4)
            wait_recs_change(page, before)
            rated = rec_titles(page)
        with opened(browser, server.url, context=context) as page:  # a reload, a new tab
            wait_note(page, "1 rating")
            assert page.locator("#rated li .title").all_inner_texts() == ["Star Wars (1977)"]
            assert page.locator("#rated .stars button.on").count() == 4
            assert rec_titles(page) == rated
            page.get_by_role("button", name="Clear my ratings").click()
            page.wait_for_function("() => !document.querySelector('#rated li[data-item]')")
            page.wait_for_function(
                "before => [...document.querySelectorAll('#recs li .title')]"
                ".map(e => e.textContent).join('|') === before",
                arg="|".join(before),
            )
        with opened(browser, server.url, context=context) as page:
            assert page.locator("#rated li[data-item]").count() == 0
    finally:
        context.close()


def test_a_map_click_on_a_phone_brings_the_card_into_view_with_focus(server, browser):
    with opened(browser, server.url, viewport=PHONE) as page:
        snap(page, "phone-before-rating")
        page.locator("#map").scroll_into_view_if_needed()
        dot = page.locator("#map circle").nth(3)
        title = dot.get_attribute("data-title")
        dot.click()
        page.wait_for_function(
            "title => document.getElementById('detail-title').textContent === title", arg=title
        )
        page.wait_for_function("() => document.activeElement.id === 'detail-title'")
        box = page.locator("#detail-title").bounding_box()  # relative to the viewport
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"]
        rate_first_result(page, "star wars", "Star Wars (1977)", 5)
        wait_note(page, "1 rating")
        snap(page, "phone-after-rating")


def label_boxes(page) -> tuple[dict, list[dict]]:
    return page.evaluate(
        """() => {
            const box = (e) => { const r = e.getBoundingClientRect();
              return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                      text: e.textContent}; };
            return [box(document.getElementById('map')),
                    [...document.querySelectorAll('#map text')].map(box)];
        }"""
    )


@pytest.mark.parametrize(("viewport", "at_least"), [(DESKTOP, 15), (PHONE, 5)])
def test_map_labels_never_overlap_nor_leave_the_map(server, browser, viewport, at_least):
    with opened(browser, server.url, viewport=viewport) as page:
        page.locator("#map").scroll_into_view_if_needed()
        snap(page, f"{'phone' if viewport is PHONE else 'desktop'}-map", "#map-panel")
        svg, labels = label_boxes(page)
        assert len(labels) >= at_least, [label["text"] for label in labels]
        for label in labels:
            assert label["bottom"] - label["top"] >= 11, label  # readable: 11 px text or more
            assert svg["left"] <= label["left"] and label["right"] <= svg["right"], label
            assert svg["top"] <= label["top"] and label["bottom"] <= svg["bottom"], label
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                apart = (
                    a["right"] <= b["left"]
                    or b["right"] <= a["left"]
                    or a["bottom"] <= b["top"]
                    or b["bottom"] <= a["top"]
                )
                assert apart, (a, b)


def test_every_title_is_reachable_and_activatable_by_keyboard(server, browser):
    with opened(browser, server.url) as page:
        assert page.get_by_role("searchbox", name="Search by title").count() == 1
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "search"
        page.keyboard.type("star wars")
        page.locator("#results li .title", has_text="Star Wars (1977)").wait_for()
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return [e.textContent, getComputedStyle(e).outlineStyle]; }"
        )
        assert focused == ["Star Wars (1977)", "solid"]  # and the focus is visible
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement.id === 'detail-title'")
        assert page.inner_text("#detail-title") == "Star Wars (1977)"
        for _ in range(5):  # on to the card's fifth star
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "5 stars"
        page.keyboard.press("Enter")
        wait_note(page, "1 rating")
        titles = page.evaluate(
            "() => [...document.querySelectorAll('#recs .title, #rated .title, "
            "#neighbours .title')].map(e => e.tagName + ':' + e.tabIndex)"
        )
        assert len(titles) == 21 and set(titles) == {"BUTTON:0"}


def words_shown(page) -> str:
    """Every word a person can read or hear on the page: its text and its labels."""
    return page.evaluate(
        """() => document.body.innerText + ' ' + document.title + ' ' +
            [...document.querySelectorAll('[placeholder],[aria-label],[title],[alt]')]
              .map(e => ['placeholder', 'aria-label', 'title', 'alt']
                .map(a => e.getAttribute(a) || '').join(' ')).join(' ')"""
    ).lower()


def test_a_books_model_is_never_called_films(books_url, browser):
    with opened(browser, books_url, viewport=PHONE) as page:
        rate_first_result(page, "emma", "Emma", 5)
        wait_note(page, "1 rating")
        page.locator("#recs li .title").first.click()
        page.locator("#neighbours li").first.wait_for()
        page.fill("#search", "zzz")
        page.locator("#results li", has_text="No items match").wait_for()
        said = words_shown(page)
        assert "film" not in said and "movie" not in said and "star wars" not in said
        assert "find items and rate them" in said
        snap(page, "phone-books")


def test_axe_finds_no_serious_violation_before_and_after_use(server, browser):
    for viewport in (DESKTOP, PHONE):
        with opened(browser, server.url, viewport=viewport) as page:
            assert serious_violations(page) == []
            rate_first_result(page, "star wars", "Star Wars (1977)", 5)
            wait_note(page, "1 rating")
            page.locator("#map circle").nth(2).click()
            page.locator("#neighbours li").first.wait_for()
            page.locator("#map circle").first.hover()
            assert serious_violations(page) == []


def test_the_api_docs_render_with_no_network_beyond_the_server(server, browser):
    page = browser.new_page()
    try:
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
        page.close()
