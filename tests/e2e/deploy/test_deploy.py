"""`pm deploy` end to end: a throwaway sshd on 127.0.0.1 and 127.0.0.2 (its own host key,
config and authorized key in a temp dir, on a free port, run as the current user and ended by
PID), a local bare git repository as `repo`, and the real `pm` CLI on both sides.

The server gives sessions on 127.0.0.1 and on 127.0.0.2 different homes (sshd's SetEnv HOME),
so a `path` under `~` puts two hosts' releases in two folders of one machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.home import PM, find_program, wait_for

needs_ssh = pytest.mark.needs("sshd", "ssh", "git")

SSH_OPTIONS = [
    "StrictHostKeyChecking=no",
    "UserKnownHostsFile=/dev/null",
    "GlobalKnownHostsFile=/dev/null",
    "LogLevel=ERROR",
    "IdentitiesOnly=yes",
]

APP = """import time
print("serving " + open("version.txt").read().strip(), flush=True)
time.sleep(3600)
"""


@dataclass
class Sshd:
    port: int
    key: Path
    homes: dict[str, Path]  # listen address -> the HOME its sessions get


def _free_port() -> int:
    """A port free on both loopback addresses the server listens on."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.2", port))
            except OSError:
                continue
            return int(port)


def _accepts(port: int) -> bool:
    for address in ("127.0.0.1", "127.0.0.2"):
        try:
            socket.create_connection((address, port), timeout=0.5).close()
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pmd", dir="/tmp"))
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture(scope="module")
def sshd(root: Path) -> Iterator[Sshd]:
    program = find_program("sshd")
    if program is None or find_program("ssh-keygen") is None:
        pytest.skip("sshd not installed")
    folder = root / "sshd"
    folder.mkdir()
    for name in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True
        )
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    homes = {"127.0.0.1": root / "a", "127.0.0.2": root / "b"}
    for home in homes.values():
        home.mkdir()
    port = _free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nListenAddress 127.0.0.2\n"
        f"HostKey {folder}/host_key\nAuthorizedKeysFile {folder}/authorized_keys\n"
        "PidFile none\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\n"
        f"SetEnv HOME={homes['127.0.0.1']}\n"
        f"Match LocalAddress 127.0.0.2\n    SetEnv HOME={homes['127.0.0.2']}\n"
    )
    if os.geteuid() == 0:  # sshd started by root insists on its privilege-separation folder
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    with open(folder / "sshd.log", "wb") as log:
        server = subprocess.Popen(
            [program, "-D", "-e", "-f", str(folder / "sshd_config")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: server.poll() is not None or _accepts(port), 10, 0.05, "sshd")
        if server.poll() is not None:
            pytest.fail(f"sshd exited: {(folder / 'sshd.log').read_text()}")
        yield Sshd(port, folder / "user_key", homes)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@dataclass
class Repo:
    """A bare repository (`repo` of the deploy section) and a clone to commit from."""

    bare: Path
    work: Path
    env: dict[str, str]

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.work, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit(self, files: dict[str, str], message: str, push: bool = True) -> str:
        for name, text in files.items():
            (self.work / name).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        if push:
            self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")

    def deploy(
        self,
        *args: str,
        file: str = "ecosystem.json",
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "pm", "deploy", file, *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


def make_repo(root: Path, name: str) -> Repo:
    env = {key: value for key, value in os.environ.items() if key != "SSH_AUTH_SOCK"}
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
        GIT_CONFIG_GLOBAL="/dev/null",
    )
    bare, work = root / f"{name}.git", root / f"{name}-work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True, env=env)
    subprocess.run(
        ["git", "clone", "-q", str(bare), str(work)], check=True, env=env, capture_output=True
    )
    return Repo(bare, work, env)


def ecosystem(repo: Repo, sshd: Sshd | None, **fields: Any) -> str:
    prod = {
        "host": "127.0.0.1",
        "repo": str(repo.bare),
        "ref": "origin/main",
        "ssh_options": SSH_OPTIONS,
        **fields,
    }
    if sshd is not None:
        prod.update(port=sshd.port, key=str(sshd.key))
    return json.dumps(
        {"apps": [{"name": "site", "script": "app.py"}], "deploy": {"prod": prod, "staging": prod}},
        indent=1,
    )


def lines_of(result: subprocess.CompletedProcess[str], host: str) -> list[str]:
    prefix = f"[{host}] "
    return [line[len(prefix) :] for line in result.stdout.splitlines() if line.startswith(prefix)]


@needs_ssh
def test_setup_update_revert_and_the_queries_on_one_host(sshd: Sshd, root: Path) -> None:
    repo = make_repo(root, "one")
    server, home = root / "srv", root / "pmh"
    remote = PM(home, root)
    env = {"PM_HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    first = repo.commit(
        {
            "app.py": APP,
            "version.txt": "v1\n",
            "ecosystem.json": ecosystem(
                repo, sshd, path=str(server), env=env, **{"post-setup": "echo set up in $(pwd)"}
            ),
        },
        "v1",
    )
    try:
        result = repo.deploy("prod", "setup")
        assert result.returncode == 0, result.stderr
        assert f"set up in {server}/current" in lines_of(result, "127.0.0.1")
        assert (server / "current").resolve() == server / "source"
        assert (server / "source" / ".git").is_dir() and (server / "shared" / "logs").is_dir()

        result = repo.deploy("prod")  # no post-deploy: PM2's startOrRestart of the file
        assert result.returncode == 0 and result.stdout.endswith("--> Success\n"), result
        log = home / "logs" / "site-out.log"
        wait_for(lambda: log.exists() and "serving v1" in log.read_text(), 10, message="v1")
        assert remote.status("site") == "online"

        second = repo.commit({"version.txt": "v2\n"}, "v2")
        assert repo.deploy("prod", "update").returncode == 0
        assert lines_of(repo.deploy("prod", "curr"), "127.0.0.1") == [second[:7]]
        wait_for(lambda: "serving v2" in log.read_text(), 10, message="v2 live")

        result = repo.deploy("prod", "revert")
        assert result.returncode == 0, result.stderr
        assert lines_of(repo.deploy("prod", "current"), "127.0.0.1") == [first[:7]]
        wait_for(lambda: log.read_text().count("serving v1") == 2, 10, message="v1 again")

        assert lines_of(repo.deploy("prod", "list"), "127.0.0.1") == [
            f"0\t{first}",
            f"1\t{second}",
            f"2\t{first}",
        ]
        assert lines_of(repo.deploy("prod", "prev"), "127.0.0.1") == [second]
        result = repo.deploy("prod", "exec", "cat version.txt; pm pid site | wc -l")
        assert lines_of(result, "127.0.0.1") == ["v1", "1"], result.stderr
    finally:
        remote.cleanup()


@needs_ssh
def test_two_hosts_in_parallel_and_a_broken_post_deploy(sshd: Sshd, root: Path) -> None:
    repo = make_repo(root, "two")
    meet = root / "meet"
    meet.mkdir()
    # Each host's pre-deploy waits for the other's: done one host after the other, neither
    # would ever see its partner arrive.
    rendezvous = (
        f'touch {meet}/$(basename "$HOME"); n=0; '
        f"until [ -e {meet}/a ] && [ -e {meet}/b ]; do n=$((n+1)); "
        "[ $n -gt 200 ] && { echo alone; exit 9; }; sleep 0.05; done; echo met"
    )
    broken = (
        'if [ "$(basename "$HOME")" = b ]; then echo "cannot start here"; exit 3; fi; '
        'echo "started in $(pwd)"'
    )
    repo.commit(
        {
            "app.py": APP,
            "version.txt": "v1\n",
            "ecosystem.json": ecosystem(
                repo,
                sshd,
                host=["127.0.0.1", "127.0.0.2"],
                path="~/app",
                **{"pre-deploy": rendezvous, "post-deploy": broken},
            ),
        },
        "v1",
    )
    result = repo.deploy("prod", "setup")
    assert result.returncode == 0, result.stderr
    for home in sshd.homes.values():
        assert (home / "app" / "current").resolve() == home / "app" / "source"

    result = repo.deploy("prod")
    assert result.returncode == 1
    assert "met" in lines_of(result, "127.0.0.1") and "met" in lines_of(result, "127.0.0.2")
    assert f"started in {sshd.homes['127.0.0.1']}/app/current" in lines_of(result, "127.0.0.1")
    assert result.stderr.splitlines() == [
        "[PM][ERROR] deploy prod: 127.0.0.2: post-deploy failed (exit 3): cannot start here"
    ]
    assert "--> Success" not in result.stdout


@needs_ssh
def test_an_unreachable_host_is_named_with_sshs_reason(root: Path) -> None:
    repo = make_repo(root, "gone")
    port = _free_port()  # nothing listens there
    repo.commit({"ecosystem.json": ecosystem(repo, None, path="/srv/app", port=port)}, "v1")
    result = repo.deploy("prod", "curr")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"[PM][ERROR] deploy prod: 127.0.0.1: curr: ssh failed (exit 255): ssh: connect to "
        f"host 127.0.0.1 port {port}: Connection refused"
    ]


