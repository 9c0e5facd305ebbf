"""Reaching the pm of another host over the system's OpenSSH: the command line, and queries to
many hosts at once, each bounded in time so a dead host never holds up the others.

The transport runs the remote host's own `pm` over ssh (`ssh host -- pm jlist`), rather than
forwarding its `rpc.sock`: the remote pm speaks its own daemon's protocol, so hosts on other
pm versions still answer (jlist is PM2's stable shape); `pm logs` streams as it does there;
the remote daemon starts on demand as a local one does; and nothing listens on a new port.
The cost is one ssh connection and one Python start per command (a few hundred ms on a LAN).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

#: ssh gives up on a host whose TCP connection or banner does not come within this many
#: seconds (a host's own ssh_options may set another: ssh keeps the first value it is given).
CONNECT_TIMEOUT = 5

#: A query (jlist...) that has not answered by then is abandoned: its ssh is killed.
QUERY_TIMEOUT = 20.0

#: The command that runs pm on a host: `pm` on its PATH unless PM_REMOTE_COMMAND says
#: otherwise (written for the remote shell, e.g. `~/.local/bin/pm` or `/opt/pm/bin/pm`).
REMOTE_COMMAND_VARIABLE = "PM_REMOTE_COMMAND"

#: ssh's own exit status for a connection (or authentication) that failed.
SSH_FAILED = 255
#: The remote shell's status for a command it cannot find.
NOT_FOUND = 127


@dataclass(frozen=True)
class RemoteHost:
    """One host as ssh reaches it: `destination` is what ssh is given (a name from
    ~/.ssh/config, a host name, an address), `label` what pm shows."""

    label: str
    destination: str
    user: str | None = None
    port: int | None = None
    key: str | None = None
    ssh_options: tuple[str, ...] = ()

    def ssh_argv(self, remote_words: Sequence[str], tty: bool = False) -> list[str]:
        """ssh in batch mode (no password or host-key prompt can hang a parallel query),
        running the remote pm with `remote_words`, each quoted for the remote shell."""
        argv = ["ssh", "-o", "BatchMode=yes"]
        for option in self.ssh_options:
            argv += ["-o", option]
        argv += ["-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.key:
            argv += ["-i", self.key]
        argv.append("-t" if tty else "-T")
        destination = f"{self.user}@{self.destination}" if self.user else self.destination
        command = " ".join([remote_command(), *(shlex.quote(word) for word in remote_words)])
        return [*argv, "--", destination, command]


def remote_command() -> str:
    return os.environ.get(REMOTE_COMMAND_VARIABLE, "").strip() or "pm"


@dataclass
class HostReply:
    """What one host answered: its output and status, or why it could not answer."""

    host: RemoteHost
    code: int
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        """None when the host answered; else one line saying what went wrong there."""
        if self.code == 0:
            return None
        last = _last_line(self.stderr) or _last_line(self.stdout)
        if self.code == SSH_FAILED:
            return f"unreachable: {last or 'ssh failed'}"
        if self.code == NOT_FOUND and "not found" in last:
            return (
                f"pm is not on the host's PATH ({last}); set {REMOTE_COMMAND_VARIABLE} "
                "to its path there"
            )
        return last or f"pm exited with status {self.code}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(host: RemoteHost, words: Sequence[str], timeout: float = QUERY_TIMEOUT) -> HostReply:
    """Run `pm <words>` on the host and collect its output; a host silent past `timeout` is
    given up (its ssh killed) and reported as such."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            host.ssh_argv(words),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return HostReply(
            host, SSH_FAILED, stderr=f"no answer within {timeout:g} s", seconds=timeout
        )
    except OSError as exc:
        return HostReply(host, SSH_FAILED, stderr=f"cannot run ssh: {exc.strerror or exc}")
    return HostReply(host, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def process_list(host: RemoteHost, timeout: float = QUERY_TIMEOUT) -> HostReply:
    """The host's `pm jlist`, parsed into reply.entries."""
    reply = run(host, ["jlist"], timeout)
    if reply.code != 0:
        return reply
    try:
        entries = json.loads(reply.stdout)
    except ValueError:
        reply.code, reply.stderr = 1, f"unreadable answer to jlist: {reply.stdout[:80]!r}"
        return reply
    if not isinstance(entries, list):
        reply.code, reply.stderr = 1, "unreadable answer to jlist: not a list"
        return reply
    reply.entries = [entry for entry in entries if isinstance(entry, dict)]
    return reply


def on_all(
    hosts: Sequence[RemoteHost], words: Sequence[str], timeout: float = QUERY_TIMEOUT
) -> list[HostReply]:
    """`pm <words>` on every host at once; the replies in the hosts' order."""
    if list(words) == ["jlist"]:
        return _parallel(hosts, lambda host: process_list(host, timeout))
    return _parallel(hosts, lambda host: run(host, words, timeout))


def _parallel(hosts: Sequence[RemoteHost], query: Any) -> list[HostReply]:
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(32, len(hosts))) as pool:
        return list(pool.map(query, hosts))
