"""`runtime_interrupt_to_silence_seconds`: from the service's `interrupted` to the speaker actually falling silent.

The speaker's port tells its `AudioObserver` when it played silence after a flush, from its audio thread;
`SilenceClock` keeps the last such time in one float (no lock, no I/O, as the audio thread requires). The
loop reads it later, when Prometheus scrapes, and pairs it with the interruption it followed. Ports without an
observer (WAV files, null) report nothing and the histogram stays empty for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator


class SilenceClock:
    """An `AudioObserver` that only remembers when the speaker last went silent after a flush (monotonic s)."""

    def __init__(self) -> None:
        self.silent_at_s = 0.0

    def mic_block_ready(self, t_s: float, frames: int) -> None:
        """Not needed here."""

    def samples_played(self, t_s: float, first_frame: int, frames: int) -> None:
        """Not needed here."""

    def silence_after_flush(self, t_s: float) -> None:
        self.silent_at_s = t_s


class InterruptTimer:
    """Pairs each agent's latest interruption with the silence that followed it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending: dict[str, float] = {}
        self._clocks: dict[str, SilenceClock] = {}

    def watch(self, agent: str, speaker: object) -> None:
        """Observe `speaker` (a port with an `observer` slot that nobody else uses) from now on."""
        if getattr(speaker, "observer", False) is None:
            clock = SilenceClock()
            speaker.observer = clock  # type: ignore[attr-defined]
            self._clocks[agent] = clock

    def interrupted(self, agent: str) -> None:
        if agent in self._clocks:
            self._pending[agent] = self._clock()

    def settle(self) -> Iterator[tuple[str, float]]:
        """(agent, seconds) for each interruption whose silence has been played since."""
        for agent, began in list(self._pending.items()):
            silent_at = self._clocks[agent].silent_at_s
            if silent_at >= began:
                del self._pending[agent]
                yield agent, silent_at - began

    def forget(self, agent: str) -> None:
        self._pending.pop(agent, None)
        self._clocks.pop(agent, None)
