"""`pm deploy`: PM2's deploy section, read and carried out over ssh (docs/deploy.md).

    target.py      one environment of the deploy section, checked (errors name file and field)
    steps.py       the shell script of each step on a server, and the ssh command that runs it
    operations.py  the sub-commands (setup, update, revert, curr, prev, list, exec, ref)
    session.py     running steps on one host with its output prefixed; all hosts in parallel
    local.py       the local git checks before a deploy, the file's place in its repository

Imports only the shared modules and pm.config; click stays in pm/cli/commands/deploy.py.
"""
