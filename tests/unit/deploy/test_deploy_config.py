"""The pure parts of `pm deploy`: reading the deploy section, the sub-commands, the ssh command
line, the server-side scripts and the deploy history."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pm.deploy import steps
from pm.deploy.operations import parse_action
from pm.deploy.target import read_target
from pm.errors import ConfigError

BASE = {
    "host": "web1",
    "repo": "git@example.com:me/app.git",
    "ref": "origin/main",
    "path": "/var/www/app",
}


def target(tmp_path: Path | None = None, **fields: Any) -> Any:
    data = {"deploy": {"prod": {**BASE, **fields}, "staging": BASE}}
    path = str((tmp_path or Path("/nowhere")) / "ecosystem.json")
    return read_target(data, path, "prod")


def test_a_full_target_is_read() -> None:
    found = target(
        user="deploy",
        host=["a", "b"],
        port="2222",
        ssh_options="Compression=yes",
        env={"node_env": "production", "WORKERS": 4, "DEBUG": False},
        **{"post-deploy": "pm reload all", "forward-agent": True},
    )
    assert found.hosts == ("a", "b") and found.port == 2222 and found.user == "deploy"
    assert found.ssh_options == ("Compression=yes",) and found.forward_agent
    assert found.env == {"NODE_ENV": "production", "WORKERS": "4", "DEBUG": "false"}
    assert found.hooks == {"post-deploy": "pm reload all"}
    assert found.branch == "main"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"apps": []}, "ecosystem.json: no 'deploy' section"),
        ({"deploy": []}, "ecosystem.json: field 'deploy': expected an object"),
        (
            {"deploy": {"staging": BASE, "dev": BASE}},
            "ecosystem.json: environment 'prod' is not in the deploy section (known: dev, staging)",
        ),
        ({"deploy": {"prod": "web1"}}, "ecosystem.json: deploy.prod: expected an object"),
    ],
)
def test_a_missing_section_or_environment_is_named(data: Any, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        read_target(data, "/x/ecosystem.json", "prod")
    assert message in error.value.message and "\n" not in error.value.message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"repo": None}, "field 'repo' is required"),
        ({"host": {"name": "a"}}, "field 'host': expected a host name or a list"),
        ({"host": ["a", 5]}, "field 'host': 5 is not a host name"),
        ({"host": "-oProxyCommand=x"}, "is not a host name"),
        ({"host": ["a", "a"]}, "a host is listed twice"),
        ({"user": 5}, "field 'user': expected a string, got int"),
        ({"port": "ssh"}, "field 'port': 'ssh' is not a port number"),
        ({"port": 70000}, "field 'port': 70000 is not a port number"),
        ({"path": "app"}, "field 'path': 'app' must be absolute or start with ~/"),
        ({"ssh_options": 3}, "field 'ssh_options': expected a string or a list"),
        ({"ssh_options": ["-F /etc/x"]}, "expected ssh -o options"),
        ({"env": ["A=1"]}, "field 'env': expected an object"),
        ({"env": {"A-B": "1"}}, "field 'env': 'A-B' is not a variable name"),
        ({"env": {"A": {"b": 1}}}, "field 'env.A': expected a string or a number"),
        ({"post-deploy": ["a", "b"]}, "field 'post-deploy': expected a string, got list"),
        ({"key": "~/no/such/key"}, "field 'key': "),
    ],
)
def test_a_bad_field_names_file_environment_and_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        target(**fields)
    assert error.value.message.startswith("/nowhere/ecosystem.json: deploy.prod: ")
    assert message in error.value.message


def test_an_unknown_attribute_warns_with_the_nearest_name() -> None:
    warnings: list[str] = []
    read_target({"deploy": {"prod": {**BASE, "post_deploy": "x"}}}, "/e.json", "prod", warnings)
    assert warnings == [
        "/e.json: deploy.prod: unknown attribute 'post_deploy' ignored "
        "(did you mean 'post-deploy'?)"
    ]


def test_ssh_options_as_pm2_pastes_them_and_a_key_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "id").write_text("")
    found = target(tmp_path, key="id", ssh_options=["A=1 -o B=2", "-o C=3"])
    assert found.ssh_options == ("A=1", "B=2", "C=3")
    assert found.key == str(tmp_path / "id")


def test_the_ssh_command_is_batch_mode_with_the_user_options_first() -> None:
    found = target(user="deploy", port=2222, ssh_options=["ConnectTimeout=3"])
    assert steps.ssh_command(found, "web1", "true") == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=3",
        "-o",
        "ConnectTimeout=10",
        "-p",
        "2222",
        "--",
        "deploy@web1",
        "true",
    ]
    assert steps.ssh_command(found, "localhost", "true") == ["bash", "-c", "true"]


def test_paths_on_the_server_are_quoted_and_keep_the_home() -> None:
    assert steps.on_server(target(path="/srv/my app"), "current") == "'/srv/my app/current'"
    assert steps.on_server(target(path="~/my app"), "source") == "\"$HOME\"/'my app/source'"
    assert steps.on_server(target(path="~")) == '"$HOME"'


def test_hooks_run_in_current_with_shared_and_env_exported(tmp_path: Path) -> None:
    found = target(
        path=str(tmp_path),
        env={"greeting": "it's me"},
        **{"post-deploy": 'echo "$GREETING from $SHARED in $(pwd)"'},
    )
    (tmp_path / "source").mkdir()
    (tmp_path / "current").symlink_to(tmp_path / "source")
    step = steps.hook_step(found, "post-deploy", "/")
    assert step is not None and step.name == "post-deploy"
    result = subprocess.run(["bash", "-c", step.script], capture_output=True, text=True)
    assert result.stdout == f"it's me from {tmp_path}/shared in {tmp_path}/current\n"


def test_a_pre_setup_naming_a_local_script_sends_it(tmp_path: Path) -> None:
    (tmp_path / "prepare.sh").write_text("echo preparing")
    found = target(**{"pre-setup": "prepare.sh --fast"})
    step = steps.hook_step(found, "pre-setup", str(tmp_path))
    assert step is not None
    assert (step.script, step.stdin_file) == ("bash -s -- --fast", str(tmp_path / "prepare.sh"))
    inline = steps.hook_step(target(**{"pre-setup": "apt-get update"}), "pre-setup", "/")
    assert inline is not None and inline.stdin_file is None
    assert inline.script.endswith("\napt-get update")


def test_setup_and_deploy_steps_in_pm2_order() -> None:
    found = target(**{"pre-deploy": "a", "post-deploy": "b", "post-setup": "c"})
    assert [s.name for s in steps.setup_steps(found, "/")] == [
        "folders",
        "clone",
        "link",
        "post-setup",
    ]
    assert [s.name for s in steps.deploy_steps(found, "v1.2", "/")] == [
        "check",
        "pre-deploy",
        "fetch",
        "reset",
        "link",
        "post-deploy",
    ]
    clone = steps.setup_steps(target(fetch="fast"), "/")[1].script
    assert clone == (
        "git clone --depth=5 --branch main git@example.com:me/app.git /var/www/app/source"
    )


@pytest.mark.parametrize(
    ("words", "name", "argument"),
    [
        ([], "update", None),
        (["update"], "update", None),
        (["setup"], "setup", None),
        (["revert"], "revert", "1"),
        (["revert", "3"], "revert", "3"),
        (["current"], "curr", None),
        (["previous"], "prev", None),
        (["list"], "list", None),
        (["exec", "pm", "list"], "exec", "pm list"),
        (["run", "ls -l"], "exec", "ls -l"),
        (["ref", "origin/next"], "ref", "origin/next"),
    ],
)
def test_sub_commands_as_pm2_spells_them(words: list[str], name: str, argument: str | None) -> None:
    action = parse_action(words)
    assert (action.name, action.argument) == (name, argument)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["deploy"], "unknown deploy command 'deploy'"),
        (["revert", "0"], "revert takes a number"),
        (["revert", "x"], "revert takes a number"),
        (["exec"], "exec needs a command"),
        (["ref"], "ref needs one git ref"),
        (["setup", "now"], "'setup' takes no argument"),
    ],
)
def test_a_bad_sub_command_is_refused(words: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_action(words)


def test_the_history_newest_first_and_going_back() -> None:
    commits = steps.parse_history("aaa\nbbb\n\nccc\n")
    assert commits == ["aaa", "bbb", "ccc"]
    assert steps.history_lines(commits) == ["0\tccc", "1\tbbb", "2\taaa"]
    assert steps.commit_back(commits, 1) == "bbb" and steps.commit_back(commits, 2) == "aaa"
    assert steps.commit_back(commits, 3) is None and steps.commit_back([], 1) is None


def test_the_default_post_deploy_starts_the_files_apps() -> None:
    assert (
        steps.default_post_deploy("deploy/eco system.json", "prod")
        == "pm startOrRestart 'deploy/eco system.json' --env prod"
    )
