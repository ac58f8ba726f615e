"""The one reader of the daemon's events: `STATUS=` and the other notifications to systemd, and the mute
buttons. What the status says is kept by `StatusBoard`, pure: it is tested without a loop or a socket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import anyio.abc

from runtime.daemon import systemd
from runtime.daemon.events import (
    AgentsHosted,
    AgentState,
    AgentStateChanged,
    AgentStopped,
    DaemonEvent,
    EventChannel,
    FilesRead,
    Flush,
    GateBuilt,
    GateChanged,
    MuteToggled,
    Ready,
    Reloading,
    SatelliteChanged,
    Starting,
    Stopping,
)
from runtime.daemon.mute_controls import MuteControls, mute_buttons
from runtime.satellite.states import WAITING as WAITING_FOR_SATELLITE
from runtime.wake.mute import mute_status_text

log = logging.getLogger(__name__)

NAMED_STATES = (AgentState.PARKED, AgentState.WAITING_DEVICE, AgentState.BACKOFF)
"""States that need attention: the agents in them are named in `STATUS=`."""


def summarize(states: Mapping[str, AgentState], invalid_files: int = 0) -> str:
    """The one-line `STATUS=`: how many agents do what, naming the ones that need attention."""
    counts: dict[AgentState, list[str]] = {}
    for name, state in sorted(states.items()):
        counts.setdefault(state, []).append(name)
    parts = []
    for state in AgentState:
        names = counts.get(state, [])
        if not names:
            continue
        named = state in NAMED_STATES
        parts.append(f"{len(names)} {state.value}" + (f" ({', '.join(names)})" if named else ""))
    text = f"{len(states)} agent{'s' if len(states) != 1 else ''}" + (": " + ", ".join(parts) if parts else "")
    if invalid_files:
        text += f"; {invalid_files} invalid file{'s' if invalid_files != 1 else ''}"
    return text


@dataclass
class StatusBoard:
    """What `STATUS=` says, kept up to date from the daemon's events."""

    states: dict[str, AgentState] = field(default_factory=dict)
    """Each hosted agent's state."""
    invalid_files: int = 0
    muted: bool = False
    gates: dict[str, str] = field(default_factory=dict)
    """Each wake-word agent's gate phrase (`listening for okay_nabu`, `in conversation`)."""
    satellites: dict[str, str] = field(default_factory=dict)
    """Each satellite agent's link: `waiting for satellite` is told; `satellite connected` is not."""

    def apply(self, event: DaemonEvent) -> None:
        """Take in an event (those that say nothing about the status are ignored)."""
        match event:
            case AgentStateChanged(agent=agent, state=state):
                self.states[agent] = state
            case AgentStopped(agent=agent):
                self.states.pop(agent, None)
                self.gates.pop(agent, None)
                self.satellites.pop(agent, None)
            case FilesRead(invalid_files=count):
                self.invalid_files = count
            case GateBuilt(agent=agent, status=phrase) | GateChanged(agent=agent, status=phrase):
                self.gates[agent] = phrase
            case SatelliteChanged(agent=agent, status=phrase):
                self.satellites[agent] = phrase
            case MuteToggled(muted=muted):
                self.muted = muted

    def text(self) -> str:
        """`2 agents: 2 running; kitchen: listening for okay_nabu`, or `…; mic muted` for every gate."""
        if self.muted:
            parts = [mute_status_text(True)]
        else:
            parts = [f"{name}: {phrase}" for name, phrase in sorted(self.gates.items()) if name in self.states]
        parts += [f"{name}: {phrase}" for name, phrase in sorted(self.satellites.items())
                  if name in self.states and phrase == WAITING_FOR_SATELLITE]
        return "; ".join([summarize(self.states, self.invalid_files), *parts])


class EventWatcher(Protocol):
    """Something else the reporter keeps current from the same events (the metrics recorder)."""

    def apply(self, event: DaemonEvent) -> None: ...


TOLD_AT_ONCE = (AgentStateChanged, AgentStopped, GateChanged, SatelliteChanged, MuteToggled)
"""Changes sent as `STATUS=` when they change it; the others wait for the next one (or `READY=1`)."""


class StatusReporter:
    """Reads the daemon's events, one at a time, on the event loop: the only writer of `STATUS=`, `READY=1`,
    `RELOADING=1` and `STOPPING=1`, and the only one who tells the mute controls which buttons to read.

    With mute controls, it also reads SIGUSR1 and the buttons, and the mute switch's changes join the
    events (from whichever thread flipped it: `EventChannel.publish` brings them onto the loop).
    """

    def __init__(
        self, notifier: systemd.Notifier, mute_controls: MuteControls | None = None,
        watchers: Sequence[EventWatcher] = (),
    ) -> None:
        self.board = StatusBoard()
        self._watchers = tuple(watchers)
        self._notifier = notifier
        self._controls = mute_controls
        self._last_status = ""

    def status(self) -> str:
        return self.board.text()

    async def run(
        self, channel: EventChannel, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Handle events until the channel is closed (and every event on it handled)."""
        async with anyio.create_task_group() as group:
            unsubscribe: Callable[[], None] | None = None
            if self._controls is not None:
                await group.start(self._controls.run)  # SIGUSR1 is handled before the agents start
                unsubscribe = self._controls.mute.subscribe(lambda muted: channel.publish(MuteToggled(muted)))
                self.board.muted = self._controls.mute.muted
            task_status.started()
            try:
                async for event in channel.events:
                    self.handle(event)
            finally:
                if unsubscribe is not None:
                    unsubscribe()
            group.cancel_scope.cancel()

    def handle(self, event: DaemonEvent) -> None:
        for watcher in self._watchers:
            watcher.apply(event)
        match event:
            case Starting():
                self._notifier.send(systemd.status_message("starting agents"))
            case Reloading(reason=reason, monotonic_usec=usec):
                self._notifier.send(systemd.reloading_message(f"reloading ({reason})", usec))
            case Ready(startup_ms=startup_ms):
                if startup_ms is not None:
                    log.info("ready in %.0f ms: %s", startup_ms, self.status())
                self._notifier.send(systemd.ready_message(self.status()))
            case Stopping(agents=agents):
                self._notifier.send(systemd.stopping_message(f"stopping {agents} agents"))
            case AgentsHosted(agents=agents):
                if self._controls is not None:
                    self._controls.use(mute_buttons(agent.spec for agent in agents))
            case Flush(done=done):
                done.set()
            case MuteToggled() if self._controls is not None:
                # Threads that flip the switch at once publish in any order: what it says now is what counts.
                self.board.apply(MuteToggled(self._controls.mute.muted))
                self._refresh()
            case _:
                self.board.apply(event)
                if isinstance(event, TOLD_AT_ONCE):
                    self._refresh()

    def _refresh(self) -> None:
        """`STATUS=` again if it changed."""
        status = self.status()
        if status != self._last_status:
            self._last_status = status
            self._notifier.send(systemd.status_message(status))
