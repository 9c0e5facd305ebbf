"""The god daemon: one per PM_HOME, detached; owns the apps, their output and the saved list.

    __main__.py  how the client starts it (`python -m pm.daemon --detach`)
    main.py      daemonising, the single-instance lock, signals, wiring the parts together
    server.py    the Unix socket server: NDJSON requests in, replies or event streams out
    runtime.py   the same daemon in the foreground, for containers (`pm-runtime`)
    heap.py      giving freed heap back to the OS after a burst of requests
    handlers/    one small function per command, in one table
    core/        the process table and each app's lifecycle (supervisor, app, policy, process)
    output/      app output: pipes, readers, log files, rotation
    persist/     the saved list (dump), live state and crash recovery
    automation/  watch, memory limits, cron restarts, hooks

Never imports click or the client side; lower rooms call back up through callbacks only.
"""
