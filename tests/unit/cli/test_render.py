"""The CLI's pure formatting."""

import time

import click

from pm.cli import render


def entry(**env: object) -> dict:
    base = {
        "status": "online",
        "namespace": "default",
        "pm_uptime": 0,
        "restart_time": 2,
        "exec_mode": "fork_mode",
        "username": "u",
        "watch": False,
    }
    base.update(env)
    return {
        "pm_id": 0,
        "name": "api",
        "pid": 42,
        "pm2_env": base,
        "monit": {"cpu": 1.5, "memory": 13 * 1024 * 1024},
    }


def test_sizes_and_durations_like_pm2() -> None:
    assert render.human_bytes(0) == "0b"
    assert render.human_bytes(135168) == "132.0kb"
    assert render.human_bytes(13.1 * 1024 * 1024) == "13.1mb"
    assert render.human_duration(5_000) == "5s"
    assert render.human_duration(150_000) == "2m"
    assert render.human_duration(3 * 3_600_000) == "3h"
    assert render.human_duration(3 * 86_400_000) == "3D"


#: The header of `pm2 ls` as PM2 7.0.4 prints it on a wide terminal (copied from its output).
PM2_HEADER = [
    "id",
    "name",
    "namespace",
    "version",
    "mode",
    "pid",
    "uptime",
    "↺",
    "status",
    "cpu",
    "mem",
    "user",
    "watching",
]


def test_table_has_pm2_columns_and_values() -> None:
    started = time.time() * 1000 - 150_000  # online for 2.5 minutes: PM2 shows "2m"
    text = click.unstyle(render.table([entry(pm_uptime=started)]))
    lines = text.splitlines()
    header = [cell.strip() for cell in lines[1].split("│")[1:-1]]
    assert header == PM2_HEADER
    cells = [cell.strip() for cell in lines[3].split("│")[1:-1]]
    # The row PM2 prints for such an app, cell by cell under that header.
    assert dict(zip(header, cells)) == {
        "id": "0",
        "name": "api",
        "namespace": "default",
        "version": "N/A",
        "mode": "fork",
        "pid": "42",
        "uptime": "2m",
        "↺": "2",
        "status": "online",
        "cpu": "1.5%",
        "mem": "13.0mb",
        "user": "u",
        "watching": "disabled",
    }


def test_stopped_row_shows_no_uptime() -> None:
    row = render.row(entry(status="stopped"))
    assert row["uptime"] == "0" and row["status"] == "stopped"


def test_wide_names_keep_the_table_in_line() -> None:
    """CJK characters take two terminal columns: every line of the table is as wide."""
    wide = dict(entry(), name="名前テスト")
    text = click.unstyle(render.table([wide, dict(entry(), name="ascii-name")]))
    assert len({render.width(line) for line in text.splitlines()}) == 1
    assert render.width("名前") == 4 and render.width("e\u0301") == 1
    box = render.key_values([("name", "名前テスト"), ("script", "app.py")])
    assert len({render.width(line) for line in box.splitlines()}) == 1
