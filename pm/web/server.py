"""The aiohttp application: routes, the token check on every request, and serving until a signal.

The server is its own process and reaches the daemon only through `pm.client.connection.Client` (see
`bridge.py`), so the daemon carries no HTTP code and a dashboard bug cannot take it down.
"""

from __future__ import annotations

import asyncio
import html
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from pm.client.remote import RemoteHost
from pm.errors import PMError
from pm.paths import Home
from pm.web import api, api_history, auth, hosts, metrics
from pm.web.bridge import Bridge
from pm.web.eventlog import EventLog
from pm.web.history import INTERVAL_S, History
from pm.web.live import Hub
from pm.web.openapi import document
from pm.web.recorder import Recorder

STATIC = Path(__file__).parent / "static"
#: Paths served without a token: the login page itself.
PUBLIC = frozenset({"/login"})
COOKIE_MAX_AGE = 7 * 24 * 3600

TOKEN = web.AppKey("token", str)
CODES = web.AppKey("codes", auth.LoginCodes)
DAEMON = web.AppKey("daemon_figures", metrics.DaemonFigures)

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
LOGIN_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ------------------------------------------------------------------ security


def _presented_token(request: web.Request) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came from the cookie."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return (value.strip() if scheme.lower() == "bearer" else None), False
    return request.cookies.get(auth.COOKIE), True


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC:
        return await handler(request)
    token, from_cookie = _presented_token(request)
    if not auth.token_matches(token, request.app[TOKEN]):
        return unauthorized(request)
    if request.method not in ("GET", "HEAD") and from_cookie and not _same_origin(request):
        return api.error_response(403, "forbidden", "cross-origin request refused")
    return await handler(request)


def unauthorized(request: web.Request) -> web.Response:
    if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
        response = login_page(
            "Sign in with the login link printed by `pm web`, or paste the "
            "token from PM_HOME/web.token.",
            401,
        )
    else:
        response = api.error_response(
            401,
            "unauthorized",
            "missing or wrong token: send 'Authorization: Bearer <token>' with the token from "
            "PM_HOME/web.token, or open the login link printed by `pm web`",
        )
    response.headers["WWW-Authenticate"] = 'Bearer realm="pm"'
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", PAGE_CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    # API answers carry app environments: never store them; static files may be revalidated
    headers.setdefault(
        "Cache-Control", "no-cache" if request.path.startswith("/static/") else "no-store"
    )


# ------------------------------------------------------------------ login


def login_page(message: str, status: int = 200) -> web.Response:
    body = _LOGIN_HTML.replace("{message}", html.escape(message))
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Content-Security-Policy"] = LOGIN_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        auth.COOKIE,
        request.app[TOKEN],
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=COOKIE_MAX_AGE,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def login_get(request: web.Request) -> web.Response:
    code = request.query.get("code")
    if code is None:
        return login_page(
            "Paste the token from PM_HOME/web.token, or open a login link "
            "(`pm web --link` prints a new one)."
        )
    if request.app[CODES].redeem(code):
        return _signed_in(request)
    return login_page(
        "This login link is wrong, expired or already used. Run `pm web --link` for a new one.", 401
    )


async def login_post(request: web.Request) -> web.Response:
    form = await request.post()
    token = form.get("token")
    if isinstance(token, str) and auth.token_matches(token.strip(), request.app[TOKEN]):
        return _signed_in(request)
    return login_page("Wrong token: nothing was changed. The token is in PM_HOME/web.token.", 401)


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(auth.COOKIE, path="/")
    return response


# ------------------------------------------------------------------ pages and documents


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def openapi(request: web.Request) -> web.Response:
    return api.json_response(document())


async def prometheus(request: web.Request) -> web.Response:
    bridge = request.app[api.BRIDGE]
    try:
        hello: dict[str, Any] | None = await bridge.call("hello")
        entries = await bridge.list_apps()
    except PMError:
        hello, entries = None, []
    text = metrics.render(hello, entries, request.app[DAEMON])
    return web.Response(body=text.encode(), headers={"Content-Type": metrics.CONTENT_TYPE})


