"""Run the web server: `python -m pm.web [--port N] [--host H] [--allow-remote]
[--sample-interval S] [--remote-hosts JSON]`, which is how
`pm web --daemon` runs it as a pm app (`pm web` checked the options before starting it).

When this file is run by path (as pm does under `--daemon`), Python puts pm/web/ first on
sys.path; drop it so the modules here cannot shadow top-level ones.
"""

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import json

from pm.errors import PMError
from pm.paths import Home
from pm.web.run import (
    DEFAULT_INTERVAL_S,
    DEFAULT_PORT,
    is_loopback,
    serve_until_signal,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="pm web")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument("--sample-interval", type=float, default=DEFAULT_INTERVAL_S)
    parser.add_argument("--remote-hosts", default="[]", help="other hosts, as pm web wrote them")
    options = parser.parse_args()
    from pm.client.remote import RemoteHost

    remotes = [
        RemoteHost(**{**fields, "ssh_options": tuple(fields.get("ssh_options") or ())})
        for fields in json.loads(options.remote_hosts)
    ]
    if not is_loopback(options.host) and not options.allow_remote:
        parser.error(f"refusing to listen on {options.host} without --allow-remote")
    try:
        serve_until_signal(
            Home.from_env(),
            options.host,
            options.port,
            lambda line: print(f"[PM] {line}", flush=True),
            options.sample_interval,
            remotes,
        )
    except PMError as exc:
        print(f"[PM][ERROR] {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
