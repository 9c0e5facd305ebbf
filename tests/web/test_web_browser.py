"""The dashboard in a real headless Chromium (Debian's package), driven by Playwright.

Skipped when Playwright or the browser is missing; `.ci/run` installs both. Playwright only
drives the system browser here: nothing is downloaded (`playwright install` is never run).
Set PM_WEB_SCREENSHOTS=<dir> to keep screenshots of the page.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import PM
from pm.web.auth import login_url
from webtools import Web, start_chatty
from webtools import clean_pm_fixture, shared_pm_fixture  # noqa: F401 (fixtures)
from webtools import shared_web_fixture  # noqa: F401 (fixtures)

CHROMIUM = os.environ.get("PM_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":  # .ci/run installs it: a failed install must not skip
        pytest.fail(f"no Chromium at {CHROMIUM} under CI: .ci/run installs it", pytrace=False)
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object, shared_web: Web) -> Iterator[object]:
    """A fresh browser context signed in through a one-time login link."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        tab.goto(login_url(shared_web.base, shared_web.token))
        expect(tab.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        yield tab
        assert errors == [], errors
    finally:
        context.close()


def row(page: object, pm_id: int) -> object:
    return page.locator(f'#rows tr[data-id="{pm_id}"]')  # type: ignore[attr-defined]


def screenshot(page: object, name: str) -> None:
    folder = os.environ.get("PM_WEB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_apps_go_online_live_and_restart_bumps_the_counter(clean_pm: PM, page: object) -> None:
    pm = clean_pm
    expect(page.locator("#empty")).to_be_visible(timeout=WAIT_MS)  # type: ignore[attr-defined]
    start_chatty(pm, "front")
    first = row(page, 0)
    expect(first.locator(".name")).to_have_text("front", timeout=WAIT_MS)
    expect(first.locator(".status")).to_have_text("online", timeout=WAIT_MS)
    expect(first.locator(".restarts")).to_have_text("0")
    pid = first.locator(".pid").inner_text()
    assert pid == str(pm.app("front")["pid"])
    first.locator('[data-action="restart"]').click()
    expect(first.locator(".restarts")).to_have_text("1", timeout=WAIT_MS)
    expect(first.locator(".status")).to_have_text("online", timeout=WAIT_MS)
    expect(first.locator(".pid")).not_to_have_text(pid, timeout=WAIT_MS)
    assert pm.app("front")["pm2_env"]["restart_time"] == 1
    first.locator('[data-action="stop"]').click()
    expect(first.locator(".status")).to_have_text("stopped", timeout=WAIT_MS)
    assert pm.status("front") == "stopped"
    first.locator('[data-action="start"]').click()
    expect(first.locator(".status")).to_have_text("online", timeout=WAIT_MS)
    screenshot(page, "restart")


def test_scale_up_adds_a_row_and_action_errors_are_shown(clean_pm: PM, page: object) -> None:
    pm = clean_pm
    start_chatty(pm, "worker", "--namespace", "jobs")
    expect(row(page, 0).locator(".status")).to_have_text("online", timeout=WAIT_MS)
    row(page, 0).locator('[data-action="scale-up"]').click()
    expect(row(page, 1).locator(".name")).to_have_text("worker", timeout=WAIT_MS)
    expect(row(page, 1).locator(".namespace")).to_have_text("jobs")
    expect(row(page, 1).locator(".status")).to_have_text("online", timeout=WAIT_MS)
    assert sorted(entry["pm_id"] for entry in pm.jlist()) == [0, 1]
    screenshot(page, "scaled")
    row(page, 1).locator('[data-action="scale-down"]').click()
    expect(row(page, 0)).to_have_count(0, timeout=WAIT_MS)  # the lowest id goes, as PM2
    row(page, 1).locator('[data-action="scale-down"]').click()  # the last one: refused
    error = page.locator(".toast.error")  # type: ignore[attr-defined]
    expect(error).to_contain_text("use delete", timeout=WAIT_MS)
    screenshot(page, "error")
    assert [entry["pm_id"] for entry in pm.jlist()] == [1]
    delete = row(page, 1).locator('[data-action="delete"]')
    delete.click()
    expect(delete).to_have_text("Sure?")
    assert len(pm.jlist()) == 1  # the first click only arms the button
    delete.click()
    expect(row(page, 1)).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("#empty")).to_be_visible()  # type: ignore[attr-defined]
    assert pm.jlist() == []


def test_log_lines_appear_live_with_out_and_err_apart(clean_pm: PM, page: object) -> None:
    pm = clean_pm
    app = start_chatty(pm, "talky")
    row(page, 0).locator('button.ghost[data-action="logs"]').click()
    view = page.locator("#log-view")  # type: ignore[attr-defined]
    expect(view.locator(".line.out").first).to_contain_text("tick", timeout=WAIT_MS)
    expect(view.locator(".line.err")).to_have_count(0)
    expect(view.locator(".line.note").last).to_have_text("live from here")
    os.kill(app["pid"], signal.SIGUSR1)
    marker = view.locator(".line.err")
    expect(marker).to_have_count(1, timeout=WAIT_MS)
    expect(marker.locator(".text")).to_contain_text("on stderr")
    expect(marker.locator(".tag")).to_have_text("err")
    ticks = view.locator(".line.out").count()
    expect(view.locator(".line.out")).not_to_have_count(ticks, timeout=WAIT_MS)  # still live
    screenshot(page, "logs")


def test_a_wrong_token_or_link_is_refused(browser: object, clean_pm: PM, shared_web: Web) -> None:
    start_chatty(clean_pm, "guarded")
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        tab = context.new_page()
        response = tab.goto(f"{shared_web.base}/login?code=1.2.3")
        assert response.status == 401
        expect(tab.locator("#message")).to_contain_text("wrong, expired or already used")
        response = tab.goto(shared_web.base + "/")
        assert response.status == 401
        tab.fill("input[name=token]", "not-the-token")
        tab.click("button[type=submit]")
        expect(tab.locator("#message")).to_contain_text("Wrong token")
        # the browser context's own HTTP client, with whatever cookies the browser holds
        assert context.request.get(shared_web.base + "/api/list").status == 401
        stopped = context.request.post(shared_web.base + "/api/stop",
                                       data={"targets": ["guarded"]})
        assert stopped.status == 401
        assert clean_pm.status("guarded") == "online"
        assert context.cookies() == []
        tab.fill("input[name=token]", shared_web.token)
        tab.click("button[type=submit]")
        expect(tab.locator("#rows tr")).to_have_count(1, timeout=WAIT_MS)
    finally:
        context.close()
