"""Reading ecosystem files: formats, attributes, env profiles and errors (PM2.md 2)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import CORPUS

from pm.config.ecosystem import is_config_file, load_file
from pm.config.readers import read_file
from pm.errors import ConfigError

BROKEN = CORPUS / "broken"
needs_node = pytest.mark.needs("node")


@pytest.fixture(autouse=True)
def corpus_bin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in php/ruby interpreters of the corpus, first on PATH."""
    monkeypatch.setenv("PATH", f"{CORPUS / 'bin'}:{os.environ['PATH']}")


def by_name(path: Path, **kwargs: object) -> dict[str, dict[str, object]]:
    return {spec.name: spec.to_dict() for spec in load_file(str(path), **kwargs).specs}  # type: ignore[arg-type]


def test_config_file_detection_is_pm2s() -> None:
    assert is_config_file("ecosystem.config.js") and is_config_file("app.json5")
    assert is_config_file("x.yml") and is_config_file("a.config.mjs")
    assert not is_config_file("ecosystem.js") and not is_config_file("app.py")


def test_strict_json_with_args_env_and_durations() -> None:
    app = by_name(CORPUS / "basic.json")["basic-api"]
    assert app["args"] == ["--port", "8000", "--label", "two words"]
    assert app["env"] == {"APP_ENV": "dev", "DEBUG": "true", "WORKERS": "4"}
    assert (app["max_restarts"], app["min_uptime"], app["kill_timeout"]) == (5, 5000, 3000)
    assert app["cwd"] == str(CORPUS) and app["script"] == "apps/api.py"


def test_lenient_json_comments_trailing_commas_camel_case_and_aliases() -> None:
    apps = by_name(CORPUS / "lenient.json")
    worker, shell = apps["lenient-worker"], apps["lenient-shell"]
    assert (worker["max_restarts"], worker["kill_timeout"], worker["restart_delay"]) == (
        3,
        2500,
        100,
    )
    assert worker["interpreter_args"] == ["-u"] and worker["env"] == {"QUEUE": "emails"}
    assert shell["autorestart"] is False and shell["stop_exit_codes"] == [0, 3]
    assert shell["out_file"] == "logs/shell-out.log" and shell["error_file"] == "logs/shell-err.log"


def test_yaml_env_profile_and_append_env_to_name() -> None:
    plain = by_name(CORPUS / "profiles.yaml")
    assert plain["web"]["env"]["NODE_ENV"] == "development"
    prod = by_name(CORPUS / "profiles.yaml", env_name="production")
    web = prod["web-production"]
    assert web["env"] == {
        "NODE_ENV": "production",
        "API_URL": "https://api.example.com",
        "SHARED": "base",
    }
    assert web["port"] == 8080 and web["namespace"] == "shop"
    assert prod["mailer"]["env"] == {"SHARED": "mailer", "MAIL_HOST": "smtp.example.com"}
    staging = load_file(str(CORPUS / "profiles.yaml"), env_name="staging")
    assert any("no app has 'env_staging'" in w for w in staging.warnings)


def test_instances_and_instance_variables() -> None:
    apps = by_name(CORPUS / "instances.json")
    assert apps["pool"]["instances"] == 3 and apps["pool"]["increment_var"] == "PORT"
    assert apps["pool"]["instance_var"] == "WORKER_ID"
    assert apps["pool"]["max_memory_restart"] == 150 * 1024**2
    assert apps["pair"]["instances"] == 2 and apps["pair"]["merge_logs"] is True


def test_bare_array_and_only() -> None:
    apps = by_name(CORPUS / "legacy.json", only=["bare-two"])
    assert list(apps) == ["bare-two"]
    assert apps["bare-two"]["cwd"] == str(CORPUS / "apps")
    assert apps["bare-two"]["wait_ready"] is True and apps["bare-two"]["listen_timeout"] == 5000
    with pytest.raises(ConfigError, match="no app named nope"):
        load_file(str(CORPUS / "legacy.json"), only=["nope"])


