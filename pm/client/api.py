"""The Python API: ``import pm; conn = pm.connect()`` — a typed client of the pm daemon.

Every method sends the same daemon request the ``pm`` command sends (the CLI's ``client()`` is a
`Connection` too), and returns typed objects instead of raw JSON::

    import pm

    conn = pm.connect()                       # starts the daemon if needed, like `pm ping`
    conn.start({"name": "api", "script": "app.py", "instances": 2})
    conn.start("ecosystem.config.json", only=["worker"])
    for proc in conn.list():                  # [ProcessInfo(name='api', pm_id=0, ...), ...]
        print(proc.pm_id, proc.name, proc.status, proc.pid, proc.memory)
    conn.restart("api"); conn.stop("all"); conn.delete("api")
    for line in conn.logs("api", lines=20):   # LogLine(pm_id, name, stream, text)
        print(line.text)
    for event in conn.events():               # Event(event='exit', name='api', exit_code=1, ...)
        ...

Errors are raised as `pm.errors.PMError` subclasses (NotFound, BadRequest, DaemonUnavailable...)
carrying the message the CLI would print.
"""

from __future__ import annotations

import builtins
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pm import protocol
from pm.client.connection import Client, _unwrap
from pm.paths import Home

if TYPE_CHECKING:
    from pm.client.records import Event, LogLine, ProcessInfo

_TYPES = ("ProcessInfo", "Event", "LogLine")


def __getattr__(name: str) -> Any:
    """The record classes, built on first use (see pm.client.records)."""
    if name in _TYPES:
        from pm.client import records as api_types

        return getattr(api_types, name)
    raise AttributeError(f"module 'pm.client.api' has no attribute {name!r}")


def _records() -> Any:
    """pm.client.records, imported when a typed result is first built."""
    from pm.client import records as api_types

    return api_types


Target = str | int


def _is_config_file(path: str) -> bool:
    from pm.config.ecosystem import is_config_file

    return is_config_file(path) and os.path.isfile(path)


def _targets(targets: tuple[Target, ...]) -> builtins.list[str]:
    if not targets:
        raise ValueError("name at least one target: an id, a name, a namespace, 'all' or /regex/")
    return [str(target) for target in targets]


