"""The two audio ports every agent session talks to, whatever the hardware behind them.

Formats are fixed at the port boundary so sessions never resample: a microphone delivers 16 kHz mono
signed 16-bit little-endian PCM in blocks; a speaker takes 24 kHz mono signed 16-bit little-endian PCM.
Implementations: `files.py` (WAV files, null), `devices.py` (sounddevice/PortAudio).
"""

from __future__ import annotations

from typing import Protocol

MIC_RATE_HZ = 16_000
SPEAKER_RATE_HZ = 24_000
SAMPLE_BYTES = 2


class AudioIn(Protocol):
    """A microphone: 16 kHz mono int16 blocks, captured continuously while open."""

    block_frames: int
    """Frames in one block (320 for 20 ms)."""

    async def open(self) -> None:
        """Start capturing; raises `DeviceError` when the device is missing."""

    async def read(self) -> bytes:
        """The next block (block_frames * 2 bytes), waiting for it; raises `DeviceError` if the device failed."""

    async def close(self) -> None:
        """Stop capturing and release the device; safe to call twice."""


def ready_frames(mic: AudioIn) -> int | None:
    """16 kHz frames `mic.read()` could return now without waiting, or None when the microphone cannot tell.

    An optional method (`ready_frames()`) of the file, PortAudio and shared microphones: the wake gate uses it
    to read a silent room in bursts (`runtime/wake/gate.py`, `NAP_BLOCKS`).
    """
    method = getattr(mic, "ready_frames", None)
    if not callable(method):
        return None
    ready = method()
    return None if ready is None else int(ready)


class AudioOut(Protocol):
    """A speaker: queued 24 kHz mono int16 audio, played at the device's pace."""

    async def open(self) -> None:
        """Start the output stream; raises `DeviceError` when the device is missing."""

    def write(self, pcm: bytes) -> None:
        """Queue audio for playback; never blocks."""

    def flush(self) -> None:
        """Barge-in: drop everything queued and fade out within one device period."""

    def end_of_turn(self) -> None:
        """The model's turn is complete: play out what is queued without waiting for more."""

    @property
    def playing(self) -> bool:
        """True while queued audio is being played (used by half-duplex echo gating and the wake lifecycle)."""

    @property
    def underruns(self) -> int:
        """Callback periods that found the buffer empty in the middle of a turn."""

    async def close(self) -> None:
        """Stop and release the device; safe to call twice."""


class AudioObserver(Protocol):
    """Benchmark hook a port calls from its audio thread; must return at once (no I/O, no locks).

    Times are `time.monotonic()` seconds, comparable with timestamps taken on the event loop.
    """

    def mic_block_ready(self, t_s: float, frames: int) -> None:
        """A microphone block of `frames` (device rate) arrived in the input callback."""

    def samples_played(self, t_s: float, first_frame: int, frames: int) -> None:
        """The output callback handed queued audio to the device: 24 kHz frames [first, first + frames)
        counted from the first `write` (excluding flushed audio is the caller's business)."""

    def silence_after_flush(self, t_s: float) -> None:
        """After a `flush`, the output callback faded out and started playing silence at `t_s`."""
