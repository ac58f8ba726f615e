"""Supervision with the real pieces: `AgentSession` and the google-genai SDK against emulators that misbehave.

In-process, so that each agent can get its own emulator (one rejects setup, one stalls), while the daemon,
its supervisors and the sessions are exactly those `runtime run` uses.
"""

from __future__ import annotations

import functools
import logging
import wave
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import numpy as np
import pytest

from runtime.agentfile.loader import load_agent
from runtime.daemon.agentdir import LoadedAgentLike, read_directory
from runtime.daemon.app import SessionFactory, open_device_ports
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.events import AgentState
from runtime.daemon.supervisor import Runnable
from runtime.daemon.systemd import Notifier
from runtime.emulator import EmulatorOptions, Fault, serve
from runtime.live.endpoint import Endpoint
from runtime.live.events import NullEvents
from runtime.retry import RetryPolicy
from tests.daemon.harness import agent_yaml, make_agents

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

FAST_SUPERVISION = "supervision: {backoff_s: [0.05, 0.1], max_restarts: 2, window_s: 60}\n"
STALL_SUPERVISION = "supervision: {backoff_s: [0.05, 0.1], max_restarts: 5, window_s: 60, watchdog_s: 1.5}\n"
FAST_RETRY = RetryPolicy(first_backoff_s=0.01, longest_backoff_s=0.05, fatal_retry_s=0.01, fatal_attempts=1,
                         give_up_after=2)


@asynccontextmanager
async def emulators(faults: dict[str, tuple[Fault, ...]]) -> AsyncIterator[dict[str, Endpoint]]:
    """One emulator per agent name, each with its own faults."""
    async with AsyncExitStack() as stack:
        endpoints = {}
        for name, agent_faults in faults.items():
            emulator = await stack.enter_async_context(serve(EmulatorOptions(faults=agent_faults)))
            endpoints[name] = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key")
        yield endpoints


def per_agent_factory(endpoints: dict[str, Endpoint], state_dir: Path) -> object:
    factories = {name: SessionFactory(endpoint, state_dir, NullEvents(), retry=FAST_RETRY)
                 for name, endpoint in endpoints.items()}

    def factory(agent: LoadedAgentLike) -> Runnable:
        return factories[agent.name](agent)

    return factory


async def wait_state(daemon: Daemon, name: str, state: AgentState, timeout_s: float = 20.0) -> None:
    with anyio.fail_after(timeout_s):
        while daemon.states().get(name) is not state:
            await anyio.sleep(0.02)


def directory(tmp_path: Path, names: list[str], supervision: str = FAST_SUPERVISION) -> Path:
    agents = make_agents(tmp_path / "agents", [])
    for name in names:
        (agents / f"{name}.yaml").write_text(agent_yaml(name, extra=supervision))
    return agents


@pytest.fixture(autouse=True, scope="module")
def sdk_imported() -> None:
    """Import google-genai before the clock runs: on a loaded machine its cold import alone takes seconds."""
    import google.genai  # noqa: F401


async def test_an_agent_whose_emulator_rejects_setup_is_parked_and_the_other_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agents = directory(tmp_path, ["good", "rejected"])
    reject = (Fault(action="reject_setup", code=1008, reason="API key not valid. Please pass a valid API key."),)
    async with emulators({"good": (), "rejected": reject}) as endpoints:
        read = functools.partial(read_directory, agents, load_agent)
        factory = per_agent_factory(endpoints, tmp_path)
        daemon = Daemon(agents, read, factory, Notifier(None), DaemonSettings(watch=False))  # type: ignore[arg-type]
        async with anyio.create_task_group() as tg:
            await tg.start(daemon.run)
            await wait_state(daemon, "rejected", AgentState.PARKED)
            assert daemon.states()["good"] is AgentState.RUNNING
            assert "1 failed (rejected)" in daemon.status()
            plan = await daemon.reload("SIGHUP", force=True)
            assert plan.restart == ("rejected",), "SIGHUP gives a parked agent a fresh start, and only it"
            await wait_state(daemon, "rejected", AgentState.PARKED)
            daemon.stop()
    parked = [r.getMessage() for r in caplog.records if "parked as failed" in r.getMessage()]
    assert parked and "restarts within" in parked[0]
    assert len([r for r in caplog.records if r.getMessage().startswith("running (start")]) == 1, "good ran once"


