"""Which hosts `pm --host NAME` means: deploy environments, their hosts, or names for ssh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pm.cli import hosts, over_ssh
from pm.errors import ConfigError

ECOSYSTEM = {
    "apps": [{"name": "api", "script": "api.py"}],
    "deploy": {
        "prod": {
            "host": ["web1", "web2"],
            "user": "deploy",
            "port": 2222,
            "ssh_options": "StrictHostKeyChecking=no",
            "repo": "r",
            "ref": "origin/main",
            "path": "/srv",
        },
        "staging": {"host": "web2", "user": "other", "repo": "r", "ref": "o/m", "path": "/s"},
    },
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "ecosystem.json").write_text(json.dumps(ECOSYSTEM))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_environment_means_its_hosts_with_its_options(project: Path) -> None:
    web1, web2 = hosts.resolve(["prod"])
    assert (web1.label, web1.user, web1.port) == ("web1", "deploy", 2222)
    assert web2.ssh_options == ("StrictHostKeyChecking=no",)  # prod names it first


def test_a_host_name_and_an_unknown_name(project: Path) -> None:
    web2, other = hosts.resolve(["web2,db.example.org", "web2"])
    assert web2.user == "deploy"  # each host once, the first environment naming it wins
    assert (other.destination, other.user, other.port) == ("db.example.org", None, None)


def test_all_hosts_and_none(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [host.label for host in hosts.all_hosts()] == ["web1", "web2"]
    monkeypatch.chdir(tmp_path_factory.mktemp("empty"))
    with pytest.raises(ConfigError, match="--all-hosts: no hosts"):
        hosts.all_hosts()
    assert [host.label for host in hosts.resolve(["web1"])] == ["web1"]  # ssh resolves it


def test_a_bad_deploy_field_names_file_environment_and_field(project: Path) -> None:
    broken = {**ECOSYSTEM, "deploy": {"prod": {**ECOSYSTEM["deploy"]["prod"], "port": "x"}}}
    (project / "ecosystem.json").write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match=r"ecosystem.json: deploy.prod: field 'port'"):
        hosts.resolve(["prod"])


def test_option_names_a_host_not_an_option(project: Path) -> None:
    with pytest.raises(ConfigError, match="not a host name"):
        hosts.resolve(["-oProxyCommand=x"])


def test_take_host_options() -> None:
    assert over_ssh.take_host_options(["--host", "a", "--host=b,c", "logs", "--host", "x"]) == (
        ["a", "b,c"],
        ["logs", "--host", "x"],
    )
