"""/metrics parses with the Prometheus client's own parser and tells the truth about the apps."""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
from helpers.home import PM, wait_for
from helpers.web import (  # noqa: F401 (fixtures)
    Web,
    clean_pm_fixture,
    shared_pm_fixture,
    shared_web_fixture,
    start_chatty,
)
from prometheus_client import parser  # a test dependency: missing must fail, not skip


def scrape(web: Web) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    reply = web.get("/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in parser.text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def app_value(samples: dict, metric: str, name: str, **extra: str) -> float:
    for labels, value in samples[metric].items():
        found = dict(labels)
        if found["name"] == name and all(found.get(k) == v for k, v in extra.items()):
            return value  # type: ignore[no-any-return]
    raise AssertionError(f"no {metric} sample for {name} {extra}")


def scrape_until(web: Web, metric: str, name: str, above: float, timeout: float) -> dict:
    """Scrape until name's metric is above a figure (the daemon samples with a 1 s cache)."""

    def fresh() -> dict | None:
        samples = scrape(web)
        return samples if app_value(samples, metric, name) > above else None

    found = wait_for(fresh, timeout, 0.2, f"{metric} of {name} above {above}")
    return found  # type: ignore[no-any-return]


def test_metrics_parse_and_follow_the_apps(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    first = start_chatty(pm, "metered")
    pm.run("start", "sleep", "--name", "idle", "--no-autostart", "--", "60")
    samples = scrape(web)
    assert samples["pm_daemon_up"][()] == 1
    info = dict(next(iter(samples["pm_daemon_info"])))
    assert int(info["pid"]) == pm.daemon_pid()
    assert samples["pm_daemon_memory_bytes"][()] > 1_000_000
    # uptimes in seconds, from the same start times, taken a moment before these ages
    daemon_age = time.time() - psutil.Process(pm.daemon_pid()).create_time()
    uptime = samples["pm_daemon_uptime_seconds"][()]
    assert uptime > 0 and 0 <= daemon_age - uptime < 0.5, (uptime, daemon_age)
    assert app_value(samples, "pm_app_up", "metered") == 1
    assert app_value(samples, "pm_app_up", "idle") == 0
    assert app_value(samples, "pm_app_status", "metered", status="online") == 1
    assert app_value(samples, "pm_app_status", "metered", status="errored") == 0
    assert app_value(samples, "pm_app_status", "idle", status="stopped") == 1
    # metrics are sampled with a 1 s cache: the first sample may be from the instant of exec
    samples = scrape_until(web, "pm_app_memory_bytes", "metered", 1_000_000, 10)
    app_age = time.time() - pm.app("metered")["pm2_env"]["pm_uptime"] / 1000
    assert 0 <= app_age - app_value(samples, "pm_app_uptime_seconds", "metered") < 2
    assert app_value(samples, "pm_app_restarts_total", "metered") == 0
    assert samples["pm_apps"][(("status", "online"),)] == 1
    assert samples["pm_apps"][(("status", "stopped"),)] == 1

    os.kill(first["pid"], signal.SIGKILL)
    wait_for(lambda: pm.app("metered")["pid"] not in (0, first["pid"]), message="respawn")
    samples = scrape(web)
    assert app_value(samples, "pm_app_restarts_total", "metered") == 1
    labels = dict(next(k for k in samples["pm_app_up"] if dict(k)["name"] == "metered"))
    assert labels == {"id": "0", "name": "metered", "namespace": "default"}


def test_metrics_cpu_follows_a_busy_app(clean_pm: PM, shared_web: Web) -> None:
    """An app spinning on a core shows tens of percent; a sleeping one next to it does not."""
    pm, web = clean_pm, shared_web
    start_chatty(pm, "resting")
    spinner = pm.write_app("spin.py", "while True:\n    pass\n")
    pm.run("start", str(spinner), "--name", "spinning")
    try:
        pm.wait_status("spinning", "online")
        # a whole core when it has one to itself; > 30 % even on a busy 2-core machine
        samples = scrape_until(web, "pm_app_cpu_percent", "spinning", 30, 15)
        assert app_value(samples, "pm_app_cpu_percent", "resting") < 30
    finally:
        pm.run("delete", "spinning")


def test_metrics_show_health_and_the_restart_it_causes(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    flag = pm.workdir / "healthy"
    flag.write_text("")
    eco = pm.workdir / "checked.json"
    eco.write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "name": "checked",
                        "script": "sleep",
                        "args": "600",
                        "kill_timeout": 300,
                        "health_check": {
                            "cmd": f"test -e {flag}",
                            "interval": "200ms",
                            "retries": 2,
                        },
                    }
                ]
            }
        )
    )
    pm.run("start", str(eco))

    def value(metric: str, **extra: str) -> float:
        try:
            return app_value(scrape(web), metric, "checked", **extra)
        except (KeyError, AssertionError):  # no sample yet: the first check has not run
            return -1

    wait_for(lambda: value("pm_app_health", health="healthy") == 1, 10, 0.2, "healthy")
    assert value("pm_app_health", health="unhealthy") == 0
    flag.unlink()  # the check fails from now on: unhealthy after 2, then restarted
    wait_for(lambda: value("pm_app_restarts_total") >= 1, 15, 0.2, "the health restart")
    assert "is unhealthy after 2 failed checks" in (pm.home / "pm.log").read_text()
