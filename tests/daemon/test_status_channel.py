"""The daemon's one event channel: whoever publishes, from whichever thread, the one reader tells systemd.

In-process, with the daemon's real reporter task and a real notify socket; the sessions are fakes behind the
supervisor's `Runnable` protocol (what a session does plays no part here)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from runtime.agentfile.loader import load_agent
from runtime.daemon.agentdir import read_directory
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.events import (
    AgentState,
    AgentStateChanged,
    AgentStopped,
    EventChannel,
    FilesRead,
    GateBuilt,
    GateChanged,
    MuteToggled,
)
from runtime.daemon.mute_controls import MuteControls
from runtime.daemon.status import StatusBoard
from runtime.daemon.systemd import Notifier
from runtime.wake.mute import MuteSwitch
from tests.daemon.fakes import FakeSession
from tests.daemon.harness import NotifySocket, make_agents

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


def daemon_with_mute(tmp_path: Path, notifier: Notifier) -> tuple[Daemon, MuteSwitch]:
    agents = make_agents(tmp_path / "agents", ["desk"])
    mute = MuteSwitch()
    read = functools.partial(read_directory, agents, load_agent)
    daemon = Daemon(agents, read, lambda _agent: FakeSession(), notifier, DaemonSettings(watch=False),
                    mute_controls=MuteControls(mute))
    return daemon, mute


async def in_a_thread(work: Callable[[], object]) -> threading.Thread:
    """Run `work` on a plain thread of its own (not an anyio worker) and wait for it without blocking the loop."""
    thread = threading.Thread(target=work, name="control thread")
    thread.start()
    await anyio.to_thread.run_sync(thread.join)
    return thread


async def test_a_mute_flipped_on_a_foreign_thread_reaches_status_through_the_channel(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path)
    daemon, mute = daemon_with_mute(tmp_path, Notifier(str(notify.path)))
    try:
        async with anyio.create_task_group() as group:
            await group.start(daemon.run)
            await anyio.to_thread.run_sync(notify.expect_status, "1 agent: 1 running")

            await in_a_thread(lambda: mute.set(True, "control thread"))
            await anyio.to_thread.run_sync(notify.expect_status, "1 agent: 1 running; mic muted")
            assert daemon.status() == "1 agent: 1 running; mic muted"

            await in_a_thread(lambda: mute.set(False, "control thread"))
            await daemon.channel.flush()
            assert daemon.status() == "1 agent: 1 running"
            daemon.stop()
        assert notify.expect("STOPPING")["STATUS"] == "stopping 1 agents"
    finally:
        notify.close()
    statuses = [message["STATUS"] for _, _, message in notify.messages if list(message) == ["STATUS"]]
    assert statuses[-2:] == ["1 agent: 1 running; mic muted", "1 agent: 1 running"], "each change told once, in order"
    assert daemon.channel.dropped == 0


async def test_the_status_ends_where_the_switch_is_however_many_threads_flip_it(tmp_path: Path) -> None:
    daemon, mute = daemon_with_mute(tmp_path, Notifier(None))
    async with anyio.create_task_group() as group:
        await group.start(daemon.run)
        flips = [threading.Thread(target=lambda: [mute.toggle("thread") for _ in range(201)]) for _ in range(3)]
        for thread in flips:
            thread.start()
        for thread in flips:
            await anyio.to_thread.run_sync(thread.join)
        await daemon.channel.flush()
        assert mute.muted, "603 flips"
        assert daemon.status() == "1 agent: 1 running; mic muted"
        daemon.stop()
    assert daemon.channel.dropped == 0


async def test_an_event_published_after_the_daemon_stopped_goes_nowhere(tmp_path: Path) -> None:
    daemon, mute = daemon_with_mute(tmp_path, Notifier(None))
    async with anyio.create_task_group() as group:
        await group.start(daemon.run)
        daemon.stop()
    daemon.channel.publish(AgentStateChanged("desk", AgentState.BACKOFF))
    await in_a_thread(lambda: mute.set(True, "late thread"))
    await daemon.channel.flush()
    assert daemon.status() == "1 agent: 1 running", "the reporter read nothing after the stop"


def test_the_board_says_what_the_events_said() -> None:
    board = StatusBoard()
    events = [
        AgentStateChanged("desk", AgentState.RUNNING),
        AgentStateChanged("kitchen", AgentState.STARTING),
        GateBuilt("kitchen", "listening for okay_nabu"),
        AgentStateChanged("kitchen", AgentState.RUNNING),
        AgentStateChanged("hall", AgentState.WAITING_DEVICE, "no input device matches 'USB'"),
        FilesRead(2),
    ]
    for event in events:
        board.apply(event)
    assert board.text() == (
        "3 agents: 2 running, 1 waiting for device (hall); 2 invalid files; kitchen: listening for okay_nabu"
    )
    board.apply(GateChanged("kitchen", "in conversation"))
    assert board.text().endswith("; kitchen: in conversation")
    board.apply(MuteToggled(True))
    assert board.text().endswith("; 2 invalid files; mic muted")
    board.apply(MuteToggled(False))
    board.apply(AgentStopped("kitchen"))
    board.apply(GateChanged("ghost", "listening for okay_nabu"))  # a gate of an agent not hosted: not shown
    assert board.text() == "2 agents: 1 running, 1 waiting for device (hall); 2 invalid files"


async def test_a_full_channel_drops_the_event_and_never_blocks_the_publisher() -> None:
    channel = EventChannel(max_buffer=4)
    for muted in (True, False, True, False, True):
        channel.publish(MuteToggled(muted))
    await in_a_thread(lambda: channel.publish(MuteToggled(False)))
    assert channel.dropped == 2
    channel.close()
    assert [event async for event in channel.events] == [MuteToggled(m) for m in (True, False, True, False)]