def create_app(
    home: Home,
    token: str,
    interval_s: float = INTERVAL_S,
    remotes: Sequence[RemoteHost] = (),
) -> web.Application:
    """The whole server; interval_s is how often cpu and memory are sampled for history;
    remotes are the other hosts shown beside this one (pm/web/hosts.py)."""
    app = web.Application(middlewares=[require_token], client_max_size=64 * 1024)
    app[TOKEN] = token
    app[CODES] = auth.LoginCodes(token)
    app[DAEMON] = metrics.DaemonFigures()
    app[api.BRIDGE] = bridge = Bridge(home)
    app[api.HUB] = hub = Hub(bridge)
    app[api_history.HISTORY] = history = History(interval_s)
    app[api_history.EVENTS] = events = EventLog()
    app[hosts.PANEL] = panel = hosts.HostsPanel(list(remotes))
    recorder = Recorder(bridge, hub, history, events)
    app.on_response_prepare.append(security_headers)

    async def start_hub(app: web.Application) -> None:
        await hub.start()
        await recorder.start()
        await panel.start()

    async def stop_hub(app: web.Application) -> None:
        await hub.stop()
        await recorder.stop()
        await panel.stop()

    app.on_startup.append(start_hub)
    app.on_shutdown.append(stop_hub)
    router = app.router
    router.add_get("/", index)
    router.add_get("/login", login_get)
    router.add_post("/login", login_post)
    router.add_post("/logout", logout)
    router.add_get("/openapi.json", openapi)
    router.add_get("/metrics", prometheus)
    router.add_get("/api/list", api.list_apps)
    router.add_get("/api/describe", api.describe)
    router.add_get("/api/daemon", api.daemon_info)
    router.add_get("/api/logs", api.logs)
    router.add_get("/api/logs/stream", api.log_stream)
    router.add_get("/api/events", api.events)
    router.add_get("/api/history", api_history.history)
    router.add_get("/api/history/events", api_history.events)
    router.add_get("/api/settings", api_history.settings)
    for cmd in api.ACTIONS:
        router.add_post(f"/api/{cmd}", api.action(cmd))
    router.add_post("/api/scale", api.scale)
    router.add_get("/api/hosts", hosts.list_hosts)
    router.add_post("/api/hosts/action", hosts.host_action)
    router.add_static("/static", STATIC, follow_symlinks=False)
    return app


# ------------------------------------------------------------------ running


async def serve(
    home: Home,
    host: str,
    port: int,
    announce: Callable[[str], None],
    interval_s: float = INTERVAL_S,
    remotes: Sequence[RemoteHost] = (),
) -> None:
    """Serve until SIGINT or SIGTERM; `announce` gets the base URL once the port listens."""
    token = auth.load_or_create_token(home)
    app = create_app(home, token, interval_s, remotes)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound_port = runner.addresses[0][1]
        announce(auth.base_url(host, bound_port))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


_LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pm · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#0f1419;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#d8dee9}
main{background:#161d26;border:1px solid #263241;border-radius:12px;padding:28px 32px;
width:min(420px,90vw);box-shadow:0 10px 40px #0008}
h1{margin:0 0 6px;font-size:20px}h1 b{color:#5fb3f9}
p{color:#9aa8b9;margin:0 0 18px}
input{width:100%;box-sizing:border-box;padding:10px 12px;border-radius:8px;border:1px solid #33414f;
background:#0f1419;color:#d8dee9;font:14px ui-monospace,monospace}
button{margin-top:12px;width:100%;padding:10px;border:0;border-radius:8px;background:#2f81f7;
color:#fff;font-weight:600;cursor:pointer}
</style></head><body><main>
<h1><b>pm</b> dashboard</h1>
<p id="message">{message}</p>
<form method="post" action="/login">
<input name="token" type="password" placeholder="token" autocomplete="off" aria-label="token"
 autofocus>
<button type="submit">Sign in</button>
</form></main></body></html>
"""
