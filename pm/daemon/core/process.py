"""One OS process: spawn it in its own session, learn of its exit at once, signal its whole tree.

Exit detection uses a pidfd per process registered with the event loop: the kernel wakes us the
moment the process exits, with no polling tick and no SIGCHLD juggling. A pidfd also works for a
process that is not our child (one re-adopted after a daemon restart), where waitpid cannot.
We reap our own children with ``waitpid(pid)`` for that pid only, so other code in the daemon
that spawns processes (hooks) never has its exit statuses stolen.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("pm")

#: Called once with the exit code (negative signal number for a signal, None when unknown).
ExitCallback = Callable[[int | None], None]


@dataclass
class LaunchSpec:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    stdout: int
    stderr: int
    #: A user or group id, or a name (Popen looks names up); None: the daemon's own.
    uid: int | str | None = None
    gid: int | str | None = None
    #: Descriptors the child keeps across exec (handed-over sockets, an IPC channel).
    pass_fds: tuple[int, ...] = ()


class AppProcess(Protocol):
    """What the supervisor needs of an app's running process: `OSProcess`, or a test's fake.

    Every signal goes through the process object, so a fake never lets a made-up pid reach
    the OS."""

    pid: int
    exited: bool

    @property
    def create_time(self) -> float: ...

    def watch(self, loop: asyncio.AbstractEventLoop, on_exit: ExitCallback) -> None: ...

    async def wait(self, timeout: float | None = None) -> bool: ...

    def tree(self) -> list[int]: ...

    def signal(self, sig: int, tree: Iterable[int] = (), group: bool = False) -> bool: ...

    def signal_group(self, sig: int) -> bool: ...

    async def wait_descendants(self, pids: Iterable[int], timeout: float) -> list[int]: ...


class ProcessFactory(Protocol):
    """Starts an app's process (`OSProcess.spawn`; a fake in tests). run_first: see there."""

    def __call__(self, spec: LaunchSpec, run_first: bool = False) -> AppProcess: ...


class OSProcess:
    """A running process we watch: our own child, or one adopted after a daemon restart."""

    def __init__(self, pid: int, create_time: float | None, own_child: bool) -> None:
        self.pid = pid
        self._create_time = create_time
        self.own_child = own_child
        self.returncode: int | None = None
        self.exited = False
        self._pidfd: int | None = None
        self._exit_waiters: list[asyncio.Future[int | None]] = []

    @classmethod
    def spawn(cls, spec: LaunchSpec, run_first: bool = False) -> OSProcess:
        """Start the process in a new session so its whole tree can be signalled as a group.

        run_first: give the CPU to the new process before returning. Popen returns once the
        child has exec'd, and the child sits on our CPU, so it otherwise waits for whatever the
        daemon does next: a parent that works 2 ms after a spawn delays its child 2 ms
        (measured on 2 cores). Right for a lone relaunch, whose start is what everyone waits
        for; wrong inside a batch, where the next spawn should come first (50 apps started
        with a yield after each: 1.22-1.25x the floor instead of 1.08-1.16x)."""
        popen = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=spec.stdout,
            stderr=spec.stderr,
            start_new_session=True,
            close_fds=True,
            pass_fds=spec.pass_fds,
            user=spec.uid,
            group=spec.gid,
        )
        # We reap the child ourselves; tell Popen so it never tries to (or warns) later.
        popen.returncode = 0
        if run_first:
            os.sched_yield()
        return cls(popen.pid, None, own_child=True)

    @property
    def create_time(self) -> float:
        """When the process started, as psutil says (re-adoption checks it against the pid).

        Read on first use, not at spawn: /proc/<pid>/stat blocks while the child is still inside
        execve, which cost the daemon 1.5-4.5 ms per spawn. Our child is reaped only by us, so
        until it has exited the pid cannot belong to anyone else."""
        if self._create_time is None:
            found = None if self.exited else process_create_time(self.pid)
            self._create_time = found or time.time()
        return self._create_time

    @classmethod
    def adopt(cls, pid: int, create_time: float) -> OSProcess | None:
        """Watch a live process that a previous daemon started, if it is really that process."""
        actual = process_create_time(pid)
        if actual is None or abs(actual - create_time) > 0.05:
            return None
        return cls(pid, actual, own_child=False)

    def watch(self, loop: asyncio.AbstractEventLoop, on_exit: ExitCallback) -> None:
        """Call on_exit(returncode) from the loop as soon as the process has exited."""
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            loop.call_soon(self._finish, on_exit)
            return
        loop.add_reader(self._pidfd, self._on_readable, loop, on_exit)

    def _on_readable(self, loop: asyncio.AbstractEventLoop, on_exit: ExitCallback) -> None:
        if self._pidfd is not None:
            loop.remove_reader(self._pidfd)
        self._finish(on_exit)

    def _finish(self, on_exit: ExitCallback) -> None:
        if self.exited:
            return
        self.returncode = self._reap()
        self.exited = True
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        for waiter in self._exit_waiters:
            if not waiter.done():
                waiter.set_result(self.returncode)
        self._exit_waiters.clear()
        on_exit(self.returncode)

    def _reap(self) -> int | None:
        if not self.own_child:
            return None
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the process has exited; False if the timeout ran out first."""
        if self.exited:
            return True
        waiter: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._exit_waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def tree(self) -> list[int]:
        """The pids of this process's descendants, deepest first (not including itself)."""
        return descendants(self.pid)

    def signal(self, sig: int, tree: Iterable[int] = (), group: bool = False) -> bool:
        """Signal a process tree: the pids of tree (descendants, deepest first), this process
        and (group) its process group, each process once: a second SIGINT is "quit now" to many
        programs, and a handler run twice can write its last words twice. Returns whether this
        process got it."""
        for pid in tree:
            if not (group and process_group(pid) == self.pid):  # else the group reaches it
                send_signal(pid, sig)
        if group and process_group(self.pid) == self.pid:
            return signal_group(self.pid, sig)
        sent = send_signal(self.pid, sig)
        if group:  # a group it left: what remains of it
            signal_group(self.pid, sig)
        return sent

    def signal_group(self, sig: int) -> bool:
        """Signal the process group this process leads (it may have exited meanwhile)."""
        return signal_group(self.pid, sig)

    async def wait_descendants(self, pids: Iterable[int], timeout: float) -> list[int]:
        """Wait until the given descendants (from `tree`) have exited; the ones left alive."""
        return await wait_gone(pids, timeout)


