"""A satellite as the agent's two ports (`runtime.audio.ports`), and the runnable that keeps it connected.

`SatelliteIn.read` waits for the satellite's next converted block: while it is away nothing is read, so
nothing is streamed and the Live session idles. `SatelliteOut` hands the reply to the link's pacer.
`SatelliteSession` runs the link beside the session, for as long as the session runs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import anyio
import anyio.abc

from runtime.audio.ports import MIC_RATE_HZ
from runtime.errors import DeviceError
from runtime.satellite.link import SatelliteAddress, SatelliteLink

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.agentfile.spec import Audio


class SatelliteIn:
    """The satellite's microphone: 16 kHz mono int16 blocks, whatever format it streams."""

    def __init__(self, link: SatelliteLink) -> None:
        self.link = link
        self.block_frames = link.block_frames

    async def open(self) -> None:
        pass  # the link connects on its own, beside the session

    async def read(self) -> bytes:
        try:
            return await self.link.mic_blocks.receive()
        except anyio.EndOfStream as exc:  # pragma: no cover - the link never closes its stream
            raise DeviceError(f"satellite {self.link.address} is gone") from exc

    async def close(self) -> None:
        pass


class SatelliteOut:
    """The satellite's speaker: the reply goes out at its playing pace, so a barge-in can cut it."""

    def __init__(self, link: SatelliteLink) -> None:
        self.link = link

    async def open(self) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        self.link.play(pcm)

    def flush(self) -> None:
        self.link.flush()

    def end_of_turn(self) -> None:
        self.link.end_of_turn()

    @property
    def playing(self) -> bool:
        return self.link.pacer.playing(time.monotonic())

    @property
    def underruns(self) -> int:
        return 0  # the satellite's own speaker runs dry unseen

    async def close(self) -> None:
        self.link.flush()


class LinkedRunnable:
    """What the supervisor runs for a satellite agent: the session, its satellite link beside it."""

    def __init__(self, runnable: _Runnable, link: SatelliteLink) -> None:
        self.runnable = runnable
        self.link = link

    @property
    def last_progress(self) -> float:
        return self.runnable.last_progress

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(self.link.run)
            await self.runnable.run(task_status=task_status)
            group.cancel_scope.cancel()


class _Runnable(Protocol):
    """`runtime.daemon.supervisor.Runnable`'s shape (this layer is below the daemon and may not import it)."""

    @property
    def last_progress(self) -> float: ...

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None: ...


def satellite_ports(
    audio: Audio, *, on_status: Callable[[str], None] | None = None
) -> tuple[SatelliteIn, SatelliteOut, SatelliteLink]:
    """The ports of an agent whose `audio.satellite` is set, and the link to run beside its session."""
    assert audio.satellite is not None
    link = SatelliteLink(
        SatelliteAddress.parse(audio.satellite), block_frames=MIC_RATE_HZ * audio.input.block_ms // 1000,
        on_status=on_status,
    )
    return SatelliteIn(link), SatelliteOut(link), link
