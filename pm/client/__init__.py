"""Talking to the daemon from another process: the CLI, the Python API, the web server.

    connection.py  find or start the daemon, send one request, raise its error as a PMError
    api.py         the typed Python API (`pm.connect()`), the same requests the CLI sends
    records.py     the typed records it returns (ProcessInfo, Event, LogLine)
    logreader.py   reading and following log files for `pm logs` (no daemon in the path)
    describe.py    what `pm describe` shows, as pairs (the CLI and the dashboard print them)
remote.py      reaching another host's pm over ssh, many hosts at once, each bounded in time

Never imports the daemon side (pm.daemon): the socket is the only way across.
"""
