"""Allocates memory in a child process once a trigger file appears, to test tree RSS limits.

argv: trigger-file megabytes. The child holds the memory, so only a tree measurement sees it.
Prints `allocated <unix time>` when the memory is in place.
"""

import os
import signal
import subprocess
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
trigger, megabytes = sys.argv[1], int(sys.argv[2])
CHILD = (
    "import sys, time\n"
    "block = bytearray(int(sys.argv[1]) * 1024 * 1024)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "print('allocated', time.time(), flush=True)\n"
    "time.sleep(3600)\n"
)
try:
    while not os.path.exists(trigger):
        time.sleep(0.05)
    os.unlink(trigger)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(megabytes)])
    child.wait()
except KeyboardInterrupt:
    sys.exit(0)
