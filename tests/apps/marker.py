"""Appends '<name> <event> <monotonic ns>' to $MARKER_FILE on start and stop, then runs until stopped."""

import os
import signal
import sys
import time

path = os.environ["MARKER_FILE"]
name = os.environ.get("name", "?")


def mark(event: str) -> None:
    with open(path, "a") as handle:
        handle.write(f"{name} {event} {time.monotonic_ns()}\n")


def leave(*_: object) -> None:
    mark("stop")
    sys.exit(0)


signal.signal(signal.SIGINT, leave)
signal.signal(signal.SIGTERM, leave)
mark("start")
while True:
    time.sleep(0.2)
