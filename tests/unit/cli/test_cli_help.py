"""`pm --help` shows every command with its aliases and whole first sentences, and the README's
command table lists every one of them."""

from __future__ import annotations

import re
import subprocess
import sys

import click
from helpers import ROOT

from pm.cli.group import ALIASES, first_sentence
from pm.cli.main import main_group

README = ROOT / "README.md"


def _help_text() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pm", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _commands_in_help(text: str) -> dict[str, str]:
    """Each row of the Commands section: 'name, alias, ...' -> its help."""
    section = text.split("Commands:", 1)[1]
    rows: dict[str, str] = {}
    label = ""
    for line in section.splitlines():
        if match := re.match(r"^  (\S.*?)\s{2,}(.+)$", line):
            label = match.group(1)
            rows[label] = match.group(2)
        elif line.strip() and label:  # the help wrapped onto the next line
            rows[label] += " " + line.strip()
    return rows


def test_help_lists_every_command_once_with_its_aliases() -> None:
    rows = _commands_in_help(_help_text())
    names = {label.split(", ")[0] for label in rows}
    ctx = click.Context(main_group)
    assert names == set(main_group.list_commands(ctx))
    assert "list, ls, l, ps, status" in rows
    assert "delete, del" in rows and "save, dump" in rows and "init, ecosystem" in rows
    listed_aliases = {alias for label in rows for alias in label.split(", ")[1:]}
    assert listed_aliases == set(ALIASES)


def test_help_shows_whole_first_sentences() -> None:
    rows = _commands_in_help(_help_text())
    assert rows["set"] == (
        "Store a setting, e.g. `pm set logrotate:max_size 1G` (PM_HOME/module_conf.json)."
    )
    assert not [label for label, text in rows.items() if text.endswith("...")]


def test_first_sentence_keeps_abbreviations() -> None:
    assert first_sentence("Do this, e.g. that. Then more.") == "Do this, e.g. that."
    assert first_sentence("One line\nwrapped here. Second.\n\nBody.") == "One line wrapped here."
    assert first_sentence("No full stop") == "No full stop"


def test_readme_command_table_lists_every_command_and_alias() -> None:
    documented = set()
    for line in README.read_text().splitlines():
        if match := re.match(r"^\| `pm ([^`]+)`", line):
            first_words = re.split(r"\s*\\\|\s*", match.group(1))
            documented.update(word.split()[0] for word in first_words if word.strip())
    ctx = click.Context(main_group)
    expected = set(main_group.list_commands(ctx)) | set(ALIASES)
    assert sorted(expected - documented) == []


#: Every command `pm2 --help` lists in PM2 7.0.4, aliases included.
PM2_COMMANDS = """attach autoinstall backward cleardump conf config create dash dashboard deepUpdate del
delete deploy desc describe dump ecosystem env examples expose flush forward get id imonit info
init inspect install install-otel jlist kill l link list login logout logrotate logs ls
module:generate module:install module:publish module:uninstall module:update monit monitor
multiset open package pid ping plus prettylist profile:cpu profile:mem ps publish pull register
reload reloadLogs report reset restart resurrect save scale send sendSignal serve set show slist
start startOrGracefulReload startOrReload startOrRestart startup status stop sysinfos trigger
uninstall uninstall-otel unlink unmonitor unset unstartup update updatePM2""".split()


def test_every_pm2_command_exists_or_says_what_to_use_instead() -> None:
    from click.testing import CliRunner

    ctx = click.Context(main_group)
    listed = set(main_group.list_commands(ctx)) | set(ALIASES)
    runner = CliRunner()
    answered = []
    for name in sorted(set(PM2_COMMANDS) - listed):
        result = runner.invoke(main_group, [name, "some-argument"], prog_name="pm")
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, (name, result.output)
        assert lines[0].startswith("[PM][ERROR] ") and "No such command" not in lines[0], name
        answered.append(name)
    assert "link" in answered and "install" in answered and "serve" in answered
    assert not set(answered) & {
        "conf",
        "config",
        "unset",
        "multiset",
        "report",
        "dashboard",
        "deploy",
    }


def _command_help(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pm", *args, "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


def test_fork_and_cluster_mode_help_is_true() -> None:
    """pm has a cluster mode (Node apps given instances): -x turns it off, reload rolls it."""
    start = _command_help("start")
    assert "-x, --execute-command Fork mode, even for a Node script given instances" in start
    assert "only mode" not in start
    assert "Node apps in cluster mode" in _command_help("reload")
