"""Numbered audio: every 20 ms block starts with a five-sample marker holding its index.

The bench follows one block from the microphone to the emulator, or from the emulator to the speaker, by
finding its marker again at the far end; that is what makes the latency figures per block and the
lost/duplicated frame counts exact, without trusting any message boundary or byte offset.
A marker is `[M, -M, lo, hi, lo ^ hi ^ K]` with small values, so it adds almost no energy (the emulator's
voice activity detection does not notice it) and a tone cannot forge one at an aligned position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MARK = 300
"""First marker sample; the second is its negative."""
CHECK_KEY = 0x55
MARKER_SAMPLES = 5
MAX_INDEX = 1 << 16
"""Indices wrap here (65536 blocks of 20 ms = 22 minutes)."""
TONE_HZ = 220
"""The "speech" tone (a whole number of hertz: `bench.devices.MicScript` relies on its phase repeating)."""

Pcm = npt.NDArray[np.int16]


def marker(index: int) -> list[int]:
    """The five samples that number block `index`."""
    lo, hi = index & 0xFF, (index >> 8) & 0xFF
    return [MARK, -MARK, lo, hi, lo ^ hi ^ CHECK_KEY]


def numbered_blocks(
    first: int, count: int, block_frames: int, rate_hz: int, tone_amplitude: int = 0, tone_hz: float = TONE_HZ
) -> Pcm:
    """`count` consecutive blocks from index `first`, each a marker followed by a tone (or silence)."""
    frames = np.arange(first * block_frames, (first + count) * block_frames)
    pcm = (tone_amplitude * np.sin(2 * np.pi * tone_hz * frames / rate_hz)).astype(np.int16)
    blocks = pcm.reshape(count, block_frames)
    for row, index in enumerate(range(first, first + count)):
        blocks[row, :MARKER_SAMPLES] = marker(index % MAX_INDEX)
    return blocks.reshape(-1)


def find_markers(pcm: Pcm) -> Iterator[tuple[int, int]]:
    """(sample position, block index) of every marker wholly inside `pcm`."""
    if len(pcm) < MARKER_SAMPLES:
        return
    x = pcm.astype(np.int32)
    head = np.flatnonzero((x[:-4] == MARK) & (x[1:-3] == -MARK))
    for pos in head.tolist():
        lo, hi, check = int(x[pos + 2]), int(x[pos + 3]), int(x[pos + 4])
        if 0 <= lo <= 0xFF and 0 <= hi <= 0xFF and check == lo ^ hi ^ CHECK_KEY:
            yield pos, lo | (hi << 8)


@dataclass
class MarkerScanner:
    """Finds markers in a stream that arrives in pieces of any size (a marker may straddle two pieces)."""

    carry: Pcm | None = None
    consumed: int = 0
    """Samples seen before the current piece, for absolute positions."""

    def feed(self, piece: bytes | Pcm) -> list[tuple[int, int]]:
        """Markers completed by this piece, as (absolute sample position, block index)."""
        pcm = np.frombuffer(piece, dtype="<i2") if isinstance(piece, bytes | bytearray | memoryview) else piece
        tail = self.carry if self.carry is not None else np.zeros(0, dtype=np.int16)
        joined = np.concatenate([tail, pcm])
        start = self.consumed - len(tail)
        found = [(start + pos, index) for pos, index in find_markers(joined)]
        keep = min(len(joined), MARKER_SAMPLES - 1)
        self.carry = joined[len(joined) - keep :].copy()
        self.consumed += len(pcm)
        return found
