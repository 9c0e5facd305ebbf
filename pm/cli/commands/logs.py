"""`pm logs`, `pm flush`, `pm reloadLogs`."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

import click

from pm.cli import render
from pm.cli.base import client
from pm.client.logreader import Follower, Source, sources_for, tail_lines
from pm.config.dateformat import LOGS_TIMESTAMP_FORMAT, format_date

#: How often new lines are looked for, and how often the app list is re-read (new apps).
POLL_SECONDS = 0.1
REFRESH_SECONDS = 1.0
LABEL_WIDTH = 10


class Printer:
    """Turns (source, line) into PM2's output for the chosen mode."""

    def __init__(
        self,
        raw: bool,
        as_json: bool,
        key_values: bool,
        timestamp: str | None,
        highlight: str | None,
    ) -> None:
        self.raw, self.as_json, self.key_values = raw, as_json, key_values
        self.timestamp, self.highlight = timestamp, highlight
        self.width = LABEL_WIDTH

    def widen(self, sources: list[Source]) -> None:
        for source in sources:
            self.width = max(self.width, len(source.label) + 1)

    def header(self, source: Source, count: int) -> None:
        if not (self.raw or self.as_json or self.key_values):
            # The files keep no time per line: past lines are not stamped (as PM2 does), and
            # with --timestamp the header says so.
            unknown = " (written before now, at times the file does not keep)"
            note = unknown if self.timestamp else ""
            click.echo(click.style(f"{source.path} last {count} lines{note}:", fg="bright_black"))

    def line(self, source: Source, raw_line: bytes, when: float | None = None) -> None:
        """One line; when: the time it was seen written (followed lines), None for a line
        read back from the file, whose time is not known: it gets no time stamp."""
        text = raw_line.decode(errors="replace").rstrip("\r")
        kind = "PM" if source.kind == "pm" else source.kind
        if self.as_json:
            record = {
                "message": text,
                "timestamp": None if when is None else format_date("YYYY-MM-DDTHH:mm:ssZ", when),
                "type": kind,
                "process_id": source.pm_id,
                "app_name": source.name,
            }
            click.echo(json.dumps(record))
            return
        if self.key_values:
            stamp = format_date(self.timestamp or LOGS_TIMESTAMP_FORMAT, when) if when else None
            click.echo(
                (f"timestamp={stamp} " if stamp else "")
                + f"app={source.name} id={source.pm_id} type={kind} message={text}"
            )
            return
        if self.timestamp and when is not None:
            text = f"{format_date(self.timestamp, when)}: {text}"
        if self.highlight:
            marked = click.style(self.highlight, bold=True, reverse=True)
            text = text.replace(self.highlight, marked)
        if self.raw:
            click.echo(text, err=source.kind == "err")
            return
        colour = {"out": "green", "err": "red"}.get(source.kind, "blue")
        label = click.style(source.label.ljust(self.width), fg=colour)
        click.echo(f"{label} | {text}")


def _entries() -> list[dict[str, Any]] | None:
    try:
        result: list[dict[str, Any]] = client().call("list")
        return result
    except Exception:
        return None  # daemon gone for a moment: keep following what we have


def _sources(
    entries: list[dict[str, Any]], target: str | None, streams: tuple[str, ...], daemon_log: str
) -> list[Source]:
    if target is not None and target.lower() in ("pm", "pm2"):
        return [Source(daemon_log, "pm", None, "PM")]
    found = sources_for(entries, target, streams)
    if target is None and len(streams) == 2:
        found.insert(0, Source(daemon_log, "pm", None, "PM"))
    return found


