"""`pm --host` and `pm list --all-hosts` against three throwaway hosts: network namespaces on
this machine, each joined to it by a veth pair, two of them running their own sshd (own host
key and config, sessions given a PM_HOME of their own with SetEnv, so each "host" has its own
daemon) and one down the hardest way: a machine that hangs (its sshd is stopped with SIGSTOP,
so the kernel still accepts the connection and nothing ever answers on it).

Everything started here is ended at teardown: the daemons with `pm kill` and by PID, each sshd
by PID, the namespaces and links deleted.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.home import APPS, PM, find_program, wait_for

pytestmark = pytest.mark.needs("sshd", "ssh", "ip", "nsenter")

SSH_OPTIONS = [
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "GlobalKnownHostsFile=/dev/null",
    "LogLevel=ERROR",
    "IdentitiesOnly=yes",
]
#: pm.client.remote.QUERY_TIMEOUT: a query cut off by pm itself would take this long.
QUERY_TIMEOUT = 20


@dataclass
class Host:
    name: str
    netns: str
    link: str  # the end of the veth pair on this machine's side
    address: str
    home: PM
    sshd: subprocess.Popen[bytes] | None = None


@dataclass
class Hosts:
    live: list[Host]
    down: Host
    workdir: Path
    key: Path

    def pm(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PM_HOME", "SSH_AUTH_SOCK")}
        env["PM_HOME"] = str(self.workdir / "local-home")  # never used: every command is remote
        env["COLUMNS"] = "200"
        result = subprocess.run(
            [sys.executable, "-m", "pm", *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


def _free_subnet() -> int:
    taken = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    while True:
        third = random.randrange(1, 255)
        if f"10.214.{third}." not in taken:
            return third


def _make_host(root: Path, name: str, tag: str) -> Host:
    third = _free_subnet()
    netns, outside, inside = f"pmh{tag}{name}", f"ph{tag}{name[0]}a", f"ph{tag}{name[0]}b"
    for argv in (
        ["ip", "netns", "add", netns],
        ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
        ["ip", "link", "set", inside, "netns", netns],
        ["ip", "addr", "add", f"10.214.{third}.1/24", "dev", outside],
        ["ip", "link", "set", outside, "up"],
        ["ip", "-n", netns, "addr", "add", f"10.214.{third}.2/24", "dev", inside],
        ["ip", "-n", netns, "link", "set", "lo", "up"],
        ["ip", "-n", netns, "link", "set", inside, "up"],
    ):
        subprocess.run(argv, check=True, capture_output=True)
    folder = root / name
    (folder / "w").mkdir(parents=True)
    return Host(name, netns, outside, f"10.214.{third}.2", PM(folder / "home", folder / "w"))


def _start_sshd(host: Host, root: Path) -> None:
    config = root / f"{host.name}.sshd_config"
    bin_dir = Path(sys.executable).parent  # this checkout's pm is the hosts' pm
    config.write_text(
        f"Port 22\nListenAddress {host.address}\nHostKey {root}/host_key\n"
        f"AuthorizedKeysFile {root}/authorized_keys\nPidFile none\nUsePAM no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\n"
        f"SetEnv PM_HOME={host.home.home} PATH={bin_dir}:/usr/bin:/bin\n"
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    with open(root / f"{host.name}.sshd.log", "wb") as log:
        host.sshd = subprocess.Popen(  # nsenter execs sshd: this pid is sshd's
            [
                "nsenter",
                f"--net=/run/netns/{host.netns}",
                find_program("sshd") or "sshd",
                "-D",
                "-e",
                "-f",
                str(config),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _answers(host: Host, key: Path) -> bool:
    argv = [
        "ssh",
        "-o",
        "BatchMode=yes",
        *[w for o in SSH_OPTIONS for w in ("-o", o)],
        "-o",
        "ConnectTimeout=2",
        "-i",
        str(key),
        f"root@{host.address}",
        "true",
    ]
    return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    root = Path(tempfile.mkdtemp(prefix="pmh", dir="/tmp"))
    tag = f"{os.getpid() % 10000:04d}"
    made: list[Host] = []
    try:
        for name in ("host_key", "user_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True
            )
        shutil.copy(root / "user_key.pub", root / "authorized_keys")
        for name in ("alpha", "beta", "gamma"):
            made.append(_make_host(root, name, tag))
        alpha, beta, gamma = made
        for host in made:
            _start_sshd(host, root)
        for host in made:
            wait_for(lambda h=host: _answers(h, root / "user_key"), 15, 0.1, f"sshd {host.name}")
        assert gamma.sshd is not None
        gamma.sshd.send_signal(signal.SIGSTOP)
        workdir = root / "work"
        workdir.mkdir()
        _write_ecosystem(workdir, alpha, beta, gamma, root / "user_key")
        yield Hosts([alpha, beta], gamma, workdir, root / "user_key")
    finally:
        for host in made:
            host.home.cleanup()
            if host.sshd is not None:
                host.sshd.send_signal(signal.SIGCONT)
                host.sshd.send_signal(signal.SIGTERM)
                try:
                    host.sshd.wait(10)
                except subprocess.TimeoutExpired:
                    host.sshd.kill()
                    host.sshd.wait()
            subprocess.run(["ip", "netns", "delete", host.netns], capture_output=True)
            subprocess.run(["ip", "link", "delete", host.link], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _write_ecosystem(workdir: Path, alpha: Host, beta: Host, gamma: Host, key: Path) -> None:
    """Two environments as PM2's deploy section has them: prod (two live hosts) and edge
    (the down one)."""
    common = {
        "user": "root",
        "key": str(key),
        "ssh_options": SSH_OPTIONS,
        "repo": "/nowhere.git",
        "ref": "origin/main",
        "path": "/srv/app",
    }
    (workdir / "ecosystem.json").write_text(
        json.dumps(
            {
                "apps": [{"name": "ticker", "script": str(APPS / "ticker.py")}],
                "deploy": {
                    "prod": {**common, "host": [alpha.address, beta.address]},
                    "edge": {**common, "host": gamma.address},
                },
            },
            indent=1,
        )
    )


@pytest.fixture(scope="module")
def started(hosts: Hosts) -> Hosts:
    """A ticker on each live host, started through `pm --host`, each in its own daemon."""
    for host in hosts.live:
        result = hosts.pm(
            "--host", host.address, "start", str(APPS / "ticker.py"), "--name", f"tick-{host.name}"
        )
        assert result.returncode == 0, result.stderr
        host.home.wait_status(f"tick-{host.name}", "online")
    return hosts


def test_list_all_hosts_is_one_table_and_names_the_down_host(started: Hosts) -> None:
    began = time.monotonic()
    result = started.pm("list", "--all-hosts")
    elapsed = time.monotonic() - began
    assert result.returncode == 1  # one host could not answer
    header = next(line for line in result.stdout.splitlines() if "│ host" in line)
    assert header.split("│")[1].strip() == "host"
    for host in started.live:
        [row] = [line for line in result.stdout.splitlines() if f"tick-{host.name}" in line]
        assert row.split("│")[1].strip() == host.address and "online" in row
    [problem] = result.stderr.splitlines()
    assert problem == (
        f"[PM][ERROR] host {started.down.address}: unreachable: Connection timed "
        "out during banner exchange"
    )
    assert elapsed < QUERY_TIMEOUT  # ssh's ConnectTimeout (5 s) ended it, not pm's query cut


def test_restart_on_an_environments_two_hosts(started: Hosts) -> None:
    before = {host.name: host.home.jlist()[0] for host in started.live}
    result = started.pm("--host", "prod", "restart", "all")
    assert result.returncode == 0, result.stderr
    for host in started.live:
        assert f"[{host.address}] [PM] [tick-{host.name}](0) ✓ restarted" in result.stdout
        entry = wait_for(
            lambda h=host: (e := h.home.jlist()[0])["pm2_env"]["status"] == "online" and e,
            10,
            message=f"{host.name} online again",
        )
        assert entry["pm2_env"]["restart_time"] == 1
        assert entry["pid"] != before[host.name]["pid"]


def test_one_host_streams_its_own_output_and_status(started: Hosts) -> None:
    alpha = started.live[0]
    listed = json.loads(started.pm("--host", alpha.address, "jlist").stdout)
    assert [entry["name"] for entry in listed] == ["tick-alpha"]  # alpha's daemon, not beta's
    logs = started.pm("--host", alpha.address, "logs", "tick-alpha", "--nostream", "--lines", "3")
    assert logs.returncode == 0 and "tick-alpha" in logs.stdout and "| tick " in logs.stdout
    missing = started.pm("--host", alpha.address, "describe", "nosuch")
    assert missing.returncode == 1 and "nosuch doesn't exist" in missing.stderr


def test_a_down_host_alone_is_reported_and_the_others_run(started: Hosts) -> None:
    began = time.monotonic()
    down = started.pm("--host", "edge", "list")
    assert down.returncode == 255
    assert down.stderr.splitlines()[-1] == (
        f"[PM][ERROR] host {started.down.address}: unreachable (ssh's reason above)"
    )
    assert time.monotonic() - began < QUERY_TIMEOUT
    mixed = started.pm("--host", "prod,edge", "pid", "tick-alpha")
    assert mixed.returncode == 1
    assert f"[PM][ERROR] host {started.down.address}: unreachable" in mixed.stderr
    alpha_pid = started.live[0].home.jlist()[0]["pid"]
    assert f"[{started.live[0].address}] {alpha_pid}" in mixed.stdout
    assert f"[{started.live[1].address}] " in mixed.stdout  # beta answered (an empty line)


def test_dashboard_shows_every_host_and_the_down_one(started: Hosts) -> None:
    from helpers.web import start_web

    local = PM(started.workdir / "dashboard-home", started.workdir)
    local.run("ping")
    web = start_web(local, "--all-hosts")
    try:

        def all_polled() -> dict[str, Any] | None:
            data: dict[str, Any] = web.get("/api/hosts").json()
            return data if all(h["state"] != "connecting" for h in data["hosts"]) else None

        polled = wait_for(all_polled, 30, 0.2, "every host polled once")
        by_name = {host["name"]: host for host in polled["hosts"]}
        assert list(by_name) == [*(h.address for h in started.live), started.down.address]
        for host in started.live:
            card = by_name[host.address]
            assert card["state"] == "ok" and card["problem"] is None
            assert [app["name"] for app in card["apps"]] == [f"tick-{host.name}"]
        down = by_name[started.down.address]
        assert down["state"] == "unreachable" and down["answered_ms"] is None
        assert down["problem"] == "unreachable: Connection timed out during banner exchange"

        alpha = started.live[0]
        before = alpha.home.jlist()[0]["pm2_env"]["restart_time"]
        done = web.post(
            "/api/hosts/action", {"host": alpha.address, "cmd": "restart", "target": "tick-alpha"}
        )
        assert done.status == 200, done.text
        assert alpha.home.jlist()[0]["pm2_env"]["restart_time"] == before + 1
        assert (
            web.post("/api/hosts/action", {"host": "nope", "cmd": "restart", "target": "x"}).status
            == 404
        )
        assert (
            web.post(
                "/api/hosts/action", {"host": alpha.address, "cmd": "delete", "target": "x"}
            ).status
            == 400
        )
        option = {"host": alpha.address, "cmd": "restart", "target": "--update-env"}
        assert web.post("/api/hosts/action", option).status == 400  # a target, not an option
        failed = web.post(
            "/api/hosts/action", {"host": started.down.address, "cmd": "restart", "target": "all"}
        )
        assert failed.status == 502 and "unreachable" in failed.json()["error"]["message"]
    finally:
        web.stop()
        local.cleanup()
