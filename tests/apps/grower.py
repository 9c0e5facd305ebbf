"""A web-test app that grows: it keeps 4 MB more memory every 0.2 s, up to LIMIT_MB (default 80),
printing its size each step, then holds it (a leak, as a person would see it on a chart)."""

import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
limit = int(os.environ.get("LIMIT_MB", "80"))
held = []
try:
    while True:
        if len(held) * 4 < limit:
            held.append(bytearray(4 * 1024 * 1024))  # bytearray zero-fills: the pages are touched
            print(f"holding {len(held) * 4} MB", flush=True)
        time.sleep(0.2)
except KeyboardInterrupt:
    sys.exit(0)
