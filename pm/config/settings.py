"""`pm set` / `pm get`: settings kept in PM_HOME/module_conf.json (0600), as PM2 keeps them.

Keys are `<module>:<key>` (stored as `{"<module>": {"<key>": value}}`) or plain `<key>` (stored
at the top level). `pm2-logrotate:` and `pm-logrotate:` are accepted as `logrotate:` so PM2
habits work. Values are kept as the strings the user typed, as PM2 does; the reader of a
setting validates it; `logrotate:` keys are also checked before they are stored
(pm/config/logrotate.py).
"""

from __future__ import annotations

import json
from typing import Any

from pm.errors import ConfigError
from pm.paths import Home, write_private

MODULE_ALIASES = {"pm2-logrotate": "logrotate", "pm-logrotate": "logrotate"}


def split_key(key: str) -> tuple[str | None, str]:
    if not key or key.startswith(":") or key.endswith(":"):
        raise ConfigError(f"invalid setting key {key!r}: expected <key> or <module>:<key>")
    if ":" not in key:
        return None, key
    module, sub = key.split(":", 1)
    return MODULE_ALIASES.get(module, module), sub


def load(home: Home) -> dict[str, Any]:
    try:
        text = home.config.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{home.config} is not valid JSON ({exc}); fix or remove it") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{home.config} must hold a JSON object")
    return data


def set_value(home: Home, key: str, value: str) -> dict[str, Any]:
    module, sub = split_key(key)
    if module == "logrotate":
        from pm.config import logrotate  # here: `pm get` and other keys need none of it

        logrotate.validate_setting(sub, value)
    data = load(home)
    if module is None:
        data[sub] = value
    else:
        section = data.get(module)
        if not isinstance(section, dict):
            section = data[module] = {}
        section[sub] = value
    home.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(home.config, json.dumps(data, indent=2).encode() + b"\n")
    return data


def unset_value(home: Home, key: str) -> bool:
    """Remove a setting (a module's key, or a whole top-level key); False if it was not set."""
    module, sub = split_key(key)
    data = load(home)
    holder = data if module is None else data.get(module)
    if not isinstance(holder, dict) or sub not in holder:
        return False
    del holder[sub]
    if module is not None and not holder:
        del data[module]
    write_private(home.config, json.dumps(data, indent=2).encode() + b"\n")
    return True


def get_value(home: Home, key: str | None) -> Any:
    """The whole store (no key), a module's section, or one value (None when unset)."""
    data = load(home)
    if not key:
        return data
    if ":" not in key:
        return data.get(MODULE_ALIASES.get(key, key))
    module, sub = split_key(key)
    section = data.get(module or "")
    return section.get(sub) if isinstance(section, dict) else None


def app_logrotate(value: Any, where: str) -> dict[str, str]:
    """The ecosystem's per-app `logrotate: {max_size, retain, compress, dateFormat,
    rotateInterval, enabled}` object, validated like `pm set logrotate:<key>`."""
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: expected an object like {{"max_size": "1M"}}')
    from pm.config import logrotate

    result = {}
    for key, item in value.items():
        if key not in logrotate.APP_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}; per-app keys: {', '.join(logrotate.APP_KEYS)}"
            )
        text = str(item).lower() if isinstance(item, bool) else str(item)
        try:
            logrotate.validate_setting(key, text)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}") from None
        result[key] = text
    return result
