"""Several agents' replies on one speaker: who is heard when, and no clipping when they overlap.

Each agent writes into its own `PlaybackBuffer` (its own jitter buffer, its own flush: a barge-in silences
the interrupted agent only). Once per device period the output callback asks `Mixer.render` for the
period, which renders each agent's buffer and sums them, by each agent's `audio.output.share`:

- `queue` (the default): the agent's reply waits while another agent's reply is playing and starts when
  the speaker is free. Two voices at once are hard to follow, and a reply that waits loses nothing.
- `mix`: the reply plays at once, summed with whatever else plays.
- `duck`: the reply plays at once and every other reply is lowered (`DUCK_GAIN`) while it plays.

The sum goes through a limiter: when it would exceed full scale the gain drops at once to fit and comes
back slowly, ramped across each period so a change of gain does not click. Pure arithmetic, no clock of
its own and no device: tests drive `render` directly, `speaker.py` calls it from the PortAudio callback.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from runtime.audio.playback import PlaybackBuffer
from runtime.audio.ring import Samples

ShareMode = Literal["mix", "queue", "duck"]
SHARE_MODES: tuple[ShareMode, ...] = ("queue", "mix", "duck")

DUCK_GAIN = 0.25
"""Gain of the other replies while a `duck` reply plays (-12 dB: still heard, clearly behind)."""
FULL_SCALE = 32767.0
LIMITER_RELEASE_PER_PERIOD = 0.05
"""How much the limiter's gain may rise per period once the peak is gone (back to 1 in about 0.4 s at 20 ms)."""


class MixerInput:
    """One agent's place in the mix: its playback buffer and how it shares the speaker."""

    def __init__(self, buffer: PlaybackBuffer, share: ShareMode) -> None:
        self.buffer = buffer
        self.share: ShareMode = share
        self.flush_pending = False
        """Set by the writer on flush: a reply waiting its turn (`queue`) is dropped even while not rendered."""
        self.gain = 1.0
        """The gain applied at the end of the last period (ramped from there in the next)."""
        self.waiting = False
        """True while this input has audio queued that waits for another reply to end (`queue`)."""
        self.period: Samples = np.zeros(0, dtype=np.int16)
        """This input's part of the current period (the mixer's scratch, sized by it)."""
        self.first = 0
        """The buffer's read position (frames consumed) at the start of the last period rendered."""
        self.played = 0
        """Frames of reply the last period took from this input (0 while it waits its turn)."""


class Mixer:
    """Sums the inputs of one speaker, one period at a time (called from the output callback only)."""

    def __init__(self, max_period_frames: int) -> None:
        self.inputs: list[MixerInput] = []
        """Replaced as a whole by the event loop (never mutated in place), so the callback sees a stable list."""
        self._acc: npt.NDArray[np.float32] = np.zeros(max_period_frames, dtype=np.float32)
        self._ramp: npt.NDArray[np.float32] = np.zeros(max_period_frames, dtype=np.float32)
        self.limiter_gain = 1.0
        self.limited_periods = 0
        """Periods in which the limiter had to lower the sum (the replies overlapped too loudly)."""

    def add(self, entry: MixerInput) -> None:
        self.inputs = [*self.inputs, entry]

    def remove(self, entry: MixerInput) -> None:
        self.inputs = [each for each in self.inputs if each is not entry]

    def render(self, out: Samples, now: float = 0.0) -> int:
        """Fill `out` with the next period; returns how many frames of it came from some reply."""
        frames = len(out)
        self._grow(frames)
        acc = self._acc[:frames]
        acc[:] = 0.0
        inputs = self.inputs
        rendered = [self._render_one(entry, inputs, now, frames) for entry in inputs]
        ducking = any(entry.share == "duck" and played for entry, played in zip(inputs, rendered, strict=True))
        for entry, played in zip(inputs, rendered, strict=True):
            if played is None:
                continue
            target = DUCK_GAIN if ducking and entry.share != "duck" else 1.0
            self._add(acc, entry, target, frames, played)
        heard = max((p for p in rendered if p is not None), default=0)
        self._limit(acc, out)
        return heard

    def _render_one(self, entry: MixerInput, inputs: list[MixerInput], now: float, frames: int) -> int | None:
        """Render `entry`'s buffer into its `period`; None when it is waiting its turn (nothing rendered)."""
        buffer = entry.buffer
        entry.first, entry.played = buffer.ring.consumed, 0
        if len(entry.period) < frames:
            entry.period = np.zeros(frames, dtype=np.int16)  # once per input (or a larger period): not per call
        one = entry.period[:frames]
        if entry.share == "queue" and not buffer.started and _another_playing(entry, inputs):
            if entry.flush_pending:
                entry.flush_pending = False
                buffer.render(one, now)  # drops the waiting reply; the output is silence
            entry.waiting = buffer.queued_frames > 0
            return None
        entry.flush_pending = False
        entry.waiting = False
        entry.played = buffer.render(one, now)
        return entry.played

    def _add(self, acc: npt.NDArray[np.float32], entry: MixerInput, target: float, frames: int, played: int) -> None:
        if played == 0 and entry.gain == target:
            return
        one = entry.period[:frames]
        if entry.gain == target:
            acc += one * np.float32(target) if target != 1.0 else one
        else:
            ramp = self._ramp[:frames]
            ramp[:] = np.linspace(entry.gain, target, frames, dtype=np.float32)
            acc += one * ramp
            entry.gain = target

    def _limit(self, acc: npt.NDArray[np.float32], out: Samples) -> None:
        peak = float(np.max(np.abs(acc))) if len(acc) else 0.0
        start = self.limiter_gain
        wanted = min(1.0, start + LIMITER_RELEASE_PER_PERIOD)
        if peak * wanted > FULL_SCALE:
            wanted = FULL_SCALE / peak
            self.limited_periods += 1
        self.limiter_gain = wanted
        if start != 1.0 or wanted != 1.0:
            # Attack at once (the whole period's peak is known before it plays), release ramped across it.
            ramp = self._ramp[: len(acc)]
            ramp[:] = wanted if wanted < start else np.linspace(start, wanted, len(acc), dtype=np.float32)
            acc *= ramp
        np.clip(acc, -FULL_SCALE - 1, FULL_SCALE, out=acc)
        out[:] = acc

    def _grow(self, frames: int) -> None:
        if frames > len(self._acc):
            self._acc = np.zeros(frames, dtype=np.float32)
            self._ramp = np.zeros(frames, dtype=np.float32)

    @property
    def playing(self) -> bool:
        return any(entry.buffer.started for entry in self.inputs)


def _another_playing(entry: MixerInput, inputs: list[MixerInput]) -> bool:
    return any(other is not entry and other.buffer.started for other in inputs)
