"""A single agent's speaker through sounddevice (a PortAudio output callback), and the two pieces every
speaker shares: its jitter buffer at the device's rate and the report of each period to an observer.

The callback never blocks: it renders the playback buffer (`playback.py`) into PortAudio's buffer and keeps
what it played for the echo canceller. A device that disappears is handled by `keeper.py` (writes are
dropped while it is gone); several agents on one speaker use `speaker.py` instead.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import numpy as np

from runtime.audio.devices import (
    BUFFER_DECAY_S,
    DELAY_STEP_MS,
    START_DELAY_MS,
    StreamOptions,
    _Resampler,
    open_portaudio_stream,
)
from runtime.audio.keeper import StreamKeeper
from runtime.audio.playback import PlaybackBuffer
from runtime.audio.ports import SPEAKER_RATE_HZ, AudioObserver
from runtime.audio.ring import Int16Ring, Samples

DEFAULT_OPTIONS = StreamOptions()


class SoundDeviceOut:
    """A speaker: queued 24 kHz mono int16 audio played through any PortAudio output device."""

    def __init__(
        self,
        device: str | int = "default",
        *,
        buffer_ms: int = 60,
        fade_ms: float = 4.0,
        period_ms: int = 20,
        options: StreamOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.device = device
        self.options = options
        self.buffer_ms = buffer_ms
        self.fade_ms = fade_ms
        self.period_ms = period_ms
        self.observer: AudioObserver | None = None
        """Benchmark hook: told when queued samples are played and when a flush went silent."""
        self.xruns = 0
        """Callbacks PortAudio flagged (output underflow)."""
        self.latency_s = 0.0
        """Output latency PortAudio reports for the open stream (seconds)."""
        self.dropped_frames = 0
        """24 kHz frames thrown away because the device was gone."""
        self.played = Int16Ring(SPEAKER_RATE_HZ * 2)
        """What the callback actually played (device rate, mono): the far end for echo cancellation."""
        self.rate_hz = SPEAKER_RATE_HZ
        self._channels = 1
        self._keeper = StreamKeeper(f"speaker {device!r}", self._open_stream)
        self._playback = self._new_playback(SPEAKER_RATE_HZ)
        self._resampler = _Resampler(SPEAKER_RATE_HZ, SPEAKER_RATE_HZ)

    def _new_playback(self, rate_hz: int) -> PlaybackBuffer:
        return new_playback(rate_hz, self.buffer_ms, self.fade_ms)

    @property
    def lost(self) -> bool:
        """True while the device is gone (writes are dropped)."""
        return self._keeper.lost

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._keeper.start)

    def _open_stream(self) -> Any:
        stream = open_portaudio_stream(
            self.device, "output", SPEAKER_RATE_HZ, self.period_ms, self.options, callback=self._callback
        )
        rate = int(stream.samplerate)
        if rate != self.rate_hz:
            self.rate_hz = rate
            self._playback = self._new_playback(rate)
            self.played = Int16Ring(rate * 2)
            self._resampler = _Resampler(SPEAKER_RATE_HZ, rate)
        if self._keeper.losses:
            self._playback.flush(announce=False)  # what was queued before the loss is stale now
        self._channels = int(stream.channels)
        self.latency_s = float(stream.latency)
        return stream

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        playback = self._playback
        first = playback.ring.consumed
        mono = outdata[:, 0]
        now = self._keeper.beat()
        played = playback.render(mono, now)
        if self._channels > 1:
            outdata[:, 1:] = outdata[:, :1]
        self.played.write(mono)
        if status:
            self.xruns += 1
        observer = self.observer
        if observer is not None:
            self._tell(observer, now, first, played)

    def _tell(self, observer: AudioObserver, now: float, first: int, played: int) -> None:
        report_period(observer, self._playback, now, first, played, self.rate_hz)

    def write(self, pcm: bytes) -> None:
        if self._keeper.lost:
            self.dropped_frames += len(pcm) // 2
            return
        samples = np.frombuffer(pcm, dtype="<i2")
        self._playback.write(self._resampler.convert(samples), time.monotonic())

    def flush(self) -> None:
        self._resampler.clear()
        self._playback.flush()

    def end_of_turn(self) -> None:
        tail = self._resampler.convert(np.zeros(0, dtype=np.int16), last=True)
        if len(tail):
            self._playback.write(tail, time.monotonic())
        self._playback.end_of_turn()

    @property
    def playing(self) -> bool:
        return self._playback.playing

    @property
    def underruns(self) -> int:
        return self._playback.underruns

    @property
    def written_frames(self) -> int:
        """Device-rate frames queued since the port was created (for benchmarks and tests)."""
        return self._playback.ring.written

    def read_played(self, out: Samples) -> int:
        """Drain what the speaker played since the last call (device rate); the echo canceller's far end."""
        return self.played.read_into(out)

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._keeper.stop)


def new_playback(rate_hz: int, buffer_ms: int, fade_ms: float) -> PlaybackBuffer:
    """A speaker's jitter buffer at the device's rate (a single agent's speaker, or one agent on a shared one)."""
    return PlaybackBuffer(
        capacity_frames=rate_hz * 120,
        prebuffer_frames=rate_hz * buffer_ms // 1000,
        fade_frames=int(rate_hz * fade_ms / 1000),
        rate_hz=rate_hz,
        start_delay_s=START_DELAY_MS / 1000,
        step_s=DELAY_STEP_MS / 1000,
        decay_frames=rate_hz * BUFFER_DECAY_S,
    )


def report_period(
    observer: AudioObserver, playback: PlaybackBuffer, now: float, first: int, played: int, rate_hz: int
) -> None:
    """Tell `observer` what one output period played (24 kHz frame numbers) and whether a flush went silent in it
    (from the output callback: no allocation, no lock)."""
    scale = SPEAKER_RATE_HZ / rate_hz
    if played:
        observer.samples_played(now, int(first * scale), int(played * scale))
    if playback.flush_served:
        playback.flush_served = False
        observer.silence_after_flush(now + played / rate_hz)
