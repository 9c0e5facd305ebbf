"""`pm web`: the dashboard, the HTTP API and /metrics, served by aiohttp in their own process.

    auth.py     the token in PM_HOME/web.token and one-time login links
    bridge.py   the only way to the daemon: pm.client.connection.Client in worker threads; scale
    live.py     the shared process-list snapshot and log files followed by offset
    api.py      JSON endpoints and server-sent event streams
    metrics.py  Prometheus text exposition
    openapi.py  the OpenAPI document
    server.py   the aiohttp app and the token check on every request
    run.py      serving until a signal (for `pm web` and `python -m pm.web`)
    static/     the dashboard page, its CSS and JS (no CDN)
"""
