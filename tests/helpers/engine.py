"""A private Docker engine for tests/e2e/engine: Debian's dockerd in a network namespace of its
own, a private data root and socket, a base image made offline from Debian packages, all
ended by PID and removed at teardown.

Why each choice:
- The namespace (`ip netns add`, entered with `nsenter --net` so /sys and its cgroup mounts
  stay visible, which `ip netns exec` would hide): docker0, container addresses and published
  ports all live there, never on this machine's own network, and two runs never collide.
  A veth pair inside it gives Swarm a non-loopback address to advertise.
- `--iptables=false`: no rules in anyone's tables; ports are published by docker-proxy.
- The base image: `mmdebstrap --variant=extract` unpacks python3, pip, bash, dash and
  coreutils (and their dependencies) from Debian's archive and pipes the tree into
  `docker import`, in 20-50 s where `debootstrap --variant=minbase` took 87 s on an idle
  machine. pm (a wheel built here) and its dependencies (`pip download`ed for the image's
  Python) go in as wheels; the build runs with `--network none`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import ROOT
from helpers.home import find_program, wait_for

#: The Debian packages of the base image (their dependencies come along).
BASE_PACKAGES = "python3,python3-pip,bash,dash,coreutils"
SUITE = "bookworm"
#: The base image's Python (bookworm's), for the wheels downloaded here.
IMAGE_PYTHON = "3.11"
#: Inside the engine's namespace only: Swarm's advertised address.
SWARM_ADDRESS = "10.213.0.1"
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)


class EngineUnavailable(Exception):
    """The kernel or the machine refuses to run the engine (the message says why)."""


@dataclass
class Engine:
    root: Path
    netns: str
    docker_bin: str
    daemon: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.docker_bin, "-H", f"unix://{self.socket}", *args],
            capture_output=True,
            text=input is None,
            timeout=timeout,
            input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.returncode}\n{result.stderr}")
        return result  # type: ignore[return-value]

    def inspect(self, container: str, template: str) -> str:
        return str(self.docker("inspect", "-f", template, container).stdout.strip())

    def in_netns(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.netns}", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def http_get(self, port: int) -> str | None:
        """The body served on 127.0.0.1:port of the engine's namespace (a published port), or
        None while nothing answers."""
        script = (
            "import sys, urllib.request\n"
            f"try: print(urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2)"
            ".read().decode(), end='')\n"
            "except OSError as exc: sys.exit(f'{exc}')\n"
        )
        result = self.in_netns(sys.executable, "-c", script)
        return result.stdout if result.returncode == 0 else None

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """The namespace and dockerd; EngineUnavailable with dockerd's own words if it dies."""
        _run(["ip", "netns", "add", self.netns])
        _run(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        _run(
            ["ip", "-n", self.netns, "link", "add", "eng0", "type", "veth", "peer", "name", "eng1"]
        )
        _run(["ip", "-n", self.netns, "addr", "add", f"{SWARM_ADDRESS}/24", "dev", "eng0"])
        for link in ("eng0", "eng1"):
            _run(["ip", "-n", self.netns, "link", "set", link, "up"])
        log = open(self.root / "dockerd.log", "wb")
        with log:
            self.daemon = subprocess.Popen(
                [
                    "nsenter",
                    f"--net=/run/netns/{self.netns}",
                    "dockerd",
                    "--iptables=false",
                    "--ip-masq=false",
                    "--storage-driver",
                    "overlay2",
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(self.root / "exec"),
                    "--pidfile",
                    str(self.root / "docker.pid"),
                    "-H",
                    f"unix://{self.socket}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while self.docker("version", check=False, timeout=10).returncode != 0:
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise EngineUnavailable(f"dockerd did not start: {self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 6) -> str:
        try:
            text = (self.root / "dockerd.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Every container, the swarm, dockerd (by PID), the namespace, the data root."""
        if self.daemon is not None and self.daemon.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
            self.docker("swarm", "leave", "--force", check=False, timeout=30)
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        _end_leftovers(str(self.root))
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True, check=False)
        _unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ images

    def build_images(self) -> None:
        """pm-base (Debian, offline) and pm-example (examples/Dockerfile on it)."""
        context = self.root / "context"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "pm", context / "pm", ignore=ignore)
        shutil.copytree(ROOT / "examples", context / "examples", ignore=ignore)
        for item in ("pyproject.toml", "README.md", "ecosystem.example.json"):
            shutil.copy(ROOT / item, context / item)
        started = time.monotonic()
        pip = [
            subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for argv in _wheels(context)
        ]
        self._import_base()
        for process in pip:
            _, err = process.communicate(timeout=600)
            if process.returncode != 0:
                raise AssertionError(f"{process.args}: {err.decode(errors='replace')[-800:]}")
        self.timings["base image"] = time.monotonic() - started
        started = time.monotonic()
        self.docker(
            "build",
            "-q",
            "--network",
            "none",
            "-f",
            str(ROOT / "examples" / "Dockerfile"),
            "--build-arg",
            "BASE=pm-base",
            "--build-arg",
            "PIP_OPTIONS=--no-index",
            "--build-arg",
            "PM_SOURCE=pm-process-manager",
            "-t",
            "pm-example",
            str(context),
            timeout=600,
        )
        self.timings["pm-example build"] = time.monotonic() - started

    def _import_base(self) -> None:
        hook = (
            'printf "root:x:0:0:root:/root:/bin/bash\\n" > "$1/etc/passwd"; '
            'printf "root:x:0:\\n" > "$1/etc/group"; '
            'mkdir -p "$1/root" "$1/tmp"; chmod 1777 "$1/tmp"'
        )
        excluded = [
            f"--dpkgopt=path-exclude=/usr/share/{part}/*" for part in ("doc", "man", "locale")
        ]
        bootstrap = subprocess.Popen(
            [
                "mmdebstrap",
                "--quiet",
                "--variant=extract",
                f"--include={BASE_PACKAGES}",
                *excluded,
                f"--extract-hook={hook}",
                SUITE,
                "-",
                debian_mirror(),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert bootstrap.stdout is not None
        imported = subprocess.run(
            [
                self.docker_bin,
                "-H",
                f"unix://{self.socket}",
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "-",
                "pm-base",
            ],
            stdin=bootstrap.stdout,
            capture_output=True,
            timeout=600,
        )
        bootstrap.stdout.close()
        err = bootstrap.communicate(timeout=60)[1].decode(errors="replace")
        if bootstrap.returncode != 0 or imported.returncode != 0:
            raise AssertionError(
                f"base image: mmdebstrap {bootstrap.returncode}: {err[-800:]}; "
                f"docker import: {imported.stderr.decode(errors='replace')}"
            )


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses for SUITE (its sources, one-line or deb822)."""
    folder = Path("/etc/apt")
    files = [folder / "sources.list", *sorted((folder / "sources.list.d").glob("*"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for stanza in text.split("\n\n"):
            fields = dict(
                line.split(":", 1)
                for line in stanza.splitlines()
                if ":" in line and not line.startswith(("#", " "))
            )
            if SUITE in fields.get("Suites", "").split() and "URIs" in fields:
                return fields["URIs"].split()[0]
        for line in text.splitlines():
            words = [word for word in line.split() if not word.startswith("[")]
            if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                return words[1]
    raise EngineUnavailable(f"no apt source for Debian {SUITE} on this machine")


def _wheels(context: Path) -> list[list[str]]:
    """pip's two commands filling context/wheels: pm's own wheel, built from the context's copy
    of this checkout (its build folder stays there), and its dependencies (from pyproject.toml)
    downloaded as wheels for the image's Python, whatever Python runs here."""
    folder = context / "wheels"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    platforms = [word for platform in PLATFORMS for word in ("--platform", platform)]
    pip = [sys.executable, "-m", "pip"]
    return [
        [*pip, "wheel", "-q", "--no-deps", "-w", str(folder), str(context)],
        [
            *pip,
            "download",
            "-q",
            "-d",
            str(folder),
            "--only-binary=:all:",
            "--python-version",
            IMAGE_PYTHON,
            "--implementation",
            "cp",
            *platforms,
            *project["project"]["dependencies"],
        ],
    ]


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise EngineUnavailable(f"{' '.join(argv)}: {result.stderr.strip()}")


def _end_leftovers(marker: str) -> None:
    """Processes whose command line names this engine's own folder (containerd, shims,
    docker-proxy left by a dockerd that died), ended by PID."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def _unmount_under(root: Path) -> None:
    """What the engine left mounted in its folder (Swarm's network namespaces under the exec
    root, overlays a dying dockerd kept), deepest first, so the folder can be removed."""
    with open("/proc/self/mounts") as handle:
        points = [line.split()[1] for line in handle]
    inside = [point for point in points if point.startswith(f"{root}/")]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def docker_client() -> str | None:
    """The client packaged with Debian's engine, else whatever `docker` is on PATH."""
    if os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"
    return find_program("docker")


def start_engine() -> Engine:
    """A running engine with pm-base and pm-example built; EngineUnavailable if the machine
    cannot run one (the caller skips, or fails under CI)."""
    if os.geteuid() != 0:
        raise EngineUnavailable("dockerd needs root here (no rootless setup)")
    client = docker_client()
    if client is None:
        raise EngineUnavailable("no docker client")
    root = Path(tempfile.mkdtemp(prefix="pme", dir="/tmp"))
    engine = Engine(root, f"pme{os.getpid()}", client)
    try:
        started = time.monotonic()
        engine.start()
        engine.timings["dockerd start"] = time.monotonic() - started
        engine.build_images()
    except BaseException:
        engine.stop()
        raise
    return engine


def wait_running(
    engine: Engine, container: str, restarts: int | None = None, timeout: float = 30
) -> None:
    def ready() -> bool:
        state = json.loads(engine.docker("inspect", "-f", "{{json .}}", container).stdout)
        count_ok = restarts is None or state["RestartCount"] >= restarts
        return bool(state["State"]["Running"] and count_ok)

    wait_for(ready, timeout, 0.1, f"container {container} running")


def poll(predicate: Callable[[], Any], timeout: float, message: str) -> Any:
    return wait_for(predicate, timeout, 0.2, message)
