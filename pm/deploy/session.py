"""Running steps on hosts: one session per host, its output streamed line by line with the
host in front, and every host in its own thread so a slow server does not hold up the others.

A failed step stops that host only; its error names the host, the step, the exit code and the
last lines the step printed, which the command reports once every host is done.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import IO

from pm.deploy.steps import Step
from pm.errors import PMError

#: How many of a failed step's last output lines its error quotes.
TAIL_LINES = 3

#: ssh's own exit status for a connection (or authentication) that failed.
SSH_FAILED = 255


class DeployFailed(PMError):
    """A host's step failed, or a host cannot do what was asked (no history to revert to)."""


class HostSession:
    """Runs steps on one host (or locally) and writes their output through `emit`, which the
    caller serialises across threads."""

    def __init__(
        self,
        label: str,
        argv_of: Callable[[str], list[str]],
        emit: Callable[[str], None],
        cwd: str | None = None,
        over_ssh: bool = True,
    ) -> None:
        self.label = label
        self.argv_of = argv_of
        self.emit_line = emit
        self.cwd = cwd
        self.over_ssh = over_ssh

    def emit(self, text: str) -> None:
        self.emit_line(f"[{self.label}] {text}")

    def say(self, text: str) -> None:
        """A progress line, marked as pm's own (PM2 marks its own lines the same way)."""
        self.emit(f"○ {text}")

    def run(self, step: Step) -> None:
        """Run a step, its output shown as it comes; DeployFailed when it fails."""
        if step.note:
            self.say(step.note)
        self._run(step, show=True)

    def read(self, step: Step) -> str:
        """Run a step and return its output instead of showing it."""
        return self._run(step, show=False)

    def _run(self, step: Step, show: bool) -> str:
        argv = self.argv_of(step.script)
        with contextlib.ExitStack() as stack:
            try:
                stdin: IO[bytes] | int = (
                    stack.enter_context(open(step.stdin_file, "rb"))
                    if step.stdin_file
                    else subprocess.DEVNULL
                )
            except OSError as exc:
                raise DeployFailed(
                    f"{self.label}: {step.name}: cannot read {step.stdin_file}: {exc.strerror}"
                ) from None
            try:
                process = stack.enter_context(
                    subprocess.Popen(
                        argv,
                        stdin=stdin,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        cwd=self.cwd,
                    )
                )
            except OSError as exc:
                raise DeployFailed(
                    f"{self.label}: {step.name}: cannot run {argv[0]}: {exc.strerror}"
                ) from None
            assert process.stdout is not None
            lines = self._lines(process.stdout.fileno(), show)
            code = process.wait()
        if code != 0:
            raise DeployFailed(self._failure(step, code, lines))
        return "".join(f"{line}\n" for line in lines)

    def _lines(self, fd: int, show: bool) -> list[str]:
        """Every line the step prints, read in chunks (a line may be long), shown as it
        completes when `show`."""
        lines: list[str] = []
        pending = b""
        while chunk := os.read(fd, 65536):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                lines.append(self._line(raw, show))
        if pending:
            lines.append(self._line(pending, show))
        return lines

    def _line(self, raw: bytes, show: bool) -> str:
        line = raw.decode(errors="replace").rstrip("\r")
        if show:
            self.emit(line)
        return line

    def _failure(self, step: Step, code: int, lines: Sequence[str]) -> str:
        tail = [line.strip() for line in lines if line.strip()][-TAIL_LINES:]
        said = f": {' | '.join(tail)}" if tail else " (no output)"
        if code == SSH_FAILED and self.over_ssh:
            return f"{self.label}: {step.name}: ssh failed (exit 255){said}"
        if code < 0:
            return f"{self.label}: {step.name} was killed by signal {-code}{said}"
        return f"{self.label}: {step.name} failed (exit {code}){said}"


def run_on_hosts(
    hosts: Sequence[str],
    job: Callable[[HostSession], None],
    session_of: Callable[[str], HostSession],
) -> list[str]:
    """Run `job` for every host at once, each in its own thread; the errors of the hosts that
    failed, in the order of `hosts`. An unexpected exception (a bug) is raised again here."""
    errors: dict[str, str] = {}
    crashes: list[Exception] = []

    def work(host: str) -> None:
        try:
            job(session_of(host))
        except DeployFailed as exc:
            errors[host] = exc.message
        except Exception as exc:
            crashes.append(exc)

    threads = [
        threading.Thread(target=work, args=(host,), name=f"deploy {host}", daemon=True)
        for host in hosts
    ]  # daemon: Ctrl-C (which the ssh children get too) exits
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if crashes:
        raise crashes[0]
    return [errors[host] for host in hosts if host in errors]
