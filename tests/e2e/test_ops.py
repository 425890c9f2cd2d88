"""The ops page and its admin routes on the running app: status, scaling under load, and the
page driven in a real headless Chromium."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from cluster.control.serve_config import load_serve_config
from tests.e2e.conftest import ADMIN_KEY, WRITE_KEY
from tests.support.chromium import headless_chromium, needs_chromium
from tests.support.running_app import RunningApp

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ARTIFACTS = Path(os.environ.get("STARLING_TEST_ARTIFACTS", "test-artifacts"))


def _admin(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _scale(app: RunningApp, deployment: str, replicas: int) -> httpx.Response:
    return httpx.post(
        f"{app.url}/admin/scale",
        json={"deployment": deployment, "num_replicas": replicas},
        headers=_admin(),
        timeout=180,
    )


def _rank(status: dict) -> dict:
    return next(d for d in status["deployments"] if d["name"] == "Rank")


def _file_replicas(app: RunningApp, deployment: str) -> dict:
    # The home keeps operators' changes; the packaged file is never written.
    config = load_serve_config(app.home / "serve_config.yaml")
    return config.app("starling").deployment(deployment).autoscaling_config or {}


class Traffic:
    """/recommend calls in a loop on a thread, counting the ones that did not answer 200."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                body = {"user_id": 1 + self.sent % 50, "k": 10}
                try:
                    answer = client.post(f"{self.url}/recommend", json=body)
                    if answer.status_code != 200 or answer.json()["degraded"]:
                        self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                self.sent += 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.fixture
def one_rank_replica(app: RunningApp) -> Iterator[None]:
    """Leave Rank at one replica after the test, whatever it did."""
    yield
    assert _scale(app, "Rank", 1).status_code == 200


def _status_code(app: RunningApp, key: str | None) -> int:
    headers = _admin(key) if key is not None else {}
    return httpx.get(f"{app.url}/admin/status", headers=headers, timeout=30).status_code


def test_admin_routes_need_an_admin_key(app: RunningApp) -> None:
    assert _status_code(app, None) == 401
    assert _status_code(app, "wrong") == 401
    assert _status_code(app, WRITE_KEY) == 403
    body = {"deployment": "Rank", "num_replicas": 2}
    assert httpx.post(f"{app.url}/admin/scale", json=body, timeout=30).status_code == 401


def test_status_shows_every_deployment_with_its_model_and_the_experiments(
    app: RunningApp,
) -> None:
    httpx.post(f"{app.url}/recommend", json={"user_id": 1, "k": 5}, timeout=30).raise_for_status()
    answer = httpx.get(f"{app.url}/admin/status", headers=_admin(), timeout=30)
    assert answer.status_code == 200, answer.text
    status = answer.json()
    by_name = {d["name"]: d for d in status["deployments"]}
    assert set(by_name) == {"Gateway", "Recall", "Rank", "Rerank", "EventLander", "Learner"}
    assert all(d["running_replicas"] >= 1 for d in by_name.values())
    assert by_name["Rank"]["model"].startswith("mlp:v")
    assert by_name["Recall"]["model"].startswith("item_bag:v")
    assert by_name["Recall"]["calls"] >= 1 and by_name["Recall"]["p50_ms"] > 0
    assert [e["name"] for e in status["experiments"]] == ["ranker", "diversity"]


def test_bad_scale_requests_get_a_reason(app: RunningApp) -> None:
    for body in (
        {"deployment": "Nope", "num_replicas": 2},
        {"deployment": "Rank", "num_replicas": 0},
        {"deployment": "Rank"},
        {"deployment": "Rank", "num_replicas": 2, "min_replicas": 1},
        {"deployment": "Rank", "min_replicas": 3, "max_replicas": 2},
    ):
        answer = httpx.post(f"{app.url}/admin/scale", json=body, headers=_admin(), timeout=30)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["detail"]


def test_scaling_rank_while_requests_flow_drops_none_and_persists(
    app: RunningApp, one_rank_replica: None
) -> None:
    with Traffic(app.url) as traffic:
        time.sleep(2)
        answer = _scale(app, "Rank", 2)
        time.sleep(2)
    assert answer.status_code == 200, answer.text
    rank = _rank(answer.json())
    assert (rank["target_replicas"], rank["running_replicas"]) == (2, 2)
    assert traffic.sent > 5
    assert traffic.failures == []
    assert _file_replicas(app, "Rank") == {"min_replicas": 2, "max_replicas": 2}


@contextmanager
def ops_page(app: RunningApp, height: int = 800) -> Iterator[WebDriver]:
    """Headless Chromium on the ops page, connected with the admin key."""
    from selenium.webdriver.common.by import By

    with headless_chromium(1400, height) as browser:
        browser.get(f"{app.url}/ops")
        browser.find_element(By.ID, "key").send_keys(ADMIN_KEY)
        browser.find_element(By.ID, "connect").click()
        yield browser


