"""Who may use the web server: one random token in PM_HOME, and one-time login links.

The token lives in ``PM_HOME/web.token`` (0600), so only the user who owns the home can read it.
A request proves itself with ``Authorization: Bearer <token>`` or with the ``pm_token`` cookie,
which a browser gets by opening a login link. A login link carries no token: it carries an expiry,
a nonce and an HMAC of both keyed by the token, so the CLI can mint one without talking to the
running server, and the server accepts each nonce once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from pm.paths import Home

COOKIE = "pm_token"
#: How long a printed login link stays usable.
LINK_TTL_S = 15 * 60


def token_path(home: Home) -> Path:
    return home.root / "web.token"


def load_or_create_token(home: Home) -> str:
    """The home's web token, created (0600, atomically, exclusively) on first use."""
    path = token_path(home)
    home.ensure()
    try:
        token = path.read_text().strip()
        if token:
            _keep_private(path)
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".web.token.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process won the race: use its token
    except FileExistsError:
        token = path.read_text().strip()
    finally:
        os.unlink(tmp)
    return token


def _keep_private(path: Path) -> None:
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def token_matches(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), token.encode())


def _sign(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def make_login_code(token: str, now: float | None = None, ttl: float = LINK_TTL_S) -> str:
    """A one-time login code: ``<expiry>.<nonce>.<hmac>``."""
    expiry = int((time.time() if now is None else now) + ttl)
    message = f"{expiry}.{secrets.token_hex(12)}"
    return f"{message}.{_sign(token, message)}"


class LoginCodes:
    """Checks login codes and remembers the nonces already used (until they expire)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._used: dict[str, int] = {}

    def redeem(self, code: str, now: float | None = None) -> bool:
        """True once for a valid, unexpired code; False for anything else."""
        now = time.time() if now is None else now
        parts = code.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or len(code) > 200:
            return False
        expiry_text, nonce, signature = parts
        expected = _sign(self.token, f"{expiry_text}.{nonce}")
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return False
        expiry = int(expiry_text)
        self._used = {n: e for n, e in self._used.items() if e >= now}
        if expiry < now or nonce in self._used:
            return False
        self._used[nonce] = expiry
        return True


def base_url(host: str, port: int) -> str:
    """The URL to print for a server bound to host:port (a wildcard address shows as loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def login_url(base: str, token: str) -> str:
    return f"{base}/login?code={make_login_code(token)}"
