"""What the user wrote, checked and normalised: shared by the client and the daemon.

    spec.py        AppSpec: every ecosystem attribute, its type, PM2 default and normalisation
    support.py     which attributes pm acts on, warns about, or honours by doing nothing else
    attributes.py  one app of a file (or of CLI flags) turned into an AppSpec
    readers.py     reading .json/.json5, .yaml/.yml and .config.js/.cjs/.mjs (through node)
    ecosystem.py   loading a file's apps (env profiles, --only) and planning `pm start <targets>`
    command.py     how a script becomes the command line to exec (interpreter by extension)
    package.py     the version in the package.json above a script (jlist's version, as PM2)
    settings.py    `pm set` / `pm get` (PM_HOME/module_conf.json)
    logrotate.py   the `logrotate:<key>` settings: names, pm2-logrotate defaults, validation
    cron.py        cron patterns (croniter), for cron_restart and log rotation
    dateformat.py  PM2's date formats (log_date_format, rotated file names)
    probes.py      `listen` addresses and `health_check` (Docker's semantics), parsed

Imports only the shared modules at the top of pm/ (errors, paths, protocol, version).
"""
