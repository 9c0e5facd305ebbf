"""Bad input: fuzzed socket frames and ecosystem files, odd names and paths, a too-long PM_HOME.

The socket fuzzer checks three things for every input: each frame gets exactly one well-formed
reply (a result, or an error with a code and a message, never an internal error), the daemon
stays up (same pid), and the process table is unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.home import PM, wait_for
from helpers.reliability import raw_exchange, record, sleeper, soak, write_ecosystem
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pm import protocol
from pm.config.ecosystem import load_file
from pm.config.spec import AppSpec
from pm.daemon.handlers import HANDLERS
from pm.errors import ConfigError

__all__ = ["soak"]

READ_ONLY = {"hello", "ping", "list", "describe", "env", "subscribe"}
FORBIDDEN = {"kill", "exit_leaving_apps"}  # valid requests that end the daemon on purpose
APP, APP_SCRIPT = "fz-app", "/bin/sleep"

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
commands = st.one_of(
    st.sampled_from(sorted(set(HANDLERS) - FORBIDDEN)), st.text(max_size=12), json_value
)
arg_keys = st.sampled_from(
    ["targets", "apps", "target", "signal", "shell_env", "force", "update_env", "name", "script"]
)
args = st.one_of(json_value, st.dictionaries(arg_keys, json_value, max_size=4))
eco_keys = st.sampled_from(
    [
        "name",
        "script",
        "args",
        "cwd",
        "instances",
        "exec_mode",
        "env",
        "env_production",
        "max_memory_restart",
        "kill_timeout",
        "watch",
        "restart_delay",
        "autorestart",
        "cron_restart",
        "interpreter",
        "min_uptime",
        "max_restarts",
        "stop_exit_codes",
        "filter_env",
        "namespace",
        "uid",
        "out_file",
        "log_file",
        "merge_logs",
        "time",
        "node_args",
        "hooks",
        "exp_backoff_restart_delay",
        "treekill",
        "instance_var",
        "killTimeout",
        "maxRestarts",
        "bogus_key",
    ]
)
eco_app = st.dictionaries(eco_keys, json_value, max_size=8)
#: start requests whose specs have every field a random type; the script never exists, so a
#: spec that passes every check still cannot start anything.
bad_specs = st.builds(
    lambda app, script: {**app, "script": script},
    eco_app,
    st.one_of(json_value, st.just("/nonexistent/fz")),
)
#: and specs that are valid but for one field of a random type (so that field's check is reached)
one_bad_field = st.builds(
    lambda key, value: {"name": "fz-bad", "script": "/nonexistent/fz", key: value},
    st.sampled_from(AppSpec.field_names()),
    json_value,
)
start_requests = st.lists(st.one_of(bad_specs, one_bad_field), min_size=1, max_size=3).map(
    lambda apps: {"id": 1, "cmd": "start", "args": {"apps": apps}}
)
requests = st.fixed_dictionaries(
    {"id": json_value, "cmd": commands, "args": args},
    optional={"v": st.one_of(st.just(protocol.PROTOCOL_VERSION), json_value)},
)


def _could_change_state(message: dict[str, Any]) -> bool:
    """True for a request that is valid enough to legitimately act on the table."""
    cmd, args_ = message.get("cmd"), message.get("args")
    if not isinstance(cmd, str) or cmd in READ_ONLY or cmd not in HANDLERS:
        return False
    if not isinstance(args_, dict):
        return False
    targets = args_.get("targets", args_.get("target"))
    if not isinstance(targets, list):
        targets = [targets]
    for target in map(str, targets):
        if target in ("all", "0", APP, "default", APP_SCRIPT) or (
            len(target) > 2 and target.startswith("/") and target.endswith("/")
        ):
            return True
    apps = args_.get("apps")
    return isinstance(apps, list) and any(
        isinstance(a, dict)
        and isinstance(a.get("script"), str)
        and not a["script"].startswith("/nonexistent/")
        for a in apps
    )


def _expected_replies(payload: bytes) -> int:
    return sum(1 for piece in payload.split(b"\n") if piece.strip())


def _snapshot(pm: PM) -> list[tuple[Any, ...]]:
    return [
        (e["pm_id"], e["name"], e["pid"], e["pm2_env"]["status"], e["pm2_env"]["restart_time"])
        for e in pm.jlist()
    ]


def _check_replies(lines: list[bytes], expected: int) -> None:
    assert len(lines) == expected, f"{expected} frames but {len(lines)} replies: {lines[:3]!r}"
    for line in lines:
        reply = json.loads(line)
        assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), reply
        if not reply["ok"]:
            error = reply["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
            assert error["code"] != "internal", f"internal error: {error['message']}"


@pytest.fixture
def target(pm: PM) -> PM:
    pm.run("start", str(write_ecosystem(pm.workdir, [sleeper(APP)])))
    pm.wait_status(APP, "online")
    return pm


def test_fuzzed_socket_frames_never_hurt_the_daemon(target: PM, soak: bool) -> None:
    pm = target
    daemon = pm.daemon_pid()
    before = _snapshot(pm)
    sock = pm.home / "rpc.sock"
    sent = {"n": 0}

    frames = st.one_of(
        st.binary(max_size=300),
        requests.map(lambda m: json.dumps(m).encode() + b"\n"),
        start_requests.map(lambda m: json.dumps(m).encode() + b"\n"),
        requests.flatmap(
            lambda m: st.integers(1, len(json.dumps(m)) - 1).map(
                lambda cut: json.dumps(m).encode()[:cut]
            )
        ),  # truncated: no newline, then EOF
        st.lists(requests, min_size=2, max_size=5).map(
            lambda ms: b"".join(json.dumps(m).encode() + b"\n" for m in ms)
        ),
    )

    @settings(
        max_examples=3000 if soak else 400,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(frames)
    def one(payload: bytes) -> None:
        for line in payload.split(b"\n"):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                cmd = message.get("cmd")
                assume(not (isinstance(cmd, str) and cmd in FORBIDDEN))
                assume(not _could_change_state(message))
        sent["n"] += 1
        _check_replies(raw_exchange(sock, payload), _expected_replies(payload))

    one()
    assert pm.daemon_pid() == daemon
    assert _snapshot(pm) == before
    record("fuzz_socket_inputs", sent["n"])


WRONG_VALUES: list[Any] = [5, -1, 1.5, True, None, "x", "", [1], [[]], {"a": 1}, {"a": [1]}]


def test_fuzzed_app_specs_get_clear_errors(target: PM, soak: bool) -> None:
    """`start` requests whose specs carry wrong types: a config error naming the field."""
    pm = target
    daemon = pm.daemon_pid()
    before = _snapshot(pm)
    sock = pm.home / "rpc.sock"
    sent = {"n": 0}

    @settings(
        max_examples=2000 if soak else 300, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.one_of(one_bad_field, bad_specs))
    def one(spec: dict[str, Any]) -> None:
        sent["n"] += 1
        frame = json.dumps({"id": 7, "cmd": "start", "args": {"apps": [spec]}}).encode() + b"\n"
        lines = raw_exchange(sock, frame)
        _check_replies(lines, 1)
        assert not json.loads(lines[0])["ok"]

    for field in AppSpec.field_names():  # every field with every wrong-ish type, then fuzz
        for value in WRONG_VALUES:
            one.hypothesis.inner_test({"name": "fz-bad", "script": "/nonexistent/fz", field: value})
    one()
    assert pm.daemon_pid() == daemon
    assert _snapshot(pm) == before
    record("fuzz_app_specs", sent["n"])


@pytest.mark.parametrize(
    "field,value",
    [
        ("uid", "no-such-user-pm"),
        ("gid", "no-such-group-pm"),
        ("args", ["a\x00b"]),
        ("env", {"A\x00": "b"}),
    ],
)
def test_unstartable_app_ends_errored_with_a_reason(pm: PM, field: str, value: Any) -> None:
    """An app the OS refuses to start is `errored` with the reason in pm.log, never stuck."""
    app = {**sleeper("bad"), field: value}
    result = pm.run("start", str(write_ecosystem(pm.workdir, [app])), check=False)
    assert "Traceback" not in result.stderr and "internal" not in result.stderr
    assert pm.wait_status("bad", "errored", timeout=10)["pid"] == 0
    assert "cannot start" in (pm.home / "pm.log").read_text()
    assert pm.run("ping").returncode == 0


def test_huge_lines_are_answered_and_refused(target: PM) -> None:
    pm = target
    daemon = pm.daemon_pid()
    sock = pm.home / "rpc.sock"
    two_mb = b'{"id":1,"cmd":"ping","pad":"' + b"x" * (2 << 20) + b'"}\n'
    _check_replies(raw_exchange(sock, two_mb), 1)
    nested = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    _check_replies(raw_exchange(sock, nested), 1)
    deep_args = b'{"id":1,"cmd":"list","args":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    _check_replies(raw_exchange(sock, deep_args), 1)
    over = b"y" * (protocol.MAX_FRAME_BYTES + (1 << 20))  # over the cap, no newline at all
    replies = raw_exchange(sock, over, timeout=60)
    assert len(replies) == 1 and b"larger than" in replies[0]
    assert pm.daemon_pid() == daemon
    assert pm.run("ping").returncode == 0


eco_doc = st.one_of(
    json_value,
    st.fixed_dictionaries({"apps": st.one_of(st.lists(eco_app, max_size=3), eco_app, json_value)}),
    st.lists(eco_app, max_size=3),
)


def test_fuzzed_ecosystem_files_raise_config_error_only(tmp_path: Path, soak: bool) -> None:
    loaded = {"n": 0}

    @settings(
        max_examples=3000 if soak else 500, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.one_of(
            eco_doc.map(lambda d: ("json", json.dumps(d).encode())),
            st.binary(max_size=200).map(lambda b: ("json", b)),
            st.text(max_size=200).map(lambda t: ("yaml", t.encode())),
            eco_doc.map(lambda d: ("yaml", json.dumps(d).encode())),
        )
    )
    def one(case: tuple[str, bytes]) -> None:
        kind, data = case
        path = tmp_path / f"eco.{kind}"
        path.write_bytes(data)
        loaded["n"] += 1
        try:
            load_file(str(path))
        except ConfigError as exc:
            assert str(path) in exc.message, f"error does not name the file: {exc.message}"

    one()
    record("fuzz_ecosystem_files", loaded["n"])


def test_paths_with_spaces_and_unicode_names(pm: PM) -> None:
    folder = pm.workdir / "dir with spaces ü"
    folder.mkdir()
    script = folder / "my app ✓.py"
    script.write_text("import time\nprint('héllo ✓', flush=True)\ntime.sleep(1000)\n")
    pm.run("start", str(script), "--name", "wörker ✓")
    entry = pm.wait_status("wörker ✓", "online")
    out = Path(entry["pm2_env"]["pm_out_log_path"])
    wait_for(lambda: out.exists() and "héllo ✓" in out.read_text(), message="unicode output")
    assert pm.run("restart", "wörker ✓").returncode == 0
    pm.wait_status("wörker ✓", "online")
    assert "wörker ✓" in pm.run("ls").stdout


def test_names_colliding_after_sanitising_keep_separate_logs(pm: PM) -> None:
    """PM2 gives 'a b' and 'a_b' one shared a-b-out.log; pm keeps them apart."""
    apps = [
        {
            "name": name,
            "script": "/bin/sh",
            "interpreter": "none",
            "args": ["-c", f"echo from-{i}; exec sleep 1000"],
        }
        for i, name in enumerate(["a b", "a_b", "a-b"])
    ]
    pm.run("start", str(write_ecosystem(pm.workdir, apps)))
    entries = {e["name"]: e for e in pm.jlist()}
    outs = [entries[name]["pm2_env"]["pm_out_log_path"] for name in ("a b", "a_b", "a-b")]
    errs = [entries[name]["pm2_env"]["pm_err_log_path"] for name in ("a b", "a_b", "a-b")]
    assert len(set(outs)) == 3 and len(set(errs)) == 3, outs
    for i, out in enumerate(outs):
        wait_for(
            lambda out=out, i=i: Path(out).exists() and Path(out).read_text() == f"from-{i}\n",
            10,
            message=f"{out} to hold only its own app's output",
        )


def test_pm_home_too_long_for_a_socket_gives_a_clear_error(pm: PM) -> None:
    long_home = pm.workdir / ("h" * 120)
    env = dict(pm.env, PM_HOME=str(long_home))
    result = pm.run("ping", check=False, env=env)
    assert result.returncode != 0
    assert "too long" in (result.stdout + result.stderr) and "PM_HOME" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (long_home / "rpc.sock").exists()
