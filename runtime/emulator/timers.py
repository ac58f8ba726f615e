"""What happens to a connection at set times: goAway, the connection and session limits, injected faults."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol

import anyio

from runtime.emulator.options import EmulatorOptions, Fault
from runtime.emulator.wire import INTERNAL_ERROR, duration

DEADLINE = "Deadline expired before operation could complete."
SESSION_LIMIT = "Maximum session duration reached."
TIMED_FAULTS = ("close", "drop", "delay", "garbage")


class Peer(Protocol):
    """The connection the timers act on (`LiveSession`)."""

    @property
    def audio_session(self) -> bool:
        """Audio went either way: the session-length limit applies."""

    @property
    def video_session(self) -> bool:
        """A camera frame arrived: the shorter audio+video limit applies."""

    async def send(self, message: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...

    async def inject(self, fault: Fault) -> None:
        """Close, drop, delay or garble now (and log it: tests/chaos reads the session's log)."""


def faults_for(options: EmulatorOptions, conn: int, *actions: str) -> list[Fault]:
    return [fault for fault in options.faults if fault.action in actions and fault.applies_to(conn)]


async def run_timers(
    peer: Peer, options: EmulatorOptions, conn: int, *, opened: float, session_started: float, compressed: bool
) -> None:
    """goAway, connection and session limits, and scheduled faults, in time order (seconds from `opened`)."""
    plan: list[tuple[float, Callable[[], Awaitable[None]]]] = []
    if options.go_away_after_s is not None:
        plan.append((options.go_away_after_s, partial(_go_away, peer, options)))
    if options.connection_limit_s is not None:
        plan.append((options.connection_limit_s, partial(peer.close, INTERNAL_ERROR, DEADLINE)))
    if not compressed:  # counted from the session's first connection, across resumptions
        plan.append((session_started + options.session_limit_s - opened, partial(_end_audio_session, peer)))
        plan.append((session_started + options.video_session_limit_s - opened, partial(_end_video_session, peer)))
    plan += [(fault.at, partial(peer.inject, fault)) for fault in faults_for(options, conn, *TIMED_FAULTS)]
    for at, action in sorted(plan, key=lambda entry: entry[0]):
        await anyio.sleep(max(0.0, opened + at - time.monotonic()))
        await action()


async def _end_audio_session(peer: Peer) -> None:
    """The session-length limit applies to audio sessions (audio in or out) without compression."""
    if peer.audio_session:
        await peer.close(INTERNAL_ERROR, SESSION_LIMIT)


async def _end_video_session(peer: Peer) -> None:
    """An audio+video session without compression ends after 2 minutes (runtime/emulator/video.py); a first
    frame after that ends it when it arrives (LiveSession)."""
    if peer.video_session:
        await peer.close(INTERNAL_ERROR, SESSION_LIMIT)


async def _go_away(peer: Peer, options: EmulatorOptions) -> None:
    limit = options.connection_limit_s
    left = 50.0 if limit is None else limit - (options.go_away_after_s or 0.0)
    await peer.send({"goAway": {"timeLeft": duration(left)}})