async def test_a_session_whose_server_stalls_is_restarted_by_the_watchdog(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agents = directory(tmp_path, ["stalled"], STALL_SUPERVISION)
    # The server owes an answer only once it has heard speech: an agent nobody talks to is idle, not stalled.
    write_speech(agents / "silence.wav")
    stall_first = (Fault(action="delay", seconds=30.0, conn=1),)
    async with emulators({"stalled": stall_first}) as endpoints:
        read = functools.partial(read_directory, agents, load_agent)
        daemon = Daemon(agents, read, per_agent_factory(endpoints, tmp_path),  # type: ignore[arg-type]
                        Notifier(None), DaemonSettings(watch=False, settle_timeout_s=0.1))
        async with anyio.create_task_group() as tg:
            await tg.start(daemon.run)
            with anyio.fail_after(20):
                while not _running_again_after_watchdog([r.getMessage() for r in caplog.records]):
                    await anyio.sleep(0.02)
            daemon.stop()


def write_speech(path: Path, seconds: float = 1.0) -> None:
    samples = (np.random.default_rng(1).standard_normal(int(16000 * seconds)) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.tobytes())


def _running_again_after_watchdog(messages: list[str]) -> bool:
    fired = [i for i, m in enumerate(messages) if m.startswith("watchdog: no progress")]
    return bool(fired) and any(m.startswith("running (start #") for m in messages[fired[0]:])


def test_device_ports_of_a_file_agent_are_wav_files(tmp_path: Path) -> None:
    agents = directory(tmp_path, ["filey"])
    mic, speaker = open_device_ports(load_agent(agents / "filey.yaml"))
    assert type(mic).__name__ == "WavFileIn" and type(speaker).__name__ == "WavFileOut"


async def test_stopping_the_daemon_closes_every_live_session_with_1000(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets.server")
    agents = directory(tmp_path, ["one", "two"])
    async with emulators({"one": (), "two": ()}) as endpoints:
        read = functools.partial(read_directory, agents, load_agent)
        daemon = Daemon(agents, read, per_agent_factory(endpoints, tmp_path),  # type: ignore[arg-type]
                        Notifier(None), DaemonSettings(watch=False))
        async with anyio.create_task_group() as tg:
            await tg.start(daemon.run)
            assert daemon.status() == "2 agents: 2 running"
            began = anyio.current_time()
            daemon.stop()
        stop_s = anyio.current_time() - began
    closes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("< CLOSE")]
    assert closes == ["< CLOSE 1000 (OK) [2 bytes]"] * 2, closes
    print(f"\nstop with two live sessions: {stop_s * 1000:.0f} ms")


async def test_an_idle_agent_nobody_talks_to_is_not_restarted_by_the_watchdog(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    agents = directory(tmp_path, ["idle"], "supervision: {watchdog_s: 1.0}\n")
    async with emulators({"idle": ()}) as endpoints:
        read = functools.partial(read_directory, agents, load_agent)
        daemon = Daemon(agents, read, per_agent_factory(endpoints, tmp_path),  # type: ignore[arg-type]
                        Notifier(None), DaemonSettings(watch=False))
        async with anyio.create_task_group() as tg:
            await tg.start(daemon.run)
            await anyio.sleep(3.0)  # the idle time under test, not a synchronisation
            daemon.stop()
    assert not [r for r in caplog.records if r.getMessage().startswith("watchdog: no progress")]
