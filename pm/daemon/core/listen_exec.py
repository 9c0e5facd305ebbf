"""Run by path (`python -I -S listen_exec.py FDS -- ARGV...`) between fork and the app's exec:
put the sockets pm hands over at fd 3, 4, ... and set systemd's socket-activation variables.

`LISTEN_PID` must be the app's own pid, which is known only in the child; and the sockets must
sit at fixed numbers, which `subprocess` cannot arrange (and /bin/sh, dash on Debian, cannot
name a descriptor above 9). This script imports nothing of pm, so it starts in a few ms, and
exec keeps its pid for the app.
"""

import fcntl
import os
import sys

FIRST_FD = 3  # SD_LISTEN_FDS_START


def main() -> None:
    sources = [int(fd) for fd in sys.argv[1].split(",")]
    argv = sys.argv[3:]
    # Copy every source above the targets first, so no dup2 overwrites a source still needed.
    above = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_FD + len(sources)) for fd in sources]
    for fd in sources:
        os.close(fd)
    for index, fd in enumerate(above):
        os.dup2(fd, FIRST_FD + index)  # dup2 clears close-on-exec: the app inherits it
        os.close(fd)
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = str(len(sources))
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"pm: cannot start {argv[0]}: {exc.strerror}\n")
        os._exit(127)


if __name__ == "__main__":
    main()
