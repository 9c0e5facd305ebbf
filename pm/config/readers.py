"""Reading ecosystem files: JSON (JSON5, as PM2 reads .json as a JavaScript literal), YAML,
and .config.js/.cjs/.mjs through node; and finding the app list inside what was read."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pm.errors import ConfigError

#: Top-level keys PM2 reads besides the apps; pm reports them instead of dropping them silently.
UNSUPPORTED_SECTIONS = {
    "static": (
        "'static' (static file servers) is not supported by pm; the section was read and ignored"
    ),
}

#: Top-level keys that are not apps: `deploy` is read by `pm deploy` (and its env by --env).
OTHER_SECTIONS = frozenset({"deploy", *UNSUPPORTED_SECTIONS})

#: Evaluates a JS config the way PM2 loads it (require, then import() for ES modules) and
#: prints the exported object as JSON. The config path is argv[1].
_NODE_LOADER = r"""
const path = require('path'), url = require('url');
const file = path.resolve(process.argv[1]);
(async () => {
  let mod;
  try { mod = require(file); }
  catch (e) {
    if (e.code !== 'ERR_REQUIRE_ESM' && !/\.mjs$/.test(file)) throw e;
    mod = await import(url.pathToFileURL(file).href);
  }
  if (mod && mod.__esModule !== undefined && mod.default !== undefined) mod = mod.default;
  else if (mod && Object.keys(mod).length === 1 && mod.default !== undefined) mod = mod.default;
  process.stdout.write(JSON.stringify(mod === undefined ? null : mod));
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
"""

NODE_TIMEOUT = 30.0


def is_js_config(path: str) -> bool:
    name = Path(path).name
    return any(marker in name for marker in (".config.js", ".config.cjs", ".config.mjs"))


#: The target that means "the ecosystem on standard input" (`cat eco.json | pm start -`).
STDIN = "-"


@functools.cache
def stdin_text() -> str:
    """Standard input, read once (`pm start -` may look at its apps more than once)."""
    return sys.stdin.read()


def read_file(path: str) -> Any:
    """Parse a config file into Python data; syntax errors name file, line and column.
    STDIN reads JSON (or JSON5) from standard input, as PM2 reads `start -`."""
    if path == STDIN:
        return _read_json("<stdin>", stdin_text())
    name = Path(path).name
    if is_js_config(path) and ".json" not in name:
        return _read_js(path)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    if ".yml" in name or ".yaml" in name:
        return _read_yaml(path, text)
    return _read_json(path, text)


_JSON5_ERROR = re.compile(r"^<string>:(\d+) (.*) at column (\d+)$")


def _read_json(path: str, text: str) -> Any:
    """Strict JSON first (fast); then JSON5 (comments, trailing commas, unquoted keys); then,
    where node is installed, the text as a JavaScript expression, since PM2 evaluates `.json`
    files and piped ecosystems as JavaScript (`script: ["a", "b.js"].join("")` works there)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    import json5

    try:
        return json5.loads(text)
    except ValueError as exc:
        error = _json5_error(path, exc)
    evaluated = _eval_js_expression(text)
    if evaluated is None:
        raise error
    return evaluated[0]


def _json5_error(path: str, exc: ValueError) -> ConfigError:
    match = _JSON5_ERROR.match(str(exc))
    if match:
        line, problem, column = match.groups()
        char = re.fullmatch(r'Unexpected "(.*)"', problem, re.DOTALL)
        problem = f"unexpected character {char.group(1)!r}" if char else problem
        return ConfigError(f"{path}:{line}:{column}: invalid JSON: {problem}")
    return ConfigError(f"{path}: invalid JSON: {exc}")


#: Evaluates stdin as one JavaScript expression in an empty context, as PM2 reads `.json`.
_NODE_EXPRESSION = r"""
const src = require('fs').readFileSync(0, 'utf8');
const value = require('vm').runInNewContext('(' + src + ')', {}, {timeout: 1000});
process.stdout.write(JSON.stringify(value === undefined ? null : value));
"""


def _eval_js_expression(text: str) -> tuple[Any] | None:
    """(value,) when node can evaluate text as a JavaScript expression; None otherwise."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        result = subprocess.run(
            [node, "-e", _NODE_EXPRESSION],
            input=text,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            check=False,
        )
        return (json.loads(result.stdout),) if result.returncode == 0 else None
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return None


def _read_yaml(path: str, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


def _read_js(path: str) -> Any:
    """Evaluate a JS config with node, as PM2 does; a clear error when node is missing."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: cannot read: No such file or directory")
    node = shutil.which("node")
    if node is None:
        raise ConfigError(
            f"{path}: JavaScript config files need 'node' on PATH to be evaluated, and it was not "
            "found; install Node.js or write the same apps as ecosystem.json or ecosystem.yaml"
        )
    try:
        result = subprocess.run(
            [node, "-e", _NODE_LOADER, path],
            cwd=str(Path(path).parent),
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{path}: node did not finish evaluating the file within {NODE_TIMEOUT:.0f}s"
        ) from None
    if result.returncode != 0:
        raise ConfigError(
            f"{path}: node could not evaluate the file:\n{_node_error(result.stderr)}"
        )
    try:
        return json.loads(result.stdout or "null")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: node printed no usable JSON ({exc.msg})") from None


def _node_error(stderr: str) -> str:
    """The useful head of node's error output (location line, caret, message)."""
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("    at ")]
    return "\n".join("  " + line for line in lines[:8])


def apps_of(data: Any, path: str, warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """The app objects of a parsed file: `apps` (list or object), legacy `pm2`, or bare."""
    if isinstance(data, dict):
        for key, message in UNSUPPORTED_SECTIONS.items():
            if key in data and warnings is not None:
                warnings.append(f"{path}: {message}")
        if "apps" in data or "pm2" in data:
            data = data["apps"] if "apps" in data else data["pm2"]
        elif "script" not in data and any(key in data for key in OTHER_SECTIONS):
            raise ConfigError(f"{path}: no 'apps' to start (only {', '.join(sorted(data))})")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected an 'apps' list of app objects, got {_kind(data)}")
    for index, app in enumerate(data):
        if not isinstance(app, dict):
            raise ConfigError(f"{path}: app #{index}: expected an object, got {_kind(app)} {app!r}")
    return data


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "nothing",
        int: "a number",
        float: "a number",
    }
    if isinstance(value, list) and not value:
        return "an empty list"
    return names.get(type(value), type(value).__name__)
