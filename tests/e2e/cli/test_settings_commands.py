"""PM2's settings commands under pm: set, get, conf/config, unset, multiset; and `pm report`."""

from __future__ import annotations

import json

from helpers.home import APPS, PM

TICKER = str(APPS / "ticker.py")


def test_conf_sets_and_gets_unset_removes_multiset_stores_pairs(pm: PM) -> None:
    pm.run("conf", "logrotate:max_size", "5M")
    assert pm.run("config", "logrotate:max_size").stdout.strip() == "5M"
    pm.run("multiset", "a 1 logrotate:retain 7")
    stored = json.loads((pm.home / "module_conf.json").read_text())
    assert stored == {"logrotate": {"max_size": "5M", "retain": "7"}, "a": "1"}
    pm.run("unset", "logrotate:max_size")
    pm.run("unset", "a")
    stored = json.loads((pm.home / "module_conf.json").read_text())
    assert stored == {"logrotate": {"retain": "7"}}
    again = pm.run("unset", "a", check=False)
    assert again.returncode == 1 and "setting a is not set" in again.stderr
    odd = pm.run("multiset", "a 1 b", check=False)
    assert odd.returncode == 1 and "pairs" in odd.stderr
    bad = pm.run("conf", "logrotate:retain", "zero", check=False)  # still validated
    assert bad.returncode == 1 and "logrotate:retain" in bad.stderr


def test_report_names_the_daemon_the_apps_and_the_log(pm: PM) -> None:
    pm.run("start", TICKER, "--name", "tick", "-s")
    out = pm.run("report").stdout
    daemon_pid = int((pm.home / "pm.pid").read_text())
    assert f"daemon: pid {daemon_pid}" in out
    assert "apps: 1 (1 online)" in out and "0 tick: online, 0 restarts" in out
    assert f"last lines of {pm.home / 'pm.log'}:" in out and "daemon started" in out
