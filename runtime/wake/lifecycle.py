"""The conversation lifecycle as pure logic: listening → conversation → listening, clocked in audio time.

Nothing here reads a device or a clock: the gate feeds it microphone blocks and the speaker's `playing`
flag, so the same code runs at real time on a Pi and at hundreds of times real time in the tests.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from runtime.audio.ports import MIC_RATE_HZ


class ConversationState(enum.Enum):
    """What the wake gate is doing with the microphone."""

    LISTENING = "listening"
    """Audio goes only to the local detector and the pre-roll; nothing is returned."""
    CONVERSATION = "conversation"
    """Audio is returned to the session (and so streamed to the model)."""
    MUTED = "muted"
    """The microphone is closed; nothing is captured at all."""


@dataclass(frozen=True)
class ConversationEvent:
    """A lifecycle transition, in audio time (seconds of microphone audio read so far)."""

    state: ConversationState
    """The state entered."""
    at_s: float
    """Audio time of the transition."""
    reason: str
    """`wake` (with `score`), `idle`, `muted`, `unmuted`, `ended` (asked by the session)."""
    score: float = 0.0
    """The detector's score for a `wake`."""


class ConversationListener(Protocol):
    """Told about every transition, synchronously, from the task that reads the gate.

    A session uses it to send `audio_stream_end` when a conversation ends and, if it disconnects between
    conversations, to reconnect on `wake` while the first blocks wait in the gate.
    """

    def __call__(self, event: ConversationEvent) -> None: ...


class EnergyVad:
    """Is someone talking near the microphone? Block energy against the recent noise floor.

    Only used to keep a conversation open, never to decide what is sent, so a cheap detector is enough.
    The floor is the quietest block of the last `window_s` seconds: the gaps between words keep it low
    while someone talks, and a fan switched on becomes the new floor after `window_s`.
    """

    def __init__(self, margin_db: float = 12.0, min_speech_dbfs: float = -55.0, window_s: float = 3.0) -> None:
        self.margin_db = margin_db
        self.min_speech_dbfs = min_speech_dbfs
        self.window_s = window_s
        self._levels: deque[float] = deque()

    @property
    def floor_dbfs(self) -> float:
        return min(self._levels, default=-120.0)

    def is_speech(self, pcm: bytes, level_dbfs: float | None = None) -> bool:
        """Feed one block (every block, speech or not, so the floor keeps tracking the room); `level_dbfs`:
        its `block_dbfs` when the caller has measured it already."""
        level = block_dbfs(pcm) if level_dbfs is None else level_dbfs
        frames = len(pcm) // 2
        if self._levels.maxlen is None and frames:
            self._levels = deque(self._levels, maxlen=max(1, round(self.window_s * MIC_RATE_HZ / frames)))
        floor = self.floor_dbfs if self._levels else level
        self._levels.append(level)
        return level >= self.min_speech_dbfs and level >= floor + self.margin_db


def block_dbfs(pcm: bytes) -> float:
    """RMS level of int16 audio relative to full scale (dBFS; -120 for digital silence)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    if samples.size == 0:
        return -120.0
    # One dot product rather than np.mean(samples * samples): a temporary array and numpy's Python-level
    # mean wrappers less, on every 20 ms block an idle wake-word agent hears (bench/idle.py).
    rms = math.sqrt(float(np.dot(samples, samples)) / samples.size) / 32768.0
    return 20.0 * math.log10(rms) if rms > 1e-6 else -120.0


class IdleTimer:
    """Ends a conversation after `timeout_s` of audio time with neither user nor model speech."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._last_activity_s = 0.0

    def restart(self, now_s: float) -> None:
        """Something happened (wake, user speech, model speech, a tool call): the countdown starts again."""
        self._last_activity_s = now_s

    def expired(self, now_s: float) -> bool:
        return now_s - self._last_activity_s >= self.timeout_s

    @property
    def last_activity_s(self) -> float:
        return self._last_activity_s
