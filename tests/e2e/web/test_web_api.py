"""The HTTP API of `pm web` against a real daemon: auth, actions, scale, logs, daemon mode."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import sys
import time

from helpers.home import PM, wait_for
from helpers.web import (  # noqa: F401 (fixtures)  # noqa: F401 (fixtures)
    CHATTY,
    Web,
    clean_pm_fixture,
    shared_pm_fixture,
    shared_web_fixture,
    start_chatty,
    web_fixture,
)


def test_token_is_private_and_required_everywhere(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    app = start_chatty(pm)
    token_file = pm.home / "web.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(web.token) >= 40
    for path in (
        "/",
        "/api/list",
        "/metrics",
        "/openapi.json",
        "/static/app.js",
        "/api/events",
        "/api/daemon",
    ):
        for token in (None, "wrong", web.token[:-1]):
            reply = web.get(path, token=token)
            assert reply.status == 401, (path, token)
            assert reply.headers["www-authenticate"].startswith("Bearer")
            assert "access-control-allow-origin" not in reply.headers
    reply = web.get("/api/list", token=None, headers={"Cookie": "pm_token=wrong"})
    assert reply.status == 401
    # a refused action changes nothing
    for token in (None, "wrong"):
        assert web.post("/api/stop", {"targets": ["chatty"]}, token=token).status == 401
        assert web.post("/api/delete", {"targets": ["all"]}, token=token).status == 401
    entry = pm.app("chatty")
    assert entry["pm2_env"]["status"] == "online" and entry["pid"] == app["pid"]
    # a browser without the cookie gets the sign-in page, still as 401
    page = web.get("/", token=None, headers={"Accept": "text/html"})
    assert page.status == 401 and b"<form" in page.body


def test_login_link_works_once_and_sets_a_strict_httponly_cookie(shared_web: Web) -> None:
    web = shared_web
    path = web.link.removeprefix(web.base)
    first = web.get(path, token=None)
    assert first.status == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";")[0]
    assert web.get("/api/list", token=None, headers={"Cookie": value}).status == 200
    assert web.get(path, token=None).status == 401  # used up
    forged = path[:-4] + ("0000" if not path.endswith("0000") else "1111")
    assert web.get(forged, token=None).status == 401
    assert (
        web.post(
            "/login",
            token=None,
            raw=b"token=nope",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status
        == 401
    )
    good = web.post(
        "/login",
        token=None,
        raw=f"token={web.token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert good.status == 303 and "pm_token=" in good.headers["set-cookie"]


def test_cookie_post_from_another_origin_is_refused(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    start_chatty(pm)
    cookie = {"Cookie": f"pm_token={web.token}", "Origin": "http://evil.example"}
    reply = web.post("/api/stop", {"targets": ["chatty"]}, token=None, headers=cookie)
    assert reply.status == 403
    assert pm.status("chatty") == "online"
    preflight = web.request(
        "OPTIONS",
        "/api/stop",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 405  # no CORS handler: the route answers POST only
    assert "access-control-allow-origin" not in preflight.headers
    same = {"Cookie": f"pm_token={web.token}", "Origin": web.base}
    assert web.post("/api/stop", {"targets": ["chatty"]}, token=None, headers=same).status == 200
    assert pm.status("chatty") == "stopped"


def test_actions_are_post_only_json_and_report_errors(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    start_chatty(pm)
    assert web.get("/api/restart").status == 405
    form = web.post(
        "/api/restart",
        token="default",
        raw=b"targets=chatty",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status == 415
    assert web.post("/api/restart", {"targets": []}).status == 400
    assert web.post("/api/restart", {"targets": [3]}).status == 400
    assert (
        web.post(
            "/api/restart", raw=b"{not json", headers={"Content-Type": "application/json"}
        ).status
        == 400
    )
    missing = web.post("/api/restart", {"targets": ["nope"]})
    assert missing.status == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": "Process or Namespace nope not found",
    }
    assert pm.app("chatty")["pm2_env"]["restart_time"] == 0

    restarted = web.post("/api/restart", {"targets": ["chatty"]})
    assert restarted.status == 200, restarted.text
    assert restarted.json()[0]["pm2_env"]["restart_time"] == 1

    def after(action: str) -> dict:
        return web.post(f"/api/{action}", {"targets": ["chatty"]}).json()[0]["pm2_env"]

    assert after("stop")["status"] == "stopped"
    assert after("start")["status"] == "online"
    assert after("reset")["restart_time"] == 0
    described = web.get("/api/describe?target=chatty").json()
    assert [entry["name"] for entry in described] == ["chatty"]
    assert web.get("/api/describe?target=ghost").status == 404
    deleted = web.post("/api/delete", {"targets": ["chatty"]})
    assert deleted.status == 200 and pm.jlist() == []
    daemon = web.get("/api/daemon").json()
    assert daemon["up"] is True and daemon["pid"] == pm.daemon_pid()


def test_scale_adds_a_copy_and_removes_the_lowest_ids(clean_pm: PM, shared_web: Web) -> None:
    """The dashboard scales through the daemon's `scale`, as `pm scale` does: removals take
    the lowest ids, as PM2 (observed: `pm2 scale s 1` of ids 0,1,2 keeps 2)."""
    pm, web = clean_pm, shared_web
    start_chatty(pm, "chatty", "--namespace", "jobs")
    up = web.post("/api/scale", {"name": "chatty", "delta": 1})
    assert up.status == 200, up.text
    added = up.json()
    assert [entry["pm_id"] for entry in added] == [1]
    copy = pm.wait_status(1, "online")
    assert copy["name"] == "chatty" and copy["pm2_env"]["namespace"] == "jobs"
    assert copy["pm2_env"]["pm_exec_path"] == CHATTY
    assert copy["pm2_env"]["pm_out_log_path"].endswith("chatty-out-1.log")
    wait_for(lambda: os.path.exists(copy["pm2_env"]["pm_out_log_path"]), message="copy's log")
    assert web.post("/api/scale", {"name": "chatty", "delta": 2}).status == 200
    assert sorted(entry["pm_id"] for entry in pm.jlist()) == [0, 1, 2, 3]
    down = web.post("/api/scale", {"name": "chatty", "delta": -2})
    assert sorted(entry["pm_id"] for entry in down.json()) == [0, 1]
    assert sorted(entry["pm_id"] for entry in pm.jlist()) == [2, 3]
    cli = pm.run("scale", "chatty", "-1")  # the CLI, the same rule
    assert "chatty" in cli.stdout and sorted(e["pm_id"] for e in pm.jlist()) == [3]
    assert web.post("/api/scale", {"name": "chatty", "delta": 1}).status == 200
    too_far = web.post("/api/scale", {"name": "chatty", "delta": -2})
    assert too_far.status == 400 and "use delete" in too_far.json()["error"]["message"]
    assert web.post("/api/scale", {"name": "chatty", "delta": 0}).status == 400
    assert web.post("/api/scale", {"name": "chatty", "delta": 1000}).status == 400
    assert web.post("/api/scale", {"name": "ghost", "delta": 1}).status == 404
    assert len(pm.jlist()) == 2


def test_logs_tail_and_live_stream_tell_out_from_err(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    app = start_chatty(pm, "talker", ticks=3)
    os.kill(app["pid"], signal.SIGUSR1)
    err_log = pm.home / "logs" / "talker-error.log"
    marker = wait_for(
        lambda: err_log.exists() and re.fullmatch(r"marker \d+ on stderr\n", err_log.read_text()),
        message="marker",
    )
    tail = web.get("/api/logs?target=talker&lines=3").json()
    assert [entry["name"] for entry in tail] == ["talker"]
    # the last 3 of its ticks, in order; its one stderr line, alone
    first = int(tail[0]["out"][0].removeprefix("tick "))
    assert tail[0]["out"] == [f"tick {n}" for n in range(first, first + 3)]
    assert tail[0]["err"] == [marker.group(0).rstrip("\n")]
    assert web.get("/api/logs?target=talker&lines=many").status == 400

    conn = _open_stream(web, "/api/logs/stream?target=talker&lines=0")
    try:
        _read_events(conn, lambda lines: any(line["stream"] == "out" for line in lines))
        os.kill(app["pid"], signal.SIGUSR1)  # now surely after the stream's starting offset
        seen = _read_events(conn, lambda lines: any(line["stream"] == "err" for line in lines))
    finally:
        conn.close()
    err = [line for line in seen if line["stream"] == "err"]
    assert err[0]["text"].startswith("marker") and err[0]["id"] == app["pm_id"]
    assert all(line["text"].startswith("tick") for line in seen if line["stream"] == "out")


def _open_stream(web: Web, path: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", web.port), timeout=20)
    # HTTP/1.0: the stream comes unchunked, so its lines can be read as they are
    conn.sendall(
        f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {web.token}\r\n\r\n".encode()
    )
    return conn


def _read_events(conn: socket.socket, done: object) -> list[dict]:
    """Collect `lines` events from a raw SSE response until done(lines) holds (20 s at most)."""
    buffer, lines = b"", []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        buffer += conn.recv(65536)
        for match in buffer.split(b"\n"):
            if match.startswith(b"data: "):
                payload = json.loads(match[6:])
                if "lines" in payload:
                    lines = lines + payload["lines"] if payload["lines"] else lines
        buffer = buffer[buffer.rfind(b"\n") + 1 :]
        if done(lines):  # type: ignore[operator]
            return lines
    raise AssertionError(f"stream never showed the expected lines: {lines}")


def test_events_stream_sends_snapshots_with_the_table(clean_pm: PM, shared_web: Web) -> None:
    pm, web = clean_pm, shared_web
    start_chatty(pm)
    conn = _open_stream(web, "/api/events")
    try:
        buffer = b""
        deadline = time.monotonic() + 20
        while not re.search(rb"event: snapshot\ndata: [^\n]*\n\n", buffer):
            assert time.monotonic() < deadline, buffer
            buffer += conn.recv(65536)
    finally:
        conn.close()
    data = [line for line in buffer.split(b"\n") if line.startswith(b"data: ")][0]
    snapshot = json.loads(data[6:])
    assert snapshot["daemon"]["up"] is True
    row = snapshot["apps"][0]
    assert {k: row[k] for k in ("id", "name", "namespace", "status", "restarts")} == {
        "id": 0,
        "name": "chatty",
        "namespace": "default",
        "status": "online",
        "restarts": 0,
    }
    assert row["pid"] == pm.app("chatty")["pid"] and row["memory"] > 0


def test_daemon_gone_is_503_and_not_restarted(pm: PM, web: Web) -> None:
    pm.run("kill")
    reply = web.get("/api/list")
    assert reply.status == 503 and reply.json()["error"]["code"] == "daemon_unavailable"
    assert "pm_daemon_up 0" in web.get("/metrics").text
    assert pm.daemon_pid() is None


def test_non_loopback_needs_an_explicit_flag(pm: PM) -> None:
    refused = pm.run("web", "--host", "0.0.0.0", "--port", "0", check=False)
    assert refused.returncode == 2 and "--allow-remote" in refused.stderr
    allowed = pm.run("web", "--host", "0.0.0.0", "--allow-remote", "--link")
    assert "anyone who can reach this address" in allowed.stderr
    assert "/login?code=" in allowed.stdout


def test_web_runs_under_pm_with_daemon_flag(pm: PM) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = pm.run("web", "--daemon", "--port", str(port))
    assert f"http://127.0.0.1:{port}/login?code=" in result.stdout
    entry = pm.wait_status("pm-web", "online")
    assert entry["pm2_env"]["exec_interpreter"] == sys.executable
    token = (pm.home / "web.token").read_text().strip()
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        conn.sendall(f"GET /api/list HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    finally:
        conn.close()
    assert reply.split(b"\r\n")[0].endswith(b" 200 OK") and b'"pm-web"' in reply
    again = pm.run("web", "--daemon", "--port", str(port), "--name", "web2", check=False)
    assert again.returncode == 1 and "Address already in use" in again.stderr
    assert [entry["name"] for entry in pm.jlist()] == ["pm-web"]


def test_history_and_events_keep_a_crash_with_its_code_and_last_lines(
    clean_pm: PM, shared_web: Web
) -> None:
    pm, web = clean_pm, shared_web
    pm.run(
        "start",
        "bash -c 'echo about to fail; echo no config found >&2; sleep 0.3; exit 3'",
        "--name",
        "failing",
        "--restart-delay",
        "60000",
    )
    entry = pm.wait_status("failing", "waiting restart")

    def crash() -> dict | None:
        reply = web.get("/api/history/events?name=failing")
        assert reply.status == 200
        exits = [e for e in reply.json()["events"] if e["kind"] == "exit" and "tail" in e]
        return exits[0] if exits else None

    event = wait_for(crash, timeout=10, message="the exit with its last lines")
    assert event["code"] == 3 and "signal" not in event and event["id"] == entry["pm_id"]
    assert event["tail"] == {"out": ["about to fail"], "err": ["no config found"]}
    kinds = [e["kind"] for e in web.get("/api/history/events?name=failing").json()["events"]]
    assert kinds[:3] == ["online", "exit", "waiting restart"]
    history = wait_for(
        lambda: (lambda apps: apps and len(apps[0]["t"]) >= 2 and apps)(
            web.get("/api/history?name=failing").json()["apps"]
        ),
        timeout=10,
        message="samples",
    )
    assert history[0]["ids"] == [entry["pm_id"]] and history[0]["instances"][0]["t"]
    assert history[0]["t"] == sorted(history[0]["t"])
    settings = web.get("/api/settings?target=failing").json()
    assert ["status", "waiting restart"] in settings[0]["settings"]
    for bad in (
        "history?points=-1",
        "history?since=x",
        "history?instances=2",
        "history?name=",
        "history/events?limit=99999",
        "history/events?after=%C2%B2",
    ):
        reply = web.get(f"/api/{bad}")
        assert reply.status == 400 and reply.json()["error"]["code"] == "bad_request", bad
