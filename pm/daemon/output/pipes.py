"""App output pipes that outlive the daemon, with no helper process.

Every app writes its stdout and stderr into pipes the daemon reads (logpipe.py). If the
daemon dies (SIGKILL, OOM killer, a bug) while the app runs, two things must still hold:

* The app never gets EPIPE/SIGPIPE. Its end is opened read-write (the write end reopened
  through /proc/self/fd with O_RDWR), so the pipe has a reader for as long as the app holds
  it. With no daemon reading, the app's writes fill the pipe (64 KiB) and then wait.
* The next daemon finds every unread byte. A pipe can be opened again through
  /proc/<pid>/fd/<n> of any process that holds it, so after re-adopting the app the daemon
  looks for the pipe's inode (saved in state.json) among the fds of the app's process tree
  and opens it for reading: reading resumes exactly where the dead daemon stopped
  (pm/daemon/persist/pipe_recovery.py).

What this cannot keep: bytes still unread when the app and every process sharing its output
have exited while no daemon ran (a pipe ends with its last holder). The fd-keeper process this
replaces kept those too, but cost a second resident Python process per home.
"""

from __future__ import annotations

import os

KINDS = ("out", "err")


def open_pair() -> tuple[int, int]:
    """(read end for the daemon, non-blocking; read-write end for the child's stdout/stderr)."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        child_end = os.open(f"/proc/self/fd/{write_end}", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end, child_end


def inode(fd: int) -> int:
    return os.fstat(fd).st_ino
