"""Energy-based voice activity detection, with the knobs of the Live API's automatic activity detection."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

FRAME_MS = 10


class VadEvent(Enum):
    SPEECH_STARTED = "speech_started"
    SPEECH_ENDED = "speech_ended"


@dataclass(frozen=True)
class VadSettings:
    """Mirror of `realtimeInputConfig.automaticActivityDetection`."""

    start_sensitivity: str = "START_SENSITIVITY_HIGH"
    end_sensitivity: str = "END_SENSITIVITY_HIGH"
    prefix_padding_ms: int = 20
    """Speech must last this long before its start is committed."""
    silence_duration_ms: int = 500
    """Silence must last this long before the end of speech is committed."""

    @property
    def start_rms(self) -> float:
        """RMS (int16 units) a frame needs to count as speech when the user is silent."""
        return 1000.0 if self.start_sensitivity == "START_SENSITIVITY_LOW" else 300.0

    @property
    def end_rms(self) -> float:
        """RMS under which a frame counts as silence while the user speaks; a high end sensitivity ends sooner."""
        return 150.0 if self.end_sensitivity == "END_SENSITIVITY_LOW" else 250.0

    @classmethod
    def from_setup(cls, detection: dict[str, object]) -> VadSettings:
        def number(key: str, default: int) -> int:
            value = detection.get(key)
            return int(value) if isinstance(value, int | float) else default

        return cls(
            start_sensitivity=str(detection.get("startOfSpeechSensitivity", "START_SENSITIVITY_HIGH")),
            end_sensitivity=str(detection.get("endOfSpeechSensitivity", "END_SENSITIVITY_HIGH")),
            prefix_padding_ms=number("prefixPaddingMs", cls.prefix_padding_ms),
            silence_duration_ms=number("silenceDurationMs", cls.silence_duration_ms),
        )


class EnergyVad:
    """Feeds PCM16 blocks, reports speech start and end; works on whole numpy frames, not per sample."""

    def __init__(self, settings: VadSettings, rate_hz: int = 16000) -> None:
        self.settings = settings
        self.speaking = False
        self._frame = max(1, rate_hz * FRAME_MS // 1000)
        self._pending = np.zeros(0, dtype=np.int16)
        self._run_ms = 0

    def set_rate(self, rate_hz: int) -> None:
        self._frame = max(1, rate_hz * FRAME_MS // 1000)

    def feed(self, pcm: bytes) -> list[VadEvent]:
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        whole = samples.size // self._frame * self._frame
        self._pending = samples[whole:].copy()
        if not whole:
            return []
        frames = samples[:whole].reshape(-1, self._frame).astype(np.float32)
        levels = np.sqrt(np.mean(frames * frames, axis=1))
        return [event for level in levels.tolist() if (event := self._step(level)) is not None]

    def _step(self, level: float) -> VadEvent | None:
        if not self.speaking:
            self._run_ms = self._run_ms + FRAME_MS if level >= self.settings.start_rms else 0
            if self._run_ms >= max(self.settings.prefix_padding_ms, FRAME_MS):
                self.speaking, self._run_ms = True, 0
                return VadEvent.SPEECH_STARTED
            return None
        self._run_ms = self._run_ms + FRAME_MS if level < self.settings.end_rms else 0
        if self._run_ms >= max(self.settings.silence_duration_ms, FRAME_MS):
            self.speaking, self._run_ms = False, 0
            return VadEvent.SPEECH_ENDED
        return None

    def reset(self) -> None:
        self.speaking, self._run_ms = False, 0
        self._pending = np.zeros(0, dtype=np.int16)
