"""cron_restart on a real daemon: restarts on time, survives save and resurrect (PM2.md 3.4)."""

from __future__ import annotations

from helpers.home import APPS, pid_alive, wait_for


def test_cron_restarts_on_time_and_starts_stopped_apps(pm) -> None:
    pm.run("start", str(APPS / "ticker.py"), "--name", "cr", "--cron", "*/2 * * * * *")
    pm.wait_status("cr", "online")
    first = pm.app("cr")["pm2_env"]["restart_time"]
    wait_for(
        lambda: pm.app("cr")["pm2_env"]["restart_time"] >= first + 2,
        timeout=10,
        message="two cron restarts",
    )
    log = (pm.home / "pm.log").read_text()
    assert "App [cr:0] cron restart (*/2 * * * * *)" in log
    # Just after a fire (the wait above ends at one), so the next is ~2 s away.
    old_pid = pm.app("cr")["pid"]
    stopped = pm.run("stop", "cr")
    assert "stopped but CRON RESTART is still UP */2 * * * * *" in stopped.stdout + stopped.stderr
    entry = pm.app("cr")  # really stopped first, or "online" below would prove nothing
    assert (entry["pm2_env"]["status"], entry["pid"]) == ("stopped", 0)
    assert not pid_alive(old_pid)
    fires = (pm.home / "pm.log").read_text().count("cron restart (")
    # PM2 v7: the cron fires restartProcessId, which starts a stopped app again, at the
    # next fire (every 2 s).
    entry = pm.wait_status("cr", "online", timeout=10)
    assert entry["pid"] not in (0, old_pid)
    assert (pm.home / "pm.log").read_text().count("cron restart (") > fires


def test_cron_survives_save_and_resurrect(pm) -> None:
    pm.run("start", str(APPS / "ticker.py"), "--name", "cs", "--cron", "*/2 * * * * *")
    pm.wait_status("cs", "online")
    pm.run("save")
    pm.run("kill")
    pm.run("resurrect")
    pm.wait_status("cs", "online")
    start = pm.app("cs")["pm2_env"]["restart_time"]
    wait_for(
        lambda: pm.app("cs")["pm2_env"]["restart_time"] > start,
        timeout=10,
        message="cron restart after resurrect",
    )


def test_invalid_cron_is_refused_at_start(pm) -> None:
    result = pm.run(
        "start", str(APPS / "ticker.py"), "--name", "bad", "--cron", "99 * * * *", check=False
    )
    assert result.returncode != 0
    assert "cron_restart" in result.stderr and "99 * * * *" in result.stderr