def test_legacy_pm2_key_and_single_object_apps(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("")
    (tmp_path / "a.json").write_text('{"pm2": [{"script": "w.py"}]}')
    (tmp_path / "b.json").write_text('{"apps": {"script": "w.py", "name": "solo"}}')
    assert [s.name for s in load_file(str(tmp_path / "a.json")).specs] == ["w"]
    assert [s.name for s in load_file(str(tmp_path / "b.json")).specs] == ["solo"]


def test_static_is_reported_and_deploy_is_left_to_pm_deploy(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("")
    (tmp_path / "e.json").write_text(
        '{"apps": [{"script": "w.py"}], "deploy": {"prod": {"user": "x"}}, "static": []}'
    )
    warnings = load_file(str(tmp_path / "e.json")).warnings
    assert not any("deploy" in w for w in warnings)
    assert any("'static'" in w and "not supported" in w for w in warnings)
    (tmp_path / "d.json").write_text('{"deploy": {"prod": {"user": "x"}}}')
    with pytest.raises(ConfigError, match="no 'apps' to start"):
        load_file(str(tmp_path / "d.json"))


def test_env_of_the_deploy_target_is_the_lowest_layer_with_env(tmp_path: Path) -> None:
    """PM2: with --env <name>, deploy.<name>.env, then the app's env, then its env_<name>."""
    (tmp_path / "w.py").write_text("")
    (tmp_path / "e.json").write_text(
        json.dumps(
            {
                "apps": [
                    {"script": "w.py", "env": {"A": "app", "B": "app"}, "env_prod": {"B": "prod"}}
                ],
                "deploy": {"prod": {"env": {"A": "deploy", "B": "deploy", "C": "deploy"}}},
            }
        )
    )
    (spec,) = load_file(str(tmp_path / "e.json"), env_name="prod").specs
    assert {key: spec.env[key] for key in "ABC"} == {"A": "app", "B": "prod", "C": "deploy"}
    (plain,) = load_file(str(tmp_path / "e.json")).specs
    assert "C" not in plain.env


def test_node_script_with_instances_is_clustered_as_under_pm2(tmp_path: Path) -> None:
    (tmp_path / "w.js").write_text("")
    (tmp_path / "e.json").write_text(
        '[{"script": "w.js", "name": "a", "instances": 1},'
        ' {"script": "w.js", "name": "b"},'
        ' {"script": "w.js", "name": "c", "instances": 2, "exec_mode": "fork"}]'
    )
    loaded = load_file(str(tmp_path / "e.json"))
    assert [spec.exec_mode for spec in loaded.specs] == ["cluster_mode", "fork_mode", "fork_mode"]
    assert loaded.warnings == []


def test_node_app_with_listen_or_execute_command_runs_fork(tmp_path: Path) -> None:
    """`listen` hands the socket to fork-mode instances (a cluster worker's listen({fd: 3})
    would not reach it); PM2's execute_command (`-x`) is fork mode whatever exec_mode says."""
    (tmp_path / "w.js").write_text("")
    (tmp_path / "e.json").write_text(
        '[{"script": "w.js", "name": "a", "instances": 2, "listen": 8000},'
        ' {"script": "w.js", "name": "b", "instances": 2, "execute_command": true},'
        ' {"script": "w.js", "name": "c", "exec_mode": "cluster", "execute_command": true},'
        ' {"script": "w.js", "name": "d", "instances": 2, "execute_command": false}]'
    )
    loaded = load_file(str(tmp_path / "e.json"))
    assert [spec.exec_mode for spec in loaded.specs] == ["fork_mode"] * 3 + ["cluster_mode"]
    assert loaded.warnings == []


def test_cluster_mode_off_node_runs_fork_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("")
    (tmp_path / "e.json").write_text(
        '[{"script": "w.py", "name": "a", "exec_mode": "cluster", "instances": 2},'
        ' {"script": "w.py", "name": "b", "exec_mode": "cluster_mode"}]'
    )
    loaded = load_file(str(tmp_path / "e.json"))
    assert {spec.exec_mode for spec in loaded.specs} == {"fork_mode"}
    assert sum("Node-only" in w for w in loaded.warnings) == 1


@needs_node
def test_js_configs_commonjs_and_esm() -> None:
    apps = by_name(CORPUS / "polyglot.config.js")
    assert apps["php-site"]["interpreter"] == "php"
    assert apps["php-site"]["env"] == {"APP_ROOT": str(CORPUS / "apps")}
    assert apps["ruby-job"]["interpreter_args"] == ["-W0"]
    assert apps["shell-loop"]["cron_restart"] == "0 3 * * *"
    assert by_name(CORPUS / "esm.config.mjs")["esm-app"]["env"] == {"FROM": "esm"}


@needs_node
def test_cjs_config_and_default_export(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("")
    (tmp_path / "a.config.cjs").write_text(
        "const base = {script: 'w.py'};\n"
        "module.exports = {apps: [1, 2].map(i => ({...base, name: `w${i}`}))};\n"
    )
    assert [s.name for s in load_file(str(tmp_path / "a.config.cjs")).specs] == ["w1", "w2"]
    (tmp_path / "b.config.mjs").write_text("export default [{script: 'w.py', name: 'bare'}];\n")
    assert [s.name for s in load_file(str(tmp_path / "b.config.mjs")).specs] == ["bare"]


@needs_node
def test_js_syntax_error_is_explained() -> None:
    with pytest.raises(ConfigError) as info:
        read_file(str(BROKEN / "bad.config.js"))
    assert "bad.config.js" in info.value.message and "SyntaxError" in info.value.message


def test_js_config_without_node_suggests_json_or_yaml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no node on it
    with pytest.raises(ConfigError, match="need 'node' on PATH.*ecosystem.json or ecosystem.yaml"):
        read_file(str(CORPUS / "polyglot.config.js"))


@needs_node
def test_json_is_read_as_a_javascript_expression_as_pm2_reads_it(tmp_path: Path) -> None:
    """PM2 evaluates `.json` files as JavaScript: its own configuration.json builds a script
    path with `[".", "/", "e", "cho.js"].join('')`."""
    (tmp_path / "echo.js").write_text("")
    eco = tmp_path / "configuration.json"
    eco.write_text(
        '// comment\n[{ name: "echo", script: [".", "/", "e", "cho.js"].join(""),'
        " instances: 1 + 1 }]\n"
    )
    (spec,) = load_file(str(eco)).specs
    assert (spec.name, spec.script, spec.instances) == ("echo", "./echo.js", 2)


def test_json_that_is_no_expression_reports_the_json5_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    eco = tmp_path / "bad.json"
    eco.write_text('{"apps": [{"name": "x",, }]}')
    with pytest.raises(ConfigError, match=r"bad.json:1:\d+: invalid JSON"):
        read_file(str(eco))  # node also fails to evaluate it: the JSON5 position is clearer
    monkeypatch.setenv("PATH", str(tmp_path))  # no node at all: the same error
    with pytest.raises(ConfigError, match=r"bad.json:1:\d+: invalid JSON"):
        read_file(str(eco))


def test_syntax_errors_name_file_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        load_file(str(BROKEN / "syntax.json"))
    assert f"{BROKEN / 'syntax.json'}:3:" in info.value.message
    with pytest.raises(ConfigError) as info:
        load_file(str(BROKEN / "syntax.yaml"))
    assert f"{BROKEN / 'syntax.yaml'}:4:" in info.value.message


def test_type_errors_name_file_app_field_expected_and_found() -> None:
    with pytest.raises(ConfigError) as info:
        load_file(str(BROKEN / "types.json"))
    message = info.value.message
    assert "nothing started" in message
    assert (
        f"{BROKEN / 'types.json'}: app #1 (bad): field 'max_restarts': expected a number, got 'many'"
        in message
    )
    assert "app #1 (bad): field 'autorestart': expected true or false, got 'perhaps'" in message
    assert "(good)" not in message


def test_every_error_of_every_app_in_one_run(tmp_path: Path) -> None:
    """No rounds: a bad size, a bad cron pattern (checked after coercion), a negative number
    (checked on the values) and a missing script all come in the one report."""
    (tmp_path / "w.py").write_text("")
    path = tmp_path / "e.json"
    path.write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "name": "api",
                        "script": "w.py",
                        "max_memory_restart": "lots",
                        "cron_restart": "not a cron",
                    },
                    {
                        "name": "worker",
                        "script": "gone.py",
                        "max_restarts": -1,
                        "cron": "61 * * * *",
                    },
                ]
            }
        )
    )
    with pytest.raises(ConfigError) as info:
        load_file(str(path))
    lines = info.value.message.splitlines()
    assert lines[0] == f"{path}: 5 errors, nothing started:"
    assert lines[1] == (
        f"{path}: app #0 (api): field 'max_memory_restart': expected a size "
        "like '150M' or '1G', got 'lots'"
    )
    assert lines[2].startswith(
        f"{path}: app #0 (api): field 'cron_restart' has an invalid cron pattern 'not a cron'"
    )
    assert lines[3] == f"{path}: app #1 (worker): field 'max_restarts' must not be negative"
    assert lines[4].startswith(f"{path}: app #1 (worker): field 'cron_restart' has an invalid")
    assert lines[5].startswith(f"{path}: app #1 (worker): script not found: 'gone.py'")


