"""`pm web`: the dashboard, the HTTP API and /metrics, served by aiohttp in their own process.

auth.py     the token in PM_HOME/web.token and one-time login links
bridge.py   the only way to the daemon: pm.client.connection.Client in worker threads; scale
live.py     the shared process-list snapshot, the live feed, log files followed by offset
history.py  cpu and memory rings per instance and per app (the charts' last hour)
eventlog.py daemon events normalised (exit code, signal...) and kept per app
recorder.py samples the list on a timer and takes in events, into history and the feed
api.py      JSON endpoints and server-sent event streams
api_history.py  history, kept events and an app's settings (`describe`) for the page
metrics.py  Prometheus text exposition
openapi.py  the OpenAPI document
server.py   the aiohttp app and the token check on every request
run.py      serving until a signal (for `pm web` and `python -m pm.web`)
static/     the dashboard page, its CSS and JS modules, SVG charts drawn by chart.js (no CDN)
"""
