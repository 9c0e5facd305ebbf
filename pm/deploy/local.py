"""The local side of a deploy: the git checks PM2 makes before deploying (nothing uncommitted,
nothing staged, nothing unpushed), and where the ecosystem file sits in its repository."""

from __future__ import annotations

import os
import subprocess

from pm.errors import ConfigError

GIT_TIMEOUT = 30.0


def _git(folder: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", folder, *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError("git is not installed: pm deploy needs it") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{folder}: git {args[0]} did not finish within {GIT_TIMEOUT:.0f}s"
        ) from None


def local_changes(folder: str) -> str | None:
    """What stops a deploy from `folder`'s repository, as PM2 checks it, or None.

    A folder outside any git work tree cannot be checked: PM2 then says "commit or stash your
    changes"; pm says what it is."""
    if _git(folder, "rev-parse", "--is-inside-work-tree").returncode != 0:
        return "not in a git work tree, so local changes cannot be checked"
    if _git(folder, "diff", "--quiet").returncode != 0:
        return "commit or stash your changes before deploying"
    if _git(folder, "diff", "--cached", "--quiet").returncode != 0:
        return "commit your staged changes before deploying"
    ahead = _git(folder, "rev-list", "@{upstream}..", "-n", "1")
    if ahead.returncode == 0 and ahead.stdout.strip():
        return "push your changes before deploying"
    return None


def path_in_repository(file: str) -> str:
    """The file's path relative to its repository's top folder (where it is on the server,
    under `current`), or its name when it is in no repository."""
    folder = os.path.dirname(os.path.abspath(file))
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0 or not top.stdout.strip():
        return os.path.basename(file)
    return os.path.relpath(os.path.abspath(file), top.stdout.strip())
