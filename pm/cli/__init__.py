"""The `pm` and `pm-runtime` command lines: parse, call the client, print.

entry.py          the `pm` console script (answers `pm jlist` without loading click)
group.py          the command group: aliases, lazy commands, PM2-only ones, --help
main.py           the core commands on apps (start, stop, list, describe...)
base.py           what every command shares: the connection and the process table
start_options.py  PM2's `pm start` flags and the attributes they set
runtime.py        `pm-runtime` and `pm start --no-daemon` (exec the foreground runtime)
render.py         PM2's table, describe, colours
startup_unit.py   the systemd unit `pm startup` writes
hosts.py          which hosts `pm --host NAME` and `--all-hosts` mean (deploy section, ssh)
over_ssh.py       `pm --host`: the command run by other hosts' pm, one table for `list`
commands/         the other commands, one module per area, imported only when used
"""