def test_command_line_flags_report_every_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pm.cli.start_options import overrides_from
    from pm.config.ecosystem import plan_start

    (tmp_path / "app.py").write_text("")
    monkeypatch.chdir(tmp_path)
    overrides = overrides_from({"max_memory_restart": "lots", "cron_restart": "x"})
    with pytest.raises(ConfigError) as info:
        plan_start(["app.py"], overrides, [], None, None, lambda target: False)
    lines = info.value.message.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("pm start app.py: field 'max_memory_restart'")
    assert lines[1].startswith("pm start app.py: field 'cron_restart' has an invalid")


def test_readiness_attributes_are_taken_and_shutdown_message_warns_off_node(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("")
    (tmp_path / "w.js").write_text("")
    (tmp_path / "e.json").write_text(
        json.dumps(
            [
                {
                    "name": "api",
                    "script": "w.py",
                    "wait_ready": True,
                    "listen_timeout": 8000,
                    "shutdown_with_message": True,
                },
                {"name": "node", "script": "w.js", "shutdown_with_message": True},
            ]
        )
    )
    loaded = load_file(str(tmp_path / "e.json"))
    assert loaded.warnings == [
        f"{tmp_path / 'e.json'}: app #0 (api): 'shutdown_with_message' needs a Node app (the "
        "'shutdown' message goes over Node's IPC channel); this app gets the kill signal"
    ]
    api = loaded.specs[0]
    assert (api.wait_ready, api.listen_timeout) == (True, 8000)


def test_missing_script_and_missing_field() -> None:
    with pytest.raises(ConfigError, match=r"app #1 \(ghost\): script not found"):
        load_file(str(BROKEN / "missing_script.json"))
    with pytest.raises(
        ConfigError, match=r"app #1 \(nameless-script\): field 'script' is required"
    ):
        load_file(str(BROKEN / "no_script.yaml"))


@pytest.mark.parametrize(
    ("app", "hint"),
    [
        ({"name": "a", "scrpt": "w.py"}, "; unknown attribute 'scrpt' (did you mean 'script'?)"),
        ({"name": "a", "exce": "w.py"}, "; unknown attribute 'exce' (did you mean 'exec'?)"),
        ({"name": "a", "file": "w.py", "env_x": {}}, "; unknown attributes: 'file'"),
        ({"name": "a", "instances": 2}, ""),
    ],
)
def test_a_missing_script_names_the_misspelt_key(
    tmp_path: Path, app: dict[str, object], hint: str
) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps({"apps": [app]}))
    with pytest.raises(ConfigError) as info:
        load_file(str(path))
    expected = f"{path}: app #0 (a): field 'script' is required (the file or command to run)"
    assert info.value.message.splitlines()[1] == expected + hint


