"""CLI commands beyond the core set, one module per area, loaded only when invoked.

`pm.cli.group.LAZY_COMMANDS` maps a command name to "module:attribute" here, so adding a command
never slows down `pm list`.
"""
