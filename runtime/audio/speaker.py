"""One output stream per speaker, fed by every agent that names it (`mixer.py` decides who is heard).

`SharedSpeaker` owns the device's PortAudio stream (opened by the first agent, closed with the last, kept
through loss by a `StreamKeeper`, as a single agent's speaker is) and its callback, which renders the
`Mixer`. Each agent writes to a `SpeakerTap`, an `AudioOut` with its own jitter buffer: its `flush` (a
barge-in) silences that agent only. What the callback played, all agents mixed, is the device's far end:
the shared microphone's echo handling reads it once per device (`read_played`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import numpy as np

from runtime.audio.devices import StreamOptions, open_portaudio_stream
from runtime.audio.devices_out import new_playback, report_period
from runtime.audio.keeper import StreamKeeper
from runtime.audio.mixer import Mixer, MixerInput, ShareMode
from runtime.audio.playback import PlaybackBuffer
from runtime.audio.ports import SPEAKER_RATE_HZ, AudioObserver
from runtime.audio.ring import Int16Ring, Samples

log = logging.getLogger(__name__)

MAX_RATE_HZ = 192_000


class SharedSpeaker:
    """One speaker device, its stream and its mixer; agents attach `SpeakerTap`s."""

    def __init__(
        self, key: str, device: str | int, *, period_ms: int = 20, options: StreamOptions | None = None
    ) -> None:
        self.key = key
        self.device = device
        self.period_ms = period_ms
        self.options = options or StreamOptions()
        self.mixer = Mixer(MAX_RATE_HZ * period_ms // 1000)
        self.rate_hz = SPEAKER_RATE_HZ
        self.latency_s = 0.0
        self.xruns = 0
        self.played = Int16Ring(SPEAKER_RATE_HZ * 2)
        """What the callback played, every agent mixed (device rate): the far end for echo handling."""
        self.taps: list[SpeakerTap] = []
        """Replaced as a whole by the event loop (never mutated in place), as `Mixer.inputs`: the output
        callback walks it from PortAudio's thread."""
        self._channels = 1
        self._keeper = StreamKeeper(f"speaker {device!r}", self._open_stream)
        self._lock = anyio.Lock()

    @property
    def lost(self) -> bool:
        return self._keeper.lost

    async def attach(self, tap: SpeakerTap) -> None:
        async with self._lock:
            if not self.taps:
                await anyio.to_thread.run_sync(self._keeper.start)
            self.taps = [*self.taps, tap]
            tap.connect(self.rate_hz)
            self.mixer.add(tap.entry)

    async def detach(self, tap: SpeakerTap) -> None:
        async with self._lock:
            if tap not in self.taps:
                return
            self.taps = [each for each in self.taps if each is not tap]
            self.mixer.remove(tap.entry)
            if not self.taps:
                await anyio.to_thread.run_sync(self._keeper.stop)

    def _open_stream(self) -> Any:
        stream = open_portaudio_stream(
            self.device, "output", SPEAKER_RATE_HZ, self.period_ms, self.options, callback=self._callback
        )
        rate = int(stream.samplerate)
        if rate != self.rate_hz:
            self.rate_hz = rate
            self.played = Int16Ring(rate * 2)
            for tap in self.taps:  # a device back at another rate: what was queued is stale anyway
                tap.connect(rate)
        if self._keeper.losses:
            for tap in self.taps:
                tap.entry.buffer.flush(announce=False)
        self._channels = int(stream.channels)
        self.latency_s = float(stream.latency)
        return stream

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        mono = outdata[:, 0]
        now = self._keeper.beat()
        self.mixer.render(mono, now)
        if self._channels > 1:
            outdata[:, 1:] = outdata[:, :1]
        self.played.write(mono)
        if status:
            self.xruns += 1
        for tap in self.taps:
            if tap.observer is not None:
                tap.tell(tap.observer, now, self.rate_hz)

    def read_played(self, out: Samples) -> int:
        """Drain what the speaker played since the last call (device rate, all agents mixed)."""
        return self.played.read_into(out)


class SpeakerTap:
    """One agent's speaker on a shared device: 24 kHz in, its own jitter buffer, its own barge-in."""

    def __init__(self, device: SharedSpeaker, share: ShareMode, *, buffer_ms: int = 60, fade_ms: float = 4.0) -> None:
        self.device = device
        self.share: ShareMode = share
        self.buffer_ms = buffer_ms
        self.fade_ms = fade_ms
        self.dropped_frames = 0
        """24 kHz frames thrown away because the device was gone."""
        self.rate_hz = SPEAKER_RATE_HZ
        self.entry = MixerInput(self._new_buffer(SPEAKER_RATE_HZ), share)
        self.observer: AudioObserver | None = None
        """Told when this agent's samples are played and when its flush went silent (as a single agent's
        speaker port does): the bench and `runtime_interrupt_to_silence_seconds` read it."""
        self._resampler: Any = None

    def tell(self, observer: AudioObserver, now: float, rate_hz: int) -> None:
        """Report the period just rendered to `observer` (from the output callback)."""
        report_period(observer, self.entry.buffer, now, self.entry.first, self.entry.played, rate_hz)

    def _new_buffer(self, rate_hz: int) -> PlaybackBuffer:
        return new_playback(rate_hz, self.buffer_ms, self.fade_ms)

    def connect(self, rate_hz: int) -> None:
        """Play at the device's rate (called when attached, and if the device comes back at another rate)."""
        if rate_hz != self.rate_hz:
            self.rate_hz = rate_hz
            self.entry.buffer = self._new_buffer(rate_hz)
        self._resampler = None
        if rate_hz != SPEAKER_RATE_HZ:
            import soxr

            self._resampler = soxr.ResampleStream(SPEAKER_RATE_HZ, rate_hz, 1, dtype="int16")

    async def open(self) -> None:
        await self.device.attach(self)

    def write(self, pcm: bytes) -> None:
        if self.device.lost:
            self.dropped_frames += len(pcm) // 2
            return
        samples = np.frombuffer(pcm, dtype="<i2")
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self.entry.buffer.write(samples, time.monotonic())

    def flush(self) -> None:
        if self._resampler is not None:
            self._resampler.clear()
        self.entry.flush_pending = True
        self.entry.buffer.flush()

    def end_of_turn(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
            self._resampler.clear()
            if len(tail):
                self.entry.buffer.write(tail, time.monotonic())
        self.entry.buffer.end_of_turn()

    @property
    def playing(self) -> bool:
        """True while this agent's reply plays or waits for the speaker (`queue`)."""
        return self.entry.buffer.started or self.entry.waiting

    @property
    def underruns(self) -> int:
        return self.entry.buffer.underruns

    @property
    def lost(self) -> bool:
        return self.device.lost

    async def close(self) -> None:
        await self.device.detach(self)