@needs_chromium
def test_an_operator_scales_rank_from_the_ops_page(app: RunningApp, one_rank_replica: None) -> None:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with ops_page(app) as browser:
        row = 'tr[data-deployment="Rank"]'

        # The page redraws its table every few seconds: an element found just before a redraw
        # is gone when it is used, so each step is tried again until it lands on one page.
        def running(b: webdriver.Chrome) -> str | None:
            try:
                return b.find_element(By.CSS_SELECTOR, f"{row} td.running").text or None
            except (NoSuchElementException, StaleElementReferenceException):
                return None

        assert WebDriverWait(browser, 30).until(running) == "1"
        experiments = browser.find_element(By.ID, "experiments").text
        assert "rerank mmr_lambda=0.5" in experiments and "null" not in experiments, experiments

        def ask_for_two(b: webdriver.Chrome) -> bool:
            try:
                replicas = b.find_element(By.CSS_SELECTOR, f"{row} input[name=replicas]")
                replicas.clear()
                replicas.send_keys("2")
                b.find_element(By.CSS_SELECTOR, f"{row} button.apply").click()
            except StaleElementReferenceException:
                return False
            return True

        WebDriverWait(browser, 30).until(ask_for_two)
        try:
            WebDriverWait(browser, 180).until(lambda b: running(b) == "2")
        except TimeoutException:
            pytest.fail(f"Rank not at 2: {browser.find_element(By.ID, 'message').text!r}")
        assert "Rank runs 2 replicas" in browser.find_element(By.ID, "message").text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "ops_page.png"))
    answer = httpx.get(f"{app.url}/admin/status", headers=_admin(), timeout=30)
    assert _rank(answer.json())["running_replicas"] == 2


_ROWS = "return [...document.querySelectorAll(arguments[0])].map(r => [r.dataset.{0}, r.innerText])"
_PLOTS = (
    "return [...document.querySelectorAll('#plots img')]"
    ".filter(i => i.complete && i.naturalWidth > 0).map(i => i.dataset.plot)"
)
PIPELINE_PLOTS = {"daily_activity", "rating_histogram", "long_tail", "rank_curves"}


@needs_chromium
def test_the_ops_page_shows_traffic_versions_ab_results_plots_and_rays_dashboard(
    app: RunningApp,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    with httpx.Client(timeout=60) as client:
        for user in range(1, 41):
            body = {"user_id": user, "k": 10}
            client.post(f"{app.url}/recommend", json=body).raise_for_status()
    admin = {"headers": _admin(), "timeout": 60}
    serving = _rank(httpx.get(f"{app.url}/admin/status", **admin).json())["model"]
    plots = {p["name"] for p in httpx.get(f"{app.url}/admin/plots", **admin).json()}
    dashboard = httpx.get(f"{app.url}/admin/ray-dashboard", **admin).json()["url"]
    assert plots >= PIPELINE_PLOTS

    with ops_page(app, height=2600) as browser:
        wait = WebDriverWait(browser, 60)
        # The chart: this replica answered the requests above within the last two minutes.
        wait.until(
            lambda b: (
                int(b.find_element(By.ID, "traffic-chart").get_attribute("data-requests") or 0) > 0
            )
        )
        assert (
            "answers in the last two minutes" in browser.find_element(By.ID, "traffic-summary").text
        )
        assert browser.find_elements(By.CSS_SELECTOR, "#traffic-chart rect.rate")

        # Versions with the gate's verdict: the serving ranker is the one the app runs.
        def versions(b: object) -> dict[str, str]:
            return dict(browser.execute_script(_ROWS.format("version"), "tr.version"))

        found = wait.until(versions)
        assert found[serving].rstrip().endswith("serving"), found
        assert "not judged by the gate" in found[serving] or "promoted" in found[serving]
        Select(browser.find_element(By.ID, "version-kind")).select_by_visible_text("recall")
        wait.until(lambda b: any(v.startswith("item_bag:") for v in versions(b)))

        # A/B results: both experiments once the EventLander landed the impressions (every
        # 5 s); the page asks again on Refresh.
        def variants(b: object) -> dict[str, str]:
            browser.find_element(By.ID, "ab-refresh").click()
            time.sleep(1)
            rows = dict(browser.execute_script(_ROWS.format("variant"), "tr.variant"))
            return rows if {name.split("/")[0] for name in rows} == {"ranker", "diversity"} else {}

        rows = WebDriverWait(browser, 180, poll_frequency=5).until(variants)
        assert set(rows) <= {
            "ranker/control",
            "ranker/mlp_v1",
            "diversity/mmr",
            "diversity/diverse",
        }
        interval = re.compile(r"\d+\.\d\d % \[\d+\.\d\d, \d+\.\d\d\]")
        assert all(interval.search(text) for text in rows.values()), rows

        # The plots the pipeline drew in this home, each loaded as an image.
        wait.until(lambda b: set(b.execute_script(_PLOTS)) >= PIPELINE_PLOTS)

        # Ray's dashboard: linked when Ray reports one, else the page says how to start it.
        if dashboard is None:
            assert browser.find_element(By.ID, "ray-dashboard-off").is_displayed()
        else:
            link = browser.find_element(By.ID, "ray-dashboard")
            assert link.is_displayed() and link.get_attribute("href").rstrip("/") == dashboard
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "ops_page_insights.png"))
