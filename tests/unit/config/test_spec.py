"""AppSpec parsing and command resolution (PM2.md 2.3, 2.4)."""

import os
import stat
from pathlib import Path

import pytest

from pm.config.command import default_name, infer_interpreter, resolve_command
from pm.config.spec import (
    AppSpec,
    canonical_key,
    parse_duration_ms,
    parse_signal,
    parse_size,
    resolve_instances,
    split_args,
    suggest_key,
)
from pm.errors import ConfigError
from pm.paths import Home, sanitize_name


def test_durations_and_sizes() -> None:
    assert parse_duration_ms(500, "f") == 500
    assert parse_duration_ms("5s", "f") == 5000
    assert parse_duration_ms("1m", "f") == 60_000
    assert parse_duration_ms("1h", "f") == 3_600_000
    assert parse_size("150M", "f") == 150 * 1024**2
    assert parse_size("1G", "f") == 1024**3
    assert parse_size(2048, "f") == 2048
    with pytest.raises(ConfigError, match="field"):
        parse_duration_ms("soon", "field")
    with pytest.raises(ConfigError):
        parse_size("lots", "f")


def test_signals_by_name_or_number_as_kill_takes_them() -> None:
    for value in ("SIGTERM", "TERM", "sigterm", " SIGTERM ", 15, "15"):
        assert parse_signal(value, "f") == "SIGTERM"
    assert parse_signal("SIGIOT", "f") == "SIGABRT"  # an alias: its canonical name
    assert parse_signal("QUIT", "f") == "SIGQUIT" and parse_signal(10, "f") == "SIGUSR1"
    for bad in ("SIGFOO", "", 0, 99, -1, True, 1.5, None, ["SIGTERM"]):
        with pytest.raises(ConfigError, match=r"^e.json: field 'kill_signal': expected a signal"):
            parse_signal(bad, "e.json: field 'kill_signal'")
    with pytest.raises(ConfigError, match="SIGSTOP cannot stop an app"):
        parse_signal("STOP", "f")


def test_a_spec_from_the_wire_with_a_bad_signal_is_refused() -> None:
    with pytest.raises(ConfigError, match="field 'kill_signal': expected a signal"):
        AppSpec.from_dict({"script": "x", "kill_signal": "SIGNOPE"}, "app 'x'")
    assert AppSpec.from_dict({"script": "x", "kill_signal": "SIGHUP"}).kill_signal == "SIGHUP"


def test_args_split_like_a_shell() -> None:
    assert split_args("-x 'a b' --y=2", "f") == ["-x", "a b", "--y=2"]
    assert split_args(["a", 1], "f") == ["a", "1"]


def test_instances_rules() -> None:
    cpus = os.cpu_count() or 1
    assert resolve_instances("max", "f") == cpus
    assert resolve_instances(0, "f") == cpus
    assert resolve_instances(-1, "f") == max(1, cpus - 1)
    assert resolve_instances(3, "f") == 3


def test_aliases_and_camel_case() -> None:
    assert canonical_key("exec") == "script"
    assert canonical_key("maxRestarts") == "max_restarts"
    assert canonical_key("err_file") == "error_file"
    assert canonical_key("combineLogs") == "merge_logs"
    assert suggest_key("max_restart") == "max_restarts"


def test_default_name_and_sanitised_file_names() -> None:
    assert default_name("/srv/api.server.py") == "api.server"
    assert default_name("worker") == "worker"
    assert sanitize_name("my_app x") == "my-app-x"
    home = Home(Path("/h"))
    assert str(home.out_log("my_app x")) == "/h/logs/my-app-x-out.log"
    assert str(home.err_log("web", 2)) == "/h/logs/web-error-2.log"


def test_interpreter_by_extension_and_shebang(tmp_path: Path) -> None:
    assert infer_interpreter(str(tmp_path / "a.sh"), None) == "bash"
    assert infer_interpreter(str(tmp_path / "a.rb"), None) == "ruby"
    assert infer_interpreter(str(tmp_path / "a.php"), None) == "php"
    assert infer_interpreter(str(tmp_path / "a.py"), None) in ("python", "python3")
    script = tmp_path / "noext"
    script.write_text("#!/bin/sh\necho hi\n")
    assert infer_interpreter(str(script), None) == "none"  # PM2 would pick node here


def test_resolve_command_errors_are_clear(tmp_path: Path) -> None:
    spec = AppSpec(script="missing.py", name="x", cwd=str(tmp_path))
    with pytest.raises(ConfigError, match="script not found"):
        resolve_command(spec, os.environ["PATH"])
    script = tmp_path / "a.xyz"
    script.write_text("#!/bin/sh\n")
    spec = AppSpec(script="a.xyz", name="x", cwd=str(tmp_path), interpreter="no-such-interp")
    with pytest.raises(ConfigError, match="not available in PATH"):
        resolve_command(spec, os.environ["PATH"])
    spec = AppSpec(script="a.xyz", name="x", cwd=str(tmp_path), interpreter="none")
    with pytest.raises(ConfigError, match="not executable"):
        resolve_command(spec, os.environ["PATH"])
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert resolve_command(spec, os.environ["PATH"]).argv == [str(script)]


def test_command_line_with_spaces_runs_through_a_shell(tmp_path: Path) -> None:
    spec = AppSpec(script="echo hi && sleep 1", name="x", cwd=str(tmp_path))
    command = resolve_command(spec, os.environ["PATH"])
    assert command.argv[1:] == ["-c", "echo hi && sleep 1"]
    assert Path(command.argv[0]).name in ("bash", "sh")


def test_program_on_path_is_found(tmp_path: Path) -> None:
    spec = AppSpec(script="sleep", name="x", cwd=str(tmp_path), args=["5"])
    command = resolve_command(spec, os.environ["PATH"])
    assert command.argv[-1] == "5" and command.interpreter == "none"


def test_from_dict_rejects_wrong_types() -> None:
    with pytest.raises(ConfigError, match="max_restarts"):
        AppSpec.from_dict({"script": "a.py", "max_restarts": "many"})
    with pytest.raises(ConfigError, match="script"):
        AppSpec.from_dict({"name": "x"})


def test_from_dict_lists_every_bad_field_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        AppSpec.from_dict(
            {
                "script": "a.py",
                "max_restarts": -1,
                "args": 5,
                "cron_restart": "not a cron",
                "autorestart": "yes",
            },
            where="app 'x'",
        )
    lines = info.value.message.splitlines()
    assert len(lines) == 4, lines
    assert all(line.startswith("app 'x': field '") for line in lines)
    assert {line.split("'")[3] for line in lines} == {
        "max_restarts",
        "args",
        "cron_restart",
        "autorestart",
    }
