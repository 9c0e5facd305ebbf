"""The ssh command lines of pm.client.remote and how a host's failure reads (no ssh is run
here, except a missing program: tests/e2e/hosts runs real sshd hosts)."""

from __future__ import annotations

import shlex

import pytest

from pm.client import remote
from pm.client.remote import HostReply, RemoteHost


def test_ssh_argv_batch_mode_bounded_connect_and_quoted_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(remote.REMOTE_COMMAND_VARIABLE, raising=False)
    host = RemoteHost(
        "web1",
        "10.0.0.5",
        user="deploy",
        port=2222,
        key="/k",
        ssh_options=("ConnectTimeout=2", "StrictHostKeyChecking=no"),
    )
    argv = host.ssh_argv(["logs", "my app", "--lines", "5;rm -rf /"])
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    # the host's own options come first: ssh keeps the first ConnectTimeout it is given
    assert argv.index("ConnectTimeout=2") < argv.index(f"ConnectTimeout={remote.CONNECT_TIMEOUT}")
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-i") + 1] == "/k"
    assert argv[-3:-1] == ["--", "deploy@10.0.0.5"] and "-T" in argv
    assert shlex.split(argv[-1]) == ["pm", "logs", "my app", "--lines", "5;rm -rf /"]


def test_remote_command_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(remote.REMOTE_COMMAND_VARIABLE, "~/.local/bin/pm")
    command = RemoteHost("a", "a").ssh_argv(["list"], tty=True)
    assert command[-1] == "~/.local/bin/pm list" and "-t" in command


@pytest.mark.parametrize(
    ("code", "stderr", "expected"),
    [
        (0, "", None),
        (
            255,
            "ssh: connect to host a port 22: Connection refused\n",
            "unreachable: ssh: connect to host a port 22: Connection refused",
        ),
        (
            127,
            "bash: line 1: pm: command not found\n",
            "pm is not on the host's PATH (bash: line 1: pm: command not found); set "
            "PM_REMOTE_COMMAND to its path there",
        ),
        (
            1,
            "[PM][ERROR] the pm daemon failed to start\n",
            "[PM][ERROR] the pm daemon failed to start",
        ),
        (3, "", "pm exited with status 3"),
    ],
)
def test_problem_says_what_went_wrong(code: int, stderr: str, expected: str | None) -> None:
    assert HostReply(RemoteHost("a", "a"), code, stderr=stderr).problem == expected


def test_a_missing_ssh_is_a_reply_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    [reply] = remote.on_all([RemoteHost("a", "a")], ["jlist"])
    assert reply.code == remote.SSH_FAILED and reply.problem is not None
    assert "cannot run ssh" in reply.problem
