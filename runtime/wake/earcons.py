"""The short sounds that say "I'm listening" and "I've stopped listening", as 24 kHz speaker PCM.

The built-in ones are synthesised (two soft sine notes, rising to start and falling to end) so the wheel
carries no audio files; a user's WAV of any rate, width 16 bit, mono or stereo, is converted once at load.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Literal

import numpy as np

from runtime.audio.ports import SPEAKER_RATE_HZ
from runtime.errors import Location, RuntimeConfigError

EarconKind = Literal["start", "end"]

_NOTES_HZ: dict[EarconKind, tuple[float, float]] = {"start": (660.0, 880.0), "end": (880.0, 660.0)}
NOTE_S = 0.09
"""Length of each of the two notes (seconds); the whole earcon lasts under 0.2 s."""
LEVEL = 0.25
"""Peak level relative to full scale: audible, not startling."""


def builtin_earcon(kind: EarconKind) -> bytes:
    """The built-in start or end sound (24 kHz mono int16), with 5 ms fades so it does not click."""
    frames = int(NOTE_S * SPEAKER_RATE_HZ)
    t = np.arange(frames) / SPEAKER_RATE_HZ
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)
    notes = [np.sin(2 * np.pi * hz * t) * fade for hz in _NOTES_HZ[kind]]
    pcm = np.concatenate(notes) * LEVEL * 32767
    return pcm.astype("<i2").tobytes()


def load_earcon(value: str | None, kind: EarconKind, base_dir: Path, where: Location) -> bytes | None:
    """The earcon an agent file names: `builtin`, a WAV path (relative to the agent file), or none."""
    if not value:
        return None
    if value == "builtin":
        return builtin_earcon(kind)
    path = Path(value).expanduser()
    return read_wav(path if path.is_absolute() else base_dir / path, where)


def read_wav(path: Path, where: Location) -> bytes:
    """A 16-bit WAV file as 24 kHz mono int16 speaker PCM."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise RuntimeConfigError(where, f"cannot read earcon {str(path)!r}: {exc}") from exc
    if width != 2:
        raise RuntimeConfigError(
            where, f"earcon {str(path)!r} has {8 * width}-bit samples", hint="save it as 16-bit PCM"
        )
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).mean(axis=1)
    if rate != SPEAKER_RATE_HZ:
        import soxr

        samples = soxr.resample(samples.astype(np.float32), rate, SPEAKER_RATE_HZ)
    pcm: bytes = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    return pcm