@pytest.mark.needs("git")
def test_localhost_runs_here_without_ssh_and_local_changes_stop_a_deploy(root: Path) -> None:
    """PM2 runs the commands of host `localhost` with bash, here: no sshd in this test."""
    repo = make_repo(root, "here")
    server = root / "here-srv"
    repo.commit(
        {
            "app.py": APP,
            "version.txt": "v1\n",
            "ecosystem.json": ecosystem(
                repo,
                None,
                host="localhost",
                port=1,
                path=str(server),
                **{"post-deploy": "cat version.txt", "pre-deploy-local": "echo building in $(pwd)"},
            ),
        },
        "v1",
    )
    result = repo.deploy("prod", "update")
    assert result.returncode == 1 and result.stderr.splitlines() == [
        f"[PM][ERROR] deploy prod: localhost: check failed (exit 1): {server}/source is not a "
        "git clone: run setup first"
    ]
    assert repo.deploy("prod", "setup").returncode == 0

    (repo.work / "version.txt").write_text("v2\n")
    result = repo.deploy("prod")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"[PM][ERROR] {repo.work}: commit or stash your changes before "
        "deploying (--force deploys anyway)\n"
    )
    repo.git("add", "version.txt")
    assert "commit your staged changes" in repo.deploy("prod").stderr
    repo.commit({}, "v2", push=False)
    assert "push your changes before deploying" in repo.deploy("prod").stderr

    result = repo.deploy("prod", "--force")  # deploys origin/main: v1, v2 is not pushed
    assert result.returncode == 0, result.stderr
    assert f"building in {repo.work}" in lines_of(result, "local")
    assert "v1" in lines_of(result, "localhost")


