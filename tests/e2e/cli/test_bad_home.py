"""A home pm cannot use fails every command with one clear line, never a traceback.

Issue "Nothing acknowledged is ever lost": PM_HOME on a read-only mount or pointing at a file made
`pm ls`, `pm ping`, `pm start` print a 40-line traceback. Every command `pm --help` lists is run
here against each kind of bad home: read-only (a read-only bind mount), not a directory (a file,
and a path below a file), too long for a socket path, owned by another user, and a full disk (a
full 64 KB tmpfs). Each must exit non-zero with one stderr line naming the home, or, for the few
commands that need no home at all, succeed; none may print a traceback, hang, or leave a daemon.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest

from pm.cli.main import main_group
from pm.paths import MAX_SOCKET_PATH

#: A harmless argument list for each command that needs one (the rest run bare). Commands that
#: would wait for events or stream are given their one-shot form where they have one.
ARGS: dict[str, list[str]] = {
    "delete": ["x"],
    "describe": ["x"],
    "env": ["0"],
    "id": ["x"],
    "multiset": ["a b"],
    "reload": ["x"],
    "reset": ["x"],
    "restart": ["x"],
    "scale": ["x", "2"],
    "sendSignal": ["SIGUSR2", "x"],
    "set": ["a", "b"],
    "start": ["/bin/true"],
    "startOrGracefulReload": ["eco.json"],
    "startOrReload": ["eco.json"],
    "startOrRestart": ["eco.json"],
    "stop": ["x"],
    "unset": ["a"],
    "get": ["a"],
    "logs": ["x", "--nostream"],
    "flush": ["x"],
    "deploy": ["eco.json"],
    "export": ["systemd", "eco.json"],
}

#: Commands that need no home at all, so they may succeed whatever PM_HOME is, and why.
NO_HOME_NEEDED = {
    "completion": "prints a shell completion script; reads nothing in PM_HOME",
    "init": "writes ecosystem.config.js in the current directory, not in PM_HOME",
    "startup": "writes a systemd unit (here into --unit-dir); the unit names PM_HOME, and the "
    "daemon it starts at boot reports a bad home then",
    "unstartup": "removes that unit; nothing in PM_HOME",
    "deploy": "works on remote hosts over ssh; `pm deploy <file>` with no environment prints "
    "its help (a post-deploy hook's pm runs on the host, with that host's home)",
    "export": "writes units or manifests for a file's apps; `pm export <target> running` asks "
    "the daemon, and reports a bad home as every other command does",
}

#: Commands that only read PM_HOME (or ask a running daemon), never create or write it. On a
#: home that exists as a directory of ours but cannot be created or written (read-only, full,
#: too long for the socket) their answer from what is there (nothing) is true: no daemon runs,
#: no setting is set, no app is known. They may succeed, or fail with their own one line.
READ_ONLY_COMMANDS = {"conf", "get", "kill", "logs", "report", "unset", "update"}

#: Commands that only write module_conf.json: a home too long for a socket still holds files.
FILE_ONLY_COMMANDS = {"set", "multiset", *READ_ONLY_COMMANDS}

#: The homes where those commands may answer: they are (or could be) a directory of our own.
#: A file, a path below a file, or another user's home is refused for every command that uses
#: PM_HOME, before it reads anything (pm/cli/group.py refuse_unusable_home).
MAY_ANSWER = {
    "read-only": READ_ONLY_COMMANDS,
    "full-disk": READ_ONLY_COMMANDS,
    "too-long": FILE_ONLY_COMMANDS,
}

#: Given a scratch unit folder, startup/unstartup never call systemctl or touch /etc.
UNIT_DIR_COMMANDS = ("startup", "unstartup")

TIMEOUT = 30.0


def _commands() -> list[str]:
    return list(main_group.list_commands(click.Context(main_group)))


def _mount(*args: str) -> bool:
    try:
        return subprocess.run(["mount", *args], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A scratch root, its mounts undone and every daemon started under it ended, even when the
    test fails; a daemon found there fails the test (a bad home must never start one)."""
    root = Path(tempfile.mkdtemp(prefix="pmbad", dir="/tmp"))
    try:
        yield root
    finally:
        survivors = _daemons_under(root)
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for mount in _mounts_under(root):  # a bind mount shares its device: not is_mount()
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=10)
        for path in root.rglob("*"):  # another user's home: make it removable again
            try:
                os.lchown(path, os.geteuid(), -1)
            except OSError:
                pass
        shutil.rmtree(root, ignore_errors=True)
        assert not survivors, f"daemons were left running for a bad home: {survivors}"


def _mounts_under(root: Path) -> list[str]:
    """Mount points below root, deepest first (from /proc/mounts; octal escapes kept simple:
    the scratch root has no spaces)."""
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return sorted((p for p in points if p.startswith(f"{root}/")), reverse=True)


def _daemons_under(root: Path) -> list[int]:
    """PIDs of processes whose PM_HOME lies under root (the daemon inherits it)."""
    found = []
    marker = f"PM_HOME={root}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(marker) for item in environ.split(b"\0")):
            found.append(int(entry))
    return found


