"""Fake sessions behind the supervisor's `Runnable` protocol: they crash, hang, miss devices or run fine."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import anyio.abc

from runtime.errors import DeviceError, FatalSessionError, SessionError


@dataclass
class FakeSession:
    """`behaviour`: ok | crash_at_start | crash_after_start | hang | hang_after_start | device | fatal | exit."""

    behaviour: str = "ok"
    last_progress: float = field(default_factory=time.monotonic)
    started: anyio.Event = field(default_factory=anyio.Event)
    cancelled: bool = False

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        if self.behaviour == "crash_at_start":
            raise SessionError("setup rejected (1011)")
        if self.behaviour == "fatal":
            raise FatalSessionError("API key not valid (1008)")
        if self.behaviour == "device":
            raise DeviceError("no input device matches 'USB PnP'")
        if self.behaviour == "hang":
            await anyio.sleep_forever()
        task_status.started()
        self.started.set()
        try:
            if self.behaviour == "crash_after_start":
                await anyio.sleep(0.01)
                raise RuntimeError("boom")
            if self.behaviour == "exit":
                return
            while True:
                if self.behaviour != "hang_after_start":
                    self.last_progress = time.monotonic()
                await anyio.sleep(0.01)
        except anyio.get_cancelled_exc_class():
            self.cancelled = True
            raise


@dataclass
class Sessions:
    """A factory that hands out scripted sessions and remembers them."""

    script: Callable[[int], str] = lambda _n: "ok"
    made: list[FakeSession] = field(default_factory=list)

    def __call__(self) -> FakeSession:
        session = FakeSession(self.script(len(self.made)))
        self.made.append(session)
        return session
