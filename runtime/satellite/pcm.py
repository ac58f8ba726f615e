"""Format conversion at the satellite boundary, as plain functions and small stream objects (no I/O).

A satellite announces its microphone format in every `audio-chunk` (and in `audio-start` when it sends one):
rate, width in bytes, channels. The agent's ports are fixed (`runtime.audio.ports`): the microphone gives
16 kHz mono int16 blocks, the speaker takes 24 kHz mono int16. The speaker side needs no conversion here:
the satellite converts what it is sent to what its speaker plays (wyoming `snd.SndProcessAsyncClient` runs
every chunk through `AudioChunkConverter(rate, width, channels)` of its `--snd-command-*` settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.audio.ports import MIC_RATE_HZ, SAMPLE_BYTES


@dataclass(frozen=True)
class PcmFormat:
    """What an `audio-start` or `audio-chunk` event says about its audio."""

    rate_hz: int
    width_bytes: int
    channels: int


MIC_FORMAT = PcmFormat(MIC_RATE_HZ, SAMPLE_BYTES, 1)


def plausible(fmt: PcmFormat) -> bool:
    """A format a microphone can have (a peer's claim is checked before a resampler is built on it)."""
    return 4_000 <= fmt.rate_hz <= 384_000 and fmt.width_bytes in (1, 2, 4) and 1 <= fmt.channels <= 16


def to_float_mono(audio: bytes, fmt: PcmFormat) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Interleaved PCM of `fmt` as mono float32 in [-1, 1] (channels averaged)."""
    if fmt.width_bytes == 2:
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
    elif fmt.width_bytes == 4:
        samples = np.frombuffer(audio, dtype="<i4").astype(np.float32) / 2147483648.0
    elif fmt.width_bytes == 1:
        samples = (np.frombuffer(audio, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise ValueError(f"{fmt.width_bytes * 8}-bit satellite audio is not supported")
    if fmt.channels > 1:
        usable = len(samples) - len(samples) % fmt.channels
        samples = samples[:usable].reshape(-1, fmt.channels).mean(axis=1)
    return samples


class MicBlocks:
    """Satellite microphone chunks in, the agent's 16 kHz mono int16 blocks of `block_frames` out.

    A resampler keeps its state across chunks of one format (no clicks at chunk edges); a new format (an
    `audio-start` announcing another rate, a reconnect) starts a fresh one.
    """

    def __init__(self, block_frames: int) -> None:
        self.block_bytes = block_frames * SAMPLE_BYTES
        self._pending = bytearray()
        self._format: PcmFormat | None = None
        self._resampler: Any = None

    def push(self, audio: bytes, fmt: PcmFormat) -> list[bytes]:
        """Add one chunk; the whole blocks now available, in order."""
        self._pending += self._convert(audio, fmt)
        blocks = []
        while len(self._pending) >= self.block_bytes:
            blocks.append(bytes(self._pending[: self.block_bytes]))
            del self._pending[: self.block_bytes]
        return blocks

    def reset(self) -> None:
        """Forget a partial block and the resampler (the satellite's stream ended or was cut)."""
        self._pending.clear()
        self._format = None
        self._resampler = None

    def _convert(self, audio: bytes, fmt: PcmFormat) -> bytes:
        if fmt == MIC_FORMAT:
            return audio
        if fmt != self._format:
            self._format = fmt
            self._resampler = None
            if fmt.rate_hz != MIC_RATE_HZ:
                import soxr

                self._resampler = soxr.ResampleStream(fmt.rate_hz, MIC_RATE_HZ, 1, dtype="float32")
        samples = to_float_mono(audio, fmt)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        return bytes((np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())
