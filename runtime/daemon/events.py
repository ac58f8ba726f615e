"""What happens in the daemon, as one small union of frozen events on one bounded anyio stream.

Supervisors, wake gates, the mute switch and the daemon itself publish here; one task reads
(`status.StatusReporter`) and alone turns the events into `STATUS=` and the other notifications, and keeps
the mute buttons in step with the agents. Nobody calls anybody back: a publisher does not know who reads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeAlias

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream

from runtime.daemon.agentdir import LoadedAgentLike


class AgentState(Enum):
    """Where an agent's supervisor is (its value is what `STATUS=` and the console show)."""

    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "restarting"
    WAITING_DEVICE = "waiting for device"
    PARKED = "failed"
    STOPPED = "stopped"

log = logging.getLogger(__name__)

EVENT_BUFFER = 1024
"""Events the stream holds before a publisher's event is dropped. Its one reader does no I/O that waits, so
it never falls that far behind: a few events per agent state change, gate transition or mute toggle."""


@dataclass(frozen=True)
class AgentStateChanged:
    """A supervisor moved its agent to another state (starting, running, restarting, ...)."""

    agent: str
    state: AgentState
    detail: str = ""


@dataclass(frozen=True)
class AgentStopped:
    """The daemon no longer hosts the agent (its file was deleted, or it restarts with a new one)."""

    agent: str


@dataclass(frozen=True)
class FilesRead:
    """A (re)load read the directory; told with the next status, not on its own."""

    invalid_files: int


@dataclass(frozen=True)
class AgentsHosted:
    """After every (re)load: the agents hosted now (the mute buttons their files name are read)."""

    agents: tuple[LoadedAgentLike, ...]


@dataclass(frozen=True)
class GateBuilt:
    """A wake gate now stands in front of the agent's microphone; told with the next status, not on its own."""

    agent: str
    status: str
    """The gate's phrase for `STATUS=`: `listening for okay_nabu`, `in conversation`, `muted`."""


@dataclass(frozen=True)
class GateChanged:
    """A wake gate opened or closed a conversation, or the mute closed it."""

    agent: str
    status: str
    """The gate's phrase for `STATUS=` after the change."""


@dataclass(frozen=True)
class SatelliteChanged:
    """An agent's Wyoming satellite connected or went away (`runtime.satellite.link`)."""

    agent: str
    status: str
    """`satellite connected` or `waiting for satellite`."""


@dataclass(frozen=True)
class MuteToggled:
    """The mute switch was flipped (by SIGUSR1, a button, or any thread)."""

    muted: bool


@dataclass(frozen=True)
class Starting:
    """The daemon starts its agents."""


@dataclass(frozen=True)
class Reloading:
    """A reload begins (`RELOADING=1`)."""

    reason: str
    monotonic_usec: int


@dataclass(frozen=True)
class Ready:
    """Start-up or a reload is over (`READY=1`)."""

    startup_ms: float | None = None
    """How long the start took (logged with the status); None for a reload."""


@dataclass(frozen=True)
class Stopping:
    """The daemon stops its agents (`STOPPING=1`)."""

    agents: int


@dataclass(frozen=True)
class Flush:
    """A marker: `done` is set once every event published before it has been handled."""

    done: anyio.Event = field(default_factory=anyio.Event)


DaemonEvent: TypeAlias = (
    AgentStateChanged | AgentStopped | FilesRead | AgentsHosted | GateBuilt | GateChanged | SatelliteChanged
    | MuteToggled | Starting | Reloading | Ready | Stopping | Flush
)
Publish = Callable[[DaemonEvent], None]


def publish_nowhere(_event: DaemonEvent) -> None:
    """The publisher of something that runs outside a daemon (a test, `runtime chat`)."""


class EventChannel:
    """The daemon's one event stream: published to from anywhere, read by one task.

    Create it in the event loop that reads it: `publish` from that loop's thread puts the event on the
    stream at once; from any other thread (a control thread, a device's) it hops onto the loop first
    (`anyio.from_thread`), so the stream, and its reader, are only ever touched by the loop.
    """

    def __init__(self, max_buffer: int = EVENT_BUFFER) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[DaemonEvent](max_buffer)
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()
        self.dropped = 0
        """Events lost to a full stream (each is logged)."""

    @property
    def events(self) -> MemoryObjectReceiveStream[DaemonEvent]:
        """The reading end: for its one reader only."""
        return self._receive

    def publish(self, event: DaemonEvent) -> None:
        """Put `event` on the stream; never blocks the event loop, never raises."""
        if threading.get_ident() == self._loop_thread:
            self._put(event)
            return
        with contextlib.suppress(anyio.RunFinishedError):  # that loop has ended: nobody is left to tell
            anyio.from_thread.run_sync(self._put, event, token=self._token)

    async def flush(self) -> None:
        """Return once every event published so far has been handled by the reader."""
        marker = Flush()
        try:
            await self._send.send(marker)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return
        await marker.done.wait()

    def close(self) -> None:
        """No more events: the reader handles those on the stream, then its loop ends."""
        self._send.close()

    def _put(self, event: DaemonEvent) -> None:
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            self.dropped += 1
            log.warning("daemon event dropped, the event stream is full: %s", type(event).__name__)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            log.debug("daemon event after the daemon stopped: %s", type(event).__name__)
