"""The movie site in a real headless Chromium: home, a movie, a similar movie, a search, a genre
in two orders, signing in through a link minted with a write key, rating, and the for-you list
changing; and a new visitor's path at /new, from picked genres to a list of their own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.app.site_session_routes import VISITOR_IDS
from tests.e2e.conftest import WRITE_KEY
from tests.support.chromium import headless_chromium, needs_chromium
from tests.support.running_app import RunningApp

ARTIFACTS = Path(os.environ.get("STARLING_TEST_ARTIFACTS", "test-artifacts"))
WAIT_S = 60

pytestmark = needs_chromium


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_chromium(1280, 900) as driver:
        yield driver


def _ids(browser: Any, css: str) -> list[int]:
    """The item ids of the cards under `css`, read in one script so a redraw cannot interleave."""
    found = browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(c => c.dataset.item)", css
    )
    return [int(i) for i in found]


def _until(browser: Any, check: Any, what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S, poll_frequency=0.25).until(check, what)


def _text(browser: Any, css: str) -> str:
    return browser.execute_script(
        "const n = document.querySelector(arguments[0]); return n ? n.textContent : ''", css
    )


def _shot(browser: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / name))


# Users the other e2e modules read or write (1, 5, ...) are left alone: the rating this test
# posts would change what they expect of them.
SITE_USERS = range(250, 300)


def _a_user_with_history(app: RunningApp) -> int:
    for user_id in SITE_USERS:
        answer = httpx.get(
            f"{app.url}/users/{user_id}",
            headers={"Authorization": f"Bearer {WRITE_KEY}"},
            timeout=30,
        )
        if answer.status_code == 200 and answer.json()["recent_positives"]:
            return user_id
    raise AssertionError(f"no user with history among users {SITE_USERS}")


def test_a_visitor_browses_signs_in_rates_and_sees_the_list_change(
    app: RunningApp, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.get(f"{app.url}/")
    trending = _until(browser, lambda b: _ids(b, "#trending .card"), "trending row")
    _until(browser, lambda b: len(_ids(b, ".genre-row .card")) >= 6, "genre rows")
    genre = browser.execute_script("return document.querySelector('.genre-row').dataset.genre")
    assert _text(browser, "#account").startswith("Sign in through the link")
    _shot(browser, "site_home.png")

    browser.find_element(By.CSS_SELECTOR, f'#trending .card[data-item="{trending[0]}"] a').click()
    _until(browser, lambda b: b.current_url.endswith(f"/movie/{trending[0]}"), "movie page")
    title = _until(browser, lambda b: _text(b, "#movie-title"), "movie title")
    assert "ratings" in _text(browser, "#movie-rating") and _text(browser, "#movie-genres")
    similar = _until(browser, lambda b: _ids(b, "#similar .card"), "similar movies")
    assert trending[0] not in similar
    _shot(browser, "site_movie.png")

    browser.find_element(By.CSS_SELECTOR, f'#similar .card[data-item="{similar[0]}"] a').click()
    _until(browser, lambda b: b.current_url.endswith(f"/movie/{similar[0]}"), "similar's page")
    assert _until(browser, lambda b: _text(b, "#movie-title"), "its title") != title
    assert "Sign in to rate" in _text(browser, "#movie")

    first_word = title.split()[0]
    search = browser.find_element(By.ID, "search-q")
    search.send_keys(first_word, Keys.ENTER)
    assert trending[0] in _until(browser, lambda b: _ids(b, "#results .card"), "search results")

    browser.get(f"{app.url}/genre/{genre}?sort=year")
    _until(browser, lambda b: _ids(b, "#genre-list .card"), "the genre's newest")
    years = browser.execute_script(
        "return [...document.querySelectorAll('#genre-list .card .meta:first-of-type')]"
        ".map(m => parseInt(m.textContent))"
    )
    assert len(years) > 1 and years == sorted(years, reverse=True)
    Select(browser.find_element(By.ID, "sort")).select_by_value("rating")
    _until(browser, lambda b: b.current_url.endswith("?sort=rating"), "sorted by rating")
    assert _until(browser, lambda b: _ids(b, "#genre-list .card"), "the genre's best rated")

    user_id = _a_user_with_history(app)
    link = httpx.post(
        f"{app.url}/site/sign-in-links",
        json={"user_id": user_id},
        headers={"Authorization": f"Bearer {WRITE_KEY}"},
        timeout=30,
    )
    assert link.status_code == 200, link.text
    browser.get(f"{app.url}{link.json()['url']}")
    _until(browser, lambda b: b.current_url.endswith(f"/user/{user_id}"), "own page")
    assert _until(browser, lambda b: _text(b, "#signed-in-as"), "header") == (
        f"Signed in as user {user_id}"
    )
    cookie = browser.get_cookie("starling_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "starling_session" not in browser.execute_script("return document.cookie")

    before = _until(browser, lambda b: _ids(b, "#for-you .card"), "for-you list")
    assert _text(browser, "#for-you .why li"), "no reason shown for any item"
    _shot(browser, "site_user.png")
    rated = before[0]
    star = f'#for-you .card[data-item="{rated}"] .star[data-value="5"]'
    browser.find_element(By.CSS_SELECTOR, star).click()
    after = _until(
        browser,
        lambda b: (ids := _ids(b, "#for-you .card")) and ids != before and ids,
        "a new for-you list",
    )
    assert rated not in after
    _until(browser, lambda b: rated in _ids(b, "#history .card"), "the rating in the history")
    _shot(browser, "site_user_after_rating.png")

    browser.get(f"{app.url}/user/{user_id + 1}")
    assert "private" in _until(browser, lambda b: _text(b, "#private"), "another user's page")


def _genres_of(app: RunningApp, item_ids: list[int]) -> list[set[str]]:
    return [set(httpx.get(f"{app.url}/items/{i}", timeout=30).json()["genres"]) for i in item_ids]


def test_a_new_visitor_picks_genres_rates_and_the_list_turns_personal(
    app: RunningApp, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    # Demo mode is off here, as in production: the visitor gets a fresh id (never one of the
    # ids the other e2e modules read) in a signed session, not a sign-in as someone.
    browser.get(f"{app.url}/")
    _until(browser, lambda b: b.find_elements(By.ID, "new-here"), "a New here? link")[0].click()
    start = _until(browser, lambda b: b.find_elements(By.ID, "start-visitor"), "a start button")
    start[0].click()
    who = _until(browser, lambda b: _text(b, "#signed-in-as"), "signed in")
    assert who.startswith("Signed in as new visitor")
    assert VISITOR_IDS[0] <= int(who.rsplit(" ", 1)[1]) < VISITOR_IDS[1]

    # The third and fourth most common genres: a list of theirs is not the catalogue's best by
    # chance, as one of the two largest genres' may be.
    chips = _until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".chip"), "genre chips")
    picked = [chip.get_attribute("data-genre") for chip in chips[2:4]]
    for genre in picked:
        # Each click redraws the chips: found anew every time.
        browser.find_element(By.CSS_SELECTOR, f'.chip[data-genre="{genre}"]').click()
    # The cards once drawn for both genres; the list's cold (before a rating) or the visitor's.
    both = f'[data-genres="{",".join(picked)}"]'
    cold_list, own = (f'#cold-list{both}[data-cold="{c}"] .card' for c in ("true", "false"))
    cold = _until(browser, lambda b: _ids(b, cold_list), "a cold-start list")
    assert all(genres & set(picked) for genres in _genres_of(app, cold))
    assert "knows no ratings" in _text(browser, "#cold-list")
    to_rate = _until(browser, lambda b: _ids(b, f"#to-rate{both} .card"), "movies to rate")
    _shot(browser, "site_new_visitor.png")

    # Movies of the cold list first: the ones a visitor would see leave it.
    rated = sorted(to_rate, key=lambda i: i not in cold)[:3]
    for item_id in rated:
        card = f'#to-rate .card[data-item="{item_id}"]'
        browser.find_element(By.CSS_SELECTOR, f'{card} .star[data-value="5"]').click()
        status = f"{card} .rate-status"
        _until(browser, lambda b, status=status: _text(b, status) == "rated 5", "the rating")

    def own_list(b: Any) -> list[int]:
        ids = _ids(b, own)
        return ids if ids and not set(ids) & set(rated) else []

    personal = _until(browser, own_list, "a list of the visitor's own, without what they rated")
    assert personal != cold and "knows no ratings" not in _text(browser, "#cold-list")
    browser.execute_script("document.getElementById('cold-list').scrollIntoView()")
    _shot(browser, "site_new_visitor_after_rating.png")
    # Starling, not the page, knows the ratings: a reload keeps the list the visitor's own.
    browser.refresh()
    assert _until(browser, own_list, "the visitor's own list after a reload")
