"""`pm monit`: a live terminal dashboard (stdlib curses, fine over SSH), and `pm list --watch`.

Both poll the daemon's `list` once a second (the daemon caches metrics for a second, so several
dashboards cost it one /proc pass). curses.wrapper restores the terminal on every exit path,
Ctrl-C included.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from pm.cli import render
from pm.client.connection import Client
from pm.client.describe import human_bytes, human_duration
from pm.errors import PMError

REFRESH_S = 1.0
KEY_POLL_MS = 100
LOG_TAIL_BYTES = 16 * 1024
#: The process list's width: id, name, status, cpu and mem; details and logs use the rest.
LIST_WIDTH = 50

Entries = list[dict[str, Any]]


# ------------------------------------------------------------ pm list --watch


def watch_table(
    client: Client, transform: Callable[[Entries], Entries] = lambda e: e, interval: float = 0.9
) -> None:
    """Redraw the process table every `interval` seconds (PM2: 0.9 s) until Ctrl-C."""
    try:
        while True:
            try:
                body = render.table(
                    transform(client.call("list")),
                    render.narrow_columns(shutil.get_terminal_size((200, 24)).columns),
                )
            except PMError as exc:
                body = render.error(exc.message)
            stamp = time.strftime("%H:%M:%S")
            sys.stdout.write(
                f"\x1b[H\x1b[2J{body}\n{stamp}  refreshing every {interval:g}s, Ctrl-C to quit\n"
            )
            sys.stdout.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        sys.stdout.write("\n")


# ------------------------------------------------------------ pm monit


def tail_lines(path: str | None, count: int) -> list[str]:
    """The last `count` lines of a log file, reading only its end."""
    if not path or count <= 0 or path == "/dev/null":
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - LOG_TAIL_BYTES))
            data = handle.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > LOG_TAIL_BYTES:
        lines = lines[1:]  # the first line read is probably cut
    return [line.replace("\t", "    ") for line in lines[-count:]]


def details(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """The selected app's facts shown beside the list."""
    env = entry.get("pm2_env", {})
    monit = entry.get("monit") or {}
    online = env.get("status") == "online"
    uptime = human_duration(time.time() * 1000 - env.get("pm_uptime", 0)) if online else "0"
    limit = env.get("max_memory_restart")
    return [
        ("name", f"{entry.get('name')} (id {entry.get('pm_id')})"),
        ("status", str(env.get("status"))),
        ("pid", str(entry.get("pid") or "N/A")),
        ("cpu", f"{monit.get('cpu', 0):g}%"),
        ("memory", human_bytes(monit.get("memory", 0))),
        ("uptime", uptime),
        ("restarts", str(env.get("restart_time", 0))),
        ("script", str(env.get("pm_exec_path"))),
        ("cwd", str(env.get("pm_cwd"))),
        ("interpreter", str(env.get("exec_interpreter"))),
        ("watching", "enabled" if env.get("watch") else "disabled"),
        ("max memory", human_bytes(limit) if limit else "-"),
        ("cron restart", str(env.get("cron_restart") or "-")),
    ]