def describe_exit(code: int | None) -> tuple[str, str]:
    """PM2's "exited with code [c] via signal [s]" pair for an exit code (negative: signal)."""
    if code is None:
        return "unknown", "unknown"
    if code < 0:
        try:
            return "null", signal.Signals(-code).name
        except ValueError:
            return "null", str(-code)
    return str(code), "null"


def process_create_time(pid: int) -> float | None:
    """When pid started, in seconds since the epoch, as psutil computes it (start ticks from
    /proc/<pid>/stat over CLK_TCK, plus the boot time), without importing psutil."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        ticks = int(stat[stat.rfind(b")") + 2 :].split()[19])
        return ticks / _CLOCK_TICKS + _boot_time()
    except (OSError, ValueError, IndexError):
        return _psutil_create_time(pid)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_BOOT_TIME: list[float] = []


def _boot_time() -> float:
    if not _BOOT_TIME:
        with open("/proc/stat", "rb") as handle:
            for line in handle:
                if line.startswith(b"btime"):
                    _BOOT_TIME.append(float(line.split()[1]))
                    break
            else:
                raise ValueError("no btime in /proc/stat")
    return _BOOT_TIME[0]


def _psutil_create_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def descendants(pid: int) -> list[int]:
    """pid's descendants, deepest first (so parents do not respawn them while we signal).

    Read from /proc/<pid>/task/<tid>/children, which costs the size of the tree; psutil's way
    builds a parent map of every process on the machine, once per app stopped (a third of the
    daemon's time in `pm delete all` with 50 apps, by py-spy). Falls back to psutil on kernels
    without that file.
    """
    found: list[int] = []
    queue = collections.deque([pid])
    while queue:
        kids = _children(queue.popleft())
        if kids is None:
            return _psutil_descendants(pid)
        found.extend(kids)
        queue.extend(kids)
    return found[::-1]


def _children(pid: int) -> list[int] | None:
    """Direct children of pid ([] when it is gone), or None when the kernel cannot say."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                kids.extend(int(item) for item in handle.read().split())
        except FileNotFoundError:
            if os.path.isdir(f"/proc/{pid}/task/{tid}"):
                return None  # no children file: kernel without CONFIG_PROC_CHILDREN
        except OSError:
            continue
    return kids


def _psutil_descendants(pid: int) -> list[int]:
    import psutil

    try:
        children = psutil.Process(pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []
    # psutil lists breadth-first; signal the deepest first so parents don't respawn them.
    return [child.pid for child in reversed(children)]


def send_signal(pid: int, sig: int) -> bool:
    """Signal one pid; a process that is already gone (ESRCH, EPERM) is not an error."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def state(pid: int) -> str:
    """The state letter of pid (R, S, D, T, Z...) from /proc; "" when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return ""
    # The letter follows the parenthesised command name, which may contain spaces.
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3].decode()


def process_group(pid: int) -> int:
    """The process group of pid, or -1 when it is gone."""
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def alive(pid: int) -> bool:
    """True while pid names a live (non-zombie) process."""
    return state(pid) not in ("", "Z", "X")


def signal_number(name: str | int) -> int:
    """'SIGTERM', 'TERM', 'term' or 15 -> 15; raise ValueError for anything else."""
    if isinstance(name, int) or str(name).isdigit():
        number = int(name)
        signal.Signals(number)
        return number
    upper = str(name).upper()
    if not upper.startswith("SIG"):
        upper = "SIG" + upper
    return int(signal.Signals[upper])


async def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait until every pid has exited (via pidfds); return the ones still alive at the deadline."""
    loop = asyncio.get_running_loop()
    pending: dict[int, int] = {}
    done = asyncio.Event()

    def on_gone(pid: int) -> None:
        fd = pending.pop(pid, None)
        if fd is not None:
            loop.remove_reader(fd)
            os.close(fd)
        if not pending:
            done.set()

    for pid in set(pids):
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OSError):
            continue
        if not alive(pid):  # a zombie reads as exited only once reaped; treat it as gone
            os.close(fd)
            continue
        pending[pid] = fd
        loop.add_reader(fd, on_gone, pid)
    if not pending:
        return []
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    survivors = [pid for pid in pending if alive(pid)]
    for pid in list(pending):
        on_gone(pid)
    return survivors
