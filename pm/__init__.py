"""pm: a PM2-compatible process manager written in Python."""

__version__ = "0.1.0"