class Dashboard:
    """State and drawing of the monit screen; keys act through the same client as the CLI."""

    def __init__(self, screen: Any, client: Client) -> None:
        self.screen = screen
        self.client = client
        self.entries: Entries = []
        self.selected = 0
        self.message = ""
        self.fetched = 0.0

    def refresh(self) -> None:
        try:
            self.entries = self.client.call("list")
        except PMError as exc:
            self.message = exc.message
        self.fetched = time.monotonic()
        self.selected = max(0, min(self.selected, len(self.entries) - 1))

    def act(self, cmd: str, verb: str) -> None:
        if not self.entries:
            return
        entry = self.entries[self.selected]
        try:
            self.client.call(cmd, targets=[str(entry["pm_id"])])
            self.message = f"{entry['name']} ({entry['pm_id']}) {verb}"
        except PMError as exc:
            self.message = exc.message
        self.refresh()

    def key(self, key: int) -> bool:
        """Handle one key press; False means quit."""
        import curses

        if key in (ord("q"), ord("Q"), 27):
            return False
        if key in (curses.KEY_UP, ord("k")):
            self.selected = max(0, self.selected - 1)
        elif key in (curses.KEY_DOWN, ord("j")):
            self.selected = min(len(self.entries) - 1, self.selected + 1)
        elif key == ord("r"):
            self.act("restart", "restarted")
        elif key == ord("s"):
            self.act("stop", "stopped")
        return True

    def put(self, y: int, x: int, text: str, attr: int = 0) -> None:
        """addstr clipped to the screen: a small terminal must never raise."""
        import curses

        height, width = self.screen.getmaxyx()
        if y < 0 or y >= height or x >= width:
            return
        try:
            self.screen.addstr(y, x, text[: max(0, width - x - 1)], attr)
        except curses.error:
            pass

    def draw(self) -> None:
        import curses

        self.screen.erase()
        height, width = self.screen.getmaxyx()
        self.put(
            0, 0, " pm monit  ↑/↓ select  r restart  s stop  q quit ".ljust(width), curses.A_REVERSE
        )
        list_width = min(LIST_WIDTH, width)
        self.put(
            1, 0, f"{'id':>3} {'name':<16} {'status':<10} {'cpu':>6} {'mem':>9}", curses.A_BOLD
        )
        for index, entry in enumerate(self.entries[: max(0, height - 4)]):
            monit = entry.get("monit") or {}
            line = (
                f"{entry['pm_id']:>3} {entry['name'][:16]:<16} "
                f"{entry['pm2_env'].get('status', '')[:10]:<10} "
                f"{monit.get('cpu', 0):>5g}% {human_bytes(monit.get('memory', 0)):>9}"
            )
            self.put(
                2 + index,
                0,
                line.ljust(list_width - 1),
                curses.A_REVERSE if index == self.selected else 0,
            )
        if self.entries:
            self.draw_selected(self.entries[self.selected], list_width, height)
        self.put(height - 1, 0, self.message or f"{len(self.entries)} apps", curses.A_DIM)
        self.screen.refresh()

    def draw_selected(self, entry: dict[str, Any], left: int, height: int) -> None:
        import curses

        facts = details(entry)
        for row, (key, value) in enumerate(facts):
            self.put(1 + row, left, f"{key:>13}  ", curses.A_BOLD)
            self.put(1 + row, left + 15, value)
        top = 2 + len(facts)
        env = entry.get("pm2_env", {})
        room = height - top - 2
        self.put(top, left, " logs ", curses.A_REVERSE)
        errors = (
            tail_lines(env.get("pm_err_log_path"), room // 3)
            if env.get("pm_err_log_path") != env.get("pm_out_log_path")
            else []
        )
        out = tail_lines(env.get("pm_out_log_path"), room - len(errors))
        for row, line in enumerate(out):
            self.put(top + 1 + row, left, line)
        for row, line in enumerate(errors):
            self.put(top + 1 + len(out) + row, left, line, curses.A_BOLD)

    def run(self) -> None:
        import curses

        try:
            curses.curs_set(0)
        except curses.error:
            pass
        self.screen.timeout(KEY_POLL_MS)
        self.screen.keypad(True)
        self.refresh()
        while True:
            self.draw()
            key = self.screen.getch()
            if key != -1 and not self.key(key):
                return
            if time.monotonic() - self.fetched >= REFRESH_S:
                self.refresh()


@click.command("monit")
def monit() -> None:
    """Live dashboard: apps with cpu/memory, the selected app's details and log tail."""
    import curses

    client = Client()
    client.call("ping")  # start the daemon, or fail with a clear error before curses starts
    if not sys.stdout.isatty():
        raise click.ClickException("pm monit needs a terminal; use `pm list --watch` or `pm jlist`")
    try:
        curses.wrapper(lambda screen: Dashboard(screen, client).run())
    except KeyboardInterrupt:
        pass  # curses.wrapper has already restored the terminal
