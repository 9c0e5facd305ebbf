"""One small exception tree. Each error carries a wire code and a message that says what to do.

The daemon turns these into ``{code, message}`` replies at its edge; the client turns such replies
back into the same classes, so the CLI prints one clear line and exits non-zero.
"""

from __future__ import annotations


class PMError(Exception):
    """Base of every error pm reports to a user."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PMError):
    code = "bad_request"


class NotFound(PMError):
    code = "not_found"


class NoProcess(PMError):
    """A command on `all` (or a pattern) with no process to act on: PM2 warns and exits 1."""

    code = "no_process"


class ConfigError(PMError):
    code = "config"


class SpawnError(PMError):
    code = "spawn"


class Conflict(PMError):
    code = "conflict"


class DaemonUnavailable(PMError):
    code = "daemon_unavailable"


class VersionMismatch(PMError):
    code = "version_mismatch"


class Internal(PMError):
    code = "internal"


_BY_CODE = {cls.code: cls for cls in PMError.__subclasses__()}


def from_wire(code: str, message: str) -> PMError:
    """Rebuild the error a daemon sent; unknown codes become a plain PMError."""
    cls = _BY_CODE.get(code, PMError)
    return cls(message)
