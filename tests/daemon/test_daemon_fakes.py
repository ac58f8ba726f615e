"""The daemon shell with fake sessions: start-up, stop, and reload plans applied to running supervisors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.daemon.agentdir import DirectoryState
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.events import AgentState
from runtime.daemon.reload import AgentConfig
from runtime.daemon.supervisor import Runnable
from runtime.daemon.systemd import Notifier
from tests.daemon.fakes import FakeSession

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


@dataclass(frozen=True)
class Agent:
    spec: AgentSpec
    name: str
    path: Path


def state(behaviours: dict[str, str], version: int = 1) -> DirectoryState:
    spec = AgentSpec.model_validate({"model": "m", "supervision": {"backoff_s": [0.01, 0.02], "max_restarts": 1}})
    configs = {
        name: AgentConfig(name, Path(f"/agents/{name}.yaml"), Agent(spec, name, Path(f"/agents/{name}.yaml")),
                          f"{behaviour}-{version if name == 'changing' else 1}")
        for name, behaviour in behaviours.items()
    }
    return DirectoryState(configs=configs)


class Scripted:
    """A directory whose content the test changes, and sessions that behave as their fingerprint says."""

    def __init__(self, behaviours: dict[str, str]) -> None:
        self.current = state(behaviours)
        self.sessions: dict[str, list[FakeSession]] = {}

    def read(self) -> DirectoryState:
        return self.current

    def factory(self, agent: Agent) -> Runnable:  # type: ignore[override]
        behaviour = self.current.configs[agent.name].fingerprint.split("-")[0]
        session = FakeSession(behaviour)
        self.sessions.setdefault(agent.name, []).append(session)
        return session


def daemon_for(scripted: Scripted, **settings: float) -> Daemon:
    return Daemon(Path("/agents"), scripted.read, scripted.factory, Notifier(None),  # type: ignore[arg-type]
                  DaemonSettings(watch=False, **settings))  # type: ignore[arg-type]


async def test_a_stop_during_start_up_does_not_wait_for_a_hanging_agent() -> None:
    scripted = Scripted({"hangs": "hang"})
    daemon = daemon_for(scripted, settle_timeout_s=60.0)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(daemon.run)
            while "hangs" not in scripted.sessions:
                await anyio.sleep(0.01)
            daemon.stop()


async def test_a_reload_restarts_only_the_changed_agent_and_isolates_crashes() -> None:
    scripted = Scripted({"steady": "ok", "changing": "ok", "crashing": "crash_after_start"})
    daemon = daemon_for(scripted)
    async with anyio.create_task_group() as tg:
        await tg.start(daemon.run)
        with anyio.fail_after(5):
            while daemon.states().get("crashing") is not AgentState.PARKED:
                await anyio.sleep(0.01)
        scripted.current = state({"steady": "ok", "changing": "ok", "crashing": "crash_after_start"}, version=2)
        plan = await daemon.reload("test")
        assert plan.restart == ("changing",) and not plan.start and not plan.stop
        assert daemon.states() == {"steady": AgentState.RUNNING, "changing": AgentState.RUNNING,
                                   "crashing": AgentState.PARKED}
        daemon.stop()
    assert len(scripted.sessions["steady"]) == 1, "the unchanged agent kept its one session"
    assert len(scripted.sessions["changing"]) == 2 and scripted.sessions["changing"][0].cancelled
