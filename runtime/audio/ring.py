"""A single-producer single-consumer ring of int16 samples shared between an event loop and an audio callback.

Neither side ever blocks or allocates a buffer: the producer only advances `written`, the consumer only
advances `consumed`, and both are plain integers whose assignment is atomic under the GIL. The producer
never waits for room: when the consumer falls a whole ring behind, the oldest samples are overwritten and
the consumer skips past them (counted in `dropped`), which is the policy a microphone wants.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


class Int16Ring:
    """Mono int16 ring buffer; indices count samples since creation and never wrap."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("ring capacity must be positive")
        self.capacity = capacity
        self._buffer: Samples = np.zeros(capacity, dtype=np.int16)
        self.written = 0
        """Samples ever written (producer side)."""
        self.consumed = 0
        """Samples ever consumed or skipped (consumer side)."""
        self.dropped = 0
        """Samples overwritten before the consumer got to them."""

    @property
    def available(self) -> int:
        """Samples waiting for the consumer (capped at the capacity)."""
        return min(self.written - self.consumed, self.capacity)

    @property
    def free(self) -> int:
        """Room left before the producer starts overwriting unread samples."""
        return self.capacity - (self.written - self.consumed)

    def write(self, samples: Samples) -> None:
        """Producer: append samples, overwriting the oldest unread ones if the ring is full."""
        count = len(samples)
        if count > self.capacity:
            samples = samples[count - self.capacity :]
            self.written += count - self.capacity
            count = self.capacity
        start = self.written % self.capacity
        first = min(count, self.capacity - start)
        self._buffer[start : start + first] = samples[:first]
        if first < count:
            self._buffer[: count - first] = samples[first:]
        self.written += count

    def read_into(self, out: Samples, limit: int | None = None) -> int:
        """Consumer: copy up to `len(out)` (or `limit`) of the oldest samples into `out`; returns the count."""
        self._skip_overwritten()
        count = min(self.written - self.consumed, len(out) if limit is None else min(limit, len(out)))
        if count <= 0:
            return 0
        start = self.consumed % self.capacity
        first = min(count, self.capacity - start)
        out[:first] = self._buffer[start : start + first]
        if first < count:
            out[first:count] = self._buffer[: count - first]
        self.consumed += count
        return count

    def skip_to(self, index: int) -> None:
        """Consumer: discard everything before the absolute sample index `index`."""
        self.consumed = max(self.consumed, min(index, self.written))

    def clear(self) -> None:
        """Consumer: discard everything written so far."""
        self.consumed = self.written

    def _skip_overwritten(self) -> None:
        behind = self.written - self.consumed
        if behind > self.capacity:
            # Skip a quarter ring past the overwrite point so the producer cannot lap us mid-copy.
            skip = behind - self.capacity + self.capacity // 4
            self.dropped += skip
            self.consumed += skip
