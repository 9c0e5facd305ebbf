"""Rolling reload: when a new process of an app counts as ready to take the old one's place.

`pm reload` starts the new process next to the old one and stops the old one only once the new
one is ready (Supervisor.reload). Ready means, by what the app declares:
  * `wait_ready`: it said so (READY=1 on NOTIFY_SOCKET, or Node's process.send('ready'));
  * else a `health_check`: its first passing probe;
  * else a Node cluster worker: its server listens (or listen_timeout passes, as under PM2);
  * else (`listen` alone): it is still running after a short settling time; its handed-over
    socket keeps connections in the backlog meanwhile, so none is refused.
A new process that exits first, or is not ready within its time (listen_timeout, and a health
check's start_period), failed: it is stopped and the old one keeps running.
An app with none of these has nothing to hand over and no way to say ready: its reload is a
restart, as PM2's reload of a fork-mode app.
"""

from __future__ import annotations

import asyncio

from pm.config.probes import HealthCheck
from pm.config.spec import AppSpec
from pm.daemon.core.clock import Clock
from pm.daemon.core.probe import probe
from pm.daemon.core.process import AppProcess, describe_exit
from pm.daemon.core.readiness import LISTENING, Channels

#: `listen` alone: how long a new process must keep running to replace the old one (seconds).
SETTLE_S = 1.0
#: How often a health check is probed while a new process is starting (seconds).
PROBE_EVERY_S = 0.1


def applies(spec: AppSpec) -> bool:
    """Whether reload rolls (else it restarts): the app declares readiness or handover, or is
    a Node cluster worker (whose socket pm holds, as PM2's cluster mode)."""
    return bool(spec.wait_ready or spec.health_check or spec.listen or cluster_worker(spec))


def cluster_worker(spec: AppSpec) -> bool:
    """A Node app in cluster mode (attributes.py leaves cluster_mode to Node apps only)."""
    return spec.exec_mode == "cluster_mode"


def deadline_s(spec: AppSpec) -> float:
    """How long a new process has to become ready."""
    start_period = spec.health_check["start_period"] if spec.health_check else 0
    return max(spec.listen_timeout, start_period) / 1000


async def until_ready(
    proc: AppProcess,
    channels: Channels,
    spec: AppSpec,
    loop: asyncio.AbstractEventLoop,
    clock: Clock,
) -> str | None:
    """Wait until proc is ready; None then, else why it is not (it exited, or ran out of time)."""
    exited = loop.create_task(proc.wait())
    ready = loop.create_task(_ready(proc, channels, spec, loop))
    try:
        done = await clock.completes_within(
            asyncio.wait({exited, ready}, return_when=asyncio.FIRST_COMPLETED), deadline_s(spec)
        )
    finally:
        for task in (exited, ready):
            task.cancel()
    if proc.exited:
        code, sig = describe_exit(getattr(proc, "returncode", None))
        return f"exited (code {code}, signal {sig}) before it was ready"
    if not done or not ready.done() or ready.cancelled():
        if cluster_worker(spec) and not spec.wait_ready and not spec.health_check:
            return None  # PM2's cluster reload goes on at listen_timeout (a worker may not listen)
        return f"was not ready within {deadline_s(spec) * 1000:.0f}ms"
    return None


async def _ready(
    proc: AppProcess, channels: Channels, spec: AppSpec, loop: asyncio.AbstractEventLoop
) -> None:
    if spec.wait_ready or (cluster_worker(spec) and not spec.health_check):
        said: asyncio.Future[str] = loop.create_future()

        def heard(how: str) -> None:
            # wait_ready waits for the ready word itself; a cluster worker, for its listen()
            if not said.done() and (how != LISTENING) == spec.wait_ready:
                said.set_result(how)

        channels.listen(loop, heard)
        await said
    elif spec.health_check:
        check = HealthCheck.from_spec(spec.health_check)
        while await probe(check, spec.cwd, dict(spec.env)) is not None:
            await asyncio.sleep(PROBE_EVERY_S)
    else:
        await asyncio.sleep(SETTLE_S)
