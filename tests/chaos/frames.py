"""Numbered microphone audio: every 20 ms block carries its agent and its sequence number, so the audio that
reached the server can be checked frame by frame against what the microphone captured.

A block starts with a quiet code (16 sync samples, 8 agent bits, 24 number bits, each +-CODE_LEVEL; RMS far
below any voice threshold). "Speech" blocks fill the rest with a loud tone, so the server's voice activity
detection hears turns; "quiet" blocks leave it at zero.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE_HZ = 16_000
BLOCK_FRAMES = 320
"""One microphone block: 20 ms at 16 kHz (the agent file's default `block_ms`)."""
BLOCK_BYTES = BLOCK_FRAMES * 2
CODE_LEVEL = 256
SPEECH_LEVEL = 6000
SYNC = (1, -1, 1, 1, -1, -1, 1, -1, 1, 1, 1, -1, -1, -1, 1, -1)
AGENT_BITS = 8
NUMBER_BITS = 24
CODE_SAMPLES = len(SYNC) + AGENT_BITS + NUMBER_BITS


@dataclass(frozen=True)
class SpeechPattern:
    """When the simulated user talks: `speech_s` of voice at the start of every `period_s` (after `lead_s`)."""

    period_s: float = 3.0
    speech_s: float = 1.0
    lead_s: float = 1.0

    def speaking(self, time_s: float) -> bool:
        if time_s < self.lead_s:
            return False
        return (time_s - self.lead_s) % self.period_s < self.speech_s


def _bits(value: int, count: int) -> list[int]:
    return [(value >> (count - 1 - index)) & 1 for index in range(count)]


def encode_block(agent: int, number: int, *, speech: bool) -> bytes:
    """One 20 ms block: the code, then a tone (speech) or zeros."""
    code = list(SYNC) + [1 if bit else -1 for bit in _bits(agent, AGENT_BITS) + _bits(number, NUMBER_BITS)]
    samples = np.zeros(BLOCK_FRAMES, dtype=np.float64)
    samples[:CODE_SAMPLES] = np.array(code, dtype=np.float64) * CODE_LEVEL
    if speech:
        t = np.arange(CODE_SAMPLES, BLOCK_FRAMES) / RATE_HZ
        samples[CODE_SAMPLES:] = SPEECH_LEVEL * np.sin(2 * np.pi * 220.0 * t)
    return bytes(samples.astype("<i2").tobytes())


def numbered_pcm(agent: int, seconds: float, pattern: SpeechPattern) -> bytes:
    """`seconds` of numbered microphone audio for one agent (blocks 0, 1, 2, ...)."""
    blocks = int(seconds * RATE_HZ / BLOCK_FRAMES)
    return b"".join(
        encode_block(agent, number, speech=pattern.speaking(number * BLOCK_FRAMES / RATE_HZ))
        for number in range(blocks)
    )


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE_HZ)
        wav.writeframes(pcm)


def decode_block(block: bytes) -> tuple[int, int] | None:
    """(agent, number) of a numbered block, or None (silence after the file, or not one of ours)."""
    if len(block) < CODE_SAMPLES * 2:
        return None
    signs = np.sign(np.frombuffer(block[: CODE_SAMPLES * 2], dtype="<i2"))
    if tuple(int(s) for s in signs[: len(SYNC)]) != SYNC or np.any(signs == 0):
        return None
    bits = [1 if s > 0 else 0 for s in signs[len(SYNC) :]]
    agent = int("".join(map(str, bits[:AGENT_BITS])), 2)
    number = int("".join(map(str, bits[AGENT_BITS:])), 2)
    return agent, number


def decode_chunks(chunks: Iterable[bytes]) -> Iterator[tuple[int, int] | None]:
    """Every block of every chunk (a chunk is one `realtimeInput` audio message: whole blocks)."""
    for chunk in chunks:
        for offset in range(0, len(chunk), BLOCK_BYTES):
            yield decode_block(chunk[offset : offset + BLOCK_BYTES])


@dataclass
class FrameCount:
    """How a stream of frame numbers compares with the microphone's 0, 1, 2, ..."""

    received: int = 0
    lost: int = 0
    duplicated: int = 0
    reopened: int = 0
    """Times the numbering started again from 0 (the microphone was opened again: an agent restart)."""


def count_frames(numbers: Iterable[int]) -> FrameCount:
    """Gaps and repeats in frame numbers in arrival order; a return to (near) 0 is a reopened microphone."""
    count = FrameCount()
    previous: int | None = None
    for number in numbers:
        count.received += 1
        if previous is None:
            count.lost += number
        elif number == previous + 1:
            pass
        elif number > previous + 1:
            count.lost += number - previous - 1
        elif number < 5 < previous:
            count.reopened += 1
            count.lost += number
        else:
            count.duplicated += 1
            continue
        previous = number
    return count
