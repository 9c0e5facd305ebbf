"""A long-running app: prints a tick every 0.2 s, exits cleanly on SIGINT/SIGTERM."""

import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
count = 0
try:
    while True:
        print(f"tick {count}", flush=True)
        count += 1
        time.sleep(0.2)
except KeyboardInterrupt:
    sys.exit(0)
