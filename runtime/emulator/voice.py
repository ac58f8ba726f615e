"""The model's synthetic voice: a vowel-like tone per character, cheap enough for many sessions at once."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

OUTPUT_RATE_HZ = 24000
CHAR_MS = 60
"""Speech time per character of the reply."""


@lru_cache(maxsize=256)
def _character(char: str) -> bytes:
    frames = OUTPUT_RATE_HZ * CHAR_MS // 1000
    if not char.strip():
        return bytes(frames * 2)
    time_s = np.arange(frames) / OUTPUT_RATE_HZ
    pitch_hz = 110.0 + (ord(char.lower()) % 26) * 9.0
    formant_hz = 700.0 + (ord(char.lower()) % 7) * 180.0
    wave = 0.6 * np.sin(2 * np.pi * pitch_hz * time_s) + 0.25 * np.sin(2 * np.pi * formant_hz * time_s)
    envelope = np.minimum(1.0, np.minimum(time_s, time_s[-1] - time_s) / 0.008)
    pcm: bytes = (wave * envelope * 9000).astype("<i2").tobytes()
    return pcm


def synthesize(text: str) -> bytes:
    """PCM16LE mono at 24 kHz, about 60 ms per character of `text`."""
    return b"".join(_character(char) for char in text)


def speech_seconds(text: str) -> float:
    return len(text) * CHAR_MS / 1000
