"""An app that never ends its line still gets its output logged, in whole-lines mode too
(a combined `-l` file, `--time`), as PM2 writes it: PM2's cli-actions-2.sh checks that
`process.stderr.write('errwrite')` reaches a merged log."""

from __future__ import annotations

import re
import sys

from helpers.home import PM, wait_for

NO_NEWLINE = """
import sys, time
sys.stdout.write("whole line\\n"); sys.stdout.flush()
while True:
    sys.stderr.write("errwrite"); sys.stderr.flush()
    time.sleep(0.2)
"""


def test_a_line_without_newline_reaches_a_combined_log(pm: PM) -> None:
    script = pm.write_app("partial.py", NO_NEWLINE)
    combined = pm.workdir / "combined.log"
    pm.run(
        "start",
        str(script),
        "--interpreter",
        sys.executable,
        "--name",
        "partial",
        "-l",
        str(combined),
        "--merge-logs",
        "-s",
    )
    text = wait_for(
        lambda: combined.exists() and "errwrite" in (t := combined.read_text()) and t,
        5,
        message="errwrite in the combined log",
    )
    assert "whole line\n" in text
    error_log = pm.home / "logs" / "partial-error.log"
    wait_for(lambda: "errwrite" in error_log.read_text(), 5, message="errwrite in its own log")


def test_a_partial_line_is_stamped_when_written_with_time(pm: PM) -> None:
    script = pm.write_app("partial.py", NO_NEWLINE)
    pm.run(
        "start", str(script), "--interpreter", sys.executable, "--name", "stamped", "--time", "-s"
    )
    error_log = pm.home / "logs" / "stamped-error.log"
    line = wait_for(
        lambda: (
            error_log.exists()
            and next((x for x in error_log.read_text().splitlines() if "errwrite" in x), None)
        ),
        5,
        message="a stamped errwrite line",
    )
    stamp, _, text = line.partition(": ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", stamp), line
    assert re.fullmatch(r"(errwrite)+", text), line  # what came within the wait, one line
