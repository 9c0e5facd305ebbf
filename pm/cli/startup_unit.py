"""`pm startup` / `pm unstartup`: a systemd unit that starts pm (and resurrects the saved list)
at boot, as PM2.md 3.7 describes for PM2, adapted to pm.

Type=forking fits because `pm resurrect` starts the daemon (which double-forks and writes
pm.pid before the launcher returns), restores the dump and exits. Pure functions build the unit;
`install`/`uninstall` touch the disk and call systemctl only where systemd actually runs.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Startup:
    user: str
    home: str  # the user's home directory (--hp)
    pm_home: str
    pm_command: str  # how to run pm, shell-quoted words
    path: str
    service_name: str
    user_unit: bool = False  # a `systemctl --user` unit instead of a system one
    wait_ip: bool = False

    @property
    def unit_file(self) -> str:
        return f"{self.service_name}.service"


def pm_command() -> str:
    """The pm executable next to this Python (a venv's `pm`), else `python -m pm`."""
    script = Path(sys.executable).parent / "pm"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m pm"


def resolve(
    user: str | None = None,
    home: str | None = None,
    service_name: str | None = None,
    user_unit: bool = False,
    wait_ip: bool = False,
) -> Startup:
    """Fill in PM2's defaults: current user, their home, PM_HOME, `pm-<user>` as the name.

    For the current user the home is $HOME, as for every other pm command (and PM2); for
    another user (-u) it comes from the user database; --hp names it outright."""
    if home is not None:
        pm_home = os.path.join(home, ".pm")
    elif user is None and os.environ.get("HOME"):
        home = os.environ["HOME"]
        pm_home = os.environ.get("PM_HOME") or os.path.join(home, ".pm")
    else:
        try:
            home = pwd.getpwnam(user or getpass.getuser()).pw_dir
        except KeyError:
            raise ValueError(f"unknown user {user!r}; pass an existing user with -u") from None
        pm_home = os.environ.get("PM_HOME") or os.path.join(home, ".pm")
    user = user or getpass.getuser()
    path = _join_path(os.environ.get("PATH", ""), str(Path(sys.executable).parent))
    name = service_name or ("pm" if user_unit else f"pm-{user}")
    return Startup(
        user, home, os.path.abspath(pm_home), pm_command(), path, name, user_unit, wait_ip
    )


def _join_path(current: str, python_dir: str) -> str:
    parts = [*current.split(":"), python_dir, *STANDARD_PATH.split(":")]
    return ":".join(dict.fromkeys(part for part in parts if part))


def unit_text(startup: Startup) -> str:
    """The unit file, line for line PM2's template with pm's names."""
    target = "network-online.target" if startup.wait_ip else "network.target"
    wanted = (
        "default.target"
        if startup.user_unit
        else ("network-online.target" if startup.wait_ip else "multi-user.target")
    )
    pm = startup.pm_command
    lines = [
        "[Unit]",
        "Description=pm process manager",
        f"After={target}",
        *([f"Wants={target}"] if startup.wait_ip else []),
        "",
        "[Service]",
        "Type=forking",
        *([] if startup.user_unit else [f"User={startup.user}"]),
        "LimitNOFILE=infinity",
        "LimitNPROC=infinity",
        "LimitCORE=infinity",
        f"Environment=PATH={startup.path}",
        f"Environment=PM_HOME={startup.pm_home}",
        f"PIDFile={startup.pm_home}/pm.pid",
        "Restart=on-failure",
        # If the daemon itself dies, leave the apps for the restarted daemon to re-adopt
        # (systemd's default would kill the whole cgroup); `ExecStop=pm kill` stops them.
        "KillMode=process",
        "",
        f"ExecStart={pm} resurrect",
        f"ExecReload={pm} reload all",
        f"ExecStop={pm} kill",
        "",
        "[Install]",
        f"WantedBy={wanted}",
        "",
    ]
    return "\n".join(lines)


def unit_dir(startup: Startup) -> Path:
    if startup.user_unit:
        return Path(startup.home) / ".config" / "systemd" / "user"
    return SYSTEM_UNIT_DIR


def systemd_running() -> bool:
    """sd_booted(): systemd is PID 1 and systemctl can talk to it."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def sudo_command(startup: Startup, verb: str = "startup") -> str:
    """What a non-root user runs to install the system unit (PM2 prints the same)."""
    python_dir = str(Path(sys.executable).parent)
    return (
        f"sudo env PATH=$PATH:{python_dir} {startup.pm_command} {verb} systemd "
        f"-u {shlex.quote(startup.user)} --hp {shlex.quote(startup.home)}"
    )


def _systemctl(startup: Startup, *args: str) -> str:
    command = ["systemctl", *(["--user"] if startup.user_unit else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"`{' '.join(command)}` failed: {result.stderr.strip() or result.returncode}"
    return f"ran `{' '.join(command)}`"


def install(startup: Startup, directory: Path | None = None) -> list[str]:
    """Write the unit and enable it; return what was done, line by line."""
    folder = directory or unit_dir(startup)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / startup.unit_file
    target.write_text(unit_text(startup))
    target.chmod(0o644)
    done = [f"wrote {target}"]
    if directory is not None:
        return done  # an alternate folder: nothing to tell systemd
    if not systemd_running():
        verb = "systemctl --user" if startup.user_unit else "systemctl"
        done.append(
            f"systemd is not running here; enable it later with: "
            f"{verb} enable {startup.service_name}"
        )
        return done
    done.append(_systemctl(startup, "daemon-reload"))
    done.append(_systemctl(startup, "enable", startup.service_name))
    if startup.user_unit:
        done.append(
            f"to start it at boot without a login, run: sudo loginctl enable-linger {startup.user}"
        )
    return done


def uninstall(startup: Startup, directory: Path | None = None) -> list[str]:
    folder = directory or unit_dir(startup)
    target = folder / startup.unit_file
    done = []
    if directory is None and systemd_running():
        done.append(_systemctl(startup, "stop", startup.service_name))
        done.append(_systemctl(startup, "disable", startup.service_name))
    try:
        target.unlink()
        done.append(f"removed {target}")
    except FileNotFoundError:
        done.append(f"{target} does not exist; nothing to remove")
    if directory is None and systemd_running():
        done.append(_systemctl(startup, "daemon-reload"))
    return done
