"""`pm export`: the apps of an ecosystem file (or of the running list) described for another
engine. Pure mapping: files in, texts out; the CLI (pm/cli/commands/export.py) reads the
running list and writes the files.

    app.py         ExportApp: an AppSpec plus what only an export reads (image, listen,
                   health_check), parsed and checked
    notes.py       the warnings: one line per app and attribute that a target cannot express
    source.py      ExportApps from an ecosystem file (pm's own readers) or from jlist entries
    container.py   what Kubernetes and Compose share: images, the container's command
                   (pm-runtime when one image holds several apps), paths, durations
    kubernetes.py  a Deployment (or CronJob) per app, a Service per app that listens
    compose.py     a compose.yaml with a service per app
    systemd.py     a unit per app (a template for instances), .socket and .timer units
    calendar.py    cron patterns as systemd OnCalendar= expressions
    targets.py     the targets by name, and their output as files (YAML for the first two)

Imports the shared modules and pm.config only: never the client, the daemon or click.
"""
