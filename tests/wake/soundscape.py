"""Hours of household sound without a wake word: speech in several voices over changing noise and music.

Built minute by minute from a seed, so an hour never sits in memory and every run hears the same hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import numpy as np

from tests.wake.scenes import RATE, espeak

SENTENCES = (
    "What time does the bakery open on Sunday morning?",
    "Could you put the kettle on, please?",
    "The train to the city was late again this evening.",
    "I think we need more milk, eggs and some bread.",
    "Remember to water the tomatoes before you go out.",
    "Did anyone see where I left my glasses?",
    "The football match starts at half past seven.",
    "Turn the music down a little, the baby is sleeping.",
    "We should paint the fence before the winter comes.",
    "My sister called, she is coming for dinner on Friday.",
    "How many spoons of sugar do you take in your coffee?",
    "The weather forecast says it will rain all weekend.",
)
VOICES = (("en-us", 160), ("en-gb+m3", 150), ("en-us+f3", 175), ("en-us+m7", 140))


@cache
def speech_clips() -> tuple[np.ndarray, ...]:
    """Every sentence in every voice (float, peak 0.3); empty when espeak-ng is missing."""
    clips = [espeak(text, voice, speed) for voice, speed in VOICES for text in SENTENCES]
    return tuple(clip for clip in clips if clip is not None)


def _noise_bed(rng: np.random.Generator, frames: int) -> np.ndarray:
    kind = rng.integers(4)
    level = 10 ** (rng.uniform(-60, -35) / 20)
    if kind == 0:  # white: fans, rain
        bed = rng.normal(0, 1, frames)
    elif kind == 1:  # brown: traffic, rumble
        bed = np.cumsum(rng.normal(0, 1, frames))
        bed -= np.convolve(bed, np.ones(801) / 801, mode="same")
    elif kind == 2:  # mains hum and harmonics: fridges, transformers
        t = np.arange(frames) / RATE
        bed = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 8)) + rng.normal(0, 0.2, frames)
    else:  # music: a chord every half second
        bed = _chords(rng, frames)
    return (bed / (np.std(bed) + 1e-9) * level).astype(np.float32)


def _chords(rng: np.random.Generator, frames: int) -> np.ndarray:
    step = RATE // 2
    t = np.arange(step) / RATE
    notes = [sum(np.sin(2 * np.pi * 220 * 2 ** (rng.integers(24) / 12) * t) for _ in range(3)) for _ in range(8)]
    envelope = np.exp(-3 * t)
    return np.concatenate([notes[rng.integers(8)] * envelope for _ in range(frames // step + 1)])[:frames]


def minutes(count: int, seed: int = 0) -> Iterator[bytes]:
    """`count` minutes of 16 kHz int16 audio, one minute at a time."""
    clips = speech_clips()
    rng = np.random.default_rng(seed)
    frames = 60 * RATE
    for _ in range(count):
        minute = _noise_bed(rng, frames)
        at = int(rng.uniform(0, 2) * RATE)
        while clips and at < frames:
            clip = clips[rng.integers(len(clips))] * rng.uniform(0.15, 1.5)
            end = min(frames, at + len(clip))
            minute[at:end] += clip[: end - at]
            at = end + int(rng.uniform(0.2, 3.0) * RATE)
        yield (np.clip(minute, -1, 1) * 32767).astype("<i2").tobytes()
