"""`pm --host NAME <command>` and `pm list --all-hosts`: the command run by the pm of other
hosts, over the system's ssh (pm/client/remote.py says why the remote pm, not its socket).

One host: the remote pm's own output, streamed as it comes (`pm logs` follows, a terminal
gets a terminal), and its exit status. Several: every host at once, each line prefixed with
`[host]`, exit 1 when any failed. `list` over several hosts is one table with a host column;
a host that cannot answer is one error line naming it and why, and never delays the others
by more than ssh's ConnectTimeout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

import click

from pm.cli import render
from pm.client import remote
from pm.client.remote import HostReply, RemoteHost
from pm.errors import PMError

LIST_COMMANDS = frozenset({"list", "ls", "l", "ps", "status"})


def take_host_options(args: list[str]) -> tuple[list[str], list[str]]:
    """The leading `--host NAME` / `--host=NAME` options, and the arguments after them."""
    names: list[str] = []
    rest = list(args)
    while rest:
        if rest[0] == "--host" and len(rest) > 1:
            names.append(rest[1])
            rest = rest[2:]
        elif rest[0].startswith("--host="):
            names.append(rest[0].split("=", 1)[1])
            rest = rest[1:]
        else:
            break
    return names, rest


def main(names: list[str], args: list[str]) -> int:
    """Run `pm <args>` on the hosts NAMEs mean; the exit status for this pm."""
    from pm.cli.hosts import resolve

    try:
        hosts = resolve(names)
        if not hosts:
            raise PMError("--host: name a host")
        if not args:
            raise PMError("--host: name the command to run there (pm --host web1 list)")
    except PMError as exc:
        click.echo(render.error(exc.message), err=True)
        return exc.exit_code
    if len(hosts) > 1 and args[0] in LIST_COMMANDS and len(args) == 1:
        return list_hosts(hosts)
    if len(hosts) == 1:
        return on_one(hosts[0], args)
    return on_many(hosts, args)


def on_one(host: RemoteHost, args: Sequence[str]) -> int:
    """The remote pm with this terminal: its output as it comes, its exit status."""
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        process = subprocess.Popen(host.ssh_argv(args, tty=tty))
    except OSError as exc:
        click.echo(render.error(f"cannot run ssh: {exc.strerror or exc}"), err=True)
        return 1
    try:
        code = process.wait()
    except KeyboardInterrupt:  # Ctrl-C reached ssh too: let it end the remote command
        code = process.wait()
    if code == remote.SSH_FAILED:
        click.echo(render.error(f"host {host.label}: unreachable (ssh's reason above)"), err=True)
    return code


def on_many(hosts: Sequence[RemoteHost], args: Sequence[str]) -> int:
    """Every host at once, each line of its output prefixed with its name as it comes."""
    lock = threading.Lock()
    codes: dict[str, int] = {}

    def one(host: RemoteHost) -> None:
        codes[host.label] = _stream(host, args, lock)

    threads = [threading.Thread(target=one, args=(host,), daemon=True) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [host.label for host in hosts if codes.get(host.label) != 0]
    for label in failed:
        code = codes.get(label)
        reason = "unreachable" if code == remote.SSH_FAILED else f"exit status {code}"
        click.echo(render.error(f"host {label}: {reason}"), err=True)
    return 1 if failed else 0


def _stream(host: RemoteHost, args: Sequence[str], lock: threading.Lock) -> int:
    try:
        process = subprocess.Popen(
            host.ssh_argv(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError:
        return remote.SSH_FAILED
    assert process.stdout is not None and process.stderr is not None
    errors = threading.Thread(
        target=_copy_lines, args=(process.stderr, host.label, lock, True), daemon=True
    )
    errors.start()
    _copy_lines(process.stdout, host.label, lock, False)
    errors.join()
    return process.wait()


def _copy_lines(stream: IO[bytes], label: str, lock: threading.Lock, err: bool) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        with lock:
            click.echo(f"[{label}] {line}", err=err)


def list_hosts(hosts: Sequence[RemoteHost]) -> int:
    """One process table for every host (a host column first), then a line per host that
    could not answer; exit 1 if any could not."""
    replies = remote.on_all(hosts, ["jlist"])
    entries = [_with_host(entry, reply) for reply in replies for entry in reply.entries]
    width = shutil.get_terminal_size((200, 24)).columns
    click.echo(render.table(entries, ("host", *render.narrow_columns(width - 12))))
    problems = [(reply, reply.problem) for reply in replies if reply.problem]
    for reply, problem in problems:
        click.echo(render.error(f"host {reply.host.label}: {problem}"), err=True)
    return 1 if problems else 0


def _with_host(entry: dict[str, Any], reply: HostReply) -> dict[str, Any]:
    return {**entry, "host": reply.host.label}
