"""How much echo the canceller removes, measured live: ERLE, echo return loss enhancement.

ERLE = 10·log10(power of the microphone before cancellation / power after it), in dB. It only means something
while the speaker plays and the user is silent (far-end single talk): in silence there is no echo to remove,
and the user's own voice is meant to pass. So the canceller hands over a block's two powers only in those
moments, and the meter keeps an exponential average of each (a window of a couple of seconds); the ratio of
the averages weights loud blocks more than quiet ones, as a power ratio should.

The canceller already computes both levels for its guard; what the meter adds per block is four
multiply-adds, and the logarithm is taken only when someone reads `erle_db` (a Prometheus scrape).
"""

from __future__ import annotations

import math

POWER_FLOOR = 1.0
"""One least significant bit squared: the output of a canceller that removed everything is not zero power."""
WINDOW_S = 2.0
"""Time constant of the averages, in seconds of counted audio (echo-only blocks)."""
SETTLE_S = 0.5
"""Counted audio needed before the first estimate, so a single block never makes a figure."""


class ErleMeter:
    """Averages the power before and after cancellation over the blocks where only the speaker is heard."""

    def __init__(self, block_ms: int, *, window_s: float = WINDOW_S, settle_s: float = SETTLE_S) -> None:
        self._alpha = min(1.0, block_ms / (1000 * window_s))
        self._settle_blocks = max(1, math.ceil(1000 * settle_s / block_ms))
        self._before = 0.0
        self._after = 0.0
        self.blocks = 0
        """Blocks counted so far (echo-only blocks)."""

    def add(self, before_power: float, after_power: float) -> None:
        """One echo-only block's mean power before and after cancellation (int16 units squared)."""
        if self.blocks == 0:
            self._before, self._after = before_power, after_power
        else:
            self._before += self._alpha * (before_power - self._before)
            self._after += self._alpha * (after_power - self._after)
        self.blocks += 1

    @property
    def erle_db(self) -> float | None:
        """The current estimate in dB; None until enough echo-only audio has been heard."""
        if self.blocks < self._settle_blocks:
            return None
        return 10 * math.log10(max(self._before, POWER_FLOOR) / max(self._after, POWER_FLOOR))
