"""What restarts or reacts on its own: file watching, `max_memory_restart`, `cron_restart`,
event hooks (shell commands run on start, exit, restart, errored, stop, memory), and health
checks (`health_check`: probe, report, restart when unhealthy).
"""
