"""Real microphones and speakers through sounddevice (PortAudio callbacks).

The callbacks run on PortAudio's threads and never block: they copy samples into preallocated rings
(`ring.py`) and render the playback buffer (`playback.py`). A microphone reader that finds the ring empty
does not ask the callback to wake it: it sets a loop timer for when the next block is due (the previous
callback's time plus its period, plus `WAKE_MARGIN_S`), so the callback thread makes no system call and the
loop no self-pipe read per block. Only when the block is late at that moment (jitter, a stalled device) does
the reader fall back to a wake-up from the callback (`call_soon_threadsafe`). Rate conversion (soxr)
happens on the event loop side, so a callback does nothing but copy. A device that disappears is handled
by `keeper.py`: while it is gone the microphone yields silence at real-time pace (the Live session keeps
streaming and stays up) and the speaker drops what it is given; both resume by themselves when the device
returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np

from runtime.audio.keeper import StreamKeeper
from runtime.audio.ports import MIC_RATE_HZ, AudioObserver
from runtime.audio.ring import Int16Ring, Samples
from runtime.audio.selection import Kind, choose_device, choose_format
from runtime.errors import DeviceError

READ_POLL_S = 0.25
"""A `read` waiting on a late block re-checks the device at least this often."""
WAKE_MARGIN_S = 0.001
"""A reader's timer fires this long after the next block is due: a callback a little late is still found,
at the cost of this much uplink latency (bench/README.md, "Where one streaming agent's CPU goes")."""
START_DELAY_MS = 5
"""A turn's first audio waits this long (or until `buffer_ms` is queued) before it plays; grows after underruns.
With the callback's period on top, the next chunk of a server sending at real-time pace has 5-25 ms of margin."""
DELAY_STEP_MS = 10
"""How much longer a turn waits to start after each underrun (up to `buffer_ms`)."""
BUFFER_DECAY_S = 20
"""Seconds of audio played without an underrun before the jitter buffer shrinks by one period."""


def import_sounddevice() -> Any:
    """The sounddevice module, or a `DeviceError` that says how to install PortAudio."""
    try:
        import sounddevice
    except OSError as exc:  # the wheel does not bundle PortAudio on Linux
        raise DeviceError(f"PortAudio is not available ({exc}); install it: apt install libportaudio2") from exc
    return sounddevice


@dataclass(frozen=True)
class StreamOptions:
    """How to open a device beyond its name; the defaults suit almost every device."""

    latency: float | str = "low"
    """PortAudio suggested latency: "low", "high" or seconds; more survives a busier CPU but is heard later."""
    rate_hz: int | None = None
    """Open the device at this rate (converting in software) instead of the API's rate when it takes it."""
    channels: int | None = None
    """Open the device with this many channels (the first one is used) instead of mono when it takes it."""


def open_portaudio_stream(
    device: str | int, kind: Kind, api_rate_hz: int, period_ms: int, options: StreamOptions, **stream_args: Any
) -> Any:
    """Resolve `device`, pick rate and channels, and start an int16 callback stream on it."""
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        default_index = sd.default.device[0 if kind == "input" else 1]
        index = choose_device(devices, int(default_index), device, kind)
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings

        def supports(rate: int, channels: int) -> bool:
            try:
                check(device=index, samplerate=rate, channels=channels, dtype="int16")
                return True
            except (sd.PortAudioError, ValueError):
                return False

        def allowed(rate: int, channels: int) -> bool:
            return options.channels in (None, channels) and supports(rate, channels)

        rate, channels = choose_format(devices[index], kind, options.rate_hz or api_rate_hz, allowed)
        cls = sd.InputStream if kind == "input" else sd.OutputStream
        stream = cls(
            device=index,
            samplerate=rate,
            channels=channels,
            dtype="int16",
            blocksize=rate * period_ms // 1000,
            latency=options.latency,
            **stream_args,
        )
        stream.start()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot open {kind} device {device!r}: {exc}") from exc
    return stream


class _Resampler:
    """soxr streaming conversion, or a pass-through when the rates already match."""

    def __init__(self, in_rate_hz: int, out_rate_hz: int) -> None:
        self._stream: Any = None
        if in_rate_hz != out_rate_hz:
            import soxr

            self._stream = soxr.ResampleStream(in_rate_hz, out_rate_hz, 1, dtype="int16")

    def convert(self, samples: Samples, last: bool = False) -> Samples:
        if self._stream is None:
            return samples
        out: Samples = self._stream.resample_chunk(samples, last=last)
        if last:
            self._stream.clear()
        return out

    def clear(self) -> None:
        if self._stream is not None:
            self._stream.clear()


