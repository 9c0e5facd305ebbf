"""The pure parts of `pm export`: cron patterns as systemd calendars, `listen` and
`health_check` parsing, container commands and paths, the running list read back into specs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pm.config.spec import AppSpec
from pm.errors import ConfigError
from pm.export import container, systemd
from pm.export.app import Endpoint, export_app, parse_endpoint, parse_health
from pm.export.calendar import Untranslatable, on_calendar
from pm.export.container import Options
from pm.export.notes import Notes
from pm.export.source import from_jlist

CALENDARS = {
    "0 3 * * *": "*-*-* 03:00:00",
    "*/15 9-17 * * 1-5": "Mon,Tue,Wed,Thu,Fri *-*-* 09,10,11,12,13,14,15,16,17:00/15:00",
    "*/30 * * * * *": "*-*-* *:*:00/30",
    "0 0 * jan-mar mon,wed": "Mon,Wed *-01,02,03-* 00:00:00",
    "5 4 1,15 * *": "*-*-01,15 04:05:00",
    "0 */2 * * 7": "Sun *-*-* 00/2:00:00",
    "10-20/5 0 * * *": "*-*-* 00:10,15,20:00",
    "0 12 * * sat-sun": None,  # a backwards range in cron's week (6-0) is not written out
}


@pytest.mark.parametrize(("pattern", "expected"), CALENDARS.items())
def test_cron_patterns_as_calendars(pattern: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(Untranslatable):
            on_calendar(pattern)
    else:
        assert on_calendar(pattern).expression == expected


@pytest.mark.needs("systemd-analyze")
def test_systemd_reads_every_calendar() -> None:
    expressions = [value for value in CALENDARS.values() if value]
    result = subprocess.run(
        ["systemd-analyze", "calendar", *expressions],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Next elapse:") == len(expressions)


@pytest.mark.parametrize("pattern", ["0 0 L * *", "0 0 * * 1#2", "0 0 * *", "61 * * * *"])
def test_patterns_systemd_cannot_say(pattern: str) -> None:
    with pytest.raises(Untranslatable):
        on_calendar(pattern)


def test_day_of_month_and_weekday_together_are_flagged() -> None:
    assert on_calendar("0 6 1 * sun").either_day
    assert not on_calendar("0 6 1 * *").either_day


def test_endpoints_as_pm_reads_them() -> None:
    assert parse_endpoint("127.0.0.1:8000", "x") == Endpoint("127.0.0.1", 8000)
    assert parse_endpoint("0.0.0.0:80", "x") == Endpoint("0.0.0.0", 80)
    assert parse_endpoint(":80", "x") == Endpoint("0.0.0.0", 80)
    assert parse_endpoint(9000, "x") == parse_endpoint("9000", "x") == Endpoint("127.0.0.1", 9000)
    assert parse_endpoint("[::1]:8080", "x") == Endpoint("::1", 8080)
    assert str(Endpoint("::1", 8080)) == "[::1]:8080" and Endpoint("::1", 1).loopback
    for bad in ("localhost", "host:0", "h:70000", True, None):
        with pytest.raises(ConfigError, match='expected "host:port"'):
            parse_endpoint(bad, "eco.json: app #0 (api): field 'listen'")


def test_health_checks() -> None:
    check = parse_health(
        {
            "http": "https://h:8443/up",
            "interval": "5s",
            "timeout": 500,
            "retries": 2,
            "action": "report",
        },
        "w",
    )
    assert (check.kind, check.interval, check.timeout, check.retries) == ("http", 5000, 500, 2)
    assert check.endpoint == Endpoint("h", 8443) and check.action == "report"
    defaults = parse_health({"tcp": 5432}, "w")  # pm's defaults, Docker's
    assert defaults.endpoint == Endpoint("127.0.0.1", 5432)
    assert (
        defaults.interval,
        defaults.timeout,
        defaults.retries,
        defaults.start_period,
        defaults.action,
    ) == (30000, 30000, 3, 0, "restart")
    problems = {
        "exactly one of http, tcp or cmd": {"http": "http://a", "tcp": "a:1"},
        "an http:// or https:// URL": {"http": "ftp://a"},
        "unknown key 'intervall'": {"cmd": "true", "intervall": 5},
        "whole number of at least 1": {"cmd": "true", "retries": 0},
        "expected a duration": {"cmd": "true", "timeout": "soon"},
        "more than 0": {"cmd": "true", "interval": 0},
        "'restart' or 'report'": {"cmd": "true", "action": "ignore"},
    }
    for message, value in problems.items():
        with pytest.raises(ConfigError, match=message):
            parse_health(value, "eco.json: app #0 (api): field 'health_check'")


def test_extras_come_from_the_app_as_written_in_camel_case_too() -> None:
    app = export_app(
        AppSpec(script="a.py", name="a"),
        {"healthCheck": {"cmd": "true"}, "listen": ["1.2.3.4:5", 6], "image": " img:1 "},
        "label",
    )
    assert app.health is not None and app.health.kind == "cmd"
    assert app.listen == [Endpoint("1.2.3.4", 5), Endpoint("127.0.0.1", 6)]
    assert app.image == "img:1"
    with pytest.raises(ConfigError, match="label: field 'image'"):
        export_app(AppSpec(script="a.py"), {"image": ""}, "label")


def _app(tmp_path: Path, **fields: Any) -> Any:
    spec = AppSpec(**{"script": "a.py", "name": "a", "cwd": str(tmp_path), **fields})
    return export_app(spec, {}, "label", str(tmp_path / "eco.json"))


def test_container_commands(tmp_path: Path) -> None:
    options = Options(base=str(tmp_path))
    notes = Notes()
    assert container.direct_command(_app(tmp_path, args=["-v"]), options, notes) == [
        "python3",
        "a.py",
        "-v",
    ]
    assert container.direct_command(_app(tmp_path, script="run.sh"), options, notes)[0] == "bash"
    shell = _app(tmp_path, script="echo hi; sleep 1", args=["a b"])
    assert container.direct_command(shell, options, notes) == [
        "/bin/sh",
        "-c",
        "echo hi; sleep 1 'a b'",
    ]
    absolute = _app(tmp_path, script=str(tmp_path / "sub" / "x.rb"), interpreter="none")
    assert container.direct_command(absolute, options, notes) == ["/app/sub/x.rb"]
    assert notes.lines == []
    outside = _app(tmp_path, script="/opt/tool/run", interpreter="none")
    assert container.direct_command(outside, options, notes) == ["/opt/tool/run"]
    assert notes.lines == [
        (
            f"app 'a', 'script': /opt/tool/run is outside the project folder "
            f"{tmp_path}; kept as is, so the image must have it"
        )
    ]


def test_one_image_for_several_apps_runs_pm_runtime(tmp_path: Path) -> None:
    apps = [_app(tmp_path), _app(tmp_path, name="b")]
    shared = Options(image="img", base=str(tmp_path), env_name="prod")
    assert container.command(apps[1], apps, shared, Notes()) == [
        "pm-runtime",
        "start",
        "/app/eco.json",
        "--only",
        "b",
        "-i",
        "1",
        "--env",
        "prod",
    ]
    own = Options(base=str(tmp_path))  # no --image: each app gets an image of its own
    assert container.command(apps[1], apps, own, Notes())[0] == "python3"


def test_sizes_and_durations() -> None:
    assert container.byte_size(150 * 1024**2, ("Ki", "Mi", "Gi")) == "150Mi"
    assert container.byte_size(1024**3, ("k", "m", "g")) == "1g"
    assert container.byte_size(1000, ("k", "m", "g")) == "1000"
    assert (container.duration(5000), container.duration(1600)) == ("5s", "1600ms")
    assert (container.seconds(1), container.seconds(1600), container.seconds(0)) == (1, 2, 1)


def test_exec_start_words_are_quoted_for_systemd() -> None:
    assert systemd._word("plain/path") == "plain/path"
    assert systemd._word("two words") == '"two words"'
    assert systemd._word("50%") == "50%%"
    assert systemd._word("$HOME") == "$$HOME"
    assert systemd._word('say "hi" $x') == '"say \\"hi\\" $$x"'


def test_running_list_keeps_the_apps_own_env_and_counts_instances() -> None:
    def entry(pm_id: int) -> dict[str, Any]:
        spec = AppSpec(script="/srv/a.py", name="api", cwd="/srv", env={"TOKEN": "t"})
        pm2_env = {
            **spec.env,
            **spec.to_dict(),
            "pm_id": pm_id,
            "status": "online",
            "version": "N/A",
            "env": {"PATH": "/usr/bin", "HOME": "/root", "TOKEN": "t"},
        }
        return {"name": "api", "pm_id": pm_id, "pm2_env": pm2_env}

    [app] = from_jlist([entry(0), entry(1)], None)
    assert app.spec.env == {"TOKEN": "t"} and app.spec.instances == 2
    assert app.spec.script == "/srv/a.py" and app.label == "running app 'api'"
    with pytest.raises(ConfigError, match="no app named web"):
        from_jlist([entry(0)], ["web"])


def test_pm_own_fields_win_once_the_spec_has_them() -> None:
    """When AppSpec holds listen and health_check (pm's readiness work), the export reads them
    from the spec, and ignores what else pm keeps in a check (what to do on failure)."""

    @dataclass
    class SpecWithChecks(AppSpec):
        listen: list[str] = field(default_factory=list)
        health_check: dict[str, Any] | None = None

    spec = SpecWithChecks(
        script="a.py",
        name="a",
        listen=["10.0.0.1:80"],
        health_check={"tcp": "127.0.0.1:80", "interval": 2000, "on_failure": "report"},
    )
    app = export_app(spec, {"listen": "1.1.1.1:1"}, "label")
    assert app.listen == [Endpoint("10.0.0.1", 80)]
    assert app.health is not None and app.health.interval == 2000
