"""A web-test app: a line on stdout every 0.3 s, and a marker line on stderr for each SIGUSR1."""

import signal
import sys
import time

count = 0


def on_usr1(*_):
    print(f"marker {count} on stderr", file=sys.stderr, flush=True)


signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    while True:
        print(f"tick {count}", flush=True)
        count += 1
        time.sleep(0.3)
except KeyboardInterrupt:
    sys.exit(0)
