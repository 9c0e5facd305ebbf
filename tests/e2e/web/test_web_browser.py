"""The dashboard in a real headless Chromium (Debian's package), driven by Playwright.

Skipped when Playwright or the browser is missing; `.ci/run` installs both. Playwright only
drives the system browser here: nothing is downloaded (`playwright install` is never run).
Screenshots of each view are kept as test artifacts in PM_WEB_SCREENSHOTS=<dir>, or else in
pytest's temporary directory (the path is printed: run with -s, or see the report's output).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.home import PM, wait_for
from helpers.web import (  # noqa: F401 (fixtures)
    GROWER,
    Web,
    clean_pm_fixture,
    shared_pm_fixture,
    shared_web_fixture,
    start_chatty,
)

from pm.web.auth import login_url

CHROMIUM = os.environ.get("PM_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":  # .ci/run installs it: a failed install must not skip
        pytest.fail(f"no Chromium at {CHROMIUM} under CI: .ci/run installs it", pytrace=False)
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)  # every expectation: a busy machine renders late


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


SHOTS: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    folder = os.environ.get("PM_WEB_SCREENSHOTS")
    SHOTS.append(Path(folder) if folder else tmp_path_factory.mktemp("screenshots"))
    SHOTS[0].mkdir(parents=True, exist_ok=True)
    yield
    print(f"\ndashboard screenshots: {SHOTS[0]}")
    SHOTS.clear()


def screenshot(page: object, name: str) -> None:
    """Keep a picture of the page as it is now (an artifact: see the module's docstring)."""
    page.screenshot(path=str(SHOTS[0] / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


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
        stopped = context.request.post(shared_web.base + "/api/stop", data={"targets": ["guarded"]})
        assert stopped.status == 401
        assert clean_pm.status("guarded") == "online"
        assert context.cookies() == []
        tab.fill("input[name=token]", shared_web.token)
        tab.click("button[type=submit]")
        expect(tab.locator("#rows tr")).to_have_count(1, timeout=WAIT_MS)
    finally:
        context.close()


# ------------------------------------------------------------------ history, charts, events

MB = 1024 * 1024


def open_detail(page: object, pm_id: int) -> None:
    row(page, pm_id).locator(".name button").click()
    expect(page.locator("#detail")).to_be_visible(timeout=WAIT_MS)  # type: ignore[attr-defined]


def test_the_memory_chart_climbs_as_an_app_allocates(clean_pm: PM, page: object) -> None:
    pm = clean_pm
    pm.run("start", GROWER, "--name", "leaky")
    entry = pm.wait_status("leaky", "online")
    expect(row(page, entry["pm_id"]).locator(".status")).to_have_text("online", timeout=WAIT_MS)
    open_detail(page, entry["pm_id"])
    assert page.url.endswith("#/app/leaky")  # type: ignore[attr-defined]
    chart = page.locator("#chart-memory")  # type: ignore[attr-defined]

    def figures() -> tuple[int, float, float]:
        return (
            int(chart.get_attribute("data-points") or 0),
            float(chart.get_attribute("data-first") or 0),
            float(chart.get_attribute("data-last") or 0),
        )

    # grower.py holds 4 MB more every 0.2 s up to 80 MB: the line must climb by 40 MB or more
    climbed = wait_for(
        lambda: (lambda n, first, last: n >= 8 and last - first >= 40 * MB)(*figures()),
        timeout=20,
        message="the memory chart to climb 40 MB",
    )
    assert climbed
    points, first, last = figures()
    assert pm.app("leaky")["monit"]["memory"] >= last - 8 * MB  # the chart tells the truth
    assert "memory: now" in (chart.get_attribute("aria-label") or "")
    expect(page.locator("#log-view .line.out").last).to_contain_text("holding", timeout=WAIT_MS)
    expect(page.locator("#settings-table")).to_contain_text("grower.py")  # what describe shows
    screenshot(page, "detail")
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(page.locator("#overview")).to_be_visible()  # type: ignore[attr-defined]
    spark = row(page, entry["pm_id"]).locator("svg.spark")
    expect(spark.locator("path.spark-line")).to_have_count(1, timeout=WAIT_MS)
    assert float(spark.get_attribute("data-peak") or 0) >= 40 * MB
    assert re.search(r"peak \d+\.\dmb", spark.get_attribute("aria-label") or "")
    screenshot(page, "overview")


def test_a_kill_9_leaves_a_restart_mark_with_its_signal(
    clean_pm: PM, page: object, browser: object, shared_web: Web
) -> None:
    pm = clean_pm
    app = start_chatty(pm, "victim")
    pm_id, pid = app["pm_id"], app["pid"]
    spark = row(page, pm_id).locator("svg.spark")
    expect(spark.locator("path.spark-line")).to_have_count(1, timeout=WAIT_MS)
    os.kill(pid, signal.SIGKILL)  # by the pid jlist gave, never by name
    restarted = pm.wait_status("victim", "online")
    wait_for(
        lambda: pm.app("victim")["pid"] not in (0, pid),
        timeout=10,
        message="a new pid after kill -9",
    )
    assert pm.app("victim")["pm2_env"]["restart_time"] == 1 and restarted
    expect(spark.locator('.mark[data-kind="restart"]')).to_have_count(1, timeout=WAIT_MS)
    expect(spark.locator('.mark[data-kind="exit"] title')).to_contain_text("SIGKILL")
    events = page.locator("#event-list")  # type: ignore[attr-defined]
    expect(events.locator('li[data-kind="exit"]').first).to_contain_text(
        "killed by SIGKILL", timeout=WAIT_MS
    )
    expect(events.locator('li[data-kind="restart"]').first).to_contain_text("victim (")
    screenshot(page, "events")
    # history lives in the web process: a reload (another tab, later) draws the same marks
    page.reload()  # type: ignore[attr-defined]
    open_detail(page, pm_id)
    chart = page.locator("#chart-memory")  # type: ignore[attr-defined]
    expect(chart.locator('.mark[data-kind="restart"]')).to_have_count(1, timeout=WAIT_MS)
    expect(chart.locator('.mark[data-kind="exit"] title')).to_contain_text("signal SIGKILL")
    expect(page.locator('#event-list li[data-kind="exit"] .ev-tail')).to_contain_text(  # type: ignore[attr-defined]
        "tick", timeout=WAIT_MS
    )
    # the same at a phone's width, driven by the keyboard alone
    context = browser.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    try:
        phone = context.new_page()
        phone.goto(login_url(shared_web.base, shared_web.token))
        expect(phone.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        name = row(phone, pm_id).locator(".name button")
        expect(name).to_be_visible(timeout=WAIT_MS)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        screenshot(phone, "phone-overview")
        name.focus()
        phone.keyboard.press("Enter")
        expect(phone.locator("#detail")).to_be_visible(timeout=WAIT_MS)
        expect(phone.locator('#chart-memory .mark[data-kind="restart"]')).to_have_count(
            1, timeout=WAIT_MS
        )
        screenshot(phone, "phone-detail")
    finally:
        context.close()


def test_a_log_line_appears_live_in_the_detail_view_and_the_filter_keeps_it(
    clean_pm: PM, page: object
) -> None:
    pm = clean_pm
    app = start_chatty(pm, "speaker")
    page.goto(page.url.split("#")[0] + "#/app/speaker")  # type: ignore[attr-defined]
    view = page.locator("#log-view")  # type: ignore[attr-defined]
    expect(view.locator(".line.out").first).to_contain_text("tick", timeout=WAIT_MS)
    page.keyboard.press("/")  # type: ignore[attr-defined]
    page.keyboard.type("marker")  # type: ignore[attr-defined]
    expect(page.locator("#log-filter")).to_have_value("marker")  # type: ignore[attr-defined]
    expect(view.locator(".line.out:visible")).to_have_count(0, timeout=WAIT_MS)
    os.kill(app["pid"], signal.SIGUSR1)
    marker = view.locator(".line.err:visible")
    expect(marker).to_have_count(1, timeout=WAIT_MS)
    expect(marker.locator(".text")).to_contain_text("on stderr")
    ticks = view.locator(".line.out").count()
    expect(view.locator(".line.out")).not_to_have_count(ticks, timeout=WAIT_MS)  # still live
    expect(view.locator(".line.out:visible")).to_have_count(0)  # and still filtered
    screenshot(page, "logs-and-events")
