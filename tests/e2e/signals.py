"""Recognising this test's own audio on a shared rig: marker tones on the microphone, a one-letter reply voice
on the speaker, and a speaker recorder that stamps what it hears with `time.monotonic()`.

Other tests play into the same fake microphone and speaker at the same time, so nothing here looks at levels
alone: every check looks for a frequency only this test produces.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.audio.rig import Recorder

MIC_RATE_HZ = 16000
SPEAKER_RATE_HZ = 24000

REPLY_LETTER = "z"
"""The emulator voices each character as a pitch and a formant; `z` (272 Hz + 1240 Hz) is rare in other
tests' replies, so a reply of only z's is recognisable in a mix."""
REPLY_PITCH_HZ = 110.0 + (ord(REPLY_LETTER) % 26) * 9.0
REPLY_FORMANT_HZ = 700.0 + (ord(REPLY_LETTER) % 7) * 180.0


def amplitude_at(samples: np.ndarray, freq_hz: float, rate_hz: int) -> float:
    """Peak amplitude of the `freq_hz` component (a single Hann-windowed DFT bin)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return 0.0
    window = np.hanning(x.size)
    phase = np.exp(-2j * np.pi * freq_hz * np.arange(x.size) / rate_hz)
    return float(2 * abs(np.sum(x * window * phase)) / np.sum(window))


def has_marker(samples: np.ndarray, marker_hz: float, rate_hz: int = MIC_RATE_HZ) -> bool:
    """The marker tone stands out: strong, and well above the neighbouring frequencies (speech is broadband)."""
    level = amplitude_at(samples, marker_hz, rate_hz)
    around = max(amplitude_at(samples, marker_hz + offset, rate_hz) for offset in (-230.0, 230.0))
    return level > 1500 and level > 3 * around


def spoken(text: str, directory: Path, marker_hz: float, marker_level: float = 0.15) -> np.ndarray:
    """espeak-ng saying `text` at 16 kHz with a marker tone under it (from its first to its last sample)."""
    import soxr

    path = directory / f"{marker_hz:.0f}.wav"
    subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-s", "200", "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        rate_hz = wav.getframerate()
        voice = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    voice = soxr.resample(voice, rate_hz, MIC_RATE_HZ)
    loud = np.flatnonzero(np.abs(voice) > 500)
    voice = voice[loud[0] : loud[-1] + 1] if loud.size else voice
    voice *= 12000 / max(1.0, float(np.max(np.abs(voice))))
    t = np.arange(voice.size) / MIC_RATE_HZ
    tone = marker_level * 32767 * np.sin(2 * np.pi * marker_hz * t)
    mixed: np.ndarray = np.clip(voice + tone, -32767, 32767).astype(np.int16)
    return mixed


class TimedRecorder(Recorder):
    """A `Recorder` that knows when each block arrived (monotonic clock, the emulator's clock too)."""

    def __init__(self, name: str, rate_hz: int) -> None:
        super().__init__(name, rate_hz)
        self.arrivals: list[float] = []

    def __enter__(self) -> TimedRecorder:
        super().__enter__()
        return self

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        self.arrivals.append(time.monotonic())
        super()._callback(indata, frames, time_info, status)

    def sample_times(self) -> np.ndarray:
        """The monotonic time at which each recorded sample had been played (its block's arrival)."""
        times = [
            arrival - (np.arange(len(chunk), 0, -1) - 1) / self.rate_hz
            for arrival, chunk in zip(self.arrivals, self.chunks, strict=False)
        ]
        return np.concatenate(times) if times else np.zeros(0)


@dataclass(frozen=True)
class Segment:
    """A stretch of time (monotonic seconds) during which the reply voice was heard."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def reply_heard(samples: np.ndarray, times: np.ndarray, *, window_s: float = 0.1, hop_s: float = 0.02) -> list[Segment]:
    """Stretches where the speaker carried this test's reply voice (both its pitch and its formant)."""
    window, hop = int(window_s * SPEAKER_RATE_HZ), int(hop_s * SPEAKER_RATE_HZ)
    present: list[tuple[float, bool]] = []
    for start in range(0, max(0, samples.size - window), hop):
        chunk = samples[start : start + window]
        voiced = (
            amplitude_at(chunk, REPLY_PITCH_HZ, SPEAKER_RATE_HZ) > 1500
            and amplitude_at(chunk, REPLY_FORMANT_HZ, SPEAKER_RATE_HZ) > 600
        )
        present.append((float(times[start + window // 2]), voiced))
    return _runs(present, gap_s=0.15)


def _runs(present: list[tuple[float, bool]], gap_s: float) -> list[Segment]:
    segments: list[Segment] = []
    for at, voiced in present:
        if not voiced:
            continue
        if segments and at - segments[-1].end <= gap_s:
            segments[-1] = Segment(segments[-1].start, at)
        else:
            segments.append(Segment(at, at))
    return segments


def mic_audio(record: dict[str, Any]) -> np.ndarray | None:
    """The PCM of a `realtimeInput` audio message in the emulator's record, else None."""
    realtime = record["msg"].get("realtimeInput") or record["msg"].get("realtime_input") or {}
    blob = realtime.get("audio")
    if not blob:
        return None
    data = str(blob["data"])  # the SDK sends URL-safe base64
    return np.frombuffer(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)), dtype="<i2")


def marker_arrivals(records: list[dict[str, Any]], marker_hz: float) -> list[dict[str, Any]]:
    """The emulator's records of microphone chunks that carry the marker tone, in arrival order."""
    hits = []
    for record in records:
        pcm = mic_audio(record)
        if pcm is not None and pcm.size >= 160 and has_marker(pcm, marker_hz):
            hits.append(record)
    return hits


def model_audio_sent(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Server messages that carried the model's audio."""
    out = []
    for message in sent:
        turn = message["msg"].get("serverContent", {}).get("modelTurn", {})
        if any("inlineData" in part for part in turn.get("parts", [])):
            out.append(message)
    return out


def interruptions_sent(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in sent if m["msg"].get("serverContent", {}).get("interrupted")]


def marker_level(records: list[dict[str, Any]], marker_hz: float, said_at: float, seconds: float) -> float:
    """How loud the marker said at `said_at` for `seconds` reached the emulator: the mean marker amplitude of
    the loudest chunks that arrived while it was said, as many chunks as it lasted (window slack ignored)."""
    levels = sorted(
        (
            amplitude_at(pcm, marker_hz, MIC_RATE_HZ)
            for record in records
            if said_at <= float(record["mono"]) <= said_at + seconds + 0.5 and (pcm := mic_audio(record)) is not None
        ),
        reverse=True,
    )
    chunks = max(1, int(seconds / 0.02 * 0.8))
    return float(np.mean(levels[:chunks])) if levels else 0.0