@pytest.mark.parametrize(
    ("file", "args", "message"),
    [
        (
            "ecosystem.json",
            ["staging2"],
            "ecosystem.json: environment 'staging2' is not in the "
            "deploy section (known: prod, staging)",
        ),
        (
            "ecosystem.json",
            ["prod", "rollback"],
            "unknown deploy command 'rollback': use one of setup, update",
        ),
        (
            "ecosystem.json",
            ["prod"],
            "ecosystem.json: deploy.prod: field 'path': 'app' must be absolute or start with ~/",
        ),
        ("apps.json", ["prod"], "apps.json: no 'deploy' section"),
        ("gone.json", ["prod"], "gone.json: cannot read: No such file or directory"),
        ("prod", ["setup"], "'prod' is not an ecosystem file, and none of ecosystem.json"),
    ],
)
def test_bad_input_is_one_line_without_a_traceback(
    root: Path, file: str, args: list[str], message: str
) -> None:
    folder = root / ("bad" if file != "prod" else "empty")
    folder.mkdir(exist_ok=True)
    if file != "prod":
        (folder / "ecosystem.json").write_text(
            json.dumps(
                {
                    "deploy": {
                        "prod": {"host": "h", "repo": "r", "ref": "origin/main", "path": "app"},
                        "staging": {},
                    }
                }
            )
        )
        (folder / "apps.json").write_text('{"apps": [{"script": "a.py"}]}')
    result = subprocess.run(
        [sys.executable, "-m", "pm", "deploy", file, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("[PM][ERROR] ") and message in line
