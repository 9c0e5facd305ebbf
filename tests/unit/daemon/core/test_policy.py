"""PM2's restart policy replayed with a fake clock (PM2.md 3.2)."""

from pm.daemon.core.policy import Counters, Policy, after_exit


def crash_loop(policy: Policy, gap_ms: int, exits: int) -> list[str]:
    counters = Counters(created_at=0, pm_uptime=0)
    now, actions = 0, []
    for _ in range(exits):
        now += gap_ms
        decision = after_exit(policy, counters, 1, now)
        actions.append(decision.action)
        if decision.action != "restart":
            break
        counters.restart_time += 1
        counters.pm_uptime = now + decision.delay_ms
    return actions


def test_fast_crasher_errors_after_max_restarts_with_15_restarts_like_pm2() -> None:
    actions = crash_loop(Policy(), gap_ms=10, exits=100)
    assert actions.count("restart") == 15
    assert actions[-1] == "errored"


def test_slow_crasher_is_never_unstable() -> None:
    actions = crash_loop(Policy(), gap_ms=1500, exits=40)
    assert set(actions) == {"restart"}


def test_max_restarts_zero_errors_at_first_unstable_exit() -> None:
    assert crash_loop(Policy(max_restarts=0), gap_ms=10, exits=5) == ["errored"]


def test_stop_exit_codes_and_autorestart() -> None:
    counters = Counters()
    assert after_exit(Policy(stop_exit_codes=(0, 3)), counters, 3, 5000).action == "stop"
    assert after_exit(Policy(stop_exit_codes=(0, 3)), counters, 4, 5000).action == "restart"
    assert after_exit(Policy(autorestart=False), counters, 1, 5000).action == "stop"


def test_restart_delay_is_used() -> None:
    decision = after_exit(Policy(restart_delay=250), Counters(), 1, 5000)
    assert (decision.action, decision.delay_ms) == ("restart", 250)


def test_exp_backoff_sequence_matches_pm2_and_caps_at_15s() -> None:
    policy = Policy(exp_backoff_restart_delay=100, max_restarts=1000)
    counters = Counters(created_at=0, pm_uptime=0)
    delays, now = [], 0
    for _ in range(14):
        now += 2000
        counters.pm_uptime = now - 1500  # up for 1.5 s: not reset, not unstable
        delays.append(after_exit(policy, counters, 1, now).delay_ms)
    assert delays[:10] == [100, 150, 225, 337, 505, 757, 1135, 1702, 2553, 3829]
    assert delays[-1] == 15000


def test_exp_backoff_resets_after_30s_up() -> None:
    policy = Policy(exp_backoff_restart_delay=100)
    counters = Counters(prev_restart_delay=3829, pm_uptime=0)
    assert after_exit(policy, counters, 1, 31_000).delay_ms == 100
