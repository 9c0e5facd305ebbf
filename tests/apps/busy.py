"""Spins the CPU until interrupted, for cpu % sampling tests."""

import signal
import sys

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    while True:
        pass
except KeyboardInterrupt:
    sys.exit(0)
