"""Completions: committed scripts match click's, commands/flags/live app names complete in bash."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import ROOT
from helpers.home import APPS, PM, wait_for

BIN = str(Path(sys.executable).parent)


def complete(pm: PM, line: str) -> list[str]:
    """Ask pm for completions through click's bash protocol, as the bash script does."""
    words = line.split(" ")
    env = dict(
        pm.env, COMP_WORDS=line, COMP_CWORD=str(len(words) - 1), _PM_COMPLETE="bash_complete"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pm"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=pm.workdir,
    )
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_scripts_match_click(shell: str) -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "pm"],
        capture_output=True,
        text=True,
        env=dict(os.environ, _PM_COMPLETE=f"{shell}_source"),
        check=True,
    )
    assert (ROOT / "completions" / f"pm.{shell}").read_text() == generated.stdout, (
        f"regenerate: _PM_COMPLETE={shell}_source pm > completions/pm.{shell}"
    )


def test_commands_flags_and_live_app_names(pm: PM) -> None:
    assert complete(pm, "pm sto") == ["plain,stop"]
    assert "plain,--update-env" in complete(pm, "pm restart --")
    assert complete(pm, "pm completion i") == ["plain,install"]
    assert complete(pm, "pm stop ") == []  # no daemon: nothing, and none is started for it
    assert pm.daemon_pid() is None
    pm.run("start", str(APPS / "ticker.py"), "--name", "tickapp", "--namespace", "nsx")
    assert complete(pm, "pm stop ti") == ["plain,tickapp"]
    assert complete(pm, "pm restart ") == ["plain,tickapp", "plain,nsx", "plain,all"]
    assert complete(pm, "pm describe ns") == ["plain,nsx"]
    assert complete(pm, "pm start ./") == ["file,./"]  # start: the shell completes files


def test_real_bash_function(pm: PM) -> None:
    pm.run("start", str(APPS / "ticker.py"), "--name", "bashapp")
    script = ROOT / "completions" / "pm.bash"
    code = (
        f"source {script}; complete -p pm; COMP_WORDS=(pm delete ba); COMP_CWORD=2; "
        '_pm_completion pm; printf "reply:%s\\n" "${COMPREPLY[@]}"'
    )
    env = dict(pm.env, PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run(
        ["bash", "-c", code], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    assert "complete -o nosort -F _pm_completion pm" in result.stdout
    assert result.stdout.splitlines()[-1] == "reply:bashapp"


def test_install_for_bash_is_idempotent(pm: PM) -> None:
    home = pm.workdir / "home"
    home.mkdir()
    env = dict(pm.env, HOME=str(home), SHELL="/bin/bash")
    env.pop("XDG_DATA_HOME", None)
    for _ in range(2):
        out = pm.run("completion", "install", env=env).stdout
    assert "bash completion written" in out
    installed = home / ".local/share/bash-completion/completions/pm"
    assert installed.read_text() == (ROOT / "completions" / "pm.bash").read_text()
    assert (home / ".bashrc").read_text().count(str(installed)) == 2  # one line: test and source
    fish = pm.run("completion", "install", "--shell", "fish", env=env).stdout
    assert (home / ".config/fish/completions/pm.fish").exists() and "fish" in fish
    bad = pm.run("completion", "install", env=dict(env, SHELL="/bin/tcsh"), check=False)
    assert bad.returncode != 0 and "--shell" in bad.stderr


def test_printing_without_shell_gives_the_bash_script(pm: PM) -> None:
    """cron, CI and `env -i` have no $SHELL: printing still works (bash, as `pm2 completion`)."""
    env = {key: value for key, value in pm.env.items() if key != "SHELL"}
    printed = pm.run("completion", env=env).stdout
    assert printed == (ROOT / "completions" / "pm.bash").read_text()


@pytest.mark.parametrize(
    "shell",
    [
        pytest.param(shell, marks=pytest.mark.needs("tmux", shell))
        for shell in ("bash", "zsh", "fish")
    ],
)
def test_tab_completion_in_a_real_interactive_shell(pm: PM, shell: str) -> None:
    """Install into an empty home, open the real shell in tmux, press Tab, read the screen."""
    home = pm.workdir / "home"
    home.mkdir()
    env = dict(
        pm.env,
        HOME=str(home),
        SHELL=f"/bin/{shell}",
        PATH=f"{BIN}:{os.environ['PATH']}",
        TERM="xterm",
    )
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "ZDOTDIR"):
        env.pop(variable, None)
    pm.run("completion", "install", env=env)
    pm.run("start", str(APPS / "ticker.py"), "--name", "tmuxapp")
    server = f"pmt{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", server, "-f", "/dev/null"]
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "120", "-y", "20", shell, "-i"],
        env=env,
        check=True,
        timeout=30,
    )
    try:

        def screen() -> str:
            return subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True, timeout=30
            ).stdout

        wait_for(lambda: screen().strip(), 20, message=f"a {shell} prompt")
        subprocess.run([*tmux, "send-keys", "pm resta\t"], check=True, timeout=30)
        wait_for(lambda: "pm restart" in screen(), 20, message="command completed by Tab")
        subprocess.run([*tmux, "send-keys", "tmu\t"], check=True, timeout=30)
        wait_for(lambda: "pm restart tmuxapp" in screen(), 20, message="app name completed")
        assert "command not found" not in screen() and "Unknown command" not in screen()
    finally:
        subprocess.run([*tmux, "kill-server"], timeout=30)
