"""The runtime's side of the simulated sound card: `AudioIn`/`AudioOut` ports on the bench's device clock.

The microphone captures numbered blocks on the same 20 ms clock as the baselines' `BlockingMic`, and the
speaker's callback renders the runtime's own `PlaybackBuffer` (jitter buffer, flush with fade, underruns)
on the same clock as `BlockingSpeaker`. Both log, from inside the callback, what `bench.analysis` needs.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import numpy as np

from bench.analysis import DeviceLog
from bench.devices import DeviceClock, MicScript, SpeakerMeter

SPEAKER_RATE_HZ = 24_000
PERIOD_FRAMES = 480


class ClockedMic:
    """An `AudioIn` whose capture callback runs on the device clock and wakes the event loop."""

    def __init__(self, script: MicScript, log: DeviceLog, block_frames: int = 320, buffer_blocks: int = 100) -> None:
        self.block_frames = block_frames
        self.script, self.log = script, log
        self._blocks: collections.deque[bytes] = collections.deque(maxlen=buffer_blocks)
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next = 0
        self._clock: DeviceClock | None = None

    async def open(self) -> None:
        if self._clock is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._clock = DeviceClock(self._capture, name="bench-mic")
        self._clock.start()

    def _capture(self) -> None:
        block = self.script.block(self._next, self.block_frames)
        self.log.mic_ready[self._next] = time.monotonic()
        self._next += 1
        self._blocks.append(block)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._ready.set)

    async def read(self) -> bytes:
        while not self._blocks:
            self._ready.clear()
            if self._blocks:
                break
            await self._ready.wait()
        return self._blocks.popleft()

    async def close(self) -> None:
        if self._clock is not None:
            self._clock.stop()
            self._clock = None


class ClockedSpeaker:
    """An `AudioOut` whose callback renders the runtime's `PlaybackBuffer` every 20 ms."""

    def __init__(self, log: DeviceLog, buffer_ms: int = 60, fade_ms: float = 4.0) -> None:
        from runtime.audio.playback import PlaybackBuffer

        self.log = log
        self.buffer: Any = PlaybackBuffer(
            capacity_frames=SPEAKER_RATE_HZ * 30,
            prebuffer_frames=int(SPEAKER_RATE_HZ * buffer_ms / 1000),
            fade_frames=int(SPEAKER_RATE_HZ * fade_ms / 1000),
        )
        self._out = np.zeros(PERIOD_FRAMES, dtype=np.int16)
        self._meter = SpeakerMeter(log, PERIOD_FRAMES)
        self._in_turn = False
        self._clock: DeviceClock | None = None

    async def open(self) -> None:
        if self._clock is None:
            self._clock = DeviceClock(self._render, name="bench-speaker")
            self._clock.start()

    def write(self, pcm: bytes) -> None:
        self._in_turn = True
        self.buffer.write(np.frombuffer(pcm, dtype="<i2"))

    def flush(self) -> None:
        self._in_turn = False
        self.buffer.flush()

    def end_of_turn(self) -> None:
        self._in_turn = False
        self.buffer.end_of_turn()

    @property
    def playing(self) -> bool:
        return bool(self.buffer.playing)

    @property
    def underruns(self) -> int:
        return int(self.buffer.underruns)

    async def close(self) -> None:
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        self.log.underruns = self.underruns

    def _render(self) -> None:
        frames = int(self.buffer.render(self._out))
        flushed = bool(getattr(self.buffer, "flush_served", False))
        if flushed:
            self.buffer.flush_served = False
        self._meter.on_callback(self._out[:frames].tobytes(), time.monotonic(), flushed, self._in_turn)
