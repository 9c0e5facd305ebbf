"""The sub-commands of `pm deploy <file> <env>`: which one the words ask for, and what each
does on one host, step by step, through a HostSession."""

from __future__ import annotations

from dataclasses import dataclass

from pm.deploy import steps
from pm.deploy.session import DeployFailed, HostSession
from pm.deploy.target import DeployTarget
from pm.errors import ConfigError

#: Sub-command -> its canonical name (PM2's spellings).
ACTIONS = {
    "setup": "setup",
    "update": "update",
    "revert": "revert",
    "curr": "curr",
    "current": "curr",
    "prev": "prev",
    "previous": "prev",
    "list": "list",
    "exec": "exec",
    "run": "exec",
    "ref": "ref",
}

USAGE = 'setup, update, revert [n], curr, prev, list, exec "<cmd>", ref <ref>'


@dataclass(frozen=True)
class Action:
    """A parsed sub-command: its name, and its argument (n, the command, the ref)."""

    name: str
    argument: str | None = None

    @property
    def deploys(self) -> bool:
        """Deploys a release, so pre-deploy-local runs first (PM2 runs it for a revert too)."""
        return self.name in ("update", "ref", "revert")

    @property
    def checks_local_changes(self) -> bool:
        """Refused with uncommitted, staged or unpushed local changes (PM2: not revert)."""
        return self.name in ("update", "ref")


def parse_action(words: list[str]) -> Action:
    """The words after the environment, as PM2 reads them (none: update)."""
    if not words:
        return Action("update")
    name = ACTIONS.get(words[0])
    rest = words[1:]
    if name is None:
        raise ConfigError(f"unknown deploy command '{words[0]}': use one of {USAGE}")
    if name == "exec":
        if not rest or not " ".join(rest).strip():
            raise ConfigError('exec needs a command: pm deploy <file> <env> exec "<cmd>"')
        return Action(name, " ".join(rest))
    if name == "revert":
        if len(rest) > 1 or (rest and not (rest[0].isdigit() and int(rest[0]) > 0)):
            raise ConfigError(
                f"revert takes a number of deploys to go back (1 or more), not {' '.join(rest)!r}"
            )
        return Action(name, rest[0] if rest else "1")
    if name == "ref":
        if len(rest) != 1:
            raise ConfigError("ref needs one git ref: pm deploy <file> <env> ref <ref>")
        return Action(name, rest[0])
    if rest:
        raise ConfigError(f"'{words[0]}' takes no argument (got {' '.join(rest)!r})")
    return Action(name)


def setup(session: HostSession, target: DeployTarget, base_dir: str) -> None:
    for step in steps.setup_steps(target, base_dir):
        session.run(step)
    session.say("setup complete")


def deploy(session: HostSession, target: DeployTarget, ref: str, base_dir: str) -> None:
    session.say(f"deploying {ref}")
    for step in steps.deploy_steps(target, ref, base_dir):
        session.run(step)
    session.say(f"deployed {ref}")


def history(session: HostSession, target: DeployTarget) -> list[str]:
    return steps.parse_history(session.read(steps.history_step(target)))


def revert(session: HostSession, target: DeployTarget, n: int, base_dir: str) -> None:
    """Deploy again the commit deployed `n` deploys before the latest one."""
    commits = history(session, target)
    commit = steps.commit_back(commits, n)
    if commit is None:
        raise DeployFailed(
            f"{session.label}: revert: {len(commits)} deploy(s) recorded in "
            f"{target.path}/.deploys, cannot go back {n}"
        )
    session.say(f"reverting {n} deploy(s)")
    deploy(session, target, commit, base_dir)


def previous(session: HostSession, target: DeployTarget) -> None:
    commit = steps.commit_back(history(session, target), 1)
    if commit is None:
        raise DeployFailed(
            f"{session.label}: prev: no previous deploy recorded in {target.path}/.deploys"
        )
    session.emit(commit)


def listing(session: HostSession, target: DeployTarget) -> None:
    lines = steps.history_lines(history(session, target))
    for line in lines:
        session.emit(line)
    if not lines:
        session.say("no deploy recorded yet")


def run_action(action: Action, session: HostSession, target: DeployTarget, base_dir: str) -> None:
    """What `action` does on the host of `session`."""
    if action.name == "setup":
        setup(session, target, base_dir)
    elif action.name == "update":
        deploy(session, target, target.ref, base_dir)
    elif action.name == "ref":
        deploy(session, target, action.argument or target.ref, base_dir)
    elif action.name == "revert":
        revert(session, target, int(action.argument or 1), base_dir)
    elif action.name == "curr":
        session.run(steps.current_step(target))
    elif action.name == "prev":
        previous(session, target)
    elif action.name == "list":
        listing(session, target)
    else:
        session.run(steps.exec_step(target, action.argument or ""))
