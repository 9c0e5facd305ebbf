"""pm: a PM2-compatible process manager written in Python.

``import pm`` stays light: the Python API (`pm.connect`, `pm.Connection`, `pm.ProcessInfo`,
`pm.Event`, `pm.LogLine`) is loaded on first use. See `pm.client.api`.
"""

from typing import Any

from pm.version import __version__

_API = ("connect", "Connection", "ProcessInfo", "Event", "LogLine")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from pm.client import api

        return getattr(api, name)
    raise AttributeError(f"module 'pm' has no attribute {name!r}")
