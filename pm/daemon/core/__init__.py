"""The process table and the lifecycle of every app: supervisor, app, restart policy, start
order and restart groups, the event bus, one OS process, cpu/memory sampling; around the
supervisor, target selectors, launching and stopping a process, and the clock it reads; and
for zero-downtime work: readiness (notify socket, Node IPC, cluster workers' listen), the
sockets handed over for `listen`, rolling reload, and one health probe.

Imports only pm's shared modules, pm.config and pm.daemon.output; the rooms above (persist,
automation, handlers) are told of changes through callbacks and the event bus.
"""
