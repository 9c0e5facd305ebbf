"""The CLI's pure formatting."""

import click

from pm.cli import render


def entry(**env: object) -> dict:
    base = {"status": "online", "namespace": "default", "pm_uptime": 0, "restart_time": 2,
            "exec_mode": "fork_mode", "username": "u", "watch": False}
    base.update(env)
    return {"pm_id": 0, "name": "api", "pid": 42, "pm2_env": base,
            "monit": {"cpu": 1.5, "memory": 13 * 1024 * 1024}}


def test_sizes_and_durations_like_pm2() -> None:
    assert render.human_bytes(0) == "0b"
    assert render.human_bytes(135168) == "132.0kb"
    assert render.human_bytes(13.1 * 1024 * 1024) == "13.1mb"
    assert render.human_duration(5_000) == "5s"
    assert render.human_duration(150_000) == "2m"
    assert render.human_duration(3 * 3_600_000) == "3h"
    assert render.human_duration(3 * 86_400_000) == "3D"


def test_table_has_pm2_columns_and_values() -> None:
    text = click.unstyle(render.table([entry(pm_uptime=0)]))
    lines = text.splitlines()
    header = [cell.strip() for cell in lines[1].split("│")[1:-1]]
    assert header == list(render.COLUMNS)
    cells = [cell.strip() for cell in lines[3].split("│")[1:-1]]
    assert cells[:3] == ["0", "api", "default"]
    assert "online" in cells and "13.0mb" in cells and "1.5%" in cells and "2" in cells


def test_stopped_row_shows_no_uptime() -> None:
    row = render.row(entry(status="stopped"))
    assert row["uptime"] == "0" and row["status"] == "stopped"