class Connection(Client):
    """A client of one PM_HOME's daemon with typed methods for every process command."""

    # ------------------------------------------------------------ reading

    def list(self) -> builtins.list[ProcessInfo]:
        return [_records().ProcessInfo.from_entry(entry) for entry in self.call("list")]

    def describe(self, target: Target) -> builtins.list[ProcessInfo]:
        entries = self.call("describe", targets=[str(target)])
        return [_records().ProcessInfo.from_entry(entry) for entry in entries]

    def get(self, target: Target) -> ProcessInfo:
        """The first process matching target (raises NotFound when none does)."""
        return self.describe(target)[0]

    def env(self, target: Target) -> dict[str, str]:
        """The environment the app's process is given."""
        return dict(self.call("env", target=str(target)))

    def ping(self) -> bool:
        return bool(self.call("ping").get("msg") == "pong")

    # ------------------------------------------------------------ starting

    def start(
        self,
        app: dict[str, Any] | str | Path | builtins.list[dict[str, Any]],
        *,
        env_name: str | None = None,
        only: builtins.list[str] | None = None,
        force: bool = False,
    ) -> builtins.list[ProcessInfo]:
        """Start apps from an app dict (ecosystem attributes), a list of them, an ecosystem file
        or a script path/command. Relative paths resolve against the current directory.

        An ecosystem file follows PM2's rule for files, as `pm start file` does: apps whose
        name is already managed restart with the file's settings, the others start."""
        specs = self._specs(app, env_name, only)
        from_file = isinstance(app, (str, Path)) and _is_config_file(str(app))
        reply = self.start_apps(
            [spec.to_dict() for spec in specs], from_file=from_file, force=force
        )
        return [_records().ProcessInfo.from_entry(entry) for entry in reply["entries"]]

    @staticmethod
    def _specs(
        app: Any, env_name: str | None, only: builtins.list[str] | None
    ) -> builtins.list[Any]:
        from pm.config.attributes import build_spec
        from pm.config.ecosystem import load_file

        cwd = os.getcwd()
        warnings: builtins.list[str] = []
        if isinstance(app, dict):
            return [
                build_spec(
                    app,
                    f"app {app.get('name', app.get('script', '?'))}",
                    cwd,
                    env_name,
                    {},
                    warnings,
                )
            ]
        if isinstance(app, builtins.list):
            return [spec for item in app for spec in Connection._specs(item, env_name, only)]
        path = str(app)
        if _is_config_file(path):
            return builtins.list(load_file(path, env_name, only, {}).specs)
        return [build_spec({"script": path}, f"start {path}", cwd, env_name, {}, warnings)]

    # ------------------------------------------------------------ actions

    def stop(self, *targets: Target) -> builtins.list[ProcessInfo]:
        return self._action("stop", targets)

    def restart(self, *targets: Target, update_env: bool = False) -> builtins.list[ProcessInfo]:
        extra = {"update_env": True, "shell_env": dict(os.environ)} if update_env else {}
        return self._action("restart", targets, **extra)

    def delete(self, *targets: Target) -> builtins.list[ProcessInfo]:
        return self._action("delete", targets)

    def reset(self, *targets: Target) -> builtins.list[ProcessInfo]:
        return self._action("reset", targets)

    def send_signal(self, signal: str | int, *targets: Target) -> builtins.list[ProcessInfo]:
        return self._action("signal", targets, signal=str(signal))

    def _action(
        self, cmd: str, targets: tuple[Target, ...], **extra: Any
    ) -> builtins.list[ProcessInfo]:
        entries = self.call(cmd, targets=_targets(targets), **extra)
        return [_records().ProcessInfo.from_entry(entry) for entry in entries]

    def save(self, force: bool = False) -> Any:
        """Save the process list for `resurrect` (the daemon's `save` command)."""
        return self.call("save", force=force)

    # ------------------------------------------------------------ output and events

    def logs(self, target: Target = "all", lines: int = 15) -> builtins.list[LogLine]:
        """The last `lines` lines of each selected app's out and err logs (read from the files,
        as `pm logs --nostream` does; the daemon is not in the data path)."""
        found: builtins.list[LogLine] = []
        seen: set[str] = set()
        for proc in self.describe(target):
            for stream, path in (("out", proc.out_log), ("err", proc.err_log)):
                if not path or path in seen or path == "/dev/null":
                    continue
                seen.add(path)
                found += [
                    _records().LogLine(proc.pm_id, proc.name, stream, text)
                    for text in tail(path, lines)
                ]
        return found

    def events(self, timeout: float | None = None) -> EventStream:
        """Process events from now on (subscribed before this returns), until the daemon goes
        away, the stream is closed, or no event came for `timeout` seconds (when given).
        Use as an iterator, ideally in a `with` block."""
        sock = self._connect()
        sock.settimeout(timeout)
        return EventStream(sock)


class EventStream:
    """An open subscription: iterate for `Event`s; `close()` ends it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        try:
            sock.sendall(
                protocol.encode({"id": 0, "cmd": "subscribe", "v": protocol.PROTOCOL_VERSION})
            )
            _unwrap(self._next_message())  # the daemon's ack: subscribed from here on
        except BaseException:
            sock.close()
            raise

    def _next_message(self) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise StopIteration
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return protocol.decode(line)

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while True:
            try:
                message = self._next_message()
            except OSError:  # the daemon went away, or the timeout passed
                raise StopIteration from None
            if message.get("event") == "process":
                event: Event = _records().Event.from_message(message)
                return event

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tail(path: str, lines: int) -> builtins.list[str]:
    """The last `lines` lines of a file, reading only its end."""
    if lines <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            block, data = 64 * 1024, b""
            while end > 0 and data.count(b"\n") <= lines:
                start = max(0, end - block)
                handle.seek(start)
                data = handle.read(end - start) + data
                end = start
    except OSError:
        return []
    text = data.decode(errors="replace").splitlines()
    return text[-lines:]


def connect(home: str | Path | None = None, autostart: bool = True) -> Connection:
    """A Connection to the daemon of `home` (default: $PM_HOME or ~/.pm).

    With autostart (the default) the daemon is started now if it is not running.
    """
    conn = Connection(Home(Path(home).expanduser().absolute()) if home else None, autostart)
    if autostart:
        conn.ping()
    return conn