@click.command("logs")
@click.argument("target", required=False)
@click.option(
    "--lines", default=15, show_default=True, type=int, help="Lines to show from each file."
)
@click.option("--raw", is_flag=True, help="Bare lines, no prefixes.")
@click.option("--err", "err_only", is_flag=True, help="Only the error logs.")
@click.option("--out", "out_only", is_flag=True, help="Only the standard output logs.")
@click.option("--nostream", is_flag=True, help="Print the last lines and exit.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--format", "key_values", is_flag=True, help="key=value lines.")
@click.option(
    "--timestamp",
    is_flag=False,
    flag_value=LOGS_TIMESTAMP_FORMAT,
    default=None,
    help=f"Prefix lines with the time (default format {LOGS_TIMESTAMP_FORMAT}).",
)
@click.option(
    "--highlight", is_flag=False, flag_value="", default=None, help="Highlight this text."
)
def logs_cmd(
    target: str | None,
    lines: int,
    raw: bool,
    err_only: bool,
    out_only: bool,
    nostream: bool,
    as_json: bool,
    key_values: bool,
    timestamp: str | None,
    highlight: str | None,
) -> None:
    """Show the last lines of the apps' logs, then follow them (target: id, name, namespace,
    /regex/, all, or `pm` for the daemon's own log)."""
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))  # Ctrl-C is the normal way out
    streams = (
        ("err",)
        if err_only and not out_only
        else ("out",)
        if out_only and not err_only
        else ("out", "err")
    )
    daemon_log = str(client().home.daemon_log)
    entries = _entries() or []
    if (
        target is not None
        and target.lower() not in ("pm", "pm2", "all")
        and not sources_for(entries, target, ("out", "err"))
    ):
        click.echo(render.error(f"No process found matching {target}"), err=True)
        sys.exit(1)
    printer = Printer(raw, as_json, key_values, timestamp, highlight or None)
    sources = _sources(entries, target, streams, daemon_log)
    printer.widen(sources)
    if not (raw or as_json or key_values) and not nostream:
        click.echo(
            click.style(
                f"[TAILING] Tailing last {lines} lines for [{target or 'all'}] "
                "process (change the value with --lines option)",
                fg="bright_black",
            )
        )
    for source in sources:
        if lines > 0:
            printer.header(source, lines)
            for line in tail_lines(source.path, lines):
                printer.line(source, line)
            if not (raw or as_json or key_values):
                click.echo()
    if nostream:
        return
    _follow(printer, sources, target, streams, daemon_log)


def _follow(
    printer: Printer,
    sources: list[Source],
    target: str | None,
    streams: tuple[str, ...],
    daemon_log: str,
) -> None:
    started = time.time()
    followers = {source: Follower(source.path) for source in sources}
    next_refresh = time.monotonic() + REFRESH_SECONDS
    try:
        while True:
            for source, follower in list(followers.items()):
                for line in follower.poll():
                    printer.line(source, line, time.time())
            sys.stdout.flush()
            if time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + REFRESH_SECONDS
                entries = _entries()
                if entries is not None:
                    fresh = [
                        s
                        for s in _sources(entries, target, streams, daemon_log)
                        if s not in followers
                    ]
                    printer.widen(fresh)
                    for source in fresh:  # an app started after we began: show it from its start
                        old = _old(source.path, started)
                        followers[source] = Follower(source.path, from_end=old)
            time.sleep(POLL_SECONDS)
    finally:
        for follower in followers.values():
            follower.close()


def _old(path: str, since: float) -> bool:
    try:
        return os.stat(path).st_mtime < since
    except OSError:
        return False


@click.command("flush")
@click.argument("target", required=False)
def flush_cmd(target: str | None) -> None:
    """Empty the log files (of one app, or all and pm.log)."""
    args = {"targets": [target]} if target and target != "all" else {}
    result = client().call("flush", **args)
    click.echo(render.prefix(f"Logs flushed ({len(result['files'])} files)"))


@click.command("reloadLogs")
def reload_logs_cmd() -> None:
    """Reopen the log files the daemon writes, e.g. after an external rotation."""
    result = client().call("reloadLogs")
    click.echo(render.prefix(f"Reloading all logs... ({result['reopened']} files reopened)"))
