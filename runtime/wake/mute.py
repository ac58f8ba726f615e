"""The privacy switch: one process-wide mute that closes every microphone, toggled by signal or button.

Muting closes the capture device (on most USB microphones that also turns the LED off), so "muted" does
not mean "captured and thrown away". The switch is thread-safe: a signal handler, a button task or a
control thread may flip it while sessions read their microphones on the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel

from runtime.audio.ports import AudioIn, ready_frames

log = logging.getLogger(__name__)

MuteCallback = Callable[[bool], None]


class _Waiter:
    """A task waiting for the microphone to be unmuted, and how to reach its event loop."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.token = anyio.lowlevel.current_token()
        self.thread = threading.get_ident()

    def wake(self) -> None:
        if threading.get_ident() == self.thread:
            self.event.set()
            return
        with contextlib.suppress(anyio.RunFinishedError):  # that loop has ended: nobody is left waiting
            anyio.from_thread.run_sync(self.event.set, token=self.token)


def mute_status_text(muted: bool) -> str:
    """`mic muted` / `mic live`: the switch's state as `STATUS=` and logs say it."""
    return "mic muted" if muted else "mic live"


class MuteSwitch:
    """Whether the microphones may capture; shared by every agent of the daemon."""

    def __init__(self, muted: bool = False) -> None:
        self._lock = threading.Lock()
        self._muted = muted
        self._waiters: list[_Waiter] = []
        self._subscribers: list[MuteCallback] = []

    @property
    def muted(self) -> bool:
        return self._muted

    def set(self, muted: bool, source: str = "api") -> None:
        """Mute or unmute; `source` (SIGUSR1, the button's name, ...) is logged."""
        self._change(lambda _: muted, source)

    def toggle(self, source: str = "api") -> bool:
        """Flip the switch atomically; returns the new state (True = muted)."""
        return self._change(lambda was_muted: not was_muted, source)

    def _change(self, decide: Callable[[bool], bool], source: str) -> bool:
        with self._lock:
            muted = decide(self._muted)
            if muted == self._muted:
                return muted
            self._muted = muted
            waiters, self._waiters = (self._waiters, []) if not muted else ([], self._waiters)
            subscribers = list(self._subscribers)
        log.info("microphone %s (%s)", "muted" if muted else "unmuted", source)
        for waiter in waiters:
            waiter.wake()
        for callback in subscribers:
            callback(muted)
        return muted

    def status_text(self) -> str:
        """A short phrase for sd_notify `STATUS=` and logs."""
        return mute_status_text(self._muted)

    def subscribe(self, callback: MuteCallback) -> Callable[[], None]:
        """Call `callback(muted)` on every change, on whichever thread changed it (a callback that touches
        event-loop state hops onto the loop, as `EventChannel.publish` does); returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    async def wait_until_unmuted(self) -> None:
        """Return once the microphone may capture again (at once if it is not muted)."""
        with self._lock:
            if not self._muted:
                return
            waiter = _Waiter()
            self._waiters.append(waiter)
        try:
            await waiter.event.wait()
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)


class MutedAudioIn:
    """A microphone that honours the mute switch: while muted it is closed and `read()` waits.

    A block that was being captured when the switch flipped is dropped, so no audio from a muted moment
    is ever returned. `on_change(muted)` runs in the reading task when capture actually stops or restarts.
    """

    def __init__(self, mic: AudioIn, mute: MuteSwitch, on_change: MuteCallback | None = None) -> None:
        self.block_frames = mic.block_frames
        self._mic = mic
        self._mute = mute
        self._on_change = on_change
        self._capturing = False

    async def open(self) -> None:
        if not self._mute.muted:
            await self._mic.open()
            self._capturing = True

    async def read(self) -> bytes:
        while True:
            if self._mute.muted:
                await self._stop()
                await self._mute.wait_until_unmuted()
                continue
            if not self._capturing:
                await self._start()
            block = await self._mic.read()
            if not self._mute.muted:
                return block

    def ready_frames(self) -> int | None:
        """What the microphone holds (0 while muted), None when it cannot tell (`ports.ready_frames`)."""
        if self._mute.muted or not self._capturing:
            return 0
        return ready_frames(self._mic)

    async def close(self) -> None:
        self._capturing = False
        await self._mic.close()

    async def _start(self) -> None:
        await self._mic.open()
        self._capturing = True
        if self._on_change is not None:
            self._on_change(False)

    async def _stop(self) -> None:
        if not self._capturing:
            return
        self._capturing = False
        await self._mic.close()
        if self._on_change is not None:
            self._on_change(True)


async def toggle_on_signal(
    mute: MuteSwitch,
    signum: signal.Signals = signal.SIGUSR1,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run in the daemon's task group: every SIGUSR1 (`kill -USR1 PID`) toggles the mute."""
    name = signum.name
    with anyio.open_signal_receiver(signum) as signals:
        task_status.started()
        async for _ in signals:
            mute.toggle(name)