def _make_home(kind: str, root: Path) -> Path:
    """Build one kind of bad home under root (skipping the test where this sandbox cannot)."""
    if kind == "read-only":
        source, mount = root / "ro-src", root / "ro"
        source.mkdir()
        mount.mkdir()
        if os.geteuid() != 0 or not _mount("--bind", "-o", "ro", str(source), str(mount)):
            pytest.skip("needs root and a read-only bind mount")
        if not _mount("-o", "remount,bind,ro", str(mount)) and os.access(mount, os.W_OK):
            pytest.skip("the bind mount did not become read-only")
        return mount / "home"
    if kind == "not-a-directory":
        home = root / "file"
        home.write_text("not a directory\n")
        return home
    if kind == "below-a-file":
        (root / "file").write_text("not a directory\n")
        return root / "file" / "home"
    if kind == "too-long":
        home = root / ("h" * (MAX_SOCKET_PATH - len(str(root))))
        assert len(os.fsencode(home / "rpc.sock")) > MAX_SOCKET_PATH
        return home
    if kind == "another-user":
        if os.geteuid() != 0:
            pytest.skip("needs root to give a home to another user")
        home = root / "theirs"
        home.mkdir(mode=0o700)
        os.chown(home, 65534, 65534)
        return home
    if kind == "full-disk":
        mount = root / "full"
        mount.mkdir()
        if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)):
            pytest.skip("needs root to mount a small tmpfs")
        home = mount / "home"
        home.mkdir(mode=0o700)
        fd = os.open(mount / "fill", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:  # ENOSPC: the disk is full
            pass
        finally:
            os.close(fd)
        return home
    raise AssertionError(kind)


def _run(command: str, home: Path, cwd: Path) -> tuple[str, subprocess.CompletedProcess[str]]:
    args = [command, *ARGS.get(command, [])]
    if command in UNIT_DIR_COMMANDS:
        args += ["--unit-dir", str(cwd / "units")]
    env = dict(os.environ, PM_HOME=str(home), NO_COLOR="1", COLUMNS="200")
    for key in (
        "PM_DAEMON_RPC_PORT",
        "PM_PID_FILE_PATH",
        "PM_LOG_FILE_PATH",
        "PM_DUMP_FILE_PATH",
        "PM_DEFAULT_LOG_PATH",
        "PM_DEFAULT_PID_PATH",
        "PM_MODULE_CONF_FILE",
    ):
        env.pop(key, None)
    # Through entry.main, as the console script runs, so `jlist`'s fast path is covered too.
    argv = [sys.executable, "-c", "from pm.cli.entry import main; main()", *args]
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        result = subprocess.CompletedProcess(argv, -999, "", f"HUNG after {TIMEOUT}s\n{stderr}")
    return command, result


@pytest.mark.parametrize(
    "kind",
    ["read-only", "not-a-directory", "below-a-file", "too-long", "another-user", "full-disk"],
)
def test_every_command_fails_with_one_line_on_a_bad_home(kind: str, scratch: Path) -> None:
    home = _make_home(kind, scratch)
    cwd = scratch / "cwd"
    cwd.mkdir()
    (cwd / "eco.json").write_text('{"apps": [{"name": "x", "script": "/bin/true"}]}')
    commands = _commands()
    assert "list" in commands and "start" in commands
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda name: _run(name, home, cwd), commands))

    problems = []
    for command, result in results:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        shown = f"pm {command}: exit {result.returncode}, stderr {result.stderr!r}"
        may_answer = command in MAY_ANSWER.get(kind, ())
        if "Traceback" in result.stderr or "Traceback" in result.stdout:
            problems.append(f"traceback from {shown}")
        elif result.returncode == 0:
            if command not in NO_HOME_NEEDED and not may_answer:
                problems.append(f"succeeded on a bad home: {shown}")
        elif may_answer:  # its own answer (e.g. "setting a is not set"), as one line
            if len(lines) != 1 or not lines[0].startswith("[PM]"):
                problems.append(f"not one [PM] line: {shown}")
        elif len(lines) != 1 or str(home) not in lines[0] or "[PM][ERROR]" not in lines[0]:
            problems.append(f"not one [PM][ERROR] line naming {home}: {shown}")
    assert not problems, "\n".join(problems)
    if kind == "another-user":  # nothing of ours was written into their home
        assert [p for p in home.iterdir()] == []
    assert not _daemons_under(scratch)


def test_daemon_started_by_hand_on_a_bad_home_exits_with_one_line(scratch: Path) -> None:
    (scratch / "file").write_text("not a directory\n")
    for home in (scratch / "file", scratch / "file" / "sub"):
        env = dict(os.environ, PM_HOME=str(home))
        result = subprocess.run(
            [sys.executable, "-m", "pm.daemon"],
            env=env,
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            f"[PM][ERROR] PM_HOME {home} "
            + (
                "is not a directory (it is a file); "
                if home.name == "file"
                else f"cannot be created: {scratch / 'file'} is a file, not a directory; "
            )
            + "set PM_HOME to a directory pm can create and write"
        ]
