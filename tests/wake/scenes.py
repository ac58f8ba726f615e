"""Test audio for the wake tests: scenes written to real WAV files, a microphone that reads them, a speaker.

Everything is clocked in audio time: the microphone counts the frames it delivered, the speaker's
`playing` flag follows the microphone's clock, so tests run far faster than real time and never depend on
the machine's speed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import numpy as np
import soxr

from runtime.audio.ports import MIC_RATE_HZ
from runtime.wake.detector import ThresholdDetector

RATE = MIC_RATE_HZ
BLOCK = 320
TONE_HZ = 1000.0


class EndOfAudio(Exception):
    """The WAV file is exhausted (a real microphone never ends)."""


def noise(seconds: float, dbfs: float = -55.0, seed: int = 0) -> np.ndarray:
    """Quiet white noise, so that every block of a scene is unique and can be located."""
    rms = 10 ** (dbfs / 20)
    return np.random.default_rng(seed).normal(0.0, rms, int(seconds * RATE)).astype(np.float32)


def tone(seconds: float, hz: float = TONE_HZ, peak: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (peak * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def babble(seconds: float, peak: float = 0.2, seed: int = 1) -> np.ndarray:
    """Voice-like sound: a 130 Hz buzz with harmonics, amplitude-modulated at a syllable rate (~4 Hz)."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    buzz = sum(np.sin(2 * np.pi * 130 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)
    return (peak * buzz * syllables / 3).astype(np.float32)


@dataclass
class Scene:
    """A timeline of sounds over a noise bed; `mark` remembers where things are (seconds)."""

    seconds: float
    noise_dbfs: float = -55.0
    seed: int = 0
    marks: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.samples = noise(self.seconds, self.noise_dbfs, self.seed)

    def add(self, at_s: float, sound: np.ndarray, name: str = "") -> float:
        """Mix `sound` in at `at_s`; returns where it ends."""
        start = int(at_s * RATE)
        self.samples[start : start + len(sound)] += sound[: len(self.samples) - start]
        end_s = at_s + len(sound) / RATE
        if name:
            self.marks[name] = at_s
            self.marks[name + "_end"] = end_s
        return end_s

    def pcm(self) -> bytes:
        return (np.clip(self.samples, -1, 1) * 32767).astype("<i2").tobytes()

    def write(self, path: Path) -> Path:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(self.pcm())
        return path


class WavMic:
    """An `AudioIn` over a WAV file; `on_block(position_s)` lets a test act at an exact audio time."""

    def __init__(self, path: Path, block_frames: int = BLOCK, on_block: Callable[[float], None] | None = None) -> None:
        self.block_frames = block_frames
        self.path = path
        self.on_block = on_block
        self.opens = 0
        self.closes = 0
        self.captured_frames = 0
        self._wav: wave.Wave_read | None = None

    @property
    def is_open(self) -> bool:
        return self._wav is not None

    async def open(self) -> None:
        self.opens += 1
        self._wav = wave.open(str(self.path), "rb")  # noqa: SIM115 - held open like a capture device
        self._wav.setpos(self.captured_frames)

    async def read(self) -> bytes:
        assert self._wav is not None, "read() on a closed microphone"
        block = self._wav.readframes(self.block_frames)
        if len(block) < self.block_frames * 2:
            raise EndOfAudio
        self.captured_frames += self.block_frames
        if self.on_block is not None:
            self.on_block(self.captured_frames / RATE)
        return block

    async def close(self) -> None:
        if self._wav is not None:
            self.closes += 1
            self._wav.close()
            self._wav = None


class PacedMic(WavMic):
    """The WAV microphone at four times real time (once `start` is set, if given), then quiet forever, like
    a real microphone that never ends; `exhausted` is set when the file has been read."""

    PACE_S = BLOCK / RATE / 4

    def __init__(self, path: Path, start: anyio.Event | None = None) -> None:
        super().__init__(path)
        self.start = start
        self.exhausted = anyio.Event()

    async def read(self) -> bytes:
        if self.start is not None:
            await self.start.wait()
        await anyio.sleep(self.PACE_S)
        try:
            return await super().read()
        except EndOfAudio:
            self.exhausted.set()
            await anyio.sleep_forever()
            raise


class ClockedSpeaker:
    """An `AudioOut` that plays during given spans of the microphone's audio time, and records writes."""

    def __init__(self, mic: WavMic, spans: Iterable[tuple[float, float]] = ()) -> None:
        self.mic = mic
        self.spans = list(spans)
        self.writes: list[tuple[float, bytes]] = []
        self.underruns = 0

    async def open(self) -> None: ...

    def write(self, pcm: bytes) -> None:
        self.writes.append((self.mic.captured_frames / RATE, pcm))

    def flush(self) -> None: ...

    def end_of_turn(self) -> None: ...

    @property
    def playing(self) -> bool:
        now_s = self.mic.captured_frames / RATE
        return any(start <= now_s < end for start, end in self.spans)

    async def close(self) -> None: ...


class _ToneScores:
    """Fraction of the energy of each 10 ms window at `TONE_HZ`, averaged over the last 150 ms."""

    window = 160

    def __init__(self, hz: float = TONE_HZ) -> None:
        self._rest = np.zeros(0, np.float32)
        self._recent: list[float] = []
        t = np.arange(self.window) / RATE
        self._probe = np.exp(-2j * np.pi * hz * t)

    def scores(self, pcm: bytes) -> Iterable[float]:
        samples = np.concatenate([self._rest, np.frombuffer(pcm, "<i2").astype(np.float32)])
        whole = len(samples) - len(samples) % self.window
        self._rest = samples[whole:]
        for frame in samples[:whole].reshape(-1, self.window):
            energy = float(np.dot(frame, frame)) + 1e-9
            ratio = 2 * abs(np.dot(frame, self._probe)) ** 2 / self.window / energy
            self._recent = [*self._recent[-14:], min(1.0, ratio)]
            yield sum(self._recent) / 15

    def reset(self) -> None:
        self._rest = np.zeros(0, np.float32)
        self._recent = []

    def close(self) -> None: ...


def tone_detector(refractory_s: float = 1.0, hz: float = TONE_HZ) -> ThresholdDetector:
    """A deterministic detector behind the real interface: fires on 150 ms of a steady tone (1 kHz unless
    `hz` says otherwise: one "wake word" per agent)."""
    name = "tone" if hz == TONE_HZ else f"tone_{hz:g}"
    return ThresholdDetector(name, _ToneScores(hz), 0.8, refractory_s)


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray | None:
    """`text` spoken by espeak-ng at 16 kHz (float, peak 0.3), or None when espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        return None
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as source:
        rate = source.getframerate()
        pcm = np.frombuffer(source.readframes(source.getnframes()), "<i2").astype(np.float32) / 32768
    speech = soxr.resample(pcm, rate, RATE)
    loud = np.flatnonzero(np.abs(speech) > 0.01 * np.abs(speech).max())
    speech = speech[loud[0] : loud[-1] + 1]  # espeak pads with silence: marks must be where speech is
    return (speech / (np.abs(speech).max() + 1e-9) * 0.3).astype(np.float32)