def test_unknown_keys_warn_with_nearest_known_key() -> None:
    loaded = load_file(str(BROKEN / "unknown_key.json"))
    assert loaded.specs[0].max_restarts == 16  # ignored, default kept
    assert any("'max_restart'" in w and "did you mean 'max_restarts'" in w for w in loaded.warnings)
    assert any("'autorestrat'" in w and "did you mean 'autorestart'" in w for w in loaded.warnings)


def test_every_pm2_attribute_is_stored(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text("")
    (tmp_path / "e.yaml").write_text("""
apps:
  - script: w.py
    name: full
    namespace: ns
    interpreter: python3
    node_args: -X dev
    exec_mode: fork
    watch: [src]
    ignore_watch: node_modules logs
    watch_delay: 500
    watch_options: {usePolling: true}
    autostart: false
    exp_backoff_restart_delay: 100
    listen_timeout: 8000
    shutdown_with_message: true
    cron: "*/5 * * * *"
    max_memory_restart: 1G
    log_date_format: YYYY-MM-DD
    log_type: json
    log: combined.log
    combine_logs: true
    pid: app.pid
    instance_var: INSTANCE_ID
    filter_env: true
    treekill: false
    kill_retry_time: 200
    vizion: false
    force: true
""")
    spec = load_file(str(tmp_path / "e.yaml")).specs[0]
    assert spec.interpreter_args == ["-X", "dev"] and spec.watch == ["src"]
    assert spec.ignore_watch == ["node_modules", "logs"] and spec.watch_delay == 500
    assert spec.watch_options == {"usePolling": True} and spec.autostart is False
    assert spec.cron_restart == "*/5 * * * *" and spec.max_memory_restart == 1024**3
    assert (spec.log_file, spec.merge_logs, spec.pid_file) == ("combined.log", True, "app.pid")
    assert spec.filter_env is True and spec.treekill is False and spec.kill_retry_time == 200
    assert spec.vizion is False and spec.force is True and spec.shutdown_with_message is True


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_file(str(tmp_path / "none.json"))
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(ConfigError, match="expected an 'apps' list"):
        load_file(str(tmp_path / "empty.json"))
    (tmp_path / "list.json").write_text('{"apps": [1]}')
    with pytest.raises(ConfigError, match=r"app #0: expected an object"):
        load_file(str(tmp_path / "list.json"))


def test_scale_counts() -> None:
    from pm.daemon.handlers.scale import target_count
    from pm.errors import BadRequest

    assert (target_count(2, "5"), target_count(2, "+3"), target_count(4, "-1")) == (5, 5, 3)
    with pytest.raises(BadRequest, match=r"N, \+N or -N"):
        target_count(2, "many")
