"""Pure parts of pm web: login codes, the metrics text, scale's spec copy, log following."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pm.paths import Home
from pm.web import auth
from pm.web.live import Follower, last_lines, summarize
from pm.web.metrics import Exposition


def test_login_codes_are_signed_expire_and_work_once() -> None:
    codes = auth.LoginCodes("secret")
    code = auth.make_login_code("secret", now=1000, ttl=60)
    assert not codes.redeem(code, now=1061)  # expired
    fresh = auth.make_login_code("secret", now=1000, ttl=60)
    assert codes.redeem(fresh, now=1030)
    assert not codes.redeem(fresh, now=1031)  # once only
    other = auth.make_login_code("another token", now=1000, ttl=60)
    assert not codes.redeem(other, now=1001)
    expiry, nonce, signature = auth.make_login_code("secret", now=1000, ttl=60).split(".")
    assert not codes.redeem(f"{int(expiry) + 9999}.{nonce}.{signature}", now=1001)  # tampered
    for junk in ("", "a.b", "x.y.z", "1.2.3.4", "9" * 300):
        assert not codes.redeem(junk, now=1001)


def test_token_file_is_created_once_and_private(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    token = auth.load_or_create_token(home)
    path = auth.token_path(home)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert auth.load_or_create_token(home) == token
    os.chmod(path, 0o644)
    assert auth.load_or_create_token(home) == token
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # repaired
    assert auth.token_matches(token, token) and not auth.token_matches(None, token)
    assert not auth.token_matches(token + "x", token)


def test_base_urls() -> None:
    assert auth.base_url("127.0.0.1", 9615) == "http://127.0.0.1:9615"
    assert auth.base_url("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert auth.base_url("::1", 81) == "http://[::1]:81"
    assert auth.base_url("::", 82) == "http://[::1]:82"


def test_exposition_escapes_labels_and_parses() -> None:
    parser = pytest.importorskip("prometheus_client.parser")
    metrics = Exposition()
    metrics.add("pm_app_up", "gauge", "Up.", 1, {"name": 'we"ird\\na\nme'})
    metrics.add("pm_app_up", "gauge", "Up.", 0, {"name": "plain"})
    metrics.add("pm_app_restarts_total", "counter", "Restarts.", 3, {"name": "plain"})
    metrics.add("pm_app_cpu_percent", "gauge", "Cpu.", 12.5, {"name": "plain"})
    text = metrics.render()
    assert text.count("# TYPE pm_app_up gauge") == 1
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    names = [s.labels["name"] for s in families["pm_app_up"].samples]
    assert names == ['we"ird\\na\nme', "plain"]
    assert families["pm_app_restarts"].samples[0].value == 3
    assert families["pm_app_cpu_percent"].samples[0].value == 12.5


def test_summarize_rows() -> None:
    entry = {
        "pm_id": 2,
        "name": "api",
        "pid": 10,
        "monit": {"cpu": 1.5, "memory": 2048},
        "pm2_env": {
            "status": "online",
            "namespace": "web",
            "pm_uptime": 1000,
            "restart_time": 3,
            "unstable_restarts": 1,
        },
    }
    row = summarize([entry], now_ms=4000)[0]
    assert row == {
        "id": 2,
        "name": "api",
        "namespace": "web",
        "status": "online",
        "pid": 10,
        "uptime_ms": 3000,
        "restarts": 3,
        "unstable_restarts": 1,
        "cpu": 1.5,
        "memory": 2048,
        "exec_mode": "fork_mode",
        "exit_code": None,
        "health": None,
    }
    entry["pm2_env"]["status"] = "stopped"
    assert summarize([entry], now_ms=4000)[0]["uptime_ms"] == 0


def test_follower_reads_whole_lines_across_truncation_and_replacement(tmp_path: Path) -> None:
    log = tmp_path / "app-out.log"
    log.write_text("old 1\nold 2\nhalf")
    follower = Follower(str(log))
    assert follower.backlog(1) == ["old 2"] and follower.backlog(5) == ["old 1", "old 2"]
    assert follower.poll() == ([], 0)
    with log.open("a") as handle:
        handle.write(" way\nnew 1\npart")
    assert follower.poll() == (["half way", "new 1"], 0)  # the line open at the start, whole
    with log.open("a") as handle:
        handle.write(" done\n")
    assert follower.poll() == (["part done"], 0)
    log.write_text("")  # copytruncate rotation
    with log.open("a") as handle:
        handle.write("after rotation\n")
    assert follower.poll() == (["after rotation"], 0)
    # rename rotation: a line that reaches the old file after the new one exists is not lost
    old = log.open("a")
    os.replace(log, tmp_path / "app-out.log.1")
    log.write_text("")
    old.write("late line in the old file\n")
    old.close()
    with log.open("a") as handle:
        handle.write("in the new file\n")
    assert follower.poll() == (["late line in the old file", "in the new file"], 0)
    follower.close()
    assert last_lines(str(tmp_path / "missing.log"), 5) == ([], 0)
    assert Follower(str(tmp_path / "missing.log")).backlog(5) == []


def test_follower_sends_a_page_at_most_so_many_lines_and_says_how_many_not(tmp_path: Path) -> None:
    from pm.web.live import MAX_LINES_SENT

    log = tmp_path / "flood.log"
    log.write_text("")
    follower = Follower(str(log))
    log.write_text("".join(f"line {i}\n" for i in range(MAX_LINES_SENT + 10)))
    lines, skipped = follower.poll()
    assert (
        skipped == 10 and len(lines) == MAX_LINES_SENT and lines[-1] == f"line {MAX_LINES_SENT + 9}"
    )
    assert follower.poll() == ([], 0)
    follower.close()
