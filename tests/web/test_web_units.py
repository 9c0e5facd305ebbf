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
    entry = {"pm_id": 2, "name": "api", "pid": 10, "monit": {"cpu": 1.5, "memory": 2048},
             "pm2_env": {"status": "online", "namespace": "web", "pm_uptime": 1000,
                         "restart_time": 3, "unstable_restarts": 1}}
    row = summarize([entry], now_ms=4000)[0]
    assert row == {"id": 2, "name": "api", "namespace": "web", "status": "online", "pid": 10,
                   "uptime_ms": 3000, "restarts": 3, "unstable_restarts": 1, "cpu": 1.5,
                   "memory": 2048, "exec_mode": "fork_mode", "exit_code": None,
                   "health": None}
    entry["pm2_env"]["status"] = "stopped"
    assert summarize([entry], now_ms=4000)[0]["uptime_ms"] == 0


def test_follower_reads_whole_lines_across_truncation_and_replacement(tmp_path: Path) -> None:
    log = tmp_path / "app-out.log"
    log.write_text("old 1\nold 2\n")
    lines, offset = last_lines(str(log), 1)
    assert lines == ["old 2"] and offset == len("old 1\nold 2\n")
    follower = Follower(str(log), offset)
    assert follower.poll() == ([], 0)
    with log.open("a") as handle:
        handle.write("new 1\nhalf")
    assert follower.poll() == (["new 1"], 0)
    with log.open("a") as handle:
        handle.write(" done\n")
    assert follower.poll() == (["half done"], 0)
    log.write_text("")  # copytruncate rotation
    with log.open("a") as handle:
        handle.write("after rotation\n")
    assert follower.poll() == (["after rotation"], 0)
    replacement = tmp_path / "next.log"
    replacement.write_text("in a new file\n")
    os.replace(replacement, log)
    assert follower.poll() == (["in a new file"], 0)
    assert last_lines(str(tmp_path / "missing.log"), 5) == ([], 0)


def test_follower_skips_a_flood_and_says_how_much(tmp_path: Path) -> None:
    from pm.web.live import MAX_READ

    log = tmp_path / "flood.log"
    log.write_text("")
    follower = Follower(str(log), 0)
    log.write_text("x" * 99 + "\n" + ("y" * 99 + "\n") * (MAX_READ // 100 + 50))
    lines, skipped = follower.poll()
    assert skipped > 0 and lines and all(line == "y" * 99 for line in lines)
    assert follower.poll() == ([], 0)
