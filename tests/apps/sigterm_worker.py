"""A queue worker that handles only SIGTERM, as many PHP and queue workers do: on SIGTERM it
finishes its current job and exits 0; SIGINT it notes and ignores (it keeps working, until a
SIGKILL). Each signal is appended to $SIGNALS_FILE ('SIGTERM <pid>' or 'SIGINT <pid>')."""

import os
import signal
import sys
import time

signals_file = os.environ["SIGNALS_FILE"]
stopping = False


def note(signum: int, frame: object) -> None:
    global stopping
    with open(signals_file, "a") as handle:
        handle.write(f"{signal.Signals(signum).name} {os.getpid()}\n")
    if signum == signal.SIGTERM:
        stopping = True


signal.signal(signal.SIGTERM, note)
signal.signal(signal.SIGINT, note)
print("working", flush=True)
while not stopping:
    time.sleep(0.05)  # one job
sys.exit(0)