class _Capture:
    """What one open input stream needs (replaced as a whole when the device is reopened)."""

    def __init__(self, rate_hz: int, buffer_ms: int) -> None:
        self.rate_hz = rate_hz
        self.ring = Int16Ring(max(rate_hz * buffer_ms // 1000, rate_hz // 10))
        self.resampler = _Resampler(rate_hz, MIC_RATE_HZ)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SoundDeviceIn:
    """A microphone: 16 kHz mono int16 blocks from any PortAudio input device."""

    def __init__(
        self,
        device: str | int = "default",
        *,
        block_frames: int = 320,
        buffer_ms: int = 2000,
        options: StreamOptions = StreamOptions(),
    ) -> None:
        self.device = device
        self.options = options
        self.block_frames = block_frames
        self.buffer_ms = buffer_ms
        self.observer: AudioObserver | None = None
        """Benchmark hook: told when each block arrives in the callback (checked once per callback)."""
        self.xruns = 0
        """Callbacks PortAudio flagged (input overflow/underflow)."""
        self.latency_s = 0.0
        """Input latency PortAudio reports for the open stream (seconds)."""
        self._keeper = StreamKeeper(f"microphone {device!r}", self._open_stream)
        self._capture = _Capture(MIC_RATE_HZ, buffer_ms)
        self._pending = bytearray()
        self._chunk: Samples = np.zeros(1, dtype=np.int16)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._data_ready = asyncio.Event()
        self._waiting = False
        self._next_block_at = 0.0  # time.monotonic() the next callback is due (set by the callback)
        self.late_blocks = 0
        """Reads whose timer found the next block not there yet (they waited for the callback's wake-up)."""
        self._silence_deadline = 0.0
        self._opened = False

    @property
    def lost(self) -> bool:
        """True while the device is gone (reads yield silence)."""
        return self._keeper.lost

    @property
    def dropped_frames(self) -> int:
        """Device-rate frames overwritten because nobody read them in time."""
        return self._capture.ring.dropped

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._data_ready = asyncio.Event()
        await anyio.to_thread.run_sync(self._keeper.start)
        self._opened = True

    def _open_stream(self) -> Any:
        period_ms = max(1, self.block_frames * 1000 // MIC_RATE_HZ)
        stream = open_portaudio_stream(
            self.device, "input", MIC_RATE_HZ, period_ms, self.options, callback=self._callback
        )
        rate = int(stream.samplerate)
        if rate != self._capture.rate_hz or self._capture.ring.written:
            self._capture = _Capture(rate, self.buffer_ms)
        self._chunk = np.zeros(rate // 10, dtype=np.int16)
        self.latency_s = float(stream.latency)
        return stream

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        capture = self._capture
        capture.ring.write(indata[:, 0])
        now = self._keeper.beat()
        self._next_block_at = now + frames / capture.rate_hz
        if status:
            self.xruns += 1
        observer = self.observer
        if observer is not None:
            observer.mic_block_ready(now, frames)
        if self._waiting and self._loop is not None:
            self._waiting = False
            self._loop.call_soon_threadsafe(self._data_ready.set)

    async def read(self) -> bytes:
        """The next 16 kHz block; while the device is gone, silence at real-time pace (never raises)."""
        if not self._opened:
            raise DeviceError("microphone read before open()")
        need = self.block_frames * 2
        while len(self._pending) < need:
            if self._keeper.lost:
                return await self._silence()
            capture = self._capture
            count = capture.ring.read_into(self._chunk)
            if count:
                self._pending += capture.resampler.convert(self._chunk[:count]).tobytes()
            else:
                await self._wait_for_data(capture)
        block = bytes(self._pending[:need])
        del self._pending[:need]
        return block

    def ready_frames(self) -> int:
        """16 kHz frames a `read` could return without waiting (0 while the device is lost or closed)."""
        if not self._opened or self._keeper.lost:
            return 0
        capture = self._capture
        return len(self._pending) // 2 + capture.ring.available * MIC_RATE_HZ // capture.rate_hz

    async def _wait_for_data(self, capture: _Capture) -> None:
        """Until the ring holds samples: first on a timer for when the next block is due, then (the block is
        late) on a wake-up from the callback, re-checking the device every `READ_POLL_S`."""
        loop = asyncio.get_running_loop()
        due_in = self._next_block_at + WAKE_MARGIN_S - loop.time()
        if 0 < due_in <= READ_POLL_S:
            waiter = loop.create_future()
            timer = loop.call_later(due_in, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
            if capture.ring.available:
                return
            self.late_blocks += 1
        self._data_ready.clear()
        self._waiting = True
        if capture.ring.available:
            self._waiting = False
            return
        # A plain loop timer rather than a cancel scope (cheaper; the poll catches a lost device).
        poll = loop.call_later(READ_POLL_S, self._data_ready.set)
        try:
            await self._data_ready.wait()
        finally:
            poll.cancel()
            self._waiting = False

    async def _silence(self) -> bytes:
        self._pending.clear()
        now = time.monotonic()
        self._silence_deadline = max(self._silence_deadline, now) + self.block_frames / MIC_RATE_HZ
        await anyio.sleep(self._silence_deadline - now)
        return bytes(self.block_frames * 2)

    async def close(self) -> None:
        self._opened = False
        await anyio.to_thread.run_sync(self._keeper.stop)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for a moment: PortAudio's ALSA probing prints C-level noise there
    for every unusable device (`runtime devices`, `runtime doctor`)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
