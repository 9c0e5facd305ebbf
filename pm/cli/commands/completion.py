"""Shell completion: live app names for target arguments, and `pm completion [install]`.

The scripts are click's own (`_PM_COMPLETE=bash_source pm`, `zsh_source`, `fish_source`); the
copies in `completions/` are generated from them and a test keeps them identical. App names come
from the daemon with a short timeout and never start one: completing must not have side effects.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

SHELLS = ("bash", "zsh", "fish")
#: Names of arguments that take apps (ids, names, namespaces, all, /regex/).
APP_ARGUMENTS = frozenset({"targets", "target", "name"})
LOOKUP_TIMEOUT = 0.5
MARKER = "# pm shell completion"


def app_names(timeout: float = LOOKUP_TIMEOUT) -> list[str]:
    """Names and namespaces of the managed apps, or [] when no daemon answers in time."""
    from pm import protocol
    from pm.paths import Home

    home = Home.from_env()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(home.socket))
        sock.sendall(
            protocol.encode({"id": 1, "cmd": "list", "args": {}, "v": protocol.PROTOCOL_VERSION})
        )
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(1 << 20)
            if not chunk:
                return []
            data += chunk
        reply = protocol.decode(data)
    except (OSError, ValueError):
        return []
    finally:
        sock.close()
    entries = reply.get("result") or [] if reply.get("ok") else []
    names = [str(entry["name"]) for entry in entries]
    names += [str(entry["pm2_env"].get("namespace", "")) for entry in entries]
    return list(dict.fromkeys(name for name in [*names, "all"] if name))


def complete_apps(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return [CompletionItem(name) for name in app_names() if name.startswith(incomplete)]


def complete_apps_or_files(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """`pm start`: a known app, else a file (script or ecosystem) completed by the shell."""
    if "/" not in incomplete and "." not in incomplete:
        found = complete_apps(ctx, param, incomplete)
        if found:
            return found
    return [CompletionItem(incomplete, type="file")]


def enable_app_names(group: click.Group) -> None:
    """Give every app-taking argument of every command live app-name completion."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        for param in command.params if command else []:
            if (
                isinstance(param, click.Argument)
                and param.name in APP_ARGUMENTS
                and param._custom_shell_complete is None
            ):
                param._custom_shell_complete = (
                    complete_apps_or_files if name == "start" else complete_apps
                )


def script_for(shell: str) -> str:
    """The completion script click generates for `pm` in this shell."""
    root = click.get_current_context().find_root().command
    cls = get_completion_class(shell)
    if cls is None:
        raise click.ClickException(
            f"no completion for shell {shell!r}; use one of {', '.join(SHELLS)}"
        )
    source: str = cls(root, {}, "pm", "_PM_COMPLETE").source()
    return source


def detect_shell(fallback: str | None = None) -> str:
    """The user's shell from $SHELL; `fallback` (else an error) when $SHELL names none we know."""
    shell = Path(os.environ.get("SHELL", "")).name
    if shell not in SHELLS and fallback is not None:
        return fallback
    if shell not in SHELLS:
        raise click.ClickException(
            f"cannot tell your shell from SHELL={os.environ.get('SHELL', '')!r}; "
            f"pass --shell {'|'.join(SHELLS)}"
        )
    return shell


def install(shell: str, home: Path) -> tuple[Path, Path | None]:
    """Write the script where the shell finds it; return (script, rc file edited or None)."""
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    if shell == "fish":  # fish loads completions/<cmd>.fish by itself
        target = config / "fish" / "completions" / "pm.fish"
        _write(target, script_for(shell))
        return target, None
    if shell == "bash":
        target = data / "bash-completion" / "completions" / "pm"
        rc = home / ".bashrc"
    else:
        target = data / "pm" / "completion.zsh"
        rc = home / ".zshrc"
    _write(target, script_for(shell))
    line = f'[ -f "{target}" ] && . "{target}"  {MARKER}\n'
    if shell == "zsh":  # click's script registers with compdef, which only compinit defines
        line = f"(( $+functions[compdef] )) || {{ autoload -Uz compinit && compinit -i; }}; {line}"
    existing = rc.read_text() if rc.exists() else ""
    if MARKER not in existing:
        with open(rc, "a") as handle:
            handle.write(("" if not existing or existing.endswith("\n") else "\n") + line)
        return target, rc
    return target, None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@click.command("completion")
@click.argument("action", required=False, type=click.Choice(["install", *SHELLS]))
@click.option("--shell", type=click.Choice(SHELLS), help="Shell to install for (default: $SHELL).")
def completion(action: str | None, shell: str | None) -> None:
    """Print the completion script (for $SHELL or the named shell), or `install` it."""
    if action == "install":
        chosen = shell or detect_shell()
        target, rc = install(chosen, Path.home())
        click.echo(f"[PM] {chosen} completion written to {target}")
        if rc is not None:
            click.echo(f"[PM] {rc} now loads it; open a new shell to use it")
        return
    # Printing never fails on an unknown $SHELL (cron, CI, `env -i`): like `pm2 completion`, it
    # prints the bash script; `install` still needs to know the shell, since it edits its rc file.
    click.echo(script_for(action or shell or detect_shell(fallback="bash")), nl=False)
